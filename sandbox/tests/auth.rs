//! The sandbox's own request check, driven by hand-made requests (OpenSSL in the test, not
//! the client), and its answer signatures checked independently.

mod support;

use support::{authorization, authorization_at, now, raw_request};
use wechatpay_sandbox::{Sandbox, SignMode};

const PATH: &str = "/v3/merchant-service/complaints-v2/200201820200101080076610000/response";

fn body(sandbox: &Sandbox) -> Vec<u8> {
    format!(
        r#"{{"complainted_mchid":"{}","response_content":"ok"}}"#,
        sandbox.identity().mchid
    )
    .into_bytes()
}

fn post(sandbox: &Sandbox, target: &str, auth: &str, body: &[u8]) -> support::Raw {
    raw_request(
        sandbox.base_uri(),
        "POST",
        target,
        &[
            ("Authorization", auth),
            ("Content-Type", "application/json"),
        ],
        body,
    )
}

#[test]
fn a_hand_signed_request_passes_and_the_answer_verifies() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    let body = body(&sandbox);
    let answer = post(
        &sandbox,
        PATH,
        &authorization(id, "POST", PATH, &body),
        &body,
    );
    assert_eq!(
        answer.status,
        204,
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(
        answer.header("Wechatpay-Serial"),
        Some(id.public_key_id.as_str())
    );
    answer.verify(id).unwrap();
    assert!(answer.header("Request-ID").is_some());

    sandbox.set_sign_mode(SignMode::Certificate);
    let answer = post(
        &sandbox,
        PATH,
        &authorization(id, "POST", PATH, &body),
        &body,
    );
    assert_eq!(
        answer.header("Wechatpay-Serial"),
        Some(id.platform_serial.as_str())
    );
    answer.verify(id).unwrap();
}

#[test]
fn the_raw_target_is_what_is_verified() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    // An encoded query, exactly as sent: a signature over the decoded form must fail.
    let target = "/v3/pay/transactions/out-trade-no/A%2FB?mchid=1&x=%E4%B8%AD";
    let good = raw_request(
        sandbox.base_uri(),
        "GET",
        target,
        &[("Authorization", &authorization(id, "GET", target, b""))],
        b"",
    );
    // Authenticated (it gets past the check): a 400 about the mchid, not a 401.
    assert_ne!(
        good.status,
        401,
        "{:?}",
        String::from_utf8_lossy(&good.body)
    );
    let decoded = "/v3/pay/transactions/out-trade-no/A/B?mchid=1&x=中";
    let bad = raw_request(
        sandbox.base_uri(),
        "GET",
        target,
        &[("Authorization", &authorization(id, "GET", decoded, b""))],
        b"",
    );
    assert_eq!(bad.status, 401);
}

#[test]
fn bad_authorizations_get_401_sign_error() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    let body = body(&sandbox);
    let good = authorization(id, "POST", PATH, &body);
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "missing"),
        (
            good.replace("WECHATPAY2-SHA256-RSA2048", "WECHATPAY2-SM2-WITH-SM3"),
            "scheme",
        ),
        (good.replace(&id.mchid, "1900000001"), "mchid"),
        (
            good.replace(
                &id.merchant_serial,
                "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
            ),
            "serial_no",
        ),
        (
            authorization_at(id, "POST", PATH, &body, now() - 301),
            "timestamp",
        ),
        (
            authorization_at(id, "POST", PATH, &body, now() + 400),
            "timestamp",
        ),
        (authorization(id, "POST", PATH, b"{}"), "signature"),
        (authorization(id, "PUT", PATH, &body), "signature"),
        (
            good.replace("signature=\"", "signature=\"AAAA"),
            "signature",
        ),
        (
            good.replace(",nonce_str", ",nonce_str=\"x\",nonce_str"),
            "twice",
        ),
        (good.replace("mchid=", "merchant="), "unknown"),
        (good.replace("\",", "\";"), "expected ','"),
        (format!("{good},extra=\"1\""), "unknown"),
        (good.replace("timestamp=\"", "timestamp=\"-"), "timestamp"),
    ];
    for (auth, expected) in &cases {
        let headers: Vec<(&str, &str)> = if auth.is_empty() {
            vec![]
        } else {
            vec![("Authorization", auth.as_str())]
        };
        let answer = raw_request(sandbox.base_uri(), "POST", PATH, &headers, &body);
        assert_eq!(answer.status, 401, "{auth}");
        let json = answer.json();
        assert_eq!(json["code"], "SIGN_ERROR");
        let message = json["message"].as_str().unwrap();
        assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        );
        // Error answers are signed too.
        answer.verify(id).unwrap();
    }
    let log = sandbox.requests();
    assert_eq!(log.len(), cases.len());
    assert!(log.iter().all(|r| r.verdict.is_err()));
}

#[test]
fn the_timestamp_window_is_300_seconds_either_way() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    let body = body(&sandbox);
    for skew in [-290, 290] {
        let auth = authorization_at(id, "POST", PATH, &body, now() + skew);
        assert_eq!(post(&sandbox, PATH, &auth, &body).status, 204, "{skew}");
    }
}

#[test]
fn garbage_never_crashes_the_sandbox() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    let noise: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    for (content_type, body) in [
        ("multipart/form-data; boundary=x", &noise[..]),
        ("multipart/form-data", b"--x\r\n"),
        ("application/json", &noise[..]),
    ] {
        let auth = authorization(id, "POST", "/v3/merchant/media/upload", body);
        let answer = raw_request(
            sandbox.base_uri(),
            "POST",
            "/v3/merchant/media/upload",
            &[("Authorization", &auth), ("Content-Type", content_type)],
            body,
        );
        assert!(
            answer.status == 400 || answer.status == 401,
            "{}",
            answer.status
        );
    }
    for target in [
        "/v3/%FF%FE",
        "/v3//",
        "/v3/pay/transactions/id/",
        "/pay/micropay",
        "/%00",
    ] {
        let auth = authorization(id, "GET", target, b"");
        let answer = raw_request(
            sandbox.base_uri(),
            "GET",
            target,
            &[("Authorization", &auth)],
            &noise,
        );
        assert!(answer.status >= 200, "{target}");
    }
    // Still serving.
    let body = body(&sandbox);
    assert_eq!(
        post(
            &sandbox,
            PATH,
            &authorization(id, "POST", PATH, &body),
            &body
        )
        .status,
        204
    );
}

#[test]
fn nonce_str_is_1_to_32_visible_ascii_characters() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    let body = body(&sandbox);
    let longest = "x".repeat(32);
    for nonce in [
        "a",
        "7",
        "-_.~!#$%&'()*+/:;<=>?@[\\]^`{|}",
        "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        longest.as_str(),
    ] {
        let auth = support::authorization_with_nonce(id, "POST", PATH, &body, nonce);
        let answer = post(&sandbox, PATH, &auth, &body);
        assert_eq!(
            answer.status,
            204,
            "{nonce}: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }
    let too_long = "x".repeat(33);
    for nonce in [too_long.as_str(), "a,b", "a b"] {
        let auth = support::authorization_with_nonce(id, "POST", PATH, &body, nonce);
        let answer = post(&sandbox, PATH, &auth, &body);
        assert_eq!(answer.status, 401, "{nonce}");
        let message = answer.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains("nonce_str"), "{nonce}: {message}");
    }
}
