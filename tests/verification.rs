//! Every way a 2xx response can fail verification, and the rules for unsigned downloads and
//! overseas statements. A failure is a `Verification` error that names the check and keeps
//! the response.

mod support;

use serde_json::json;
use support::keys;
use support::scripted::TestServer;
use wechatpay::{ErrorKind, StatusCode, VerificationFailure};
use wechatpay_sandbox::{
    Answer, Fault, NOT_BASE64_SIGNATURE, SignMode, SignatureHeader, UNKNOWN_CERTIFICATE_SERIAL,
};

const BODY: &str = r#"{"trade_state":"SUCCESS"}"#;

fn reply() -> Answer {
    Answer::bytes(200, "application/json", BODY.as_bytes().to_vec())
}

/// Calls once blocking and once async; both must fail the same way, keeping the response.
fn failure_of(reply: impl Fn() -> Answer + Send + Sync + 'static) -> VerificationFailure {
    let server = TestServer::start(move |_| reply());
    let client = support::client(&server);
    let blocking = client
        .chain("v3/pay/transactions/id/{id}")
        .get(json!({ "id": "42" }))
        .unwrap_err();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let nonblocking = rt
        .block_on(
            client
                .chain("v3/pay/transactions/id/{id}")
                .get_async(json!({ "id": "42" })),
        )
        .unwrap_err();
    for err in [&blocking, &nonblocking] {
        assert_eq!(err.kind(), ErrorKind::Verification, "{err}");
        let response = err
            .response()
            .expect("a verification error keeps the response");
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response.signature_verified());
        assert_eq!(err.status(), Some(StatusCode::OK));
    }
    let (a, b) = (blocking.verification(), nonblocking.verification());
    match (a, b) {
        // The two calls may read the clock in different seconds.
        (
            Some(VerificationFailure::StaleTimestamp { .. }),
            Some(VerificationFailure::StaleTimestamp { .. }),
        )
        | (
            Some(VerificationFailure::FutureTimestamp { .. }),
            Some(VerificationFailure::FutureTimestamp { .. }),
        ) => {}
        _ => assert_eq!(a, b),
    }
    blocking.verification().cloned().unwrap()
}

#[test]
fn each_missing_header_is_named() {
    for (header, name) in [
        (SignatureHeader::Timestamp, "Wechatpay-Timestamp"),
        (SignatureHeader::Nonce, "Wechatpay-Nonce"),
        (SignatureHeader::Signature, "Wechatpay-Signature"),
        (SignatureHeader::Serial, "Wechatpay-Serial"),
    ] {
        let failure = failure_of(move || reply().fault(Fault::MissingHeader(header)));
        assert_eq!(failure, VerificationFailure::MissingHeader(name));
        assert_eq!(failure.to_string(), format!("header `{name}` is missing"));
    }
}

