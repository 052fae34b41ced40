//! Client CPU of a full round trip (chain, prepare, sign, send over a pooled keep-alive
//! connection, receive, verify) against the in-process test server, next to the floor of the
//! same call: one RSA-2048 sign of the request message and one verify of the response.
//!
//! The server verifies every request with RSA on its own thread (and core) and answers with a
//! pre-signed body, so wall time would partly measure the server. Every benchmark here therefore uses [`ThreadCpu`]: the CPU time
//! (user + system) of the benchmark thread alone, from `CLOCK_THREAD_CPUTIME_ID`. The blocking
//! verbs run the whole pipeline, the hyper connection task included, on the calling thread
//! (a private current-thread runtime); the async benchmark drives `get_async` with a
//! current-thread runtime on the same thread, so its connection task is counted too.
//!
//! Run with `cargo bench --bench roundtrip`; see docs/performance.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use support::{Reply, Signer, TestServer};
use wechatpay::crypto::{PrivateKey, PublicKey, base64_decode};
use wechatpay::signature::response_message;
use wechatpay::{Client, Method, Response};

/// CPU time of the calling thread, user and system, from `CLOCK_THREAD_CPUTIME_ID`.
/// Values are `Duration`s and are shown with criterion's wall-time formatter.
struct ThreadCpu {
    wall: WallTime,
}

fn thread_cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpu {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_now()
    }

    fn end(&self, start: Duration) -> Duration {
        thread_cpu_now().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

const TEMPLATE: &str = "v3/pay/transactions/id/{transaction_id}";
/// About how long the test server takes to answer (one RSA-2048 verify; the answer is
/// pre-signed).
const SERVER_TIME: Duration = Duration::from_micros(100);
const TARGET: &str = "/v3/pay/transactions/id/4200000001?mchid=1230000109";

fn options() -> Value {
    json!({ "transaction_id": "4200000001", "query": { "mchid": "1230000109" } })
}

/// The server's answer: a 200-byte query-order JSON body.
fn answer() -> Value {
    let body = json!({
        "appid": "wxd678efh567hg6787",
        "mchid": "1230000109",
        "out_trade_no": "1217752501201407033233368018",
        "transaction_id": "4200000001",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "pad": "",
    });
    let len = serde_json::to_vec(&body).unwrap().len();
    let mut body = body;
    body["pad"] = Value::String("x".repeat(200 - len));
    assert_eq!(serde_json::to_vec(&body).unwrap().len(), 200);
    body
}

/// `Wechatpay-*` headers signing `body` at `timestamp` with the platform certificate's key.
fn signed_headers(timestamp: i64, body: &[u8]) -> Vec<(String, String)> {
    let keys = support::keys();
    let timestamp = timestamp.to_string();
    let nonce = support::random_alnum(32);
    let signature = support::rsa_sha256_sign(
        &keys.platform_private,
        &response_message(&timestamp, &nonce, body),
    );
    vec![
        ("Wechatpay-Timestamp".into(), timestamp),
        ("Wechatpay-Nonce".into(), nonce),
        ("Wechatpay-Signature".into(), signature),
        ("Wechatpay-Serial".into(), keys.platform_serial.clone()),
    ]
}

/// A server answering with a static, pre-signed body (re-signed each minute to stay inside the
/// 300 s window), so that the client waits about as long as for a real WeChat Pay answer that
/// comes over a fast network, not for a local RSA signature.
fn start_server() -> TestServer {
    let body = serde_json::to_vec(&answer()).unwrap();
    let cache = std::sync::Mutex::new((0i64, Vec::new()));
    TestServer::start(move |request| {
        assert_eq!(request.target, TARGET);
        let now = support::now_unix();
        let mut cache = cache.lock().unwrap();
        if now - cache.0 > 60 {
            *cache = (now, signed_headers(now, &body));
        }
        cache.1.iter().fold(
            Reply::bytes(200, "application/json", body.clone()).signer(Signer::Unsigned),
            |reply, (name, value)| reply.header(name, value),
        )
    })
}

fn check(response: &Response) {
    assert_eq!(response.status(), 200);
    assert!(response.signature_verified());
    assert_eq!(response.bytes().len(), 200);
}

/// TCP sockets on this host with an end at `port` (both ends of each connection to the test
/// server, `TIME_WAIT` included, the listener excluded). One pooled connection shows as 2.
fn sockets_at(port: u16) -> Option<usize> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let port_of = |addr: &str| {
        addr.rsplit_once(':')
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
    };
    Some(
        table
            .lines()
            .skip(1)
            .filter(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                // f[1] local, f[2] remote, f[3] state (0A = LISTEN).
                f.len() > 3
                    && f[3] != "0A"
                    && (port_of(f[1]) == Some(port) || port_of(f[2]) == Some(port))
            })
            .count(),
    )
}

