//! The side-by-side benchmark of issue 8: this SDK and the Node SDK (wechatpay-axios-plugin)
//! against the same local server. Driven by `benches/peers/run.sh`, which starts the roles of
//! this binary as separate processes:
//!
//! - `server DIR`: starts a sandbox (`wechatpay-sandbox`, with the keys it generates:
//!   RSA-2048, OpenSSL), writes what a client needs into `DIR`, and serves a 200 JSON answer
//!   (signed for each answer) on 127.0.0.1 from the sandbox's script. Every request's signature is checked
//!   by the sandbox and then by the test suite's independent code; on stdin's end it prints
//!   how many requests it saw, over how many connections, and how many verified, and exits
//!   non-zero if any did not.
//! - `client MODE DIR N [IN_FLIGHT]`: N signed and verified GETs (after a warm-up), then one
//!   JSON line with the client process's CPU time (user + system, every thread) and wall time.
//!   MODE is `blocking`, `async` (one at a time) or `async-concurrent` (IN_FLIGHT at a time);
//!   `probed` is `async-concurrent` with a 1 ms timer task whose worst lateness is printed (how
//!   long the executor stalls), `probed-offloaded` the same with the signing moved to Tokio's
//!   blocking threads by a custom `Signer`. `bare-http` and `bare-rsa` are the bare reqwest
//!   parts of `decompose`, alone (to trace their system calls next to this client's).
//! - `decompose DIR N`: where a call's CPU goes (floor, kernel, reqwest, this client), measured
//!   in alternation in one process.
//! - `memory DIR N IN_FLIGHT`: N async GETs with IN_FLIGHT at a time, sampling resident memory,
//!   the allocator's bytes in use and the open file descriptors. With `PEERS_EXIT_ALIVE` set,
//!   it exits without dropping anything, for a heap profiler's report of what is alive.
//! - `report FILE`: the medians of the result lines in FILE, as the Markdown table of
//!   docs/performance.md.
//!
//! Run under `cargo bench` with no arguments (as CI's `cargo bench --no-run` builds it), it
//! prints how to run the script and exits.

#[path = "../../tests/support/mod.rs"]
mod support;

mod report;
mod server;
mod workloads;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wechatpay::{Client, Response};

/// The call every client makes: query an order by transaction id.
const TEMPLATE: &str = "v3/pay/transactions/id/{transaction_id}";
/// What the server expects that call to send.
const TARGET: &str = "/v3/pay/transactions/id/4200000001?mchid=1900012181";
/// Requests made before the measurement starts: connections opened, caches warm.
const WARM_UP: usize = 100;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["server", dir] => server::serve(Path::new(dir)),
        ["client", mode, dir, n] => client(mode, Path::new(dir), parse(n), 1),
        ["client", mode, dir, n, in_flight] => {
            client(mode, Path::new(dir), parse(n), parse(in_flight))
        }
        ["decompose", dir, n] => decompose(Path::new(dir), parse(n)),
        ["memory", dir, n, in_flight] => memory(Path::new(dir), parse(n), parse(in_flight)),
        ["report", file] => report::print(Path::new(file)),
        _ => {
            eprintln!(
                "peers: the side-by-side benchmark; run `benches/peers/run.sh` \
                 (see docs/performance.md)"
            );
            Ok(())
        }
    };
    if let Err(message) = result {
        eprintln!("peers: {message}");
        std::process::exit(1);
    }
}

fn parse(text: &str) -> usize {
    text.parse().unwrap_or_else(|_| {
        eprintln!("peers: {text:?} is not a count");
        std::process::exit(2)
    })
}

/// What `server` writes for the clients.
struct Identity {
    base_uri: String,
    mchid: String,
    merchant_serial: String,
    platform_serial: String,
    merchant_key: PathBuf,
    platform_cert: PathBuf,
}

