//! Whether a refresh runs now: the rate limits of triggered refreshes, one download at a time,
//! and a download in progress shared by those who wait for it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::download::download;
use super::state::{Refresher, Trigger};
use crate::context::Context;
use crate::error::Result;
use crate::keyring::MIN_TRIGGERED_INTERVAL;
use crate::redact::Escaped;
use crate::transport::Lane;

/// How long a process holds the store's download lock at most.
const FLEET_LOCK: Duration = Duration::from_secs(30);
/// How long a process waits for another's download before it downloads on its own.
const FLEET_WAIT: Duration = Duration::from_secs(10);
/// How often a waiting process reads the store.
const FLEET_POLL: Duration = Duration::from_millis(100);

/// Whether this process downloads, after asking the processes sharing its store.
enum Turn {
    /// It downloads, holding the store's lock (its token) when there is one.
    Download(Option<String>),
    /// Another process's download is in the ring already.
    Done,
}

impl Refresher {
    /// Takes the store's download lock, or waits for the process that holds it and reads what
    /// it stored. A store that fails, or a wait past [`FLEET_WAIT`], lets this process download
    /// on its own.
    async fn fleet_turn(&self, trigger: &Trigger) -> Turn {
        let Some(store) = &self.store else {
            return Turn::Download(None);
        };
        let waited_since = Instant::now();
        let mut waited = false;
        loop {
            match store.try_lock_download(FLEET_LOCK) {
                Ok(Some(token)) if !waited => return Turn::Download(Some(token)),
                Ok(Some(token)) => {
                    // The other process is done: what it stored serves, unless it lacks the
                    // serial this refresh is for.
                    self.ring.load_from(store.as_ref());
                    // (An explicit refresh downloads, whatever another process did.)
                    let served = match trigger {
                        Trigger::Periodic => false,
                        _ => match trigger.serial() {
                            Some(serial) => self.ring.contains(serial),
                            None => self.ring.has_usable_key(),
                        },
                    };
                    if served {
                        if let Err(e) = store.unlock_download(&token) {
                            tracing::warn!(error = %Escaped(&e), "cannot release the download lock");
                        }
                        tracing::debug!(?trigger, "another process's download served this refresh");
                        return Turn::Done;
                    }
                    return Turn::Download(Some(token));
                }
                // A refresh of keys that still work waits for nobody: what the other process
                // stores is read now and at the next refresh.
                // Nor does a callback's (anyone can post one): it must not hold the refresh for
                // the answers that need it.
                Ok(None)
                    if matches!(
                        trigger,
                        Trigger::Stale | Trigger::Background | Trigger::CallbackSerial(_)
                    ) =>
                {
                    self.ring.load_from(store.as_ref());
                    return Turn::Done;
                }
                Ok(None) if waited_since.elapsed() < FLEET_WAIT => {
                    waited = true;
                    tokio::time::sleep(FLEET_POLL).await;
                    if let Some(serial) = trigger.serial() {
                        self.ring.load_from(store.as_ref());
                        if self.ring.contains(serial) {
                            return Turn::Done;
                        }
                    }
                }
                Ok(None) => {
                    tracing::warn!(
                        ?trigger,
                        "another process holds the download lock past 10 s: downloading"
                    );
                    return Turn::Download(None);
                }
                Err(_) => return Turn::Download(None),
            }
        }
    }

    /// Refreshes the ring for `trigger`; `Ok` without downloading when the trigger is
    /// rate-limited, or another refresh just did the work. A refresh in progress is waited for
    /// and its outcome shared (at most one download at a time), never repeated.
    pub(crate) async fn refresh(
        &self,
        ctx: &Arc<Context>,
        lane: Lane<'_>,
        trigger: Trigger,
    ) -> Result<()> {
        let ring = &self.ring;
        // The attempts finished before we queue: if one finishes while we wait, its outcome is
        // ours.
        let generation = self.state().generation;
        let limited = {
            let mut state = self.state();
            let last = match &trigger {
                Trigger::UnknownSerial(_) => Some(&mut state.last_triggered),
                Trigger::CallbackSerial(_) => Some(&mut state.last_callback_triggered),
                _ => None,
            };
            last.is_some_and(|last| {
                let limited = last.is_some_and(|t| t.elapsed() < MIN_TRIGGERED_INTERVAL);
                if !limited {
                    *last = Some(Instant::now());
                }
                limited
            })
        };
        if limited && matches!(trigger, Trigger::CallbackSerial(_)) {
            // Callbacks are anyone's to post: a limited one neither queues for the refresh lock
            // nor reads the store, so a flood of them cannot delay an answer's refresh.
            tracing::info!(
                ?trigger,
                "unknown serial: refresh rate-limited (at most one a minute)"
            );
            return Ok(());
        }
        let guard = match trigger {
            // Someone is refreshing: carry on with the current keys.
            Trigger::Stale => match self.lock.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(()),
            },
            _ => self.lock.lock().await,
        };
        if let Some(serial) = trigger.serial() {
            if ring.contains(serial) {
                // The refresh that was in progress brought it.
                return Ok(());
            }
        }
        // Another process sharing the store may have downloaded it already.
        if let Some(store) = &self.store {
            ring.load_from(store.as_ref());
            if let Some(serial) = trigger.serial() {
                if ring.contains(serial) {
                    return Ok(());
                }
            }
        }
        {
            let state = self.state();
            if state.generation != generation {
                // An attempt finished while we waited: share its outcome.
                return state.outcome();
            }
            let fresh = state.fresh(self.interval);
            let failed_recently = state.failure.is_some()
                && state
                    .last_attempt
                    .is_some_and(|t| t.elapsed() < MIN_TRIGGERED_INTERVAL);
            match &trigger {
                // (A limited callback has returned already, before queueing.)
                Trigger::UnknownSerial(serial) if limited => {
                    tracing::info!(
                        serial = %Escaped(serial),
                        "unknown serial: refresh rate-limited (at most one a minute)"
                    );
                    return Ok(());
                }
                Trigger::Initial if ring.has_usable_key() => return Ok(()),
                // After a failure, the next automatic attempt waits a minute.
                Trigger::Initial | Trigger::Stale if failed_recently => return state.outcome(),
                Trigger::Stale | Trigger::Background if fresh => return Ok(()),
                _ => {}
            }
        }
        let outcome = match self.fleet_turn(&trigger).await {
            // Another process sharing the store downloaded, and this ring has read it.
            Turn::Done => Ok(()),
            Turn::Download(token) => {
                tracing::debug!(?trigger, "refreshing platform certificates");
                let outcome = download(self, ctx, lane).await;
                if let (Some(store), Some(token)) = (&self.store, token) {
                    if let Err(e) = store.unlock_download(&token) {
                        tracing::warn!(error = %Escaped(&e), "cannot release the download lock");
                    }
                }
                outcome
            }
        };
        {
            let mut state = self.state();
            state.last_attempt = Some(Instant::now());
            state.generation += 1;
            state.failure = outcome.as_ref().err().map(|e| (e.kind(), e.to_string()));
            if outcome.is_ok() {
                state.last_success = Some(Instant::now());
            }
        }
        drop(guard);
        if let Err(e) = &outcome {
            tracing::warn!(
                error = %Escaped(e),
                ?trigger,
                "platform certificate refresh failed"
            );
        }
        outcome
    }
}
