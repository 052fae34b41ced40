//! Every route through the real client, in both sign modes, blocking and async: each answer
//! carries the serial of the mode and passes the client's verification.

use serde_json::{Value, json};
use wechatpay::bill::{BillDownload, Compression};
use wechatpay::{Media, Options, Response};
use wechatpay_sandbox::{Sandbox, SignMode};

/// The requests of the tour, in order: (method, template, options, expected status).
fn tour(sandbox: &Sandbox, tag: &str) -> Vec<(&'static str, &'static str, Options, u16)> {
    let mchid = sandbox.identity().mchid.clone();
    let no = format!("TOUR-{tag}");
    let order = |kind: &str| {
        let mut body = json!({
            "appid": "wxd678efh567hg6787", "mchid": mchid, "description": "tour",
            "out_trade_no": format!("{no}-{kind}"), "notify_url": "https://example.com/n",
            "amount": { "total": 100, "currency": "CNY" },
        });
        if kind == "jsapi" {
            body["payer"] = json!({ "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" });
        }
        Options::new().json(&body)
    };
    let complaint = Options::new()
        .var("id", "200201820200101080076610000")
        .json(&json!({ "complainted_mchid": mchid, "response_content": "ok" }));
    vec![
        (
            "POST",
            "v3/merchant-service/complaints-v2/{id}/response",
            complaint.clone(),
            204,
        ),
        (
            "POST",
            "v3/global/merchant-service/complaints/{id}/response",
            complaint,
            204,
        ),
        ("POST", "v3/pay/transactions/jsapi", order("jsapi"), 200),
        ("POST", "v3/pay/transactions/native", order("native"), 200),
        ("POST", "v3/pay/transactions/app", order("app"), 200),
        (
            "GET",
            "v3/pay/transactions/out-trade-no/{no}",
            Options::new()
                .var("no", format!("{no}-jsapi"))
                .query("mchid", &mchid),
            200,
        ),
        (
            "POST",
            "v3/pay/transactions/out-trade-no/{no}/close",
            Options::new()
                .var("no", format!("{no}-native"))
                .json(&json!({ "mchid": mchid })),
            204,
        ),
        ("GET", "v3/certificates", Options::new(), 200),
        (
            "POST",
            "v3/merchant/media/upload",
            Options::new().multipart(Media::new("a.png", b"\x89PNG tour".to_vec()).unwrap()),
            200,
        ),
        (
            "GET",
            "v3/bill/tradebill{?bill_date,tar_type}",
            Options::new()
                .var("bill_date", "2024-06-01")
                .var("tar_type", "GZIP"),
            200,
        ),
    ]
}

/// The answer has `status`, verified, signed with the key of `mode` (the certificate list:
/// with the platform certificate in every mode).
fn check(sandbox: &Sandbox, mode: SignMode, template: &str, response: &Response, status: u16) {
    assert_eq!(response.status(), status);
    assert!(response.signature_verified());
    let serial = response.headers()["Wechatpay-Serial"].to_str().unwrap();
    let identity = sandbox.identity();
    let expected = match mode {
        _ if template == "v3/certificates" => &identity.platform_serial,
        SignMode::PublicKey => &identity.public_key_id,
        _ => &identity.platform_serial,
    };
    assert_eq!(serial, expected, "{template} in {mode}");
}

/// The paid order, its transaction-id query and a refund, whose answers depend on the tour.
fn refund_options(sandbox: &Sandbox, tag: &str) -> Options {
    let transaction_id = sandbox.pay(&format!("TOUR-{tag}-app")).unwrap();
    Options::new().json(&json!({
        "transaction_id": transaction_id,
        "out_refund_no": format!("TOUR-{tag}-R"),
        "amount": { "refund": 100, "total": 100, "currency": "CNY" },
    }))
}

#[test]
fn every_route_blocking_both_modes() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    for mode in [SignMode::Certificate, SignMode::PublicKey] {
        sandbox.set_sign_mode(mode);
        let tag = mode.name();
        let mut bill = None;
        for (method, template, options, status) in tour(&sandbox, tag) {
            let endpoint = client.chain(template);
            let response = match method {
                "GET" => endpoint.get(options),
                _ => endpoint.post(options),
            }
            .unwrap_or_else(|e| panic!("{method} {template}: {e}"));
            check(&sandbox, mode, template, &response, status);
            if template.starts_with("v3/bill") {
                bill = Some(response.json::<BillDownload>().unwrap());
            }
        }
        let refund = client["v3/refund/domestic/refunds"]
            .post(refund_options(&sandbox, tag))
            .unwrap();
        check(&sandbox, mode, "refund", &refund, 200);
        let transaction_id = refund.json::<Value>().unwrap()["transaction_id"].clone();
        let by_id = client["v3/pay/transactions/id/{id}{?mchid}"]
            .get(json!({ "id": transaction_id, "mchid": sandbox.identity().mchid }))
            .unwrap();
        check(&sandbox, mode, "by_id", &by_id, 200);
        let queried = client["v3/refund/domestic/refunds/{no}"]
            .get(json!({ "no": format!("TOUR-{tag}-R") }))
            .unwrap();
        check(&sandbox, mode, "queried", &queried, 200);
        let mut csv = Vec::new();
        client
            .download_bill(&bill.unwrap(), Compression::Gzip, &mut csv)
            .unwrap();
        assert!(!csv.is_empty());
    }
    assert!(sandbox.requests().iter().all(|r| r.verdict.is_ok()));
}

#[tokio::test]
async fn every_route_async_both_modes() {
    let sandbox = Sandbox::start_async().await.unwrap();
    let client = sandbox.client();
    for mode in [SignMode::Certificate, SignMode::PublicKey] {
        sandbox.set_sign_mode(mode);
        let tag = format!("async-{}", mode.name());
        let mut bill = None;
        for (method, template, options, status) in tour(&sandbox, &tag) {
            let endpoint = client.chain(template);
            let response = match method {
                "GET" => endpoint.get_async(options).await,
                _ => endpoint.post_async(options).await,
            }
            .unwrap_or_else(|e| panic!("{method} {template}: {e}"));
            check(&sandbox, mode, template, &response, status);
            if template.starts_with("v3/bill") {
                bill = Some(response.json::<BillDownload>().unwrap());
            }
        }
        let refund = client["v3/refund/domestic/refunds"]
            .post_async(refund_options(&sandbox, &tag))
            .await
            .unwrap();
        check(&sandbox, mode, "refund", &refund, 200);
        let queried = client["v3/refund/domestic/refunds/{no}"]
            .get_async(json!({ "no": format!("TOUR-{tag}-R") }))
            .await
            .unwrap();
        check(&sandbox, mode, "queried", &queried, 200);
        let mut csv = Vec::new();
        client
            .download_bill_async(&bill.unwrap(), Compression::Gzip, &mut csv)
            .await
            .unwrap();
        assert!(!csv.is_empty());
    }
    assert!(sandbox.requests().iter().all(|r| r.verdict.is_ok()));
}
