//! The key ring against the sandbox: first download, trust, rotation, expiry, public-key mode,
//! tampered downloads, the unknown-serial rate limit, concurrency, persistence; blocking and
//! async.

use std::time::{Duration, Instant};

use serde_json::json;
use wechatpay::keyring::EntryKind;
use wechatpay::{Client, ClientBuilder, ErrorKind, VerificationFailure};
use wechatpay_sandbox::{Event, Fault, Sandbox, SignMode};

mod support;
use support::receiver;

const CERTIFICATES: &str = "/v3/certificates";

/// The merchant's own settings, with no platform key at all.
fn merchant(sandbox: &Sandbox) -> ClientBuilder {
    let id = sandbox.identity();
    Client::builder()
        .mchid(&id.mchid)
        .serial(&id.merchant_serial)
        .private_key(&id.merchant_private_key_pem)
        .base_uri(sandbox.base_uri())
        .allow_insecure_http(true)
}

/// [`merchant`] with the WeChat Pay public key configured and automatic certificates.
fn anchored(sandbox: &Sandbox) -> ClientBuilder {
    let id = sandbox.identity();
    merchant(sandbox)
        .platform_key(&id.public_key_id, &id.public_key_pem)
        .auto_certificates(&id.apiv3_key)
}

fn downloads(sandbox: &Sandbox) -> usize {
    sandbox
        .requests()
        .iter()
        .filter(|r| r.path() == CERTIFICATES)
        .count()
}

/// A Native prepay with a fresh order number: a signed 200 answer.
fn query(client: &Client, sandbox: &Sandbox) -> wechatpay::Result<wechatpay::Response> {
    client["v3/pay/transactions/native"].post(order(sandbox))
}

/// [`query`], async.
async fn query_async(client: &Client, sandbox: &Sandbox) -> wechatpay::Result<wechatpay::Response> {
    client["v3/pay/transactions/native"]
        .post_async(order(sandbox))
        .await
}

fn order(sandbox: &Sandbox) -> serde_json::Value {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    json!({ "json": {
        "appid": "wxd678efh567hg6787", "mchid": sandbox.identity().mchid, "description": "keyring",
        "out_trade_no": format!("KEYRING-{n}"), "notify_url": "https://example.com/notify",
        "amount": { "total": 1 },
    } })
}

/// WeChat Pay switches to a new certificate (valid for a day) and signs the certificate list
/// with it, as after the overlap; returns its serial.
fn switch_to_a_new_certificate(sandbox: &Sandbox) -> String {
    let new = sandbox
        .rotate_platform_certificate(Duration::from_secs(86_400))
        .unwrap();
    sandbox.sign_certificate_list_with_newest(true);
    new
}

/// `err` is a verification failure naming `serial` as unknown.
fn names_unknown_serial(err: &wechatpay::Error, serial: &str) {
    assert!(
        matches!(err.verification(), Some(VerificationFailure::UnknownSerial(s)) if s == serial),
        "{err}"
    );
}

/// A 2xx answer, verified.
fn verified(result: wechatpay::Result<wechatpay::Response>) {
    match result {
        Ok(response) => assert!(response.signature_verified()),
        Err(e) => panic!("not verified: {e}"),
    }
}

#[test]
fn the_first_download_with_no_key_verifies_itself_and_then_everything_verifies() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let id = sandbox.identity();
    let client = merchant(&sandbox)
        .auto_certificates(&id.apiv3_key)
        .build()
        .unwrap();
    let ring = client.key_ring().unwrap();
    assert!(ring.ids().is_empty());
    verified(query(&client, &sandbox));
    assert_eq!(ring.ids(), vec![id.platform_serial.clone()]);
    let entry = &ring.entries()[0];
    assert!(!entry.configured);
    assert!(matches!(entry.kind, EntryKind::Certificate { not_after, .. } if not_after > 0));
    // The download came first, then the request; one download only.
    let paths: Vec<String> = sandbox
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(paths[0], CERTIFICATES);
    assert_eq!(downloads(&sandbox), 1);
    verified(query(&client, &sandbox));
    assert_eq!(downloads(&sandbox), 1);
}

