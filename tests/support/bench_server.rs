//! The benchmarks' server (`benches/roundtrip.rs`, `benches/peers/`): a sandbox whose script
//! answers one request shape with a static body, signed for each answer as WeChat Pay signs
//! (a fresh nonce every time: the client refuses an answer it saw before). Each benchmark runs
//! it in a child process pinned to a CPU of its own, so that its signing is not the client's
//! CPU.
//!
//! Every request is checked twice on the server's side: by the sandbox (a request it refuses
//! never reaches the script), then by the judge ([`super::judge::verify_request`]). The
//! sandbox's log keeps only the last 1000 requests, so the verdicts are counted instead:
//! [`BenchServer::check`] compares the requests the sandbox counted with those the script
//! accepted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wechatpay_sandbox::{Answer, Counters, Sandbox, SignMode};

use super::judge::verify_request;
use super::keys::keys;

/// The `Request-ID` of every answer (fixed: nothing to generate per request).
const REQUEST_ID: &str = "08F78BB5AF0610D302100000000000000000";

/// A sandbox answering `target` with a static body, signed each time. Dropping it stops it.
pub struct BenchServer {
    sandbox: Sandbox,
    /// Requests the judge accepted and the script answered with the body.
    passed: Arc<AtomicU64>,
}

impl BenchServer {
    /// Starts a sandbox whose script answers every request for `target` (the raw target, path
    /// and query) with `body`: 200, `application/json`, signed with the platform certificate's
    /// key, a fresh nonce each time. A request the judge refuses, or for another
    /// target, gets a 401 `SIGN_ERROR` (its reason on stderr). Idle keep-alive connections are
    /// never closed by the server (the pooled connections of a benchmark may idle between its
    /// phases, and a reconnection would change what is measured).
    pub fn start(target: &str, body: Vec<u8>) -> Result<BenchServer, String> {
        // The keys (shared with the sandbox) exist before the first request.
        let _ = keys();
        let sandbox = Sandbox::builder()
            .header_read_timeout(None)
            .start()
            .map_err(|e| format!("the sandbox does not start: {e}"))?;
        // The sandbox's own answers (a refusal) are signed with the key the clients know.
        sandbox.set_sign_mode(SignMode::Certificate);
        let passed = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&passed);
        let target = target.to_owned();
        sandbox.script(move |request| {
            let checked = if request.target == target {
                verify_request(
                    &request.method,
                    &request.target,
                    &request.headers,
                    &request.body,
                )
                .map(drop)
            } else {
                Err(format!("unexpected target {}", request.target))
            };
            if let Err(reason) = checked {
                eprintln!("server: rejected: {reason}");
                return Some(Answer::error(401, "SIGN_ERROR", &reason));
            }
            counted.fetch_add(1, Ordering::Relaxed);
            Some(
                Answer::bytes(200, "application/json", body.clone())
                    .sign_mode(SignMode::Certificate)
                    .header("Request-ID", REQUEST_ID),
            )
        });
        Ok(BenchServer { sandbox, passed })
    }

    /// `http://127.0.0.1:<port>/`
    pub fn base_uri(&self) -> &str {
        self.sandbox.base_uri()
    }

    /// The port of [`base_uri`](Self::base_uri).
    pub fn port(&self) -> u16 {
        self.base_uri()
            .trim_end_matches('/')
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .expect("the base URI ends with a port")
    }

    /// What the sandbox served: connections, requests, requests it refused.
    pub fn counters(&self) -> Counters {
        self.sandbox.counters()
    }

    /// The requests that passed both checks and were answered with the body.
    pub fn passed(&self) -> u64 {
        self.passed.load(Ordering::Relaxed)
    }

    /// `Ok` with the counters when every request the sandbox received passed both checks;
    /// otherwise how many did not, and the last reasons the sandbox logged (the judge's went
    /// to stderr). Call it once the clients are done.
    pub fn check(&self) -> Result<Counters, String> {
        let counters = self.counters();
        let passed = self.passed();
        if counters.requests == passed {
            return Ok(counters);
        }
        let reasons: Vec<String> = self
            .sandbox
            .requests()
            .into_iter()
            .filter_map(|r| r.verdict.err())
            .rev()
            .take(3)
            .collect();
        Err(format!(
            "{} of {} requests failed the checks ({} refused by the sandbox; its last reasons: \
             {reasons:?})",
            counters.requests.saturating_sub(passed),
            counters.requests,
            counters.refused
        ))
    }
}
