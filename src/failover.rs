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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// The primary host (also a probe after the cool-down).
    Primary,
    /// The backup host.
    Backup,
}

#[derive(Default)]
struct State {
    /// When the primary last failed (while it is considered down).
    down_since: Option<Instant>,
    /// A probe of the primary is in flight.
    probing: bool,
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
    pub(crate) fn choose(&self) -> Route {
        let mut state = self.state();
        match state.down_since {
            None => Route::Primary,
            Some(since) if since.elapsed() < self.cooldown => Route::Backup,
            Some(_) if state.probing => Route::Backup,
            Some(_) => {
                state.probing = true;
                Route::Primary
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
        state.probing = false;
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
        state.probing = false;
    }

    /// A probe ended without telling whether the primary is up (an error after connecting).
    pub(crate) fn probe_inconclusive(&self) {
        self.state().probing = false;
    }
}
