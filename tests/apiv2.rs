//! APIv2 behind the chain: routing, signing, answers, failures, configuration errors.

mod support;

use serde_json::json;
use support::scripted::{V2Recorded, V2Server, sign_fields};
use wechatpay::v2::{Secret, SignType};
use wechatpay::{Client, ErrorKind, VerificationFailure};
use wechatpay_sandbox::{Answer, V2SignType};

const MCH_ID: &str = "1900000109";
const APPID: &str = "wx2421b1c4370ec43b";

/// The APIv2 secret the server signs with and checks against (the sandbox's).
fn secret() -> &'static str {
    &support::keys().apiv2_secret
}

fn v2_client(server: &V2Server) -> Client {
    Client::builder()
        .mchid(MCH_ID)
        .secret(secret())
        .base_uri(server.base_uri())
        .allow_insecure_http(true)
        .build()
        .expect("an APIv2-only client needs no APIv3 keys")
}

fn micropay_payload() -> serde_json::Value {
    json!({
        "appid": APPID,
        "mch_id": MCH_ID,
        "body": "image形象店-深圳腾大- QQ公仔",
        "out_trade_no": "1217752501201407033233368018",
        "total_fee": 888,
        "spbill_create_ip": "8.8.8.8",
        "auth_code": "120061098828009406",
    })
}

/// Answers a verified request with a signed SUCCESS that echoes `out_trade_no`.
fn echo(request: &V2Recorded) -> Answer {
    let sign_type = if request.verdict == Ok("HMAC-SHA256") {
        V2SignType::HmacSha256
    } else {
        V2SignType::Md5
    };
    let out_trade_no = request.field("out_trade_no").unwrap_or("").to_owned();
    Answer::v2_signed(
        &[
            ("return_code", "SUCCESS"),
            ("return_msg", "OK"),
            ("appid", APPID),
            ("mch_id", MCH_ID),
            ("nonce_str", "o5bAKF3o2ypC8hwa"),
            ("result_code", "SUCCESS"),
            ("out_trade_no", &out_trade_no),
            ("total_fee", "888"),
            ("trade_state", "SUCCESS"),
        ],
        sign_type,
    )
}

#[test]
fn micropay_is_signed_with_md5_posted_as_xml_and_the_answer_verified() {
    let server = V2Server::start(echo);
    let client = v2_client(&server);
    let answer = client["v2/pay/micropay"]
        .post(json!({ "xml": micropay_payload() }))
        .unwrap();
    assert!(answer.signature_verified());
    let fields = answer.xml().unwrap();
    assert_eq!(fields["out_trade_no"], "1217752501201407033233368018");
    assert_eq!(fields["trade_state"], "SUCCESS");

    #[derive(serde::Deserialize)]
    struct Paid {
        out_trade_no: String,
        total_fee: u64,
    }
    let paid: Paid = answer.xml_as().unwrap();
    assert_eq!(paid.total_fee, 888);
    assert_eq!(paid.out_trade_no, "1217752501201407033233368018");

    let request = server.last();
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/pay/micropay");
    assert_eq!(request.verdict, Ok("MD5"));
    assert_eq!(
        request.header("content-type"),
        Some("text/xml; charset=utf-8")
    );
    assert_eq!(
        request.header("accept"),
        Some("text/xml, text/plain, application/x-gzip")
    );
    assert_eq!(request.field("total_fee"), Some("888"));
    assert_eq!(request.field("body"), Some("image形象店-深圳腾大- QQ公仔"));
    let nonce = request.field("nonce_str").unwrap();
    assert_eq!(nonce.len(), 32);
    assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
    // The payload's own order, then nonce_str, then sign.
    let names: Vec<&str> = request.fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "appid",
            "mch_id",
            "body",
            "out_trade_no",
            "total_fee",
            "spbill_create_ip",
            "auth_code",
            "nonce_str",
            "sign"
        ]
    );
}

#[test]
fn orderquery_with_hmac_sha256_async() {
    let server = V2Server::start(echo);
    let client = v2_client(&server);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let answer = runtime
        .block_on(client["v2/pay/orderquery"].post_async(json!({
            "xml": { "appid": APPID, "mch_id": MCH_ID, "out_trade_no": "1415757673", "sign_type": "HMAC-SHA256" },
        })))
        .unwrap();
    assert!(answer.signature_verified());
    assert_eq!(answer.xml().unwrap()["out_trade_no"], "1415757673");
    let request = server.last();
    assert_eq!(request.verdict, Ok("HMAC-SHA256"));
    assert_eq!(request.field("sign").unwrap().len(), 64);
}

