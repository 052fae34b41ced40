//! The benchmarks' server (`benches/roundtrip.rs`, `benches/peers/`): a sandbox whose script
//! answers one request shape with a body signed ahead of time, as a fast real server would,
//! so that the server's side of a round trip costs as little as it can while every request is
//! still checked. Each benchmark runs it in a child process pinned to a CPU of its own.
//!
//! Every request is checked twice on the server's side: by the sandbox (a request it refuses
//! never reaches the script), then by the judge ([`super::judge::verify_request`]). The
//! sandbox's log keeps only the last 1000 requests, so the verdicts are counted instead:
//! [`PresignedServer::check`] compares the requests the sandbox counted with those the script
//! accepted.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use wechatpay_sandbox::{Answer, Counters, Sandbox, SignMode};

use super::judge::{response_message, rsa_sha256_sign, verify_request};
use super::keys::{keys, now_unix, random_alnum};

/// The `Request-ID` of every answer (fixed: nothing to generate per request).
const REQUEST_ID: &str = "08F78BB5AF0610D302100000000000000000";
/// How often the answer is signed again: well inside the 300 s a client accepts.
const RESIGN_AFTER_SECS: i64 = 60;

/// The answer's headers, signed over the body at one timestamp.
struct Signed {
    at: i64,
    headers: Vec<(&'static str, String)>,
}

/// The signature headers of `body`, signed now with the platform certificate's key.
fn sign(body: &[u8]) -> Signed {
    let keys = keys();
    let at = now_unix();
    let timestamp = at.to_string();
    let nonce = random_alnum(32);
    let signature = rsa_sha256_sign(
        &keys.platform_private,
        &response_message(&timestamp, &nonce, body),
    );
    Signed {
        at,
        headers: vec![
            ("Wechatpay-Timestamp", timestamp),
            ("Wechatpay-Nonce", nonce),
            ("Wechatpay-Signature", signature),
            ("Wechatpay-Serial", keys.platform_serial.clone()),
            ("Request-ID", REQUEST_ID.to_owned()),
        ],
    }
}

/// A sandbox answering `target` with a pre-signed body. Dropping it stops it.
pub struct PresignedServer {
    sandbox: Sandbox,
    /// Requests the judge accepted and the script answered with the body.
    passed: Arc<AtomicU64>,
}

impl PresignedServer {
    /// Starts a sandbox whose script answers every request for `target` (the raw target, path
    /// and query) with `body`: 200, `application/json`, signed with the platform certificate's
    /// key at start and again once a minute. A request the judge refuses, or for another
    /// target, gets a 401 `SIGN_ERROR` (its reason on stderr). Idle keep-alive connections are
    /// never closed by the server (the pooled connections of a benchmark may idle between its
    /// phases, and a reconnection would change what is measured).
    pub fn start(target: &str, body: Vec<u8>) -> Result<PresignedServer, String> {
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
        let signed = Mutex::new(sign(&body));
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
            let mut signed = signed.lock().unwrap_or_else(|e| e.into_inner());
            if now_unix() - signed.at >= RESIGN_AFTER_SECS {
                *signed = sign(&body);
            }
            let answer = Answer::bytes(200, "application/json", body.clone()).unsigned();
            Some(
                signed
                    .headers
                    .iter()
                    .fold(answer, |answer, (name, value)| answer.header(name, value)),
            )
        });
        Ok(PresignedServer { sandbox, passed })
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
