//! Scripts answering APIv2: any path on both ports once the sandbox verified the `sign` (of
//! the XML body, or of the query of a `GET`), signed answers checked by hand, forged ones
//! refused by the client.

mod support;

use std::sync::{Arc, Mutex};

use openssl::hash::{MessageDigest, hash};
use serde_json::json;
use support::raw_request;
use wechatpay::{ErrorKind, VerificationFailure};
use wechatpay_sandbox::{Answer, Fault, LoggedRequest, Sandbox, V2SignType};

/// Answers with a signed SUCCESS in the request's sign type.
fn echo(request: &LoggedRequest) -> Option<Answer> {
    let sign_type = if request.body_text().contains("HMAC-SHA256") {
        V2SignType::HmacSha256
    } else {
        V2SignType::Md5
    };
    Some(Answer::v2_signed(
        &[
            ("return_code", "SUCCESS"),
            ("result_code", "SUCCESS"),
            ("nonce_str", "o5bAKF3o2ypC8hwa"),
            ("total_fee", "888"),
        ],
        sign_type,
    ))
}

/// The value of `<name>` in an XML answer (CDATA as the sandbox writes it).
fn value<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}><![CDATA[");
    let start = xml.find(&open).unwrap() + open.len();
    let end = xml[start..].find("]]>").unwrap();
    &xml[start..start + end]
}

#[test]
fn any_path_on_either_port_reaches_the_script_once_the_sign_is_verified() {
    let sandbox = Sandbox::start().unwrap();
    let seen: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let record = Arc::clone(&seen);
    sandbox.script(move |request| {
        record
            .lock()
            .unwrap()
            .push((request.path().to_owned(), request.tls));
        echo(request)
    });
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();
    for sign_type in ["MD5", "HMAC-SHA256"] {
        let answer = client["v2/pay/closeorder"]
            .post(json!({ "xml": { "mch_id": mchid, "sign_type": sign_type } }))
            .unwrap();
        assert!(answer.signature_verified(), "{sign_type}");
        assert_eq!(answer.xml().unwrap()["total_fee"], "888");
    }
    // Over mutual TLS, any path too.
    let answer = client["v2/secapi/mch/anything"]
        .post(json!({
            "xml": { "mch_id": mchid },
            "security": true,
            "base_uri": sandbox.identity().tls_base_uri,
        }))
        .unwrap();
    assert!(answer.signature_verified());
    // The sandbox's own APIs too, before their routes.
    let answer = client["v2/pay/micropay"]
        .post(json!({ "xml": { "mch_id": mchid } }))
        .unwrap();
    assert_eq!(answer.xml().unwrap()["nonce_str"], "o5bAKF3o2ypC8hwa");
    assert_eq!(
        *seen.lock().unwrap(),
        [
            ("/pay/closeorder".to_owned(), false),
            ("/pay/closeorder".to_owned(), false),
            ("/secapi/mch/anything".to_owned(), true),
            ("/pay/micropay".to_owned(), false),
        ]
    );
    assert!(sandbox.requests().iter().all(|r| r.verdict.is_ok()));
}

#[test]
fn the_sign_is_made_with_the_apiv2_secret_exactly() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.script(|_| {
        Some(Answer::v2_signed(
            &[
                ("return_code", "SUCCESS"),
                ("b", "2"),
                ("a", "1"),
                ("empty", ""),
            ],
            V2SignType::Md5,
        ))
    });
    let secret = sandbox.identity().apiv2_secret.clone();
    let body = format!("<xml><mch_id>1</mch_id><sign>{}</sign></xml>", {
        let digest = hash(
            MessageDigest::md5(),
            format!("mch_id=1&key={secret}").as_bytes(),
        )
        .unwrap();
        digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
    });
    let raw = raw_request(
        sandbox.base_uri(),
        "POST",
        "/any/thing",
        &[],
        body.as_bytes(),
    );
    assert_eq!(raw.status, 200);
    assert_eq!(raw.header("Content-Type"), Some("text/xml; charset=utf-8"));
    let xml = String::from_utf8(raw.body).unwrap();
    // Sorted, empty values left out, the secret last: MD5 in uppercase hex.
    let expected = hash(
        MessageDigest::md5(),
        format!("a=1&b=2&return_code=SUCCESS&key={secret}").as_bytes(),
    )
    .unwrap()
    .iter()
    .map(|b| format!("{b:02X}"))
    .collect::<String>();
    assert_eq!(value(&xml, "sign"), expected);
    // The fields in the order given, then the sign.
    assert!(
        xml.starts_with("<xml><return_code><![CDATA[SUCCESS]]></return_code><b><![CDATA[2]]></b>"),
        "{xml}"
    );
    assert!(
        xml.ends_with(&format!("<sign><![CDATA[{expected}]]></sign></xml>")),
        "{xml}"
    );
}

