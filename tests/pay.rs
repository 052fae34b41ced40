//! Pay parameters for JSAPI / mini-programs and APPs, checked with independent openssl code.

mod support;

use support::{keys, rsa_sha256_verify};
use wechatpay::ErrorKind;
use wechatpay::pay::{AppPayParams, JsapiPayParams};

const APP_ID: &str = "wx8888888888888888";
const PREPAY_ID: &str = "wx201410272009395522657a690389285100";

fn fresh(timestamp: &str) {
    let ts: i64 = timestamp.parse().unwrap();
    assert!(
        (ts - support::now_unix()).abs() <= 5,
        "timestamp {ts} is not now"
    );
}

/// The field names of a JSON object, sorted.
fn field_names(json: &serde_json::Value) -> Vec<&str> {
    let mut names: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names
}

#[test]
fn jsapi_parameters_are_signed_over_the_four_lines() {
    let client = support::identity().build().unwrap();
    let p = client.jsapi_pay_params(APP_ID, PREPAY_ID).unwrap();
    assert_eq!(p.app_id, APP_ID);
    assert_eq!(p.package, format!("prepay_id={PREPAY_ID}"));
    assert_eq!(p.sign_type, "RSA");
    assert_eq!(p.nonce_str.len(), 32);
    assert!(p.nonce_str.bytes().all(|b| b.is_ascii_alphanumeric()));
    fresh(&p.time_stamp);
    let message = format!(
        "{APP_ID}\n{}\n{}\nprepay_id={PREPAY_ID}\n",
        p.time_stamp, p.nonce_str
    );
    assert_eq!(p.signed_message(), message.as_bytes());
    rsa_sha256_verify(&keys().merchant_public, message.as_bytes(), &p.pay_sign).unwrap();

    let json = serde_json::to_value(&p).unwrap();
    let keys_sent = field_names(&json);
    assert_eq!(
        keys_sent,
        [
            "appId",
            "nonceStr",
            "package",
            "paySign",
            "signType",
            "timeStamp"
        ]
    );
}

#[test]
fn app_parameters_are_signed_over_the_four_lines() {
    let client = support::identity().build().unwrap();
    let p = client.app_pay_params(APP_ID, PREPAY_ID).unwrap();
    assert_eq!(p.partnerid, support::mchid());
    assert_eq!(p.prepayid, PREPAY_ID);
    assert_eq!(p.package, "Sign=WXPay");
    fresh(&p.timestamp);
    let message = format!("{APP_ID}\n{}\n{}\n{PREPAY_ID}\n", p.timestamp, p.noncestr);
    assert_eq!(p.signed_message(), message.as_bytes());
    rsa_sha256_verify(&keys().merchant_public, message.as_bytes(), &p.sign).unwrap();
    // Exactly the seven fields the APP SDK reads, under WeChat's (all-lowercase) names.
    let json = serde_json::to_value(&p).unwrap();
    let keys_sent = field_names(&json);
    assert_eq!(
        keys_sent,
        [
            "appid",
            "noncestr",
            "package",
            "partnerid",
            "prepayid",
            "sign",
            "timestamp"
        ]
    );
    assert_eq!(json["appid"], APP_ID);
    assert_eq!(json["partnerid"], support::mchid());
    assert_eq!(json["prepayid"], PREPAY_ID);
    assert_eq!(json["package"], "Sign=WXPay");
    assert_eq!(json["noncestr"], p.noncestr.as_str());
    assert_eq!(json["timestamp"], p.timestamp.as_str());
    assert_eq!(json["sign"], p.sign.as_str());
}

#[tokio::test]
async fn any_signer_can_sign_them() {
    struct Remote(wechatpay::crypto::PrivateKey);
    impl wechatpay::signer::Signer for Remote {
        fn sign<'a>(&'a self, message: &'a [u8]) -> wechatpay::signer::SignFuture<'a> {
            Box::pin(async move {
                tokio::task::yield_now().await;
                self.0.sign_sha256(message)
            })
        }
    }
    let remote =
        Remote(wechatpay::crypto::PrivateKey::from_pem(&keys().merchant_key_pkcs8_pem).unwrap());
    let p = JsapiPayParams::sign(&remote, APP_ID, PREPAY_ID)
        .await
        .unwrap();
    rsa_sha256_verify(&keys().merchant_public, &p.signed_message(), &p.pay_sign).unwrap();
    let p = AppPayParams::sign(&remote, support::mchid(), APP_ID, PREPAY_ID)
        .await
        .unwrap();
    rsa_sha256_verify(&keys().merchant_public, &p.signed_message(), &p.sign).unwrap();

    // A client that signs with a custom signer has no key to sign them itself, and says what to use.
    let client = support::identity().signer(remote).build().unwrap();
    let err = client.jsapi_pay_params(APP_ID, PREPAY_ID).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.to_string().contains("use `JsapiPayParams::sign`"),
        "{err}"
    );
}

#[test]
fn bad_ids_are_refused() {
    let client = support::identity().build().unwrap();
    for (app, prepay) in [("", PREPAY_ID), (APP_ID, ""), (APP_ID, "a\nb")] {
        assert_eq!(
            client.jsapi_pay_params(app, prepay).unwrap_err().kind(),
            ErrorKind::Config
        );
        assert_eq!(
            client.app_pay_params(app, prepay).unwrap_err().kind(),
            ErrorKind::Config
        );
    }
}
