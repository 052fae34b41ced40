//! Downloading `/v3/certificates` into the ring: when, how it is trusted, what is kept.

use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;

use super::{EntryKind, KeyRing, MIN_TRIGGERED_INTERVAL};
use crate::client::{Shared, V3, same_serial};
use crate::crypto::Certificate;
use crate::error::{Error, Result, VerificationFailure};
use crate::options::Options;
use crate::template::UriTemplate;
use crate::verifier::{PlatformVerifier, Verifier, unix_now};

/// Why a refresh runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// The ring has no usable key: the request waits for the download.
    Initial,
    /// The last refresh is older than the interval (blocking clients, lazily).
    Stale,
    /// Asked for (`refresh_certificates`).
    Periodic,
    /// The background task's tick: skipped while the last refresh is fresh.
    Background,
    /// An answer named this serial, which the ring does not have.
    UnknownSerial(String),
    /// A callback named this serial, which the ring does not have. Rate-limited apart from
    /// answers: anyone can post a callback (its signature is checked only once the key is
    /// known), and forged ones must not use up the refreshes that genuine answers need.
    CallbackSerial(String),
}

impl Trigger {
    /// The serial an answer or a callback named, for the refreshes they trigger.
    fn serial(&self) -> Option<&str> {
        match self {
            Trigger::UnknownSerial(serial) | Trigger::CallbackSerial(serial) => Some(serial),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct Download {
    data: Vec<DownloadEntry>,
}

#[derive(Deserialize)]
struct DownloadEntry {
    serial_no: String,
    encrypt_certificate: Sealed,
}

#[derive(Deserialize)]
struct Sealed {
    algorithm: String,
    nonce: String,
    #[serde(default)]
    associated_data: String,
    ciphertext: String,
}

/// Refreshes the ring of `shared` for `trigger`; `Ok` without doing anything when the ring is
/// not automatic, the trigger is rate-limited, or another refresh just did the work. A refresh
/// in progress is waited for and its outcome shared (at most one refresh), never duplicated.
pub(crate) async fn refresh(
    shared: &Shared,
    http: &reqwest::Client,
    trigger: Trigger,
) -> Result<()> {
    let v3 = shared.v3()?;
    let ring = &v3.ring;
    let Some(auto) = ring.auto() else {
        return Ok(());
    };
    // The attempts finished before we queue: if one finishes while we wait, its outcome is
    // ours.
    let generation = ring.state().generation;
    let limited = {
        let mut state = ring.state();
        let last = match &trigger {
            Trigger::UnknownSerial(_) => Some(&mut state.last_triggered),
            Trigger::CallbackSerial(_) => Some(&mut state.last_callback_triggered),
            _ => None,
        };
        last.is_some_and(|last| {
            let limited = last.is_some_and(|t| t.elapsed() < MIN_TRIGGERED_INTERVAL);
            if !limited {
                *last = Some(Instant::now());
            }
            limited
        })
    };
    if limited && matches!(trigger, Trigger::CallbackSerial(_)) {
        // Callbacks are anyone's to post: a limited one neither queues for the refresh lock
        // nor reads the store, so a flood of them cannot delay an answer's refresh.
        tracing::info!(
            ?trigger,
            "unknown serial: refresh rate-limited (at most one a minute)"
        );
        return Ok(());
    }
    let guard = match trigger {
        // Someone is refreshing: carry on with the current keys.
        Trigger::Stale => match ring.refresh_lock().try_lock() {
            Ok(guard) => guard,
            Err(_) => return Ok(()),
        },
        _ => ring.refresh_lock().lock().await,
    };
    if let Some(serial) = trigger.serial() {
        if ring.contains(serial) {
            // The refresh that was in progress brought it.
            return Ok(());
        }
    }
    // Another process sharing the store may have downloaded it already.
    if ring.store().is_some() {
        if let Err(e) = ring.load_store() {
            tracing::warn!(error = %e, "cannot read the certificate store");
        }
        if let Some(serial) = trigger.serial() {
            if ring.contains(serial) {
                return Ok(());
            }
        }
    }
    {
        let state = ring.state();
        if state.generation != generation {
            // An attempt finished while we waited: share its outcome.
            return state.outcome();
        }
        let fresh = state
            .last_success
            .is_some_and(|t| t.elapsed() < auto.interval);
        let failed_recently = state.failure.is_some()
            && state
                .last_attempt
                .is_some_and(|t| t.elapsed() < MIN_TRIGGERED_INTERVAL);
        match &trigger {
            // (A limited callback has returned already, before queueing.)
            Trigger::UnknownSerial(serial) if limited => {
                tracing::info!(
                    serial = serial.as_str(),
                    "unknown serial: refresh rate-limited (at most one a minute)"
                );
                return Ok(());
            }
            Trigger::Initial if has_usable_key(ring) => return Ok(()),
            // After a failure, the next automatic attempt waits a minute.
            Trigger::Initial | Trigger::Stale if failed_recently => return state.outcome(),
            Trigger::Stale | Trigger::Background if fresh => return Ok(()),
            _ => {}
        }
    }
    tracing::debug!(?trigger, "refreshing platform certificates");
    let outcome = download(shared, v3, http).await;
    {
        let mut state = ring.state();
        state.last_attempt = Some(Instant::now());
        state.generation += 1;
        state.failure = outcome.as_ref().err().map(|e| (e.kind(), e.to_string()));
    }
    drop(guard);
    if let Err(e) = &outcome {
        tracing::warn!(error = %e, ?trigger, "platform certificate refresh failed");
    }
    outcome
}

/// Whether a request with these options needs the ring's first download before it can be
/// prepared: it encrypts fields or names the preferred key, and the ring has no usable key yet.
pub(crate) fn needs_keys_first(shared: &Shared, options: &crate::options::Options) -> bool {
    let Ok(v3) = shared.v3() else {
        return false;
    };
    v3.ring.is_automatic()
        && (!options.encrypt.is_empty() || v3.send_wechatpay_serial)
        && !has_usable_key(&v3.ring)
}

/// Whether the ring holds a key that can verify now.
pub(crate) fn has_usable_key(ring: &KeyRing) -> bool {
    let now = unix_now();
    ring.snapshot().entries.values().any(|e| !e.expired_at(now))
}

/// Whether the ring holds a configured key, usable or expired: it pins the trust (a download
/// must verify with the ring, never with a certificate it brings).
fn has_configured_key(ring: &KeyRing) -> bool {
    ring.snapshot().entries.values().any(|e| e.configured)
}

/// Configured keys anchor the trust: with no usable key left and a configured certificate
/// expired, nothing can (the download is not trusted on its own word). Named: the one that
/// expired last.
fn expired_anchor(ring: &KeyRing) -> Result<()> {
    if has_usable_key(ring) {
        return Ok(());
    }
    let last_configured = ring
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

async fn download(shared: &Shared, v3: &V3, http: &reqwest::Client) -> Result<()> {
    let ring = &v3.ring;
    let Some(auto) = ring.auto() else {
        return Ok(());
    };
    expired_anchor(ring)?;
    let template = UriTemplate::parse("v3/certificates").map_err(Error::from_template)?;
    let prepared = crate::pipeline::prepare(shared, &template, http::Method::GET, Options::new())?;
    // With the client's failover: a ring with no usable key can still fill itself from the
    // backup host while the primary is down.
    let response = crate::pipeline::route(shared, prepared, |mut prepared| async move {
        crate::pipeline::authorize(shared, v3, &mut prepared).await?;
        crate::transport::send(http, prepared, shared.transport.max_response_size()).await
    })
    .await?;

    if !response.status().is_success() {
        let error = crate::pipeline::api_error_of(response);
        let (code, status) = error
            .api()
            .map(|a| (a.code().unwrap_or_default().to_owned(), a.status().as_u16()))
            .unwrap_or_default();
        let has_public_key = ring
            .snapshot()
            .entries
            .values()
            .any(|e| e.kind == EntryKind::PublicKey);
        if has_public_key && (code == "RESOURCE_NOT_EXISTS" || status == 403 || status == 404) {
            let mut state = ring.state();
            if state.public_key_mode {
                tracing::info!(
                    code = code.as_str(),
                    status,
                    "still in WeChat Pay public key mode"
                );
            } else {
                tracing::info!(
                    code = code.as_str(),
                    status,
                    "this merchant has no platform certificates: continuing in WeChat Pay public key mode"
                );
            }
            state.public_key_mode = true;
            state.last_success = Some(Instant::now());
            return Ok(());
        }
        return Err(error);
    }

    // With keys to trust, the signature is checked before anything in the body is read.
    let anchored = has_usable_key(ring);
    let mut new_signer = None;
    if anchored {
        match ring.verify(response.headers(), response.bytes()) {
            Ok(()) => {}
            // Signed with a certificate the ring does not have: WeChat Pay switched to it while
            // this client was not looking (a restart from an old store, a blocking client idle
            // through the overlap). Without a configured key pinning the trust, the signer is
            // taken from the download itself below, once every entry has decrypted under the
            // APIv3 key, which only WeChat Pay and the merchant hold.
            Err(VerificationFailure::UnknownSerial(serial)) if !has_configured_key(ring) => {
                new_signer = Some(serial);
            }
            Err(failure) => return Err(Error::from_verification(failure, response)),
        }
    }
    // Decrypt every entry before trusting any.
    let listing: Download = response.json()?;
    let mut downloaded = Vec::with_capacity(listing.data.len());
    for entry in &listing.data {
        let sealed = &entry.encrypt_certificate;
        if sealed.algorithm != "AEAD_AES_256_GCM" {
            return Err(Error::decode(
                format!(
                    "/v3/certificates: certificate {} is sealed with `{}`, not AEAD_AES_256_GCM",
                    entry.serial_no, sealed.algorithm
                ),
                Some("data[].encrypt_certificate.algorithm".to_owned()),
                "unsupported algorithm".to_owned(),
            ));
        }
        let pem = auto.apiv3_key.decrypt_base64(
            &sealed.nonce,
            &sealed.associated_data,
            &sealed.ciphertext,
        )?;
        let cert = Certificate::load(&pem)?;
        if !same_serial(cert.serial(), &entry.serial_no) {
            return Err(Error::from_verification(
                VerificationFailure::BadSignature {
                    serial: entry.serial_no.clone(),
                },
                response,
            ));
        }
        downloaded.push((cert, pem));
    }

    // With no key at all (a first download, as wechatpay-php's and the Node SDK's tools do),
    // or signed by a certificate new to the ring: the download itself.
    if !anchored || new_signer.is_some() {
        // Only a certificate valid now may sign, as in the ring.
        let now = unix_now();
        let mut own = PlatformVerifier::new();
        for (cert, _) in &downloaded {
            if cert.not_before_unix() <= now && now <= cert.not_after_unix() {
                own.insert(cert.serial().to_owned(), cert.public_key().clone());
            }
        }
        if let Err(failure) = own.verify(response.headers(), response.bytes()) {
            return Err(Error::from_verification(failure, response));
        }
        match &new_signer {
            Some(serial) => tracing::warn!(
                serial = serial.as_str(),
                "platform certificates signed by a certificate the ring did not have: verified \
                 with that certificate, which the download carries sealed under the APIv3 key"
            ),
            None => tracing::warn!(
                "first download of platform certificates, with no platform key configured: it \
                 was verified only with the certificate it contains (integrity, not origin); \
                 configure a platform key to anchor the trust"
            ),
        }
    }

    merge(ring, &downloaded);
    let mut state = ring.state();
    state.public_key_mode = false;
    state.last_success = Some(Instant::now());
    Ok(())
}

/// Adds what is new, keeps every unexpired certificate, drops expired downloaded ones. Never
/// drops a configured entry.
fn merge(ring: &KeyRing, downloaded: &[(Certificate, Vec<u8>)]) {
    let now = unix_now();
    let mut added = Vec::new();
    let mut dropped = Vec::new();
    ring.update(|snapshot| {
        for (cert, _) in downloaded {
            if cert.not_after_unix() < now {
                continue;
            }
            if !snapshot.entries.contains_key(cert.serial()) {
                added.push(cert.serial().to_owned());
                snapshot.entries.insert(
                    cert.serial().to_owned(),
                    super::certificate_entry(cert, false),
                );
            }
        }
        snapshot.entries.retain(|id, entry| {
            let keep = entry.configured || !entry.expired_at(now);
            if !keep {
                dropped.push(id.clone());
            }
            keep
        });
    });
    for serial in &added {
        let not_after = downloaded
            .iter()
            .find(|(c, _)| c.serial() == serial)
            .map_or(0, |(c, _)| c.not_after_unix());
        tracing::info!(
            serial = serial.as_str(),
            not_after,
            "platform certificate added"
        );
    }
    for serial in &dropped {
        tracing::info!(
            serial = serial.as_str(),
            "platform certificate expired: dropped"
        );
    }
    tracing::info!(
        added = added.len(),
        dropped = dropped.len(),
        total = ring.snapshot().entries.len(),
        "platform certificates refreshed"
    );
    if let Some(store) = ring.store() {
        for (cert, pem) in downloaded {
            if added.iter().any(|s| s == cert.serial()) {
                if let Err(e) = store.save(cert.serial(), pem) {
                    tracing::warn!(serial = cert.serial(), error = %e, "cannot store the certificate");
                }
            }
        }
        for serial in &dropped {
            if let Err(e) = store.remove(serial) {
                tracing::warn!(serial = serial.as_str(), error = %e, "cannot remove the certificate");
            }
        }
    }
}

/// Before a request of an automatic ring: the first download (waited for) when the ring has no
/// usable key; for clients without the background task (blocking), a refresh when the last
/// one is older than the interval.
pub(crate) async fn before_request(shared: &Shared, http: &reqwest::Client) -> Result<()> {
    let Ok(v3) = shared.v3() else {
        return Ok(());
    };
    let ring = &v3.ring;
    let Some(auto) = ring.auto() else {
        return Ok(());
    };
    if !has_usable_key(ring) {
        expired_anchor(ring)?;
        return refresh(shared, http, Trigger::Initial).await;
    }
    let pending = ring.state().pending.take();
    if let Some(serial) = pending {
        // A callback named it, with no runtime to refresh on at the time.
        let _ = refresh(shared, http, Trigger::CallbackSerial(serial)).await;
    }
    let stale = {
        let state = ring.state();
        !state.background
            && state
                .last_success
                .is_none_or(|t| t.elapsed() >= auto.interval)
    };
    if stale {
        // Lazily, and never an error for this request: it still has keys to verify with.
        let _ = refresh(shared, http, Trigger::Stale).await;
    }
    Ok(())
}

/// Starts the periodic refresh on the caller's Tokio runtime, once per client: a first
/// refresh at once, then one every interval, for as long as the client lives.
pub(crate) fn ensure_background(shared: &Arc<Shared>) {
    let Ok(v3) = shared.v3() else {
        return;
    };
    let ring = &v3.ring;
    let Some(auto) = ring.auto() else {
        return;
    };
    {
        let mut state = ring.state();
        if state.background {
            return;
        }
        state.background = true;
    }
    let interval = auto.interval;
    let weak = Arc::downgrade(shared);
    let ring = ring.clone();
    tokio::spawn(async move {
        // However the task ends (the client dropped, the runtime shut down), blocking use
        // takes over the refreshes.
        struct Running(KeyRing);
        impl Drop for Running {
            fn drop(&mut self) {
                self.0.state().background = false;
            }
        }
        let running = Running(ring);
        loop {
            {
                let Some(shared) = weak.upgrade() else {
                    return;
                };
                let http = shared.transport.async_http().plain.clone();
                let _ = refresh(&shared, &http, Trigger::Background).await;
            }
            // Woken early when the client is dropped.
            if tokio::time::timeout(interval, running.0.stopped())
                .await
                .is_ok()
            {
                return;
            }
        }
    });
}

/// A refresh for a callback's unknown serial, in the background (rate-limited), when the ring
/// belongs to a client and a Tokio runtime is at hand.
pub(crate) fn spawn_for_unknown(ring: &KeyRing, serial: &str) {
    if ring.auto().is_none() {
        return;
    }
    let (Some(shared), Ok(handle)) = (ring.client(), tokio::runtime::Handle::try_current()) else {
        tracing::info!(
            serial,
            "unknown serial in a callback: no runtime to refresh on; the next request will"
        );
        ring.state().pending = Some(serial.to_owned());
        return;
    };
    let serial = serial.to_owned();
    handle.spawn(async move {
        let http = shared.transport.async_http().plain.clone();
        let _ = refresh(&shared, &http, Trigger::CallbackSerial(serial)).await;
    });
}
