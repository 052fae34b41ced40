//! State shared by many processes through Redis (feature `redis`): the answer replay memory,
//! callback de-duplication and the platform certificates, so that a fleet of nodes behaves as
//! one client. The [deployment guide](crate::guide::deployment) says when to use it and what
//! each choice costs.
//!
//! One [`Redis`] (a connection URL or a `redis::Client` of yours, with feature `redis-r2d2`
//! also an r2d2 pool of yours; a key prefix, a timeout) gives the three stores:
//!
//! | store | trait | keys | what crosses nodes |
//! | --- | --- | --- | --- |
//! | [`RedisReplayMemory`] | [`ReplayMemory`](crate::replay::ReplayMemory) | `{prefix}v1:answer:{sha256}`, `SET NX EX` until the answer's timestamp leaves the window | an answer replayed to another node is refused |
//! | [`RedisClaims`] | [`ClaimStore`](crate::notify::ClaimStore) | `{prefix}v1:notification:{id}`, a lease while processed, then `done` for 25 h | a notification delivered to two nodes is processed once |
//! | [`RedisKeyStore`] | [`KeyStore`](crate::keyring::KeyStore) | the hash `{prefix}v1:certificates`, a field per serial; `{prefix}v1:certificates:lock` | one node's download serves every node; a rotation downloads once |
//!
//! **Failure policy.** Redis down, slow (past [`Redis::timeout`]) or holding a value it did not
//! write never lets anything unverified through: every answer and callback is still verified
//! by this process with its own keys. It does not stop payments either: each store falls back
//! to this process's own state with a warning event (`wechatpay::shared`), and Redis is left
//! alone for [`Redis::retry_after`] before it is asked again, so a dead server costs one
//! timeout, not one per request. What the fallback loses is said in each warning: a replay to
//! another node, a duplicate callback processed twice, a download per node.
//!
//! **Nothing secret is stored.** The APIv3 key and the merchant key never leave the process.
//! Certificates are public, but a certificate read from Redis is trusted only if it opens
//! under this merchant's APIv3 key ([`RedisKeyStore`] seals each with AES-256-GCM): a writer
//! without the key cannot plant one. Answer fingerprints and notification ids are what they
//! say; values carry a version (`v1`) in their key or text. Write access to Redis can still
//! make nodes refuse or skip what is genuine (a notification marked done), never accept
//! what is not: protect it as any shared production store.
//!
//! ```no_run
//! use wechatpay::shared::Redis;
//!
//! let redis = Redis::open("redis://127.0.0.1:6379/")?.prefix("shop:wechatpay:");
//! let client = wechatpay::Client::builder()
//!     .mchid("1900000109")
//!     .serial("7132D72A03E93CDDF8C03BBD1F37EEDF2C3C5C2B")
//!     .private_key_file("/etc/wechatpay/apiclient_key.pem")
//!     .auto_certificates("0123456789abcdef0123456789abcdef")
//!     .certificate_store(redis.key_store("0123456789abcdef0123456789abcdef")?)
//!     .replay_memory(redis.replay_memory())
//!     .build()?;
//! // Callbacks: one record of processed notification ids for the fleet.
//! let filter = redis.duplicate_filter(100_000);
//! # let _ = (client, filter);
//! # Ok::<(), wechatpay::Error>(())
//! ```

mod claims;
mod keys;
mod replay;
mod server;

pub use claims::RedisClaims;
pub use keys::RedisKeyStore;
pub use replay::RedisReplayMemory;
pub use server::{DEFAULT_PREFIX, DEFAULT_RETRY_AFTER, DEFAULT_TIMEOUT, Redis};

use crate::error::Result;

/// The stores over one server.
impl Redis {
    /// The answer replay memory over this server (and this process's own, bounded).
    pub fn replay_memory(&self) -> RedisReplayMemory {
        RedisReplayMemory::new(self.clone())
    }

    /// The record of notification ids over this server.
    pub fn claims(&self) -> RedisClaims {
        RedisClaims::new(self.clone())
    }

    /// A [`DuplicateFilter`](crate::notify::DuplicateFilter) over [`claims`](Self::claims), its
    /// own record of `capacity` ids serving when Redis fails: give it to
    /// [`NotificationReceiver::with_duplicate_filter`](crate::notify::NotificationReceiver::with_duplicate_filter).
    pub fn duplicate_filter(&self, capacity: usize) -> crate::notify::DuplicateFilter {
        crate::notify::DuplicateFilter::shared(self.claims(), capacity)
    }

    /// The platform certificates over this server, sealed with `apiv3_key` (exactly 32 bytes,
    /// else a [`Config`](crate::ErrorKind::Config) error): give it to
    /// [`ClientBuilder::certificate_store`](crate::ClientBuilder::certificate_store).
    pub fn key_store(&self, apiv3_key: impl AsRef<[u8]>) -> Result<RedisKeyStore> {
        Ok(RedisKeyStore::new(
            self.clone(),
            crate::crypto::Apiv3Key::new(apiv3_key)?,
        ))
    }
}