/// After a benchmark: every request went over one keep-alive connection.
fn assert_one_connection(name: &str, server: &TestServer) {
    let requests = server.requests();
    assert!(
        requests.iter().all(|r| r.auth.is_ok()),
        "the server rejected a request"
    );
    match sockets_at(server.addr().port()) {
        Some(n) => {
            eprintln!(
                "{name}: {} requests over {} socket(s) (2 = one connection)",
                requests.len(),
                n
            );
            assert_eq!(n, 2, "{name}: the pooled connection was not reused");
        }
        None => eprintln!("{name}: /proc/net/tcp unreadable; connection reuse not checked"),
    }
}

/// User and system CPU time of the calling thread (`getrusage(RUSAGE_THREAD)`).
fn thread_rusage() -> (Duration, Duration) {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    assert_eq!(rc, 0, "getrusage(RUSAGE_THREAD) failed");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

/// One workload of the diagnostic runs and what it has used so far.
struct Workload<'a> {
    name: &'static str,
    run: &'a mut dyn FnMut(),
    wall: Duration,
    cpu: Duration,
}

impl<'a> Workload<'a> {
    fn new(name: &'static str, run: &'a mut dyn FnMut()) -> Workload<'a> {
        Workload {
            name,
            run,
            wall: Duration::ZERO,
            cpu: Duration::ZERO,
        }
    }
}

