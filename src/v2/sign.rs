//! The APIv2 `sign`: MD5 or HMAC-SHA256 over the sorted `key=value` pairs and the secret.

use std::fmt;

use serde_json::{Map, Value};

use crate::crypto::{constant_time_eq, hex_upper, hmac_sha256, md5};
use crate::error::{Error, Result, VerificationFailure};

/// The APIv2 key (`key` in the signing string), set in the merchant platform.
///
/// Never shown: `Debug` prints `Secret(..)`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Checks and keeps the APIv2 key: it must be non-empty printable ASCII (WeChat Pay's are 32
    /// letters and digits). The error never shows the value.
    pub fn new(secret: impl Into<String>) -> Result<Secret> {
        // A refused candidate is often the real secret with a stray line break: wiped too.
        let mut secret = zeroize::Zeroizing::new(secret.into());
        if secret.is_empty() {
            return Err(Error::config("the APIv2 secret is empty"));
        }
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::config(format!(
                "the APIv2 secret ({} bytes) must be printable ASCII without spaces",
                secret.len()
            )));
        }
        // The buffer moves out (no copy); the empty string left behind has nothing to wipe.
        Ok(Secret(std::mem::take(&mut *secret)))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The key of a refund callback's `req_info`: the lowercase hex MD5 of the secret (32
    /// ASCII bytes, used as an AES-256 key), wiped when dropped.
    pub(crate) fn req_info_key(&self) -> Result<zeroize::Zeroizing<String>> {
        // The digest goes straight into a buffer that is wiped, never through a returned array.
        let failed = |e| Error::crypto_from("MD5 failed", e);
        let mut ctx = openssl::md_ctx::MdCtx::new().map_err(failed)?;
        ctx.digest_init(openssl::md::Md::md5()).map_err(failed)?;
        ctx.digest_update(self.0.as_bytes()).map_err(failed)?;
        let mut digest = zeroize::Zeroizing::new([0u8; 16]);
        ctx.digest_final(&mut digest[..]).map_err(failed)?;
        Ok(zeroize::Zeroizing::new(crate::crypto::hex_lower(
            &digest[..],
        )))
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// How an APIv2 payload is signed (`sign_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SignType {
    /// `MD5` (the default when `sign_type` is absent).
    #[default]
    Md5,
    /// `HMAC-SHA256`, keyed by the secret.
    HmacSha256,
}

impl SignType {
    /// The `sign_type` value: `MD5` or `HMAC-SHA256`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignType::Md5 => "MD5",
            SignType::HmacSha256 => "HMAC-SHA256",
        }
    }

    /// The type a `sign_type` value names; `None` for anything else.
    pub fn from_name(name: &str) -> Option<SignType> {
        match name {
            "MD5" => Some(SignType::Md5),
            "HMAC-SHA256" => Some(SignType::HmacSha256),
            _ => None,
        }
    }

    /// The type of a received `sign` as wechatpay-php tells it: 64 characters is HMAC-SHA256,
    /// anything else MD5.
    pub fn of_sign(sign: &str) -> SignType {
        if sign.len() == 64 {
            SignType::HmacSha256
        } else {
            SignType::Md5
        }
    }
}

/// The string that is hashed: the pairs sorted by key (byte order), `sign` and empty values
/// left out, joined as `k=v&k=v`, then `&key=<secret>`; wiped when dropped, as it holds the
/// secret.
fn signing_string<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    secret: &Secret,
) -> zeroize::Zeroizing<String> {
    let mut pairs: Vec<(&str, &str)> = pairs
        .into_iter()
        .filter(|(k, v)| *k != "sign" && !v.is_empty())
        .collect();
    pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    // Sized for the secret too: a reallocation would leave a copy behind.
    let length = pairs
        .iter()
        .map(|(k, v)| k.len() + v.len() + 2)
        .sum::<usize>();
    let mut s = zeroize::Zeroizing::new(String::with_capacity(length + 4 + secret.as_str().len()));
    for (k, v) in pairs {
        s.push_str(k);
        s.push('=');
        s.push_str(v);
        s.push('&');
    }
    s.push_str("key=");
    s.push_str(secret.as_str());
    s
}

