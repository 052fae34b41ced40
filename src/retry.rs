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

    /// The delay before retry `n` (1-based): uniform in `[0, min(max_delay, base * 2^(n-1))]`.
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let ceiling = self
            .base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        let mut random = [0u8; 4];
        let fraction = match openssl::rand::rand_bytes(&mut random) {
            Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
            Err(_) => 1.0,
        };
        ceiling.mul_f64(fraction)
    }
}

/// Whether an outcome may be retried under a policy: a connect error, 429 or 5xx.
pub(crate) fn retryable(outcome: &crate::Result<crate::Response>) -> bool {
    match outcome {
        Ok(_) => false,
        Err(e) => {
            e.is_connect()
                || e.status()
                    .is_some_and(|s| s.as_u16() == 429 || s.is_server_error())
                    && e.kind() == crate::ErrorKind::Api
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_bounded() {
        let policy = RetryPolicy::default();
        for _ in 0..100 {
            assert!(policy.delay(1) <= Duration::from_millis(200));
            assert!(policy.delay(2) <= Duration::from_millis(400));
            assert!(policy.delay(5) <= Duration::from_secs(2));
            assert!(policy.delay(40) <= Duration::from_secs(2));
        }
    }
}
