//! Typed APIv2 models keep WeChat Pay's spelling of a path: the three APIv2 paths with a
//! capital (`v2/secapi/mch/addInstitutionsub` and its kin) are sent as written, where the
//! dynamic chain's `normalize` makes `add-institutionsub` of them.

#![cfg(feature = "api-v2")]

use wechatpay::Client;
use wechatpay::api::v2::secapi::mch::{
    add_institutionsub, modify_institutionsub, query_institutionsub,
};

fn client() -> Client {
    let key = openssl::rsa::Rsa::generate(2048)
        .and_then(|k| k.private_key_to_pem())
        .unwrap();
    Client::builder()
        .mchid("1900000109")
        .serial("0A")
        .private_key(key)
        .secret("192006250b4c09247ec02edce69f6a2d")
        .verifier(wechatpay::verifier::PlatformVerifier::new())
        .build()
        .unwrap()
}

#[test]
fn a_typed_path_keeps_its_capitals() {
    let client = client();
    let add = add_institutionsub::Request {
        mch_id: "1900000109".into(),
        ..Default::default()
    };
    let query = query_institutionsub::Request {
        mch_id: "1900000109".into(),
        ..Default::default()
    };
    let modify = modify_institutionsub::Request {
        mch_id: "1900000109".into(),
        ..Default::default()
    };
    let urls = [
        client.prepare_typed(add).unwrap().url().to_string(),
        client.prepare_typed(query).unwrap().url().to_string(),
        client.prepare_typed(modify).unwrap().url().to_string(),
    ];
    assert_eq!(
        urls,
        [
            "https://api.mch.weixin.qq.com/secapi/mch/addInstitutionsub",
            "https://api.mch.weixin.qq.com/secapi/mch/queryInstitutionsub",
            "https://api.mch.weixin.qq.com/secapi/mch/modifyInstitutionsub",
        ]
    );
    // The dynamic chain normalises, as wechatpay-php does; a placeholder keeps a value as given.
    assert_eq!(
        client.chain("v2/secapi/mch/addInstitutionsub").template(),
        "v2/secapi/mch/add-institutionsub"
    );
}
