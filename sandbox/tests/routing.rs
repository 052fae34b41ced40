//! Unknown paths, under `/v3` or not, get a signed 404 `NOT_FOUND`; only the APIv2 paths go
//! to the APIv2 handler.

mod support;

use serde_json::json;
use support::{authorization, raw_request};
use wechatpay_sandbox::{Sandbox, SignMode};

#[test]
fn unknown_paths_get_a_signed_404_not_found() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    let cases = [
        ("GET", "/", &b""[..]),
        ("GET", "/foo", b""),
        ("POST", "/foo", b"<xml><a>1</a></xml>"),
        ("GET", "/v2/pay/micropay", b""),
        ("POST", "/v2/pay/micropay", b"<xml></xml>"),
        ("GET", "/pay/micropayx?a=1", b""),
        ("GET", "/v3x", b""),
    ];
    for mode in [SignMode::PublicKey, SignMode::Certificate] {
        sandbox.set_sign_mode(mode);
        for (method, target, body) in cases {
            let answer = raw_request(sandbox.base_uri(), method, target, &[], body);
            assert_eq!(answer.status, 404, "{method} {target}");
            assert!(
                answer
                    .header("Content-Type")
                    .unwrap()
                    .starts_with("application/json")
            );
            let json = answer.json();
            assert_eq!(json["code"], "NOT_FOUND", "{method} {target}");
            let message = json["message"].as_str().unwrap();
            assert!(message.contains(method), "{message}");
            answer.verify(id).unwrap();
            assert!(answer.header("Request-ID").is_some());
        }
    }
    // (An APIv2 path of the catalogue is an API: over the plain port, the refund, which takes
    // the merchant certificate, is refused naming the mutual-TLS port; see apiv2.rs.)
    // Logged, with a verdict that says why.
    let log = sandbox.requests();
    assert_eq!(log.len(), 2 * cases.len());
    let foo = log.iter().find(|r| r.target == "/foo").unwrap();
    assert!(
        foo.verdict
            .as_ref()
            .unwrap_err()
            .contains("no such API: GET /foo")
    );

    // Unknown /v3 paths: checked, then 404 (signed as well).
    let auth = authorization(id, "GET", "/v3/nothing", b"");
    let answer = raw_request(
        sandbox.base_uri(),
        "GET",
        "/v3/nothing",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json()["code"], "NOT_FOUND");
    answer.verify(id).unwrap();
    // Unsigned, they still get 401.
    let answer = raw_request(sandbox.base_uri(), "GET", "/v3/nothing", &[], b"");
    assert_eq!(answer.status, 401);
}

#[test]
fn the_apiv2_paths_still_reach_the_apiv2_handler() {
    let sandbox = Sandbox::start().unwrap();
    for path in ["/pay/micropay", "/pay/orderquery"] {
        let answer = raw_request(sandbox.base_uri(), "POST", path, &[], b"<xml></xml>");
        assert_eq!(answer.status, 200, "{path}");
        let text = String::from_utf8(answer.body).unwrap();
        assert!(text.contains("FAIL"), "{text}");
    }
    // And through the client.
    let error = sandbox.client()["v2/pay/orderquery"]
        .post(json!({ "xml": {
            "appid": "wx1", "mch_id": sandbox.identity().mchid, "out_trade_no": "NOPE",
        }}))
        .unwrap_err();
    assert_eq!(error.api().unwrap().err_code(), Some("ORDERNOTEXIST"));
}
