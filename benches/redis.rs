//! The cost of sharing the replay memory through Redis (issue 21), next to the RSA signature
//! every request pays: a real `redis-server` on loopback, started by the bench.
//!
//! - criterion: `replay/in_memory` (the default), `replay/redis` (the shared memory: this
//!   process's memory, then `SET NX EX`, over TCP, blocking connection), `replay/redis_async`
//!   (the same on the async connection, as the client's pipeline asks it), `replay/redis_unix`
//!   (blocking, over the server's Unix socket), `rsa/sign` (RSA-2048 SHA-256, the merchant's
//!   signature of every request);
//! - paced (printed first): 10,000 answers at 1,000 a second through this process's memory,
//!   then through Redis as the client asks it (`sight_async`; TCP, then the Unix socket), then
//!   on the blocking connection: their latency (median, 99th percentile,
//!   max), the CPU this thread spends per answer (its `schedstat` time), the difference being
//!   what Redis adds; the server's CPU (its `/proc` time) and memory (`INFO memory`) per
//!   remembered answer.
//!
//! - the whole client (printed first): 5,000 verified order queries at 1,000 a second against
//!   the sandbox (in this process), with the client's own replay memory and with Redis's, twice
//!   in alternation: latency (median, 99th percentile) and this process's CPU per request.
//!
//! `cargo bench --features redis --bench redis` (needs `redis-server` on the PATH)

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use wechatpay::replay::{Fingerprint, InMemory, ReplayMemory, Sighting};
use wechatpay::shared::Redis;

#[path = "../tests/support/redis_server.rs"]
#[allow(dead_code)]
mod redis_server;
use redis_server::RedisServer;

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A distinct fingerprint per `n` (as each genuine answer has).
fn fingerprint(n: u64) -> Fingerprint {
    Fingerprint::of(
        "PUB_KEY_ID_0114232134912410000000000000",
        &n.to_string(),
        "c2ln",
    )
}

/// This thread's CPU time so far (ns), from `/proc/thread-self/schedstat`.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A process's CPU time so far (ns), user + system, from `/proc/PID/stat` (clock ticks of
/// 10 ms).
fn process_cpu_ns(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    ticks * 10_000_000
}

fn used_memory(server: &RedisServer) -> i64 {
    // `INFO memory` is a bulk reply: read it whole on a connection of our own.
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut text = Vec::new();
    let _ = stream.read_to_end(&mut text);
    String::from_utf8_lossy(&text)
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// What one paced run measured.
struct Paced {
    median: Duration,
    p99: Duration,
    max: Duration,
    /// This thread's CPU per answer (ns), its sleeps included.
    cpu_ns: f64,
    /// redis-server's CPU per answer (ns).
    server_ns: f64,
    /// redis-server's memory growth per answer (bytes).
    held: f64,
}

/// How a paced run asks the memory: as the client does (`sight_async`, on a current-thread
/// runtime), or `sight`.
#[derive(Clone, Copy)]
enum Ask {
    Async,
    Blocking,
}

/// 10,000 answers at 1,000 a second through `memory`.
fn paced(memory: &dyn ReplayMemory, ask: Ask, server: &RedisServer, pid: u32, salt: u64) -> Paced {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    const ANSWERS: u64 = 10_000;
    let before_memory = used_memory(server);
    let (cpu_before, server_before) = (thread_cpu_ns(), process_cpu_ns(pid));
    let start = Instant::now();
    let mut latencies = Vec::with_capacity(ANSWERS as usize);
    for n in 0..ANSWERS {
        // 1,000 a second: answer n is due at n ms.
        let due = start + Duration::from_millis(n);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let now = unix_now();
        let answer = fingerprint(salt << 40 | n);
        let t = Instant::now();
        black_box(match ask {
            Ask::Async => runtime.block_on(memory.sight_async(&answer, now + 300, now)),
            Ask::Blocking => memory.sight(&answer, now + 300, now),
        });
        latencies.push(t.elapsed());
    }
    let cpu = thread_cpu_ns() - cpu_before;
    let server_cpu = process_cpu_ns(pid) - server_before;
    let held = used_memory(server) - before_memory;
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    Paced {
        median: at(0.5),
        p99: at(0.99),
        max: *latencies.last().unwrap(),
        cpu_ns: cpu as f64 / ANSWERS as f64,
        server_ns: server_cpu as f64 / ANSWERS as f64,
        held: held as f64 / ANSWERS as f64,
    }
}

/// This process's CPU time so far (user + system, ns): `getrusage`.
fn process_self_cpu_ns() -> u64 {
    // SAFETY: `getrusage` fills the struct it is given; a zeroed `rusage` is a valid one.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    ns(usage.ru_utime) + ns(usage.ru_stime)
}

/// How [`whole_client`] calls: the blocking verbs, or the async ones on a multi-threaded
/// runtime (2 workers, as axum's would be).
enum Lane {
    Blocking,
    Async(tokio::runtime::Runtime),
}

impl std::fmt::Display for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Lane::Blocking => "blocking",
            Lane::Async(_) => "async (multi-threaded runtime)",
        })
    }
}

