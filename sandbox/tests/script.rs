//! Scripts (`Sandbox::script`) and APIv3 answers (`Answer`): who reaches a script, what its
//! answer looks like on the wire (checked by hand, independently of the client), and what the
//! client makes of it.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use openssl::pkey::PKey;
use serde_json::json;
use support::{Raw, authorization, now, raw_request, verify_signature};
use wechatpay::{ErrorKind, VerificationFailure};
use wechatpay_sandbox::{
    Answer, Fault, NOT_BASE64_SIGNATURE, Sandbox, SignMode, SignatureHeader,
    UNKNOWN_CERTIFICATE_SERIAL,
};

const BODY: &str = r#"{"trade_state":"SUCCESS"}"#;

/// A signed GET of `target` by hand.
fn get(sandbox: &Sandbox, target: &str) -> Raw {
    let auth = authorization(sandbox.identity(), "GET", target, b"");
    raw_request(
        sandbox.base_uri(),
        "GET",
        target,
        &[("Authorization", &auth)],
        b"",
    )
}

/// The public key that goes with a `Wechatpay-Serial` of the identity.
fn key_of(sandbox: &Sandbox, serial: &str) -> PKey<openssl::pkey::Public> {
    let id = sandbox.identity();
    if serial == id.public_key_id {
        PKey::public_key_from_pem(id.public_key_pem.as_bytes()).unwrap()
    } else {
        assert_eq!(serial, id.platform_serial);
        openssl::x509::X509::from_pem(id.platform_certificate_pem.as_bytes())
            .unwrap()
            .public_key()
            .unwrap()
    }
}

