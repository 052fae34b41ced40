//! Refunds through the real client.

use serde_json::{Value, json};
use wechatpay_sandbox::Sandbox;

fn paid_order(sandbox: &Sandbox, no: &str, total: u64) -> String {
    let mchid = &sandbox.identity().mchid;
    sandbox.client()["v3/pay/transactions/native"]
        .post(json!({ "json": {
            "appid": "wxd678efh567hg6787", "mchid": mchid, "description": "x",
            "out_trade_no": no, "notify_url": "https://example.com/n", "amount": { "total": total },
        }}))
        .unwrap();
    sandbox.pay(no).unwrap()
}

fn refund(no: &str, refund_no: &str, refund: u64, total: u64) -> Value {
    json!({ "json": {
        "out_trade_no": no,
        "out_refund_no": refund_no,
        "reason": "商品已售完",
        "amount": { "refund": refund, "total": total, "currency": "CNY" },
    }})
}

#[test]
fn refund_then_query() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let transaction_id = paid_order(&sandbox, "R-ORDER-1", 888);
    let created: Value = client["v3/refund/domestic/refunds"]
        .post(refund("R-ORDER-1", "R-1", 300, 888))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(created["status"], "PROCESSING");
    assert_eq!(created["transaction_id"], transaction_id.as_str());
    assert_eq!(created["amount"]["refund"], 300);
    // By transaction id too.
    let second: Value = client["v3/refund/domestic/refunds"]
        .post(json!({ "json": {
            "transaction_id": transaction_id, "out_refund_no": "R-2",
            "amount": { "refund": 588, "total": 888, "currency": "CNY" },
        }}))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(second["out_trade_no"], "R-ORDER-1");
    // Nothing left to refund.
    let error = client["v3/refund/domestic/refunds"]
        .post(refund("R-ORDER-1", "R-3", 1, 888))
        .unwrap_err();
    assert_eq!(error.api().unwrap().code(), Some("NOT_ENOUGH"));

    let queried: Value = client["v3/refund/domestic/refunds/{out_refund_no}"]
        .get(json!({ "out_refund_no": "R-1" }))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(queried["status"], "SUCCESS");
    assert_eq!(queried["refund_id"], created["refund_id"]);
    let error = client["v3/refund/domestic/refunds/{out_refund_no}"]
        .get(json!({ "out_refund_no": "R-404" }))
        .unwrap_err();
    assert_eq!(error.api().unwrap().status(), 404);
}

#[test]
fn refund_checks() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    paid_order(&sandbox, "R-ORDER-2", 100);
    let endpoint = &client["v3/refund/domestic/refunds"];
    let message = |opts: Value| {
        endpoint
            .post(opts)
            .unwrap_err()
            .api()
            .unwrap()
            .message()
            .unwrap()
            .to_owned()
    };
    let mut r = refund("R-ORDER-2", "X", 1, 100);
    r["json"].as_object_mut().unwrap().remove("out_trade_no");
    assert_eq!(message(r), "transaction_id or out_trade_no is required");
    // A missing field: WeChat Pay's 400 PARAM_ERROR, its detail naming the field.
    let field = |opts: Value| {
        let error = endpoint.post(opts).unwrap_err();
        let api = error.api().unwrap();
        assert_eq!(
            (api.status().as_u16(), api.code()),
            (400, Some("PARAM_ERROR"))
        );
        api.detail().unwrap()["field"].as_str().unwrap().to_owned()
    };
    for name in ["refund", "total", "currency"] {
        let mut r = refund("R-ORDER-2", "X", 1, 100);
        r["json"]["amount"].as_object_mut().unwrap().remove(name);
        assert_eq!(field(r), format!("/amount/{name}"));
    }
    let mut r = refund("R-ORDER-2", "X", 1, 100);
    r["json"].as_object_mut().unwrap().remove("out_refund_no");
    assert_eq!(field(r), "/out_refund_no");
    assert!(message(refund("R-ORDER-2", "X", 1, 99)).contains("amount.total"));
    let error = endpoint
        .post(refund("NO-SUCH-ORDER", "X", 1, 100))
        .unwrap_err();
    assert_eq!(error.api().unwrap().code(), Some("RESOURCE_NOT_EXISTS"));
}

#[tokio::test]
async fn refund_async() {
    let sandbox = Sandbox::start_async().await.unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();
    client["v3/pay/transactions/app"]
        .post_async(json!({ "json": {
            "appid": "wx1", "mchid": mchid, "description": "x", "out_trade_no": "RA-1",
            "notify_url": "https://example.com/n", "amount": { "total": 5 },
        }}))
        .await
        .unwrap();
    sandbox.pay("RA-1").unwrap();
    let created = client["v3/refund/domestic/refunds"]
        .post_async(refund("RA-1", "RA-R-1", 5, 5))
        .await
        .unwrap();
    assert_eq!(created.json::<Value>().unwrap()["amount"]["refund"], 5);
    // Idempotent by out_refund_no.
    let again = client["v3/refund/domestic/refunds"]
        .post_async(refund("RA-1", "RA-R-1", 5, 5))
        .await
        .unwrap();
    assert_eq!(
        again.json::<Value>().unwrap()["refund_id"],
        created.json::<Value>().unwrap()["refund_id"]
    );
}
