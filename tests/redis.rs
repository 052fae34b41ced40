//! Many nodes sharing one real `redis-server` (feature `redis`): two clients or receivers with
//! separate memories, each with its own `Redis` handle, as two processes would be. The answer
//! replay memory, callback de-duplication and the platform certificates cross between them;
//! Redis stopped, paused or holding garbage lets nothing unverified through and stops no
//! payment.
#![cfg(feature = "redis")]

use std::time::{Duration, Instant};

use serde_json::json;
use wechatpay::keyring::KeyStore;
use wechatpay::notify::{NotificationParser, NotificationReceiver, Rejection};
use wechatpay::shared::Redis;
use wechatpay::verifier::PlatformVerifier;
use wechatpay::{Client, ErrorKind, VerificationFailure};
use wechatpay_sandbox::{Fault, Sandbox, SignMode};

mod support;
use support::{APIV3_KEY, CallbackSpec, RedisServer, intercept, keys, merchant_of, replayed};

const CERTIFICATES: &str = "/v3/certificates";

/// A node: the merchant with the WeChat Pay public key, its replay memory in `server`.
fn node(sandbox: &Sandbox, server: &RedisServer) -> Client {
    node_on(sandbox, redis(server))
}

/// A node whose replay memory is in `redis`.
fn node_on(sandbox: &Sandbox, redis: Redis) -> Client {
    let id = sandbox.identity();
    merchant_of(sandbox)
        .platform_key(&id.public_key_id, &id.public_key_pem)
        .replay_memory(redis.replay_memory())
        .build()
        .unwrap()
}

/// A `Redis` handle of its own (a process's), with a short timeout.
fn redis(server: &RedisServer) -> Redis {
    Redis::open(&server.url())
        .unwrap()
        .prefix("test:")
        .timeout(Duration::from_millis(200))
        .retry_after(Duration::from_millis(300))
}

fn downloads(sandbox: &Sandbox) -> usize {
    sandbox
        .requests()
        .iter()
        .filter(|r| r.path() == CERTIFICATES)
        .count()
}

fn order(sandbox: &Sandbox, out_trade_no: &str) -> serde_json::Value {
    json!({ "json": {
        "appid": "wxd678efh567hg6787", "mchid": sandbox.identity().mchid, "description": "fleet",
        "out_trade_no": out_trade_no, "notify_url": "https://example.com/notify",
        "amount": { "total": 100, "currency": "CNY" },
    } })
}

fn fresh_order(sandbox: &Sandbox) -> serde_json::Value {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    order(sandbox, &format!("FLEET-{}-{n}", std::process::id()))
}

/// Captures one verified answer of node `a` (a close-order's signed 204) and serves it to
/// `b`'s refund.
fn replay_to(sandbox: &Sandbox, a: &Client, b: &Client) -> wechatpay::Result<wechatpay::Response> {
    let mchid = sandbox.identity().mchid.clone();
    let no = format!("FLEET-CLOSE-{}", std::process::id());
    a["v3/pay/transactions/native"]
        .post(order(sandbox, &no))
        .unwrap();
    let closed = a["v3/pay/transactions/out-trade-no/{no}/close"]
        .post(json!({ "no": no, "json": { "mchid": mchid } }))
        .unwrap();
    assert_eq!(closed.status(), 204);
    let slot = intercept(sandbox, "/v3/refund/domestic/refunds");
    *slot.lock().unwrap() = Some(replayed(204, b"", closed.headers()));
    b["v3/refund/domestic/refunds"].post(json!({ "json": {
        "out_trade_no": no, "out_refund_no": format!("{no}-R"),
        "amount": { "refund": 100, "total": 100, "currency": "CNY" },
    } }))
}

