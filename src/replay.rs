//! The replay memory: every verified APIv3 answer is remembered for as long as its timestamp is
//! accepted, so that the same signed answer seen a second time is refused.
//!
//! WeChat Pay's answer signature covers `timestamp\nnonce\nbody\n`: not the status, not the
//! request. A machine in the middle, holding no key, can therefore answer a request with any
//! signed answer it saw in the last 300 s (the clock window). Every answer is signed with a
//! fresh nonce, so a genuine answer is never seen twice: the client remembers each verified
//! answer's [`Fingerprint`] until its timestamp leaves the window, and a second sighting is a
//! [`Verification`](crate::ErrorKind::Verification) error
//! ([`Replayed`](crate::VerificationFailure::Replayed)). The [reliability guide](crate::guide::reliability) says what the
//! protocol leaves open besides.
//!
//! [`ReplayMemory`] is the trait a shared store implements (one memory for many processes);
//! [`InMemory`] is the default, one per client, bounded.
//!
//! ```
//! use wechatpay::replay::{Fingerprint, InMemory, ReplayMemory, Sighting};
//!
//! let memory = InMemory::new(1000);
//! let answer = Fingerprint::of("PUB_KEY_ID_0114232134912410000000000000", "n0nce", "c2ln");
//! assert_eq!(memory.sight(&answer, 1_700_000_300, 1_700_000_000), Sighting::First);
//! assert_eq!(memory.sight(&answer, 1_700_000_300, 1_700_000_001), Sighting::Again);
//! // Past its expiry the answer's timestamp is refused anyway: it is forgotten.
//! assert_eq!(memory.sight(&answer, 1_700_000_900, 1_700_000_301), Sighting::First);
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::Mutex;

/// How many answers [`InMemory::default`] remembers at most: 900,000, about 3,000 a second over
/// the 300 s window, in a table of 2^20 slots of 17 bytes (17 MiB when full; at 2,000 answers a
/// second, 600,000 answers fill the same table: `cargo bench --bench replay`).
pub const DEFAULT_CAPACITY: usize = 900_000;

/// What identifies one signed answer: the SHA-256 of its `Wechatpay-Serial`,
/// `Wechatpay-Nonce` and `Wechatpay-Signature` headers. The same for every process, so a shared
/// store can key on it ([`to_hex`](Self::to_hex)).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of an answer signed by `serial` with `nonce`, its signature `signature`
    /// (base64, as the header carries it).
    pub fn of(serial: &str, nonce: &str, signature: &str) -> Fingerprint {
        let mut hasher = openssl::sha::Sha256::new();
        for part in [serial, nonce, signature] {
            hasher.update(part.as_bytes());
            // A separator no header value holds: the parts cannot be regrouped.
            hasher.update(b"\n");
        }
        Fingerprint(hasher.finish())
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        crate::crypto::hex_lower(&self.0)
    }

    /// The first 8 bytes: enough to tell apart the answers of a window (a false match between
    /// two genuine answers is a chance in 2^64 per answer remembered).
    fn short(&self) -> u64 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(first)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

/// Whether an answer was seen before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sighting {
    /// Not seen (or forgotten after its expiry): it is remembered now.
    First,
    /// Seen before, and not expired: a replay.
    Again,
}

/// Remembers the fingerprints of verified answers until their timestamps leave the window.
///
/// Implement it over a store shared by processes (`SET fingerprint NX` with an expiry has the
/// semantics) to catch an answer replayed to another process. A store that cannot answer should
/// say [`First`](Sighting::First) (and remember locally): refusing a genuine answer stops a
/// payment, while a replay it misses is still a signed answer of WeChat Pay's.
pub trait ReplayMemory: Send + Sync + 'static {
    /// Records `fingerprint` until `expires_at` (Unix seconds) and says whether it was recorded
    /// already and not expired; `now` is the caller's clock (Unix seconds).
    fn sight(&self, fingerprint: &Fingerprint, expires_at: i64, now: i64) -> Sighting;

    /// [`sight`](Self::sight) as the client's async verbs call it, from the caller's runtime
    /// (the blocking verbs call `sight`, on the calling thread). A memory that waits on a
    /// server implements it without blocking the executor's thread; the default calls
    /// `sight`.
    fn sight_async<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        expires_at: i64,
        now: i64,
    ) -> SightFuture<'a> {
        Box::pin(std::future::ready(self.sight(fingerprint, expires_at, now)))
    }
}

/// What [`ReplayMemory::sight_async`] returns.
pub type SightFuture<'a> = Pin<Box<dyn Future<Output = Sighting> + Send + 'a>>;

