//! Failover to the backup host and fail-back; opt-in retries of GETs.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use support::scripted::TestServer;
use wechatpay::{Client, ClientBuilder, ErrorKind, RetryPolicy};
use wechatpay_sandbox::{Answer, Fault, Sandbox};

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The merchant's signing identity, aimed at `base_uri`.
fn signer(sandbox: &Sandbox, base_uri: &str) -> ClientBuilder {
    let id = sandbox.identity();
    Client::builder()
        .mchid(&id.mchid)
        .serial(&id.merchant_serial)
        .private_key(&id.merchant_private_key_pem)
        .base_uri(base_uri)
        .allow_insecure_http(true)
}

/// [`signer`] with the WeChat Pay public key configured.
fn merchant(sandbox: &Sandbox, base_uri: &str) -> ClientBuilder {
    let id = sandbox.identity();
    signer(sandbox, base_uri).platform_key(&id.public_key_id, &id.public_key_pem)
}

/// [`signer`] with no platform key: the ring downloads the certificates itself.
fn self_keyed(sandbox: &Sandbox, base_uri: &str) -> ClientBuilder {
    signer(sandbox, base_uri).auto_certificates(&sandbox.identity().apiv3_key)
}

fn order(sandbox: &Sandbox, n: usize) -> serde_json::Value {
    json!({ "json": {
        "appid": "wxd678efh567hg6787", "mchid": sandbox.identity().mchid, "description": "failover",
        "out_trade_no": format!("FAILOVER-{n}"), "notify_url": "https://example.com/notify",
        "amount": { "total": 1 },
    } })
}

/// A TLS server on 127.0.0.1 whose certificate the client does not trust (no root added): the
/// handshake fails before a byte of the request is sent. Returns its address and how many
/// handshakes it saw.
fn untrusted_tls_primary() -> (String, Arc<AtomicUsize>) {
    use openssl::ssl::{SslAcceptor, SslMethod};
    let server = support::untrusted_server();
    let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    acceptor.set_private_key(&server.key).unwrap();
    acceptor.set_certificate(&server.cert).unwrap();
    let acceptor = acceptor.build();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!(
        "https://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    let handshakes = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&handshakes);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            // The client refuses the certificate: the handshake ends with an alert.
            assert!(acceptor.accept(stream).is_err(), "the client trusted it");
        }
    });
    (uri, handshakes)
}

#[test]
fn a_failed_tls_handshake_with_the_primary_fails_over() {
    let backup = Sandbox::start().unwrap();
    let (primary, handshakes) = untrusted_tls_primary();
    let client = merchant(&backup, &primary)
        .backup_base_uri(backup.base_uri())
        .build()
        .unwrap();
    let answer = client["v3/pay/transactions/native"]
        .post(order(&backup, 200))
        .unwrap();
    assert!(answer.signature_verified());
    assert!(handshakes.load(Ordering::SeqCst) >= 1);
    let sent = backup.requests();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].header("user-agent").unwrap().ends_with(" failover"));
    // Async too (the primary is now avoided for the cool-down: straight to the backup).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(client["v3/pay/transactions/native"].post_async(order(&backup, 201)))
        .unwrap();
    assert_eq!(backup.requests().len(), 2);
}

#[test]
fn the_key_rings_failed_download_does_not_fail_back_to_a_dead_primary() {
    let backup = Sandbox::start().unwrap();
    let id = backup.identity();
    let (primary, handshakes) = untrusted_tls_primary();
    let client = self_keyed(&backup, &primary)
        .secret(&id.apiv2_secret)
        .backup_base_uri(backup.base_uri())
        .build()
        .unwrap();
    // The ring's first download cannot reach the primary, and the backup answers it with an
    // error: the call fails, and the primary stays down for the cool-down.
    backup.set_fault(Some(Fault::ServerError(500)));
    let err = client["v3/pay/transactions/native"]
        .post(order(&backup, 300))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api, "{err}");
    assert_eq!(handshakes.load(Ordering::SeqCst), 1);
    // So the next call (APIv2: no key ring) goes straight to the backup; it would try the dead
    // primary first if the download's error answer had counted as the primary's.
    backup.set_fault(None);
    let answer = client["v2/pay/micropay"]
        .post(json!({ "xml": {
            "appid": "wxd678efh567hg6787", "mch_id": id.mchid, "body": "failover",
            "out_trade_no": "FAILOVER-V2", "total_fee": 1, "spbill_create_ip": "127.0.0.1",
            "auth_code": "134567890123456789",
        } }))
        .unwrap();
    assert_eq!(answer.xml().unwrap()["return_code"], "SUCCESS");
    assert_eq!(
        handshakes.load(Ordering::SeqCst),
        1,
        "the primary was tried again"
    );
}

