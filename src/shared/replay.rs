//! The answer replay memory over Redis.

use std::fmt;

use super::server::Redis;
use crate::replay::{DEFAULT_CAPACITY, Fingerprint, InMemory, ReplayMemory, Sighting};

/// A [`ReplayMemory`] shared by every process using the same Redis and prefix: an answer
/// verified by one of them is refused by all if it comes again within its window.
///
/// Each verified answer is remembered here first (an [`InMemory`] of [`DEFAULT_CAPACITY`]
/// answers: a replay to this process costs no round trip), then in Redis with
/// `SET {prefix}v1:answer:{fingerprint} 1 NX EX {seconds left in its window}`: a key that was
/// there already is a replay. When Redis fails, this process's memory decides (with a warning:
/// a replay to another process is then not caught).
#[derive(Clone)]
pub struct RedisReplayMemory {
    redis: Redis,
    local: std::sync::Arc<InMemory>,
}

impl RedisReplayMemory {
    pub(super) fn new(redis: Redis) -> RedisReplayMemory {
        RedisReplayMemory {
            redis,
            local: std::sync::Arc::new(InMemory::new(DEFAULT_CAPACITY)),
        }
    }
}

impl ReplayMemory for RedisReplayMemory {
    fn sight(&self, fingerprint: &Fingerprint, expires_at: i64, now: i64) -> Sighting {
        if self.local.sight(fingerprint, expires_at, now) == Sighting::Again {
            return Sighting::Again;
        }
        let key = self.redis.key(&format!("answer:{}", fingerprint.to_hex()));
        let seconds = expires_at.saturating_sub(now).max(1);
        let set = self.redis.run(
            "answers are remembered in this process only (an answer replayed to another \
             process is not caught)",
            |connection| {
                redis::cmd("SET")
                    .arg(&key)
                    .arg("1")
                    .arg("NX")
                    .arg("EX")
                    .arg(seconds)
                    .query::<Option<String>>(connection)
            },
        );
        match set {
            Ok(None) => Sighting::Again,
            Ok(Some(_)) | Err(_) => Sighting::First,
        }
    }
}

impl fmt::Debug for RedisReplayMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayMemory")
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}
