//! Callbacks: a notification signed and encrypted by independent code (tests/support/callback.rs,
//! OpenSSL directly) is verified and decrypted in certificate and public-key modes; every bad
//! input is a typed error, never a panic; the answers and the duplicate filter behave as
//! documented.

mod support;

use std::sync::{Arc, Barrier};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::json;
use support::{APIV3_KEY, Callback, CallbackSpec, keys, signed};
use wechatpay::crypto::PublicKey;
use wechatpay::notify::{
    self, Delivery, DuplicateFilter, Notification, NotificationParser, SIGNATURE_TYPE,
};
use wechatpay::verifier::{PlatformVerifier, Verifier};
use wechatpay::{Error, ErrorKind, VerificationFailure};
use wechatpay_sandbox::SignMode;

fn verifier() -> PlatformVerifier {
    let k = keys();
    let mut verifier = PlatformVerifier::new();
    verifier.insert(
        k.platform_serial.clone(),
        PublicKey::load(&k.platform_cert_pem).unwrap(),
    );
    verifier.insert(
        k.pubkey_id.clone(),
        PublicKey::load(&k.pubkey_spki_pem).unwrap(),
    );
    verifier
}

fn parser() -> NotificationParser {
    NotificationParser::new(APIV3_KEY, verifier()).unwrap()
}

fn parse(callback: &Callback) -> Result<Notification, Error> {
    parser().parse(&callback.headers, &callback.body)
}