#[test]
fn stale_and_future_timestamps_are_rejected() {
    match failure_of(|| reply().fault(Fault::StaleTimestamp)) {
        VerificationFailure::StaleTimestamp { timestamp, now } => assert!(now - timestamp > 300),
        other => panic!("{other:?}"),
    }
    match failure_of(|| reply().fault(Fault::FutureTimestamp)) {
        VerificationFailure::FutureTimestamp { timestamp, now } => assert!(timestamp - now > 300),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_serial_is_named() {
    let failure = failure_of(|| reply().fault(Fault::UnknownSerial));
    assert_eq!(
        failure,
        VerificationFailure::UnknownSerial(UNKNOWN_CERTIFICATE_SERIAL.to_owned())
    );
    assert!(failure.to_string().contains(UNKNOWN_CERTIFICATE_SERIAL));
}

#[test]
fn tampered_body_fails_the_signature() {
    let failure = failure_of(|| reply().fault(Fault::TamperedBody));
    assert_eq!(
        failure,
        VerificationFailure::BadSignature {
            serial: keys().platform_serial.clone()
        }
    );
}

#[test]
fn wrong_key_fails_the_signature_in_both_modes() {
    assert_eq!(
        failure_of(|| reply().fault(Fault::WrongKey)),
        VerificationFailure::BadSignature {
            serial: keys().platform_serial.clone()
        }
    );
    assert_eq!(
        failure_of(|| reply()
            .sign_mode(SignMode::PublicKey)
            .fault(Fault::WrongKey)),
        VerificationFailure::BadSignature {
            serial: keys().pubkey_id.clone()
        }
    );
}

#[test]
fn undecodable_signature_is_named() {
    assert_eq!(NOT_BASE64_SIGNATURE, "not base64!!");
    assert_eq!(
        failure_of(|| reply().fault(Fault::SignatureNotBase64)),
        VerificationFailure::InvalidHeader {
            name: "Wechatpay-Signature",
            reason: "not base64"
        }
    );
}

#[test]
fn non_numeric_timestamp_is_named() {
    assert_eq!(
        failure_of(|| reply().header("Wechatpay-Timestamp", "soon")),
        VerificationFailure::InvalidHeader {
            name: "Wechatpay-Timestamp",
            reason: "not a Unix timestamp in seconds"
        }
    );
}

#[test]
fn verification_error_keeps_the_unverified_body() {
    let server = TestServer::start(|_| reply().fault(Fault::TamperedBody));
    let client = support::client(&server);
    let err = client.chain("v3/x").get(()).unwrap_err();
    let body = err.response().unwrap().bytes();
    // The server changed the last byte after signing.
    assert_eq!(&body[..BODY.len() - 1], &BODY.as_bytes()[..BODY.len() - 1]);
    assert_ne!(&body[..], BODY.as_bytes());
    assert!(
        err.to_string().starts_with("verification failed: "),
        "{err}"
    );
}

#[test]
fn unsigned_downloads_pass_unverified_and_say_so() {
    let server = TestServer::start(|_| {
        Answer::bytes(200, "application/octet-stream", b"bill,data\n".to_vec()).unsigned()
    });
    let client = support::client(&server);
    for (template, opts) in [
        ("v3/billdownload/file{?token}", json!({ "token": "abc" })),
        (
            "v3/merchant-service/images/{media_id}",
            json!({ "media_id": "ChsyMDIw==" }),
        ),
        (
            "v3/global/merchant-service/images/{media_id}",
            json!({ "media_id": "abc" }),
        ),
        ("v3/statements{?date}", json!({ "date": "2024-01-01" })),
        (
            "v3/transferdownload/signfile{?token}",
            json!({ "token": "t" }),
        ),
        ("v3/transferdownload/elecvoucherfile", json!({})),
        ("v3/new-tax-control-fapiao/download", json!({})),
    ] {
        let r = client
            .chain(template)
            .get(opts)
            .unwrap_or_else(|e| panic!("{template}: {e}"));
        assert_eq!(&r.bytes()[..], b"bill,data\n");
        assert!(!r.signature_verified(), "{template}");
    }
    // The image *upload* is signed, so an unsigned answer is refused.
    let err = client
        .chain("v3/merchant-service/images/upload")
        .post(())
        .unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::MissingHeader("Wechatpay-Timestamp"))
    );
}

fn sha1_hex(data: &[u8]) -> String {
    openssl::hash::hash(openssl::hash::MessageDigest::sha1(), data)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn overseas_statements_verify_the_sha1_document() {
    let csv = b"date,amount\n2024-01-01,100\n".to_vec();
    let sha1 = sha1_hex(&csv);
    let doc = format!(r#"{{"sha1":"{sha1}"}}"#).into_bytes();

    let (c, s, d) = (csv.clone(), sha1.clone(), doc.clone());
    let good = TestServer::start(move |_| {
        Answer::bytes(200, "text/csv", c.clone())
            .header("Wechatpay-Statement-Sha1", &s)
            .sign_over(d.clone())
    });
    let r = support::client(&good)
        .chain("v3/global/statements")
        .get(json!({ "query": { "date": "2024-01-01" } }))
        .unwrap();
    assert!(r.signature_verified());
    assert_eq!(r.bytes().as_ref(), csv.as_slice());

    // A body that does not hash to the signed SHA-1.
    let (s, d) = (sha1.clone(), doc.clone());
    let swapped = TestServer::start(move |_| {
        Answer::bytes(200, "text/csv", b"forged".to_vec())
            .header("Wechatpay-Statement-Sha1", &s)
            .sign_over(d.clone())
    });
    let err = support::client(&swapped)
        .chain("v3/global/statements")
        .get(())
        .unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::DigestMismatch)
    );

    // A SHA-1 header that the signature does not cover.
    let c = csv.clone();
    let unsigned_sha = TestServer::start(move |_| {
        let sha = sha1_hex(&c);
        Answer::bytes(200, "text/csv", c.clone()).header("Wechatpay-Statement-Sha1", &sha)
    });
    let err = support::client(&unsigned_sha)
        .chain("v3/global/statements")
        .get(())
        .unwrap_err();
    assert!(
        matches!(
            err.verification(),
            Some(VerificationFailure::BadSignature { .. })
        ),
        "{err}"
    );

    let c = csv.clone();
    let no_header = TestServer::start(move |_| Answer::bytes(200, "text/csv", c.clone()));
    let err = support::client(&no_header)
        .chain("v3/global/statements")
        .get(())
        .unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::MissingHeader(
            "Wechatpay-Statement-Sha1"
        ))
    );
}

