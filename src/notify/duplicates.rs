//! De-duplication of callbacks: the [`DuplicateFilter`] (in this process, or through a
//! [`ClaimStore`] shared by processes), its [`Delivery`] verdicts and [`Claim`]s.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::redact::Escaped;

/// How long a shared claim on a notification id lasts when its processing neither finishes nor
/// fails (the process died): 5 minutes, after which WeChat Pay's next retry is processed.
pub const DEFAULT_CLAIM_LEASE: Duration = Duration::from_secs(300);

/// How long a [`ClaimStore`] remembers a processed notification id: 25 hours, past WeChat Pay's
/// last retry (its 16 attempts span 24 h 4 min).
pub const DEFAULT_PROCESSED_FOR: Duration = Duration::from_secs(25 * 3600);

/// The longest lease or memory a [`DuplicateFilter`] gives its store: a year (a store such as
/// Redis refuses an expiry past its range, which would make every claim a failure).
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 86_400);

/// A record of notification ids shared by several processes (many nodes behind one
/// `notify_url`), so that a notification WeChat Pay delivers to two of them is processed once.
///
/// [`DuplicateFilter::shared`] uses it before its own record; `wechatpay::shared` (feature
/// `redis`) implements it over Redis. Each method is one atomic step of the store:
///
/// - [`claim`](Self::claim): if `id` is unknown, record it as being processed under `token`
///   for `lease`, and say [`Claimed::Yes`]; else say what it is.
/// - [`done`](Self::done): record `id` as processed, for `keep`.
/// - [`release`](Self::release): forget `id` if `token` still holds it (the processing
///   failed: the retry may claim it).
///
/// An error (the store is unreachable, slow or holds something it did not write) is never taken
/// for a verdict: the filter falls back to its own record, with a warning (a notification
/// delivered to two processes may then be processed twice).
pub trait ClaimStore: Send + Sync + 'static {
    /// Claims `id` for `lease` under `token`, or says who has it.
    fn claim(&self, id: &str, token: &str, lease: Duration) -> std::io::Result<Claimed>;
    /// Records `id` as processed for `keep`.
    fn done(&self, id: &str, token: &str, keep: Duration) -> std::io::Result<()>;
    /// Forgets `id` if `token` holds it.
    fn release(&self, id: &str, token: &str) -> std::io::Result<()>;
}

/// What a [`ClaimStore`] says of a notification id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claimed {
    /// It was unknown: the caller holds it now.
    Yes,
    /// Another claim holds it: it is being processed.
    InProgress,
    /// It was processed.
    Processed,
}

/// A record of notification ids, to process each notification once although WeChat Pay may
/// deliver it several times (it retries until it gets a 2xx, and retries may overlap a slow
/// first delivery).
///
/// [`claim`](Self::claim) an id before processing: [`Delivery::First`] hands out a [`Claim`]
/// that you [`done`](Claim::done) after processing (the id is then remembered as processed),
/// or drop on failure (the id is released, so WeChat Pay's retry is processed).
/// [`Delivery::InProgress`] means another delivery of the same id is being processed right now
/// (answer a failure, WeChat Pay retries later); [`Delivery::Processed`] that it was processed
/// already (answer [`success`](super::success)).
///
/// [`new`](Self::new) keeps the record in this process: bounded (it remembers the last
/// `capacity` processed ids, oldest forgotten first, plus the ids being processed) and lost on
/// restart. [`shared`](Self::shared) asks a [`ClaimStore`] first (one record for many
/// processes), and falls back to its own record when the store fails. Either way it saves work
/// but does not replace idempotent processing (a unique key on the notification or order id in
/// your database). Cheap to clone (clones share the record), `Send + Sync`.
///
/// ```
/// use wechatpay::notify::{Delivery, DuplicateFilter};
///
/// let filter = DuplicateFilter::new(2);
/// let Delivery::First(claim) = filter.claim("EV-1") else { unreachable!() };
/// assert!(matches!(filter.claim("EV-1"), Delivery::InProgress));
/// claim.done();
/// assert!(matches!(filter.claim("EV-1"), Delivery::Processed));
///
/// // A failed attempt (claim dropped) lets the retry through.
/// let Delivery::First(claim) = filter.claim("EV-2") else { unreachable!() };
/// drop(claim);
/// assert!(matches!(filter.claim("EV-2"), Delivery::First(_)));
/// ```
#[derive(Clone)]
pub struct DuplicateFilter {
    state: Arc<Mutex<FilterState>>,
    shared: Option<Shared>,
}

/// A [`ClaimStore`] and the durations given to it.
#[derive(Clone)]
struct Shared {
    store: Arc<dyn ClaimStore>,
    lease: Duration,
    keep: Duration,
}

struct FilterState {
    capacity: usize,
    processed: HashSet<String>,
    order: VecDeque<String>,
    in_progress: HashSet<String>,
}