impl Identity {
    fn read(dir: &Path) -> Result<Identity, String> {
        let path = dir.join("identity.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let field = |name: &str| {
            v[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{}: no {name}", path.display()))
        };
        Ok(Identity {
            base_uri: field("base_uri")?,
            mchid: field("mchid")?,
            merchant_serial: field("merchant_serial")?,
            platform_serial: field("platform_serial")?,
            merchant_key: dir.join("merchant_key.pem"),
            platform_cert: dir.join("platform_cert.pem"),
        })
    }

    fn client(&self) -> Result<Client, String> {
        let cert = std::fs::read_to_string(&self.platform_cert).map_err(|e| e.to_string())?;
        Client::builder()
            .mchid(&self.mchid)
            .serial(&self.merchant_serial)
            .private_key_file(&self.merchant_key)
            .platform_key(&self.platform_serial, cert)
            .base_uri(&self.base_uri)
            .allow_insecure_http(true)
            .build()
            .map_err(|e| e.to_string())
    }
}

fn options() -> Value {
    json!({ "transaction_id": "4200000001", "query": { "mchid": "1900012181" } })
}

fn check(response: Result<Response, wechatpay::Error>) -> Result<(), String> {
    let response = response.map_err(|e| e.to_string())?;
    if response.status() != 200 || !response.signature_verified() {
        return Err(format!("unexpected answer: {}", response.status()));
    }
    Ok(())
}

/// User and system CPU time of this process, every thread included (`getrusage(RUSAGE_SELF)`,
/// what Node's `process.cpuUsage()` reads too).
fn user_system() -> (Duration, Duration) {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (time(usage.ru_utime), time(usage.ru_stime))
}

/// A field of /proc/self/status in kB (`VmRSS`, `VmHWM`).
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The bytes the C allocator has handed out and not taken back (glibc's `mallinfo2`: small
/// blocks in use plus large mmapped ones), in kB: what the program holds, as opposed to what
/// the allocator keeps from the kernel. `None` with another C library.
fn heap_in_use_kb() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 takes no arguments and returns a plain struct.
        let info = unsafe { libc::mallinfo2() };
        Some(((info.uordblks + info.hblkhd) / 1024) as u64)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}

/// How many file descriptors this process has open (sockets included).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// Runs the warm-up, then `work` for `n` requests, and prints the result line.
fn measure(
    mode: &str,
    n: usize,
    in_flight: usize,
    mut work: impl FnMut(usize) -> Result<(), String>,
) -> Result<(), String> {
    work(WARM_UP.max(in_flight))?;
    let (user, system) = user_system();
    let wall = Instant::now();
    work(n)?;
    let wall = wall.elapsed();
    let (user, system) = {
        let (u, s) = user_system();
        (u - user, s - system)
    };
    let cpu = user + system;
    println!(
        "{}",
        json!({
            "client": "wechatpay-rs",
            "mode": mode,
            "n": n,
            "in_flight": in_flight,
            "cpu_s": cpu.as_secs_f64(),
            "user_s": user.as_secs_f64(),
            "system_s": system.as_secs_f64(),
            "wall_s": wall.as_secs_f64(),
            "peak_rss_kb": status_kb("VmHWM"),
        })
    );
    Ok(())
}

fn client(mode: &str, dir: &Path, n: usize, in_flight: usize) -> Result<(), String> {
    let identity = Identity::read(dir)?;
    let (in_flight, work) = match mode {
        "blocking" => (1, workloads::blocking(&identity)?),
        "async" => (1, workloads::asynchronous(&identity, 1)?),
        "async-concurrent" => (in_flight, workloads::asynchronous(&identity, in_flight)?),
        "probed" => (in_flight, workloads::probed(&identity, in_flight, false)?),
        "probed-offloaded" => (in_flight, workloads::probed(&identity, in_flight, true)?),
        "bare-http" => (1, workloads::bare_http(&identity, false)?),
        "bare-rsa" => (1, workloads::bare_http(&identity, true)?),
        _ => {
            return Err(format!(
                "unknown mode {mode:?}: blocking, async, async-concurrent, probed, \
                 probed-offloaded, bare-http or bare-rsa"
            ));
        }
    };
    measure(mode, n, in_flight, work)
}

/// Where a call's CPU goes, in one process, with every part measured in alternation (chunks of
/// 100 calls, `n` calls each in all) so that all see the same machine: the floor (RSA alone,
/// hot), the kernel's part of one exchange (a bare TCP socket), reqwest's (a bare
/// `reqwest::Client`), reqwest with the RSA work added by hand, and this client.
fn decompose(dir: &Path, n: usize) -> Result<(), String> {
    let identity = Identity::read(dir)?;
    let mut parts: Vec<(&str, workloads::Workload)> = vec![
        (
            "floor: RSA sign + verify, hot loop",
            workloads::floor(&identity)?,
        ),
        (
            "kernel: one exchange on a bare TCP socket",
            workloads::bare_tcp(&identity)?,
        ),
        (
            "reqwest: one exchange, static Authorization",
            workloads::bare_http(&identity, false)?,
        ),
        (
            "reqwest + RSA sign + verify by hand",
            workloads::bare_http(&identity, true)?,
        ),
        ("wechatpay-rs blocking", workloads::blocking(&identity)?),
        ("wechatpay-rs async", workloads::asynchronous(&identity, 1)?),
    ];
    let mut cpu = vec![(Duration::ZERO, Duration::ZERO); parts.len()];
    for (_, work) in &mut parts {
        work(WARM_UP)?;
    }
    let chunk = 100;
    for _ in 0..n.div_ceil(chunk) {
        for ((_, work), spent) in parts.iter_mut().zip(&mut cpu) {
            let (user, system) = user_system();
            work(chunk)?;
            let (u, s) = user_system();
            spent.0 += u - user;
            spent.1 += s - system;
        }
    }
    let calls = (n.div_ceil(chunk) * chunk) as f64;
    let floor = (cpu[0].0 + cpu[0].1).as_secs_f64();
    println!("| part | CPU µs/call | user | system | × floor |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for ((name, _), (user, system)) in parts.iter().zip(&cpu) {
        let us = |d: Duration| d.as_secs_f64() * 1e6 / calls;
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:.3} |",
            us(*user + *system),
            us(*user),
            us(*system),
            (*user + *system).as_secs_f64() / floor
        );
    }
    Ok(())
}