#[test]
fn a_key_ring_fills_itself_from_the_backup_while_the_primary_is_down() {
    let backup = Sandbox::start().unwrap();
    backup.set_sign_mode(wechatpay_sandbox::SignMode::Certificate);
    let id = backup.identity();
    // No platform key at all: the first request needs the certificates first.
    let client = self_keyed(&backup, &format!("http://127.0.0.1:{}/", free_port()))
        .backup_base_uri(backup.base_uri())
        .build()
        .unwrap();
    let answer = client["v3/pay/transactions/native"]
        .post(order(&backup, 100))
        .unwrap();
    assert!(answer.signature_verified());
    let paths: Vec<String> = backup
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(paths, ["/v3/certificates", "/v3/pay/transactions/native"]);
    assert!(
        backup
            .requests()
            .iter()
            .all(|r| r.header("user-agent").unwrap().ends_with(" failover"))
    );
    assert!(client.key_ring().unwrap().contains(&id.platform_serial));
}

#[test]
fn an_unreachable_primary_fails_over_and_traffic_comes_back_when_it_recovers() {
    let port = free_port();
    let backup = Sandbox::start().unwrap();
    let primary_uri = format!("http://127.0.0.1:{port}/");
    let client = merchant(&backup, &primary_uri)
        .backup_base_uri(backup.base_uri())
        .failover_cooldown(Duration::from_millis(800))
        .build()
        .unwrap();

    // Nothing listens on the primary: the POST (never received) goes to the backup, signed
    // afresh, and says so in its User-Agent.
    client["v3/pay/transactions/native"]
        .post(order(&backup, 1))
        .unwrap();
    let sent = backup.requests();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].verdict.is_ok(), "{:?}", sent[0].verdict);
    assert!(sent[0].header("user-agent").unwrap().ends_with(" failover"));

    // During the cool-down, straight to the backup (async too).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(client["v3/pay/transactions/native"].post_async(order(&backup, 2)))
        .unwrap();
    assert_eq!(backup.requests().len(), 2);

    // The primary comes back; after the cool-down one request probes it, then all go there.
    let primary = Sandbox::builder().port(port).start().unwrap();
    std::thread::sleep(Duration::from_millis(900));
    for n in 3..6 {
        client["v3/pay/transactions/native"]
            .post(order(&backup, n))
            .unwrap();
    }
    assert_eq!(primary.requests().len(), 3);
    assert_eq!(backup.requests().len(), 2);
    assert!(
        !primary.requests()[0]
            .header("user-agent")
            .unwrap()
            .ends_with(" failover")
    );
}

#[test]
fn a_request_that_reached_the_primary_is_never_sent_again() {
    let primary = Sandbox::start().unwrap();
    let backup = Sandbox::start().unwrap();
    primary.set_fault(Some(Fault::ConnectionReset));
    let client = merchant(&primary, primary.base_uri())
        .backup_base_uri(backup.base_uri())
        .build()
        .unwrap();
    let err = client["v3/pay/transactions/native"]
        .post(order(&primary, 10))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(!err.is_connect());
    assert_eq!(primary.requests().len(), 1);
    assert!(backup.requests().is_empty(), "no duplicate send");
    // And the primary is not marked down: the next request goes there again.
    primary.set_fault(None);
    client["v3/pay/transactions/native"]
        .post(order(&primary, 11))
        .unwrap();
    assert_eq!(primary.requests().len(), 2);
    assert!(backup.requests().is_empty());
}

#[test]
fn failover_applies_to_the_client_base_only_and_can_be_turned_off() {
    let port = free_port();
    let backup = Sandbox::start().unwrap();
    let dead = format!("http://127.0.0.1:{port}/");
    // A per-request base_uri is the caller's choice: no failover.
    let client = merchant(&backup, backup.base_uri())
        .backup_base_uri(backup.base_uri().replace("127.0.0.1", "localhost"))
        .build()
        .unwrap();
    let mut options = order(&backup, 20);
    options["base_uri"] = json!(dead);
    let err = client["v3/pay/transactions/native"]
        .post(options)
        .unwrap_err();
    assert!(err.is_connect(), "{err}");
    assert!(backup.requests().is_empty());
    // no_failover: the connect error is returned.
    let client = merchant(&backup, &dead).no_failover().build().unwrap();
    assert!(
        client["v3/pay/transactions/native"]
            .post(order(&backup, 21))
            .unwrap_err()
            .is_connect()
    );
    assert!(backup.requests().is_empty());
    // A backup equal to the base is refused.
    let err = merchant(&backup, backup.base_uri())
        .backup_base_uri(backup.base_uri())
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("backup_base_uri is the base URI itself"),
        "{err}"
    );
    // The production host has WeChat Pay's backup by default; another base has none.
    assert_eq!(
        wechatpay::DEFAULT_BACKUP_BASE_URI,
        "https://api2.mch.weixin.qq.com/"
    );
}

