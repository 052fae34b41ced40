//! Callbacks as WeChat Pay sends them: `TRANSACTION.SUCCESS` to an order's `notify_url` once
//! it is paid, `REFUND.SUCCESS` to a refund's, retried on production's schedule until the
//! receiver answers 200 or 204, every attempt logged.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, SystemTime};

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::notify::{self, Event, Notification, NotifyVariant};
use crate::state::State;
use crate::store::TradeState;

/// How long WeChat Pay waits before each retry of a callback that was not acknowledged (with
/// 200 or 204): 15 s, 15 s, 30 s, 3 min, 10 min, 20 min, 30 min, 30 min, 30 min, 60 min, 3 h,
/// 3 h, 3 h, 6 h, 6 h. Fifteen retries after the first attempt, 24 h 4 min in all. The sandbox
/// waits these times multiplied by its
/// [`callback_time_scale`](crate::SandboxBuilder::callback_time_scale).
pub const RETRY_SCHEDULE: [Duration; 15] = [
    Duration::from_secs(15),
    Duration::from_secs(15),
    Duration::from_secs(30),
    Duration::from_secs(3 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(20 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(3 * 3600),
    Duration::from_secs(3 * 3600),
    Duration::from_secs(3 * 3600),
    Duration::from_secs(6 * 3600),
    Duration::from_secs(6 * 3600),
];

/// How many attempts the delivery log keeps: the most recent ones.
pub const MAX_LOGGED_DELIVERIES: usize = 1000;

/// One attempt to deliver a callback, as [`Sandbox::deliveries`](crate::Sandbox::deliveries)
/// lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// Where it was sent (or was to be sent): the order's or refund's `notify_url`, or the URL
    /// given.
    pub url: String,
    /// The envelope's `event_type`, e.g. `TRANSACTION.SUCCESS`.
    pub event_type: String,
    /// The envelope's `id`: the same for every attempt of one notification (and for a
    /// re-sent order callback), as WeChat Pay's retries and duplicates carry the same id.
    pub notification_id: String,
    /// 1 for the first attempt, 2 for the first retry, up to 16.
    pub attempt: u32,
    /// When the attempt started.
    pub at: SystemTime,
    /// What came of it.
    pub outcome: DeliveryOutcome,
    /// When the next attempt comes, counted from the end of this one (already scaled by the
    /// callback time scale); `None` when there is none: the receiver acknowledged, the
    /// schedule is over, the notification could not be sent at all, or it was a one-off
    /// ([`Sandbox::notify`](crate::Sandbox::notify)).
    pub next_attempt_in: Option<Duration>,
}

impl Delivery {
    /// Whether the receiver acknowledged it (200 or 204).
    pub fn acknowledged(&self) -> bool {
        self.outcome.acknowledged()
    }
}

/// What came of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver answered with this HTTP status. 200 and 204 acknowledge the notification;
    /// any other is retried.
    Status(u16),
    /// No answer: the connection was refused or reset, or the receiver took more than 10 s.
    /// Retried.
    Failed(String),
    /// Not sent, and never will be: the URL is not `http://` (the sandbox does not deliver
    /// over TLS), or is not a URL. Not retried.
    NotSent(String),
}

impl DeliveryOutcome {
    /// 200 or 204.
    pub fn acknowledged(&self) -> bool {
        matches!(self, DeliveryOutcome::Status(200 | 204))
    }
}

impl std::fmt::Display for DeliveryOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliveryOutcome::Status(status) => write!(f, "HTTP {status}"),
            DeliveryOutcome::Failed(reason) => write!(f, "failed: {reason}"),
            DeliveryOutcome::NotSent(reason) => write!(f, "not sent: {reason}"),
        }
    }
}

/// Checks a callback time scale: finite and above zero.
pub(crate) fn check_time_scale(scale: f64) -> Result<f64> {
    if scale.is_finite() && scale > 0.0 {
        Ok(scale)
    } else {
        Err(Error::InvalidArgument(format!(
            "the callback time scale must be a finite number above 0, not {scale}"
        )))
    }
}