#[test]
fn a_script_answers_what_passed_the_checks_and_none_leaves_it_to_the_routes() {
    let sandbox = Sandbox::start().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    sandbox.script(move |request| {
        counter.fetch_add(1, Ordering::SeqCst);
        assert_eq!(request.verdict, Ok(()));
        (request.path() == "/v3/pay/transactions/id/42")
            .then(|| Answer::bytes(200, "application/json", BODY))
    });
    let client = sandbox.client();
    let answer = client["v3/pay/transactions/id/42"].get(json!({})).unwrap();
    assert!(answer.signature_verified());
    assert_eq!(answer.text().unwrap(), BODY);
    // Left to the routes: the certificate list, as without a script.
    let list = client["v3/certificates"].get(json!({})).unwrap();
    assert!(list.json::<serde_json::Value>().unwrap()["data"].is_array());
    assert_eq!(seen.load(Ordering::SeqCst), 2);

    // Refused requests never reach it, and are answered as always.
    let unsigned = raw_request(
        sandbox.base_uri(),
        "GET",
        "/v3/pay/transactions/id/42",
        &[],
        b"",
    );
    assert_eq!(unsigned.status, 401);
    assert_eq!(unsigned.json()["code"], "SIGN_ERROR");
    unsigned.verify(sandbox.identity()).unwrap();
    let bad_sign = raw_request(
        sandbox.base_uri(),
        "POST",
        "/pay/anything",
        &[],
        b"<xml><mch_id>1</mch_id><sign>00</sign></xml>",
    );
    assert_eq!(bad_sign.status, 200);
    let text = String::from_utf8(bad_sign.body).unwrap();
    assert!(
        text.contains("<return_code><![CDATA[FAIL]]></return_code>"),
        "{text}"
    );
    assert!(text.contains("签名错误"), "{text}");
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    // All four logged, with the verdicts.
    let log = sandbox.requests();
    let verdicts: Vec<bool> = log.iter().map(|r| r.verdict.is_ok()).collect();
    assert_eq!(verdicts, [true, true, false, false]);
    assert!(
        log[3]
            .verdict
            .as_ref()
            .unwrap_err()
            .contains("sign mismatch")
    );

    // Without the script the routes answer again.
    sandbox.clear_script();
    let error = client["v3/pay/transactions/id/42"]
        .get(json!({ "query": { "mchid": sandbox.identity().mchid } }))
        .unwrap_err();
    assert_eq!(error.api().unwrap().code(), Some("ORDER_NOT_EXIST"));
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[test]
fn answers_are_signed_as_asked_with_their_headers() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    sandbox.script(|request| {
        let answer = Answer::bytes(200, "application/json", BODY);
        Some(match request.path() {
            "/v3/current" => answer,
            "/v3/public-key" => answer.sign_mode(SignMode::PublicKey),
            "/v3/unsigned" => Answer::raw(200, "text/csv", "a,b\n").header("X-Kind", "raw"),
            "/v3/download" => Answer::bytes(200, "text/csv", "a,b\n").unsigned(),
            "/v3/headers" => answer
                .header("Request-ID", "08F78BB5AF0610A7F0C6A6C10B")
                .header("X-Twice", "1")
                .header("x-twice", "2")
                .header("Content-Type", "application/json; charset=utf-8"),
            "/v3/over" => {
                Answer::bytes(200, "text/csv", "date,amount\n").sign_over(r#"{"sha1":"x"}"#)
            }
            "/v3/empty" => Answer::no_content(),
            _ => Answer::error(404, "NOT_FOUND", "nothing here"),
        })
    });
    let id = sandbox.identity().clone();

    let current = get(&sandbox, "/v3/current");
    assert_eq!(current.body, BODY.as_bytes());
    assert_eq!(current.header("Content-Type"), Some("application/json"));
    assert_eq!(
        current.header("Wechatpay-Serial"),
        Some(id.platform_serial.as_str())
    );
    assert_eq!(current.header("Request-ID").unwrap().len(), 32);
    current.verify(&id).unwrap();

    let public = get(&sandbox, "/v3/public-key");
    assert_eq!(
        public.header("Wechatpay-Serial"),
        Some(id.public_key_id.as_str())
    );
    public.verify(&id).unwrap();

    for target in ["/v3/unsigned", "/v3/download"] {
        let raw = get(&sandbox, target);
        assert_eq!(raw.body, b"a,b\n");
        assert_eq!(raw.header("Content-Type"), Some("text/csv"));
        assert!(
            raw.headers.iter().all(|(k, _)| !k.starts_with("wechatpay")),
            "{raw:?}"
        );
    }
    // `raw` adds nothing but what it is told; APIv3 answers have a Request-ID.
    let raw = get(&sandbox, "/v3/unsigned");
    assert_eq!(raw.header("X-Kind"), Some("raw"));
    assert_eq!(raw.header("Request-ID"), None);
    assert!(get(&sandbox, "/v3/download").header("Request-ID").is_some());

    let headers = get(&sandbox, "/v3/headers");
    assert_eq!(
        headers.header("Request-ID"),
        Some("08F78BB5AF0610A7F0C6A6C10B")
    );
    let twice: Vec<&str> = headers
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("x-twice"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(twice, ["1", "2"]);
    let content_types = headers
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .count();
    assert_eq!(content_types, 1);
    assert_eq!(
        headers.header("Content-Type"),
        Some("application/json; charset=utf-8")
    );
    headers.verify(&id).unwrap();

    // The signature covers the payload given, not the body.
    let over = get(&sandbox, "/v3/over");
    assert_eq!(over.body, b"date,amount\n");
    let key = key_of(&sandbox, over.header("Wechatpay-Serial").unwrap());
    let header = |name: &str| over.header(name).map(str::to_owned);
    verify_signature(&key, header, br#"{"sha1":"x"}"#).unwrap();
    assert!(verify_signature(&key, header, &over.body).is_err());

    let empty = get(&sandbox, "/v3/empty");
    assert_eq!(empty.status, 204);
    assert!(empty.body.is_empty());
    empty.verify(&id).unwrap();

    let missing = get(&sandbox, "/v3/other");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["message"], "nothing here");
    missing.verify(&id).unwrap();
}

#[test]
fn the_signature_faults_of_an_answer_are_exactly_what_they_say() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.script(|request| {
        let answer = Answer::bytes(200, "application/json", BODY);
        let mode = if request.path().ends_with("/public-key") {
            SignMode::PublicKey
        } else {
            SignMode::Certificate
        };
        Some(match request.path() {
            "/v3/future" => answer.fault(Fault::FutureTimestamp),
            "/v3/wrong-key/certificate" | "/v3/wrong-key/public-key" => {
                answer.sign_mode(mode).fault(Fault::WrongKey)
            }
            "/v3/not-base64" => answer.fault(Fault::SignatureNotBase64),
            "/v3/unknown-serial/certificate" => answer.sign_mode(mode).fault(Fault::UnknownSerial),
            "/v3/two" => answer
                .fault(Fault::StaleTimestamp)
                .fault(Fault::MissingHeader(SignatureHeader::Nonce))
                .header("Wechatpay-Nonce", "set by the script"),
            "/v3/tampered" => answer.fault(Fault::TamperedBody),
            _ => answer,
        })
    });
    let id = sandbox.identity().clone();

    let future = get(&sandbox, "/v3/future");
    let timestamp: i64 = future
        .header("Wechatpay-Timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert!(timestamp - now() > 300, "{timestamp}");
    future.verify(&id).unwrap(); // signed consistently

    // Signed with the other platform key under the right serial.
    for (mode, serial, other) in [
        ("certificate", &id.platform_serial, &id.public_key_id),
        ("public-key", &id.public_key_id, &id.platform_serial),
    ] {
        let wrong = get(&sandbox, &format!("/v3/wrong-key/{mode}"));
        assert_eq!(wrong.header("Wechatpay-Serial"), Some(serial.as_str()));
        assert!(wrong.verify(&id).is_err(), "{mode}");
        let header = |name: &str| wrong.header(name).map(str::to_owned);
        verify_signature(&key_of(&sandbox, other), header, &wrong.body).unwrap();
    }

    let not_base64 = get(&sandbox, "/v3/not-base64");
    assert_eq!(
        not_base64.header("Wechatpay-Signature"),
        Some(NOT_BASE64_SIGNATURE)
    );

    let unknown = get(&sandbox, "/v3/unknown-serial/certificate");
    assert_eq!(
        unknown.header("Wechatpay-Serial"),
        Some(UNKNOWN_CERTIFICATE_SERIAL)
    );

    // Faults combine, and a missing header stays missing whoever sets it.
    let two = get(&sandbox, "/v3/two");
    assert_eq!(two.header("Wechatpay-Nonce"), None);
    let timestamp: i64 = two.header("Wechatpay-Timestamp").unwrap().parse().unwrap();
    assert!(now() - timestamp > 300, "{timestamp}");

    let tampered = get(&sandbox, "/v3/tampered");
    assert_eq!(tampered.body.len(), BODY.len());
    assert_ne!(tampered.body, BODY.as_bytes());
    assert!(tampered.verify(&id).is_err());

    // And the client names each.
    let client = sandbox.client();
    let failure = |path: &str| {
        client
            .chain(path)
            .get(json!({}))
            .unwrap_err()
            .verification()
            .cloned()
            .unwrap()
    };
    assert!(matches!(
        failure("v3/future"),
        VerificationFailure::FutureTimestamp { .. }
    ));
    assert_eq!(
        failure("v3/wrong-key/public-key"),
        VerificationFailure::BadSignature {
            serial: id.public_key_id.clone()
        }
    );
    assert_eq!(
        failure("v3/not-base64"),
        VerificationFailure::InvalidHeader {
            name: "Wechatpay-Signature",
            reason: "not base64"
        }
    );
    assert_eq!(
        failure("v3/unknown-serial/certificate"),
        VerificationFailure::UnknownSerial(UNKNOWN_CERTIFICATE_SERIAL.to_owned())
    );
}

#[test]
fn the_sandbox_faults_apply_to_scripted_answers_too() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.script(|_| Some(Answer::json(200, &json!({ "ok": true }))));
    let client = sandbox.client();
    sandbox.set_fault(Some(Fault::StaleTimestamp));
    let error = client["v3/x"].get(json!({})).unwrap_err();
    assert!(matches!(
        error.verification(),
        Some(VerificationFailure::StaleTimestamp { .. })
    ));
    // A server error answers before the script.
    sandbox.set_fault(Some(Fault::ServerError(503)));
    let error = client["v3/x"].get(json!({})).unwrap_err();
    assert_eq!(error.api().unwrap().code(), Some("SYSTEM_ERROR"));
    sandbox.set_fault(None);
    // A delivery fault of the answer's own.
    sandbox.script(|_| Some(Answer::no_content().fault(Fault::ConnectionReset)));
    let error = client["v3/x"].get(json!({})).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transport);
    assert_eq!(sandbox.requests().len(), 3);
}