#[test]
fn an_answer_replayed_from_one_node_to_another_is_refused() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::start().unwrap();
    // One node over TCP, the other over the server's Unix socket.
    let a = node(&sandbox, &server);
    let b = node_on(
        &sandbox,
        Redis::open(&server.unix_url()).unwrap().prefix("test:"),
    );
    let err = replay_to(&sandbox, &a, &b).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification, "{err}");
    assert!(
        matches!(
            err.verification(),
            Some(VerificationFailure::Replayed { .. })
        ),
        "{err}"
    );
    // Each verified answer is one key, under the prefix, expiring with its window.
    let answers: Vec<String> = server
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("test:v1:answer:"))
        .collect();
    assert_eq!(answers.len(), 2, "{answers:?}");
    let ttl: i64 = server
        .command(&["TTL", &answers[0]])
        .unwrap()
        .trim_start_matches(':')
        .parse()
        .unwrap();
    assert!((280..=300).contains(&ttl), "{ttl}");

    // Without the shared memory, the other node would have taken it: its own memory never
    // saw the answer.
    let sandbox = Sandbox::start().unwrap();
    let alone = sandbox.client();
    let other = node(&sandbox, &server);
    let taken = replay_to(&sandbox, &other, &alone).unwrap();
    assert_eq!(taken.status(), 204, "the replay the shared memory catches");
}

/// A verified callback from WeChat Pay, its parser's keys those of `tests/support`.
fn receiver(server: &RedisServer) -> NotificationReceiver {
    receiver_on(redis(server))
}

/// A receiver whose duplicate filter is in `redis`.
fn receiver_on(redis: Redis) -> NotificationReceiver {
    let k = keys();
    let mut verifier = PlatformVerifier::new();
    verifier.insert(
        k.platform_serial.clone(),
        wechatpay::crypto::PublicKey::load(&k.platform_cert_pem).unwrap(),
    );
    let parser = NotificationParser::new(APIV3_KEY, verifier).unwrap();
    NotificationReceiver::new(parser).with_duplicate_filter(redis.duplicate_filter(1000))
}

#[test]
fn a_notification_delivered_to_two_nodes_is_processed_once() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (a, b) = (receiver(&server), receiver(&server));
    let callback = CallbackSpec::payment().render();
    let id = serde_json::from_slice::<serde_json::Value>(&callback.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Node A processes it; meanwhile B is told it is in progress (a failure: WeChat retries).
    let first = a.receive(&callback.headers, &callback.body).unwrap();
    let busy = b.receive(&callback.headers, &callback.body).unwrap_err();
    assert!(matches!(busy, Rejection::InProgress { .. }), "{busy:?}");
    assert_eq!(busy.to_response().status(), 429);
    assert!(
        server
            .command(&["GET", &format!("test:v1:notification:{id}")])
            .unwrap()
            .starts_with("v1:p:")
    );
    drop(first.ack());
    // Processed: B answers success without processing, as A would.
    let repeat = b.receive(&callback.headers, &callback.body).unwrap_err();
    assert!(matches!(repeat, Rejection::Duplicate { .. }), "{repeat:?}");
    assert_eq!(repeat.to_response().status(), 204);
    assert_eq!(
        server.command(&["GET", &format!("test:v1:notification:{id}")]),
        Some("v1:done".to_owned())
    );
    let ttl: i64 = server
        .command(&["TTL", &format!("test:v1:notification:{id}")])
        .unwrap()
        .trim_start_matches(':')
        .parse()
        .unwrap();
    assert!((89_000..=90_000).contains(&ttl), "25 hours: {ttl}");

    // A failed processing releases the id for the retry, on any node.
    let other = CallbackSpec::payment().render();
    let claim = a.receive(&other.headers, &other.body).unwrap();
    drop(claim);
    let retry = b.receive(&other.headers, &other.body).unwrap();
    drop(retry.ack());

    // A forged callback is refused whatever Redis says.
    let forged = CallbackSpec::payment().render().tampered();
    let refused = b.receive(&forged.headers, &forged.body).unwrap_err();
    assert!(matches!(refused, Rejection::Invalid(_)), "{refused:?}");
}

/// Names each connection of a pool, to find it in `CLIENT LIST`.
#[cfg(feature = "redis-r2d2")]
#[derive(Debug)]
struct Named;

#[cfg(feature = "redis-r2d2")]
impl r2d2::CustomizeConnection<redis::Connection, redis::RedisError> for Named {
    fn on_acquire(&self, connection: &mut redis::Connection) -> Result<(), redis::RedisError> {
        redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg("merchant-pool")
            .query(connection)
    }
}

/// `CLIENT LIST`'s lines, but for the connection that asks.
fn client_list(server: &RedisServer) -> Vec<String> {
    let mut connection = redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut connection)
        .unwrap();
    list.lines()
        .filter(|line| !line.contains(" cmd=client|list "))
        .map(str::to_owned)
        .collect()
}