/// `duration` × `scale`, saturating.
fn scaled(duration: Duration, scale: f64) -> Duration {
    Duration::try_from_secs_f64(duration.as_secs_f64() * scale).unwrap_or(Duration::MAX)
}

#[derive(Clone, Copy, Debug)]
struct Config {
    time_scale: f64,
    auto_pay: Option<Duration>,
}

/// The sandbox's callback machinery: its settings, its log, its tasks.
pub(crate) struct Callbacks {
    /// The state the tasks work on (set once the state is shared).
    state: OnceLock<Weak<State>>,
    /// The sandbox's runtime, where the tasks run.
    runtime: OnceLock<Handle>,
    config: Mutex<Config>,
    log: Mutex<VecDeque<(u64, Delivery)>>,
    /// Bumped by a reset: tasks of an earlier generation stop.
    generation: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Default for Callbacks {
    fn default() -> Self {
        Callbacks {
            state: OnceLock::new(),
            runtime: OnceLock::new(),
            config: Mutex::new(Config {
                time_scale: 1.0,
                auto_pay: None,
            }),
            log: Mutex::new(VecDeque::new()),
            generation: AtomicU64::new(0),
        }
    }
}

impl Callbacks {
    /// Lets the callbacks run: on `runtime`, with `state` (whose field this is).
    pub(crate) fn attach(&self, state: &Arc<State>, runtime: Handle) {
        let _ = self.state.set(Arc::downgrade(state));
        let _ = self.runtime.set(runtime);
    }

    pub(crate) fn set_time_scale(&self, scale: f64) -> Result<()> {
        lock(&self.config).time_scale = check_time_scale(scale)?;
        Ok(())
    }

    pub(crate) fn time_scale(&self) -> f64 {
        lock(&self.config).time_scale
    }

    pub(crate) fn set_auto_pay(&self, delay: Option<Duration>) {
        lock(&self.config).auto_pay = delay;
    }

    pub(crate) fn auto_pay(&self) -> Option<Duration> {
        lock(&self.config).auto_pay
    }