#[test]
fn a_configured_key_anchors_the_download() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    let client = anchored(&sandbox).build().unwrap();
    client.refresh_certificates().unwrap();
    let ring = client.key_ring().unwrap();
    let mut ids = ring.ids();
    ids.sort();
    let mut expected = vec![id.platform_serial.clone(), id.public_key_id.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    // Both kinds verify: answers in either mode.
    verified(query(&client, &sandbox));
    sandbox.set_sign_mode(SignMode::Certificate);
    verified(query(&client, &sandbox));

    // A configured key that is not WeChat Pay's: the download is refused, nothing is added.
    let stranger = openssl::rsa::Rsa::generate(2048)
        .and_then(|k| k.public_key_to_pem())
        .unwrap();
    sandbox.set_sign_mode(SignMode::PublicKey);
    let fooled = merchant(&sandbox)
        .platform_key(&id.public_key_id, &stranger)
        .auto_certificates(&id.apiv3_key)
        .build()
        .unwrap();
    let err = fooled.refresh_certificates().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification, "{err}");
    assert_eq!(
        fooled.key_ring().unwrap().ids(),
        vec![id.public_key_id.clone()]
    );
}

#[test]
fn a_tampered_download_is_refused_and_the_ring_is_unchanged() {
    let sandbox = Sandbox::start().unwrap();
    let client = anchored(&sandbox).build().unwrap();
    let before = client.key_ring().unwrap().ids();
    sandbox.set_route_fault(CERTIFICATES, Some(Fault::TamperedBody));
    let err = client.refresh_certificates().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification, "{err}");
    assert_eq!(client.key_ring().unwrap().ids(), before);
    // Other routes are untouched, and the next clean download works.
    verified(query(&client, &sandbox));
    sandbox.set_route_fault(CERTIFICATES, None);
    client.refresh_certificates().unwrap();
    assert_eq!(client.key_ring().unwrap().ids().len(), 2);
}

#[test]
fn a_replayed_certificate_list_is_refused_and_the_ring_is_unchanged() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    // A genuine certificate list, signed with the public key the client under test trusts
    // (the request names it, as that client's download does), captured by another client.
    let captured = sandbox.client()["v3/certificates"]
        .get(json!({ "headers": { "Wechatpay-Serial": id.public_key_id } }))
        .unwrap();
    assert!(captured.signature_verified());
    // From now on the sandbox serves that same answer, byte for byte, to every download.
    let mut answer =
        wechatpay_sandbox::Answer::raw(200, "application/json", captured.bytes().to_vec());
    for name in [
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
        "Wechatpay-Signature",
        "Wechatpay-Serial",
    ] {
        answer = answer.header(name, captured.headers()[name].to_str().unwrap());
    }
    sandbox.script(move |request| (request.path() == CERTIFICATES).then(|| answer.clone()));

    let captured_at = downloads(&sandbox);
    let client = anchored(&sandbox).build().unwrap();
    // The first sighting is taken.
    client.refresh_certificates().unwrap();
    let ring = client.key_ring().unwrap();
    let before = ring.ids();
    assert!(ring.contains(&id.platform_serial), "{before:?}");
    // The second, within its 300 s window, is a replay: refused, nothing changes.
    let err = client.refresh_certificates().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification, "{err}");
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::Replayed {
            serial: captured.headers()["Wechatpay-Serial"]
                .to_str()
                .unwrap()
                .to_owned(),
            nonce: captured.headers()["Wechatpay-Nonce"]
                .to_str()
                .unwrap()
                .to_owned(),
        })
    );
    assert_eq!(client.key_ring().unwrap().ids(), before);
    // Both were downloaded: the refusal is the client's, not a missing request.
    assert_eq!(downloads(&sandbox), captured_at + 2);
}

/// A `/v3/certificates` list of one entry: `plaintext` sealed under the APIv3 key with
/// `associated_data`, announced as the platform certificate's serial.
fn sealed_list(sandbox: &Sandbox, associated_data: &str, plaintext: &[u8]) -> serde_json::Value {
    let id = sandbox.identity();
    let nonce = "0123456789ab";
    let sealed = wechatpay::crypto::aes_256_gcm_encrypt(
        id.apiv3_key.as_bytes(),
        nonce.as_bytes(),
        associated_data.as_bytes(),
        plaintext,
    )
    .unwrap();
    json!({ "data": [{
        "serial_no": id.platform_serial,
        "effective_time": "2024-01-01T00:00:00+08:00",
        "expire_time": "2124-01-01T00:00:00+08:00",
        "encrypt_certificate": {
            "algorithm": "AEAD_AES_256_GCM",
            "nonce": nonce,
            "associated_data": associated_data,
            "ciphertext": wechatpay::crypto::base64_encode(&sealed),
        },
    }] })
}

