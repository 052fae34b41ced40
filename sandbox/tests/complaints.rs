//! The complaint reply (204) through the real client: both routes, blocking and async, both
//! sign modes, the four chain styles; missing fields.

use serde_json::json;
use wechatpay::{ErrorKind, chain};
use wechatpay_sandbox::{Sandbox, SignMode};

fn opts(mchid: &str) -> serde_json::Value {
    json!({
        "complaint_id": "200201820200101080076610000",
        "json": {
            "complainted_mchid": mchid,
            "response_content": "已与用户沟通解决",
            "response_images": ["file23578_21798531.jpg"],
        },
    })
}

#[test]
fn blocking_both_routes_both_modes() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();
    for mode in [SignMode::PublicKey, SignMode::Certificate] {
        sandbox.set_sign_mode(mode);
        let expected_serial = match mode {
            SignMode::PublicKey => &sandbox.identity().public_key_id,
            SignMode::Certificate | SignMode::Both => &sandbox.identity().platform_serial,
        };
        for path in [
            "v3/merchant-service/complaints-v2/{complaint_id}/response",
            "v3/global/merchant-service/complaints/{complaint_id}/response",
        ] {
            let response = client.chain(path).post(opts(&mchid)).unwrap();
            assert_eq!(response.status(), 204);
            assert!(response.signature_verified());
            assert_eq!(
                response.headers()["Wechatpay-Serial"].to_str().unwrap(),
                expected_serial
            );
            assert!(response.request_id().is_some());
        }
    }
    // The four chain styles reach the same route.
    client["v3/global/merchant-service/complaints/{complaint_id}/response"]
        .post(opts(&mchid))
        .unwrap();
    client["v3"]["global"]["merchantService"]["complaints"]["_complaint_id_"]["response"]
        .post(opts(&mchid))
        .unwrap();
    chain!(
        client
            .v3
            .global
            .merchantService
            .complaints
            ._complaint_id_
            .response
    )
    .post(opts(&mchid))
    .unwrap();
    let log = sandbox.requests();
    assert_eq!(log.len(), 7);
    assert!(log.iter().all(|r| r.verdict.is_ok()), "{log:?}");
    assert_eq!(
        log[0].target,
        "/v3/merchant-service/complaints-v2/200201820200101080076610000/response"
    );
}

#[tokio::test]
async fn async_both_modes_and_per_request_mode() {
    let sandbox = Sandbox::start_async().await.unwrap();
    let client = sandbox.client();
    let id = sandbox.identity();
    for (mode, serial) in [
        ("certificate", &id.platform_serial),
        ("public-key", &id.public_key_id),
    ] {
        let mut o = opts(&id.mchid);
        o["headers"] = json!({ "Sandbox-Sign-Mode": mode });
        let response = client["v3/merchant-service/complaints-v2/{complaint_id}/response"]
            .post_async(o)
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        assert_eq!(
            response.headers()["Wechatpay-Serial"].to_str().unwrap(),
            serial
        );
    }
}

#[test]
fn missing_and_wrong_fields() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let endpoint = &client["v3/merchant-service/complaints-v2/{complaint_id}/response"];
    let cases = [
        (
            json!({ "complainted_mchid": sandbox.identity().mchid }),
            "/response_content",
        ),
        (json!({ "response_content": "ok" }), "/complainted_mchid"),
    ];
    for (body, field) in cases {
        let error = endpoint
            .post(json!({ "complaint_id": "1", "json": body }))
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Api);
        let api = error.api().unwrap();
        assert_eq!(api.status(), 400);
        assert_eq!(api.code(), Some("PARAM_ERROR"));
        // As WeChat Pay words it: the input, the field's title, the rule; and the detail.
        let message = api.message().unwrap();
        assert!(
            message.starts_with(&format!("输入源“/body{field}”映射到值字段“")),
            "{message}"
        );
        assert!(message.contains("必填性规则校验失败"), "{message}");
        let detail = api.detail().unwrap();
        assert_eq!(detail["field"], field);
        assert_eq!(detail["location"], "body");
        assert_eq!(detail["issue"], "a required field is missing");
    }
    let error = endpoint
        .post(json!({
            "complaint_id": "1",
            "json": { "complainted_mchid": "1900000000", "response_content": "ok" },
        }))
        .unwrap_err();
    assert_eq!(error.api().unwrap().code(), Some("PARAM_ERROR"));
    // Not JSON at all.
    let error = endpoint
        .post(json!({ "complaint_id": "1", "body": "not json" }))
        .unwrap_err();
    assert_eq!(error.api().unwrap().code(), Some("PARAM_ERROR"));
}

