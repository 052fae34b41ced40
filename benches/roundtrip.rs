//! Client CPU of a full round trip (chain, prepare, sign, send over a pooled keep-alive
//! connection, receive, verify) against the test server, next to the floor of the same call:
//! one RSA-2048 sign of the request message and one verify of the response.
//!
//! The server runs in a child process (this same binary, started with
//! `WECHATPAY_BENCH_ROLE=server`): a sandbox (`support::BenchServer`) that verifies every
//! request with RSA, twice (the sandbox, then the test suite's judge), and answers with a
//! static body signed for each answer, as WeChat Pay does. Every benchmark here measures [`ProcessCpu`]:
//! the CPU time (user + system) of the benchmark process, which is the client alone, every
//! thread included. On a machine with two CPUs or more, the client is pinned to CPU 0 and the
//! server to CPU 1, as if they were separate machines.
//!
//! Run with `cargo bench --bench roundtrip`; see docs/performance.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, criterion_group};
use serde_json::{Value, json};
use wechatpay::crypto::{PrivateKey, PublicKey, base64_decode};
use wechatpay::signature::response_message;
use wechatpay::{Client, Method, Response};

/// CPU time of the whole process, user and system, from `CLOCK_PROCESS_CPUTIME_ID`. Values are
/// `Duration`s, shown with criterion's wall-time formatter.
struct ProcessCpu {
    wall: WallTime,
}

fn process_cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ProcessCpu {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        process_cpu_now()
    }

    fn end(&self, start: Duration) -> Duration {
        process_cpu_now().saturating_sub(start)
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
const TARGET: &str = "/v3/pay/transactions/id/4200000001?mchid=1230000109";

fn options() -> Value {
    json!({ "transaction_id": "4200000001", "query": { "mchid": "1230000109" } })
}

/// The server's answer: a 200-byte query-order JSON body.
fn answer() -> Vec<u8> {
    let mut body = json!({
        "appid": "wxd678efh567hg6787",
        "mchid": "1230000109",
        "out_trade_no": "1217752501201407033233368018",
        "transaction_id": "4200000001",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "pad": "",
    });
    let len = serde_json::to_vec(&body).unwrap().len();
    body["pad"] = Value::String("x".repeat(200 - len));
    let bytes = serde_json::to_vec(&body).unwrap();
    assert_eq!(bytes.len(), 200);
    bytes
}

/// The child: serve signed answers (a fresh signature each, as the client's replay memory
/// requires) from a sandbox, print the identity the client needs as one JSON line, and exit when the parent
/// closes stdin, after checking that every request passed the sandbox's and the judge's checks.
fn serve() {
    let keys = support::keys();
    let server = support::BenchServer::start(TARGET, answer()).unwrap();
    println!(
        "{}",
        json!({
            "base_uri": server.base_uri(),
            "port": server.port(),
            "mchid": support::mchid(),
            "merchant_serial": keys.merchant_serial,
            "merchant_key": keys.merchant_key_pkcs8_pem,
            "platform_serial": keys.platform_serial,
            "platform_cert": keys.platform_cert_pem,
        })
    );
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    match server.check() {
        Ok(counters) => eprintln!(
            "server: {} requests over {} connection(s), all signatures valid",
            counters.requests, counters.connections
        ),
        Err(failures) => panic!("the server rejected requests: {failures}"),
    }
}

/// A server child process and what its `serve` printed.
struct ServerProcess {
    child: Child,
    identity: Value,
}

impl ServerProcess {
    fn start() -> ServerProcess {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("WECHATPAY_BENCH_ROLE", "server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let identity = serde_json::from_str(&line).expect("the server prints its identity");
        ServerProcess { child, identity }
    }

    fn text(&self, key: &str) -> &str {
        self.identity[key].as_str().unwrap()
    }

    fn client(&self) -> Client {
        Client::builder()
            .mchid(self.text("mchid"))
            .serial(self.text("merchant_serial"))
            .private_key(self.text("merchant_key"))
            .platform_key(self.text("platform_serial"), self.text("platform_cert"))
            .base_uri(self.text("base_uri"))
            .allow_insecure_http(true)
            .build()
            .unwrap()
    }

    /// After a benchmark: every request went over one keep-alive connection.
    fn assert_one_connection(&self, name: &str) {
        let port = self.identity["port"].as_u64().unwrap() as u16;
        match sockets_at(port) {
            Some(n) => {
                eprintln!("{name}: {n} socket(s) to the server (2 = one connection)");
                assert_eq!(n, 2, "{name}: the pooled connection was not reused");
            }
            None => eprintln!("{name}: /proc/net/tcp unreadable; connection reuse not checked"),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// TCP sockets on this host with an end at `port` (both ends of each connection to the test
/// server, the listener excluded). One pooled connection shows as 2.
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
                // f[1] local, f[2] remote, f[3] state (0A = LISTEN, 06 = TIME_WAIT).
                f.len() > 3
                    && f[3] != "0A"
                    && (port_of(f[1]) == Some(port) || port_of(f[2]) == Some(port))
            })
            .count(),
    )
}

fn check(response: &Response) {
    assert_eq!(response.status(), 200);
    assert!(response.signature_verified());
    assert_eq!(response.bytes().len(), 200);
}

/// With `WECHATPAY_BENCH_SPLIT=N`: after the criterion runs, the workloads round-robin, N calls
/// each, so that all see the same load on a shared machine; prints process CPU per call and
/// the ratio to the floor.
fn interleaved(workloads: &mut [(&str, &mut dyn FnMut())]) {
    let Some(n) = std::env::var("WECHATPAY_BENCH_SPLIT")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|&n| n > 0)
    else {
        return;
    };
    let mut cpu = vec![Duration::ZERO; workloads.len()];
    for _ in 0..n {
        for (i, (_, run)) in workloads.iter_mut().enumerate() {
            let start = process_cpu_now();
            run();
            cpu[i] += process_cpu_now() - start;
        }
    }
    let floor = cpu[workloads.len() - 1].as_secs_f64();
    eprintln!("interleaved, {n} rounds; process CPU per call:");
    for (i, (name, _)) in workloads.iter().enumerate() {
        eprintln!(
            "  {name:<20} {:>8.1} us  x floor {:.3}",
            cpu[i].as_secs_f64() * 1e6 / f64::from(n),
            cpu[i].as_secs_f64() / floor
        );
    }
}

