//! The counters: connections and requests since the start, past the log's 1000 requests;
//! refused requests; a mutual-TLS connection counts once its handshake succeeded.

mod support;

use serde_json::json;
use support::raw_request;
use wechatpay::ErrorKind;
use wechatpay_sandbox::{Counters, Sandbox};

fn counts(sandbox: &Sandbox) -> (u64, u64, u64) {
    let Counters {
        connections,
        requests,
        refused,
        ..
    } = sandbox.counters();
    (connections, requests, refused)
}

#[test]
fn the_counters_keep_counting_past_the_log() {
    let sandbox = Sandbox::start().unwrap();
    assert_eq!(counts(&sandbox), (0, 0, 0));

    // 1001 APIv2 requests with a wrong sign, one connection each (`Connection: close`).
    let forged = b"<xml><return_code>SUCCESS</return_code><sign>0</sign></xml>";
    for _ in 0..1001 {
        let answer = raw_request(sandbox.base_uri(), "POST", "/pay/orderquery", &[], forged);
        assert_eq!(answer.status, 200);
        assert!(String::from_utf8_lossy(&answer.body).contains("签名错误"));
    }
    assert_eq!(sandbox.requests().len(), 1000);
    assert_eq!(counts(&sandbox), (1001, 1001, 1001));

    // Signed requests over one keep-alive connection: counted, not refused.
    let client = sandbox.client();
    for _ in 0..3 {
        client["v3/certificates"].get(json!({})).unwrap();
    }
    assert_eq!(counts(&sandbox), (1002, 1004, 1001));

    // A path the sandbox does not serve is refused too; clearing the log leaves the counts.
    let unknown = raw_request(sandbox.base_uri(), "GET", "/nowhere", &[], b"");
    assert_eq!(unknown.status, 404);
    sandbox.clear_requests();
    assert!(sandbox.requests().is_empty());
    assert_eq!(counts(&sandbox), (1003, 1005, 1002));
}

#[test]
fn a_mutual_tls_connection_counts_once_its_handshake_succeeded() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    let orderquery = |base_uri: &str, security: bool| {
        json!({
            "security": security,
            "base_uri": base_uri,
            "xml": { "appid": "wx1", "mch_id": id.mchid, "out_trade_no": "X" },
        })
    };
    // No client certificate: the handshake fails, nothing is served.
    let no_cert = wechatpay::Client::builder()
        .mchid(&id.mchid)
        .secret(&id.apiv2_secret)
        .add_root_certificate(&id.ca_certificate_pem)
        .build()
        .unwrap();
    let error = no_cert["v2/pay/orderquery"]
        .post(orderquery(&id.tls_base_uri, false))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transport, "{error}");
    assert_eq!(counts(&sandbox), (0, 0, 0));

    // The merchant certificate: one connection, one request, its sign accepted (the order is
    // unknown: a signed business failure).
    let error = sandbox.client()["v2/pay/orderquery"]
        .post(orderquery(&id.tls_base_uri, true))
        .unwrap_err();
    assert_eq!(
        error.api().unwrap().code(),
        Some("ORDERNOTEXIST"),
        "{error}"
    );
    assert_eq!(counts(&sandbox), (1, 1, 0));
    assert!(sandbox.requests()[0].tls);
}
