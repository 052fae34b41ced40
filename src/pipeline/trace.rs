//! What the orchestrator tells [`tracing`]: one span per request (`wechatpay.request`) and one
//! per attempt inside it (`wechatpay.attempt`: a retry or a failover is another attempt). Every
//! event of the request (a retry, a failover, the key ring's refresh and its own download)
//! happens inside the request span.
//!
//! Only what identifies the call and its answer is recorded: the method, the path template
//! (the concrete path only when the client was built with
//! [`trace_paths`](crate::ClientBuilder::trace_paths), and never the query), the host, the
//! status, WeChat Pay's `Request-ID`, the error kind and code, the timing. Never a header of
//! the request, a signature, a body, a query value or a key.
//!
//! With no subscriber (or none that wants these spans), a span is a constant
//! ([`Span::none`]) decided by `tracing`'s callsite cache, and nothing else here runs.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use http::{HeaderMap, Method, StatusCode};
use tracing::Span;
use tracing::field::{Empty, display};
use url::Url;

use crate::error::Result;
use crate::redact::Escaped;

/// The request span and what its attempts learned.
pub(crate) struct RequestTrace {
    span: Span,
    /// When the request started (only when the span is enabled).
    started: Option<Instant>,
    /// Attempts started so far.
    attempts: AtomicU32,
    /// The host and port of the latest attempt (only when the span is enabled).
    host: Mutex<Option<(String, Option<u16>)>>,
}

impl RequestTrace {
    /// The span of a request to `template` (a path template, as the endpoint was reached: its
    /// values are not in it) with `method`.
    pub(crate) fn start(method: &Method, template: &str) -> RequestTrace {
        let span = tracing::info_span!(
            "wechatpay.request",
            http.request.method = method.as_str(),
            url.template = template,
            url.path = Empty,
            server.address = Empty,
            server.port = Empty,
            wechatpay.attempts = Empty,
            http.response.status_code = Empty,
            wechatpay.request_id = Empty,
            wechatpay.duration_ms = Empty,
            "error.type" = Empty,
            wechatpay.error_code = Empty,
            wechatpay.verification = Empty,
            otel.status_code = Empty,
        );
        let started = (!span.is_disabled()).then(Instant::now);
        RequestTrace {
            span,
            started,
            attempts: AtomicU32::new(0),
            host: Mutex::new(None),
        }
    }

    /// The request span.
    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// The request is prepared: with `concrete` (the client's `trace_paths`), its URL path is
    /// recorded (never its query).
    pub(crate) fn prepared(&self, url: &Url, concrete: bool) {
        if concrete && !self.span.is_disabled() {
            self.span.record("url.path", url.path());
        }
    }

    /// The span of the next attempt, to `url`.
    pub(crate) fn attempt(&self, url: &Url) -> Span {
        let attempt = self.attempts.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.span.is_disabled() {
            let host = url.host_str().unwrap_or_default().to_owned();
            *lock(&self.host) = Some((host, url.port_or_known_default()));
        }
        // The fields are computed only when the span is wanted.
        tracing::info_span!(
            "wechatpay.attempt",
            otel.kind = "client",
            wechatpay.attempt = attempt,
            server.address = url.host_str().unwrap_or_default(),
            server.port = url.port_or_known_default(),
            http.response.status_code = Empty,
            wechatpay.request_id = Empty,
            "error.type" = Empty,
            wechatpay.error_code = Empty,
            wechatpay.verification = Empty,
            otel.status_code = Empty,
        )
    }

    /// The request ended with `outcome`; `answer` gives a successful output's status and
    /// headers.
    pub(crate) fn finish<T>(
        &self,
        outcome: &Result<T>,
        answer: impl FnOnce(&T) -> (StatusCode, &HeaderMap),
    ) {
        if self.span.is_disabled() {
            return;
        }
        let span = &self.span;
        if let Some((host, port)) = lock(&self.host).take() {
            span.record("server.address", host.as_str());
            if let Some(port) = port {
                span.record("server.port", port);
            }
        }
        span.record("wechatpay.attempts", self.attempts.load(Ordering::Relaxed));
        record_outcome(span, outcome, answer);
        if let Some(started) = self.started {
            span.record(
                "wechatpay.duration_ms",
                started.elapsed().as_secs_f64() * 1000.0,
            );
        }
    }
}

/// Records on `span` (a request's or an attempt's) the status and `Request-ID` of the answer
/// (the answer's text escaped, as every log field from an answer is: `redact::Escaped`),
/// and on failure the error's kind (and WeChat Pay's error code when it answered one, the
/// check that failed when it did not verify).
pub(crate) fn record_outcome<T>(
    span: &Span,
    outcome: &Result<T>,
    answer: impl FnOnce(&T) -> (StatusCode, &HeaderMap),
) {
    if span.is_disabled() {
        return;
    }
    let answered = match outcome {
        Ok(output) => Some(answer(output)),
        Err(e) => {
            span.record("error.type", e.kind().name());
            span.record("otel.status_code", "ERROR");
            if let Some(code) = e.api().and_then(|api| api.code()) {
                span.record("wechatpay.error_code", display(Escaped(code)));
            }
            if let Some(failure) = e.verification() {
                span.record("wechatpay.verification", failure.name());
            }
            e.response().map(|r| (r.status(), r.headers()))
        }
    };
    if let Some((status, headers)) = answered {
        span.record("http.response.status_code", status.as_u16());
        if let Some(id) = headers.get("Request-ID").and_then(|v| v.to_str().ok()) {
            span.record("wechatpay.request_id", display(Escaped(id)));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