/// `CLIENT LIST`'s lines for the connections named `merchant-pool`.
#[cfg(feature = "redis-r2d2")]
fn pool_connections(server: &RedisServer) -> Vec<String> {
    client_list(server)
        .into_iter()
        .filter(|line| line.contains(" name=merchant-pool "))
        .collect()
}

#[cfg(feature = "redis-r2d2")]
#[test]
fn the_claims_run_on_the_services_own_pool_and_an_exhausted_pool_stops_no_callback() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let client = redis::Client::open(server.url()).unwrap();
    let pool = r2d2::Pool::builder()
        .max_size(1)
        .connection_customizer(Box::new(Named))
        .build(client.clone())
        .unwrap();
    let redis = Redis::from_client(client)
        .prefix("test:")
        .timeout(Duration::from_millis(200))
        .retry_after(Duration::from_millis(300))
        .pool(pool.clone());
    let (a, b) = (receiver_on(redis), receiver(&server));
    let key = |callback: &support::Callback| {
        let body = serde_json::from_slice::<serde_json::Value>(&callback.body).unwrap();
        format!("test:v1:notification:{}", body["id"].as_str().unwrap())
    };

    // The claim and the mark run on the pool's one connection, and the nodes agree.
    let callback = CallbackSpec::payment().render();
    drop(a.receive(&callback.headers, &callback.body).unwrap().ack());
    assert_eq!(
        server.command(&["GET", &key(&callback)]),
        Some("v1:done".to_owned())
    );
    let pooled = pool_connections(&server);
    assert_eq!(pooled.len(), 1, "{pooled:?}");
    assert!(
        pooled[0].contains(" cmd=set "),
        "the mark last: {}",
        pooled[0]
    );
    assert_eq!(pool.state().connections, 1);
    let repeat = b.receive(&callback.headers, &callback.body).unwrap_err();
    assert!(matches!(repeat, Rejection::Duplicate { .. }), "{repeat:?}");

    // The service holds the pool's only connection: the claim waits at most the timeout, then
    // this process decides (the callback is processed, and not recorded in Redis), with a
    // warning.
    let held = pool.get().unwrap();
    let other = CallbackSpec::payment().render();
    let started = Instant::now();
    drop(a.receive(&other.headers, &other.body).unwrap().ack());
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        server.command(&["GET", &key(&other)]),
        Some("(nil)".to_owned())
    );
    // A repeat to the same node is still a duplicate (its own filter).
    let repeat = a.receive(&other.headers, &other.body).unwrap_err();
    assert!(matches!(repeat, Rejection::Duplicate { .. }), "{repeat:?}");

    // A busy pool says nothing of Redis: it is not paused (300 ms here), and the next callback
    // is claimed in it at once.
    drop(held);
    let third = CallbackSpec::payment().render();
    drop(a.receive(&third.headers, &third.body).unwrap().ack());
    assert_eq!(
        server.command(&["GET", &key(&third)]),
        Some("v1:done".to_owned())
    );
}

/// A node of the sandbox in certificate mode: no platform key configured, certificates
/// downloaded into `store`.
fn certificate_node(sandbox: &Sandbox, store: impl KeyStore) -> Client {
    merchant_of(sandbox)
        .auto_certificates(&sandbox.identity().apiv3_key)
        .certificate_store(store)
        .build()
        .unwrap()
}