#[test]
fn unknown_route_is_a_signed_404() {
    let sandbox = Sandbox::start().unwrap();
    let error = sandbox.client()["v3/no/such/thing"]
        .get(json!({}))
        .unwrap_err();
    let api = error.api().unwrap();
    assert_eq!(api.status(), 404);
    assert_eq!(api.code(), Some("NOT_FOUND"));
    let response = error.response().unwrap();
    assert!(response.headers().contains_key("Wechatpay-Signature"));
}

/// A reply and a completion are kept: the complaint's detail shows its state, its negotiation
/// history the reply, each answer fitting its schema.
#[test]
fn replies_and_completion_show_in_the_detail_and_the_history() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();
    let id = "200201820200101080076610001";
    let catalogue = wechatpay::catalogue::get();
    // GET `template` (the operation's, plus a query), the answer checked against its schema.
    let get = |(template, query): (&str, &str), vars: serde_json::Value| {
        let answer: serde_json::Value = client
            .chain(&format!("{template}{query}"))
            .get(vars)
            .unwrap()
            .json()
            .unwrap();
        let op = catalogue.find(&wechatpay::Method::GET, template).unwrap();
        let problems = op.check_answer(&answer);
        assert!(problems.is_empty(), "{template}: {problems:?}");
        answer
    };
    let detail = ("v3/merchant-service/complaints-v2/{complaint_id}", "");
    let history = (
        "v3/merchant-service/complaints-v2/{complaint_id}/negotiation-historys",
        "{?limit,offset}",
    );

    // A reply: the complaint is being processed, the reply in its history.
    client["v3/merchant-service/complaints-v2/{complaint_id}/response"]
        .post(json!({
            "complaint_id": id,
            "json": { "complainted_mchid": mchid, "response_content": "已退款，请查收" },
        }))
        .unwrap();
    let answer = get(detail, json!({ "complaint_id": id }));
    assert_eq!(answer["complaint_id"], id);
    assert_eq!(answer["complaint_state"], "PROCESSING");
    let answer = get(
        history,
        json!({ "complaint_id": id, "limit": 10, "offset": 0 }),
    );
    assert_eq!(answer["total_count"], 2);
    let types: Vec<&str> = answer["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operate_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["USER_CREATE_COMPLAINT", "MERCHANT_RESPONSE"]);
    assert_eq!(answer["data"][1]["operate_details"], "已退款，请查收");

    let done = client["v3/merchant-service/complaints-v2/{complaint_id}/complete"]
        .post(json!({ "complaint_id": id, "json": { "complainted_mchid": mchid } }))
        .unwrap();
    assert_eq!(done.status(), 204);
    assert_eq!(
        get(detail, json!({ "complaint_id": id }))["complaint_state"],
        "PROCESSED"
    );
    let answer = get(
        history,
        json!({ "complaint_id": id, "limit": 1, "offset": 2 }),
    );
    assert_eq!(
        answer["data"][0]["operate_type"],
        "MERCHANT_CONFIRM_COMPLETE"
    );
    assert_eq!(
        (answer["limit"].as_u64(), answer["total_count"].as_u64()),
        (Some(1), Some(3))
    );
    // Another complaint: the description's example, its id echoed.
    let other = get(
        detail,
        json!({ "complaint_id": "200201820200101080076619999" }),
    );
    assert_eq!(other["complaint_id"], "200201820200101080076619999");
}
