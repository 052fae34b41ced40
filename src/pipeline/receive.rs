//! How the orchestrator sends a signed request and takes its answer: read whole and checked
//! ([`Whole`]), or checked as far as it can be before the body and handed over with the body
//! unread ([`Streamed`]). Either way a non-2xx answer is an error, and a check that names a
//! serial the key ring lacks asks the ring's refresh policy (hook 2) before it fails.

use std::future::Future;
use std::sync::Arc;

use http::{HeaderMap, StatusCode};

use super::check::{self, Rule};
use super::check_v2;
use super::policy::Checking;
use crate::context::{Context, refreshed_for};
use crate::error::{Error, Result};
use crate::prepared::PreparedRequest;
use crate::response::Response;
use crate::transport::{self, Lane, Limit};

/// How an answer is taken.
pub(crate) trait Receive {
    /// What the caller gets.
    type Output: Send;

    /// Sends `prepared` (signed) with `http` and takes its answer, checked as `checking` says;
    /// `limit` bounds what is read whole; `hooks`: the key ring's refresh policy may be asked
    /// about an unknown serial.
    fn receive<'a>(
        ctx: &'a Arc<Context>,
        lane: Lane<'a>,
        http: &'a reqwest::Client,
        prepared: PreparedRequest,
        checking: Checking,
        limit: Limit,
        hooks: bool,
    ) -> impl Future<Output = Result<Self::Output>> + Send + 'a;

    /// The status and headers of an answer taken, for the request's span.
    fn answer(output: &Self::Output) -> (StatusCode, &HeaderMap);
}

/// The whole answer, read (within `limit`) and checked: a [`Response`].
pub(crate) struct Whole;

/// The answer's status and headers checked, its body not read yet: a bill or statement to
/// stream (the caller checks the body's hash).
pub(crate) struct Streamed;

impl Receive for Whole {
    type Output = Response;

    fn answer(output: &Response) -> (StatusCode, &HeaderMap) {
        (output.status(), output.headers())
    }

    async fn receive<'a>(
        ctx: &'a Arc<Context>,
        lane: Lane<'a>,
        http: &'a reqwest::Client,
        prepared: PreparedRequest,
        checking: Checking,
        limit: Limit,
        hooks: bool,
    ) -> Result<Response> {
        let echo = prepared.echo();
        let response = transport::exchange(lane, http, prepared, limit).await?;
        match checking {
            Checking::V3(rule) => {
                let v3 = ctx.v3()?;
                let verifier = v3.verifier.as_ref();
                let first = check::finish(verifier, rule, response);
                let response =
                    after_refresh(ctx, lane, hooks, first, |e| match e.response().cloned() {
                        Some(response) => check::finish(verifier, rule, response),
                        None => Err(e),
                    })
                    .await?;
                if !response.signature_verified() {
                    return Ok(response);
                }
                match check::first_sighting(v3.replay.as_ref(), lane, response.headers()).await {
                    Ok(()) => Ok(response),
                    Err(failure) => {
                        let mut refused = response;
                        refused.mark_refused();
                        Err(Error::from_verification(failure, refused))
                    }
                }
            }
            Checking::V2(rule) => check_v2::finish(ctx.v2()?, rule, &echo, response),
            Checking::Digest | Checking::ByCaller if response.status().is_success() => Ok(response),
            Checking::Digest | Checking::ByCaller => Err(check::api_error_of(response)),
        }
    }
}

impl Receive for Streamed {
    type Output = reqwest::Response;

    fn answer(output: &reqwest::Response) -> (StatusCode, &HeaderMap) {
        (output.status(), output.headers())
    }

    async fn receive<'a>(
        ctx: &'a Arc<Context>,
        lane: Lane<'a>,
        http: &'a reqwest::Client,
        prepared: PreparedRequest,
        checking: Checking,
        limit: Limit,
        hooks: bool,
    ) -> Result<reqwest::Response> {
        let answer = transport::send(http, prepared).await?;
        if !answer.status().is_success() {
            let response = transport::read(answer, limit).await?;
            return Err(match checking {
                Checking::V2(rule) => match check_v2::finish(ctx.v2()?, rule, &[], response) {
                    Err(e) => e,
                    Ok(_) => Error::config("a non-2xx APIv2 answer passed its check"),
                },
                _ => check::api_error_of(response),
            });
        }
        match checking {
            Checking::V3(Rule::Unsigned) | Checking::Digest | Checking::ByCaller => Ok(answer),
            Checking::V3(Rule::StatementSha1) => {
                let v3 = ctx.v3()?;
                let verifier = v3.verifier.as_ref();
                let check = || {
                    check::verify_statement_headers(verifier, answer.headers())
                        .map_err(Error::from_failure)
                };
                after_refresh(ctx, lane, hooks, check(), |_| check()).await?;
                check::first_sighting(v3.replay.as_ref(), lane, answer.headers())
                    .await
                    .map_err(Error::from_failure)?;
                Ok(answer)
            }
            // Only what can be checked before its body is read is streamed.
            Checking::V3(Rule::Body) | Checking::V2(_) => Err(Error::config(
                "this answer's signature covers its body: it is read whole, not streamed",
            )),
        }
    }
}

/// `first`, or, when it failed naming a serial the key ring lacks and the ring's refresh policy
/// refreshed for it (hook 2), `again`: the same answer checked once more.
async fn after_refresh<T>(
    ctx: &Arc<Context>,
    lane: Lane<'_>,
    hooks: bool,
    first: Result<T>,
    again: impl FnOnce(Error) -> Result<T>,
) -> Result<T> {
    let e = match first {
        Err(e) => e,
        ok => return ok,
    };
    if hooks && refreshed_for(ctx, lane, e.verification()).await {
        again(e)
    } else {
        Err(e)
    }
}
