//! The state the sandbox's server and its handle share.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use openssl::pkey::{PKey, Private, Public};
use openssl::x509::X509;

use crate::counters::LiveCounters;
use crate::deliveries::Callbacks;
use crate::error::{Error, Result};
use crate::faults::{Fault, SignMode};
use crate::identity::KeyMaterial;
use crate::log::LoggedRequest;
use crate::script::Script;
use crate::store::Store;
use crate::util::{asn1_to_unix, now_unix};

/// How many requests the log keeps: the most recent ones.
pub(crate) const MAX_LOGGED_REQUESTS: usize = 1000;

/// The global settings tests change while the sandbox runs.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Settings {
    pub(crate) fault: Option<Fault>,
    pub(crate) sign_mode: SignMode,
    /// `/v3/certificates` answers as for a merchant that only has a WeChat Pay public key.
    pub(crate) public_key_only: bool,
    /// `/v3/certificates` (in certificate mode) is signed with the newest certificate.
    pub(crate) list_signed_by_newest: bool,
}

/// A bounded log: the last `capacity` requests, oldest first, each with its number in the
/// sandbox's [sequence](State::next_sequence) and its arrival time.
pub(crate) struct RequestLog {
    capacity: usize,
    entries: VecDeque<(u64, SystemTime, LoggedRequest)>,
}

impl RequestLog {
    pub(crate) fn new(capacity: usize) -> RequestLog {
        RequestLog {
            capacity,
            entries: VecDeque::new(),
        }
    }

    /// Appends `request` (numbered `seq`), dropping the oldest ones beyond the capacity.
    pub(crate) fn push(&mut self, seq: u64, request: LoggedRequest) {
        if self.capacity == 0 {
            return;
        }
        while self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back((seq, SystemTime::now(), request));
    }

    pub(crate) fn to_vec(&self) -> Vec<LoggedRequest> {
        self.entries.iter().map(|(_, _, r)| r.clone()).collect()
    }

    /// The requests numbered above `seq`, with their numbers and arrival times.
    pub(crate) fn since(&self, seq: u64) -> Vec<(u64, SystemTime, LoggedRequest)> {
        self.entries
            .iter()
            .filter(|(n, _, _)| *n > seq)
            .cloned()
            .collect()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

/// One platform certificate with its key.
#[derive(Clone)]
pub(crate) struct PlatformCertificate {
    pub(crate) serial: String,
    pub(crate) cert: X509,
    pub(crate) key: PKey<Private>,
    /// The certificate as PEM.
    pub(crate) pem: String,
    /// Unix seconds; the certificate is expired once the clock is past it.
    pub(crate) not_after: i64,
}

impl PlatformCertificate {
    pub(crate) fn new(serial: String, cert: X509, key: PKey<Private>) -> Result<Self> {
        let not_after = asn1_to_unix(cert.not_after()).ok_or_else(|| {
            Error::Runtime("the platform certificate's notAfter is unreadable".into())
        })?;
        let pem = String::from_utf8_lossy(&cert.to_pem()?).into_owned();
        Ok(PlatformCertificate {
            serial,
            cert,
            key,
            pem,
            not_after,
        })
    }

    fn valid_at(&self, now: i64) -> bool {
        now <= self.not_after
    }
}

/// Which of the unexpired platform certificates signs an answer in certificate mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Signer {
    /// The newest: every answer and callback.
    #[default]
    Newest,
    /// The oldest: the `/v3/certificates` list, so that a client that only knows the previous
    /// certificate can verify the list that introduces the next one.
    Oldest,
    /// The certificate a test named for the `/v3/certificates` list
    /// ([`State::list_signer`]), whatever its validity.
    Named,
}

/// The key that signs an answer: its `Wechatpay-Serial` and private key.
pub(crate) struct SigningKey {
    pub(crate) serial: String,
    pub(crate) key: PKey<Private>,
}

/// Shared by the server tasks and the [`Sandbox`](crate::Sandbox) handle.
pub(crate) struct State {
    pub(crate) keys: Arc<KeyMaterial>,
    /// The merchant certificate's public key: what requests are verified with.
    pub(crate) merchant_public: PKey<Public>,
    /// `http://127.0.0.1:PORT/`
    pub(crate) base_uri: String,
    settings: Mutex<Settings>,
    /// Faults by request path (no query), overriding [`Settings::fault`].
    route_faults: Mutex<HashMap<String, Fault>>,
    /// Every platform certificate, in the order issued (the identity's first).
    platform: Mutex<Vec<PlatformCertificate>>,
    /// The serial of the certificate that signs the `/v3/certificates` list and is listed
    /// whatever its validity (`Sandbox::sign_certificate_list_with`).
    list_signer: Mutex<Option<String>>,
    log: Mutex<RequestLog>,
    store: Mutex<Store>,
    /// What answers the requests that passed the checks before the routes do.
    script: Mutex<Option<Script>>,
    /// Connections and requests since the start (the log forgets, these do not).
    pub(crate) counters: LiveCounters,
    /// How long a connection may wait for a request's headers (`None`: no limit).
    pub(crate) header_read_timeout: Option<std::time::Duration>,
    /// Callbacks: auto-pay, deliveries with retries, their log.
    pub(crate) callbacks: Callbacks,
    /// Numbers the entries of the request and delivery logs, from 1 (the control API's
    /// cursor).
    sequence: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    pub(crate) fn new(keys: Arc<KeyMaterial>, base_uri: String) -> Result<State> {
        let merchant_public = keys.merchant_cert.public_key()?;
        let first = PlatformCertificate::new(
            keys.platform_serial.clone(),
            keys.platform_cert.clone(),
            keys.platform_key.clone(),
        )?;
        Ok(State {
            keys,
            merchant_public,
            base_uri,
            settings: Mutex::new(Settings::default()),
            route_faults: Mutex::new(HashMap::new()),
            platform: Mutex::new(vec![first]),
            list_signer: Mutex::new(None),
            log: Mutex::new(RequestLog::new(MAX_LOGGED_REQUESTS)),
            store: Mutex::new(Store::default()),
            script: Mutex::new(None),
            counters: LiveCounters::default(),
            header_read_timeout: Some(crate::DEFAULT_HEADER_READ_TIMEOUT),
            callbacks: Callbacks::default(),
            sequence: AtomicU64::new(0),
        })
    }

