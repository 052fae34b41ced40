//! The answer replay memory over Redis.

use std::fmt;

use super::server::Redis;
use crate::replay::{DEFAULT_CAPACITY, Fingerprint, InMemory, ReplayMemory, SightFuture, Sighting};

/// A [`ReplayMemory`] shared by every process using the same Redis and prefix: an answer
/// verified by one of them is refused by all if it comes again within its window.
///
/// Each verified answer is remembered here first (an [`InMemory`] of [`DEFAULT_CAPACITY`]
/// answers: a replay to this process costs no round trip), then in Redis (from the client's
/// pipeline on the async connection, [`sight_async`](ReplayMemory::sight_async)) with
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

const FALLBACK: &str = "answers are remembered in this process only (an answer replayed to \
                        another process is not caught)";

impl RedisReplayMemory {
    /// `SET {key} 1 NX EX {seconds}` for the answer, when this process has not seen it.
    fn command(&self, fingerprint: &Fingerprint, expires_at: i64, now: i64) -> Option<redis::Cmd> {
        if self.local.sight(fingerprint, expires_at, now) == Sighting::Again {
            return None;
        }
        let mut command = redis::cmd("SET");
        command
            .arg(self.redis.key(&format!("answer:{}", fingerprint.to_hex())))
            .arg("1")
            .arg("NX")
            .arg("EX")
            .arg(expires_at.saturating_sub(now).max(1));
        Some(command)
    }
}

/// `OK` (set: the first sighting) or nil (the key was there: a replay); a failure counts as
/// the first sighting (this process's memory has it).
fn sighting(set: std::io::Result<Option<String>>) -> Sighting {
    match set {
        Ok(None) => Sighting::Again,
        Ok(Some(_)) | Err(_) => Sighting::First,
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
