//! The platform certificates over Redis, sealed with the APIv3 key.

use std::fmt;
use std::io;
use std::sync::LazyLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::server::Redis;
use crate::crypto::{Apiv3Key, Certificate, base64_decode, base64_encode};
use crate::keyring::KeyStore;
use crate::redact::Escaped;

/// Deletes the key if it holds `ARGV[1]`.
static UNLOCK: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0",
    )
});

/// A [`KeyStore`] shared by every process using the same Redis and prefix: one process's
/// certificate download serves all of them, and the download lock makes a rotation (an answer
/// signed by a serial nobody has) cost one download for the fleet, not one per process.
///
/// The hash `{prefix}v1:certificates` holds a field per serial, whose value is
/// `{"v":1,"nonce":..,"ciphertext":..}`: the certificate's PEM sealed with AES-256-GCM under
/// the merchant's APIv3 key (a fresh nonce each; the serial in the associated data). A value
/// that does not open under this key, or opens to anything but exactly one certificate with
/// that serial, is skipped with a warning: a writer without the key cannot plant a
/// certificate, and nothing read from Redis is trusted as it is. The lock is
/// `{prefix}v1:certificates:lock` (`SET NX PX`, released by its holder only).
pub struct RedisKeyStore {
    redis: Redis,
    key: Apiv3Key,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    v: u8,
    nonce: String,
    ciphertext: String,
}

impl RedisKeyStore {
    pub(super) fn new(redis: Redis, key: Apiv3Key) -> RedisKeyStore {
        RedisKeyStore { redis, key }
    }

    fn hash(&self) -> String {
        self.redis.key("certificates")
    }

    fn associated_data(serial: &str) -> String {
        format!("wechatpay-rs v1 certificate {serial}")
    }

    fn seal(&self, serial: &str, pem: &[u8]) -> io::Result<String> {
        let mut nonce = [0u8; 12];
        openssl::rand::rand_bytes(&mut nonce).map_err(io::Error::other)?;
        let ciphertext = self
            .key
            .encrypt(&nonce, Self::associated_data(serial).as_bytes(), pem)
            .map_err(io::Error::other)?;
        serde_json::to_string(&Sealed {
            v: 1,
            nonce: base64_encode(&nonce),
            ciphertext: base64_encode(&ciphertext),
        })
        .map_err(io::Error::other)
    }

    /// The PEM of the certificate `serial` sealed in `value`, or why not.
    fn open(&self, serial: &str, value: &[u8]) -> Result<Vec<u8>, &'static str> {
        let sealed: Sealed = serde_json::from_slice(value).map_err(|_| "not a sealed entry")?;
        if sealed.v != 1 {
            return Err("an entry of another version");
        }
        let nonce = base64_decode(&sealed.nonce).map_err(|_| "its nonce is not base64")?;
        let ciphertext =
            base64_decode(&sealed.ciphertext).map_err(|_| "its ciphertext is not base64")?;
        let pem = self
            .key
            .decrypt(
                &nonce,
                Self::associated_data(serial).as_bytes(),
                &ciphertext,
            )
            .map_err(|_| "it does not open under this APIv3 key")?;
        let cert = Certificate::parse_exact(&pem).map_err(|_| "it is not one certificate")?;
        if !cert.serial().eq_ignore_ascii_case(serial) {
            return Err("its certificate has another serial");
        }
        Ok(pem)
    }
}

const FALLBACK: &str = "certificates come from this process's own downloads";

impl KeyStore for RedisKeyStore {
    fn load(&self) -> io::Result<Vec<Vec<u8>>> {
        let hash = self.hash();
        let entries = self.redis.run(FALLBACK, |connection| {
            redis::cmd("HGETALL")
                .arg(&hash)
                .query::<Vec<(String, Vec<u8>)>>(connection)
        })?;
        let mut pems = Vec::with_capacity(entries.len());
        for (serial, value) in entries {
            match self.open(&serial, &value) {
                Ok(pem) => pems.push(pem),
                Err(why) => tracing::warn!(
                    target: "wechatpay::shared",
                    serial = %Escaped(&serial),
                    why,
                    "a certificate entry in Redis is not trusted: skipped"
                ),
            }
        }
        Ok(pems)
    }

    fn save(&self, serial: &str, pem: &[u8]) -> io::Result<()> {
        let hash = self.hash();
        let value = self.seal(serial, pem)?;
        self.redis.run(FALLBACK, |connection| {
            redis::cmd("HSET")
                .arg(&hash)
                .arg(serial)
                .arg(&value)
                .query::<()>(connection)
        })
    }

    fn remove(&self, serial: &str) -> io::Result<()> {
        let hash = self.hash();
        self.redis.run(FALLBACK, |connection| {
            redis::cmd("HDEL")
                .arg(&hash)
                .arg(serial)
                .query::<()>(connection)
        })
    }

    fn try_lock_download(&self, ttl: Duration) -> io::Result<Option<String>> {
        let lock = self.redis.key("certificates:lock");
        let token = crate::crypto::nonce().map_err(io::Error::other)?;
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let taken = self.redis.run(FALLBACK, |connection| {
            redis::cmd("SET")
                .arg(&lock)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms)
                .query::<Option<String>>(connection)
        })?;
        Ok(taken.map(|_| token))
    }

    fn unlock_download(&self, token: &str) -> io::Result<()> {
        let lock = self.redis.key("certificates:lock");
        self.redis.run(FALLBACK, |connection| {
            UNLOCK
                .key(&lock)
                .arg(token)
                .invoke::<i64>(connection)
                .map(drop)
        })
    }
}

impl fmt::Debug for RedisKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisKeyStore")
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}