fn lock(state: &Mutex<FilterState>) -> MutexGuard<'_, FilterState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl DuplicateFilter {
    /// A filter of this process, remembering the last `capacity` processed ids (at least 1).
    pub fn new(capacity: usize) -> DuplicateFilter {
        let capacity = capacity.max(1);
        DuplicateFilter {
            state: Arc::new(Mutex::new(FilterState {
                capacity,
                processed: HashSet::new(),
                order: VecDeque::new(),
                in_progress: HashSet::new(),
            })),
            shared: None,
        }
    }

    /// A filter that asks `store` (shared by processes) first, with the
    /// [`DEFAULT_CLAIM_LEASE`] and [`DEFAULT_PROCESSED_FOR`]; its own record of `capacity` ids
    /// serves when the store fails.
    pub fn shared(store: impl ClaimStore, capacity: usize) -> DuplicateFilter {
        let mut filter = DuplicateFilter::new(capacity);
        filter.shared = Some(Shared {
            store: Arc::new(store),
            lease: DEFAULT_CLAIM_LEASE,
            keep: DEFAULT_PROCESSED_FOR,
        });
        filter
    }

    /// How long a shared claim lasts when its processing neither finishes nor fails (no effect
    /// without a store); kept within 1 s and [`MAX_DURATION`].
    pub fn with_lease(mut self, lease: Duration) -> DuplicateFilter {
        if let Some(shared) = &mut self.shared {
            shared.lease = lease.clamp(Duration::from_secs(1), MAX_DURATION);
        }
        self
    }

    /// How long the store remembers a processed id (no effect without a store); kept within
    /// 1 s and [`MAX_DURATION`].
    pub fn with_processed_for(mut self, keep: Duration) -> DuplicateFilter {
        if let Some(shared) = &mut self.shared {
            shared.keep = keep.clamp(Duration::from_secs(1), MAX_DURATION);
        }
        self
    }

    /// Claims `id` for processing; see the type's documentation.
    pub fn claim(&self, id: &str) -> Delivery {
        if lock(&self.state).processed.contains(id) {
            return Delivery::Processed;
        }
        let Some(shared) = &self.shared else {
            return self.claim_here(id, None);
        };
        let token = match crate::crypto::nonce() {
            Ok(token) => token,
            Err(_) => return self.claim_here(id, None),
        };
        match shared.store.claim(id, &token, shared.lease) {
            Ok(Claimed::Yes) => self.claim_here(id, Some((shared.clone(), token))),
            Ok(Claimed::InProgress) => Delivery::InProgress,
            Ok(Claimed::Processed) => {
                remember(&mut lock(&self.state), id);
                Delivery::Processed
            }
            Err(e) => {
                tracing::warn!(
                    id = %Escaped(id),
                    error = %Escaped(&e),
                    "the shared notification record failed: de-duplicating in this process \
                     only (a notification delivered to two processes may be processed twice)"
                );
                self.claim_here(id, None)
            }
        }
    }

    /// The claim in this process's record (holding the shared one, when there is one). When
    /// this process's record says no (a delivery it took while the store was failing), the
    /// shared claim is given back at once rather than left to its lease.
    fn claim_here(&self, id: &str, shared: Option<(Shared, String)>) -> Delivery {
        let delivery = {
            let mut state = lock(&self.state);
            if state.processed.contains(id) {
                Delivery::Processed
            } else if !state.in_progress.insert(id.to_owned()) {
                Delivery::InProgress
            } else {
                return Delivery::First(Claim {
                    state: Arc::clone(&self.state),
                    shared,
                    id: id.to_owned(),
                    settled: false,
                });
            }
        };
        if let Some((shared, token)) = shared {
            let _ = shared.store.release(id, &token);
        }
        delivery
    }

    /// True when `id` is among the processed ids this process remembers.
    pub fn is_processed(&self, id: &str) -> bool {
        lock(&self.state).processed.contains(id)
    }

    /// How many processed ids this process remembers now.
    pub fn len(&self) -> usize {
        lock(&self.state).processed.len()
    }

    /// True when this process remembers no processed id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most processed ids this process remembers.
    pub fn capacity(&self) -> usize {
        lock(&self.state).capacity
    }
}

/// Records `id` as processed in this process's bounded record.
fn remember(state: &mut FilterState, id: &str) {
    if state.processed.insert(id.to_owned()) {
        state.order.push_back(id.to_owned());
        while state.order.len() > state.capacity {
            if let Some(oldest) = state.order.pop_front() {
                state.processed.remove(&oldest);
            }
        }
    }
}

impl fmt::Debug for DuplicateFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("DuplicateFilter")
            .field("capacity", &state.capacity)
            .field("processed", &state.processed.len())
            .field("in_progress", &state.in_progress.len())
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

/// What [`DuplicateFilter::claim`] found.
#[derive(Debug)]
#[must_use = "a claim is released when dropped: call `done()` after processing"]
pub enum Delivery {
    /// Not processed yet and not being processed: process it, then call [`Claim::done`].
    First(Claim),
    /// Another delivery of this id is being processed: answer a failure so WeChat Pay retries.
    InProgress,
    /// Processed already: answer [`success`](super::success) without processing again.
    Processed,
}

