//! The answer replay memory over Redis.

use std::fmt;

use super::server::Redis;
use crate::replay::{DEFAULT_CAPACITY, Fingerprint, InMemory, ReplayMemory, SightFuture, Sighting};

/// A [`ReplayMemory`] shared by every process using the same Redis and prefix: an answer
/// verified by one of them is refused by all if it comes again within its window.
///
/// Each verified answer is remembered here first (an [`InMemory`] of [`DEFAULT_CAPACITY`]
/// answers: a replay to this process costs no round trip), then in Redis (async calls on their
/// runtime's async connection, [`sight_async`](ReplayMemory::sight_async); blocking calls on a
/// blocking connection from the calling thread, [`sight`](ReplayMemory::sight)): the key
/// `{prefix}v1:answer:{fingerprint}` is set if absent, for the seconds left in the answer's
/// window, with a value of this sighting's own (a script, so that a retry after a lost reply is
/// still the first sighting); a key that was there already, with another value, is a replay.
/// When Redis fails, this process's memory decides (with a warning: a replay to another
/// process is then not caught).
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

const FALLBACK: &str = "answers are remembered in this process only (an answer replayed to \
                        another process is not caught)";

/// Records the answer's key with this sighting's own value (`ARGV[1]`) for `ARGV[2]` seconds
/// if it is absent: 1 when this sighting is the first (it set the key now, or on an earlier
/// try whose reply was lost), 0 when another sighting was there first.
const SIGHT: &str = r"local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
if v == ARGV[1] then return 1 end
return 0";

impl RedisReplayMemory {
    /// The script for the answer, when this process has not seen it: a command safe to send
    /// twice (its value is this sighting's own), so a retry after a lost reply never takes a
    /// first sighting for a replay.
    fn command(&self, fingerprint: &Fingerprint, expires_at: i64, now: i64) -> Option<redis::Cmd> {
        if self.local.sight(fingerprint, expires_at, now) == Sighting::Again {
            return None;
        }
        let token = crate::crypto::nonce().unwrap_or_else(|_| fingerprint.to_hex());
        let mut command = redis::cmd("EVAL");
        command
            .arg(SIGHT)
            .arg(1)
            .arg(self.redis.key(&format!("answer:{}", fingerprint.to_hex())))
            .arg(format!("v1:{token}"))
            .arg(expires_at.saturating_sub(now).max(1));
        Some(command)
    }
}

/// 1 (the first sighting) or 0 (a replay); a failure counts as the first sighting (this
/// process's memory has it).
fn sighting(set: std::io::Result<i64>) -> Sighting {
    match set {
        Ok(0) => Sighting::Again,
        Ok(_) | Err(_) => Sighting::First,
    }
}

impl ReplayMemory for RedisReplayMemory {
    fn sight(&self, fingerprint: &Fingerprint, expires_at: i64, now: i64) -> Sighting {
        match self.command(fingerprint, expires_at, now) {
            None => Sighting::Again,
            Some(command) => sighting(
                self.redis
                    .run(FALLBACK, |connection| command.query(connection)),
            ),
        }
    }

    fn sight_async<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        expires_at: i64,
        now: i64,
    ) -> SightFuture<'a> {
        let command = self.command(fingerprint, expires_at, now);
        Box::pin(async move {
            match command {
                None => Sighting::Again,
                Some(command) => sighting(self.redis.query_async(FALLBACK, &command).await),
            }
        })
    }
}

impl fmt::Debug for RedisReplayMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayMemory")
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}
