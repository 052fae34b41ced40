//! Where one attempt goes: the primary host or the backup ([`Failover`]'s state decides), and
//! what its outcome says about the primary.

use std::future::Future;

use crate::context::Context;
use crate::error::{Error, ErrorKind, Result};
use crate::failover::{Failover, Route};
use crate::prepared::PreparedRequest;

use super::url::build_url;

/// Runs `attempt` on the primary or the backup host. A request that could not reach the
/// primary (DNS, connect, TLS handshake: nothing was received) is sent again, signed afresh, to
/// the backup; any later failure is returned as it is. Without failover (`enabled` false, no
/// backup configured, or a URL outside the primary base), one attempt as given.
pub(crate) async fn route<T, F, Fut>(
    ctx: &Context,
    enabled: bool,
    prepared: PreparedRequest,
    attempt: F,
) -> Result<T>
where
    F: Fn(PreparedRequest) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let Some(failover) = ctx
        .failover
        .as_ref()
        .filter(|f| enabled && prepared.url.as_str().starts_with(f.primary.as_str()))
    else {
        return attempt(prepared).await;
    };
    match failover.choose() {
        Route::Backup => attempt(rebase(ctx, prepared, failover)?)
            .await
            .map_err(|e| {
                backup_failed(
                    e,
                    format_args!(
                        "sent to the backup host: the primary {} could not be reached shortly \
                         before",
                        failover.primary.as_str()
                    ),
                )
            }),
        // A probe's guard lives until the probe settled, or its future was dropped.
        Route::Primary(_probe) => {
            let outcome = attempt(prepared.clone()).await;
            match &outcome {
                Err(e) if e.is_connect() => {
                    failover.primary_down();
                    let rebased = rebase(ctx, prepared, failover)?;
                    attempt(rebased).await.map_err(|backup| {
                        backup_failed(
                            backup,
                            format_args!(
                                "sent to the backup host after the primary failed: {}",
                                e.message()
                            ),
                        )
                    })
                }
                // An error after connecting, or before anything was sent (the signer): nothing
                // learned about the primary. A probe's guard frees the slot as it goes; any
                // other request leaves it alone.
                Err(e) if e.response().is_none() => outcome,
                // The primary answered (any answer, checked or not).
                _ => {
                    failover.primary_up();
                    outcome
                }
            }
        }
    }
}

/// A transport error on the backup host, with why the primary was not used.
fn backup_failed(e: Error, why: std::fmt::Arguments<'_>) -> Error {
    if e.kind() == ErrorKind::Transport {
        e.noting(why)
    } else {
        e
    }
}

/// The request for the backup host: same path and query, and a `User-Agent` that says so.
fn rebase(
    ctx: &Context,
    mut prepared: PreparedRequest,
    failover: &Failover,
) -> Result<PreparedRequest> {
    let relative = &prepared.url.path()[failover.primary.path().len()..];
    let url = build_url(&failover.backup, relative, prepared.url.query())?;
    prepared.api_offset = failover.backup.path().len() - 1;
    prepared.url = url;
    if let Ok(agent) = http::HeaderValue::from_str(&format!(
        "{} failover",
        ctx.user_agent.to_str().unwrap_or_default()
    )) {
        prepared.headers.insert(http::header::USER_AGENT, agent);
    }
    Ok(prepared)
}