/// With `WECHATPAY_BENCH_SPLIT=N` set, after the criterion benchmarks, two diagnostic runs:
///
/// 1. interleaved: the workloads round-robin, N calls each, so that all of them see the same
///    load on a shared machine; prints wall time and thread CPU per call and the ratios of
///    thread CPU to the two floors;
/// 2. sequential: N calls of each workload in a row; prints the user/system split of the
///    thread's CPU (`getrusage(RUSAGE_THREAD)`; the kernel splits by tick sampling, so this is
///    only meaningful over many calls, hence not measured per call in the interleaved run).
fn diagnostics(workloads: &mut [Workload<'_>]) {
    let Some(n) = std::env::var("WECHATPAY_BENCH_SPLIT")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|&n| n > 0)
    else {
        return;
    };
    for _ in 0..n {
        for w in workloads.iter_mut() {
            let cpu0 = thread_cpu_now();
            let wall0 = std::time::Instant::now();
            (w.run)();
            w.wall += wall0.elapsed();
            w.cpu += thread_cpu_now() - cpu0;
        }
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(n);
    let cpu_of = |name: &str| {
        workloads
            .iter()
            .find(|w| w.name == name)
            .map(|w| w.cpu.as_secs_f64())
    };
    let floor = cpu_of("roundtrip/floor");
    let floor_wait = cpu_of("roundtrip/floor+wait");
    eprintln!("interleaved, {n} rounds; per call:");
    for w in workloads.iter() {
        let ratio = |base: Option<f64>| base.map_or(f64::NAN, |b| w.cpu.as_secs_f64() / b);
        eprintln!(
            "  {:<22} wall {:>7.1} us  thread CPU {:>7.1} us  x floor {:.3}  x floor+wait {:.3}",
            w.name,
            us(w.wall),
            us(w.cpu),
            ratio(floor),
            ratio(floor_wait),
        );
    }
    eprintln!("sequential, {n} calls each; per call:");
    for w in workloads.iter_mut() {
        let (user0, system0) = thread_rusage();
        let cpu0 = thread_cpu_now();
        for _ in 0..n {
            (w.run)();
        }
        let cpu = thread_cpu_now() - cpu0;
        let (user1, system1) = thread_rusage();
        eprintln!(
            "  {:<22} thread CPU {:>7.1} us (user {:>7.1} us, system {:>5.1} us)",
            w.name,
            us(cpu),
            us(user1 - user0),
            us(system1 - system0),
        );
    }
}

fn roundtrip(c: &mut Criterion<ThreadCpu>) {
    let blocking_server = start_server();
    let async_server = start_server();

    // Blocking: the verb drives everything on this thread.
    let blocking_client: Client = support::client(&blocking_server);
    check(&blocking_client.chain(TEMPLATE).get(options()).unwrap());
    let blocking = || blocking_client.chain(TEMPLATE).get(options()).unwrap();

    // Async on a current-thread runtime driven from this thread.
    let async_client: Client = support::client(&async_server);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    check(
        &rt.block_on(async_client.chain(TEMPLATE).get_async(options()))
            .unwrap(),
    );
    let nonblocking = || {
        rt.block_on(async { async_client.chain(TEMPLATE).get_async(options()).await })
            .unwrap()
    };

    // The floor: sign the request message, verify the response message, with the same keys.
    let keys = support::keys();
    let key = PrivateKey::from_pem(&keys.merchant_key_pkcs8_pem).unwrap();
    let platform = PublicKey::from_pem(&keys.platform_cert_pem).unwrap();
    let request = blocking_client[TEMPLATE]
        .prepare(Method::GET, options())
        .unwrap()
        .signing_message(support::now_unix(), &support::random_alnum(32));
    let body = serde_json::to_vec(&answer()).unwrap();
    let response = response_message(
        &support::now_unix().to_string(),
        &support::random_alnum(32),
        &body,
    );
    let signature =
        base64_decode(&support::rsa_sha256_sign(&keys.platform_private, &response)).unwrap();
    assert!(platform.verify_sha256(&response, &signature));
    let floor = || {
        let s = black_box(&key).sign_sha256(black_box(&request)).unwrap();
        let ok = black_box(&platform).verify_sha256(black_box(&response), &signature);
        assert!(ok);
        s
    };
    // The same floor, with the thread blocked between sign and verify for about as long as the
    // server takes to answer (one RSA-2048 verify). A thread that sleeps and
    // wakes pays for it in CPU (the kernel's sleep and wake-up, and caches and predictors that
    // went cold while the core idled): this is the floor of any client that waits for its
    // answer, next to which the round trips can also be read.
    let floor_wait = || {
        let s = black_box(&key).sign_sha256(black_box(&request)).unwrap();
        std::thread::sleep(SERVER_TIME);
        let ok = black_box(&platform).verify_sha256(black_box(&response), &signature);
        assert!(ok);
        s
    };

    let mut g = c.benchmark_group("roundtrip");
    g.bench_function("blocking", |b| b.iter(blocking));
    g.bench_function("async", |b| b.iter(nonblocking));
    g.bench_function("floor", |b| b.iter(floor));
    g.bench_function("floor+wait", |b| b.iter(floor_wait));
    g.finish();

    diagnostics(&mut [
        Workload::new("roundtrip/blocking", &mut || drop(blocking())),
        Workload::new("roundtrip/async", &mut || drop(nonblocking())),
        Workload::new("roundtrip/floor", &mut || drop(floor())),
        Workload::new("roundtrip/floor+wait", &mut || drop(floor_wait())),
    ]);

    assert_one_connection("roundtrip/blocking", &blocking_server);
    assert_one_connection("roundtrip/async", &async_server);
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu { wall: WallTime });
    targets = roundtrip
}
criterion_main!(benches);
