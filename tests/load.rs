//! Load: 100,000 requests with 64 in flight (async) and with 8 threads (blocking), through an
//! in-process server that answers with a pre-signed body. Zero errors, no file-descriptor
//! growth, resident memory flat after warm-up. Run by hand (minutes of RSA signing):
//!
//! ```sh
//! cargo test --release --test load -- --ignored --nocapture
//! ```
//!
//! `LOAD_REQUESTS` overrides the count (default 100000).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use serde_json::json;
use wechatpay::Client;

const BODY: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1230000109","out_trade_no":"1217752501201407033233368018","trade_state":"SUCCESS","amount":{"total":100,"currency":"CNY"}}"#;
const PUB_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";

struct Signed {
    timestamp: String,
    nonce: String,
    signature: String,
}

fn sign(key: &PKey<Private>) -> Signed {
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let nonce = "n0nce0123456789abcdef0123456789a".to_owned();
    let message = format!("{timestamp}\n{nonce}\n{BODY}\n");
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), key).unwrap();
    let signature =
        openssl::base64::encode_block(&signer.sign_oneshot_to_vec(message.as_bytes()).unwrap());
    Signed {
        timestamp,
        nonce,
        signature,
    }
}

/// A server answering every request with the same pre-signed body (re-signed every minute).
fn start_server(key: PKey<Private>) -> SocketAddr {
    let signed = Arc::new(RwLock::new(sign(&key)));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let resigner = Arc::clone(&signed);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    *resigner.write().unwrap() = sign(&key);
                }
            });
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let signed = Arc::clone(&signed);
                tokio::spawn(async move {
                    let service = service_fn(move |_request| {
                        let signed = signed.read().unwrap();
                        let response = hyper::Response::builder()
                            .status(200)
                            .header("content-type", "application/json")
                            .header("request-id", "08F78BB5AF0D11E6AE3E506B4B4A36B7")
                            .header("wechatpay-timestamp", &signed.timestamp)
                            .header("wechatpay-nonce", &signed.nonce)
                            .header("wechatpay-signature", &signed.signature)
                            .header("wechatpay-serial", PUB_KEY_ID)
                            .body(Full::new(Bytes::from_static(BODY.as_bytes())))
                            .unwrap();
                        async move { Ok::<_, std::convert::Infallible>(response) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    addr
}

fn client(addr: SocketAddr, platform: &PKey<Private>) -> Client {
    let merchant = openssl::rsa::Rsa::generate(2048).unwrap();
    Client::builder()
        .mchid("1230000109")
        .serial("3775B6A45ACD588826D15E583A95F5DD01234567")
        .private_key(merchant.private_key_to_pem().unwrap())
        .platform_key(PUB_KEY_ID, platform.public_key_to_pem().unwrap())
        .base_uri(format!("http://{addr}/"))
        .build()
        .unwrap()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn requests() -> usize {
    std::env::var("LOAD_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn options() -> serde_json::Value {
    json!({ "transaction_id": "4200000001", "query": { "mchid": "1230000109" } })
}

/// Runs `total` requests in `run`, and reports: errors, fds and RSS after warm-up (10 %) and
/// at the end.
fn report(name: &str, total: usize, run: impl FnOnce(&AtomicUsize, &dyn Fn())) {
    let done = AtomicUsize::new(0);
    let warm = (total / 10).max(1);
    let after_warmup = std::sync::Mutex::new(None);
    let started = Instant::now();
    let checkpoint = || {
        let mut slot = after_warmup.lock().unwrap();
        if slot.is_none() {
            *slot = Some((fds(), rss_kib(), Instant::now()));
        }
    };
    run(&done, &|| {
        if done.load(Ordering::Relaxed) >= warm {
            checkpoint();
        }
    });
    let (fds_warm, rss_warm, _) = after_warmup.lock().unwrap().unwrap();
    let (fds_end, rss_end) = (fds(), rss_kib());
    let elapsed = started.elapsed();
    println!(
        "{name}: {total} requests in {:.1} s ({:.0}/s), 0 errors; fds {fds_warm} -> {fds_end}; RSS {} -> {} KiB after warm-up",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        rss_warm,
        rss_end
    );
    assert!(fds_end <= fds_warm + 2, "{name}: file descriptors grew");
    assert!(
        rss_end <= rss_warm + rss_warm / 10 + 4096,
        "{name}: resident memory grew from {rss_warm} to {rss_end} KiB"
    );
}

#[test]
#[ignore = "minutes of RSA signing: run with --release --ignored"]
fn a_hundred_thousand_requests_async_64_in_flight() {
    let platform = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let addr = start_server(platform.clone());
    let client = client(addr, &platform);
    let total = requests();
    // Outlives the end measurement: the pooled connections (and their descriptors) live on it,
    // and dropping it first would close them and hide any growth.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    report("async, 64 in flight", total, |done, tick| {
        runtime.block_on(async {
            let next = Arc::new(AtomicUsize::new(0));
            let mut workers = Vec::new();
            for _ in 0..64 {
                let client = client.clone();
                let next = Arc::clone(&next);
                workers.push(tokio::spawn(async move {
                    let mut mine = 0usize;
                    while next.fetch_add(1, Ordering::Relaxed) < total {
                        let answer = client["v3/pay/transactions/id/{transaction_id}"]
                            .get_async(options())
                            .await
                            .expect("no error under load");
                        assert!(answer.signature_verified());
                        mine += 1;
                    }
                    mine
                }));
            }
            // Checkpoint after warm-up, while the workers run.
            let warm = total / 10;
            loop {
                let sent = next.load(Ordering::Relaxed).min(total);
                done.store(sent, Ordering::Relaxed);
                if sent >= warm {
                    tick();
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let mut finished = 0;
            for worker in workers {
                finished += worker.await.unwrap();
            }
            assert_eq!(finished, total);
        });
    });
}

#[test]
#[ignore = "minutes of RSA signing: run with --release --ignored"]
fn a_hundred_thousand_requests_blocking_8_threads() {
    let platform = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let addr = start_server(platform.clone());
    let client = client(addr, &platform);
    let total = requests();
    report("blocking, 8 threads", total, |done, tick| {
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    while next.fetch_add(1, Ordering::Relaxed) < total {
                        let answer = client["v3/pay/transactions/id/{transaction_id}"]
                            .get(options())
                            .expect("no error under load");
                        assert!(answer.signature_verified());
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            while done.load(Ordering::Relaxed) < total / 10 {
                std::thread::sleep(Duration::from_millis(50));
            }
            tick();
        });
    });
}
