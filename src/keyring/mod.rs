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
//! See the [key ring guide](crate::guide::keyring).
//!
//! Readers never wait: a verification takes a snapshot (an `Arc`) under a lock held for a
//! pointer copy, and an update builds the next snapshot on the side before swapping it in.
//!
//! The ring is data and checks only: it does no I/O and needs no runtime. What downloads into
//! it, and when, is the refresh policy above the request pipeline (`src/refresh/`).

mod store;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use http::HeaderMap;

use crate::clock::unix_now;
use crate::crypto::{Certificate, PublicKey};
use crate::error::{Error, Result, VerificationFailure};
use crate::redact::Escaped;
use crate::verifier::{CLOCK_WINDOW_SECS, Verifier, verify_signature};

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
            if not_before > now.saturating_add(CLOCK_WINDOW_SECS))
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

struct Inner {
    snapshot: RwLock<Arc<Snapshot>>,
    /// One update at a time: each copies the current snapshot, changes the copy and publishes
    /// it, so two at once would lose one's change.
    writer: Mutex<()>,
    /// The configured preferred id, if any.
    preferred: Option<String>,
    /// A client keeps it up to date by itself (`auto_certificates`).
    automatic: bool,
    /// The last download found that the merchant has no platform certificates.
    public_key_mode: AtomicBool,
    /// What the last successful download listed ([`KeyRing::last_download`]).
    last_download: Mutex<Vec<Certificate>>,
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
            .field("automatic", &self.inner.automatic)
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// An empty ring that manages nothing by itself.
    pub fn new() -> KeyRing {
        KeyRing::build(None, false)
    }