#[test]
fn a_custom_verifier_replaces_the_default() {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Recording(Arc<Mutex<Vec<Vec<u8>>>>);
    impl wechatpay::verifier::Verifier for Recording {
        fn verify(
            &self,
            headers: &http::HeaderMap,
            payload: &[u8],
        ) -> Result<(), VerificationFailure> {
            self.0.lock().unwrap().push(payload.to_vec());
            match headers.get("x-trust") {
                Some(_) => Ok(()),
                None => Err(VerificationFailure::MissingHeader("X-Trust")),
            }
        }
    }
    let server = TestServer::start(|r| {
        let reply = reply().unsigned();
        if r.path() == "/v3/trusted" {
            reply.header("X-Trust", "1")
        } else {
            reply
        }
    });
    let recording = Recording::default();
    let k = keys();
    let client = wechatpay::Client::builder()
        .mchid(support::mchid())
        .serial(&k.merchant_serial)
        .private_key(&k.merchant_key_pkcs8_pem)
        .verifier(recording.clone())
        .base_uri(server.base_uri())
        .allow_insecure_http(true)
        .build()
        .unwrap();
    assert!(
        client
            .chain("v3/trusted")
            .get(())
            .unwrap()
            .signature_verified()
    );
    let err = client.chain("v3/other").get(()).unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::MissingHeader("X-Trust"))
    );
    assert_eq!(
        *recording.0.lock().unwrap(),
        vec![BODY.as_bytes().to_vec(); 2]
    );
}

#[test]
fn the_default_verifier_checks_the_exact_message() {
    // Independent of the server: sign `ts\nnonce\nbody\n` here and check the boundaries.
    let k = keys();
    let mut verifier = wechatpay::verifier::PlatformVerifier::new();
    verifier.insert(
        k.pubkey_id.clone(),
        wechatpay::crypto::PublicKey::from_pem(&k.pubkey_spki_pem).unwrap(),
    );
    let sign = |msg: &[u8]| support::rsa_sha256_sign(&k.pubkey_private, msg);
    let headers = |ts: &str, sig: &str| {
        let mut h = http::HeaderMap::new();
        h.insert("Wechatpay-Timestamp", ts.parse().unwrap());
        h.insert("Wechatpay-Nonce", "n0nce".parse().unwrap());
        h.insert("Wechatpay-Signature", sig.parse().unwrap());
        h.insert("Wechatpay-Serial", k.pubkey_id.parse().unwrap());
        h
    };
    let now = 1_700_000_000;
    let sig = sign(b"1700000000\nn0nce\nbody\n");
    assert_eq!(
        verifier.verify_at(&headers("1700000000", &sig), b"body", now),
        Ok(())
    );
    // Exactly 300 s either way is inside the window; 301 s is not.
    assert_eq!(
        verifier.verify_at(&headers("1700000000", &sig), b"body", now + 300),
        Ok(())
    );
    assert_eq!(
        verifier.verify_at(&headers("1700000000", &sig), b"body", now - 300),
        Ok(())
    );
    assert!(matches!(
        verifier.verify_at(&headers("1700000000", &sig), b"body", now + 301),
        Err(VerificationFailure::StaleTimestamp { .. })
    ));
    assert!(matches!(
        verifier.verify_at(&headers("1700000000", &sig), b"body", now - 301),
        Err(VerificationFailure::FutureTimestamp { .. })
    ));
    // Clocks at the ends of the range are refused, not overflowed.
    assert!(
        verifier
            .verify_at(&headers("1700000000", &sig), b"body", i64::MIN)
            .is_err()
    );
    assert!(
        verifier
            .verify_at(&headers("1700000000", &sig), b"body", i64::MAX)
            .is_err()
    );
    // Without the trailing newline the message differs.
    let sig_no_nl = sign(b"1700000000\nn0nce\nbody");
    assert!(matches!(
        verifier.verify_at(&headers("1700000000", &sig_no_nl), b"body", now),
        Err(VerificationFailure::BadSignature { .. })
    ));
}