fn roundtrip(c: &mut Criterion<ProcessCpu>) {
    let blocking_server = ServerProcess::start();
    let async_server = ServerProcess::start();

    // Blocking: the verb blocks this thread; the runtime's worker drives the connection.
    let blocking_client = blocking_server.client();
    let first = blocking_client.chain(TEMPLATE).get(options()).unwrap();
    check(&first);
    let blocking = || blocking_client.chain(TEMPLATE).get(options()).unwrap();

    // Async on a current-thread runtime driven from this thread.
    let async_client = async_server.client();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    check(
        &rt.block_on(async_client.chain(TEMPLATE).get_async(options()))
            .unwrap(),
    );
    let nonblocking = || {
        rt.block_on(async_client.chain(TEMPLATE).get_async(options()))
            .unwrap()
    };

    // The floor: sign the request's message and verify a real answer's signature, with the
    // same keys and sizes.
    let key = PrivateKey::from_pem(blocking_server.text("merchant_key")).unwrap();
    let platform = PublicKey::from_pem(blocking_server.text("platform_cert")).unwrap();
    let request = blocking_client[TEMPLATE]
        .prepare(Method::GET, options())
        .unwrap()
        .signing_message(1_700_000_000, "593BEC0C930BF1AFEB40B4A08C8FB242");
    let header = |name: &str| first.headers()[name].to_str().unwrap().to_owned();
    let response = response_message(
        &header("Wechatpay-Timestamp"),
        &header("Wechatpay-Nonce"),
        first.bytes(),
    );
    let signature = base64_decode(&header("Wechatpay-Signature")).unwrap();
    assert!(platform.verify_sha256(&response, &signature));
    let floor = || {
        let s = black_box(&key).sign_sha256(black_box(&request)).unwrap();
        assert!(black_box(&platform).verify_sha256(black_box(&response), &signature));
        s
    };

    let mut g = c.benchmark_group("roundtrip");
    g.bench_function("blocking", |b| b.iter(blocking));
    g.bench_function("async", |b| b.iter(nonblocking));
    g.bench_function("floor", |b| b.iter(floor));
    g.finish();

    interleaved(&mut [
        ("roundtrip/blocking", &mut || drop(blocking())),
        ("roundtrip/async", &mut || drop(nonblocking())),
        ("roundtrip/floor", &mut || drop(floor())),
    ]);

    blocking_server.assert_one_connection("roundtrip/blocking");
    async_server.assert_one_connection("roundtrip/async");
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ProcessCpu { wall: WallTime });
    targets = roundtrip
}

/// Pins this process to one CPU, as if client and server were separate machines: the server's
/// work then neither competes for the client's core nor evicts its caches. Skipped (with a
/// note) on a single-CPU machine or where the kernel refuses.
fn pin_to_cpu(cpu: usize) {
    // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET and sched_setaffinity only write
    // within it.
    unsafe {
        if libc::sysconf(libc::_SC_NPROCESSORS_ONLN) < 2 {
            eprintln!("one CPU: client and server share it");
            return;
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            eprintln!("could not pin to CPU {cpu}; running unpinned");
        }
    }
}

fn main() {
    if std::env::var("WECHATPAY_BENCH_ROLE").as_deref() == Ok("server") {
        // Before the sandbox starts: its thread inherits the affinity.
        pin_to_cpu(1);
        serve();
        return;
    }
    pin_to_cpu(0);
    benches();
    Criterion::default().configure_from_args().final_summary();
}
