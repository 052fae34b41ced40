//! [`KeyRing`]: the platform certificates and WeChat Pay public keys a client verifies with,
//! kept up to date by itself.
//!
//! A client always verifies through a key ring (unless given a custom
//! [`Verifier`]): the keys given to
//! [`platform_key`](crate::ClientBuilder::platform_key) are its configured entries. With
//! [`auto_certificates`](crate::ClientBuilder::auto_certificates) the client also downloads the
//! platform certificates (`/v3/certificates`), refreshes them periodically and whenever an
//! answer names a serial the ring does not know, keeps every unexpired certificate through a
//! rotation, and carries on in public-key mode when the merchant has no certificates any more.
//! See `docs/keyring.md`.
//!
//! Readers never wait: a verification takes a snapshot (an `Arc`) under a lock held for a
//! pointer copy, and a refresh builds the next snapshot on the side before swapping it in.

mod refresh;
mod store;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::{Duration, Instant};

use http::HeaderMap;

use crate::client::Shared;
use crate::crypto::{Apiv3Key, Certificate, PublicKey};
use crate::error::{Error, Result, VerificationFailure};
use crate::verifier::{Verifier, unix_now, verify_signature};

pub(crate) use refresh::{Trigger, before_request, ensure_background, needs_keys_first, refresh};
pub use store::{DirectoryStore, KeyStore};

/// The default period of the background refresh.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(12 * 3600);
/// The least time between two refreshes triggered by unknown serials (or after a failure).
pub const MIN_TRIGGERED_INTERVAL: Duration = Duration::from_secs(60);

/// What one entry of the ring is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A platform certificate: its serial, and its validity in Unix seconds.
    Certificate {
        /// Not valid before (Unix seconds).
        not_before: i64,
        /// Not valid after (Unix seconds).
        not_after: i64,
    },
    /// A WeChat Pay public key (`PUB_KEY_ID_...`): no validity period.
    PublicKey,
}

/// One key of the ring, as [`KeyRing::entries`] lists it.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The certificate serial or `PUB_KEY_ID_...`, as `Wechatpay-Serial` names it.
    pub id: String,
    /// Certificate (with validity) or public key.
    pub kind: EntryKind,
    /// Given to the builder (never dropped) rather than downloaded.
    pub configured: bool,
    key: PublicKey,
}

impl Entry {
    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    fn expired_at(&self, now: i64) -> bool {
        matches!(self.kind, EntryKind::Certificate { not_after, .. } if now > not_after)
    }

    /// Whether this is a certificate whose validity starts later than the clock window after
    /// `now`.
    fn not_yet_valid_at(&self, now: i64) -> bool {
        matches!(self.kind, EntryKind::Certificate { not_before, .. }
            if not_before > now.saturating_add(crate::verifier::CLOCK_WINDOW_SECS))
    }

    fn not_before(&self) -> i64 {
        match self.kind {
            EntryKind::Certificate { not_before, .. } => not_before,
            EntryKind::PublicKey => i64::MIN,
        }
    }
}

/// One version of the ring's contents.
#[derive(Clone, Default)]
pub(crate) struct Snapshot {
    pub(crate) entries: BTreeMap<String, Entry>,
}

/// Automatic certificate management: the APIv3 key that decrypts downloads, and the period.
pub(crate) struct Auto {
    pub(crate) apiv3_key: Apiv3Key,
    pub(crate) interval: Duration,
}

#[derive(Default)]
pub(crate) struct RefreshState {
    /// The last refresh that succeeded (or found public-key mode).
    pub(crate) last_success: Option<Instant>,
    /// The last attempt, successful or not.
    pub(crate) last_attempt: Option<Instant>,
    /// The last refresh an answer's unknown serial triggered.
    pub(crate) last_triggered: Option<Instant>,
    /// The last refresh a callback's unknown serial triggered.
    pub(crate) last_callback_triggered: Option<Instant>,
    /// `/v3/certificates` answered that this merchant has no certificates.
    pub(crate) public_key_mode: bool,
    /// The background task is running.
    pub(crate) background: bool,
    /// Attempts finished so far.
    pub(crate) generation: u64,
    /// How the last attempt failed, if it did.
    pub(crate) failure: Option<(crate::ErrorKind, String)>,
    /// A serial a callback named, to refresh for on the next request (blocking use).
    pub(crate) pending: Option<String>,
}

