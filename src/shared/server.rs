//! The connection to Redis: [`Redis`], its settings, its pool and its pause after a failure.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::per_runtime::{PerRuntime, current_runtime};
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
/// The client's async calls check their answers on an async connection (multiplexed: one per
/// Tokio runtime the calls run on, since a connection's reader is a task of the runtime that
/// made it; with actix-web's single-threaded workers, each worker has its own): the round trip
/// does not block the executor's thread. Blocking calls, callbacks and the key ring's store
/// use blocking connections with read and write timeouts, from the calling thread (a few kept
/// idle for reuse, or your r2d2 pool's: `pool`, feature `redis-r2d2`). Every command gets the
/// same timeout.
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
    /// The user's pool, in place of `idle`.
    #[cfg(feature = "redis-r2d2")]
    pool: Option<r2d2::Pool<redis::Client>>,
    /// The async callers' connections, one per runtime (multiplexed: one serves every task of
    /// its runtime; gone with it).
    multiplexed: PerRuntime<redis::aio::MultiplexedConnection>,
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
                #[cfg(feature = "redis-r2d2")]
                pool: None,
                multiplexed: PerRuntime::new(),
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

    /// Takes the blocking connections from your r2d2 `pool` instead of this handle's own few
    /// (feature `redis-r2d2`): those of the callback claims, of the key store, and of the
    /// blocking calls' answer checks. Its size bounds them.
    ///
    /// - r2d2 tests a connection before lending it (a `PING` by default: one more round trip
    ///   per command), before this handle sets its timeout. Give the pool's connections
    ///   timeouts of their own, as below, so that a Redis that accepts connections and never
    ///   answers cannot hold a callback there. Keep the test on: a connection the server has
    ///   closed is then replaced before it is lent.
    /// - No connection free within [`timeout`](Self::timeout) is no failure of Redis: that
    ///   command falls back to this process's state, with a warning, and the next one tries
    ///   again (Redis is not paused).
    /// - While lent, a connection reads and writes with this handle's timeout, and keeps it
    ///   when it goes back (the `redis` crate cannot read the one it had).
    /// - Async calls still check their answers on this handle's own async connections (one
    ///   per runtime), made from the client given to [`from_client`](Self::from_client): an
    ///   r2d2 pool has none.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use wechatpay::shared::Redis;
    ///
    /// /// Timeouts from the start, for r2d2's test before lending.
    /// #[derive(Debug)]
    /// struct Timeouts;
    /// impl r2d2::CustomizeConnection<redis::Connection, redis::RedisError> for Timeouts {
    ///     fn on_acquire(&self, c: &mut redis::Connection) -> Result<(), redis::RedisError> {
    ///         c.set_read_timeout(Some(Duration::from_millis(250)))?;
    ///         c.set_write_timeout(Some(Duration::from_millis(250)))
    ///     }
    /// }
    ///
    /// let client = redis::Client::open("redis://127.0.0.1:6379/")?;
    /// // The service's pool (nothing is connected until it is used).
    /// let pool = r2d2::Pool::builder()
    ///     .max_size(8)
    ///     .min_idle(Some(0))
    ///     .connection_customizer(Box::new(Timeouts))
    ///     .build_unchecked(client.clone());
    /// let redis = Redis::from_client(client).pool(pool);
    /// # let _ = redis;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "redis-r2d2")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-r2d2")))]
    pub fn pool(self, pool: r2d2::Pool<redis::Client>) -> Redis {
        self.with(|inner| inner.pool = Some(pool))
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
                    #[cfg(feature = "redis-r2d2")]
                    pool: self.inner.pool.clone(),
                    multiplexed: PerRuntime::new(),
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
        let mut again = false;
        loop {
            let (mut lease, reused) = self
                .lease(again)
                .map_err(|unlent| self.unlent(consequence, unlent))?;
            match command(lease.connection()) {
                Ok(value) => {
                    self.give_back(lease);
                    return Ok(value);
                }
                // An idle connection the server has closed since (a restart, an idle timeout):
                // once more on a new one (every command of the stores is safe to repeat).
                Err(e)
                    if reused
                        && !again
                        && !e.is_timeout()
                        && (e.is_io_error() || e.is_connection_dropped()) =>
                {
                    again = true;
                }
                Err(e) => return Err(self.failed(consequence, self.describe(&e))),
            }
        }
    }

    /// A blocking connection for one command, and whether it served before: from the user's
    /// pool when one is given, else an idle one of ours (unless `new`), else a new one.
    fn lease(&self, new: bool) -> std::result::Result<(Lease, bool), Unlent> {
        #[cfg(feature = "redis-r2d2")]
        if let Some(pool) = &self.inner.pool {
            let timeout = self.inner.timeout;
            let connection = pool.get_timeout(timeout).map_err(|_| {
                Unlent::Busy(format!("no connection from the pool within {timeout:?}"))
            })?;
            connection
                .set_read_timeout(Some(timeout))
                .and_then(|()| connection.set_write_timeout(Some(timeout)))
                .map_err(|e| Unlent::Failed(self.describe(&e)))?;
            return Ok((Lease::Pooled(connection), true));
        }
        if !new && let Some(connection) = lock(&self.inner.idle).pop() {
            return Ok((Lease::Own(connection), true));
        }
        let connection = self
            .fresh()
            .map_err(|e| Unlent::Failed(self.describe(&e)))?;
        Ok((Lease::Own(connection), false))
    }

    /// The error for a command that got no connection: Redis failed (then it is paused), or
    /// the user's pool had none free in time, which says nothing of Redis (a warning, no
    /// pause: the next command tries again).
    fn unlent(&self, consequence: &str, unlent: Unlent) -> io::Error {
        match unlent {
            Unlent::Failed(failure) => self.failed(consequence, failure),
            #[cfg(feature = "redis-r2d2")]
            Unlent::Busy(failure) => {
                tracing::warn!(
                    target: "wechatpay::shared",
                    error = %Escaped(&failure),
                    "Redis not asked: {consequence}"
                );
                io::Error::other(format!("Redis not asked: {failure}"))
            }
        }
    }

    /// A connection that just answered: ours is kept for the next command, the pool's goes
    /// back to it.
    fn give_back(&self, lease: Lease) {
        match lease {
            Lease::Own(connection) => self.keep(connection),
            #[cfg(feature = "redis-r2d2")]
            Lease::Pooled(connection) => drop(connection),
        }
    }

    /// Keeps a connection that just answered, for the next command.
    fn keep(&self, connection: redis::Connection) {
        let mut idle = lock(&self.inner.idle);
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(connection);
        }
    }

    /// [`run`](Self::run) for async code: `command` on the multiplexed connection of the
    /// runtime it runs on, which waits without blocking the executor's thread. The connection
    /// is made on that runtime, whose task reads its replies: a runtime never waits for
    /// another one's (busy or ended) to be polled. A kept connection that fails (the server
    /// closed it) is replaced once before Redis counts as failed.
    pub(crate) async fn query_async<T: redis::FromRedisValue>(
        &self,
        consequence: &str,
        command: &redis::Cmd,
    ) -> io::Result<T> {
        self.check_pause()?;
        let Some(runtime) = current_runtime() else {
            return Err(io::Error::other(
                "not on a Tokio runtime: Redis is not asked from async code elsewhere",
            ));
        };
        let inner = &self.inner;
        let mut fresh = false;
        loop {
            let mut connection = match inner.multiplexed.get(runtime) {
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
                        Ok(connection) => inner.multiplexed.insert(connection),
                        Err(e) => return Err(self.failed(consequence, self.describe(&e))),
                    }
                }
            };
            match command.query_async::<T>(&mut connection).await {
                Ok(value) => return Ok(value),
                Err(e) => {
                    inner.multiplexed.remove(runtime);
                    if fresh || e.is_timeout() {
                        return Err(self.failed(consequence, self.describe(&e)));
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

    /// What went wrong, for the warning and the error: never the address or a password.
    fn describe(&self, e: &redis::RedisError) -> String {
        if e.is_timeout() {
            format!("timed out after {:?}", self.inner.timeout)
        } else {
            e.category().to_owned()
        }
    }

    /// Pauses Redis after `failure`, with a warning saying `consequence`.
    fn failed(&self, consequence: &str, failure: String) -> io::Error {
        let inner = &self.inner;
        *lock(&inner.down_until) = Some(Instant::now() + inner.retry_after);
        // The other idle connections are as stale: none is tried after the pause.
        lock(&inner.idle).clear();
        inner.multiplexed.clear();
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

/// A blocking connection lent to one command.
enum Lease {
    /// One of this handle's own.
    Own(redis::Connection),
    /// One of the user's pool (it goes back when dropped).
    #[cfg(feature = "redis-r2d2")]
    Pooled(r2d2::PooledConnection<redis::Client>),
}

impl Lease {
    fn connection(&mut self) -> &mut redis::Connection {
        match self {
            Lease::Own(connection) => connection,
            #[cfg(feature = "redis-r2d2")]
            Lease::Pooled(connection) => connection,
        }
    }
}

/// Why a command got no connection.
enum Unlent {
    /// Redis failed (connecting, or setting the connection's timeouts).
    Failed(String),
    /// The user's pool had none free within the timeout.
    #[cfg(feature = "redis-r2d2")]
    Busy(String),
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