#[test]
fn only_a_certificate_sealed_as_one_is_taken_from_a_download() {
    let sandbox = Sandbox::start().unwrap();
    let pem = sandbox.identity().platform_certificate_pem.clone();
    let der = wechatpay::crypto::Certificate::load(&pem)
        .unwrap()
        .as_openssl()
        .to_der()
        .unwrap();
    let list = std::sync::Arc::new(std::sync::Mutex::new(json!({})));
    let answer = list.clone();
    sandbox.script(move |request| {
        (request.path() == CERTIFICATES)
            .then(|| wechatpay_sandbox::Answer::json(200, &answer.lock().unwrap()))
    });
    let mut with_garbage_after = der.clone();
    with_garbage_after.extend_from_slice(b"trailing");
    let refused: [(&str, &str, Vec<u8>, &str); 5] = [
        // A callback's resource (sealed with its own associated data), or anything else the
        // APIv3 key seals, is not a certificate.
        (
            "transaction",
            "another purpose",
            pem.clone().into_bytes(),
            "associated_data",
        ),
        (
            "certificate",
            "a PEM block found inside other text",
            format!("Note: keep this.\n{pem}\nmore text").into_bytes(),
            "ciphertext",
        ),
        (
            "certificate",
            "two certificates",
            format!("{pem}{pem}").into_bytes(),
            "ciphertext",
        ),
        (
            "certificate",
            "a file path",
            b"file:///etc/ssl/certs/ca-certificates.crt".to_vec(),
            "ciphertext",
        ),
        (
            "certificate",
            "DER with bytes after it",
            with_garbage_after,
            "ciphertext",
        ),
    ];
    for (associated_data, what, plaintext, field) in refused {
        *list.lock().unwrap() = sealed_list(&sandbox, associated_data, &plaintext);
        let client = anchored(&sandbox).build().unwrap();
        let before = client.key_ring().unwrap().ids();
        let err = client.refresh_certificates().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{what}: {err}");
        assert_eq!(
            err.json_path(),
            Some(format!("data[].encrypt_certificate.{field}").as_str()),
            "{what}: {err}"
        );
        assert!(
            err.to_string().contains("the list is refused"),
            "{what}: {err}"
        );
        assert_eq!(
            client.key_ring().unwrap().ids(),
            before,
            "{what}: the ring changed"
        );
    }
    // The same certificate, sealed as one, PEM or DER: taken.
    for plaintext in [pem.clone().into_bytes(), der] {
        *list.lock().unwrap() = sealed_list(&sandbox, "certificate", &plaintext);
        let client = anchored(&sandbox).build().unwrap();
        client.refresh_certificates().unwrap();
        assert!(
            client
                .key_ring()
                .unwrap()
                .contains(&sandbox.identity().platform_serial)
        );
    }
}

#[test]
fn rotation_is_followed_when_an_answer_names_the_new_certificate() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let id = sandbox.identity();
    let client = merchant(&sandbox)
        .auto_certificates(&id.apiv3_key)
        .build()
        .unwrap();
    verified(query(&client, &sandbox));
    let old = id.platform_serial.clone();

    let new = sandbox
        .rotate_platform_certificate(Duration::from_secs(86_400))
        .unwrap();
    // The answer names the new serial: one refresh (signed with the old certificate, which
    // the ring trusts), then it verifies.
    verified(query(&client, &sandbox));
    let ring = client.key_ring().unwrap();
    assert!(
        ring.contains(&new) && ring.contains(&old),
        "{:?}",
        ring.ids()
    );
    assert_eq!(downloads(&sandbox), 2);
    // The preferred (encryption) key is now the newest certificate.
    assert_eq!(ring.preferred().as_deref(), Some(new.as_str()));
    verified(query(&client, &sandbox));
    assert_eq!(downloads(&sandbox), 2);
}

#[test]
fn a_list_signed_by_a_certificate_the_ring_lacks_is_taken_from_the_download() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let id = sandbox.identity();
    let client = merchant(&sandbox)
        .auto_certificates(&id.apiv3_key)
        .build()
        .unwrap();
    verified(query(&client, &sandbox));
    // WeChat Pay switches to a new certificate while this client is not looking: the list
    // that brings it is signed with it.
    let new = switch_to_a_new_certificate(&sandbox);
    verified(query(&client, &sandbox));
    let ring = client.key_ring().unwrap();
    assert!(ring.contains(&new) && ring.contains(&id.platform_serial));
    assert_eq!(downloads(&sandbox), 2);
}