impl RefreshState {
    /// The last attempt's outcome.
    pub(crate) fn outcome(&self) -> Result<()> {
        match &self.failure {
            None => Ok(()),
            Some((kind, message)) => Err(Error::of_kind(
                *kind,
                format!("the last platform certificate download failed: {message}"),
            )),
        }
    }
}

struct Inner {
    snapshot: RwLock<Arc<Snapshot>>,
    /// One update at a time: each copies the current snapshot, changes the copy and publishes
    /// it, so two at once would lose one's change.
    writer: Mutex<()>,
    /// The configured preferred id, if any.
    preferred: Option<String>,
    store: Option<Arc<dyn KeyStore>>,
    auto: Option<Auto>,
    /// One refresh at a time.
    refreshing: tokio::sync::Mutex<()>,
    state: Mutex<RefreshState>,
    /// The client the ring belongs to, for refreshes a callback triggers.
    client: OnceLock<Weak<Shared>>,
    /// Ends the background task when the client goes.
    stop: tokio::sync::Notify,
}

/// Platform certificates and WeChat Pay public keys, by id, readable while being updated. Cheap
/// to clone (one `Arc`); implements [`Verifier`].
///
/// ```
/// use wechatpay::keyring::{KeyRing, EntryKind};
/// # let pem = openssl::rsa::Rsa::generate(2048).and_then(|k| k.public_key_to_pem()).unwrap();
///
/// let ring = KeyRing::new();
/// ring.add_public_key("PUB_KEY_ID_0114232134912410000000000000", &pem).unwrap();
/// let entries = ring.entries();
/// assert_eq!(entries[0].kind, EntryKind::PublicKey);
/// assert_eq!(ring.preferred().as_deref(), Some("PUB_KEY_ID_0114232134912410000000000000"));
/// ```
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<Inner>,
}

