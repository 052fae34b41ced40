//! [`Refresher`]: what the refresh policy of one client's key ring knows and holds.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::crypto::Apiv3Key;
use crate::error::{Error, ErrorKind, Result};
use crate::keyring::{KeyRing, KeyStore};

/// Why a refresh runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// The ring has no usable key: the request waits for the download.
    Initial,
    /// The last refresh is older than the interval (blocking clients, lazily).
    Stale,
    /// Asked for (`refresh_certificates`).
    Periodic,
    /// The background task's tick: skipped while the last refresh is fresh.
    Background,
    /// An answer named this serial, which the ring does not have.
    UnknownSerial(String),
    /// A callback named this serial, which the ring does not have. Rate-limited apart from
    /// answers: anyone can post a callback (its signature is checked only once the key is
    /// known), and forged ones must not use up the refreshes that genuine answers need.
    CallbackSerial(String),
}

impl Trigger {
    /// The serial an answer or a callback named, for the refreshes they trigger.
    pub(super) fn serial(&self) -> Option<&str> {
        match self {
            Trigger::UnknownSerial(serial) | Trigger::CallbackSerial(serial) => Some(serial),
            _ => None,
        }
    }
}

/// What is known of the attempts so far.
#[derive(Default)]
pub(super) struct RefreshState {
    /// The last refresh that succeeded (or found public-key mode).
    pub(super) last_success: Option<Instant>,
    /// The last attempt, successful or not.
    pub(super) last_attempt: Option<Instant>,
    /// The last refresh an answer's unknown serial triggered.
    pub(super) last_triggered: Option<Instant>,
    /// The last refresh a callback's unknown serial triggered.
    pub(super) last_callback_triggered: Option<Instant>,
    /// The background task is running.
    pub(super) background: bool,
    /// Attempts finished so far.
    pub(super) generation: u64,
    /// How the last attempt failed, if it did.
    pub(super) failure: Option<(ErrorKind, String)>,
    /// A serial a callback named, to refresh for on the next request (blocking use).
    pub(super) pending: Option<String>,
}

impl RefreshState {
    /// The last attempt's outcome.
    pub(super) fn outcome(&self) -> Result<()> {
        match &self.failure {
            None => Ok(()),
            Some((kind, message)) => Err(Error::of_kind(
                *kind,
                format!("the last platform certificate download failed: {message}"),
            )),
        }
    }

    /// The last refresh succeeded less than `interval` ago.
    pub(super) fn fresh(&self, interval: Duration) -> bool {
        self.last_success.is_some_and(|t| t.elapsed() < interval)
    }
}

/// The refresh policy of one client's key ring (`auto_certificates`). Owned by the client
/// (through its context's hooks); its tasks hold it weakly, and its drop wakes the background
/// task so that it ends at once instead of keeping the APIv3 key for an interval.
pub(crate) struct Refresher {
    pub(super) ring: KeyRing,
    /// Decrypts the downloaded certificates.
    pub(super) apiv3_key: Apiv3Key,
    pub(super) interval: Duration,
    pub(super) store: Option<Arc<dyn KeyStore>>,
    /// An answer's unknown serial triggers a refresh: the ring verifies the answers (not a
    /// custom verifier).
    pub(super) on_unknown_serial: bool,
    /// One download at a time.
    pub(super) lock: tokio::sync::Mutex<()>,
    state: Mutex<RefreshState>,
    /// Ends the background task; a permit, not a broadcast: the task may be in the middle of a
    /// refresh, not waiting, and must still see it.
    pub(super) stop: Arc<tokio::sync::Notify>,
    /// Itself, for the tasks it starts.
    pub(super) this: Weak<Refresher>,
}

impl Refresher {
    /// The policy of `ring`, downloading with `apiv3_key` every `interval`, keeping what it
    /// downloads in `store`; `fresh`: what the ring holds counts as a refresh (it came from the
    /// store: a restart needs no network).
    pub(crate) fn new(
        ring: KeyRing,
        apiv3_key: Apiv3Key,
        interval: Duration,
        store: Option<Arc<dyn KeyStore>>,
        on_unknown_serial: bool,
        fresh: bool,
    ) -> Arc<Refresher> {
        let state = RefreshState {
            last_success: fresh.then(Instant::now),
            ..RefreshState::default()
        };
        Arc::new_cyclic(|this| Refresher {
            ring,
            apiv3_key,
            interval,
            store,
            on_unknown_serial,
            lock: tokio::sync::Mutex::new(()),
            state: Mutex::new(state),
            stop: Arc::new(tokio::sync::Notify::new()),
            this: this.clone(),
        })
    }

    pub(super) fn state(&self) -> MutexGuard<'_, RefreshState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.stop.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refreshers_drop_reaches_a_task_busy_refreshing() {
        let refresher = Refresher::new(
            KeyRing::new(),
            Apiv3Key::new("0123456789abcdef0123456789abcdef").unwrap(),
            Duration::from_secs(3600),
            None,
            true,
            false,
        );
        // What the background task holds: the stop signal, and the refresher weakly.
        let stop = refresher.stop.clone();
        let weak = refresher.this.clone();
        drop(refresher);
        assert!(
            weak.upgrade().is_none(),
            "a task must not keep the APIv3 key"
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            // The task was refreshing, not waiting, when the client went: the permit waits.
            let ended = tokio::time::timeout(Duration::from_secs(5), stop.notified()).await;
            assert!(ended.is_ok(), "the task would sleep a whole interval");
        });
    }
}