#[test]
fn a_configured_certificate_pins_the_trust_through_a_rotation() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let id = sandbox.identity();
    let client = merchant(&sandbox)
        .platform_key(&id.platform_serial, &id.platform_certificate_pem)
        .auto_certificates(&id.apiv3_key)
        .build()
        .unwrap();
    verified(query(&client, &sandbox));
    let new = switch_to_a_new_certificate(&sandbox);
    // The list is signed by a certificate the configured one cannot vouch for: refused, and
    // the answer signed with it is not taken.
    names_unknown_serial(&query(&client, &sandbox).unwrap_err(), &new);
    names_unknown_serial(&client.refresh_certificates().unwrap_err(), &new);
    assert!(!client.key_ring().unwrap().contains(&new));
}

#[test]
fn an_expired_configured_certificate_still_pins_the_trust() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let id = sandbox.identity();
    // The current certificate comes from the store; the configured one has expired.
    let dir = std::env::temp_dir().join(format!("wechatpay-pinned-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("wechatpay_{}.pem", id.platform_serial)),
        &id.platform_certificate_pem,
    )
    .unwrap();
    let expired = support::certificate(&[0x7E, 0x58], 3600);
    let client = merchant(&sandbox)
        .platform_key("7E58", &expired)
        .auto_certificates(&id.apiv3_key)
        .certificate_dir(&dir)
        .build()
        .unwrap();
    verified(query(&client, &sandbox));
    let new = switch_to_a_new_certificate(&sandbox);
    // A list signed by a certificate the ring lacks: a configured key, even expired, means the
    // merchant chose what to trust, so the download's own word is not taken.
    names_unknown_serial(&query(&client, &sandbox).unwrap_err(), &new);
    assert!(!client.key_ring().unwrap().contains(&new));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_serial_refreshes_are_rate_limited() {
    let sandbox = Sandbox::start().unwrap();
    let client = anchored(&sandbox).build().unwrap();
    verified(query(&client, &sandbox));
    let after_first = downloads(&sandbox);
    sandbox.set_fault(Some(Fault::UnknownSerial));
    for _ in 0..5 {
        let err = query(&client, &sandbox).unwrap_err();
        assert!(
            matches!(
                err.verification(),
                Some(VerificationFailure::UnknownSerial(_))
            ),
            "{err}"
        );
    }
    // Five answers with an unknown serial: one refresh in the minute.
    assert_eq!(downloads(&sandbox), after_first + 1);
}

#[test]
fn expired_certificates_are_dropped_and_refused() {
    let sandbox = Sandbox::start().unwrap();
    let client = anchored(&sandbox).build().unwrap();
    // Long enough to be downloaded on a busy machine, short enough to wait for.
    let short = sandbox
        .rotate_platform_certificate(Duration::from_secs(8))
        .unwrap();
    client.refresh_certificates().unwrap();
    let ring = client.key_ring().unwrap();
    assert!(ring.contains(&short));
    let not_after = ring
        .entries()
        .into_iter()
        .find_map(|e| match e.kind {
            EntryKind::Certificate { not_after, .. } if e.id == short => Some(not_after),
            _ => None,
        })
        .unwrap();
    let wait = (not_after + 1 - unix_now()).max(0) as u64;
    std::thread::sleep(Duration::from_millis(wait * 1000 + 100));
    // The short-lived certificate has expired: gone after the next refresh.
    client.refresh_certificates().unwrap();
    assert!(!ring.contains(&short), "{:?}", ring.ids());
    assert!(
        ring.contains(&sandbox.identity().public_key_id),
        "configured keys stay"
    );

    // An expired configured certificate stays in the ring but verifies nothing.
    let expired = support::certificate(&[0x7E, 0x57], 3600);
    let builder = merchant(&sandbox).platform_key("7E57", &expired);
    let client = builder.build().unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "wechatpay-timestamp",
        unix_now().to_string().parse().unwrap(),
    );
    headers.insert("wechatpay-nonce", "n".parse().unwrap());
    headers.insert("wechatpay-signature", "AAAA".parse().unwrap());
    headers.insert("wechatpay-serial", "7E57".parse().unwrap());
    assert!(matches!(
        client.key_ring().unwrap().verify_at(&headers, b"{}", unix_now()),
        Err(VerificationFailure::ExpiredCertificate { serial, .. }) if serial == "7E57"
    ));

    // A configured certificate verifies nothing before it is valid (beyond the clock window).
    let fresh = support::certificate(&[0x0F, 0x2E], 3600);
    let client = merchant(&sandbox)
        .platform_key("0F2E", &fresh)
        .build()
        .unwrap();
    let ring = client.key_ring().unwrap();
    let not_before = ring
        .entries()
        .into_iter()
        .find_map(|e| match e.kind {
            EntryKind::Certificate { not_before, .. } if e.id == "0F2E" => Some(not_before),
            _ => None,
        })
        .unwrap();
    headers.insert("wechatpay-serial", "0F2E".parse().unwrap());
    let early = not_before - 301;
    headers.insert("wechatpay-timestamp", early.to_string().parse().unwrap());
    let failure = ring.verify_at(&headers, b"{}", early).unwrap_err();
    assert_eq!(
        failure,
        VerificationFailure::CertificateNotYetValid {
            serial: "0F2E".into(),
            not_before
        }
    );
    assert!(
        failure
            .to_string()
            .contains(&format!("valid only from {not_before}"))
    );
    // Within the window it is used (and "AAAA" does not verify).
    let early = not_before - 300;
    headers.insert("wechatpay-timestamp", early.to_string().parse().unwrap());
    assert!(matches!(
        ring.verify_at(&headers, b"{}", early),
        Err(VerificationFailure::BadSignature { serial }) if serial == "0F2E"
    ));
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn a_public_key_only_merchant_carries_on_without_an_error_loop() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_public_key_only(true);
    let client = anchored(&sandbox).build().unwrap();
    client.refresh_certificates().unwrap();
    let ring = client.key_ring().unwrap();
    assert!(ring.public_key_mode());
    assert_eq!(ring.ids(), [sandbox.identity().public_key_id.clone()]);
    for _ in 0..5 {
        verified(query(&client, &sandbox));
    }
    assert_eq!(downloads(&sandbox), 1, "no retry loop");

    // Without a public key there is nothing to carry on with: the error says what happened.
    let id = sandbox.identity();
    let lost = merchant(&sandbox)
        .auto_certificates(&id.apiv3_key)
        .build()
        .unwrap();
    let err = query(&lost, &sandbox).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api, "{err}");
    assert_eq!(err.api().unwrap().code(), Some("RESOURCE_NOT_EXISTS"));
}