/// The right to process one notification id; see [`DuplicateFilter`]. Dropping it without
/// [`done`](Self::done) releases the id.
#[must_use = "a claim is released when dropped: call `done()` after processing"]
pub struct Claim {
    state: Arc<Mutex<FilterState>>,
    /// The shared store's claim, and its token.
    shared: Option<(Shared, String)>,
    id: String,
    settled: bool,
}

impl Claim {
    /// The claimed notification id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Records the id as processed: later deliveries are [`Delivery::Processed`] (in every
    /// process sharing the store, when there is one).
    pub fn done(mut self) {
        self.settled = true;
        {
            let mut state = lock(&self.state);
            state.in_progress.remove(&self.id);
            remember(&mut state, &self.id);
        }
        if let Some((shared, token)) = &self.shared {
            if let Err(e) = shared.store.done(&self.id, token, shared.keep) {
                tracing::warn!(
                    id = %Escaped(&self.id),
                    error = %Escaped(&e),
                    "the shared notification record failed: the id is remembered as processed \
                     in this process only"
                );
            }
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        lock(&self.state).in_progress.remove(&self.id);
        if let Some((shared, token)) = &self.shared {
            if let Err(e) = shared.store.release(&self.id, token) {
                tracing::warn!(
                    id = %Escaped(&self.id),
                    error = %Escaped(&e),
                    "the shared notification record failed: the claim ends with its lease"
                );
            }
        }
    }
}

impl fmt::Debug for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claim").field("id", &self.id).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_release_on_drop_and_the_record_is_bounded() {
        let filter = DuplicateFilter::new(0);
        assert_eq!(filter.capacity(), 1);
        let filter = DuplicateFilter::new(3);
        for id in ["a", "b", "c", "d"] {
            match filter.claim(id) {
                Delivery::First(claim) => claim.done(),
                other => panic!("{id}: {other:?}"),
            }
        }
        assert_eq!(filter.len(), 3);
        assert!(!filter.is_processed("a"), "the oldest id is forgotten");
        assert!(filter.is_processed("b") && filter.is_processed("d"));
    }

    /// A store that records the calls and answers as told.
    #[derive(Default)]
    struct Recording {
        calls: Mutex<Vec<String>>,
        answer: Mutex<Option<std::io::Result<Claimed>>>,
    }

    impl ClaimStore for Arc<Recording> {
        fn claim(&self, id: &str, token: &str, lease: Duration) -> std::io::Result<Claimed> {
            assert_eq!(token.len(), 32);
            self.calls
                .lock()
                .unwrap()
                .push(format!("claim {id} {}", lease.as_secs()));
            self.answer
                .lock()
                .unwrap()
                .take()
                .unwrap_or(Ok(Claimed::Yes))
        }
        fn done(&self, id: &str, _: &str, keep: Duration) -> std::io::Result<()> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("done {id} {}", keep.as_secs()));
            Ok(())
        }
        fn release(&self, id: &str, _: &str) -> std::io::Result<()> {
            self.calls.lock().unwrap().push(format!("release {id}"));
            Ok(())
        }
    }

    #[test]
    fn a_shared_filter_asks_the_store_and_falls_back_to_its_own_record() {
        let store = Arc::new(Recording::default());
        let filter = DuplicateFilter::shared(Arc::clone(&store), 10)
            .with_lease(Duration::from_secs(60))
            .with_processed_for(Duration::from_secs(7200));
        // Out of range: kept within it.
        let clamped = DuplicateFilter::shared(Arc::clone(&store), 10)
            .with_lease(Duration::MAX)
            .with_processed_for(Duration::ZERO);
        let shared = clamped.shared.as_ref().unwrap();
        assert_eq!(
            (shared.lease, shared.keep),
            (MAX_DURATION, Duration::from_secs(1))
        );
        let Delivery::First(claim) = filter.claim("a") else {
            panic!()
        };
        claim.done();
        // Processed here: the store is not asked again.
        assert!(matches!(filter.claim("a"), Delivery::Processed));
        let Delivery::First(claim) = filter.claim("b") else {
            panic!()
        };
        drop(claim);
        *store.answer.lock().unwrap() = Some(Ok(Claimed::InProgress));
        assert!(matches!(filter.claim("c"), Delivery::InProgress));
        *store.answer.lock().unwrap() = Some(Ok(Claimed::Processed));
        assert!(matches!(filter.claim("d"), Delivery::Processed));
        assert!(filter.is_processed("d"));
        // The store fails: this process's record decides (no shared claim). Once the store
        // answers again, a second delivery it lets through is refused by this process's
        // record, and the shared claim it took is given back at once.
        *store.answer.lock().unwrap() = Some(Err(std::io::Error::other("down")));
        let Delivery::First(claim) = filter.claim("e") else {
            panic!()
        };
        assert!(matches!(filter.claim("e"), Delivery::InProgress));
        claim.done();
        assert_eq!(
            *store.calls.lock().unwrap(),
            [
                "claim a 60",
                "done a 7200",
                "claim b 60",
                "release b",
                "claim c 60",
                "claim d 60",
                "claim e 60",
                "claim e 60",
                "release e",
            ]
        );
    }
}