/// Issue 8's memory target: `n` requests with `in_flight` at a time; resident memory after the
/// warm-up (one full wave), then every tenth of the run, and the peak.
fn memory(dir: &Path, n: usize, in_flight: usize) -> Result<(), String> {
    let identity = Identity::read(dir)?;
    let client = identity.client()?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let started = Instant::now();
    runtime.block_on(workloads::run_async(&client, in_flight, in_flight))?;
    let after_warm_up = status_kb("VmRSS");
    let mut samples = Vec::new();
    let mut heap = Vec::new();
    let mut fds = Vec::new();
    let chunk = (n / 10).max(1);
    let mut left = n;
    while left > 0 {
        let this = chunk.min(left);
        runtime.block_on(workloads::run_async(&client, this, in_flight))?;
        left -= this;
        samples.push(status_kb("VmRSS"));
        heap.push(heap_in_use_kb());
        fds.push(open_fds());
    }
    println!(
        "{}",
        json!({
            "client": "wechatpay-rs",
            "mode": "memory",
            "n": n,
            "in_flight": in_flight,
            "wall_s": started.elapsed().as_secs_f64(),
            "rss_after_warm_up_kb": after_warm_up,
            "rss_every_tenth_kb": samples,
            "heap_in_use_every_tenth_kb": heap,
            "open_fds_every_tenth": fds,
            "peak_rss_kb": status_kb("VmHWM"),
        })
    );
    // With PEERS_EXIT_ALIVE set, exit with the client, its connections and the runtime still
    // alive, so that a heap profiler's "leaked" report lists what they hold (see
    // docs/performance.md, Memory).
    if std::env::var_os("PEERS_EXIT_ALIVE").is_some() {
        std::process::exit(0);
    }
    Ok(())
}