#[test]
fn a_get_carries_its_fields_in_the_query() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.script(|request| {
        assert_eq!(request.method, "GET");
        Some(Answer::raw(200, "text/html", "<html>ok</html>"))
    });
    let answer = sandbox.client()["v2/papay/entrustweb"]
        .get(json!({ "xml": {
            "mch_id": sandbox.identity().mchid, "contract_display_account": "微信代扣",
            "notify_url": "https://www.qq.com/test/papay",
        } }))
        .unwrap();
    assert_eq!(answer.text().unwrap(), "<html>ok</html>");
    assert_eq!(answer.headers()["content-type"], "text/html");
    let request = &sandbox.requests()[0];
    assert_eq!(request.verdict, Ok(()));
    assert!(
        request.query().unwrap().contains("sign="),
        "{}",
        request.target
    );
    // A GET whose query is not signed does not reach the script.
    let raw = raw_request(
        sandbox.base_uri(),
        "GET",
        "/papay/entrustweb?mch_id=1",
        &[],
        b"",
    );
    assert!(String::from_utf8(raw.body).unwrap().contains("签名错误"));
    assert_eq!(
        sandbox.requests()[1].verdict,
        Err("the request has no sign".to_owned())
    );
}

#[test]
fn forged_unsigned_and_failing_answers_are_what_the_client_sees() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.script(|request| {
        let fields = [
            ("return_code", "SUCCESS"),
            ("result_code", "SUCCESS"),
            ("total_fee", "888"),
        ];
        Some(match request.path() {
            "/tampered" => Answer::v2_signed(&fields, V2SignType::Md5).tampered("888", "1"),
            "/bad-signature" => {
                Answer::v2_signed(&fields, V2SignType::Md5).fault(Fault::BadSignature)
            }
            "/tampered-body" => {
                Answer::v2_signed(&fields, V2SignType::Md5).fault(Fault::TamperedBody)
            }
            "/unsigned" | "/pay/downloadbill" => Answer::v2_unsigned(&fields),
            "/fail" => {
                Answer::v2_unsigned(&[("return_code", "FAIL"), ("return_msg", "参数格式校验错误")])
            }
            _ => panic!("no answer for {}", request.path()),
        })
    });
    let client = sandbox.client();
    let post = |path: &str| {
        client
            .chain(path)
            .post(json!({ "xml": { "mch_id": sandbox.identity().mchid } }))
    };
    for path in ["v2/tampered", "v2/bad-signature", "v2/tampered-body"] {
        let error = post(path).unwrap_err();
        assert_eq!(
            error.verification(),
            Some(&VerificationFailure::BadSign("MD5")),
            "{path}"
        );
    }
    assert_eq!(
        post("v2/unsigned").unwrap_err().verification(),
        Some(&VerificationFailure::MissingSign)
    );
    let bill = post("v2/pay/downloadbill").unwrap();
    assert!(!bill.signature_verified());
    let error = post("v2/fail").unwrap_err();
    assert_eq!(error.api().unwrap().return_msg(), Some("参数格式校验错误"));
    // A script that panics: a 500 FAIL naming it.
    let error = post("v2/other").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Api);
    let api = error.api().unwrap();
    assert_eq!(api.status(), 500);
    assert!(
        api.return_msg().unwrap().contains("no answer for /other"),
        "{api:?}"
    );
}

#[test]
fn a_path_the_script_leaves_alone_is_not_found() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.script(|_| None);
    let client = sandbox.client();
    let error = client["v2/nothing/here"]
        .post(json!({ "xml": { "mch_id": sandbox.identity().mchid } }))
        .unwrap_err();
    assert_eq!(error.api().unwrap().status(), 404);
    assert_eq!(
        sandbox.requests()[0].verdict,
        Err("no such API: POST /nothing/here".to_owned())
    );
    // And the sandbox's own APIs answer as without a script.
    let error = client["v2/pay/orderquery"]
        .post(json!({ "xml": {
            "appid": "wx1", "mch_id": sandbox.identity().mchid, "out_trade_no": "NOPE",
        }}))
        .unwrap_err();
    assert_eq!(error.api().unwrap().err_code(), Some("ORDERNOTEXIST"));
}
