//! The connection to Redis: [`Redis`], its settings, its pool and its pause after a failure.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::redact::Escaped;

/// The default key prefix: `wechatpay:`.
pub const DEFAULT_PREFIX: &str = "wechatpay:";
/// The default time allowed to connect, send and read one command: 250 ms.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);
/// How long Redis is left alone after a failure: 5 s.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Idle connections kept for reuse.
const IDLE_CONNECTIONS: usize = 16;

/// A Redis server (or cluster proxy) and how to use it: a key prefix, a timeout, a pause after
/// a failure. Cheap to clone (clones share the connections), `Send + Sync`. `Debug` shows no
/// address or password.
///
/// The client's answers are checked on an async connection (multiplexed, one per `Redis`): the
/// round trip does not block the executor's thread. Callbacks and the key ring's store, which
/// are synchronous calls, use blocking connections with read and write timeouts (a few kept idle
/// for reuse). Every command gets the same timeout.
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    retry_after: Duration,
    idle: Mutex<Vec<redis::Connection>>,
    /// The connection of async callers (multiplexed: one serves them all).
    multiplexed: Mutex<Option<redis::aio::MultiplexedConnection>>,
    /// Until when Redis is not asked (after a failure).
    down_until: Mutex<Option<Instant>>,
}

impl Redis {
    /// A server at `url` (`redis://[user:password@]host:port/db`, `rediss://` for TLS where the
    /// `redis` crate is built with it, `unix:///path`), with `TCP_NODELAY`. Nothing is
    /// connected yet. A URL that does not parse is a [`Config`](crate::ErrorKind::Config) error
    /// that does not quote it (it may hold a password).
    pub fn open(url: &str) -> Result<Redis> {
        let refused = |e: redis::RedisError| {
            Error::config(format!(
                "the Redis URL does not parse: {}",
                Escaped(e.category())
            ))
        };
        // TCP_NODELAY, as Redis clients set it: an async caller's commands share one
        // connection, and Nagle's algorithm would hold a command back until the previous one's
        // reply is acknowledged.
        let info = redis::IntoConnectionInfo::into_connection_info(url)
            .map_err(refused)?
            .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
        let client = redis::Client::open(info).map_err(refused)?;
        Ok(Redis::from_client(client))
    }

    /// A server reached through a `redis::Client` of yours.
    pub fn from_client(client: redis::Client) -> Redis {
        Redis {
            inner: Arc::new(Inner {
                client,
                prefix: DEFAULT_PREFIX.to_owned(),
                timeout: DEFAULT_TIMEOUT,
                retry_after: DEFAULT_RETRY_AFTER,
                idle: Mutex::new(Vec::new()),
                multiplexed: Mutex::new(None),
                down_until: Mutex::new(None),
            }),
        }
    }

    /// Puts every key under `prefix` (default [`DEFAULT_PREFIX`]): one per merchant or
    /// environment sharing a server.
    pub fn prefix(self, prefix: impl Into<String>) -> Redis {
        self.with(|inner| inner.prefix = prefix.into())
    }

    /// The time allowed to connect, and to send and read each command (default
    /// [`DEFAULT_TIMEOUT`]); past it, the store falls back to this process's state.
    pub fn timeout(self, timeout: Duration) -> Redis {
        self.with(|inner| inner.timeout = timeout.max(Duration::from_millis(1)))
    }

    /// How long Redis is left alone after a failure (default [`DEFAULT_RETRY_AFTER`]).
    pub fn retry_after(self, pause: Duration) -> Redis {
        self.with(|inner| inner.retry_after = pause)
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        &self.inner.prefix
    }

