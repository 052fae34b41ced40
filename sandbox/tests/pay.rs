//! Orders through the real client: jsapi/native/app, both queries, close; blocking and async.

use serde_json::{Value, json};
use wechatpay::{ErrorKind, Options};
use wechatpay_sandbox::{Sandbox, SignMode};

fn order(mchid: &str, out_trade_no: &str) -> Value {
    json!({
        "appid": "wxd678efh567hg6787",
        "mchid": mchid,
        "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": out_trade_no,
        "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
        "amount": { "total": 100, "currency": "CNY" },
        "payer": { "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
    })
}

#[test]
fn place_query_close_blocking() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();

    let jsapi: Value = client["v3/pay/transactions/jsapi"]
        .post(json!({ "json": order(&mchid, "JSAPI-1") }))
        .unwrap()
        .json()
        .unwrap();
    let prepay_id = jsapi["prepay_id"].as_str().unwrap();
    assert!(prepay_id.starts_with("wx"), "{prepay_id}");
    let native: Value = client["v3/pay/transactions/native"]
        .post(json!({ "json": order(&mchid, "NATIVE-1") }))
        .unwrap()
        .json()
        .unwrap();
    assert!(
        native["code_url"]
            .as_str()
            .unwrap()
            .starts_with("weixin://wxpay/bizpayurl?pr=")
    );
    let app: Value = client["v3/pay/transactions/app"]
        .post(json!({ "json": order(&mchid, "APP-1") }))
        .unwrap()
        .json()
        .unwrap();
    assert!(app["prepay_id"].is_string());
    // The same order again: the same answer.
    let again: Value = client["v3/pay/transactions/jsapi"]
        .post(json!({ "json": order(&mchid, "JSAPI-1") }))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(again, jsapi);

    // Unpaid: NOTPAY.
    let queried: Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(
            Options::new()
                .var("out_trade_no", "JSAPI-1")
                .query("mchid", &mchid),
        )
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(queried["trade_state"], "NOTPAY");
    assert_eq!(queried["amount"]["total"], 100);
    assert_eq!(queried["trade_type"], "JSAPI");
    assert!(queried.get("transaction_id").is_none());

    // Paid: SUCCESS, found by its transaction id too.
    let transaction_id = sandbox.pay("JSAPI-1").unwrap();
    let by_id: Value = client["v3/pay/transactions/id/{transaction_id}{?mchid}"]
        .get(json!({ "transaction_id": transaction_id, "mchid": mchid }))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(by_id["trade_state"], "SUCCESS");
    assert_eq!(by_id["out_trade_no"], "JSAPI-1");
    assert_eq!(by_id["payer"]["openid"], "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
    assert!(by_id["success_time"].as_str().unwrap().ends_with("+08:00"));

    // Close the native order: 204, then CLOSED.
    let closed = client["v3/pay/transactions/out-trade-no/{out_trade_no}/close"]
        .post(json!({ "out_trade_no": "NATIVE-1", "json": { "mchid": mchid } }))
        .unwrap();
    assert_eq!(closed.status(), 204);
    let queried: Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}{?mchid}"]
        .get(json!({ "out_trade_no": "NATIVE-1", "mchid": mchid }))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(queried["trade_state"], "CLOSED");
    // A paid order cannot be closed.
    let error = client["v3/pay/transactions/out-trade-no/{out_trade_no}/close"]
        .post(json!({ "out_trade_no": "JSAPI-1", "json": { "mchid": mchid } }))
        .unwrap_err();
    assert_eq!(error.api().unwrap().code(), Some("ORDERPAID"));
}

#[test]
fn unknown_orders_and_missing_fields() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();
    for path in [
        "v3/pay/transactions/id/{id}{?mchid}",
        "v3/pay/transactions/out-trade-no/{id}{?mchid}",
    ] {
        let error = client
            .chain(path)
            .get(json!({ "id": "nope", "mchid": mchid }))
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Api);
        assert_eq!(error.api().unwrap().status(), 404);
        assert_eq!(error.api().unwrap().code(), Some("ORDER_NOT_EXIST"));
    }
    let error = client["v3/pay/transactions/id/{id}"]
        .get(json!({ "id": "nope" }))
        .unwrap_err();
    let detail = error.api().unwrap().detail().unwrap();
    assert_eq!(
        (&detail["field"], &detail["location"]),
        (&json!("mchid"), &json!("query"))
    );

    for (kind, field) in [
        ("native", "appid"),
        ("native", "mchid"),
        ("native", "description"),
        ("native", "out_trade_no"),
        ("native", "notify_url"),
        ("app", "amount.total"),
        ("jsapi", "payer.openid"),
    ] {
        let mut body = order(&mchid, "MISSING-1");
        match field.split_once('.') {
            Some((outer, inner)) => {
                body[outer].as_object_mut().unwrap().remove(inner);
            }
            None => {
                body.as_object_mut().unwrap().remove(field);
            }
        }
        let error = client
            .chain(&format!("v3/pay/transactions/{kind}"))
            .post(json!({ "json": body }))
            .unwrap_err();
        let api = error.api().unwrap();
        assert_eq!(api.status(), 400, "{field}");
        assert_eq!(api.code(), Some("PARAM_ERROR"));
        let pointer = format!("/{}", field.replace('.', "/"));
        assert_eq!(api.detail().unwrap()["field"], pointer.as_str(), "{field}");
        assert!(
            api.message().unwrap().contains(&format!("/body{pointer}")),
            "{error}"
        );
    }
    // native does not need the payer.
    let mut body = order(&mchid, "NATIVE-NO-PAYER");
    body.as_object_mut().unwrap().remove("payer");
    client["v3/pay/transactions/native"]
        .post(json!({ "json": body }))
        .unwrap();
    // Another merchant's id.
    let error = client["v3/pay/transactions/native"]
        .post(json!({ "json": order("1900000001", "OTHER-1") }))
        .unwrap_err();
    assert_eq!(error.api().unwrap().code(), Some("MCH_NOT_EXISTS"));
}

#[tokio::test]
async fn place_and_query_async_both_modes() {
    let sandbox = Sandbox::start_async().await.unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();
    for (i, mode) in [SignMode::Certificate, SignMode::PublicKey]
        .into_iter()
        .enumerate()
    {
        sandbox.set_sign_mode(mode);
        let no = format!("ASYNC-{i}");
        let placed: Value = client["v3/pay/transactions/native"]
            .post_async(json!({ "json": order(&mchid, &no) }))
            .await
            .unwrap()
            .json()
            .unwrap();
        assert!(placed["code_url"].is_string());
        let queried = client["v3/pay/transactions/out-trade-no/{no}{?mchid}"]
            .get_async(json!({ "no": no, "mchid": mchid }))
            .await
            .unwrap();
        assert!(queried.signature_verified());
        assert_eq!(queried.json::<Value>().unwrap()["trade_type"], "NATIVE");
        let closed = client["v3/pay/transactions/out-trade-no/{no}/close"]
            .post_async(json!({ "no": no, "json": { "mchid": mchid } }))
            .await
            .unwrap();
        assert_eq!(closed.status(), 204);
    }
}