/// One side of [`whole_client`]: each request's latency, and this process's CPU during it.
#[derive(Default)]
struct Side {
    latencies: Vec<Duration>,
    cpu_ns: Vec<u64>,
}

impl Side {
    fn median(&mut self) -> Duration {
        self.latencies.sort();
        self.latencies[self.latencies.len() / 2]
    }

    fn p99(&mut self) -> Duration {
        self.latencies.sort();
        self.latencies[(self.latencies.len() - 1) * 99 / 100]
    }

    /// CPU per request (ns): the mean, and the median.
    fn cpu(&mut self) -> (f64, u64) {
        self.cpu_ns.sort();
        let mean = self.cpu_ns.iter().sum::<u64>() as f64 / self.cpu_ns.len() as f64;
        (mean, self.cpu_ns[self.cpu_ns.len() / 2])
    }
}

/// The memory of the blocking calls before they asked on the calling thread: `sight` waits for
/// `sight_async`, whose multiplexed connection is read on the client's runtime thread, as the
/// pipeline's await did (this thread parks, that thread wakes for the reply, then wakes this).
struct ThroughRuntimeThread(wechatpay::shared::RedisReplayMemory);

impl ReplayMemory for ThroughRuntimeThread {
    fn sight(&self, fingerprint: &Fingerprint, expires_at: i64, now: i64) -> Sighting {
        park_on(self.0.sight_async(fingerprint, expires_at, now))
    }
}

/// Polls `future` on this thread, parking between polls.
fn park_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