#[test]
fn requests_do_not_wait_for_a_refresh_in_progress() {
    let sandbox = Sandbox::start().unwrap();
    let client = anchored(&sandbox).build().unwrap();
    verified(query(&client, &sandbox));
    sandbox.set_route_fault(
        CERTIFICATES,
        Some(Fault::SlowReply(Duration::from_millis(1500))),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let refreshing = tokio::spawn({
            let client = client.clone();
            async move { client.refresh_certificates_async().await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let request = client["v3/pay/transactions/native"].post_async(order(&sandbox));
            tasks.push(tokio::spawn(async move {
                let started = Instant::now();
                let outcome = request.await;
                (started.elapsed(), outcome)
            }));
        }
        for task in tasks {
            let (elapsed, outcome) = task.await.unwrap();
            outcome.unwrap();
            assert!(elapsed < Duration::from_millis(1000), "waited {elapsed:?}");
        }
        refreshing.await.unwrap().unwrap();
    });
    // Blocking requests from other threads during a refresh do not wait either.
    let slow = std::thread::spawn({
        let client = client.clone();
        move || client.refresh_certificates()
    });
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    verified(query(&client, &sandbox));
    assert!(started.elapsed() < Duration::from_millis(1000));
    slow.join().unwrap().unwrap();
}

#[test]
fn async_clients_refresh_in_the_background() {
    let sandbox = Sandbox::start().unwrap();
    let client = anchored(&sandbox).build().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let answer = client["v3/certificates"].get_async(()).await;
        assert!(answer.is_ok());
        // The background task's first refresh, without any request waiting for it.
        for _ in 0..50 {
            if client
                .key_ring()
                .unwrap()
                .contains(&sandbox.identity().platform_serial)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    assert!(
        client
            .key_ring()
            .unwrap()
            .contains(&sandbox.identity().platform_serial)
    );
}

#[test]
fn a_callback_with_an_unknown_serial_triggers_a_refresh_for_the_retry() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    let client = anchored(&sandbox).build().unwrap();
    client.refresh_certificates().unwrap();
    // From now on callbacks are signed with the newest certificate.
    sandbox.set_sign_mode(SignMode::Certificate);
    let new = sandbox
        .rotate_platform_certificate(Duration::from_secs(86_400))
        .unwrap();

    let (url, received) = receiver();
    sandbox.notify(&url, Event::payment("KEYRING-CB")).unwrap();
    let (headers, body) = received.recv().unwrap();
    let parser = client.notifications().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let err = parser.parse(&headers, &body).unwrap_err();
        assert!(
            matches!(err.verification(), Some(VerificationFailure::UnknownSerial(s)) if *s == new)
        );
        for _ in 0..50 {
            if client.key_ring().unwrap().contains(&new) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    // WeChat Pay's retry of the same callback now verifies.
    let notification = parser.parse(&headers, &body).unwrap();
    assert_eq!(notification.event_type(), "TRANSACTION.SUCCESS");
    assert!(
        client.key_ring().unwrap().contains(&id.platform_serial),
        "the old one stays"
    );
}

#[test]
fn forged_callbacks_do_not_use_up_the_refreshes_answers_need() {
    let sandbox = Sandbox::start().unwrap();
    let client = anchored(&sandbox).build().unwrap();
    client.refresh_certificates().unwrap();
    assert_eq!(downloads(&sandbox), 1);
    sandbox.set_sign_mode(SignMode::Certificate);

    // Anyone can post this to the notify URL: a fresh timestamp, a serial nobody has, a
    // signature that cannot be checked without that key.
    let mut headers = http::HeaderMap::new();
    for (name, value) in [
        ("wechatpay-timestamp", unix_now().to_string()),
        ("wechatpay-nonce", "FORGEDFORGEDFORGEDFORGED".to_owned()),
        ("wechatpay-signature", "Zm9yZ2Vk".repeat(43)),
        (
            "wechatpay-serial",
            "1234567890ABCDEF1234567890ABCDEF12345678".to_owned(),
        ),
    ] {
        headers.insert(name, value.parse().unwrap());
    }
    let parser = client.notifications().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let err = parser.parse(&headers, b"{}").unwrap_err();
        assert!(
            matches!(
                err.verification(),
                Some(VerificationFailure::UnknownSerial(_))
            ),
            "{err}"
        );
        // The callback's refresh runs in the background.
        for _ in 0..100 {
            if downloads(&sandbox) == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    assert_eq!(downloads(&sandbox), 2);

    // Within the minute, WeChat Pay rotates: the first answer naming the new certificate
    // still gets its refresh, and verifies.
    let new = sandbox
        .rotate_platform_certificate(Duration::from_secs(86_400))
        .unwrap();
    verified(query(&client, &sandbox));
    assert!(client.key_ring().unwrap().contains(&new));
    assert_eq!(downloads(&sandbox), 3);
}

/// A store that counts how often it is read.
struct CountingStore(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl wechatpay::keyring::KeyStore for CountingStore {
    fn load(&self) -> std::io::Result<Vec<Vec<u8>>> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Vec::new())
    }
    fn save(&self, _: &str, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
    fn remove(&self, _: &str) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_flood_of_forged_callbacks_reads_the_store_once_a_minute() {
    let sandbox = Sandbox::start().unwrap();
    let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let client = anchored(&sandbox)
        .certificate_store(CountingStore(reads.clone()))
        .build()
        .unwrap();
    client.refresh_certificates().unwrap();
    let before = reads.load(std::sync::atomic::Ordering::SeqCst);
    let parser = client.notifications().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        for n in 0..20 {
            let mut headers = http::HeaderMap::new();
            for (name, value) in [
                ("wechatpay-timestamp", unix_now().to_string()),
                ("wechatpay-nonce", "FORGEDFORGEDFORGEDFORGED".to_owned()),
                ("wechatpay-signature", "Zm9yZ2Vk".repeat(43)),
                ("wechatpay-serial", format!("{n:040X}")),
            ] {
                headers.insert(name, value.parse().unwrap());
            }
            assert!(parser.parse(&headers, b"{}").is_err());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    });
    // The first callback's refresh reads the store (and downloads); the other 19 are
    // rate-limited before they queue.
    assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), before + 1);
    assert_eq!(downloads(&sandbox), 2);
}

#[test]
fn downloads_persist_in_a_directory_for_the_next_start() {
    let sandbox = Sandbox::start().unwrap();
    let dir = std::env::temp_dir().join(format!("wechatpay-keyring-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let id = sandbox.identity();
    let client = anchored(&sandbox).certificate_dir(&dir).build().unwrap();
    client.refresh_certificates().unwrap();
    let file = dir.join(format!("wechatpay_{}.pem", id.platform_serial));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        id.platform_certificate_pem
    );

    // A restart: the certificate is there before any request, no network needed.
    let restarted = merchant(&sandbox)
        .base_uri("http://127.0.0.1:9/")
        .allow_insecure_http(true)
        .auto_certificates(&id.apiv3_key)
        .certificate_dir(&dir)
        .build()
        .unwrap();
    assert!(restarted.key_ring().unwrap().contains(&id.platform_serial));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn configuration_rules() {
    let sandbox = Sandbox::start().unwrap();
    // No platform key and no automatic certificates: refused, naming both ways.
    let err = merchant(&sandbox).build().unwrap_err();
    assert!(err.to_string().contains("auto_certificates"), "{err}");
    let err = anchored(&sandbox)
        .refresh_interval(Duration::from_secs(5))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("shorter than a minute"), "{err}");
    let err = merchant(&sandbox)
        .platform_key(
            &sandbox.identity().public_key_id,
            &sandbox.identity().public_key_pem,
        )
        .build()
        .unwrap()
        .refresh_certificates()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[test]
fn a_failed_first_download_is_not_repeated_by_every_request() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_route_fault(CERTIFICATES, Some(Fault::ServerError(500)));
    let id = sandbox.identity();
    let client = merchant(&sandbox)
        .auto_certificates(&id.apiv3_key)
        .build()
        .unwrap();
    for _ in 0..5 {
        let err = query(&client, &sandbox).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Api, "{err}");
    }
    assert_eq!(
        downloads(&sandbox),
        1,
        "one attempt a minute after a failure"
    );

    // Concurrent first requests share one download.
    let client = merchant(&sandbox)
        .auto_certificates(&id.apiv3_key)
        .build()
        .unwrap();
    sandbox.clear_requests();
    sandbox.set_sign_mode(SignMode::Certificate);
    sandbox.set_route_fault(
        CERTIFICATES,
        Some(Fault::SlowReply(Duration::from_millis(500))),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..6)
            .map(|_| tokio::spawn(client["v3/pay/transactions/native"].post_async(order(&sandbox))))
            .collect();
        for task in tasks {
            verified(task.await.unwrap());
        }
    });
    assert_eq!(downloads(&sandbox), 1);
}

