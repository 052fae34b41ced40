//! Typed APIv2 models keep WeChat Pay's spelling of a path: the three APIv2 paths with a
//! capital (`v2/secapi/mch/addInstitutionsub` and its kin) are sent as written, where the
//! dynamic chain's `normalize` makes `add-institutionsub` of them.

#![cfg(feature = "api-v2")]

use wechatpay::Client;
use wechatpay::api::v2::secapi::mch::{
    add_institutionsub, modify_institutionsub, query_institutionsub,
};

/// The sandbox's client: it holds the merchant certificate these operations are sent with.
fn client(sandbox: &wechatpay_sandbox::Sandbox) -> Client {
    sandbox.client()
}

#[test]
fn a_typed_path_keeps_its_capitals() {
    let sandbox = wechatpay_sandbox::Sandbox::start().unwrap();
    let client = client(&sandbox);
    let add = add_institutionsub::Request {
        mch_id: client.mchid().to_owned(),
        ..Default::default()
    };
    let query = query_institutionsub::Request {
        mch_id: client.mchid().to_owned(),
        ..Default::default()
    };
    let modify = modify_institutionsub::Request {
        mch_id: client.mchid().to_owned(),
        ..Default::default()
    };
    let paths = [
        client.prepare_typed(add).unwrap().url().path().to_owned(),
        client.prepare_typed(query).unwrap().url().path().to_owned(),
        client
            .prepare_typed(modify)
            .unwrap()
            .url()
            .path()
            .to_owned(),
    ];
    assert_eq!(
        paths,
        [
            "/secapi/mch/addInstitutionsub",
            "/secapi/mch/queryInstitutionsub",
            "/secapi/mch/modifyInstitutionsub",
        ]
    );
    // The dynamic chain normalises, as wechatpay-php does; a placeholder keeps a value as given.
    assert_eq!(
        client.chain("v2/secapi/mch/addInstitutionsub").template(),
        "v2/secapi/mch/add-institutionsub"
    );
}
