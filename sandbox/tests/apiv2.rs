//! APIv2 through the real client: micropay and orderquery on the plain port, the refund over
//! mutual TLS, both sign types, faults; a hand-made bad sign.

mod support;

use serde_json::{Value, json};
use wechatpay::{ErrorKind, VerificationFailure};
use wechatpay_sandbox::Sandbox;

fn micropay(sandbox: &Sandbox, out_trade_no: &str, sign_type: Option<&str>) -> Value {
    let mut xml = json!({
        "appid": "wx2421b1c4370ec43b",
        "mch_id": sandbox.identity().mchid,
        "body": "image形象店-深圳腾大- QQ公仔",
        "out_trade_no": out_trade_no,
        "total_fee": 888,
        "spbill_create_ip": "8.8.8.8",
        "auth_code": "120061098828009406",
    });
    if let Some(t) = sign_type {
        xml["sign_type"] = json!(t);
    }
    json!({ "xml": xml })
}

fn refund(sandbox: &Sandbox, out_trade_no: &str, out_refund_no: &str, sign_type: &str) -> Value {
    json!({
        "security": true,
        "base_uri": sandbox.identity().tls_base_uri,
        "xml": {
            "appid": "wx2421b1c4370ec43b",
            "mch_id": sandbox.identity().mchid,
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "total_fee": 888,
            "refund_fee": 888,
            "sign_type": sign_type,
        },
    })
}

#[test]
fn micropay_orderquery_refund_blocking() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();
    for (i, sign_type) in [None, Some("MD5"), Some("HMAC-SHA256")]
        .into_iter()
        .enumerate()
    {
        let no = format!("V2-{i}");
        let paid = client["v2/pay/micropay"]
            .post(micropay(&sandbox, &no, sign_type))
            .unwrap();
        assert!(paid.signature_verified());
        let fields = paid.xml().unwrap();
        assert_eq!(fields["result_code"], "SUCCESS");
        assert_eq!(fields["total_fee"], "888");
        let sign = fields["sign"].as_str().unwrap();
        assert_eq!(
            sign.len(),
            if sign_type == Some("HMAC-SHA256") {
                64
            } else {
                32
            }
        );
        let transaction_id = fields["transaction_id"].as_str().unwrap().to_owned();

        let queried = client["v2/pay/orderquery"]
            .post(json!({ "xml": {
                "appid": "wx2421b1c4370ec43b", "mch_id": mchid, "transaction_id": transaction_id,
            }}))
            .unwrap()
            .xml()
            .unwrap();
        assert_eq!(queried["trade_state"], "SUCCESS");
        assert_eq!(queried["out_trade_no"], no.as_str());

        let refunded = client["v2/secapi/pay/refund"]
            .post(refund(
                &sandbox,
                &no,
                &format!("{no}-R"),
                sign_type.unwrap_or("MD5"),
            ))
            .unwrap()
            .xml()
            .unwrap();
        assert_eq!(refunded["refund_fee"], "888");
        assert_eq!(refunded["transaction_id"], transaction_id.as_str());
        assert!(refunded["refund_id"].as_str().unwrap().starts_with("503"));
    }
    // Micropay orders are orders of the APIv3 API too.
    let order: Value = client["v3/pay/transactions/out-trade-no/{no}{?mchid}"]
        .get(json!({ "no": "V2-0", "mchid": mchid }))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(order["trade_type"], "MICROPAY");
    assert_eq!(order["trade_state"], "REFUND");

    let log = sandbox.requests();
    let refunds: Vec<_> = log
        .iter()
        .filter(|r| r.path() == "/secapi/pay/refund")
        .collect();
    assert_eq!(refunds.len(), 3);
    assert!(refunds.iter().all(|r| r.tls && r.verdict.is_ok()));
    assert!(log.iter().all(|r| r.verdict.is_ok()), "{log:?}");
}