    fn with(mut self, change: impl FnOnce(&mut Inner)) -> Redis {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => change(inner),
            None => {
                // Shared already: a copy with its own connections.
                let mut inner = Inner {
                    client: self.inner.client.clone(),
                    prefix: self.inner.prefix.clone(),
                    timeout: self.inner.timeout,
                    retry_after: self.inner.retry_after,
                    idle: Mutex::new(Vec::new()),
                    multiplexed: Mutex::new(None),
                    down_until: Mutex::new(None),
                };
                change(&mut inner);
                self.inner = Arc::new(inner);
            }
        }
        self
    }

    /// `{prefix}v1:{rest}`.
    pub(crate) fn key(&self, rest: &str) -> String {
        format!("{}v1:{rest}", self.inner.prefix)
    }

    /// Runs `command` on a connection: an error when Redis is paused after a failure, or when
    /// this fails (then Redis is paused, and a warning says `consequence`).
    pub(crate) fn run<T>(
        &self,
        consequence: &str,
        command: impl Fn(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> io::Result<T> {
        self.check_pause()?;
        let pooled = lock(&self.inner.idle).pop();
        let reused = pooled.is_some();
        let mut connection = match pooled {
            Some(connection) => connection,
            None => self.fresh().map_err(|e| self.failed(consequence, &e))?,
        };
        match command(&mut connection) {
            Ok(value) => {
                self.keep(connection);
                Ok(value)
            }
            // An idle connection the server has closed since (a restart, an idle timeout):
            // once more on a new one (every command of the stores is safe to repeat).
            Err(e)
                if reused && !e.is_timeout() && (e.is_io_error() || e.is_connection_dropped()) =>
            {
                drop(connection);
                let mut connection = self.fresh().map_err(|e| self.failed(consequence, &e))?;
                match command(&mut connection) {
                    Ok(value) => {
                        self.keep(connection);
                        Ok(value)
                    }
                    Err(e) => Err(self.failed(consequence, &e)),
                }
            }
            Err(e) => Err(self.failed(consequence, &e)),
        }
    }

    /// Keeps a connection that just answered, for the next command.
    fn keep(&self, connection: redis::Connection) {
        let mut idle = lock(&self.inner.idle);
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(connection);
        }
    }

    /// [`run`](Self::run) for async code: `command` on the multiplexed connection, which
    /// waits without blocking the executor's thread. A connection made on a runtime that has
    /// ended since fails: it is replaced once before Redis counts as failed.
    pub(crate) async fn query_async<T: redis::FromRedisValue>(
        &self,
        consequence: &str,
        command: &redis::Cmd,
    ) -> io::Result<T> {
        self.check_pause()?;
        let inner = &self.inner;
        let mut fresh = false;
        loop {
            let cached = lock(&inner.multiplexed).clone();
            let mut connection = match cached {
                Some(connection) => connection,
                None => {
                    fresh = true;
                    let config = redis::AsyncConnectionConfig::new()
                        .set_connection_timeout(Some(inner.timeout))
                        .set_response_timeout(Some(inner.timeout));
                    match inner
                        .client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await
                    {
                        Ok(connection) => {
                            *lock(&inner.multiplexed) = Some(connection.clone());
                            connection
                        }
                        Err(e) => return Err(self.failed(consequence, &e)),
                    }
                }
            };
            match command.query_async::<T>(&mut connection).await {
                Ok(value) => return Ok(value),
                Err(e) => {
                    *lock(&inner.multiplexed) = None;
                    if fresh || e.is_timeout() {
                        return Err(self.failed(consequence, &e));
                    }
                }
            }
        }
    }

    /// An error, without asking Redis, while it is paused after a failure.
    fn check_pause(&self) -> io::Result<()> {
        match *lock(&self.inner.down_until) {
            Some(until) if Instant::now() < until => Err(io::Error::other(
                "Redis is paused after a failure: not asked",
            )),
            _ => Ok(()),
        }
    }

    /// Pauses Redis after `e`, with a warning saying `consequence`.
    fn failed(&self, consequence: &str, e: &redis::RedisError) -> io::Error {
        let inner = &self.inner;
        *lock(&inner.down_until) = Some(Instant::now() + inner.retry_after);
        // The other idle connections are as stale: none is tried after the pause.
        lock(&inner.idle).clear();
        *lock(&inner.multiplexed) = None;
        let failure = if e.is_timeout() {
            format!("timed out after {:?}", inner.timeout)
        } else {
            e.category().to_owned()
        };
        tracing::warn!(
            target: "wechatpay::shared",
            error = %Escaped(&failure),
            retry_after_ms = inner.retry_after.as_millis() as u64,
            "Redis failed: {consequence}"
        );
        io::Error::other(format!("Redis failed: {failure}"))
    }

    /// A new blocking connection, with the timeouts.
    fn fresh(&self) -> redis::RedisResult<redis::Connection> {
        let timeout = self.inner.timeout;
        let connection = self.inner.client.get_connection_with_timeout(timeout)?;
        connection.set_read_timeout(Some(timeout))?;
        connection.set_write_timeout(Some(timeout))?;
        Ok(connection)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.timeout)
            .field("retry_after", &self.inner.retry_after)
            .finish_non_exhaustive()
    }
}