/// A test server that answers `status` `failures` times, then 200.
fn flaky(status: u16, failures: usize) -> (TestServer, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    let server = TestServer::start(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) < failures {
            Answer::error(status, "SYSTEM_ERROR", "try again")
        } else {
            Answer::json(200, &json!({ "ok": true }))
        }
    });
    (server, count)
}

fn quick() -> RetryPolicy {
    RetryPolicy::default()
        .base_delay(Duration::from_millis(20))
        .max_delay(Duration::from_millis(50))
}

#[test]
fn gets_are_retried_on_5xx_and_429_with_a_fresh_signature() {
    for status in [500, 503, 429] {
        let (server, count) = flaky(status, 2);
        let client = support::builder(&server).retry(quick()).build().unwrap();
        let answer = client["v3/things/{id}"].get(json!({ "id": "1" })).unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(count.load(Ordering::SeqCst), 3, "{status}");
        let nonces: std::collections::HashSet<String> = server
            .requests()
            .iter()
            .map(|r| r.auth_ok().nonce_str.clone())
            .collect();
        assert_eq!(nonces.len(), 3, "each attempt is signed afresh");
    }
    // Async too.
    let (server, count) = flaky(503, 1);
    let client = support::builder(&server).retry(quick()).build().unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(client["v3/things/{id}"].get_async(json!({ "id": "1" })))
        .unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[test]
fn retries_are_bounded_and_never_for_other_methods_or_4xx() {
    // Bounded in count.
    let (server, count) = flaky(503, usize::MAX);
    let client = support::builder(&server)
        .retry(quick().max_retries(3))
        .build()
        .unwrap();
    let err = client["v3/things"].get(()).unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(count.load(Ordering::SeqCst), 4);
    drop(server);

    // Bounded in time: no retry may start after max_elapsed.
    let (server, count) = flaky(503, usize::MAX);
    let client = support::builder(&server)
        .retry(
            RetryPolicy::default()
                .base_delay(Duration::from_secs(5))
                .max_delay(Duration::from_secs(5))
                .max_elapsed(Duration::from_millis(1)),
        )
        .build()
        .unwrap();
    client["v3/things"].get(()).unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    drop(server);

    // POST, PUT, PATCH, DELETE: never retried. 4xx: never retried.
    let (server, count) = flaky(503, usize::MAX);
    let client = support::builder(&server).retry(quick()).build().unwrap();
    let endpoint = &client["v3/things"];
    endpoint.post(json!({ "json": {} })).unwrap_err();
    endpoint.put(json!({ "json": {} })).unwrap_err();
    endpoint.patch(json!({ "json": {} })).unwrap_err();
    endpoint.delete(()).unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 4);
    let (server, count) = flaky(400, usize::MAX);
    let client = support::builder(&server).retry(quick()).build().unwrap();
    client["v3/things"].get(()).unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    drop(server);

    // Without a policy, nothing is retried.
    let (server, count) = flaky(503, 1);
    let client = support::client(&server);
    client["v3/things"].get(()).unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn when_the_backup_cannot_be_reached_either_the_error_names_both_hosts() {
    let sandbox = Sandbox::start().unwrap();
    let (primary_port, backup_port) = (free_port(), free_port());
    let primary = format!("http://127.0.0.1:{primary_port}/");
    let backup = format!("http://127.0.0.1:{backup_port}/");
    let client = merchant(&sandbox, &primary)
        .backup_base_uri(&backup)
        .build()
        .unwrap();
    let err = client["v3/pay/transactions/native"]
        .post(order(&sandbox, 1))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(err.is_connect(), "{err}");
    let text = err.to_string();
    // The backup's own failure, then why the backup was used.
    assert!(
        text.starts_with("transport error: ")
            && text.contains(&format!("(127.0.0.1:{backup_port})"))
            && text.contains("(sent to the backup host after the primary failed: ")
            && text.contains(&format!("(127.0.0.1:{primary_port})")),
        "{text}"
    );
    // During the cool-down the primary is skipped, and the error says why.
    let err = client["v3/pay/transactions/native"]
        .post(order(&sandbox, 2))
        .unwrap_err();
    assert_eq!(
        err.to_string().rsplit_once(" (sent").unwrap().1,
        format!(" to the backup host: the primary {primary} could not be reached shortly before)")
    );
    assert!(sandbox.requests().is_empty());
}
