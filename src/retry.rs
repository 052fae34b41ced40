//! [`RetryPolicy`]: opt-in retries of `GET`s, with exponential backoff and jitter.

use std::time::Duration;

/// Retries of `GET` requests on connect errors, `429 Too Many Requests` and `5xx` answers, with
/// exponential backoff and full jitter, bounded in count and in time. Off by default; `POST`,
/// `PUT`, `PATCH` and `DELETE` are never retried (a payment must not be sent twice).
///
/// Each retry is signed afresh (new timestamp and nonce).
///
/// ```
/// use std::time::Duration;
/// use wechatpay::RetryPolicy;
///
/// let policy = RetryPolicy::default()            // 2 retries, 200 ms doubling, capped at 2 s, 10 s in all
///     .max_retries(3)
///     .max_elapsed(Duration::from_secs(5));
/// # let _ = wechatpay::Client::builder().retry(policy);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub(crate) max_retries: u32,
    pub(crate) base_delay: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            max_elapsed: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// How many times a request may be retried (default 2).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first delay's upper bound; it doubles each retry (default 200 ms).
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The largest delay between two attempts (default 2 s).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// No retry starts later than this after the first attempt (default 10 s).
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// After `retries` retries and `elapsed` since the first attempt, an attempt failed with
    /// `error`: the delay before the next retry, or `None` to stop (the count is spent, the
    /// error is not retryable, or the delay would end past `max_elapsed`).
    pub(crate) fn next_delay(
        &self,
        retries: u32,
        elapsed: Duration,
        error: &crate::Error,
    ) -> Option<Duration> {
        self.decide(retries, elapsed, error, jitter())
    }

    /// [`next_delay`](Self::next_delay) with the jitter given: `fraction` in `[0, 1]` of the
    /// ceiling.
    fn decide(
        &self,
        retries: u32,
        elapsed: Duration,
        error: &crate::Error,
        fraction: f64,
    ) -> Option<Duration> {
        if retries >= self.max_retries || !retryable(error) {
            return None;
        }
        let delay = self.ceiling(retries + 1).mul_f64(fraction);
        (elapsed + delay <= self.max_elapsed).then_some(delay)
    }

    /// The longest delay before retry `n` (1-based): `min(max_delay, base * 2^(n-1))`; the delay
    /// is uniform in `[0, ceiling]` (full jitter).
    fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// A uniform fraction in `[0, 1]` from OpenSSL's generator (1 if it fails: the longest delay).
fn jitter() -> f64 {
    let mut random = [0u8; 4];
    match openssl::rand::rand_bytes(&mut random) {
        Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
        Err(_) => 1.0,
    }
}

/// Whether an error may be retried under a policy: a connect error, or a 429 or 5xx answer.
fn retryable(e: &crate::Error) -> bool {
    e.is_connect()
        || e.status()
            .is_some_and(|s| s.as_u16() == 429 || s.is_server_error())
            && e.kind() == crate::ErrorKind::Api
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_bounded() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.ceiling(1), Duration::from_millis(200));
        assert_eq!(policy.ceiling(2), Duration::from_millis(400));
        assert_eq!(policy.ceiling(5), Duration::from_secs(2));
        assert_eq!(policy.ceiling(40), Duration::from_secs(2));
        for _ in 0..100 {
            assert!(jitter() <= 1.0 && jitter() >= 0.0);
        }
    }

    #[test]
    fn the_decision_is_pure_given_the_jitter() {
        let policy = RetryPolicy::default().max_elapsed(Duration::from_millis(500));
        let refused = crate::Error::config("not retryable");
        let connect = crate::Error::transport("cannot connect", "connection refused");
        assert!(
            !connect.is_connect(),
            "a bare transport error is no connect error"
        );
        assert_eq!(policy.decide(0, Duration::ZERO, &refused, 1.0), None);
        let server = server_error();
        assert_eq!(
            policy.decide(0, Duration::ZERO, &server, 0.5),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            policy.decide(1, Duration::ZERO, &server, 1.0),
            Some(Duration::from_millis(400))
        );
        // The count is spent.
        assert_eq!(policy.decide(2, Duration::ZERO, &server, 1.0), None);
        // The delay would end past max_elapsed.
        assert_eq!(
            policy.decide(1, Duration::from_millis(200), &server, 1.0),
            None
        );
        assert_eq!(
            policy.decide(1, Duration::from_millis(100), &server, 1.0),
            Some(Duration::from_millis(400))
        );
    }

    /// The error of a 503 answer.
    fn server_error() -> crate::Error {
        let response = crate::Response::new(
            http::StatusCode::SERVICE_UNAVAILABLE,
            http::HeaderMap::new(),
            bytes::Bytes::new(),
        );
        let api = crate::ApiError {
            status: http::StatusCode::SERVICE_UNAVAILABLE,
            code: None,
            message: None,
            detail: None,
            request_id: None,
            xml: None,
        };
        crate::Error::from_api(api, response)
    }
}