#[test]
fn one_download_serves_every_node_and_a_rotation_downloads_once() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let apiv3 = sandbox.identity().apiv3_key.clone();
    let a = certificate_node(&sandbox, redis(&server).key_store(&apiv3).unwrap());
    a["v3/pay/transactions/native"]
        .post(fresh_order(&sandbox))
        .unwrap();
    assert_eq!(downloads(&sandbox), 1);
    // Stored sealed: the hash holds no PEM.
    let stored = server
        .command(&[
            "HGET",
            "test:v1:certificates",
            &sandbox.identity().platform_serial,
        ])
        .unwrap();
    assert!(stored.starts_with(r#"{"v":1,"nonce":""#), "{stored}");
    assert!(!stored.contains("CERTIFICATE"));

    // A second node starts from the store: no download.
    let b = certificate_node(&sandbox, redis(&server).key_store(&apiv3).unwrap());
    b["v3/pay/transactions/native"]
        .post(fresh_order(&sandbox))
        .unwrap();
    assert_eq!(downloads(&sandbox), 1);

    // A rotation met by both nodes at once (the download slow enough that the two refreshes
    // overlap): one download for the two.
    sandbox.set_route_fault(
        CERTIFICATES,
        Some(Fault::SlowReply(Duration::from_millis(400))),
    );
    let new = sandbox
        .rotate_platform_certificate(Duration::from_secs(86_400))
        .unwrap();
    std::thread::scope(|scope| {
        for node in [&a, &b] {
            let (sandbox, new) = (&sandbox, &new);
            scope.spawn(move || {
                let answer = node["v3/pay/transactions/native"]
                    .post(fresh_order(sandbox))
                    .unwrap();
                assert_eq!(answer.headers()["Wechatpay-Serial"], new.as_str());
            });
        }
    });
    assert_eq!(downloads(&sandbox), 2, "one download for the rotation");
    assert!(a.key_ring().unwrap().contains(&new) && b.key_ring().unwrap().contains(&new));
}

#[test]
fn a_certificate_planted_in_redis_is_not_trusted() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let id = sandbox.identity();
    let serial = id.platform_serial.clone();
    // Garbage, the PEM in clear, and an entry sealed under another APIv3 key.
    let other_key = "ffffffffffffffffffffffffffffffff";
    redis(&server)
        .key_store(other_key)
        .unwrap()
        .save(&serial, id.platform_certificate_pem.as_bytes())
        .unwrap();
    let sealed_elsewhere = server
        .command(&["HGET", "test:v1:certificates", &serial])
        .unwrap();
    let store = redis(&server).key_store(&id.apiv3_key).unwrap();
    for value in [
        "garbage".to_owned(),
        id.platform_certificate_pem.clone(),
        sealed_elsewhere,
    ] {
        server.command(&["HSET", "test:v1:certificates", &serial, &value]);
        assert_eq!(store.load().unwrap(), Vec::<Vec<u8>>::new(), "{value}");
    }
    // Under another serial, a genuine sealed certificate is not taken either.
    let genuine = redis(&server).key_store(&id.apiv3_key).unwrap();
    genuine
        .save(&serial, id.platform_certificate_pem.as_bytes())
        .unwrap();
    let sealed = server
        .command(&["HGET", "test:v1:certificates", &serial])
        .unwrap();
    server.command(&["HDEL", "test:v1:certificates", &serial]);
    server.command(&["HSET", "test:v1:certificates", "0ABC", &sealed]);
    assert_eq!(store.load().unwrap(), Vec::<Vec<u8>>::new());

    // A node reading that store downloads on its own, and verifies.
    let node = certificate_node(&sandbox, redis(&server).key_store(&id.apiv3_key).unwrap());
    node["v3/pay/transactions/native"]
        .post(fresh_order(&sandbox))
        .unwrap();
    assert_eq!(downloads(&sandbox), 1);
}

