//! The request log: what was received, exactly, and the sandbox's verdict.

mod support;

use serde_json::json;
use wechatpay_sandbox::Sandbox;

#[test]
fn the_log_records_requests_and_verdicts() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();
    client["v3/pay/transactions/out-trade-no/{no}{?mchid}"]
        .get(json!({ "no": "订单 1/2", "mchid": mchid }))
        .unwrap_err(); // 404: unknown order
    client["v3/merchant-service/complaints-v2/{id}/response"]
        .post(
            json!({ "id": "1", "json": { "complainted_mchid": mchid, "response_content": "好" } }),
        )
        .unwrap();
    let forged = support::raw_request(
        sandbox.base_uri(),
        "GET",
        "/v3/certificates",
        &[("Authorization", "WECHATPAY2-SHA256-RSA2048 mchid=\"1\"")],
        b"",
    );
    assert_eq!(forged.status, 401);

    let log = sandbox.requests();
    assert_eq!(log.len(), 3);
    let get = &log[0];
    assert_eq!(get.method, "GET");
    // The raw target, as sent: the path segment percent-encoded once.
    assert_eq!(
        get.target,
        format!("/v3/pay/transactions/out-trade-no/%E8%AE%A2%E5%8D%95%201%2F2?mchid={mchid}")
    );
    assert_eq!(
        get.path(),
        "/v3/pay/transactions/out-trade-no/%E8%AE%A2%E5%8D%95%201%2F2"
    );
    assert_eq!(get.query(), Some(format!("mchid={mchid}").as_str()));
    assert!(get.body.is_empty());
    assert_eq!(get.verdict, Ok(()));
    assert!(!get.tls);
    assert!(
        get.header("authorization")
            .unwrap()
            .starts_with("WECHATPAY2-SHA256-RSA2048 ")
    );

    let post = &log[1];
    assert_eq!(post.method, "POST");
    assert_eq!(post.verdict, Ok(()));
    let body: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body["response_content"], "好");
    assert_eq!(
        post.body_text(),
        String::from_utf8(post.body.clone()).unwrap()
    );

    let bad = &log[2];
    let reason = bad.verdict.as_ref().unwrap_err();
    assert!(reason.contains("Authorization"), "{reason}");

    sandbox.clear_requests();
    assert!(sandbox.requests().is_empty());
}

#[tokio::test]
async fn the_log_sees_async_requests_too() {
    let sandbox = Sandbox::start_async().await.unwrap();
    sandbox.client()["v3/certificates"]
        .get_async(json!({}))
        .await
        .unwrap();
    let log = sandbox.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].target, "/v3/certificates");
    assert!(log[0].verdict.is_ok());
}