#[test]
fn concurrent_explicit_refreshes_share_one_download() {
    let sandbox = Sandbox::start().unwrap();
    let client = anchored(&sandbox).build().unwrap();
    sandbox.set_route_fault(
        CERTIFICATES,
        Some(Fault::SlowReply(Duration::from_millis(500))),
    );
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || client.refresh_certificates())
        })
        .collect();
    for thread in threads {
        thread.join().unwrap().unwrap();
    }
    assert_eq!(downloads(&sandbox), 1);
}

#[test]
fn the_first_request_can_encrypt_with_a_downloaded_certificate() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let id = sandbox.identity();
    for run_async in [false, true] {
        let client = merchant(&sandbox)
            .auto_certificates(&id.apiv3_key)
            .build()
            .unwrap();
        let mut options = order(&sandbox);
        options["encrypt"] = json!(["/description"]);
        let endpoint = &client["v3/pay/transactions/native"];
        let outcome = if run_async {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(endpoint.post_async(options))
        } else {
            endpoint.post(options)
        };
        verified(outcome);
        let sent = sandbox.requests().pop().unwrap();
        assert_eq!(
            sent.header("wechatpay-serial"),
            Some(id.platform_serial.as_str())
        );
        let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
        assert_ne!(body["description"], "keyring", "encrypted");
    }
}