impl Default for KeyRing {
    fn default() -> Self {
        KeyRing::new()
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("ids", &self.ids())
            .field("auto", &self.inner.auto.is_some())
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// An empty ring that manages nothing by itself.
    pub fn new() -> KeyRing {
        KeyRing::build(None, None, None)
    }

    pub(crate) fn build(
        preferred: Option<String>,
        store: Option<Arc<dyn KeyStore>>,
        auto: Option<Auto>,
    ) -> KeyRing {
        KeyRing {
            inner: Arc::new(Inner {
                snapshot: RwLock::new(Arc::new(Snapshot::default())),
                writer: Mutex::new(()),
                preferred,
                store,
                auto,
                refreshing: tokio::sync::Mutex::new(()),
                state: Mutex::new(RefreshState::default()),
                client: OnceLock::new(),
                stop: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Adds a platform certificate (PEM or DER) as a configured entry, keyed by its own serial;
    /// returns the serial.
    pub fn add_certificate(&self, certificate: impl AsRef<[u8]>) -> Result<String> {
        let cert = Certificate::load(certificate)?;
        self.insert_certificate(&cert, true);
        Ok(cert.serial().to_owned())
    }

    /// Adds a platform key as [`ClientBuilder::platform_key`](crate::ClientBuilder::platform_key)
    /// takes it, as a configured entry: `id` must be a certificate serial (hex) or
    /// `PUB_KEY_ID_` and digits; a certificate (PEM or DER) is filed under its own serial, which
    /// `id` must name (case and leading zeros aside); a public key (any form
    /// [`PublicKey::load`] takes) under `id`. Returns the id it is filed under. Unlike the
    /// builder, which refuses an id given twice, it replaces an entry already filed under that
    /// id (a downloaded one too, which then stays as configured).
    ///
    /// ```
    /// use wechatpay::keyring::KeyRing;
    ///
    /// let ring = KeyRing::new();
    /// let cert = wechatpay::crypto::test_certificate_for_docs(&[0x0A, 0xBC], 3600);
    /// // Filed under the serial as `openssl x509 -serial` prints it.
    /// assert_eq!(ring.add_platform_key("abc", &cert).unwrap(), "0ABC");
    /// let err = ring.add_platform_key("0DEF", &cert).unwrap_err();
    /// assert!(err.to_string().contains("the certificate's serial is 0ABC"));
    /// assert!(ring.add_platform_key("not-an-id", &cert).is_err());
    /// ```
    pub fn add_platform_key(&self, id: &str, pem: impl AsRef<[u8]>) -> Result<String> {
        let pem = pem.as_ref();
        let (id, key) = parse_platform_key(id, pem)?;
        match Certificate::load(pem) {
            // `parse_platform_key` checked that `id` is its serial.
            Ok(cert) => self.insert_certificate(&cert, true),
            Err(_) => self.insert_public_key(id.clone(), key),
        }
        Ok(id)
    }

    /// Adds a WeChat Pay public key (SPKI or PKCS#1 PEM) under its `PUB_KEY_ID_...`, as a
    /// configured entry (never dropped).
    pub fn add_public_key(&self, id: impl Into<String>, pem: impl AsRef<[u8]>) -> Result<()> {
        let key = PublicKey::load(pem)?;
        self.insert_public_key(id.into(), key);
        Ok(())
    }

    pub(crate) fn insert_public_key(&self, id: String, key: PublicKey) {
        self.update(|snapshot| {
            snapshot.entries.insert(
                id.clone(),
                Entry {
                    id,
                    kind: EntryKind::PublicKey,
                    configured: true,
                    key,
                },
            );
        });
    }

    pub(crate) fn insert_certificate(&self, cert: &Certificate, configured: bool) {
        self.update(|snapshot| {
            snapshot.entries.insert(
                cert.serial().to_owned(),
                certificate_entry(cert, configured),
            );
        });
    }

    /// The ids in the ring, sorted.
    pub fn ids(&self) -> Vec<String> {
        self.snapshot().entries.keys().cloned().collect()
    }

    /// Whether `id` is in the ring.
    pub fn contains(&self, id: &str) -> bool {
        self.snapshot().entries.contains_key(id)
    }

    /// Every entry, sorted by id.
    pub fn entries(&self) -> Vec<Entry> {
        self.snapshot().entries.values().cloned().collect()
    }

    /// The entry that encrypts sensitive fields and is named in `Wechatpay-Serial`: the
    /// configured preference when it is in the ring, else the first public key, else the
    /// newest unexpired certificate.
    pub fn preferred(&self) -> Option<String> {
        self.preferred_entry().map(|e| e.id)
    }

    pub(crate) fn preferred_entry(&self) -> Option<Entry> {
        let snapshot = self.snapshot();
        let now = unix_now();
        let usable = |e: &&Entry| !e.expired_at(now) && e.not_before() <= now;
        if let Some(entry) = self
            .inner
            .preferred
            .as_ref()
            .and_then(|id| snapshot.entries.get(id))
            .filter(usable)
        {
            return Some(entry.clone());
        }
        snapshot
            .entries
            .values()
            .find(|e| e.kind == EntryKind::PublicKey)
            .or_else(|| {
                snapshot
                    .entries
                    .values()
                    .filter(usable)
                    .max_by_key(|e| e.not_before())
            })
            .cloned()
    }

    /// Whether this ring downloads certificates by itself.
    pub fn is_automatic(&self) -> bool {
        self.inner.auto.is_some()
    }

    /// Whether the last download found that this merchant has no platform certificates (public
    /// key mode).
    pub fn public_key_mode(&self) -> bool {
        self.state().public_key_mode
    }

    /// [`Verifier::verify`] with an explicit clock.
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        payload: &[u8],
        now: i64,
    ) -> std::result::Result<(), VerificationFailure> {
        let snapshot = self.snapshot();
        verify_signature(headers, payload, now, |serial| {
            match snapshot.entries.get(serial) {
                Some(entry) if entry.expired_at(now) => {
                    let EntryKind::Certificate { not_after, .. } = entry.kind else {
                        unreachable!("only certificates expire")
                    };
                    Err(VerificationFailure::ExpiredCertificate {
                        serial: serial.to_owned(),
                        not_after,
                    })
                }
                Some(entry) if entry.not_yet_valid_at(now) => {
                    Err(VerificationFailure::CertificateNotYetValid {
                        serial: serial.to_owned(),
                        not_before: entry.not_before(),
                    })
                }
                Some(entry) => Ok(&entry.key),
                None => {
                    tracing::warn!(
                        serial,
                        "Wechatpay-Serial names a key the ring does not have"
                    );
                    Err(VerificationFailure::UnknownSerial(serial.to_owned()))
                }
            }
        })
    }

    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        match self.inner.snapshot.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Applies `change` to a copy of the current contents and publishes it.
    pub(crate) fn update(&self, change: impl FnOnce(&mut Snapshot)) {
        let _writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut next = (*self.snapshot()).clone();
        change(&mut next);
        let next = Arc::new(next);
        match self.inner.snapshot.write() {
            Ok(mut guard) => *guard = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, RefreshState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn auto(&self) -> Option<&Auto> {
        self.inner.auto.as_ref()
    }

    pub(crate) fn store(&self) -> Option<&Arc<dyn KeyStore>> {
        self.inner.store.as_ref()
    }

    pub(crate) fn refresh_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.inner.refreshing
    }

    /// Resolves when the client is dropped.
    pub(crate) async fn stopped(&self) {
        self.inner.stop.notified().await;
    }

    /// The client is dropped: the background task ends. A permit, not a broadcast: the task
    /// may be in the middle of a refresh, not waiting, and must still see it (it would
    /// otherwise keep the APIv3 key in memory for up to an interval).
    pub(crate) fn stop(&self) {
        self.inner.stop.notify_one();
    }

    pub(crate) fn attach(&self, client: Weak<Shared>) {
        let _ = self.inner.client.set(client);
    }

    pub(crate) fn client(&self) -> Option<Arc<Shared>> {
        self.inner.client.get()?.upgrade()
    }

    /// Loads the certificates of the store (unexpired, parseable) as downloaded entries.
    pub(crate) fn load_store(&self) -> Result<usize> {
        let Some(store) = self.store() else {
            return Ok(0);
        };
        let pems = match store.load() {
            Ok(pems) => pems,
            Err(e) => {
                // The network can still provide: a broken store does not stop the client.
                tracing::warn!(error = %e, "cannot read the certificate store");
                return Ok(0);
            }
        };
        let now = unix_now();
        let mut loaded = 0;
        for pem in pems {
            match Certificate::load(&pem) {
                Ok(cert) if cert.not_after_unix() >= now => {
                    if !self.contains(cert.serial()) {
                        self.insert_certificate(&cert, false);
                        tracing::info!(
                            serial = cert.serial(),
                            not_after = cert.not_after_unix(),
                            "platform certificate added from the store"
                        );
                        loaded += 1;
                    }
                }
                Ok(cert) => tracing::info!(
                    serial = cert.serial(),
                    "stored platform certificate has expired: not loaded"
                ),
                Err(e) => tracing::warn!(error = %e, "unreadable file in the certificate store"),
            }
        }
        if loaded > 0 {
            tracing::info!(loaded, "platform certificates loaded from the store");
        }
        Ok(loaded)
    }
}

fn certificate_entry(cert: &Certificate, configured: bool) -> Entry {
    Entry {
        id: cert.serial().to_owned(),
        kind: EntryKind::Certificate {
            not_before: cert.not_before_unix(),
            not_after: cert.not_after_unix(),
        },
        configured,
        key: cert.public_key().clone(),
    }
}

impl Verifier for KeyRing {
    fn verify(
        &self,
        headers: &HeaderMap,
        payload: &[u8],
    ) -> std::result::Result<(), VerificationFailure> {
        self.verify_at(headers, payload, unix_now())
    }
}

/// The verifier of a client's callbacks: the ring, plus a background refresh (rate-limited)
/// when a callback names a serial the ring does not know, so that WeChat Pay's retry of the
/// callback verifies.
pub(crate) struct CallbackVerifier(pub(crate) KeyRing);

impl Verifier for CallbackVerifier {
    fn verify(
        &self,
        headers: &HeaderMap,
        payload: &[u8],
    ) -> std::result::Result<(), VerificationFailure> {
        let outcome = self.0.verify(headers, payload);
        if let Err(VerificationFailure::UnknownSerial(serial)) = &outcome {
            refresh::spawn_for_unknown(&self.0, serial);
        }
        outcome
    }
}

impl crate::Client {
    /// The client's key ring (its platform keys, configured and downloaded); `None` for a
    /// client with a custom verifier or without APIv3.
    pub fn key_ring(&self) -> Option<&KeyRing> {
        let v3 = self.shared().v3.as_ref()?;
        (!v3.custom_verifier).then_some(&v3.ring)
    }

    /// Downloads the platform certificates now (blocking), as the periodic refresh does; a
    /// refresh in progress is waited for instead of repeated. A `Config` error when the client
    /// was not built with [`auto_certificates`](crate::ClientBuilder::auto_certificates).
    pub fn refresh_certificates(&self) -> Result<()> {
        self.require_automatic()?;
        let shared = self.shared();
        shared.transport.block_on("refresh_certificates", |http| {
            refresh(shared, &http.plain, Trigger::Periodic)
        })
    }

    /// [`refresh_certificates`](Self::refresh_certificates) for async code.
    pub async fn refresh_certificates_async(&self) -> Result<()> {
        self.require_automatic()?;
        crate::transport::require_runtime("refresh_certificates")?;
        let shared = self.shared();
        refresh(
            shared,
            &shared.transport.async_http().plain,
            Trigger::Periodic,
        )
        .await
    }

    fn require_automatic(&self) -> Result<()> {
        match self.shared().v3.as_ref() {
            Some(v3) if v3.ring.is_automatic() => Ok(()),
            _ => Err(Error::config(
                "refresh_certificates needs a client built with .auto_certificates(apiv3_key)",
            )),
        }
    }
}

/// Checks a platform key as the builder and [`KeyRing::add_platform_key`] take it: the id's
/// form, and a certificate's serial against it. Returns the id to file it under (a
/// certificate's own serial) and the key.
pub(crate) fn parse_platform_key(id: &str, pem: &[u8]) -> Result<(String, PublicKey)> {
    let public_key_id = id
        .strip_prefix("PUB_KEY_ID_")
        .map(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    let hex_serial = !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit());
    if !(public_key_id == Some(true) || public_key_id.is_none() && hex_serial) {
        // Not echoed: a value that is no key id may be a secret in the wrong place.
        return Err(Error::config(format!(
            "platform key id ({} characters, not shown) must be a certificate serial (hex) \
             or `PUB_KEY_ID_` followed by digits",
            id.chars().count()
        )));
    }
    let (key, cert_serial) = PublicKey::parse(pem)
        .map_err(|reason| Error::config(format!("platform key `{id}`: {reason}")))?;
    let id = match cert_serial {
        Some(_) if public_key_id.is_some() => {
            return Err(Error::config(format!(
                "platform key `{id}` is a certificate: its id must be its serial, not a \
                 public key id"
            )));
        }
        Some(serial) => {
            // Keyed by the certificate's own serial, as WeChat Pay names it in
            // `Wechatpay-Serial`, whatever case or leading zeros the caller wrote.
            if !crate::client::same_serial(id, &serial) {
                return Err(Error::config(format!(
                    "platform key `{id}`: the certificate's serial is {serial}; the id of a \
                     certificate must be its serial"
                )));
            }
            serial
        }
        None => id.to_owned(),
    };
    Ok((id, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_while_the_task_is_busy_is_not_lost() {
        let ring = KeyRing::new();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            // The client goes while its background task is refreshing, not waiting.
            ring.stop();
            let ended = tokio::time::timeout(Duration::from_secs(5), ring.stopped()).await;
            assert!(ended.is_ok(), "the task would sleep a whole interval");
        });
    }

    #[test]
    fn concurrent_additions_are_all_kept() {
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let pem = openssl::pkey::PKey::from_rsa(rsa)
            .unwrap()
            .public_key_to_pem()
            .unwrap();
        let ring = KeyRing::new();
        std::thread::scope(|scope| {
            for thread in 0..8 {
                let (ring, pem) = (&ring, &pem);
                scope.spawn(move || {
                    for n in 0..100 {
                        let id = format!("PUB_KEY_ID_{thread:02}{n:03}");
                        ring.add_public_key(id, pem).unwrap();
                    }
                });
            }
        });
        assert_eq!(ring.ids().len(), 800, "an update was lost");
    }
}