    /// Every logged attempt, oldest first.
    pub(crate) fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.log).iter().map(|(_, d)| d.clone()).collect()
    }

    /// The logged attempts numbered above `seq`, with their numbers.
    pub(crate) fn deliveries_since(&self, seq: u64) -> Vec<(u64, Delivery)> {
        lock(&self.log)
            .iter()
            .filter(|(n, _)| *n > seq)
            .cloned()
            .collect()
    }

    pub(crate) fn clear_log(&self) {
        lock(&self.log).clear();
    }

    /// Stops every pending auto-payment and retry.
    pub(crate) fn cancel_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn record(&self, state: &State, delivery: Delivery) {
        let seq = state.next_sequence();
        let mut log = lock(&self.log);
        while log.len() >= MAX_LOGGED_DELIVERIES {
            log.pop_front();
        }
        log.push_back((seq, delivery));
    }

    /// Logs the attempt of a one-off [`Sandbox::notify`](crate::Sandbox::notify).
    pub(crate) fn record_one_off(
        &self,
        state: &State,
        url: String,
        notification: &Notification,
        at: SystemTime,
        outcome: DeliveryOutcome,
    ) {
        self.record(
            state,
            Delivery {
                url,
                event_type: notification.event_type.clone(),
                notification_id: notification.id.clone(),
                attempt: 1,
                at,
                outcome,
                next_attempt_in: None,
            },
        );
    }

    /// Runs `task` on the sandbox's runtime with the shared state and the current generation
    /// (nothing when the sandbox is gone).
    fn spawn<F, Fut>(&self, task: F)
    where
        F: FnOnce(Arc<State>, u64) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (Some(state), Some(runtime)) =
            (self.state.get().and_then(Weak::upgrade), self.runtime.get())
        else {
            return;
        };
        let generation = self.generation();
        runtime.spawn(task(state, generation));
    }

    /// An order was placed: with auto-pay on, it is paid after the delay, then notified.
    pub(crate) fn order_placed(&self, out_trade_no: &str) {
        let Some(delay) = self.auto_pay() else {
            return;
        };
        let no = out_trade_no.to_owned();
        self.spawn(move |state, generation| async move {
            tokio::time::sleep(delay).await;
            if state.callbacks.generation() != generation {
                return;
            }
            let paid = {
                let mut store = state.store();
                match store.orders.get_mut(&no) {
                    // Closed, paid or refunded meanwhile: nothing to do.
                    Some(order) if order.state == TradeState::NotPay => order.pay().is_ok(),
                    _ => false,
                }
            };
            if paid {
                order_callback(state, no, generation).await;
            }
        });
    }

    /// An order was just paid: its callback goes to its `notify_url`.
    pub(crate) fn order_paid(&self, out_trade_no: &str) {
        let no = out_trade_no.to_owned();
        self.spawn(move |state, generation| order_callback(state, no, generation));
    }

    /// A refund with a `notify_url` was created: `REFUND.SUCCESS` goes there.
    pub(crate) fn refund_created(&self, out_refund_no: &str) {
        let no = out_refund_no.to_owned();
        self.spawn(move |state, generation| async move {
            let url = state
                .store()
                .refunds
                .get(&no)
                .and_then(|r| r.notify_url.clone());
            if let Some(url) = url {
                let notification = notification_of(&state, &Event::refund(no));
                attempts(state, url, notification, true, generation, None).await;
            }
        });
    }

    /// Sends `event` to `url` (with WeChat Pay's retries when `retries`); the first attempt
    /// comes back on the channel. An order's or refund's valid event re-sends the
    /// notification sent for it before, if any (same id, same body, a new signature).
    pub(crate) fn send(
        &self,
        url: String,
        event: Event,
        retries: bool,
    ) -> oneshot::Receiver<Delivery> {
        let (tx, rx) = oneshot::channel();
        self.spawn(move |state, generation| async move {
            let notification = notification_of(&state, &event);
            attempts(state, url, notification, retries, generation, Some(tx)).await;
        });
        rx
    }
}

/// Pays the order (idempotent; a closed order too, as `Sandbox::pay` always did): its
/// transaction id and whether it was paid just now. `None` for an unknown order.
pub(crate) fn pay_order(state: &State, out_trade_no: &str) -> Option<(String, bool)> {
    let mut store = state.store();
    let order = store.orders.get_mut(out_trade_no)?;
    let newly = order.transaction_id.is_none();
    order.pay().ok().map(|id| (id, newly))
}

/// The notification for `event`: for an order's or refund's valid event, the one sent for it
/// before if there is one, else a new one (remembered for the next time).
fn notification_of(state: &State, event: &Event) -> Result<Notification> {
    let key = event.callback_key();
    let reusable = event.spoiling() == NotifyVariant::Valid;
    if let (Some(key), true) = (&key, reusable) {
        if let Some(sent) = state.store().callbacks.get(key) {
            return Ok(sent.clone());
        }
    }
    let notification = notify::build(state, event)?;
    if let (Some(key), true) = (key, reusable) {
        state.store().callbacks.insert(key, notification.clone());
    }
    Ok(notification)
}

/// The paid order's `TRANSACTION.SUCCESS` to its `notify_url` (orders without one, placed
/// through APIv2, have no callback).
async fn order_callback(state: Arc<State>, out_trade_no: String, generation: u64) {
    let url = state
        .store()
        .orders
        .get(&out_trade_no)
        .and_then(|o| o.notify_url.clone());
    if let Some(url) = url {
        let notification = notification_of(&state, &Event::payment(out_trade_no));
        attempts(state, url, notification, true, generation, None).await;
    }
}

