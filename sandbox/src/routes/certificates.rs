//! `GET /v3/certificates`: every unexpired platform certificate, encrypted under the APIv3 key,
//! the list signed (in certificate mode) with the oldest of them, or with the newest when the
//! test says so, or with the certificate the test named (listed too, whatever its validity).

use serde_json::{Value, json};

use crate::reply::Reply;
use crate::sign::aead_encrypt;
use crate::state::{PlatformCertificate, State};
use crate::util::{Beijing, asn1_to_unix, random_alnum};

pub(super) fn list(state: &State) -> Result<Reply, Reply> {
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
    let reply = Reply::json(200, &json!({ "data": data }));
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