#[test]
fn redis_down_slow_or_holding_garbage_stops_no_payment_and_lets_nothing_unverified_through() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::start().unwrap();
    let a = node(&sandbox, &server);
    let receiver = receiver(&server);
    a["v3/pay/transactions/native"]
        .post(fresh_order(&sandbox))
        .unwrap();

    // Garbage in a notification's key: the node's own record decides (processed once here).
    let callback = CallbackSpec::payment().render();
    let id = serde_json::from_slice::<serde_json::Value>(&callback.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server.command(&["SET", &format!("test:v1:notification:{id}"), "garbage"]);
    let claim = receiver.receive(&callback.headers, &callback.body).unwrap();
    drop(claim.ack());
    let again = receiver
        .receive(&callback.headers, &callback.body)
        .unwrap_err();
    assert!(matches!(again, Rejection::Duplicate { .. }), "{again:?}");

    // Slow: a server that answers nothing for 3 s. Each call waits at most the timeout once,
    // then Redis is left alone; payments go on, verified.
    server.command(&["CLIENT", "PAUSE", "3000", "ALL"]);
    let started = Instant::now();
    for _ in 0..5 {
        let answer = a["v3/pay/transactions/native"]
            .post(fresh_order(&sandbox))
            .unwrap();
        assert!(answer.signature_verified());
    }
    // (Waiting out the pause would take 3 s for the first call alone.)
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );

    // Down: stopped mid-run. Payments go on; a tampered answer is still refused; a forged
    // callback too; a genuine one is processed once by this node.
    server.stop();
    let answer = a["v3/pay/transactions/native"]
        .post(fresh_order(&sandbox))
        .unwrap();
    assert!(answer.signature_verified());
    sandbox.set_fault(Some(Fault::TamperedBody));
    let err = a["v3/pay/transactions/native"]
        .post(fresh_order(&sandbox))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification, "{err}");
    sandbox.set_fault(None);
    let forged = CallbackSpec::payment().render().tampered();
    assert!(matches!(
        receiver.receive(&forged.headers, &forged.body),
        Err(Rejection::Invalid(_))
    ));
    let next = CallbackSpec::payment().render();
    let claim = receiver.receive(&next.headers, &next.body).unwrap();
    drop(claim.ack());
    assert!(matches!(
        receiver.receive(&next.headers, &next.body),
        Err(Rejection::Duplicate { .. })
    ));
    // A replay to the same node is still caught by its own memory.
    a["v3/pay/transactions/native"]
        .post(order(&sandbox, "X"))
        .unwrap();
    let closed = a["v3/pay/transactions/out-trade-no/{no}/close"]
        .post(json!({ "no": "X", "json": { "mchid": sandbox.identity().mchid } }))
        .unwrap();
    let slot = intercept(&sandbox, "/v3/refund/domestic/refunds");
    *slot.lock().unwrap() = Some(replayed(204, b"", closed.headers()));
    let err = a["v3/refund/domestic/refunds"]
        .post(json!({ "json": {
            "out_trade_no": "X", "out_refund_no": "X-R",
            "amount": { "refund": 100, "total": 100, "currency": "CNY" },
        } }))
        .unwrap_err();
    assert!(
        matches!(
            err.verification(),
            Some(VerificationFailure::Replayed { .. })
        ),
        "{err}"
    );

    // And the certificates: a node whose store is down downloads on its own.
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let lonely = certificate_node(
        &sandbox,
        redis(&server)
            .key_store(&sandbox.identity().apiv3_key)
            .unwrap(),
    );
    lonely["v3/pay/transactions/native"]
        .post(fresh_order(&sandbox))
        .unwrap();
    assert_eq!(downloads(&sandbox), 1);
}

#[test]
fn a_bad_url_is_a_config_error_that_does_not_quote_it() {
    let err = Redis::open("redis://user:s3cr3t@[::1").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    let redis = Redis::open("redis://user:s3cr3t@127.0.0.1:1/").unwrap();
    let shown = format!(
        "{redis:?} {:?} {:?} {:?}",
        redis.replay_memory(),
        redis.claims(),
        redis.key_store(APIV3_KEY).unwrap()
    );
    assert!(
        !shown.contains("s3cr3t") && !shown.contains(APIV3_KEY),
        "{shown}"
    );
}

/// The answer keys in `server`.
fn answer_keys(server: &RedisServer) -> usize {
    server
        .keys()
        .iter()
        .filter(|k| k.starts_with("test:v1:answer:"))
        .count()
}