    pub(crate) fn settings(&self) -> Settings {
        *lock(&self.settings)
    }

    pub(crate) fn set_fault(&self, fault: Option<Fault>) {
        lock(&self.settings).fault = fault;
    }

    pub(crate) fn set_route_fault(&self, path: String, fault: Option<Fault>) {
        let mut faults = lock(&self.route_faults);
        match fault {
            Some(fault) => faults.insert(path, fault),
            None => faults.remove(&path),
        };
    }

    /// The fault for a request to `path` without a `Sandbox-Fault` header: the route's, else
    /// the global one.
    pub(crate) fn fault_for(&self, path: &str, global: Option<Fault>) -> Option<Fault> {
        lock(&self.route_faults).get(path).copied().or(global)
    }

    pub(crate) fn set_sign_mode(&self, mode: SignMode) {
        lock(&self.settings).sign_mode = mode;
    }

    pub(crate) fn set_public_key_only(&self, on: bool) {
        lock(&self.settings).public_key_only = on;
    }

    pub(crate) fn set_list_signed_by_newest(&self, on: bool) {
        lock(&self.settings).list_signed_by_newest = on;
    }

    pub(crate) fn add_platform_certificate(&self, certificate: PlatformCertificate) {
        lock(&self.platform).push(certificate);
    }

    /// Every platform certificate, oldest first, expired ones included.
    pub(crate) fn platform_certificates(&self) -> Vec<PlatformCertificate> {
        lock(&self.platform).clone()
    }

    /// Names the certificate that signs the `/v3/certificates` list (`None`: the default
    /// signer); an error for a serial the sandbox never issued.
    pub(crate) fn set_list_signer(&self, serial: Option<&str>) -> Result<()> {
        if let Some(serial) = serial {
            if !lock(&self.platform).iter().any(|c| c.serial == serial) {
                return Err(Error::InvalidArgument(format!(
                    "no platform certificate has the serial `{}`",
                    serial.escape_default()
                )));
            }
        }
        *lock(&self.list_signer) = serial.map(str::to_owned);
        Ok(())
    }

    /// The serial [`set_list_signer`](Self::set_list_signer) named, if any.
    pub(crate) fn list_signer(&self) -> Option<String> {
        lock(&self.list_signer).clone()
    }

    /// What `/v3/certificates` lists: the unexpired platform certificates and the one named
    /// by [`set_list_signer`](Self::set_list_signer) whatever its validity, oldest first.
    pub(crate) fn listed_platform_certificates(&self) -> Vec<PlatformCertificate> {
        let now = now_unix();
        let named = self.list_signer();
        lock(&self.platform)
            .iter()
            .filter(|c| c.valid_at(now) || named.as_deref() == Some(c.serial.as_str()))
            .cloned()
            .collect()
    }