/// A hasher for keys that are already uniform (a prefix of a SHA-256): it takes the key as it
/// is.
#[derive(Default)]
struct Uniform(u64);

impl Hasher for Uniform {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

struct Seen {
    /// Short fingerprint -> expiry (Unix seconds, saturated to `u32`).
    until: HashMap<u64, u32, BuildHasherDefault<Uniform>>,
    /// When expired entries are swept next (Unix seconds).
    next_sweep: i64,
}

/// The default [`ReplayMemory`]: in this process, at most `capacity` answers (flat memory at
/// any rate). Expired answers are swept every 30 s. Past the capacity, the answers nearest to
/// their expiry are forgotten first (a replay of those is then not caught; the memory stays at
/// its bound): [`DEFAULT_CAPACITY`] covers 3,000 answers a second.
pub struct InMemory {
    seen: Mutex<Seen>,
    capacity: usize,
}

impl InMemory {
    /// A memory of at most `capacity` answers (at least 1).
    pub fn new(capacity: usize) -> InMemory {
        InMemory {
            seen: Mutex::new(Seen {
                until: HashMap::default(),
                next_sweep: i64::MIN,
            }),
            capacity: capacity.max(1),
        }
    }

    /// How many answers are remembered now.
    pub fn len(&self) -> usize {
        self.lock().until.len()
    }

    /// Whether no answer is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for InMemory {
    fn default() -> Self {
        InMemory::new(DEFAULT_CAPACITY)
    }
}

impl fmt::Debug for InMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemory")
            .field("remembered", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

/// Unix seconds as the memory keeps them.
fn seconds(t: i64) -> u32 {
    u32::try_from(t.max(0)).unwrap_or(u32::MAX)
}

impl ReplayMemory for InMemory {
    fn sight(&self, fingerprint: &Fingerprint, expires_at: i64, now: i64) -> Sighting {
        let mut seen = self.lock();
        let (now_s, expiry) = (seconds(now), seconds(expires_at));
        if now >= seen.next_sweep {
            seen.until.retain(|_, until| *until >= now_s);
            seen.next_sweep = now.saturating_add(30);
        }
        let key = fingerprint.short();
        if seen.until.get(&key).is_some_and(|until| *until >= now_s) {
            return Sighting::Again;
        }
        if seen.until.len() >= self.capacity && !seen.until.contains_key(&key) {
            // Full: forget the answers nearest to their expiry, a minute's worth at a time.
            let mut threshold = now_s;
            while seen.until.len() >= self.capacity {
                threshold = threshold.saturating_add(60);
                seen.until.retain(|_, until| *until > threshold);
            }
        }
        seen.until.insert(key, expiry);
        Sighting::First
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(n: u32) -> Fingerprint {
        Fingerprint::of("serial", &format!("nonce{n}"), "signature")
    }

    #[test]
    fn the_parts_cannot_be_regrouped() {
        assert_ne!(
            Fingerprint::of("ab", "c", "d"),
            Fingerprint::of("a", "bc", "d")
        );
        assert_eq!(Fingerprint::of("a", "b", "c").to_hex().len(), 64);
    }

    #[test]
    fn an_answer_is_remembered_until_it_expires() {
        let memory = InMemory::new(10);
        assert_eq!(memory.sight(&answer(1), 1300, 1000), Sighting::First);
        assert_eq!(memory.sight(&answer(1), 1300, 1299), Sighting::Again);
        assert_eq!(memory.sight(&answer(1), 1300, 1300), Sighting::Again);
        assert_eq!(memory.sight(&answer(2), 1300, 1000), Sighting::First);
        // Expired: forgotten, and swept.
        assert_eq!(memory.sight(&answer(1), 1700, 1400), Sighting::First);
        assert_eq!(memory.len(), 1);
    }

    #[test]
    fn memory_stays_at_its_bound_forgetting_the_nearest_expiries_first() {
        let memory = InMemory::new(100);
        // 100 answers expiring over the next ten minutes, then many more.
        for n in 0..100 {
            assert_eq!(
                memory.sight(&answer(n), 1000 + 6 * i64::from(n), 1000),
                Sighting::First
            );
        }
        for n in 100..1000 {
            memory.sight(&answer(n), 1600, 1000);
            assert!(memory.len() <= 100, "{}", memory.len());
        }
        // The latest answer is still caught; the one nearest its expiry was forgotten.
        assert_eq!(memory.sight(&answer(999), 1600, 1001), Sighting::Again);
        assert_eq!(memory.sight(&answer(0), 1000, 1000), Sighting::First);
    }
}