#[test]
fn a_callback_without_a_runtime_leaves_the_refresh_to_the_next_request() {
    let sandbox = Sandbox::start().unwrap();
    let client = anchored(&sandbox).build().unwrap();
    client.refresh_certificates().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let new = sandbox
        .rotate_platform_certificate(Duration::from_secs(86_400))
        .unwrap();
    let (url, received) = receiver();
    sandbox.notify(&url, Event::payment("KEYRING-CB2")).unwrap();
    let (headers, body) = received.recv().unwrap();
    let parser = client.notifications().unwrap();
    assert!(parser.parse(&headers, &body).is_err());
    // No runtime here: the next (blocking) request refreshes first; the retry then verifies.
    sandbox.set_sign_mode(SignMode::PublicKey);
    verified(query(&client, &sandbox));
    assert!(client.key_ring().unwrap().contains(&new));
    parser.parse(&headers, &body).unwrap();
}

#[test]
fn expired_configured_keys_never_fall_back_to_self_verification() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let id = sandbox.identity();
    let expired = support::certificate(&[0x7E, 0x58], 3600);
    let client = merchant(&sandbox)
        .platform_key("7E58", &expired)
        .auto_certificates(&id.apiv3_key)
        .build()
        .unwrap();
    let err = query(&client, &sandbox).unwrap_err();
    assert!(
        matches!(
            err.verification(),
            Some(VerificationFailure::ExpiredCertificate { .. })
        ),
        "{err}"
    );
    assert_eq!(downloads(&sandbox), 0);
}