/// Signs APIv2 fields: uppercase hex of MD5 or HMAC-SHA256 (keyed by the secret) over the
/// [signing string](https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3).
///
/// ```
/// use wechatpay::v2::{sign, Secret, SignType};
///
/// let secret = Secret::new("192006250b4c09247ec02edce69f6a2d").unwrap();
/// let fields = [("appid", "wxd930ea5d5a258f4f"), ("mch_id", "10000100"), ("device_info", "1000"),
///               ("body", "test"), ("nonce_str", "ibuaiVcKdpRxkhJA")];
/// assert_eq!(sign(fields, &secret, SignType::Md5).unwrap(), "9A0A8659F005D6984697E2CA0A9CF3B7");
/// ```
pub fn sign<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    secret: &Secret,
    sign_type: SignType,
) -> Result<String> {
    let message = signing_string(pairs, secret);
    let digest = match sign_type {
        SignType::Md5 => md5(message.as_bytes())?.to_vec(),
        SignType::HmacSha256 => {
            hmac_sha256(secret.as_str().as_bytes(), message.as_bytes())?.to_vec()
        }
    };
    Ok(hex_upper(&digest))
}

/// Checks the `sign` of a parsed APIv2 document (an answer or a callback): its type is told by
/// its length (64 = HMAC-SHA256, else MD5), as wechatpay-php does.
///
/// Every field must be a plain value: a nested or repeated element cannot be covered by a
/// sign, so it fails verification rather than being returned unchecked.
///
/// The signing string `k=v&k=v&...` does not say where a value ends, so a man in the middle can
/// regroup the same bytes into other fields: fold `&result_code=FAIL` into the value before it,
/// or cut a field named `b:trade_state` out of a value. Two rules make that fail
/// ([`AmbiguousField`](VerificationFailure::AmbiguousField)): every name is ASCII letters,
/// digits and `_` (as all of WeChat Pay's are), and no value holds `&return_code=` or
/// `&result_code=`, the fields success is read from. Other fields can still be folded away
/// (they are then missing) or, from a signed value that holds `&name=`, cut out: compare the
/// fields you act on with exact expected values.
///
/// ```
/// use wechatpay::v2::{parse_xml, sign, verify, Secret, SignType};
/// use wechatpay::VerificationFailure;
///
/// let secret = Secret::new("192006250b4c09247ec02edce69f6a2d").unwrap();
/// // WeChat Pay signs a business failure...
/// let genuine = [("return_code", "SUCCESS"), ("nonce_str", "n1"), ("result_code", "FAIL")];
/// let s = sign(genuine, &secret, SignType::Md5).unwrap();
/// // ...and the same signing string, regrouped, reads as a success without `result_code`.
/// let regrouped = format!(
///     "<xml><nonce_str>n1&amp;result_code=FAIL</nonce_str><return_code>SUCCESS</return_code><sign>{s}</sign></xml>"
/// );
/// let failure = verify(&parse_xml(regrouped.as_bytes()).unwrap(), &secret).unwrap_err();
/// assert!(matches!(failure, VerificationFailure::AmbiguousField { ref name, .. } if name == "nonce_str"));
/// ```
pub fn verify(map: &Map<String, Value>, secret: &Secret) -> Result<(), VerificationFailure> {
    let given = match map.get("sign") {
        Some(Value::String(s)) if !s.is_empty() => s.as_str(),
        _ => return Err(VerificationFailure::MissingSign),
    };
    let mut pairs = Vec::with_capacity(map.len());
    for (k, v) in map {
        let Value::String(s) = v else {
            return Err(VerificationFailure::UnsignedField(k.clone()));
        };
        if let Some(reason) = ambiguity(k, s) {
            return Err(VerificationFailure::AmbiguousField {
                name: k.clone(),
                reason,
            });
        }
        pairs.push((k.as_str(), s.as_str()));
    }
    let sign_type = SignType::of_sign(given);
    let expected = sign(pairs, secret, sign_type)
        .map_err(|_| VerificationFailure::BadSign(sign_type.as_str()))?;
    if constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        Ok(())
    } else {
        Err(VerificationFailure::BadSign(sign_type.as_str()))
    }
}