#[test]
fn every_spelling_of_the_prefix_routes_to_apiv2_with_the_prefix_removed() {
    let server = V2Server::start(echo);
    let client = Client::builder()
        .mchid(MCH_ID)
        .secret(secret())
        .base_uri(format!("{}prefix/", server.base_uri()))
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let xml = json!({ "appid": APPID, "mch_id": MCH_ID, "out_trade_no": "1" });
    client["v2/pay/orderquery"]
        .post(json!({ "xml": xml }))
        .unwrap();
    client["V2/pay/orderquery"]
        .post(json!({ "xml": xml }))
        .unwrap();
    client
        .chain("{version}/pay/{action}")
        .post(json!({ "version": "v2", "action": "orderquery", "xml": xml }))
        .unwrap();
    wechatpay::chain!(client.v2.pay.orderquery)
        .post(json!({ "xml": xml }))
        .unwrap();
    for request in server.requests() {
        assert_eq!(request.target, "/prefix/pay/orderquery");
        assert_eq!(request.verdict, Ok("MD5"));
    }
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn a_get_signs_and_sends_the_query() {
    let server = V2Server::start(|_| Answer::raw(200, "text/html", b"<html>ok</html>".to_vec()));
    let client = v2_client(&server);
    let answer = client["v2/papay/entrustweb"]
        .get(json!({ "xml": {
            "appid": APPID, "mch_id": MCH_ID, "plan_id": "12535", "contract_code": "100000",
            "contract_display_account": "微信代扣", "notify_url": "https://www.qq.com/test/papay",
            "version": "1.0", "timestamp": 1414488825,
        } }))
        .unwrap();
    assert!(
        !answer.signature_verified(),
        "entrustweb answers are unsigned"
    );
    assert_eq!(answer.text().unwrap(), "<html>ok</html>");
    let request = server.last();
    assert_eq!(request.method, "GET");
    assert_eq!(request.path(), "/papay/entrustweb");
    assert!(request.body.is_empty());
    assert_eq!(request.header("content-type"), None);
    assert_eq!(request.verdict, Ok("MD5"));
    assert_eq!(request.field("contract_display_account"), Some("微信代扣"));
    assert_eq!(
        request.field("notify_url"),
        Some("https://www.qq.com/test/papay")
    );
    assert!(
        request
            .target
            .contains("notify_url=https%3A%2F%2Fwww.qq.com%2Ftest%2Fpapay")
    );
}

#[test]
fn nonceless_sends_no_nonce_and_a_given_nonce_or_sign_is_handled() {
    let server = V2Server::start(echo);
    let client = v2_client(&server);
    let base = json!({ "appid": APPID, "mch_id": MCH_ID, "out_trade_no": "1" });
    client["v2/pay/orderquery"]
        .post(json!({ "xml": base, "nonceless": true }))
        .unwrap();
    assert_eq!(server.last().field("nonce_str"), None);
    assert_eq!(server.last().verdict, Ok("MD5"));

    let mut given = base.clone();
    given["nonce_str"] = json!("mine");
    given["sign"] = json!("IGNORED");
    client["v2/pay/orderquery"]
        .post(wechatpay::Options::new().xml(&given))
        .unwrap();
    let request = server.last();
    assert_eq!(request.field("nonce_str"), Some("mine"));
    assert_eq!(request.verdict, Ok("MD5"), "the given sign is replaced");
    assert_eq!(
        request.fields.iter().filter(|(k, _)| k == "sign").count(),
        1
    );
}

#[test]
fn values_xml_cannot_carry_plainly_go_in_cdata() {
    let server = V2Server::start(echo);
    let client = v2_client(&server);
    let attach = r#"a<b & "c" ]]> d"#;
    client["v2/pay/orderquery"]
        .post(json!({ "xml": { "appid": APPID, "mch_id": MCH_ID, "out_trade_no": "1", "attach": attach } }))
        .unwrap();
    let request = server.last();
    assert_eq!(request.field("attach"), Some(attach));
    assert_eq!(request.verdict, Ok("MD5"));
}

// ---------------------------------------------------------------------------------------------
// answers that fail

#[test]
fn return_code_fail_is_an_api_error_with_return_msg() {
    let server = V2Server::start(|_| {
        Answer::v2_unsigned(&[("return_code", "FAIL"), ("return_msg", "参数格式校验错误")])
    });
    let err = v2_client(&server)["v2/pay/micropay"]
        .post(json!({ "xml": micropay_payload() }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    let api = err.api().unwrap();
    assert_eq!(api.return_code(), Some("FAIL"));
    assert_eq!(api.return_msg(), Some("参数格式校验错误"));
    assert_eq!(api.code(), Some("FAIL"));
    assert_eq!(api.message(), Some("参数格式校验错误"));
    assert!(err.to_string().contains("参数格式校验错误"), "{err}");
}

#[test]
fn result_code_fail_is_an_api_error_after_the_sign_is_checked() {
    let fail = [
        ("return_code", "SUCCESS"),
        ("return_msg", "OK"),
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("nonce_str", "o5bAKF3o2ypC8hwa"),
        ("result_code", "FAIL"),
        ("err_code", "USERPAYING"),
        ("err_code_des", "需要用户输入支付密码"),
    ];
    let server = V2Server::start(move |_| Answer::v2_signed(&fail, V2SignType::Md5));
    let err = v2_client(&server)["v2/pay/micropay"]
        .post(json!({ "xml": micropay_payload() }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    let api = err.api().unwrap();
    assert_eq!(api.result_code(), Some("FAIL"));
    assert_eq!(api.err_code(), Some("USERPAYING"));
    assert_eq!(api.err_code_des(), Some("需要用户输入支付密码"));
    assert_eq!(api.code(), Some("USERPAYING"));
    assert_eq!(api.xml().unwrap()["nonce_str"], "o5bAKF3o2ypC8hwa");
    assert!(err.response().unwrap().signature_verified());
    // The answer's sign (keyed with the APIv2 secret) is in the map, never in Debug.
    let sign = api.xml().unwrap()["sign"].as_str().unwrap().to_owned();
    assert_eq!(sign.len(), 32);
    for shown in [
        format!("{err:?}"),
        format!("{api:?}"),
        format!("{err:#?}"),
        err.to_string(),
    ] {
        assert!(!shown.contains(&sign), "{shown}");
        assert!(!shown.contains(&sign.to_lowercase()), "{shown}");
    }
    assert!(format!("{api:?}").contains("USERPAYING"));

    // The same failure with a forged sign is a verification error, not an Api error.
    let forged = V2Server::start(move |_| {
        Answer::v2_signed(&fail, V2SignType::Md5).tampered("USERPAYING", "SYSTEMERROR")
    });
    let err = v2_client(&forged)["v2/pay/micropay"]
        .post(json!({ "xml": micropay_payload() }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification);
}

#[test]
fn a_bad_or_missing_sign_is_a_verification_error() {
    let tampered = V2Server::start(|r| echo(r).tampered("888", "1"));
    let err = v2_client(&tampered)["v2/pay/micropay"]
        .post(json!({ "xml": micropay_payload() }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification);
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::BadSign("MD5"))
    );

    let hmac_tampered = V2Server::start(|r| echo(r).tampered("888", "1"));
    let err = v2_client(&hmac_tampered)["v2/pay/orderquery"]
        .post(json!({ "xml": { "appid": APPID, "mch_id": MCH_ID, "out_trade_no": "1", "sign_type": "HMAC-SHA256" } }))
        .unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::BadSign("HMAC-SHA256"))
    );

    let unsigned = V2Server::start(|_| {
        Answer::v2_unsigned(&[("return_code", "SUCCESS"), ("result_code", "SUCCESS")])
    });
    let err = v2_client(&unsigned)["v2/pay/micropay"]
        .post(json!({ "xml": micropay_payload() }))
        .unwrap_err();
    assert_eq!(err.verification(), Some(&VerificationFailure::MissingSign));

    let other_secret = V2Server::start(|_| {
        let secret = Secret::new("ffffffffffffffffffffffffffffffff").unwrap();
        let fields = [("return_code", "SUCCESS"), ("result_code", "SUCCESS")];
        let sign = wechatpay::v2::sign(fields, &secret, SignType::Md5).unwrap();
        Answer::v2_unsigned(&[
            ("return_code", "SUCCESS"),
            ("result_code", "SUCCESS"),
            ("sign", &sign),
        ])
    });
    let err = v2_client(&other_secret)["v2/pay/micropay"]
        .post(json!({ "xml": micropay_payload() }))
        .unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::BadSign("MD5"))
    );
}

#[test]
fn a_signed_answer_with_nested_fields_is_not_accepted() {
    let server = V2Server::start(|_| {
        let fields = [("return_code", "SUCCESS"), ("result_code", "SUCCESS")];
        let sign = sign_fields(&fields.map(|(k, v)| (k.to_owned(), v.to_owned())), false);
        Answer::raw(
            200,
            "text/xml",
            format!(
                "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code>\
                 <extra><injected>1</injected></extra><sign>{sign}</sign></xml>"
            )
            .into_bytes(),
        )
    });
    let err = v2_client(&server)["v2/pay/micropay"]
        .post(json!({ "xml": micropay_payload() }))
        .unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::UnsignedField("extra".into()))
    );
}

