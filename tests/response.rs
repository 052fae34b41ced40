//! Decoding verified responses: JSON errors name the path, text must be UTF-8.

mod support;

use serde_json::json;
use support::scripted::TestServer;
use wechatpay::ErrorKind;
use wechatpay_sandbox::Answer;

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Certificates {
    data: Vec<Certificate>,
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Certificate {
    serial_no: String,
    effective_time: String,
}

#[test]
fn json_errors_name_the_failing_path() {
    let server = TestServer::start(|_| {
        Answer::json(
            200,
            &json!({ "data": [
                { "serial_no": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", "effective_time": "2018-06-08T10:34:56+08:00" },
                { "serial_no": 5157, "effective_time": "2018-06-08T10:34:56+08:00" },
            ]}),
        )
    });
    let client = support::client(&server);
    let response = client.chain("v3/certificates").get(()).unwrap();
    let err = response.json::<Certificates>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(err.json_path(), Some("data[1].serial_no"));
    assert!(
        err.to_string().starts_with(
            "decode error: response JSON at `data[1].serial_no`: invalid type: integer `5157`"
        ),
        "{err}"
    );
    // The raw body is still there.
    assert!(response.text().unwrap().contains("5157"));
}

#[test]
fn json_with_trailing_bytes_is_a_decode_error() {
    let server = TestServer::start(|_| {
        Answer::bytes(200, "application/json", br#"{"a":1} trailing"#.to_vec())
    });
    let client = support::client(&server);
    let err = client
        .chain("v3/x")
        .get(())
        .unwrap()
        .json::<serde_json::Value>()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.to_string().contains("trailing characters"), "{err}");
}

#[test]
fn json_from_an_empty_204_is_a_decode_error() {
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::client(&server);
    let err = client
        .chain("v3/x")
        .post(())
        .unwrap()
        .json::<serde_json::Value>()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(err.json_path(), Some("."));
}

#[test]
fn text_must_be_utf8() {
    let server = TestServer::start(|_| Answer::bytes(200, "text/plain", vec![b'o', b'k', 0xff]));
    let client = support::client(&server);
    let r = client.chain("v3/x").get(()).unwrap();
    assert_eq!(r.bytes().as_ref(), [b'o', b'k', 0xff]);
    let err = r.text().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(
        err.to_string(),
        "decode error: response body is not UTF-8 (at byte 2)"
    );
}

#[test]
fn response_debug_does_not_print_the_body() {
    let server =
        TestServer::start(|_| Answer::json(200, &json!({ "id_card": "110101199003071234" })));
    let client = support::client(&server);
    let r = client.chain("v3/x").get(()).unwrap();
    let debug = format!("{r:?}");
    assert!(!debug.contains("110101199003071234"), "{debug}");
    assert!(debug.contains("body_len"));
}