/// The whole client at 1,000 requests a second: verified order queries against the sandbox
/// (in this process), 10,000 for each client of `memories`, alternating request by request
/// between them, so that each meets the machine in the same state (separate runs of the same
/// code differ by more than what is measured). This process's CPU is read around each request
/// (`getrusage`: the client's and the sandbox's, the same work whatever the memory). Printed:
/// each client's latency and CPU, and what each adds over the first.
fn whole_client(lane: Lane, memories: Vec<(&str, Box<dyn ReplayMemory>)>) {
    let sandbox = wechatpay_sandbox::Sandbox::start().unwrap();
    let id = sandbox.identity();
    let clients: Vec<(&str, wechatpay::Client)> = memories
        .into_iter()
        .map(|(name, memory)| {
            let client = wechatpay::Client::builder()
                .mchid(&id.mchid)
                .serial(&id.merchant_serial)
                .private_key(&id.merchant_private_key_pem)
                .platform_key(&id.public_key_id, &id.public_key_pem)
                .base_uri(sandbox.base_uri())
                .allow_insecure_http(true)
                .replay_memory(BoxedMemory(memory))
                .build()
                .unwrap();
            (name, client)
        })
        .collect();
    clients[0].1["v3/pay/transactions/native"]
        .post(serde_json::json!({ "json": {
            "appid": "wxd678efh567hg6787", "mchid": id.mchid, "description": "bench",
            "out_trade_no": "BENCH-REDIS-1", "notify_url": "https://example.com/notify",
            "amount": { "total": 1 },
        } }))
        .unwrap();
    const EACH: u64 = 10_000;
    let requests = EACH * clients.len() as u64;
    let query = serde_json::json!({ "no": "BENCH-REDIS-1", "query": { "mchid": id.mchid } });
    let mut sides: Vec<Side> = clients.iter().map(|_| Side::default()).collect();
    let start = Instant::now();
    for n in 0..requests {
        // 1,000 a second: request n is due at n ms.
        let due = start + Duration::from_millis(n);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let which = (n % clients.len() as u64) as usize;
        let client = &clients[which].1;
        let cpu = process_self_cpu_ns();
        let t = Instant::now();
        let endpoint = &client["v3/pay/transactions/out-trade-no/{no}"];
        let answer = match &lane {
            Lane::Blocking => endpoint.get(query.clone()),
            // A task on a worker, as a web framework's handler is.
            Lane::Async(runtime) => runtime
                .block_on(runtime.spawn(endpoint.get_async(query.clone())))
                .unwrap(),
        }
        .unwrap();
        sides[which].latencies.push(t.elapsed());
        sides[which].cpu_ns.push(process_self_cpu_ns() - cpu);
        assert!(answer.signature_verified());
    }
    let figures: Vec<(Duration, Duration, f64, u64)> = sides
        .iter_mut()
        .map(|side| {
            let (mean, median) = side.cpu();
            (side.median(), side.p99(), mean, median)
        })
        .collect();
    let (base_latency, _, base_cpu, base_cpu_median) = figures[0];
    for ((name, _), (latency, p99, cpu, cpu_median)) in clients.iter().zip(&figures) {
        println!(
            "whole client, {lane}, 10,000 verified GETs at 1,000/s in alternation, {name}: \
             latency median {:.1} µs, p99 {:.1} µs; CPU {:.1} µs per request (mean; median \
             {:.1} µs; client and sandbox)",
            us(*latency),
            us(*p99),
            cpu / 1e3,
            *cpu_median as f64 / 1e3,
        );
    }
    for ((name, _), (latency, _, cpu, cpu_median)) in clients.iter().zip(&figures).skip(1) {
        println!(
            "whole client, {lane}: {name} adds {:.1} µs of latency (median) and {:.1} µs of \
             CPU per request (mean; {:.1} µs by the medians)",
            us(*latency) - us(base_latency),
            (cpu - base_cpu) / 1e3,
            (*cpu_median as f64 - base_cpu_median as f64) / 1e3,
        );
    }
}

/// A boxed memory, for the builder (which takes a `ReplayMemory` by value).
struct BoxedMemory(Box<dyn ReplayMemory>);

impl ReplayMemory for BoxedMemory {
    fn sight(&self, fingerprint: &Fingerprint, expires_at: i64, now: i64) -> Sighting {
        self.0.sight(fingerprint, expires_at, now)
    }

