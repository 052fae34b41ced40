//! Every fault, globally and per request, blocking and async, in both sign modes, gives the
//! client error it should.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wechatpay::{ErrorKind, VerificationFailure};
use wechatpay_sandbox::{Fault, Sandbox, SignMode, SignatureHeader};

/// What a fault must give: an answer for `close-after-reply`, else an error of the right kind
/// (and for verification failures, the right failure).
fn expect(fault: Fault, result: wechatpay::Result<wechatpay::Response>) {
    if let Fault::CloseAfterReply(_) = fault {
        let response = result.unwrap_or_else(|e| panic!("{fault}: {e}"));
        assert!(response.status().is_success(), "{fault}");
        return;
    }
    let error = &result.expect_err(&fault.to_string());
    let kind = error.kind();
    match fault {
        Fault::BadSignature | Fault::TamperedBody | Fault::WrongKey => {
            assert_eq!(kind, ErrorKind::Verification, "{fault}: {error}");
            assert!(
                matches!(
                    error.verification(),
                    Some(VerificationFailure::BadSignature { .. })
                ),
                "{fault}: {error}"
            );
            // The answer is kept for inspection.
            assert!(error.response().is_some());
        }
        Fault::StaleTimestamp => {
            assert_eq!(kind, ErrorKind::Verification, "{fault}: {error}");
            assert!(matches!(
                error.verification(),
                Some(VerificationFailure::StaleTimestamp { .. })
            ));
        }
        Fault::FutureTimestamp => {
            assert_eq!(kind, ErrorKind::Verification, "{fault}: {error}");
            assert!(matches!(
                error.verification(),
                Some(VerificationFailure::FutureTimestamp { .. })
            ));
        }
        Fault::SignatureNotBase64 => {
            assert_eq!(kind, ErrorKind::Verification, "{fault}: {error}");
            assert_eq!(
                error.verification(),
                Some(&VerificationFailure::InvalidHeader {
                    name: "Wechatpay-Signature",
                    reason: "not base64"
                })
            );
        }
        Fault::UnknownSerial => {
            assert_eq!(kind, ErrorKind::Verification, "{fault}: {error}");
            assert!(matches!(
                error.verification(),
                Some(VerificationFailure::UnknownSerial(_))
            ));
        }
        Fault::MissingHeader(header) => {
            assert_eq!(kind, ErrorKind::Verification, "{fault}: {error}");
            assert_eq!(
                error.verification(),
                Some(&VerificationFailure::MissingHeader(header.name())),
                "{fault}"
            );
        }
        Fault::SlowReply(_) => {
            assert_eq!(kind, ErrorKind::Transport, "{fault}: {error}");
            assert!(error.is_timeout(), "{fault}: {error}");
        }
        Fault::ConnectionReset => assert_eq!(kind, ErrorKind::Transport, "{fault}: {error}"),
        Fault::ServerError(status) => {
            assert_eq!(kind, ErrorKind::Api, "{fault}: {error}");
            let api = error.api().unwrap();
            assert_eq!(api.status(), status);
            assert_eq!(api.code(), Some("SYSTEM_ERROR"));
        }
        Fault::CloseAfterReply(_) => unreachable!("answered above"),
    }
}

/// How long to wait after a call under `fault` before the next: past the close of
/// `close-after-reply`, so that the sandbox closes an idle connection (not one a request is
/// arriving on, which no client could tell from a broken one).
fn settle(fault: Fault) -> Duration {
    match fault {
        Fault::CloseAfterReply(delay) => delay + Duration::from_millis(200),
        _ => Duration::ZERO,
    }
}

fn complaint(sandbox: &Sandbox, headers: Value) -> Value {
    json!({
        "complaint_id": "200201820200101080076610000",
        "headers": headers,
        "timeout": 1,
        "json": { "complainted_mchid": sandbox.identity().mchid, "response_content": "ok" },
    })
}