#[test]
fn a_panicking_script_gets_a_signed_500_and_the_sandbox_carries_on() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.script(|request| {
        if request.path() == "/v3/boom" {
            panic!("the test's handler failed");
        }
        Some(Answer::no_content())
    });
    let client = sandbox.client();
    let error = client["v3/boom"].get(json!({})).unwrap_err();
    let api = error.api().unwrap();
    assert_eq!(api.status(), 500);
    assert_eq!(api.code(), Some("SCRIPT_PANICKED"));
    assert!(
        api.message()
            .unwrap()
            .contains("the sandbox script panicked: the test's handler failed"),
        "{api:?}"
    );
    let raw = get(&sandbox, "/v3/boom");
    assert_eq!(raw.status, 500);
    raw.verify(sandbox.identity()).unwrap();
    // An invalid header panics in the script, too.
    sandbox.script(|_| Some(Answer::no_content().header("X-Bad", "a\nb")));
    let error = client["v3/x"].get(json!({})).unwrap_err();
    assert!(
        error
            .api()
            .unwrap()
            .message()
            .unwrap()
            .contains("is not a value for X-Bad")
    );
    // Then it answers as before.
    sandbox.script(|_| Some(Answer::no_content()));
    assert_eq!(client["v3/ok"].get(json!({})).unwrap().status(), 204);
}