#[test]
fn async_calls_check_answers_on_the_async_connection_across_runtimes() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::start().unwrap();
    let a = node(&sandbox, &server);
    // A runtime that ends after one call: the connection it made goes with it.
    for round in 1..=3 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let answer = runtime
            .block_on(a["v3/pay/transactions/native"].post_async(fresh_order(&sandbox)))
            .unwrap();
        assert!(answer.signature_verified());
        drop(runtime);
        // Each answer reached Redis: the next runtime made its own connection, Redis was not
        // taken for failed.
        assert_eq!(answer_keys(&server), round);
    }

    // A replay from one node to another, both async.
    let b = node(&sandbox, &server);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mchid = sandbox.identity().mchid.clone();
    let closed = runtime.block_on(async {
        a["v3/pay/transactions/native"]
            .post_async(order(&sandbox, "ASYNC-1"))
            .await
            .unwrap();
        a["v3/pay/transactions/out-trade-no/{no}/close"]
            .post_async(json!({ "no": "ASYNC-1", "json": { "mchid": mchid } }))
            .await
            .unwrap()
    });
    let slot = intercept(&sandbox, "/v3/refund/domestic/refunds");
    *slot.lock().unwrap() = Some(replayed(204, b"", closed.headers()));
    let err = runtime
        .block_on(b["v3/refund/domestic/refunds"].post_async(json!({ "json": {
            "out_trade_no": "ASYNC-1", "out_refund_no": "ASYNC-1-R",
            "amount": { "refund": 100, "total": 100, "currency": "CNY" },
        } })))
        .unwrap_err();
    assert!(
        matches!(
            err.verification(),
            Some(VerificationFailure::Replayed { .. })
        ),
        "{err}"
    );
    sandbox.clear_script();

    // Paused: 8 calls at once go on, verified, well before the pause ends (3 s).
    server.command(&["CLIENT", "PAUSE", "3000", "ALL"]);
    let started = Instant::now();
    runtime.block_on(async {
        let calls =
            (0..8).map(|_| a["v3/pay/transactions/native"].post_async(fresh_order(&sandbox)));
        for answer in futures_join(calls).await {
            assert!(answer.unwrap().signature_verified());
        }
    });
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_runtime_that_is_not_driven_holds_up_no_other_runtime() {
    // actix-web's workers: one single-threaded runtime each. A runtime runs its tasks only
    // while it is driven; a busy worker is one not driven.
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sandbox = Sandbox::start().unwrap();
    let a = node(&sandbox, &server);
    let worker = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let (first, second) = (worker(), worker());
    let answer = first
        .block_on(a["v3/pay/transactions/native"].post_async(fresh_order(&sandbox)))
        .unwrap();
    assert!(answer.signature_verified());
    assert_eq!(answer_keys(&server), 1);
    // `first` lives on, not driven: the connection it made cannot read a reply now. The
    // second worker's answers reach Redis all the same (a connection of its own): a wait for
    // `first` would time out (200 ms) and fall back to this process's memory, and the key
    // would not be in Redis. (The time bound only says no call waited for the HTTP timeout.)
    for round in 2..=4 {
        let started = Instant::now();
        let answer = second
            .block_on(a["v3/pay/transactions/native"].post_async(fresh_order(&sandbox)))
            .unwrap();
        assert!(answer.signature_verified());
        assert_eq!(answer_keys(&server), round, "round {round}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    // One connection each, kept: `second` made one for its three calls.
    assert_eq!(client_list(&server).len(), 2, "{:?}", client_list(&server));
    // And `first`, driven again, still has its own.
    first
        .block_on(a["v3/pay/transactions/native"].post_async(fresh_order(&sandbox)))
        .unwrap();
    assert_eq!(answer_keys(&server), 5);
    assert_eq!(client_list(&server).len(), 2, "{:?}", client_list(&server));
}

/// Every future of `futures`, run concurrently on the current task.
async fn futures_join<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = (0..handles.len()).map(|_| None).collect();
    let mut handles: Vec<_> = handles.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, output) in handles.iter_mut().zip(outputs.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => {
                        *output = Some(value);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

#[test]
fn a_redis_restart_costs_no_fallback_and_a_retried_claim_is_still_its_own() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let receiver = receiver(&server);
    let first = CallbackSpec::payment().render();
    drop(receiver.receive(&first.headers, &first.body).unwrap().ack());
    // The server restarts: the receiver's idle connection is dead. The next callback is
    // claimed in the new server (a new connection, no pause, no fallback to this process's
    // record).
    server.restart();
    let next = CallbackSpec::payment().render();
    let id = serde_json::from_slice::<serde_json::Value>(&next.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let claim = receiver.receive(&next.headers, &next.body).unwrap();
    assert!(
        server
            .command(&["GET", &format!("test:v1:notification:{id}")])
            .unwrap()
            .starts_with("v1:p:"),
        "claimed in the restarted server"
    );
    drop(claim.ack());

    // A claim script sent twice (its first reply lost) finds its own token: still claimed.
    let store = redis(&server).claims();
    use wechatpay::notify::{ClaimStore, Claimed};
    let lease = Duration::from_secs(60);
    assert_eq!(
        store.claim("EV-RETRY", "token-a", lease).unwrap(),
        Claimed::Yes
    );
    assert_eq!(
        store.claim("EV-RETRY", "token-a", lease).unwrap(),
        Claimed::Yes
    );
    assert_eq!(
        store.claim("EV-RETRY", "token-b", lease).unwrap(),
        Claimed::InProgress
    );
}