    /// The key that signs in `mode`: the WeChat Pay public key's, or the newest (or oldest)
    /// unexpired platform certificate's ([`SignMode::Both`] not resolved for a request signs
    /// with the certificate).
    pub(crate) fn signing_key(&self, mode: SignMode, signer: Signer) -> Result<SigningKey> {
        match mode {
            SignMode::PublicKey => Ok(SigningKey {
                serial: self.keys.public_key_id.clone(),
                key: self.keys.public_key_private.clone(),
            }),
            SignMode::Certificate | SignMode::Both => {
                let now = now_unix();
                let named = match signer {
                    Signer::Named => self.list_signer(),
                    Signer::Newest | Signer::Oldest => None,
                };
                let certificates = lock(&self.platform);
                let mut valid = certificates.iter().filter(|c| c.valid_at(now));
                let chosen = match (signer, named) {
                    // Named by the test: whatever its validity.
                    (_, Some(serial)) => certificates.iter().find(|c| c.serial == serial),
                    (Signer::Newest, None) => valid.next_back(),
                    (Signer::Oldest | Signer::Named, None) => valid.next(),
                };
                chosen
                    .map(|c| SigningKey {
                        serial: c.serial.clone(),
                        key: c.key.clone(),
                    })
                    .ok_or_else(|| Error::Runtime("every platform certificate has expired".into()))
            }
        }
    }

    /// The private key of the platform key `serial` names (a platform certificate's serial,
    /// whatever its case, or the public key's id): what decrypts the fields a client
    /// encrypted for it.
    pub(crate) fn decryption_key(&self, serial: &str) -> Option<PKey<Private>> {
        if serial == self.keys.public_key_id {
            return Some(self.keys.public_key_private.clone());
        }
        lock(&self.platform)
            .iter()
            .find(|c| c.serial.eq_ignore_ascii_case(serial))
            .map(|c| c.key.clone())
    }

    pub(crate) fn record(&self, request: LoggedRequest) {
        self.counters.request(request.verdict.is_err());
        let seq = self.next_sequence();
        lock(&self.log).push(seq, request);
    }

    pub(crate) fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.log).to_vec()
    }

    /// The logged requests numbered above `seq`.
    pub(crate) fn requests_since(&self, seq: u64) -> Vec<(u64, SystemTime, LoggedRequest)> {
        lock(&self.log).since(seq)
    }

    /// The next number of the log entries' sequence (from 1).
    pub(crate) fn next_sequence(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The number of the last log entry so far (0 before the first).
    pub(crate) fn last_sequence(&self) -> u64 {
        self.sequence.load(Ordering::SeqCst)
    }

    /// Every route fault, by path.
    pub(crate) fn route_faults(&self) -> Vec<(String, Fault)> {
        let mut faults: Vec<(String, Fault)> = lock(&self.route_faults)
            .iter()
            .map(|(path, fault)| (path.clone(), *fault))
            .collect();
        faults.sort_by(|a, b| a.0.cmp(&b.0));
        faults
    }

    pub(crate) fn clear_route_faults(&self) {
        lock(&self.route_faults).clear();
    }

    pub(crate) fn clear_requests(&self) {
        lock(&self.log).clear();
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    pub(crate) fn set_script(&self, script: Option<Script>) {
        *lock(&self.script) = script;
    }

    /// The script, if any (a clone: the lock is not held while it runs).
    pub(crate) fn script(&self) -> Option<Script> {
        lock(&self.script).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(n: usize) -> LoggedRequest {
        LoggedRequest {
            method: "GET".into(),
            target: format!("/{n}"),
            headers: http::HeaderMap::new(),
            body: Vec::new(),
            verdict: Ok(()),
            tls: false,
        }
    }

    #[test]
    fn the_log_keeps_the_most_recent_requests() {
        let mut log = RequestLog::new(3);
        for n in 0..2 {
            log.push(n as u64 + 1, request(n));
        }
        let targets = |log: &RequestLog| -> Vec<String> {
            log.to_vec().into_iter().map(|r| r.target).collect()
        };
        assert_eq!(targets(&log), ["/0", "/1"]);
        for n in 2..7 {
            log.push(n as u64 + 1, request(n));
        }
        let since: Vec<u64> = log.since(5).into_iter().map(|(n, _, _)| n).collect();
        assert_eq!(since, [6, 7]);
        assert_eq!(targets(&log), ["/4", "/5", "/6"]);
        log.clear();
        assert!(log.to_vec().is_empty());
        log.push(8, request(7));
        assert_eq!(targets(&log), ["/7"]);
        assert_eq!(MAX_LOGGED_REQUESTS, 1000);
    }
}
