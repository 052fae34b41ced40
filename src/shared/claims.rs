//! The record of notification ids over Redis.

use std::fmt;
use std::io;
use std::sync::LazyLock;
use std::time::Duration;

use super::server::Redis;
use crate::notify::{ClaimStore, Claimed};

/// Claims an unknown id (`ARGV[1]` the holder's value, `ARGV[2]` the lease in ms), else says
/// what it is: 1 claimed (now, or by this same claim on a try whose reply was lost), 2
/// processed, 3 in progress, 0 a value this library did not write.
static CLAIM: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if v == ARGV[1] then return 1 end
if v == 'v1:done' then return 2 end
if string.sub(v, 1, 5) == 'v1:p:' then return 3 end
return 0",
    )
});

/// Deletes the key if it holds `ARGV[1]`.
static RELEASE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0",
    )
});

/// A [`ClaimStore`] shared by every process using the same Redis and prefix: a notification
/// WeChat Pay delivers to two of them is processed by one (the other answers success once it is
/// done, or a failure while it is being processed, so WeChat Pay retries).
///
/// The key `{prefix}v1:notification:{id}` holds `v1:p:{token}` while a process holds the
/// claim (for the lease), then `v1:done` (for 25 hours by default). A value it did not write is
/// an error, never a verdict: the [`DuplicateFilter`](crate::notify::DuplicateFilter) then
/// falls back to its own record.
#[derive(Clone)]
pub struct RedisClaims {
    redis: Redis,
}

impl RedisClaims {
    pub(super) fn new(redis: Redis) -> RedisClaims {
        RedisClaims { redis }
    }

    /// The key of `id`: the id itself when it is short and plain (WeChat Pay's are), else its
    /// SHA-256.
    fn key(&self, id: &str) -> String {
        let plain = !id.is_empty()
            && id.len() <= 128
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if plain {
            self.redis.key(&format!("notification:{id}"))
        } else {
            let digest = openssl::sha::sha256(id.as_bytes());
            self.redis.key(&format!(
                "notification:sha256:{}",
                crate::crypto::hex_lower(&digest)
            ))
        }
    }
}

const FALLBACK: &str = "notification ids are de-duplicated in this process only (a \
                        notification delivered to two processes may be processed twice)";

impl ClaimStore for RedisClaims {
    fn claim(&self, id: &str, token: &str, lease: Duration) -> io::Result<Claimed> {
        let key = self.key(id);
        let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX).max(1);
        let verdict = self.redis.run(FALLBACK, |connection| {
            CLAIM
                .key(&key)
                .arg(format!("v1:p:{token}"))
                .arg(lease_ms)
                .invoke::<i64>(connection)
        })?;
        match verdict {
            1 => Ok(Claimed::Yes),
            2 => Ok(Claimed::Processed),
            3 => Ok(Claimed::InProgress),
            _ => {
                tracing::warn!(
                    target: "wechatpay::shared",
                    "a notification key in Redis holds a value this library did not write: \
                     {FALLBACK}"
                );
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the notification's key holds a value this library did not write",
                ))
            }
        }
    }

    fn done(&self, id: &str, _token: &str, keep: Duration) -> io::Result<()> {
        let key = self.key(id);
        let keep_ms = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX).max(1);
        self.redis.run(FALLBACK, |connection| {
            redis::cmd("SET")
                .arg(&key)
                .arg("v1:done")
                .arg("PX")
                .arg(keep_ms)
                .query::<()>(connection)
        })
    }

    fn release(&self, id: &str, token: &str) -> io::Result<()> {
        let key = self.key(id);
        self.redis.run(FALLBACK, |connection| {
            RELEASE
                .key(&key)
                .arg(format!("v1:p:{token}"))
                .invoke::<i64>(connection)
                .map(drop)
        })
    }
}

impl fmt::Debug for RedisClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisClaims")
            .field("redis", &self.redis)
            .finish()
    }
}