#[test]
fn an_expired_configured_certificate_is_never_replaced_by_a_self_verified_download() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let id = sandbox.identity();
    let expired = support::certificate(&[0x7E, 0x58], 3600);
    let client = merchant(&sandbox)
        .platform_key("7E58", &expired)
        .auto_certificates(&id.apiv3_key)
        .build()
        .unwrap();
    let expired_error = |err: wechatpay::Error| {
        assert!(
            matches!(
                err.verification(),
                Some(VerificationFailure::ExpiredCertificate { serial, .. }) if serial == "7E58"
            ),
            "{err}"
        );
    };
    // Asked for, blocking and async, and the background task's first refresh.
    expired_error(client.refresh_certificates().unwrap_err());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        expired_error(client.refresh_certificates_async().await.unwrap_err());
        expired_error(query_async(&client, &sandbox).await.unwrap_err());
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    assert_eq!(downloads(&sandbox), 0);
    assert_eq!(client.key_ring().unwrap().ids(), ["7E58"]);
}

#[test]
fn a_client_shared_by_threads_and_tasks_while_its_ring_is_updated() {
    let sandbox = Sandbox::start().unwrap();
    let client = anchored(&sandbox).build().unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        // The ring changes underneath: rotations and refreshes, swapping snapshots.
        let updater = scope.spawn(|| {
            let mut refreshes = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                sandbox
                    .rotate_platform_certificate(Duration::from_secs(86_400))
                    .unwrap();
                client.refresh_certificates().unwrap();
                refreshes += 1;
            }
            refreshes
        });
        let threads: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    for _ in 0..15 {
                        verified(query(&client, &sandbox));
                    }
                })
            })
            .collect();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let tasks: Vec<_> = (0..4)
                .map(|_| {
                    let client = client.clone();
                    let orders: Vec<_> = (0..15).map(|_| order(&sandbox)).collect();
                    tokio::spawn(async move {
                        for options in orders {
                            let answer = client["v3/pay/transactions/native"]
                                .post_async(options)
                                .await;
                            verified(answer);
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        });
        for thread in threads {
            thread.join().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(updater.join().unwrap() >= 1);
    });
    assert!(client.key_ring().unwrap().ids().len() >= 3);
}

#[test]
fn a_first_download_signed_by_an_expired_certificate_it_carries_names_the_expiry() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let day = Duration::from_secs(86_400);
    let now = std::time::SystemTime::now();
    let expired = sandbox
        .issue_platform_certificate(now - 31 * day, now - day)
        .unwrap();
    sandbox.sign_certificate_list_with(Some(&expired)).unwrap();
    // No key configured: the list must be signed by a certificate it carries that is valid now.
    let client = merchant(&sandbox)
        .auto_certificates(&sandbox.identity().apiv3_key)
        .build()
        .unwrap();
    let err = client.refresh_certificates().unwrap_err();
    assert!(
        matches!(err.verification(), Some(VerificationFailure::ExpiredCertificate { serial, .. }) if *serial == expired),
        "{err}"
    );
    assert!(client.key_ring().unwrap().ids().is_empty());
}
