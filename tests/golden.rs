//! A golden vector: a committed test-only key and a fixed request, whose signature was
//! computed by the `openssl` command line (see tests/data/golden/README.md).

mod support;

use serde_json::json;
use wechatpay::crypto::{PrivateKey, base64_encode};
use wechatpay::signature::{Authorization, request_message};

const KEY: &str = include_str!("data/golden/merchant_key.pem");
const MESSAGE: &[u8] = include_bytes!("data/golden/message.txt");
const TARGET: &str = "/v3/pay/transactions/native";
const TIMESTAMP: i64 = 1554208460;
const NONCE: &str = "593BEC0C930BF1AFEB40B4A08C8FB242";
const BODY: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"}}"#;
const SIGNATURE: &str = include_str!("data/golden/signature.b64");
const MCHID: &str = "1230000109";
const SERIAL: &str = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C";

#[test]
fn the_signing_message_is_byte_exact() {
    assert_eq!(
        request_message("POST", TARGET, TIMESTAMP, NONCE, BODY.as_bytes()),
        MESSAGE
    );
}

#[test]
fn the_signature_matches_openssl() {
    let key = PrivateKey::from_pem(KEY).unwrap();
    assert_eq!(base64_encode(&key.sign_sha256(MESSAGE).unwrap()), SIGNATURE);
}

#[test]
fn the_authorization_header_is_byte_exact() {
    let header = Authorization {
        mchid: MCHID,
        serial_no: SERIAL,
        timestamp: TIMESTAMP,
        nonce_str: NONCE,
        signature: SIGNATURE,
    };
    assert_eq!(
        header.to_string(),
        concat!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"1230000109\",serial_no=\"1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C\",",
            "timestamp=\"1554208460\",nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\",",
            "signature=\"",
            include_str!("data/golden/signature.b64"),
            "\""
        )
    );
}

#[test]
fn the_header_value_the_client_sends_is_byte_exact() {
    let raw = wechatpay::crypto::base64_decode(SIGNATURE).unwrap();
    let value =
        wechatpay::signature::authorization_header(MCHID, SERIAL, TIMESTAMP, NONCE, &raw).unwrap();
    let expected = Authorization {
        mchid: MCHID,
        serial_no: SERIAL,
        timestamp: TIMESTAMP,
        nonce_str: NONCE,
        signature: SIGNATURE,
    };
    assert_eq!(value.to_str().unwrap(), expected.to_string());
    assert!(value.is_sensitive());
}

#[test]
fn the_client_prepares_the_same_bytes() {
    let client = support::offline_client();
    let prepared = client["v3"]["pay"]["transactions"]["native"]
        .prepare(
            wechatpay::Method::POST,
            json!({ "json": {
                "appid": "wxd678efh567hg6787",
                "mchid": "1230000109",
                "description": "Image形象店-深圳腾大-QQ公仔",
                "out_trade_no": "1217752501201407033233368018",
                "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
                "amount": { "total": 100, "currency": "CNY" },
            }}),
        )
        .unwrap();
    assert_eq!(prepared.target(), TARGET);
    assert_eq!(prepared.body(), BODY.as_bytes());
    assert_eq!(prepared.signing_message(TIMESTAMP, NONCE), MESSAGE);
}