/// Delivers `notification` to `url`: once, then (with `retries`) after each interval of
/// [`RETRY_SCHEDULE`] (scaled) until the receiver acknowledges. Every attempt is logged; the
/// first is also sent to `first`.
async fn attempts(
    state: Arc<State>,
    url: String,
    notification: Result<Notification>,
    retries: bool,
    generation: u64,
    mut first: Option<oneshot::Sender<Delivery>>,
) {
    let callbacks = &state.callbacks;
    let reason = |e: Error| match e {
        Error::Notify(reason) => reason,
        other => other.to_string(),
    };
    let (event_type, notification_id) = match &notification {
        Ok(n) => (n.event_type.clone(), n.id.clone()),
        Err(_) => (String::new(), String::new()),
    };
    let ready = notification.and_then(|n| notify::check_url(&url).map(|uri| (n, uri)));
    let (notification, uri) = match ready {
        Ok(ready) => ready,
        Err(e) => {
            let delivery = Delivery {
                url,
                event_type,
                notification_id,
                attempt: 1,
                at: SystemTime::now(),
                outcome: DeliveryOutcome::NotSent(reason(e)),
                next_attempt_in: None,
            };
            callbacks.record(&state, delivery.clone());
            if let Some(tx) = first.take() {
                let _ = tx.send(delivery);
            }
            return;
        }
    };
    let total = if retries { RETRY_SCHEDULE.len() + 1 } else { 1 };
    for attempt in 1..=total {
        if callbacks.generation() != generation {
            return;
        }
        let at = SystemTime::now();
        let mode = state.settings().sign_mode;
        let outcome = match notify::sign(&state, &notification, uri.clone(), mode) {
            Ok(prepared) => match notify::deliver(prepared).await {
                Ok(status) => DeliveryOutcome::Status(status),
                Err(e) => DeliveryOutcome::Failed(reason(e)),
            },
            Err(e) => DeliveryOutcome::Failed(reason(e)),
        };
        let next_attempt_in = match RETRY_SCHEDULE.get(attempt - 1) {
            Some(wait) if attempt < total && !outcome.acknowledged() => {
                Some(scaled(*wait, callbacks.time_scale()))
            }
            _ => None,
        };
        let delivery = Delivery {
            url: url.clone(),
            event_type: notification.event_type.clone(),
            notification_id: notification.id.clone(),
            attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
            at,
            outcome,
            next_attempt_in,
        };
        if callbacks.generation() != generation {
            // Reset while under way: the attempt is not logged in the cleared log.
            return;
        }
        callbacks.record(&state, delivery.clone());
        if let Some(tx) = first.take() {
            let _ = tx.send(delivery);
        }
        match next_attempt_in {
            Some(wait) => tokio::time::sleep(wait).await,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_production_s() {
        let total: Duration = RETRY_SCHEDULE.iter().sum();
        assert_eq!(total, Duration::from_secs(24 * 3600 + 4 * 60));
        assert_eq!(RETRY_SCHEDULE.len(), 15);
    }

    #[test]
    fn scaling() {
        assert_eq!(
            scaled(Duration::from_secs(15), 0.01),
            Duration::from_millis(150)
        );
        assert_eq!(scaled(Duration::from_secs(15), 1e300), Duration::MAX);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                check_time_scale(bad),
                Err(Error::InvalidArgument(_))
            ));
        }
        assert_eq!(check_time_scale(0.5).unwrap(), 0.5);
    }

    #[test]
    fn outcomes() {
        assert!(DeliveryOutcome::Status(200).acknowledged());
        assert!(DeliveryOutcome::Status(204).acknowledged());
        for other in [
            DeliveryOutcome::Status(201),
            DeliveryOutcome::Status(500),
            DeliveryOutcome::Failed("refused".into()),
            DeliveryOutcome::NotSent("https".into()),
        ] {
            assert!(!other.acknowledged(), "{other}");
        }
        assert_eq!(DeliveryOutcome::Status(500).to_string(), "HTTP 500");
    }
}
