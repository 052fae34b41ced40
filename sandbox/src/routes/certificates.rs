//! `GET /v3/certificates`: the platform certificate, encrypted under the APIv3 key.

use serde_json::json;

use crate::reply::Reply;
use crate::sign::aead_encrypt;
use crate::state::State;
use crate::util::{Beijing, random_alnum};

fn asn1_to_unix(time: &openssl::asn1::Asn1TimeRef) -> Option<i64> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(time).ok()?;
    Some(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

pub(super) fn list(state: &State) -> Result<Reply, Reply> {
    if state.settings().public_key_only {
        // What WeChat Pay answers a merchant that has moved to public-key mode.
        return Err(Reply::error(
            404,
            "RESOURCE_NOT_EXISTS",
            "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥。可查看指引https://pay.weixin.qq.com/doc/v3/merchant/4012153196",
        ));
    }
    let keys = &state.keys;
    let internal = |e: &dyn std::fmt::Display| Reply::error(500, "SYSTEM_ERROR", e.to_string());
    let pem = keys.platform_cert.to_pem().map_err(|e| internal(&e))?;
    let nonce = random_alnum(12).map_err(|e| internal(&e))?;
    let ciphertext =
        aead_encrypt(&keys.apiv3_key, &nonce, "certificate", &pem).map_err(|e| internal(&e))?;
    let time = |t: &openssl::asn1::Asn1TimeRef| {
        asn1_to_unix(t)
            .map(|u| Beijing::at(u).rfc3339())
            .unwrap_or_default()
    };
    Ok(Reply::json(
        200,
        &json!({
            "data": [{
                "serial_no": keys.platform_serial,
                "effective_time": time(keys.platform_cert.not_before()),
                "expire_time": time(keys.platform_cert.not_after()),
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": nonce,
                    "associated_data": "certificate",
                    "ciphertext": ciphertext,
                },
            }],
        }),
    ))
}