/// No error text or Debug output may contain the APIv3 key or any of the plaintext's values.
fn assert_no_secrets(err: &Error) {
    let text = format!("{err} {err:?}");
    let mut source = std::error::Error::source(err);
    let mut chain = String::new();
    while let Some(s) = source {
        chain.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    for secret in [
        APIV3_KEY,
        "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "1217752501201407033233368018",
    ] {
        assert!(!text.contains(secret), "{text}");
        assert!(!chain.contains(secret), "{chain}");
    }
}

fn verification_failure(callback: &Callback) -> VerificationFailure {
    let err = parse(callback).expect_err("the check must fail");
    assert_eq!(err.kind(), ErrorKind::Verification, "{err}");
    assert_no_secrets(&err);
    err.verification().cloned().expect("names the check")
}

fn decode_error(callback: &Callback) -> Error {
    let err = parse(callback).expect_err("the envelope must be refused");
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert_no_secrets(&err);
    err
}

fn crypto_error(callback: &Callback) -> String {
    let err = parse(callback).expect_err("decryption must fail");
    assert_eq!(err.kind(), ErrorKind::Crypto, "{err}");
    assert_no_secrets(&err);
    err.to_string()
}

/// Signs an envelope after `edit` changed it (so that only the envelope check can fail).
fn edited(spec: &CallbackSpec, edit: impl FnOnce(&mut serde_json::Value)) -> Callback {
    let mut envelope = spec.envelope();
    edit(&mut envelope);
    signed(serde_json::to_vec(&envelope).unwrap(), spec.signer, 0)
}

fn remove_field(object: &mut serde_json::Value, field: &str) {
    object.as_object_mut().unwrap().remove(field);
}

#[derive(Debug, Deserialize)]
struct Transaction {
    out_trade_no: String,
    transaction_id: String,
    trade_state: String,
    payer: Payer,
    amount: Amount,
}

#[derive(Debug, Deserialize)]
struct Payer {
    openid: String,
}

#[derive(Debug, Deserialize)]
struct Amount {
    total: u64,
    currency: String,
}

// ---------------------------------------------------------------------------------------------
// the happy path

#[test]
fn a_payment_callback_verifies_and_decrypts_in_both_modes() {
    for signer in [SignMode::Certificate, SignMode::PublicKey] {
        let spec = CallbackSpec::payment().signer(signer);
        let notification = parse(&spec.render()).unwrap_or_else(|e| panic!("{signer:?}: {e}"));
        assert_eq!(notification.id(), spec.id);
        assert_eq!(notification.create_time(), "2015-05-20T13:29:35+08:00");
        assert_eq!(notification.event_type(), "TRANSACTION.SUCCESS");
        assert_eq!(notification.resource_type(), "encrypt-resource");
        assert_eq!(notification.summary(), "支付成功");
        assert_eq!(notification.original_type(), "transaction");
        assert_eq!(notification.associated_data(), "transaction");
        assert_eq!(notification.resource(), spec.plaintext.as_slice());
        assert_eq!(notification.text().unwrap().as_bytes(), spec.plaintext);

        let tx: Transaction = notification.json().unwrap();
        assert!(tx.out_trade_no.starts_with("1217752501201407033233368"));
        assert_eq!(tx.transaction_id, "1217752501201407033233368018");
        assert_eq!(tx.trade_state, "SUCCESS");
        assert_eq!(tx.payer.openid, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
        assert_eq!((tx.amount.total, tx.amount.currency.as_str()), (100, "CNY"));
        let value: serde_json::Value = notification.json().unwrap();
        assert_eq!(
            value["promotion_detail"][0]["goods_detail"][0]["goods_id"],
            "M1006"
        );

        // Debug shows the envelope, not the decrypted resource.
        let debug = format!("{notification:?}");
        assert!(debug.contains(&spec.id), "{debug}");
        assert!(!debug.contains("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"), "{debug}");
        assert_eq!(notification.into_resource(), spec.plaintext);
    }
}

#[test]
fn header_names_may_come_in_any_case() {
    let callback = CallbackSpec::payment().render();
    for style in [str::to_ascii_uppercase, str::to_ascii_lowercase] {
        let mut headers = HeaderMap::new();
        for (name, value) in &callback.headers {
            let raw = style(name.as_str());
            headers.insert(
                HeaderName::from_bytes(raw.as_bytes()).unwrap(),
                value.clone(),
            );
        }
        parser().parse(&headers, &callback.body).unwrap();
    }
}

#[test]
fn the_signature_type_header_may_be_absent_but_not_different() {
    parse(&CallbackSpec::payment().render().without(SIGNATURE_TYPE)).unwrap();
    for other in [
        "WECHATPAY2-SM2-WITH-SM3",
        "wechatpay2-sha256-rsa2048",
        "RSA",
    ] {
        let callback = CallbackSpec::payment()
            .render()
            .with_header("wechatpay-signature-type", other);
        assert_eq!(
            verification_failure(&callback),
            VerificationFailure::UnsupportedSignatureType(other.to_owned())
        );
    }
}

#[test]
fn absent_associated_data_and_summary_are_empty() {
    let mut spec = CallbackSpec::payment();
    spec.associated_data = None;
    let callback = edited(&spec, |e| {
        e.as_object_mut().unwrap().remove("summary");
        e["resource"]
            .as_object_mut()
            .unwrap()
            .remove("original_type");
    });
    let notification = parse(&callback).unwrap();
    assert_eq!(notification.associated_data(), "");
    assert_eq!(notification.summary(), "");
    assert_eq!(notification.original_type(), "");
    // Empty associated data is the same as absent.
    spec.associated_data = Some(String::new());
    parse(&spec.render()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// failed checks: Verification

#[test]
fn each_missing_header_is_named() {
    for name in [
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
        "Wechatpay-Signature",
        "Wechatpay-Serial",
    ] {
        let callback = CallbackSpec::payment().render().without(name);
        assert_eq!(
            verification_failure(&callback),
            VerificationFailure::MissingHeader(name)
        );
    }
}

#[test]
fn stale_and_future_timestamps_are_refused() {
    // Offsets are applied when the callback is rendered; a second may pass before it is checked,
    // so the assertion is on the window (300 s), not on the exact offset.
    let mut spec = CallbackSpec::payment();
    spec.timestamp_offset = -400;
    assert!(matches!(
        verification_failure(&spec.render()),
        VerificationFailure::StaleTimestamp { timestamp, now } if now - timestamp > 300
    ));
    spec.timestamp_offset = 400;
    assert!(matches!(
        verification_failure(&spec.render()),
        VerificationFailure::FutureTimestamp { timestamp, now } if timestamp - now > 300
    ));
    // Inside the window both ways.
    for offset in [-250, 250] {
        spec.timestamp_offset = offset;
        parse(&spec.render()).unwrap();
    }
}

#[test]
fn unknown_serials_and_bad_signatures_are_refused() {
    let callback = CallbackSpec::payment().render().with_header(
        "Wechatpay-Serial",
        "0123456789ABCDEF0123456789ABCDEF01234567",
    );
    assert_eq!(
        verification_failure(&callback),
        VerificationFailure::UnknownSerial("0123456789ABCDEF0123456789ABCDEF01234567".to_owned())
    );
    // A verifier with the public key only does not know the certificate serial.
    let k = keys();
    let mut public_only = PlatformVerifier::new();
    public_only.insert(
        k.pubkey_id.clone(),
        PublicKey::load(&k.pubkey_spki_pem).unwrap(),
    );
    let callback = CallbackSpec::payment().render();
    let err = NotificationParser::new(APIV3_KEY, public_only)
        .unwrap()
        .parse(&callback.headers, &callback.body)
        .unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::UnknownSerial(
            k.platform_serial.clone()
        ))
    );

    // Tampered body, signed by the wrong key, WeChat Pay's signature probe.
    let tampered = CallbackSpec::payment().render().tampered();
    assert_eq!(
        verification_failure(&tampered),
        VerificationFailure::BadSignature {
            serial: k.platform_serial.clone()
        }
    );
    let swapped = CallbackSpec::payment()
        .signer(SignMode::PublicKey)
        .render()
        .with_header("Wechatpay-Serial", &k.platform_serial);
    assert!(matches!(
        verification_failure(&swapped),
        VerificationFailure::BadSignature { .. }
    ));
    let probe = CallbackSpec::payment()
        .render()
        .with_header("Wechatpay-Signature", "WECHATPAY/SIGNTEST/c2lnbmF0dXJl");
    assert_eq!(
        verification_failure(&probe),
        VerificationFailure::InvalidHeader {
            name: "Wechatpay-Signature",
            reason: "not base64",
        }
    );
}

#[test]
fn an_unsupported_signature_type_is_echoed_bounded() {
    let long = "X".repeat(20_000);
    let callback = CallbackSpec::payment()
        .render()
        .with_header("Wechatpay-Signature-Type", &long);
    assert_eq!(
        verification_failure(&callback),
        VerificationFailure::UnsupportedSignatureType("X".repeat(40))
    );
}

#[test]
fn a_custom_verifier_decides() {
    struct Refuse;
    impl Verifier for Refuse {
        fn verify(&self, _: &HeaderMap, _: &[u8]) -> Result<(), VerificationFailure> {
            Err(VerificationFailure::DigestMismatch)
        }
    }
    let callback = CallbackSpec::payment().render();
    let refusing = NotificationParser::with_shared_verifier(APIV3_KEY, Arc::new(Refuse)).unwrap();
    let err = refusing
        .parse(&callback.headers, &callback.body)
        .unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::DigestMismatch)
    );
    // verify() alone runs the same checks.
    assert!(refusing.verify(&callback.headers, &callback.body).is_err());
    parser().verify(&callback.headers, &callback.body).unwrap();
}

