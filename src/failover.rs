//! Failover to the backup host, and back.
//!
//! WeChat Pay asks merchants to send to `api2.mch.weixin.qq.com` when the primary host cannot
//! be reached, and to come back when it recovers. A request moves to the backup only when the
//! primary failed before it could have been received (DNS, connect, TLS handshake): a request
//! whose bytes left is never sent twice. After such a failure the primary is considered down for
//! a cool-down period; then a single request probes it, and traffic fails back when it succeeds.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::base_uri::BaseUri;

/// WeChat Pay's backup host for the default production host.
pub const DEFAULT_BACKUP_BASE_URI: &str = "https://api2.mch.weixin.qq.com/";
/// How long the primary is avoided after it failed, by default.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(60);

/// Where one request goes.
pub(crate) enum Route<'a> {
    /// The primary host; with a [`Probe`] when the request probes it after the cool-down.
    Primary(Option<Probe<'a>>),
    /// The backup host.
    Backup,
}

/// The probe in flight. Dropped before it settled (its request's future was dropped: a
/// timeout around the call, a `select!`, an aborted task), it frees the next request to probe,
/// so that traffic is never pinned to the backup by a probe that will not report.
pub(crate) struct Probe<'a> {
    failover: &'a Failover,
    id: u64,
}

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        let mut state = self.failover.state();
        if state.probing == Some(self.id) {
            state.probing = None;
        }
    }
}

#[derive(Default)]
struct State {
    /// When the primary last failed (while it is considered down).
    down_since: Option<Instant>,
    /// The probe of the primary in flight, if any.
    probing: Option<u64>,
    /// Probes started so far.
    probes: u64,
}

/// The primary/backup pair and what is known of the primary.
pub(crate) struct Failover {
    pub(crate) primary: BaseUri,
    pub(crate) backup: BaseUri,
    cooldown: Duration,
    state: Mutex<State>,
}

impl Failover {
    pub(crate) fn new(primary: BaseUri, backup: BaseUri, cooldown: Duration) -> Failover {
        Failover {
            primary,
            backup,
            cooldown,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The route of the next request: the primary while it is up; the backup during the
    /// cool-down; after it, one probe of the primary at a time.
    pub(crate) fn choose(&self) -> Route<'_> {
        let mut state = self.state();
        match state.down_since {
            None => Route::Primary(None),
            Some(since) if since.elapsed() < self.cooldown => Route::Backup,
            Some(_) if state.probing.is_some() => Route::Backup,
            Some(_) => {
                state.probes += 1;
                state.probing = Some(state.probes);
                Route::Primary(Some(Probe {
                    failover: self,
                    id: state.probes,
                }))
            }
        }
    }

    /// The primary answered: if it was down, traffic fails back.
    pub(crate) fn primary_up(&self) {
        let mut state = self.state();
        if state.down_since.take().is_some() {
            tracing::info!(
                primary = self.primary.as_str(),
                "the primary host answers again: failing back"
            );
        }
        state.probing = None;
    }

    /// The primary could not be reached: requests go to the backup for the cool-down.
    pub(crate) fn primary_down(&self) {
        let mut state = self.state();
        if state.down_since.is_none() {
            tracing::warn!(
                primary = self.primary.as_str(),
                backup = self.backup.as_str(),
                cooldown_secs = self.cooldown.as_secs(),
                "the primary host cannot be reached: switching to the backup host"
            );
        }
        state.down_since = Some(Instant::now());
        state.probing = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failover() -> Failover {
        let uri = |s: &str| BaseUri::parse(s, true).unwrap();
        // No cool-down: a probe is due as soon as the primary is down.
        Failover::new(
            uri("https://primary.example/"),
            uri("https://backup.example/"),
            Duration::ZERO,
        )
    }

    fn is_probe(route: &Route<'_>) -> bool {
        matches!(route, Route::Primary(Some(_)))
    }

    #[test]
    fn one_probe_at_a_time_and_an_abandoned_one_frees_the_next() {
        let f = failover();
        assert!(matches!(f.choose(), Route::Primary(None)));
        f.primary_down();
        let probe = f.choose();
        assert!(is_probe(&probe));
        assert!(matches!(f.choose(), Route::Backup), "a probe is in flight");
        // The probe's future is dropped before it settled: the next request probes.
        drop(probe);
        let next = f.choose();
        assert!(is_probe(&next));
        f.primary_up();
        drop(next);
        assert!(matches!(f.choose(), Route::Primary(None)));
    }

    #[test]
    fn a_settled_probe_dropped_late_leaves_the_next_probe_alone() {
        let f = failover();
        f.primary_down();
        let first = f.choose();
        assert!(is_probe(&first));
        // The first probe failed; a second is in flight when the first's guard goes.
        f.primary_down();
        let second = f.choose();
        assert!(is_probe(&second));
        drop(first);
        assert!(
            matches!(f.choose(), Route::Backup),
            "the second probe is still in flight"
        );
        // The second ends without telling: its guard frees the slot.
        drop(second);
        assert!(is_probe(&f.choose()));
    }
}