#[test]
fn business_errors() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();
    let mut bad_code = micropay(&sandbox, "E-1", None);
    bad_code["xml"]["auth_code"] = json!("999");
    let error = client["v2/pay/micropay"].post(bad_code).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Api);
    assert_eq!(error.api().unwrap().err_code(), Some("AUTH_CODE_INVALID"));

    let mut missing = micropay(&sandbox, "E-2", None);
    missing["xml"]
        .as_object_mut()
        .unwrap()
        .remove("spbill_create_ip");
    let error = client["v2/pay/micropay"].post(missing).unwrap_err();
    assert_eq!(error.api().unwrap().return_code(), Some("FAIL"));
    assert_eq!(
        error.api().unwrap().return_msg(),
        Some("参数错误: spbill_create_ip: a required field is missing")
    );

    let error = client["v2/pay/orderquery"]
        .post(json!({ "xml": { "appid": "wx1", "mch_id": mchid, "out_trade_no": "NOPE" } }))
        .unwrap_err();
    assert_eq!(error.api().unwrap().err_code(), Some("ORDERNOTEXIST"));

    // The refund takes the merchant certificate: on the plain port it is refused, naming it.
    let mut plain = refund(&sandbox, "E-1", "E-1-R", "MD5");
    plain.as_object_mut().unwrap().remove("base_uri");
    let error = client["v2/secapi/pay/refund"].post(plain).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Api, "{error}");
    assert_eq!(error.api().unwrap().return_code(), Some("FAIL"), "{error}");
    assert!(
        error.api().unwrap().return_msg().is_some_and(
            |m| m == "证书错误: this API takes the merchant API certificate (mutual TLS)"
        ),
        "{error}"
    );
}

#[test]
fn mutual_tls_needs_the_merchant_certificate() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    let no_cert = wechatpay::Client::builder()
        .mchid(&id.mchid)
        .secret(&id.apiv2_secret)
        .add_root_certificate(&id.ca_certificate_pem)
        .base_uri(&id.tls_base_uri)
        .build()
        .unwrap();
    let error = no_cert["v2/pay/orderquery"]
        .post(json!({ "xml": { "appid": "wx1", "mch_id": id.mchid, "out_trade_no": "X" } }))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transport, "{error}");
    // The full client presents its certificate only with `security: true`.
    let error = sandbox.client()["v2/pay/orderquery"]
        .post(json!({
            "base_uri": id.tls_base_uri,
            "xml": { "appid": "wx1", "mch_id": id.mchid, "out_trade_no": "X" },
        }))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transport, "{error}");
    assert!(sandbox.requests().is_empty());
}

#[test]
fn faults_on_apiv2_answers() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    for (i, (fault, kind)) in [
        ("bad-signature", ErrorKind::Verification),
        ("tampered-body", ErrorKind::Verification),
        ("server-error", ErrorKind::Api),
        ("connection-reset", ErrorKind::Transport),
    ]
    .into_iter()
    .enumerate()
    {
        let mut opts = micropay(&sandbox, &format!("F-{i}"), Some("HMAC-SHA256"));
        opts["headers"] = json!({ "Sandbox-Fault": fault });
        let error = client["v2/pay/micropay"].post(opts).unwrap_err();
        assert_eq!(error.kind(), kind, "{fault}: {error}");
        if kind == ErrorKind::Verification {
            assert!(
                matches!(error.verification(), Some(VerificationFailure::BadSign(_))),
                "{fault}"
            );
        }
    }
}

#[test]
fn a_hand_made_bad_sign_is_refused() {
    let sandbox = Sandbox::start().unwrap();
    let body = format!(
        "<xml><appid>wx1</appid><mch_id>{}</mch_id><out_trade_no>1</out_trade_no><nonce_str>abc</nonce_str><sign>0123456789ABCDEF0123456789ABCDEF</sign></xml>",
        sandbox.identity().mchid
    );
    let answer = support::raw_request(
        sandbox.base_uri(),
        "POST",
        "/pay/orderquery",
        &[],
        body.as_bytes(),
    );
    assert_eq!(answer.status, 200);
    let text = String::from_utf8(answer.body).unwrap();
    assert!(
        text.contains("<return_code><![CDATA[FAIL]]></return_code>"),
        "{text}"
    );
    assert!(text.contains("签名错误"), "{text}");
    let logged = sandbox.requests().pop().unwrap();
    assert!(logged.verdict.unwrap_err().contains("sign mismatch"));
    // Not XML at all.
    let answer = support::raw_request(
        sandbox.base_uri(),
        "POST",
        "/pay/orderquery",
        &[],
        b"<!DOCTYPE x><xml/>",
    );
    assert!(String::from_utf8(answer.body).unwrap().contains("FAIL"));
}

#[tokio::test]
async fn apiv2_async() {
    let sandbox = Sandbox::start_async().await.unwrap();
    let client = sandbox.client();
    let paid = client["v2/pay/micropay"]
        .post_async(micropay(&sandbox, "A-1", Some("HMAC-SHA256")))
        .await
        .unwrap();
    assert_eq!(paid.xml().unwrap()["result_code"], "SUCCESS");
    let refunded = client["v2/secapi/pay/refund"]
        .post_async(refund(&sandbox, "A-1", "A-1-R", "HMAC-SHA256"))
        .await
        .unwrap();
    assert_eq!(refunded.xml().unwrap()["out_refund_no"], "A-1-R");
}