#[test]
fn per_request_faults_blocking_both_modes() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    for mode in ["certificate", "public-key"] {
        for fault in Fault::all() {
            let headers = json!({ "Sandbox-Fault": fault.to_string(), "Sandbox-Sign-Mode": mode });
            // A JSON answer (200) ...
            let result = client["v3/certificates"].get(json!({ "headers": headers, "timeout": 1 }));
            expect(fault, result);
            std::thread::sleep(settle(fault));
            // ... and a 204.
            let result = client["v3/merchant-service/complaints-v2/{complaint_id}/response"]
                .post(complaint(&sandbox, headers));
            expect(fault, result);
            std::thread::sleep(settle(fault));
        }
    }
    // Every request was properly signed: the faults are in the answers only.
    assert!(sandbox.requests().iter().all(|r| r.verdict.is_ok()));
}

#[test]
fn global_faults_blocking() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    for mode in [SignMode::Certificate, SignMode::PublicKey] {
        sandbox.set_sign_mode(mode);
        for fault in Fault::all() {
            sandbox.set_fault(Some(fault));
            expect(
                fault,
                client["v3/certificates"].get(json!({ "timeout": 1 })),
            );
            std::thread::sleep(settle(fault));
        }
    }
    sandbox.set_fault(None);
    client["v3/certificates"].get(json!({})).unwrap();
    // A per-request fault wins over the global one.
    sandbox.set_fault(Some(Fault::BadSignature));
    let result =
        client["v3/certificates"].get(json!({ "headers": { "Sandbox-Fault": "missing-nonce" } }));
    expect(Fault::MissingHeader(SignatureHeader::Nonce), result);
}

#[tokio::test]
async fn faults_async() {
    let sandbox = Sandbox::start_async().await.unwrap();
    let client = sandbox.client();
    for fault in Fault::all() {
        let result = client["v3/certificates"]
            .get_async(json!({ "headers": { "Sandbox-Fault": fault.to_string() }, "timeout": 1 }))
            .await;
        expect(fault, result);
        tokio::time::sleep(settle(fault)).await;
    }
    sandbox.set_fault(Some(Fault::TamperedBody));
    let result = client["v3/merchant-service/complaints-v2/{complaint_id}/response"]
        .post_async(complaint(&sandbox, json!({})))
        .await;
    expect(Fault::TamperedBody, result);
}

#[test]
fn a_slow_reply_within_the_timeout_arrives() {
    let sandbox = Sandbox::start().unwrap();
    let started = Instant::now();
    sandbox.client()["v3/certificates"]
        .get(json!({ "headers": { "Sandbox-Fault": "slow-reply-300ms" } }))
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn server_error_statuses_and_unknown_fault_names() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let error = client["v3/certificates"]
        .get(json!({ "headers": { "Sandbox-Fault": "server-error-503" } }))
        .unwrap_err();
    // Error bodies are signed: the answer is there with its headers.
    assert!(
        error
            .response()
            .unwrap()
            .headers()
            .contains_key("Wechatpay-Signature")
    );
    expect(Fault::ServerError(503), Err(error));
    for (header, value) in [
        ("Sandbox-Fault", "no-such-fault"),
        ("Sandbox-Sign-Mode", "sm2"),
    ] {
        let error = client["v3/certificates"]
            .get(json!({ "headers": { header: value } }))
            .unwrap_err();
        let api = error.api().unwrap();
        assert_eq!(api.code(), Some("PARAM_ERROR"));
        assert!(api.message().unwrap().contains(header), "{api:?}");
    }
}

#[test]
fn a_failing_fault_does_not_stick() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let error = client["v3/certificates"]
        .get(json!({ "headers": { "Sandbox-Fault": "connection-reset" } }))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transport);
    // The next request (new connection) is fine.
    client["v3/certificates"].get(json!({})).unwrap();
    // A POST cut off after it arrived is not silently sent again (payments are not idempotent).
    let error = client["v3/merchant-service/complaints-v2/{complaint_id}/response"]
        .post(complaint(
            &sandbox,
            json!({ "Sandbox-Fault": "connection-reset" }),
        ))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transport);
    let posts = sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1);
}