// ---------------------------------------------------------------------------------------------
// malformed envelopes: Decode

#[test]
fn malformed_envelopes_are_decode_errors_naming_the_field() {
    let spec = CallbackSpec::payment();

    let not_json = signed(b"<xml>not json</xml>".to_vec(), SignMode::Certificate, 0);
    let err = decode_error(&not_json);
    assert!(
        err.to_string()
            .starts_with("decode error: notification envelope JSON at `.`: expected value"),
        "{err}"
    );

    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit, &str); 7] = [
        ("id", |e| remove_field(e, "id"), "."),
        ("event_type", |e| remove_field(e, "event_type"), "."),
        ("resource", |e| remove_field(e, "resource"), "."),
        (
            "nonce",
            |e| remove_field(&mut e["resource"], "nonce"),
            "resource",
        ),
        (
            "ciphertext",
            |e| remove_field(&mut e["resource"], "ciphertext"),
            "resource",
        ),
        ("id as a number", |e| e["id"] = json!(42), "id"),
        (
            "resource as a string",
            |e| e["resource"] = json!("x"),
            "resource",
        ),
    ];
    for (name, edit, path) in cases {
        let err = decode_error(&edited(&spec, edit));
        assert_eq!(err.json_path(), Some(path), "{name}: {err}");
    }

    let err = decode_error(&edited(&spec, |e| {
        e["resource"]["algorithm"] = json!("AEAD_SM4_GCM")
    }));
    assert_eq!(err.json_path(), Some("resource.algorithm"));
    assert_eq!(
        err.to_string(),
        "decode error: notification resource.algorithm `AEAD_SM4_GCM` is not supported (expected AEAD_AES_256_GCM)"
    );

    // Trailing bytes after the envelope.
    let mut body = serde_json::to_vec(&spec.envelope()).unwrap();
    body.extend_from_slice(b" {}");
    let err = decode_error(&signed(body, SignMode::Certificate, 0));
    assert_eq!(err.json_path(), Some("."));
}

