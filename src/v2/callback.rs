//! APIv2 callbacks: verify a notification's `sign`, decrypt a refund's `req_info`, answer.

use serde_json::{Map, Value};

use super::sign::{Secret, verify};
use crate::crypto::{aes_256_ecb_decrypt, base64_decode};
use crate::error::{Error, Result};

/// Parses an APIv2 callback (a payment result notification, for example) and checks its
/// `sign` with the APIv2 secret; returns its fields.
///
/// A body that is not XML, or is refused by the safe parser, is a
/// [`Decode`](crate::ErrorKind::Decode) error; a missing or wrong `sign` a
/// [`Verification`](crate::ErrorKind::Verification) error. Act on `result_code` yourself,
/// then answer with [`reply`].
///
/// ```
/// use wechatpay::v2::{sign, verify_callback, Secret, SignType};
///
/// let secret = Secret::new("192006250b4c09247ec02edce69f6a2d").unwrap();
/// let fields = [("return_code", "SUCCESS"), ("result_code", "SUCCESS"), ("out_trade_no", "1212321211201407033568112322")];
/// let signed = sign(fields, &secret, SignType::Md5).unwrap();
/// let body = format!(
///     "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code>\
///      <out_trade_no>1212321211201407033568112322</out_trade_no><sign>{signed}</sign></xml>"
/// );
/// let fields = verify_callback(body.as_bytes(), &secret).unwrap();
/// assert_eq!(fields["out_trade_no"], "1212321211201407033568112322");
///
/// let forged = body.replace("1212321211201407033568112322", "1212321211201407033568119999");
/// assert_eq!(verify_callback(forged.as_bytes(), &secret).unwrap_err().kind(), wechatpay::ErrorKind::Verification);
/// ```
///
/// Runs inside a `tracing` span `wechatpay.callback` (`wechatpay.api` = `v2`) that records the
/// outcome; never a field of the callback.
pub fn verify_callback(body: &[u8], secret: &Secret) -> Result<Map<String, Value>> {
    let span = tracing::info_span!(
        "wechatpay.callback",
        wechatpay.api = "v2",
        wechatpay.outcome = tracing::field::Empty,
        "error.type" = tracing::field::Empty,
        wechatpay.verification = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    let _entered = span.enter();
    let outcome = super::parse_xml(body)
        .map_err(|e| {
            Error::decode(
                format!("the APIv2 callback is not usable XML: {e}"),
                None,
                e,
            )
        })
        .and_then(|map| {
            verify(&map, secret).map_err(Error::from_failure)?;
            Ok(map)
        });
    if !span.is_disabled() {
        match &outcome {
            Ok(_) => {
                span.record("wechatpay.outcome", "verified");
            }
            Err(e) => {
                span.record("wechatpay.outcome", "refused");
                span.record("error.type", e.kind().name());
                if let Some(failure) = e.verification() {
                    span.record("wechatpay.verification", failure.name());
                }
                span.record("otel.status_code", "ERROR");
            }
        }
    }
    outcome
}

/// Decrypts a refund callback's `req_info` (base64 of AES-256-ECB with PKCS#7 padding, keyed
/// by the lowercase hex MD5 of the APIv2 secret) and parses the `<root>` document inside.
///
/// Refund callbacks carry no `sign`: that the ciphertext decrypts under a key derived from the
/// secret, with valid padding and well-formed XML inside, is the only check WeChat Pay's design
/// allows. Confirm a refund with `v2/pay/refundquery` before acting on anything irreversible.
///
/// ```
/// use wechatpay::crypto::{aes_256_ecb_encrypt, base64_encode, hex_lower, md5};
/// use wechatpay::v2::{decrypt_req_info, Secret};
///
/// let secret = Secret::new("192006250b4c09247ec02edce69f6a2d").unwrap();
/// let key = hex_lower(&md5(b"192006250b4c09247ec02edce69f6a2d").unwrap());
/// let plain = "<root><out_refund_no>1217752501201407033233368018</out_refund_no><refund_status>SUCCESS</refund_status></root>";
/// let req_info = base64_encode(&aes_256_ecb_encrypt(key.as_bytes(), plain.as_bytes()).unwrap());
///
/// let refund = decrypt_req_info(&req_info, &secret).unwrap();
/// assert_eq!(refund["refund_status"], "SUCCESS");
/// ```
pub fn decrypt_req_info(req_info: &str, secret: &Secret) -> Result<Map<String, Value>> {
    let ciphertext = base64_decode(req_info.trim())
        .map_err(|e| Error::decode("`req_info` is not base64", None, e))?;
    let key = secret.req_info_key()?;
    let plain = zeroize::Zeroizing::new(aes_256_ecb_decrypt(key.as_bytes(), &ciphertext)?);
    super::parse_xml(&plain).map_err(|e| {
        Error::decode(
            format!("the decrypted `req_info` is not usable XML: {e}"),
            None,
            e,
        )
    })
}

/// The XML WeChat Pay expects in answer to an APIv2 callback: `SUCCESS` with message `OK` when
/// `result` is `Ok(())`, else `FAIL` with the given message (which WeChat Pay logs; do not put
/// secrets in it).
///
/// ```
/// assert_eq!(
///     wechatpay::v2::reply(Ok(())),
///     "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
/// );
/// assert_eq!(
///     wechatpay::v2::reply(Err("order <1> unknown")),
///     "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[order <1> unknown]]></return_msg></xml>"
/// );
/// ```
pub fn reply(result: std::result::Result<(), &str>) -> String {
    let (code, message) = match result {
        Ok(()) => ("SUCCESS", "OK"),
        Err(message) => ("FAIL", message),
    };
    let cdata = |s: &str| {
        let clean = super::sanitize(s);
        format!("<![CDATA[{}]]>", clean.replace("]]>", "]]]]><![CDATA[>"))
    };
    format!(
        "<xml><return_code>{}</return_code><return_msg>{}</return_msg></xml>",
        cdata(code),
        cdata(message)
    )
}
