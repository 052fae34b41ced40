//! `GET /v3/certificates`: every unexpired platform certificate, encrypted under the APIv3 key,
//! the list signed (in every sign mode) with the oldest of them, or with the newest when the
//! test says so, or with the certificate the test named (listed too, whatever its validity).

use serde_json::{Value, json};

use super::Request;
use crate::reply::Reply;
use crate::sign::aead_encrypt;
use crate::state::{PlatformCertificate, State};
use crate::util::{Beijing, asn1_to_unix, random_alnum};

pub(super) fn list(state: &State, request: &Request<'_>) -> Result<Reply, Reply> {
    if state.settings().public_key_only {
        // What WeChat Pay answers a merchant that has moved to public-key mode.
        return Err(Reply::error(
            404,
            "RESOURCE_NOT_EXISTS",
            "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥。可查看指引https://pay.weixin.qq.com/doc/v3/merchant/4012153196",
        ));
    }
    let data = state
        .listed_platform_certificates()
        .iter()
        .map(|certificate| entry(state, certificate))
        .collect::<Result<Vec<Value>, Reply>>()?;
    // Signed with a platform certificate whatever the sign mode, unless the request's
    // `Wechatpay-Serial` names the public key: a merchant that has both kinds of key gets a
    // list it can check with the certificates it brings (how certificate-mode downloaders
    // start), or with the public key it named (how a client anchored by it downloads).
    let names_public_key = request
        .headers
        .get("Wechatpay-Serial")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|serial| serial.trim().starts_with("PUB_KEY_ID_"));
    let reply = Reply::json(200, &json!({ "data": data }));
    let reply = if names_public_key {
        reply
    } else {
        reply.signed_by_certificate()
    };
    if state.list_signer().is_some() {
        return Ok(reply.signed_by_list_signer());
    }
    if state.settings().list_signed_by_newest {
        return Ok(reply);
    }
    // Trust continuity: a client that knows only the previous certificate can verify the list
    // that introduces the next one.
    Ok(reply.signed_by_oldest())
}

fn entry(state: &State, certificate: &PlatformCertificate) -> Result<Value, Reply> {
    let internal = |e: &dyn std::fmt::Display| Reply::error(500, "SYSTEM_ERROR", e.to_string());
    let apiv3_key = &state.keys.apiv3_key;
    let pem = certificate.pem.as_bytes();
    let nonce = random_alnum(12).map_err(|e| internal(&e))?;
    let ciphertext =
        aead_encrypt(apiv3_key, &nonce, "certificate", pem).map_err(|e| internal(&e))?;
    let time = |t: &openssl::asn1::Asn1TimeRef| {
        asn1_to_unix(t)
            .map(|u| Beijing::at(u).rfc3339())
            .unwrap_or_default()
    };
    Ok(json!({
        "serial_no": certificate.serial,
        "effective_time": time(certificate.cert.not_before()),
        "expire_time": time(certificate.cert.not_after()),
        "encrypt_certificate": {
            "algorithm": "AEAD_AES_256_GCM",
            "nonce": nonce,
            "associated_data": "certificate",
            "ciphertext": ciphertext,
        },
    }))
}
