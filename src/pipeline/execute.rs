//! The one orchestrator: every request the client makes (an API call, a streamed bill or
//! statement, the key ring's certificate download) runs through [`execute`], which differs
//! only by its [`Policy`] and by how the answer is taken ([`Receive`]).
//!
//! ```text
//! keys ready (hook 1) -> prepare (if deferred) -> [retry [failover [sign -> send -> receive -> check (hook 2)]]]
//! ```
//!
//! The whole of it runs inside the request's span (`wechatpay.request`), and each attempt
//! (the `[sign .. check]` part, once per retry and failover) inside an attempt span
//! ([`trace`](super::trace)): the events of the retries, the failover and the key ring's hooks
//! are the request's.

use std::sync::Arc;
use std::time::Instant;

use http::Method;
use tracing::Instrument;

use super::policy::{Checking, Policy};
use super::receive::Receive;
use super::route::route;
use super::sign::authorize;
use super::trace::{RequestTrace, record_outcome};
use crate::context::{Context, keys_ready};
use crate::error::Result;
use crate::prepared::{PreparedRequest, Protocol};
use crate::transport::Lane;

/// Prepares a request once the key ring's keys are ready.
pub(crate) type Deferred = Box<dyn FnOnce(&Context) -> Result<PreparedRequest> + Send>;

/// What to send. (One per call, moved into its future: boxing the larger variant would cost an
/// allocation per request.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Request {
    /// Prepared already (usually at once, when the verb is called).
    Ready(PreparedRequest),
    /// An APIv3 request with this method, prepared once the key ring's keys are ready: it
    /// encrypts with, or names, a platform key not downloaded yet.
    AfterKeys(Method, Deferred),
}

impl Request {
    fn method(&self) -> &Method {
        match self {
            Request::Ready(prepared) => &prepared.method,
            Request::AfterKeys(method, _) => method,
        }
    }
}

/// Sends `request` as `policy` says and takes its answer as `R` does, inside a request span
/// naming `template` (the path template the request was made from, without its values).
pub(crate) async fn execute<R: Receive>(
    ctx: &Arc<Context>,
    lane: Lane<'_>,
    request: Request,
    policy: Policy,
    template: &str,
) -> Result<R::Output> {
    let trace = RequestTrace::start(request.method(), template);
    // Without a subscriber for the span (the usual case) the work is awaited as it is: a
    // wrapper would move the future once more, for nothing.
    if trace.span().is_disabled() {
        return run::<R>(ctx, lane, request, policy, &trace).await;
    }
    let outcome = run::<R>(ctx, lane, request, policy, &trace)
        .instrument(trace.span().clone())
        .await;
    trace.finish(&outcome, R::answer);
    outcome
}

/// [`execute`]'s work, inside the request span.
async fn run<R: Receive>(
    ctx: &Arc<Context>,
    lane: Lane<'_>,
    request: Request,
    policy: Policy,
    trace: &RequestTrace,
) -> Result<R::Output> {
    let v3 = match &request {
        Request::Ready(prepared) => prepared.protocol == Protocol::V3,
        Request::AfterKeys(..) => true,
    };
    // The key ring's own needs first (its first download, a lazy refresh), outside the route:
    // they make their own requests, with their own failover, and what happens to them says
    // nothing about whether the primary got this request.
    if policy.key_hooks && v3 {
        keys_ready(ctx, lane).await?;
    }
    let prepared = match request {
        Request::Ready(prepared) => prepared,
        Request::AfterKeys(_, prepare) => prepare(ctx)?,
    };
    trace.prepared(&prepared.url, ctx.trace_paths);
    let checking = policy.checking(&prepared);
    let attempt = |prepared| attempt::<R>(ctx, lane, &policy, checking, prepared, trace);
    // Without a retry policy, the request is not cloned.
    let Some(retry) = policy.retry_for(&prepared.method) else {
        return route(ctx, policy.failover, prepared, attempt).await;
    };
    let started = Instant::now();
    let mut retries = 0;
    loop {
        let outcome = route(ctx, policy.failover, prepared.clone(), &attempt).await;
        let Err(error) = &outcome else {
            return outcome;
        };
        let Some(delay) = retry.next_delay(retries, started.elapsed(), error) else {
            return outcome;
        };
        retries += 1;
        tracing::info!(
            retry = retries,
            delay_ms = delay.as_millis() as u64,
            "retrying a GET"
        );
        tokio::time::sleep(delay).await;
    }
}

/// One attempt, inside its own span (awaited as it is when the span is disabled).
async fn attempt<R: Receive>(
    ctx: &Arc<Context>,
    lane: Lane<'_>,
    policy: &Policy,
    checking: Checking,
    prepared: PreparedRequest,
    trace: &RequestTrace,
) -> Result<R::Output> {
    let span = trace.attempt(&prepared.url);
    if span.is_disabled() {
        return send::<R>(ctx, lane, policy, checking, prepared).await;
    }
    let outcome = send::<R>(ctx, lane, policy, checking, prepared)
        .instrument(span.clone())
        .await;
    record_outcome(&span, &outcome, R::answer);
    outcome
}

/// An attempt's work: signs (APIv3), sends and takes the answer.
async fn send<R: Receive>(
    ctx: &Arc<Context>,
    lane: Lane<'_>,
    policy: &Policy,
    checking: Checking,
    mut prepared: PreparedRequest,
) -> Result<R::Output> {
    let http = lane.http.pick(prepared.mutual_tls())?;
    if prepared.protocol == Protocol::V3 {
        authorize(ctx, ctx.v3()?, &mut prepared).await?;
    }
    let limit = policy.limit(checking);
    R::receive(ctx, lane, http, prepared, checking, limit, policy.key_hooks).await
}