#[test]
fn truncated_or_non_base64_ciphertext_is_a_decode_error() {
    let spec = CallbackSpec::payment();
    for edit in [
        |c: &str| c[..c.len() - 1].to_owned(),
        |c: &str| c[..c.len() / 2 + 1].to_owned(),
        |c: &str| format!("{c}\n"),
        |_: &str| "not base64!".to_owned(),
        |_: &str| String::new(),
    ] {
        let callback = edited(&spec, |e| {
            let c = e["resource"]["ciphertext"].as_str().unwrap().to_owned();
            e["resource"]["ciphertext"] = json!(edit(&c));
        });
        let err = decode_error(&callback);
        assert_eq!(err.json_path(), Some("resource.ciphertext"), "{err}");
        assert_eq!(
            err.to_string(),
            "decode error: notification resource.ciphertext is not standard padded base64"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// decryption failures: Crypto

#[test]
fn wrong_tag_aad_nonce_or_key_are_crypto_errors() {
    let spec = CallbackSpec::payment();
    let auth = "cryptographic error: notification resource cannot be decrypted with the APIv3 key: AES-256-GCM authentication failed: wrong key, nonce or associated data, or an altered ciphertext";

    // A flipped tag byte, a flipped ciphertext byte, a truncated (but valid base64) input.
    for flip in [usize::MAX, 0] {
        let callback = edited(&spec, |e| {
            let c = e["resource"]["ciphertext"].as_str().unwrap();
            let mut raw = wechatpay::crypto::base64_decode(c).unwrap();
            let i = if flip == usize::MAX {
                raw.len() - 1
            } else {
                flip
            };
            raw[i] ^= 0x01;
            e["resource"]["ciphertext"] = json!(wechatpay::crypto::base64_encode(&raw));
        });
        assert_eq!(crypto_error(&callback), auth);
    }
    let callback = edited(&spec, |e| {
        let c = e["resource"]["ciphertext"].as_str().unwrap();
        let raw = wechatpay::crypto::base64_decode(c).unwrap();
        e["resource"]["ciphertext"] =
            json!(wechatpay::crypto::base64_encode(&raw[..raw.len() - 3]));
    });
    assert_eq!(crypto_error(&callback), auth);
    let callback = edited(&spec, |e| {
        e["resource"]["ciphertext"] = json!(wechatpay::crypto::base64_encode(b"short"));
    });
    assert_eq!(
        crypto_error(&callback),
        "cryptographic error: notification resource cannot be decrypted with the APIv3 key: AES-256-GCM: the input is 5 bytes, shorter than its 16-byte tag"
    );

    // Wrong associated data: declared differently from what was encrypted, or removed.
    let wrong_aad = edited(&spec, |e| {
        e["resource"]["associated_data"] = json!("certificate")
    });
    assert_eq!(crypto_error(&wrong_aad), auth);
    let no_aad = edited(&spec, |e| {
        e["resource"]
            .as_object_mut()
            .unwrap()
            .remove("associated_data");
    });
    assert_eq!(crypto_error(&no_aad), auth);

    // Wrong nonce, empty nonce.
    let wrong_nonce = edited(&spec, |e| e["resource"]["nonce"] = json!("000000000000"));
    assert_eq!(crypto_error(&wrong_nonce), auth);
    let empty_nonce = edited(&spec, |e| e["resource"]["nonce"] = json!(""));
    assert_eq!(
        crypto_error(&empty_nonce),
        "cryptographic error: notification resource cannot be decrypted with the APIv3 key: AES-256-GCM: the nonce must be 1 to 128 bytes, found 0"
    );

    // Encrypted under another APIv3 key.
    let mut other = CallbackSpec::payment();
    other.apiv3_key = b"0123456789abcdef0123456789abcdef".to_vec();
    assert_eq!(crypto_error(&other.render()), auth);
}

#[test]
fn the_apiv3_key_must_be_32_bytes_and_is_never_shown() {
    for len in [0, 16, 31, 33, 64] {
        let err = NotificationParser::new(vec![b'k'; len], verifier()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert_eq!(
            err.to_string(),
            format!("configuration error: the APIv3 key must be exactly 32 bytes, found {len}")
        );
    }
    // The infallible constructor takes a key checked beforehand.
    let key = wechatpay::crypto::Apiv3Key::new(APIV3_KEY).unwrap();
    let callback = CallbackSpec::payment().render();
    NotificationParser::from_key(key, Arc::new(verifier()))
        .parse(&callback.headers, &callback.body)
        .unwrap();

    let debug = format!("{:?}", parser());
    assert!(!debug.contains(APIV3_KEY), "{debug}");
    assert!(debug.contains("Apiv3Key(..)"), "{debug}");
}

#[test]
fn arbitrary_signed_bodies_never_panic() {
    let spec = CallbackSpec::payment();
    let good = serde_json::to_vec(&spec.envelope()).unwrap();
    let mut bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{}".to_vec(),
        b"\"string\"".to_vec(),
        vec![0xff; 64],
        br#"{"id":"x","create_time":"t","event_type":"e","resource_type":"r","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"AAAA","nonce":"n"}}"#.to_vec(),
    ];
    for cut in (0..good.len()).step_by(13) {
        bodies.push(good[..cut].to_vec());
    }
    for i in (0..good.len()).step_by(29) {
        let mut flipped = good.clone();
        flipped[i] ^= 0x20;
        bodies.push(flipped);
    }
    let parser = parser();
    for body in bodies {
        let callback = signed(body, SignMode::PublicKey, 0);
        if let Err(e) = parser.parse(&callback.headers, &callback.body) {
            assert!(
                matches!(e.kind(), ErrorKind::Decode | ErrorKind::Crypto),
                "{e}"
            );
            let answer = notify::failure_for(&e);
            assert!(answer.status().is_client_error() || answer.status().is_server_error());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// answers

#[test]
fn answers_are_what_wechat_pay_expects() {
    let ok = notify::success();
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    assert!(ok.body().is_empty());

    let fail = notify::failure(StatusCode::INTERNAL_SERVER_ERROR, "数据库不可用");
    assert_eq!(fail.status(), 500);
    assert_eq!(
        fail.headers()["content-type"],
        HeaderValue::from_static("application/json; charset=utf-8")
    );
    let body: serde_json::Value = serde_json::from_slice(fail.body()).unwrap();
    assert_eq!(body, json!({ "code": "FAIL", "message": "数据库不可用" }));
    assert_eq!(notify::failure(StatusCode::NO_CONTENT, "x").status(), 500);
    assert_eq!(
        notify::failure(StatusCode::TOO_MANY_REQUESTS, "x").status(),
        429
    );

    let stale = {
        let mut spec = CallbackSpec::payment();
        spec.timestamp_offset = -1000;
        parse(&spec.render()).unwrap_err()
    };
    assert_eq!(notify::failure_for(&stale).status(), 401);
    let malformed = parse(&signed(b"{".to_vec(), SignMode::Certificate, 0)).unwrap_err();
    assert_eq!(notify::failure_for(&malformed).status(), 400);
    let mut other = CallbackSpec::payment();
    other.apiv3_key = b"0123456789abcdef0123456789abcdef".to_vec();
    let undecryptable = parse(&other.render()).unwrap_err();
    let answer = notify::failure_for(&undecryptable);
    assert_eq!(answer.status(), 500);
    // Nothing about the cause leaks to the caller.
    assert_eq!(
        answer.body(),
        br#"{"code":"FAIL","message":"notification not processed"}"#
    );
}

// ---------------------------------------------------------------------------------------------
// the duplicate filter

#[test]
fn duplicates_are_recognised_after_processing_only() {
    let filter = DuplicateFilter::new(100);
    let callback = CallbackSpec::payment().render();
    let first = parse(&callback).unwrap();
    // The same callback delivered again (WeChat Pay retries with the same id).
    let again = parse(&callback).unwrap();
    assert_eq!(first.id(), again.id());

    let Delivery::First(claim) = filter.claim(first.id()) else {
        panic!("a new id is first")
    };
    assert_eq!(claim.id(), first.id());
    assert!(matches!(filter.claim(again.id()), Delivery::InProgress));
    assert!(!filter.is_processed(first.id()));
    claim.done();
    assert!(filter.is_processed(first.id()));
    assert!(matches!(filter.claim(again.id()), Delivery::Processed));
    assert_eq!(filter.len(), 1);

    // Processing failed (claim dropped): the retry is processed.
    let failed = parse(&CallbackSpec::payment().render()).unwrap();
    match filter.claim(failed.id()) {
        Delivery::First(claim) => drop(claim),
        other => panic!("{other:?}"),
    }
    assert!(matches!(filter.claim(failed.id()), Delivery::First(_)));
}

#[test]
fn the_filter_is_bounded_and_forgets_the_oldest() {
    let filter = DuplicateFilter::new(3);
    let ids: Vec<String> = (0..5).map(|i| format!("EV-{i}")).collect();
    for id in &ids {
        let Delivery::First(claim) = filter.claim(id) else {
            panic!("{id}")
        };
        claim.done();
    }
    assert_eq!((filter.len(), filter.capacity()), (3, 3));
    assert!(!filter.is_processed("EV-0") && !filter.is_processed("EV-1"));
    assert!(ids[2..].iter().all(|id| filter.is_processed(id)));
    assert!(matches!(filter.claim("EV-0"), Delivery::First(_)));
    assert!(format!("{filter:?}").contains("capacity: 3"));
}

#[test]
fn concurrent_deliveries_are_processed_once() {
    let filter = DuplicateFilter::new(10);
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let processed: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let filter = filter.clone();
                let barrier = Arc::clone(&barrier);
                s.spawn(move || {
                    barrier.wait();
                    match filter.claim("EV-same") {
                        Delivery::First(claim) => {
                            // Hold the claim while the others try.
                            std::thread::sleep(std::time::Duration::from_millis(50));
                            claim.done();
                            true
                        }
                        Delivery::InProgress | Delivery::Processed => false,
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(processed.iter().filter(|p| **p).count(), 1);
    assert!(filter.is_processed("EV-same"));
}

// ---------------------------------------------------------------------------------------------
// over real HTTP

#[test]
fn a_callback_posted_over_http_is_verified_by_a_small_receiver() {
    use http_body_util::{BodyExt, Full};
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let parser = parser();
        let (tx, rx) = tokio::sync::oneshot::channel::<Notification>();
        let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
        // The receiver serves every connection it is given, as a web framework would: the
        // client may open a second one (its pooled connection not yet back when the next call
        // starts, on a loaded machine).
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let parser = parser.clone();
                let tx = Arc::clone(&tx);
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let parser = parser.clone();
                    let tx = Arc::clone(&tx);
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await?.to_bytes();
                        let answer = match parser.parse(&parts.headers, &body) {
                            Ok(n) => {
                                if let Some(tx) = tx.lock().unwrap().take() {
                                    let _ = tx.send(n);
                                }
                                notify::success()
                            }
                            Err(e) => notify::failure_for(&e),
                        };
                        Ok::<_, hyper::Error>(answer.map(|b| Full::new(bytes::Bytes::from(b))))
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });

        let client = reqwest::Client::new();
        let callback = CallbackSpec::payment().signer(SignMode::PublicKey).render();
        let response = client
            .post(format!("http://{addr}/notify"))
            .headers(callback.headers.clone())
            .body(callback.body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        let notification = rx.await.unwrap();
        let tx: Transaction = notification.json().unwrap();
        assert_eq!(tx.trade_state, "SUCCESS");

        // The receiver answers a tampered delivery with 401 and WeChat's failure body.
        let tampered = CallbackSpec::payment().render().tampered();
        let response = client
            .post(format!("http://{addr}/notify"))
            .headers(tampered.headers)
            .body(tampered.body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let body: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(body["code"], "FAIL");
    });
}

#[test]
fn the_client_parses_callbacks_with_its_own_keys() {
    let client = support::identity().apiv3_key(APIV3_KEY).build().unwrap();
    let callback = CallbackSpec::payment().render();
    let notification = client
        .notifications()
        .unwrap()
        .parse(&callback.headers, &callback.body)
        .unwrap();
    assert_eq!(notification.event_type(), "TRANSACTION.SUCCESS");

    // Without the APIv3 key there is nothing to decrypt with; a wrong length is refused early.
    let err = support::identity()
        .build()
        .unwrap()
        .notifications()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains(".apiv3_key(..)"), "{err}");
    let err = support::identity().apiv3_key("short").build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "configuration error: the APIv3 key must be exactly 32 bytes, found 5"
    );
    // The key never shows in the builder's or the parser's Debug.
    let debug = format!(
        "{:?} {:?}",
        support::identity().apiv3_key(APIV3_KEY),
        client.notifications().unwrap()
    );
    assert!(!debug.contains(APIV3_KEY), "{debug}");
}