    /// A client's ring: its preferred id, and whether the client downloads into it.
    pub(crate) fn build(preferred: Option<String>, automatic: bool) -> KeyRing {
        KeyRing {
            inner: Arc::new(Inner {
                snapshot: RwLock::new(Arc::new(Snapshot::default())),
                writer: Mutex::new(()),
                preferred,
                automatic,
                public_key_mode: AtomicBool::new(false),
                last_download: Mutex::new(Vec::new()),
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
    /// # // A self-signed certificate, serial 0ABC, valid until 2126.
    /// # let pem = concat!(
    /// #     "-----BEGIN CERTIFICATE-----\n",
    /// #     "MIIDFTCCAf2gAwIBAgICCrwwDQYJKoZIhvcNAQELBQAwIjEgMB4GA1UEAwwXd2Vj\n",
    /// #     "aGF0cGF5IGRvY3VtZW50YXRpb24wIBcNMjYxMjA3MDMzNDM2WhgPMjEyNjExMTMw\n",
    /// #     "MzM0MzZaMCIxIDAeBgNVBAMMF3dlY2hhdHBheSBkb2N1bWVudGF0aW9uMIIBIjAN\n",
    /// #     "BgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAk8yH21kmuFzj0rwfH/V5PjCighTr\n",
    /// #     "No97HuQi1nOyPl1Amt6Ag/cKOjDGU31dHjFdDO4mbuOGOzFzaUVeuHRDykMBSAgf\n",
    /// #     "eFERQrFg/wweOsX+NJcRzIJZ9fDhVY+AgMu7RJ7zZY25F34rzOr8IJA6SL/pnBdS\n",
    /// #     "wOjvaLYE/CRDX62/SuJpFlkzhOKu4iGwg6GNQWK+0HA6TAXIB6IWStxqmp8/NOZ3\n",
    /// #     "DZ1dnal/RgQUdkg8Cv6K0CdA1gW9JHgviTR0cYvCUERWRp0M0FY+7yB0TK3Wui/c\n",
    /// #     "vvL65YqWnZtwrfSSeodw6MPCEft4SDVxRp/aegD0Pv1/UinBU5/CYKMqgwIDAQAB\n",
    /// #     "o1MwUTAdBgNVHQ4EFgQUCR9NhOxnQjzoFvQoo+gMdlQgd30wHwYDVR0jBBgwFoAU\n",
    /// #     "CR9NhOxnQjzoFvQoo+gMdlQgd30wDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0B\n",
    /// #     "AQsFAAOCAQEAdaMe/zc9OStlrqVY+mKI99dBhEqZlU4eHc4iHu9abQkHZd1wJQ9h\n",
    /// #     "cOVuNRiuWaCwkQQsGBMFTFYVFTdn0wlD4JVQ+q//siqenAdB0zDOFxLdC50OICPD\n",
    /// #     "UTDeJ3IOEBM9OOHlLrNb0YCpTJs2OwBxoDlYyWyVVV3nojtbv+6KxEfVAH5iDrjV\n",
    /// #     "KzBoghKg43/+IKgjg+EBS1EoqFbRFFwpxQZqAzxXD6bFoZIuBUAFaYotRwKA7rpF\n",
    /// #     "1HK8xzN6fvIXBO82JOxkhpIdoMKZoncnO67QJDCH/AY3BU3RIeNE8za5JshalO79\n",
    /// #     "pcA8WFYsjkfaqd+UaJVn+rxt44SXvYX/qA==\n",
    /// #     "-----END CERTIFICATE-----\n",
    /// # );
    /// let cert = pem;
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

    /// Whether this ring downloads certificates by itself (its client was built with
    /// [`auto_certificates`](crate::ClientBuilder::auto_certificates)).
    pub fn is_automatic(&self) -> bool {
        self.inner.automatic
    }

    /// Whether the last download found that this merchant has no platform certificates (public
    /// key mode).
    pub fn public_key_mode(&self) -> bool {
        self.inner.public_key_mode.load(Ordering::Relaxed)
    }

    /// Records what the last download found: no platform certificates (`true`), or some.
    pub(crate) fn set_public_key_mode(&self, on: bool) {
        if on {
            *lock(&self.inner.last_download) = Vec::new();
        }
        self.inner.public_key_mode.store(on, Ordering::Relaxed);
    }

    /// The certificates the last successful download of `/v3/certificates` listed, in the
    /// list's order, each having passed the ring's checks (the list verified as
    /// the [key ring guide](crate::guide::keyring) says under "Trust", each entry decrypted with the APIv3 key and its
    /// serial the one it is listed under). All of them, including those the ring did not add: an
    /// expired one, or one it already held (a configured certificate, an earlier download).
    /// Empty before the first download and after one that found public-key mode; a failed
    /// download leaves it as it was. For tools that keep what was downloaded, as `wxpay crt`
    /// writes each certificate to a file.
    pub fn last_download(&self) -> Vec<Certificate> {
        lock(&self.inner.last_download).clone()
    }

    /// Whether the ring holds a key that can verify now.
    pub(crate) fn has_usable_key(&self) -> bool {
        let now = unix_now();
        self.snapshot().entries.values().any(|e| !e.expired_at(now))
    }

    /// Whether the ring holds a configured key, usable or expired: it pins the trust (a
    /// download must verify with the ring, never with a certificate it brings).
    pub(crate) fn has_configured_key(&self) -> bool {
        self.snapshot().entries.values().any(|e| e.configured)
    }

    /// Whether the ring holds a WeChat Pay public key.
    pub(crate) fn has_public_key(&self) -> bool {
        self.snapshot()
            .entries
            .values()
            .any(|e| e.kind == EntryKind::PublicKey)
    }

    /// Configured keys anchor the trust: with no usable key left and a configured certificate
    /// expired, nothing can (a download is not trusted on its own word). The error names the
    /// one that expired last.
    pub(crate) fn expired_anchor(&self) -> Result<()> {
        if self.has_usable_key() {
            return Ok(());
        }
        let last_configured = self
            .snapshot()
            .entries
            .values()
            .filter(|e| e.configured)
            .filter_map(|e| match e.kind {
                EntryKind::Certificate { not_after, .. } => Some((not_after, e.id.clone())),
                EntryKind::PublicKey => None,
            })
            .max();
        match last_configured {
            Some((not_after, serial)) => Err(Error::from_failure(
                VerificationFailure::ExpiredCertificate { serial, not_after },
            )),
            None => Ok(()),
        }
    }

    /// Adds the downloaded certificates that are new and unexpired, and drops the downloaded
    /// entries that expired (never a configured one); keeps the whole list as the
    /// [`last_download`](Self::last_download). Returns the serials added and dropped.
    pub(crate) fn merge_downloaded(
        &self,
        downloaded: &[Certificate],
    ) -> (Vec<String>, Vec<String>) {
        *lock(&self.inner.last_download) = downloaded.to_vec();
        let now = unix_now();
        let mut added = Vec::new();
        let mut dropped = Vec::new();
        self.update(|snapshot| {
            for cert in downloaded {
                if cert.not_after_unix() < now || snapshot.entries.contains_key(cert.serial()) {
                    continue;
                }
                added.push(cert.serial().to_owned());
                snapshot
                    .entries
                    .insert(cert.serial().to_owned(), certificate_entry(cert, false));
            }
            snapshot.entries.retain(|id, entry| {
                let keep = entry.configured || !entry.expired_at(now);
                if !keep {
                    dropped.push(id.clone());
                }
                keep
            });
        });
        (added, dropped)
    }

    /// How many entries the ring holds.
    pub(crate) fn len(&self) -> usize {
        self.snapshot().entries.len()
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
                        serial = %Escaped(serial),
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
}

impl KeyRing {
    /// Adds the unexpired, readable certificates of `store` that the ring lacks, as downloaded
    /// entries; returns how many. A store that cannot be read adds nothing (the network can
    /// still provide), with a warning.
    pub(crate) fn load_from(&self, store: &dyn KeyStore) -> usize {
        let pems = match store.load() {
            Ok(pems) => pems,
            Err(e) => {
                tracing::warn!(error = %Escaped(&e), "cannot read the certificate store");
                return 0;
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
                Err(e) => tracing::warn!(
                    error = %Escaped(&e),
                    "unreadable file in the certificate store"
                ),
            }
        }
        if loaded > 0 {
            tracing::info!(loaded, "platform certificates loaded from the store");
        }
        loaded
    }
}

/// The lock of a value that stays consistent whatever a panicking holder did.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
            if !same_serial(id, &serial) {
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

/// Two hex serials name the same number (case and leading zeros aside).
pub(crate) fn same_serial(a: &str, b: &str) -> bool {
    a.trim_start_matches('0')
        .eq_ignore_ascii_case(b.trim_start_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// A self-signed certificate with this hex serial, valid from `from` to `to` seconds from
    /// now.
    fn certificate(serial_hex: &str, from: i64, to: i64) -> Certificate {
        use openssl::asn1::{Asn1Integer, Asn1Time};
        use openssl::bn::BigNum;
        use openssl::x509::{X509, X509NameBuilder};
        let key =
            openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "keyring test").unwrap();
        let name = name.build();
        let mut builder = X509::builder().unwrap();
        builder.set_version(2).unwrap();
        let serial = BigNum::from_hex_str(serial_hex).unwrap();
        builder
            .set_serial_number(&Asn1Integer::from_bn(&serial).unwrap())
            .unwrap();
        builder.set_subject_name(&name).unwrap();
        builder.set_issuer_name(&name).unwrap();
        builder.set_pubkey(&key).unwrap();
        let now = unix_now();
        builder
            .set_not_before(&Asn1Time::from_unix(now + from).unwrap())
            .unwrap();
        builder
            .set_not_after(&Asn1Time::from_unix(now + to).unwrap())
            .unwrap();
        builder
            .sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        Certificate::from_openssl(builder.build()).unwrap()
    }

    #[test]
    fn the_last_download_is_kept_whole_and_forgotten_in_public_key_mode() {
        let ring = KeyRing::build(None, true);
        assert!(ring.last_download().is_empty());
        let configured = certificate("0A01", -60, 3600);
        ring.insert_certificate(&configured, true);
        let expired = certificate("0A02", -7200, -3600);
        let new = certificate("0A03", -60, 7200);
        let listed = [configured.clone(), expired, new];
        let (added, dropped) = ring.merge_downloaded(&listed);
        // The ring adds only the new, unexpired one...
        assert_eq!(added, ["0A03"]);
        assert!(dropped.is_empty());
        assert_eq!(ring.ids(), ["0A01", "0A03"]);
        // ... and keeps the whole list, in its order.
        let serials = |certs: Vec<Certificate>| -> Vec<String> {
            certs.iter().map(|c| c.serial().to_owned()).collect()
        };
        assert_eq!(serials(ring.last_download()), ["0A01", "0A02", "0A03"]);
        // A later download replaces it; public-key mode empties it.
        ring.merge_downloaded(&listed[2..]);
        assert_eq!(serials(ring.last_download()), ["0A03"]);
        ring.set_public_key_mode(true);
        assert!(ring.last_download().is_empty());
        assert_eq!(ring.ids(), ["0A01", "0A03"]);
    }
}
