//! Load: 100,000 requests with 64 in flight (async) and with 8 threads (blocking), through the
//! sandbox (in this process), which checks every request (and the judge again) and answers with
//! a body signed for each answer. Zero errors, no file-descriptor growth, resident memory flat after
//! warm-up. Run by hand (minutes of RSA signing):
//!
//! ```sh
//! cargo test --release --test load -- --ignored --nocapture --test-threads 1
//! ```
//!
//! `LOAD_REQUESTS` overrides the count (default 100000).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use support::mchid;
use support::scripted::TestServer;
use wechatpay_sandbox::Answer;

const BODY: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1230000109","out_trade_no":"1217752501201407033233368018","trade_state":"SUCCESS","amount":{"total":100,"currency":"CNY"}}"#;

/// A sandbox answering every request (once it and the judge have checked it) with the same
/// body, signed for each answer as WeChat Pay does: the client refuses an answer it saw before.
fn start_server() -> TestServer {
    TestServer::start(move |_| {
        Answer::bytes(200, "application/json", BODY)
            .header("Request-ID", "08F78BB5AF0D11E6AE3E506B4B4A36B7")
    })
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
    json!({ "transaction_id": "4200000001", "query": { "mchid": mchid() } })
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
    let server = start_server();
    let client = support::client(&server);
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
    let server = start_server();
    let client = support::client(&server);
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