/// Why the field `name` = `value` could be a regrouping of other signed fields, if it could.
fn ambiguity(name: &str, value: &str) -> Option<&'static str> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Some("its name is not only ASCII letters, digits and `_`");
    }
    if value.contains("&return_code=") || value.contains("&result_code=") {
        return Some(
            "its value holds `&return_code=` or `&result_code=`, which could be a field folded into it",
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: [(&str, &str); 5] = [
        ("appid", "wxd930ea5d5a258f4f"),
        ("mch_id", "10000100"),
        ("device_info", "1000"),
        ("body", "test"),
        ("nonce_str", "ibuaiVcKdpRxkhJA"),
    ];

    fn secret() -> Secret {
        Secret::new("192006250b4c09247ec02edce69f6a2d").unwrap()
    }

    #[test]
    fn the_published_vectors() {
        let message = signing_string(FIELDS, &secret());
        assert_eq!(
            message.as_str(),
            "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&\
             nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d"
        );
        // Written into one buffer of its length: no copy of the secret left by a reallocation.
        assert_eq!(message.capacity(), message.len());
        assert_eq!(
            sign(FIELDS, &secret(), SignType::Md5).unwrap(),
            "9A0A8659F005D6984697E2CA0A9CF3B7"
        );
        assert_eq!(
            sign(FIELDS, &secret(), SignType::HmacSha256).unwrap(),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        );
    }

    #[test]
    fn names_and_values_that_could_be_a_regrouping() {
        for plain in ["mch_id", "coupon_fee_0", "A1", "_"] {
            assert_eq!(ambiguity(plain, "a=1&b=2&c"), None, "{plain}");
        }
        for name in ["", "b:trade_state", "a=b", "a&b", "a-b", "a.b", "a b", "é"] {
            assert_eq!(
                ambiguity(name, "x"),
                Some("its name is not only ASCII letters, digits and `_`"),
                "{name}"
            );
        }
        for value in [
            "x&result_code=FAIL",
            "&return_code=SUCCESS",
            "a&result_code=",
        ] {
            assert!(
                ambiguity("attach", value).unwrap().contains("folded"),
                "{value}"
            );
        }
        for value in [
            "result_code=FAIL",
            "x&result_code",
            "x&Result_code=FAIL",
            "x&result_codes=1",
        ] {
            assert_eq!(ambiguity("attach", value), None, "{value}");
        }
    }

    #[test]
    fn sign_and_empty_values_are_left_out() {
        let with_extras = FIELDS
            .into_iter()
            .chain([("sign", "WHATEVER"), ("attach", "")]);
        assert_eq!(
            sign(with_extras, &secret(), SignType::Md5).unwrap(),
            "9A0A8659F005D6984697E2CA0A9CF3B7"
        );
    }

    #[test]
    fn verify_tells_the_type_by_length_and_refuses_nesting() {
        let mut map: Map<String, Value> = FIELDS
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect();
        assert_eq!(
            verify(&map, &secret()),
            Err(VerificationFailure::MissingSign)
        );
        map.insert("sign".into(), "9A0A8659F005D6984697E2CA0A9CF3B7".into());
        assert_eq!(verify(&map, &secret()), Ok(()));
        map.insert(
            "sign".into(),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6".into(),
        );
        assert_eq!(verify(&map, &secret()), Ok(()));
        map.insert("sign".into(), "9A0A8659F005D6984697E2CA0A9CF3B8".into());
        assert_eq!(
            verify(&map, &secret()),
            Err(VerificationFailure::BadSign("MD5"))
        );
        map.insert("sign".into(), "9A0A8659F005D6984697E2CA0A9CF3B7".into());
        map.insert("nested".into(), serde_json::json!({ "a": "b" }));
        assert_eq!(
            verify(&map, &secret()),
            Err(VerificationFailure::UnsignedField("nested".into()))
        );
    }

    #[test]
    fn secrets_are_checked_and_never_shown() {
        assert!(Secret::new("").is_err());
        let e = Secret::new("has space").unwrap_err();
        assert!(!e.to_string().contains("has space"));
        assert_eq!(format!("{:?}", secret()), "Secret(..)");
    }
}