#[test]
fn with_a_script_any_path_can_be_answered() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.script(|request| {
        (request.path() == "/prefix/v3/certificates")
            .then(|| Answer::json(200, &json!({ "data": [] })))
    });
    // An APIv3 request under a base URI with a path: checked as APIv3, then scripted.
    let prefixed = wechatpay::Client::builder()
        .mchid(&sandbox.identity().mchid)
        .serial(&sandbox.identity().merchant_serial)
        .private_key(&sandbox.identity().merchant_private_key_pem)
        .platform_key(
            &sandbox.identity().public_key_id,
            &sandbox.identity().public_key_pem,
        )
        .base_uri(format!("{}prefix/", sandbox.base_uri()))
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let answer = prefixed["v3/certificates"].get(json!({})).unwrap();
    assert_eq!(answer.text().unwrap(), r#"{"data":[]}"#);
    // A bad signature there is a 401, as under /v3.
    let forged = raw_request(
        sandbox.base_uri(),
        "GET",
        "/prefix/v3/certificates",
        &[("Authorization", "WECHATPAY2-SHA256-RSA2048 mchid=\"1\"")],
        b"",
    );
    assert_eq!(forged.status, 401);
    // Left alone by the script: the signed 404 of the sandbox, verdict `no such API`.
    let error = prefixed["v3/other"].get(json!({})).unwrap_err();
    assert_eq!(error.api().unwrap().code(), Some("NOT_FOUND"));
    let log = sandbox.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].verdict, Ok(()));
    assert!(
        log[1]
            .verdict
            .as_ref()
            .unwrap_err()
            .contains("Authorization header has no"),
        "{:?}",
        log[1].verdict
    );
    assert_eq!(
        log[2].verdict.as_ref().unwrap_err(),
        "no such API: GET /prefix/v3/other"
    );
}

#[test]
fn a_tamper_that_finds_nothing_is_a_plain_500() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.script(|_| Some(Answer::json(200, &json!({ "a": 1 })).tampered("\"b\"", "\"c\"")));
    let raw = get(&sandbox, "/v3/x");
    assert_eq!(raw.status, 500);
    let text = String::from_utf8(raw.body).unwrap();
    assert!(
        text.contains("Answer::tampered: the body has no \"\\\"b\\\"\""),
        "{text}"
    );
    // One that finds it changes the body after signing.
    sandbox.script(|_| Some(Answer::json(200, &json!({ "a": 1 })).tampered("1", "2")));
    let raw = get(&sandbox, "/v3/x");
    assert_eq!(raw.body, br#"{"a":2}"#);
    assert!(raw.verify(sandbox.identity()).is_err());
}