    fn sight_async<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        expires_at: i64,
        now: i64,
    ) -> wechatpay::replay::SightFuture<'a> {
        self.0.sight_async(fingerprint, expires_at, now)
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let pid = server.pid();
    let redis = || Redis::open(&server.url()).unwrap().replay_memory();
    whole_client(
        Lane::Blocking,
        vec![
            ("own memory", Box::new(InMemory::default())),
            ("Redis, asked from the calling thread", Box::new(redis())),
            (
                "Redis, asked through the runtime thread (before)",
                Box::new(ThroughRuntimeThread(redis())),
            ),
        ],
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    whole_client(
        Lane::Async(runtime),
        vec![
            ("own memory", Box::new(InMemory::default())),
            ("Redis", Box::new(redis())),
        ],
    );
    // The same paced loop with this process's memory only, then with Redis: the difference is
    // what Redis adds (the loop's own sleeps and wake-ups cancel out).
    let local = paced(&InMemory::default(), Ask::Async, &server, pid, 1);
    let shared = paced(
        &Redis::open(&server.url()).unwrap().replay_memory(),
        Ask::Async,
        &server,
        pid,
        2,
    );
    let unix = paced(
        &Redis::open(&server.unix_url()).unwrap().replay_memory(),
        Ask::Async,
        &server,
        pid,
        3,
    );
    let blocking = paced(
        &Redis::open(&server.url()).unwrap().replay_memory(),
        Ask::Blocking,
        &server,
        pid,
        4,
    );
    println!(
        "paced, 10,000 answers at 1,000/s: in memory: latency median {:.1} µs, p99 {:.1} µs, \
         max {:.1} µs, thread CPU {:.1} µs per answer",
        us(local.median),
        us(local.p99),
        us(local.max),
        local.cpu_ns / 1e3
    );
    println!(
        "paced, 10,000 answers at 1,000/s: Redis: latency median {:.1} µs, p99 {:.1} µs, max \
         {:.1} µs, thread CPU {:.1} µs per answer; redis-server CPU {:.1} µs and {:.0} bytes \
         per remembered answer",
        us(shared.median),
        us(shared.p99),
        us(shared.max),
        shared.cpu_ns / 1e3,
        shared.server_ns / 1e3,
        shared.held
    );
    println!(
        "paced, 10,000 answers at 1,000/s: Redis, blocking connection (`sight`, as callbacks \
         use it): latency median {:.1} µs, p99 {:.1} µs, thread CPU {:.1} µs per answer",
        us(blocking.median),
        us(blocking.p99),
        blocking.cpu_ns / 1e3
    );
    println!(
        "paced: Redis over TCP adds {:.1} µs of latency (median) and {:.1} µs of this process's \
         CPU per answer; over its Unix socket {:.1} µs (median; p99 {:.1} µs) and {:.1} µs",
        us(shared.median) - us(local.median),
        (shared.cpu_ns - local.cpu_ns) / 1e3,
        us(unix.median) - us(local.median),
        us(unix.p99),
        (unix.cpu_ns - local.cpu_ns) / 1e3
    );

    let mut c = Criterion::default().configure_from_args();
    let now = unix_now();
    let local = InMemory::default();
    let shared = Redis::open(&server.url()).unwrap().replay_memory();
    let mut n = 0u64;
    let mut group = c.benchmark_group("replay");
    group.bench_function("in_memory", |b| {
        b.iter(|| {
            n += 1;
            local.sight(&fingerprint(n), now + 300, now)
        })
    });
    group.bench_function("redis", |b| {
        b.iter(|| {
            n += 1;
            shared.sight(&fingerprint(n), now + 300, now)
        })
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    group.bench_function("redis_async", |b| {
        b.iter(|| {
            n += 1;
            let answer = fingerprint(n);
            runtime.block_on(shared.sight_async(&answer, now + 300, now))
        })
    });
    let unix = Redis::open(&server.unix_url()).unwrap().replay_memory();
    group.bench_function("redis_unix", |b| {
        b.iter(|| {
            n += 1;
            unix.sight(&fingerprint(n), now + 300, now)
        })
    });
    group.finish();
    let key = openssl::rsa::Rsa::generate(2048).unwrap();
    let pem = key.private_key_to_pem().unwrap();
    let key = wechatpay::crypto::PrivateKey::load(&pem).unwrap();
    let message = b"POST\n/v3/pay/transactions/native\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{\"appid\":\"wxd678efh567hg6787\"}\n";
    c.bench_function("rsa/sign", |b| {
        b.iter(|| key.sign_sha256(black_box(message)).unwrap())
    });
    c.final_summary();
}