#[test]
fn unusable_answers_are_decode_or_api_errors() {
    let cases: [(&[u8], u16, ErrorKind); 6] = [
        (b"not xml at all", 200, ErrorKind::Decode),
        (
            b"<xml><return_code>SUCCESS</return_code>",
            200,
            ErrorKind::Decode,
        ),
        (b"", 200, ErrorKind::Decode),
        (
            b"<xml><result_code>SUCCESS</result_code></xml>",
            200,
            ErrorKind::Decode,
        ),
        (b"<html>Bad Gateway</html>", 502, ErrorKind::Api),
        (
            b"<xml><return_code>FAIL</return_code><return_msg>SYSTEMERROR</return_msg></xml>",
            500,
            ErrorKind::Api,
        ),
    ];
    for (body, status, kind) in cases {
        let server = V2Server::start(move |_| Answer::raw(status, "text/xml", body.to_vec()));
        let err = v2_client(&server)["v2/pay/micropay"]
            .post(json!({ "xml": micropay_payload() }))
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{}", String::from_utf8_lossy(body));
        if kind == ErrorKind::Api {
            assert_eq!(err.api().unwrap().status().as_u16(), status);
        }
    }
}

#[test]
fn unsigned_endpoints_return_csv_as_is_and_still_report_failures() {
    let csv = "交易时间,公众账号ID,商户号\n`2014-11-10 16:33:45,`wx2421b1c4370ec43b,`10000100\n";
    let server = V2Server::start(move |r| {
        if r.field("bill_date") == Some("20141110") {
            Answer::raw(200, "text/plain", csv.as_bytes().to_vec())
        } else {
            Answer::v2_unsigned(&[("return_code", "FAIL"), ("return_msg", "No Bill Exist")])
        }
    });
    let client = v2_client(&server);
    let bill = client["v2/pay/downloadbill"]
        .post(json!({ "xml": { "appid": APPID, "mch_id": MCH_ID, "bill_date": "20141110", "bill_type": "ALL" } }))
        .unwrap();
    assert!(!bill.signature_verified());
    assert_eq!(bill.text().unwrap(), csv);
    assert_eq!(bill.xml().unwrap_err().kind(), ErrorKind::Decode);

    let err = client["v2/pay/downloadbill"]
        .post(json!({ "xml": { "appid": APPID, "mch_id": MCH_ID, "bill_date": "20141111", "bill_type": "ALL" } }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.api().unwrap().return_msg(), Some("No Bill Exist"));
}

#[test]
fn every_listed_endpoint_is_unsigned_and_no_other() {
    let server = V2Server::start(|_| {
        Answer::v2_unsigned(&[("return_code", "SUCCESS"), ("result_code", "SUCCESS")])
    });
    let client = v2_client(&server);
    let xml = json!({ "mch_id": MCH_ID });
    assert_eq!(wechatpay::v2::UNSIGNED_ANSWERS.len(), 26);
    for path in wechatpay::v2::UNSIGNED_ANSWERS {
        let answer = client
            .chain(&format!("v2{path}"))
            .post(json!({ "xml": xml }))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(!answer.signature_verified());
        assert_eq!(server.last().target, path);
    }
    for signed in [
        "/pay/micropay",
        "/pay/downloadbill/x",
        "/PAY/DOWNLOADBILL",
        "/secapi/pay/refund",
    ] {
        let err = client
            .chain(&format!("v2{signed}"))
            .post(json!({ "xml": xml }))
            .unwrap_err();
        assert_eq!(
            err.verification(),
            Some(&VerificationFailure::MissingSign),
            "{signed}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// configuration errors: nothing is sent

#[test]
fn payload_errors_name_the_problem_and_send_nothing() {
    let server = V2Server::start(echo);
    let client = v2_client(&server);
    let cases = [
        (
            json!({ "appid": APPID, "mch_id": "1900000110" }),
            "mch_id `1900000110` does not match the client's merchant id `1900000109`",
        ),
        (
            json!({ "appid": APPID, "mchid": "1" }),
            "mchid `1` does not match",
        ),
        (
            json!({ "combine_mch_id": "2" }),
            "combine_mch_id `2` does not match",
        ),
        (
            json!({ "appid": APPID }),
            "has no mch_id, mchid or combine_mch_id",
        ),
        (
            json!({ "mch_id": MCH_ID, "sign_type": "SHA1" }),
            "sign_type `SHA1` is neither MD5 nor HMAC-SHA256",
        ),
        (
            json!({ "mch_id": MCH_ID, "profit_sharing": true }),
            "field `profit_sharing` is a boolean",
        ),
        (
            json!({ "mch_id": MCH_ID, "detail": { "goods": [] } }),
            "field `detail` is an object",
        ),
        (
            json!({ "mch_id": MCH_ID, "bad name": "x" }),
            "`bad name` is not a usable field name",
        ),
        (
            json!({ "mch_id": MCH_ID, "attach": "a\u{1}b" }),
            "field `attach` holds a control character",
        ),
    ];
    for (xml, expected) in cases {
        let err = client["v2/pay/micropay"]
            .post(json!({ "xml": xml }))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{xml}");
        assert!(err.to_string().contains(expected), "{err} / {expected}");
    }
    let err = client["v2/pay/micropay"]
        .post(json!({ "xml": "<xml/>" }))
        .unwrap_err();
    assert!(
        err.to_string().contains("option `xml` must be an object"),
        "{err}"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn options_of_the_other_api_are_refused() {
    let server = V2Server::start(echo);
    let client = v2_client(&server);
    for (options, name) in [
        (json!({ "json": {} }), "json"),
        (json!({ "body": "<xml/>" }), "body"),
        (json!({ "query": { "a": 1 } }), "query"),
        (json!({ "encrypt": ["/a"] }), "encrypt"),
    ] {
        let err = client["v2/pay/micropay"].post(options).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(
            err.to_string()
                .contains(&format!("option `{name}` does not apply to APIv2")),
            "{err}"
        );
    }
    let err = client["v2/pay/micropay?x=1"]
        .post(json!({ "xml": { "mch_id": MCH_ID } }))
        .unwrap_err();
    assert!(err.to_string().contains("carries no query"), "{err}");
    assert!(server.requests().is_empty());

    let v3 = support::scripted::TestServer::start(|_| Answer::no_content());
    let v3_client = support::client(&v3);
    for (options, name) in [
        (json!({ "xml": {} }), "xml"),
        (json!({ "nonceless": true }), "nonceless"),
        (json!({ "security": true }), "security"),
    ] {
        let err = v3_client["v3/pay/transactions/native"]
            .post(options)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(
            err.to_string()
                .contains(&format!("option `{name}` applies only to APIv2")),
            "{err}"
        );
    }
    let err = v3_client["v3/pay/transactions/native"]
        .post(json!({ "security": "yes" }))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("option `security` must be a boolean"),
        "{err}"
    );
    assert!(v3.requests().is_empty());
}

#[test]
fn each_api_needs_its_own_configuration() {
    let server = V2Server::start(echo);
    // APIv2 only: a v3 path is a Config error.
    let v2_only = v2_client(&server);
    let err = v2_only["v3/pay/transactions/id/{id}"]
        .get(json!({ "id": "1" }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.to_string().contains("configured for APIv2 only"),
        "{err}"
    );
    assert_eq!(
        v2_only.notifications().unwrap_err().kind(),
        ErrorKind::Config
    );

    // APIv3 only: a v2 path is a Config error naming the secret.
    let v3_only = support::identity()
        .base_uri(server.base_uri())
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let err = v3_only["v2/pay/micropay"]
        .post(json!({ "xml": micropay_payload() }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains(".secret("), "{err}");
    assert!(server.requests().is_empty());

    // Both at once.
    let both = support::identity()
        .secret(secret())
        .base_uri(server.base_uri())
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let err = both["v2/pay/micropay"]
        .post(json!({ "xml": micropay_payload() }))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not match the client's merchant id"),
        "{err}"
    );

    // A v2 secret alongside partial v3 settings still names what v3 lacks.
    let err = Client::builder()
        .mchid(MCH_ID)
        .secret(secret())
        .serial("ABC")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("private key is missing"), "{err}");

    let err = Client::builder()
        .mchid(MCH_ID)
        .secret("")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("APIv2 secret is empty"), "{err}");
}

#[test]
fn security_without_a_merchant_certificate_is_refused_before_sending() {
    let server = V2Server::start(echo);
    let err = v2_client(&server)["v2/secapi/pay/refund"]
        .post(json!({ "xml": micropay_payload(), "security": true }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("merchant certificate"), "{err}");
    assert!(server.requests().is_empty());
}

#[test]
fn the_secret_never_shows() {
    let server = V2Server::start(echo);
    let client = v2_client(&server);
    assert!(!format!("{client:?}").contains(secret()));
    let builder = Client::builder().mchid(MCH_ID).secret(secret());
    assert!(!format!("{builder:?}").contains(secret()));
    let err = client["v2/pay/micropay"]
        .post(json!({ "xml": { "mch_id": "x" } }))
        .unwrap_err();
    assert!(!format!("{err:?} {err}").contains(secret()));
}

#[test]
fn unsigned_answers_must_still_be_xml_with_a_return_code() {
    let bodies: [(&[u8], ErrorKind); 4] = [
        (
            b"<xml><return_code>FAIL</return_code><return_msg>&nbsp;x</return_msg></xml>",
            ErrorKind::Decode,
        ),
        (
            b"<xml><return_code>SUCCESS</return_code><result_code>FAIL",
            ErrorKind::Decode,
        ),
        (
            b"<xml><result_code>FAIL</result_code></xml>",
            ErrorKind::Decode,
        ),
        (b"<html><body>maintenance</body></html>", ErrorKind::Decode),
    ];
    for (body, kind) in bodies {
        let server = V2Server::start(move |_| Answer::raw(200, "text/html", body.to_vec()));
        let client = v2_client(&server);
        for path in [
            "v2/mmpaymkttransfers/promotion/transfers",
            "v2/mmpaymkttransfers/sendredpack",
        ] {
            let err = client
                .chain(path)
                .post(json!({ "xml": { "mch_id": MCH_ID } }))
                .unwrap_err();
            assert_eq!(
                err.kind(),
                kind,
                "{path}: {}",
                String::from_utf8_lossy(body)
            );
        }
        // A bill endpoint returns what is not an APIv2 answer as it is.
        let raw = client["v2/pay/downloadbill"]
            .post(json!({ "xml": { "mch_id": MCH_ID } }))
            .unwrap();
        assert_eq!(raw.bytes().as_ref(), body);
    }
    // result_code FAIL on an unsigned endpoint is an Api error.
    let server = V2Server::start(|_| {
        Answer::v2_unsigned(&[
            ("return_code", "SUCCESS"),
            ("result_code", "FAIL"),
            ("err_code", "NOTENOUGH"),
            ("err_code_des", "余额不足"),
        ])
    });
    let err = v2_client(&server)["v2/mmpaymkttransfers/promotion/transfers"]
        .post(json!({ "xml": { "mchid": MCH_ID } }))
        .unwrap_err();
    assert_eq!(err.api().unwrap().err_code(), Some("NOTENOUGH"));
}

#[test]
fn every_verb_and_both_forms_reach_apiv2() {
    let server = V2Server::start(echo);
    let client = v2_client(&server);
    let xml = json!({ "xml": { "mch_id": MCH_ID, "out_trade_no": "7" } });
    let endpoint = &client["v2/pay/orderquery"];
    endpoint.put(xml.clone()).unwrap();
    endpoint.patch(xml.clone()).unwrap();
    endpoint.delete(xml.clone()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(endpoint.get_async(xml.clone())).unwrap();
    runtime.block_on(endpoint.put_async(xml.clone())).unwrap();
    runtime.block_on(endpoint.patch_async(xml.clone())).unwrap();
    runtime
        .block_on(endpoint.delete_async(xml.clone()))
        .unwrap();
    let methods: Vec<String> = server
        .requests()
        .into_iter()
        .map(|r| r.logged.method)
        .collect();
    assert_eq!(
        methods,
        ["PUT", "PATCH", "DELETE", "GET", "PUT", "PATCH", "DELETE"]
    );
    for request in server.requests() {
        assert_eq!(request.verdict, Ok("MD5"), "{}", request.method);
        assert_eq!(request.field("out_trade_no"), Some("7"));
    }
}

#[test]
fn payload_values_that_would_be_sent_wrong_are_refused() {
    let server = V2Server::start(echo);
    let client = v2_client(&server);
    let cases = [
        (
            json!({ "mch_id": MCH_ID, "combine_mch_id": "999" }),
            "combine_mch_id `999` does not match",
        ),
        (
            json!({ "mch_id": MCH_ID, "total_fee": 0.01 }),
            "field `total_fee` is 0.01, not a whole number",
        ),
        (
            json!({ "mch_id": MCH_ID, "total_fee": 1e20 }),
            "field `total_fee`",
        ),
        (
            json!({ "mch_id": MCH_ID, "attach": "a\r\nb" }),
            "field `attach` holds a control character",
        ),
    ];
    for (xml, expected) in cases {
        let err = client["v2/pay/micropay"]
            .post(json!({ "xml": xml }))
            .expect_err(&xml.to_string());
        assert_eq!(err.kind(), ErrorKind::Config, "{xml}");
        assert!(err.to_string().contains(expected), "{err} / {expected}");
    }
    for path in ["v2/", "v2//pay", "v2/pay//micropay"] {
        let err = client
            .chain(path)
            .post(json!({ "xml": { "mch_id": MCH_ID } }))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{path}");
        assert!(err.to_string().contains("empty"), "{err}");
    }
    for header in ["Content-Type", "accept"] {
        let err = client["v2/pay/micropay"]
            .post(json!({ "xml": { "mch_id": MCH_ID }, "headers": { header: "application/json" } }))
            .unwrap_err();
        assert!(
            err.to_string().contains("set by the client on APIv2"),
            "{err}"
        );
    }
    let err = client["v2/pay/micropay"]
        .post(json!({ "xml": { "mch_id": MCH_ID }, "json": {} }))
        .unwrap_err();
    assert!(
        err.to_string().contains("option `json` does not apply"),
        "{err}"
    );
    assert!(server.requests().is_empty());

    // An empty nonce_str would be left out of the sign: a fresh one replaces it.
    client["v2/pay/orderquery"]
        .post(json!({ "xml": { "mch_id": MCH_ID, "nonce_str": "" } }))
        .unwrap();
    assert_eq!(server.last().field("nonce_str").unwrap().len(), 32);
    // Integers up to u64 are fine.
    client["v2/pay/orderquery"]
        .post(json!({ "xml": { "mch_id": MCH_ID, "total_fee": u64::MAX } }))
        .unwrap();
    assert_eq!(
        server.last().field("total_fee"),
        Some("18446744073709551615")
    );
}

#[test]
fn typed_access_reads_exactly_the_values_that_were_checked() {
    // A forbidden character reference is dropped by the checking parser: a sign over "9"
    // verifies, and xml_as must read "9" too, not "\u{1}9".
    let server = V2Server::start(|_| {
        let fields = [
            ("return_code", "SUCCESS"),
            ("result_code", "SUCCESS"),
            ("total_fee", "9"),
        ];
        let sign = sign_fields(&fields.map(|(k, v)| (k.to_owned(), v.to_owned())), false);
        Answer::raw(
            200,
            "text/xml",
            format!(
                "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code>\
                 <total_fee>&#x1;9</total_fee><sign>{sign}</sign></xml>"
            )
            .into_bytes(),
        )
    });
    let answer = v2_client(&server)["v2/pay/orderquery"]
        .post(json!({ "xml": { "mch_id": MCH_ID } }))
        .unwrap();
    #[derive(serde::Deserialize)]
    struct Order {
        total_fee: String,
    }
    assert_eq!(answer.xml_as::<Order>().unwrap().total_fee, "9");
    assert_eq!(answer.xml().unwrap()["total_fee"], "9");
}

/// Fields as owned pairs, for `sign_fields` (the judge's signer, keyed with the server's secret).
fn owned(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Serves `body` as it is, whatever the request.
fn serve(body: String) -> V2Server {
    V2Server::start(move |_| Answer::raw(200, "text/xml", body.clone().into_bytes()))
}

/// A signed business failure, regrouped by a man in the middle: the signing string
/// `appid=..&err_code=..&..&nonce_str=..&result_code=FAIL&return_code=..` is the same bytes
/// when `err_code` and `result_code` are folded into the values before them, so the genuine
/// sign still matches; without `result_code` the answer would read as a success.
#[test]
fn a_failure_regrouped_to_drop_result_code_is_refused() {
    let genuine = owned(&[
        ("appid", APPID),
        ("err_code", "USERPAYING"),
        ("err_code_des", "need user password"),
        ("mch_id", MCH_ID),
        ("nonce_str", "o5bAKF3o2ypC8hwa"),
        ("result_code", "FAIL"),
        ("return_code", "SUCCESS"),
        ("return_msg", "OK"),
    ]);
    let sign = sign_fields(&genuine, false);
    let folded = format!(
        "<xml><appid>{APPID}&amp;err_code=USERPAYING&amp;err_code_des=need user password</appid>\
         <mch_id>{MCH_ID}</mch_id><nonce_str><![CDATA[o5bAKF3o2ypC8hwa&result_code=FAIL]]></nonce_str>\
         <return_code>SUCCESS</return_code><return_msg>OK</return_msg><sign>{sign}</sign></xml>"
    );
    // The regrouped fields sign to the genuine sign: only the ambiguity rule stands in the way.
    let secret = Secret::new(secret()).unwrap();
    let regrouped = wechatpay::v2::parse_xml(folded.as_bytes()).unwrap();
    assert!(!regrouped.contains_key("result_code"));
    let pairs = regrouped
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap()));
    assert_eq!(
        wechatpay::v2::sign(pairs, &secret, SignType::Md5).unwrap(),
        sign
    );

    let server = serve(folded.clone());
    let err = v2_client(&server)["v2/pay/micropay"]
        .post(json!({ "xml": micropay_payload() }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification);
    match err.verification() {
        Some(VerificationFailure::AmbiguousField { name, reason }) => {
            assert_eq!(name, "nonce_str");
            assert!(reason.contains("`&result_code=`"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("field `nonce_str` could be other fields regrouped")
    );
    // The same document as a callback.
    let err = wechatpay::v2::verify_callback(folded.as_bytes(), &secret).unwrap_err();
    assert!(matches!(
        err.verification(),
        Some(VerificationFailure::AmbiguousField { name, .. }) if name == "nonce_str"
    ));
    // The genuine answer, as WeChat Pay sent it, is the business failure it is.
    let server = V2Server::start(move |_| {
        let fields: Vec<(&str, &str)> = genuine.iter().map(|(k, v)| (&**k, &**v)).collect();
        Answer::v2_signed(&fields, V2SignType::Md5)
    });
    let err = v2_client(&server)["v2/pay/micropay"]
        .post(json!({ "xml": micropay_payload() }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.api().unwrap().code(), Some("USERPAYING"));
}

/// An unpaid order whose signed `attach` (merchant data echoing a customer's text) holds
/// `x&b:trade_state=SUCCESS`: cut out as a field of its own, with the real `trade_state`
/// folded into `return_msg`, the same signing string would read as paid through `xml_as`
/// (serde reads `b:trade_state` as `trade_state`). Names must be letters, digits and `_`.
#[test]
fn a_field_cut_out_of_a_signed_value_under_a_prefixed_name_is_refused() {
    let genuine = owned(&[
        ("appid", APPID),
        ("attach", "x&b:trade_state=SUCCESS"),
        ("mch_id", MCH_ID),
        ("nonce_str", "o5bAKF3o2ypC8hwa"),
        ("out_trade_no", "1217752501201407033233368018"),
        ("result_code", "SUCCESS"),
        ("return_code", "SUCCESS"),
        ("return_msg", "OK"),
        ("trade_state", "NOTPAY"),
    ]);
    let sign = sign_fields(&genuine, false);
    let regrouped = format!(
        "<xml><appid>{APPID}</appid><attach>x</attach><b:trade_state>SUCCESS</b:trade_state>\
         <mch_id>{MCH_ID}</mch_id><nonce_str>o5bAKF3o2ypC8hwa</nonce_str>\
         <out_trade_no>1217752501201407033233368018</out_trade_no><result_code>SUCCESS</result_code>\
         <return_code>SUCCESS</return_code><return_msg>OK&amp;trade_state=NOTPAY</return_msg>\
         <sign>{sign}</sign></xml>"
    );
    let server = serve(regrouped);
    let err = v2_client(&server)["v2/pay/orderquery"]
        .post(json!({ "xml": { "appid": APPID, "mch_id": MCH_ID, "out_trade_no": "1217752501201407033233368018" } }))
        .unwrap_err();
    match err.verification() {
        Some(VerificationFailure::AmbiguousField { name, reason }) => {
            assert_eq!(name, "b:trade_state");
            assert!(reason.contains("name"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // As WeChat Pay sent it, the answer verifies, `&` and `=` in `attach` and all, and both
    // readings say NOTPAY.
    let server = V2Server::start(move |_| {
        let fields: Vec<(&str, &str)> = genuine.iter().map(|(k, v)| (&**k, &**v)).collect();
        Answer::v2_signed(&fields, V2SignType::Md5)
    });
    let answer = v2_client(&server)["v2/pay/orderquery"]
        .post(json!({ "xml": { "appid": APPID, "mch_id": MCH_ID, "out_trade_no": "1217752501201407033233368018" } }))
        .unwrap();
    assert!(answer.signature_verified());
    #[derive(serde::Deserialize)]
    struct Order {
        attach: String,
        trade_state: String,
    }
    let order: Order = answer.xml_as().unwrap();
    assert_eq!(order.trade_state, "NOTPAY");
    assert_eq!(order.attach, "x&b:trade_state=SUCCESS");
    assert_eq!(answer.xml().unwrap()["trade_state"], "NOTPAY");
}

/// An unsigned answer is not verified, but typed access still reads only what `xml()` shows:
/// an element whose name serde would read under another name is a decode error.
#[test]
fn typed_access_refuses_names_it_would_read_under_another_name() {
    let server = serve(
        "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code>\
         <x:status>PAID</x:status></xml>"
            .to_owned(),
    );
    let answer = v2_client(&server)["v2/risk/getviolation"]
        .post(json!({ "xml": { "mch_id": MCH_ID } }))
        .unwrap();
    assert!(!answer.signature_verified());
    assert_eq!(answer.xml().unwrap()["x:status"], "PAID");
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Status {
        status: Option<String>,
    }
    let err = answer.xml_as::<Status>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(err.json_path(), Some("x:status"));
    assert!(
        err.to_string()
            .contains("element `x:status` is not a plain name"),
        "{err}"
    );
}

/// `max_response_size` limits answers, `max_download_size` bills: a download endpoint's body is
/// read whole within the download limit.
#[test]
fn the_size_limit_leaves_apiv2_bills_whole_and_refuses_other_answers() {
    let big = "x".repeat(4096);
    let bill = big.clone();
    let server = V2Server::start(move |r| {
        if r.target.ends_with("/pay/downloadbill") {
            Answer::raw(200, "text/plain", bill.clone().into_bytes())
        } else {
            let fields = [("return_code", "SUCCESS"), ("result_code", "SUCCESS")];
            // Bytes past the end of the signed document, as before.
            Answer::v2_signed(&fields, V2SignType::Md5).tampered("</xml>", &format!("</xml>{big}"))
        }
    });
    let client = Client::builder()
        .mchid(MCH_ID)
        .secret(secret())
        .base_uri(server.base_uri())
        .allow_insecure_http(true)
        .max_response_size(1024)
        .build()
        .unwrap();
    let answer = client["v2/pay/downloadbill"]
        .post(json!({ "xml": { "appid": APPID, "mch_id": MCH_ID, "bill_date": "20141110" } }))
        .unwrap();
    assert_eq!(answer.bytes().len(), 4096);
    let err = client["v2/pay/orderquery"]
        .post(json!({ "xml": { "appid": APPID, "mch_id": MCH_ID } }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(
        err.to_string()
            .contains("the response body is larger than 1024 bytes"),
        "{err}"
    );
    // A bill past the download limit is refused too, naming that setting.
    let small = Client::builder()
        .mchid(MCH_ID)
        .secret(secret())
        .base_uri(server.base_uri())
        .allow_insecure_http(true)
        .max_download_size(4095)
        .build()
        .unwrap();
    let err = small["v2/pay/downloadbill"]
        .post(json!({ "xml": { "appid": APPID, "mch_id": MCH_ID, "bill_date": "20141110" } }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(
        err.to_string()
            .contains("larger than 4095 bytes, the client's max_download_size"),
        "{err}"
    );
}
