//! [`ClientBuilder`]: the settings of a [`Client`], checked together by
//! [`build`](ClientBuilder::build), which assembles the [`Context`] the client runs on.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use super::{Client, DEFAULT_BASE_URI};
use crate::base_uri::BaseUri;
use crate::context::{Context, KeyHooks, V3};
use crate::crypto::{Apiv3Key, Certificate, PrivateKey, PublicKey};
use crate::error::{Error, Result, shown};
use crate::failover::Failover;
use crate::keyring::{DEFAULT_REFRESH_INTERVAL, KeyRing, KeyStore, same_serial};
use crate::redact::DebugUrl;
use crate::refresh::Refresher;
use crate::replay::{InMemory, ReplayMemory};
use crate::retry::RetryPolicy;
use crate::signer::Signer;
use crate::template_cache::TemplateCache;
use crate::transport::{HttpSettings, Transport};
use crate::v2::Secret;
use crate::verifier::{PlatformVerifier, Verifier};

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }
}

/// Configures a [`Client`]. Every setter stores its input; the first problem found is
/// reported by [`build`](ClientBuilder::build), which names it.
///
/// Required: [`mchid`](Self::mchid), [`serial`](Self::serial), a key
/// ([`private_key`](Self::private_key), [`private_key_file`](Self::private_key_file) or a custom
/// [`signer`](Self::signer)) and at least one platform key
/// ([`platform_key`](Self::platform_key)) unless a custom [`verifier`](Self::verifier) is set.
#[derive(Default)]
#[must_use]
pub struct ClientBuilder {
    mchid: Option<String>,
    v3: V3Settings,
    apiv3_key: Option<Apiv3Key>,
    base_uri: Option<String>,
    allow_insecure_http: bool,
    strict_paths: bool,
    trace_paths: bool,
    http: HttpSettings,
    secret: Option<Secret>,
    /// `None`: the default (WeChat Pay's backup for the production host); `Some(None)`: off.
    backup_base_uri: Option<Option<String>>,
    failover_cooldown: Option<Duration>,
    retry: Option<RetryPolicy>,
    merchant_cert: Option<Vec<u8>>,
    merchant_key: Option<PrivateKey>,
    error: Option<Error>,
}

/// The builder's APIv3 settings, checked together by [`V3Settings::build`].
#[derive(Default)]
struct V3Settings {
    serial: Option<String>,
    signer: Option<Arc<dyn Signer>>,
    private_key: Option<PrivateKey>,
    platform: PlatformVerifier,
    platform_ids: Vec<String>,
    /// The configured platform keys that are certificates (for their validity).
    certificates: Vec<Certificate>,
    /// `auto_certificates`: the APIv3 key that decrypts downloads.
    auto: Option<Apiv3Key>,
    refresh_interval: Option<Duration>,
    store: Option<Arc<dyn KeyStore>>,
    verifier: Option<Arc<dyn Verifier>>,
    replay: Option<Arc<dyn ReplayMemory>>,
    preferred: Option<String>,
    send_wechatpay_serial: bool,
}

impl ClientBuilder {
    fn fail(&mut self, error: Error) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    /// The merchant id (`mchid`).
    pub fn mchid(mut self, mchid: impl Into<String>) -> Self {
        self.mchid = Some(mchid.into());
        self
    }

    /// The serial number of the merchant API certificate (`serial_no` in `Authorization`).
    pub fn serial(mut self, serial: impl Into<String>) -> Self {
        self.v3.serial = Some(serial.into());
        self
    }

    /// The merchant API private key (`apiclient_key.pem`) in any form [`PrivateKey::load`]
    /// takes: PKCS#1 or PKCS#8 PEM or DER, `private.pkcs1://` / `private.pkcs8://` base64, or
    /// `file://<path>`. A passphrase-protected key goes to
    /// [`private_key_with_passphrase`](Self::private_key_with_passphrase).
    pub fn private_key(mut self, key: impl AsRef<[u8]>) -> Self {
        match PrivateKey::load(key) {
            Ok(key) => self.set_private_key(key),
            Err(e) => self.fail(e),
        }
        self
    }

    /// Reads the merchant API private key from a file holding any form
    /// [`private_key`](Self::private_key) takes (PEM or DER, typically).
    pub fn private_key_file(mut self, path: impl AsRef<Path>) -> Self {
        match PrivateKey::from_file(path) {
            Ok(key) => self.set_private_key(key),
            Err(e) => self.fail(e),
        }
        self
    }

    /// The merchant API private key from a passphrase-protected (encrypted PKCS#8 or legacy
    /// encrypted PKCS#1) PEM, or any form [`private_key`](Self::private_key) takes.
    pub fn private_key_with_passphrase(
        mut self,
        key: impl AsRef<[u8]>,
        passphrase: impl AsRef<[u8]>,
    ) -> Self {
        match PrivateKey::load_with_passphrase(key, passphrase) {
            Ok(key) => self.set_private_key(key),
            Err(e) => self.fail(e),
        }
        self
    }

    /// The APIv3 key (32 bytes, set in the merchant platform), which decrypts callbacks: see
    /// [`Client::notifications`].
    pub fn apiv3_key(mut self, key: impl AsRef<[u8]>) -> Self {
        match Apiv3Key::new(key) {
            Ok(key) => self.apiv3_key = Some(key),
            Err(e) => self.fail(e),
        }
        self
    }

    fn set_private_key(&mut self, key: PrivateKey) {
        self.v3.signer = Some(Arc::new(key.clone()));
        self.v3.private_key = Some(key);
    }

    /// Signs with a custom [`Signer`] (a KMS, an HSM) instead of a private key.
    pub fn signer(mut self, signer: impl Signer) -> Self {
        self.v3.signer = Some(Arc::new(signer));
        self.v3.private_key = None;
        self
    }

    /// Adds a key to verify responses with: a platform certificate (`id` = its serial in hex) or
    /// a WeChat Pay public key (`id` = its `PUB_KEY_ID_...`), in any form [`PublicKey::load`]
    /// takes: X.509 certificate, SPKI `PUBLIC KEY` or PKCS#1 `RSA PUBLIC KEY`, as PEM or DER,
    /// `public.spki://` / `public.pkcs1://` base64, or `file://<path>`. Any number of either
    /// kind, both at once during the migration to public keys. Responses are matched by their
    /// exact `Wechatpay-Serial`.
    pub fn platform_key(mut self, id: impl Into<String>, pem: impl AsRef<[u8]>) -> Self {
        let id = id.into();
        match self.parse_platform_key(&id, pem.as_ref()) {
            Ok((id, key)) => {
                // A certificate's validity matters: an expired one no longer verifies. (A bare
                // public key may be filed under a certificate serial too.)
                if let Ok(cert) = Certificate::load(pem.as_ref()) {
                    self.v3.certificates.push(cert);
                }
                self.v3.platform.insert(id.clone(), key);
                self.v3.platform_ids.push(id);
            }
            Err(e) => self.fail(e),
        }
        self
    }

    /// Lets the client manage the platform certificates by itself: it downloads them from
    /// `/v3/certificates` (decrypting each with this APIv3 key), refreshes them every
    /// [`refresh_interval`](Self::refresh_interval) (in the background for async use, lazily
    /// for blocking use) and at once (at most once a minute) when an answer or a callback names
    /// a serial it does not know, keeps every unexpired certificate through a rotation, and
    /// carries on in public-key mode when the merchant has no certificates. Configured platform
    /// keys are kept and anchor the trust: a download must verify with one of them. With none,
    /// the first download is verified with the certificate it contains (as wechatpay-php's and
    /// the Node SDK's tools do), with a `tracing` warning. Also sets the APIv3 key for
    /// callbacks ([`apiv3_key`](Self::apiv3_key)). See the [key ring guide](crate::guide::keyring).
    pub fn auto_certificates(mut self, apiv3_key: impl AsRef<[u8]>) -> Self {
        match Apiv3Key::new(apiv3_key) {
            Ok(key) => {
                self.v3.auto = Some(key.clone());
                self.apiv3_key = Some(key);
            }
            Err(e) => self.fail(e),
        }
        self
    }

    /// How often [`auto_certificates`](Self::auto_certificates) refreshes. Default 12 hours;
    /// at least a minute.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        if interval < crate::keyring::MIN_TRIGGERED_INTERVAL {
            self.fail(Error::config(format!(
                "refresh_interval {interval:?} is shorter than a minute"
            )));
        }
        self.v3.refresh_interval = Some(interval);
        self
    }

    /// Keeps downloaded certificates in `store` and starts from what it holds, so that a
    /// restart does not need the network and several processes can share one download. See
    /// [`KeyStore`] and [`DirectoryStore`](crate::keyring::DirectoryStore).
    pub fn certificate_store(mut self, store: impl KeyStore) -> Self {
        self.v3.store = Some(Arc::new(store));
        self
    }

    /// [`certificate_store`](Self::certificate_store) in a directory, as `wechatpay_<serial>.pem`
    /// files (what wechatpay-php's and the Node SDK's certificate tools write).
    pub fn certificate_dir(self, dir: impl AsRef<Path>) -> Self {
        self.certificate_store(crate::keyring::DirectoryStore::new(dir))
    }

    /// [`platform_key`](Self::platform_key) from a file (PEM or DER).
    pub fn platform_key_file(self, id: impl Into<String>, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        match crate::crypto::read_key_file(path) {
            Ok(pem) => self.platform_key(id, pem),
            Err(e) => {
                let mut this = self;
                let id = id.into();
                this.fail(Error::config(format!(
                    "platform key {}: file `{}` cannot be read: {e}",
                    shown_id(&id),
                    path.display().to_string().escape_default()
                )));
                this
            }
        }
    }

    fn parse_platform_key(&self, id: &str, pem: &[u8]) -> Result<(String, PublicKey)> {
        let (id, key) = crate::keyring::parse_platform_key(id, pem)?;
        if self.v3.platform.contains(&id) {
            return Err(Error::config(format!(
                "platform key `{id}` is configured twice"
            )));
        }
        Ok((id, key))
    }

    /// Refuses, before anything is sent, a request whose method and path the
    /// [catalogue](crate::catalogue) does not know, with the nearest operation it does in the
    /// error: a misspelt path fails at once instead of as WeChat Pay's `404`. Off by default:
    /// the chain reaches any path, as wechatpay-php does. The check is one hash lookup per
    /// request.
    ///
    /// ```
    /// # let key = openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap();
    /// let client = wechatpay::Client::builder()
    ///     .mchid("1900000000")
    ///     .serial("0A")
    ///     .private_key(key)
    ///     .verifier(wechatpay::verifier::PlatformVerifier::new())
    ///     .strict_paths(true)
    ///     .build()
    ///     .unwrap();
    /// let err = client
    ///     .chain("v3/pay/transaction/native")
    ///     .prepare(wechatpay::Method::POST, serde_json::json!({ "json": {} }))
    ///     .unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "URI template error: `POST v3/pay/transaction/native` is not in the WeChat Pay API \
    ///      catalogue (did you mean `POST v3/pay/transactions/native`?)"
    /// );
    /// ```
    #[cfg(feature = "catalogue")]
    pub fn strict_paths(mut self, strict: bool) -> Self {
        self.strict_paths = strict;
        self
    }

    /// Remembers the verified answers in `memory` instead of the default
    /// [`replay::InMemory`](crate::replay::InMemory) (one per client, bounded): a store shared by
    /// several processes catches an answer replayed to another of them. See
    /// [`replay`](crate::replay).
    pub fn replay_memory(mut self, memory: impl ReplayMemory) -> Self {
        self.v3.replay = Some(Arc::new(memory));
        self
    }

    /// Verifies responses with a custom [`Verifier`] instead of the platform keys.
    pub fn verifier(mut self, verifier: impl Verifier) -> Self {
        self.v3.verifier = Some(Arc::new(verifier));
        self
    }

    /// Sends `Wechatpay-Serial` (the preferred platform key id) on every request, as the Go,
    /// Java and Python SDKs do. Off by default, as in wechatpay-php.
    pub fn send_wechatpay_serial(mut self, on: bool) -> Self {
        self.v3.send_wechatpay_serial = on;
        self
    }

    /// The platform key id to send as `Wechatpay-Serial` and to encrypt sensitive fields with,
    /// while it is in the ring and valid. Otherwise: the key configured as a bare public key
    /// (normally the `PUB_KEY_ID_...` one; with several, the smallest id in byte order), else
    /// the valid platform certificate whose validity began last
    /// ([`KeyRing::preferred`](crate::keyring::KeyRing::preferred)).
    pub fn preferred_platform_key(mut self, id: impl Into<String>) -> Self {
        self.v3.preferred = Some(id.into());
        self
    }

    /// The base URI requests are relative to. Default [`DEFAULT_BASE_URI`]. It may carry a path
    /// prefix (a trailing `/` is added when missing); it must be `https` (or `http` with
    /// [`allow_insecure_http`](Self::allow_insecure_http)), with a host and without
    /// credentials, query or fragment.
    pub fn base_uri(mut self, base_uri: impl Into<String>) -> Self {
        self.base_uri = Some(base_uri.into());
        self
    }

    /// Accepts plain `http://` URIs: the [base URI](Self::base_uri), the
    /// [backup](Self::backup_base_uri), the per-request `base_uri` option and a bill's
    /// `download_url` at the base URI's origin. Off by default, and a plain `http` URI is then
    /// a [`Config`](crate::ErrorKind::Config) error naming the setting: over `http` the signed
    /// `Authorization` header, the request bodies (personal data, encrypted fields) and the
    /// answers travel in clear, for anyone on the way to read, replay or alter. Turn it on only
    /// for a local test server, such as `wechatpay-sandbox` (whose `Sandbox::client()` does).
    ///
    /// ```
    /// let builder = || {
    ///     wechatpay::Client::builder()
    ///         .mchid("1900000109")
    ///         .secret("192006250b4c09247ec02edce69f6a2d")
    ///         .base_uri("http://127.0.0.1:8080/")
    /// };
    /// let refused = builder().build().unwrap_err();
    /// assert!(refused.to_string().contains("allow_insecure_http"));
    /// assert!(builder().allow_insecure_http(true).build().is_ok());
    /// ```
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The APIv2 key (32 characters, set in the merchant platform): enables `v2/...` paths,
    /// whose payloads it signs and whose answers it verifies. A client may have only this
    /// (with [`mchid`](Self::mchid)) and no APIv3 settings at all.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        match Secret::new(secret) {
            Ok(secret) => self.secret = Some(secret),
            Err(e) => self.fail(e),
        }
        self
    }

    /// The merchant API certificate (`apiclient_cert.pem`), which APIv2 requests with
    /// `security: true` present for mutual TLS: a PEM chain (leaf first), or one certificate in
    /// any form [`Certificate::load`](crate::crypto::Certificate::load) takes (PEM, DER,
    /// `file://<path>`). Needs [`merchant_key`](Self::merchant_key).
    pub fn merchant_cert(mut self, cert: impl AsRef<[u8]>) -> Self {
        self.merchant_cert = Some(cert.as_ref().to_vec());
        self
    }

    /// The private key of [`merchant_cert`](Self::merchant_cert) (`apiclient_key.pem`, in any
    /// form [`PrivateKey::load`] takes).
    pub fn merchant_key(self, key: impl AsRef<[u8]>) -> Self {
        let key = PrivateKey::load(key);
        self.set_merchant_key(key)
    }

    /// [`merchant_key`](Self::merchant_key) from a passphrase-protected key, as
    /// [`PrivateKey::load_with_passphrase`] reads it.
    pub fn merchant_key_with_passphrase(
        self,
        key: impl AsRef<[u8]>,
        passphrase: impl AsRef<[u8]>,
    ) -> Self {
        let key = PrivateKey::load_with_passphrase(key, passphrase);
        self.set_merchant_key(key)
    }

    fn set_merchant_key(mut self, key: Result<PrivateKey>) -> Self {
        match key {
            Ok(key) => self.merchant_key = Some(key),
            Err(e) => self.fail(Error::config(format!("merchant_key: {}", e.message()))),
        }
        self
    }

    /// The merchant certificate and key from a PKCS#12 file (`apiclient_cert.p12`; WeChat Pay
    /// sets its passphrase to the merchant id), instead of
    /// [`merchant_cert`](Self::merchant_cert) + [`merchant_key`](Self::merchant_key).
    pub fn merchant_pkcs12(mut self, der: impl AsRef<[u8]>, passphrase: &str) -> Self {
        match crate::v2::identity::from_pkcs12(der.as_ref(), passphrase) {
            Ok(identity) => self.http.identity = Some(identity),
            Err(e) => self.fail(e),
        }
        self
    }

    /// Trusts another root certificate (PEM) for the server's TLS certificate, besides the
    /// system's: a corporate TLS-inspecting proxy, a private gateway, a local test server.
    pub fn add_root_certificate(mut self, pem: impl AsRef<[u8]>) -> Self {
        let pem = pem.as_ref();
        let parsed = openssl::x509::X509::from_pem(pem)
            .ok()
            .and_then(|_| native_tls::Certificate::from_pem(pem).ok());
        match parsed {
            Some(cert) => self.http.roots.push(cert),
            None => self.fail(Error::config(format!(
                "add_root_certificate: expected a PEM `CERTIFICATE`, {}",
                crate::crypto::rsa::found(pem)
            ))),
        }
        self
    }

    /// Where requests go when the base URI's host cannot be reached (DNS, connect or TLS
    /// handshake failure: the request was not received, so it cannot be sent twice). Default:
    /// WeChat Pay's backup host [`DEFAULT_BACKUP_BASE_URI`](crate::DEFAULT_BACKUP_BASE_URI)
    /// when the base URI is the default production host, none otherwise. The retried request
    /// is signed afresh and its `User-Agent` ends in `failover`. After a failure the primary is
    /// avoided for the [cool-down](Self::failover_cooldown); then one request probes it, and
    /// traffic fails back when it answers.
    pub fn backup_base_uri(mut self, base_uri: impl Into<String>) -> Self {
        self.backup_base_uri = Some(Some(base_uri.into()));
        self
    }

    /// Never fail over to a backup host.
    pub fn no_failover(mut self) -> Self {
        self.backup_base_uri = Some(None);
        self
    }

    /// How long the primary host is avoided after it could not be reached. Default 60 s.
    pub fn failover_cooldown(mut self, cooldown: Duration) -> Self {
        self.failover_cooldown = Some(cooldown);
        self
    }

    /// Whether each request's `tracing` span (`wechatpay.request`) records the concrete URL
    /// path as `url.path`, with the values it carries: ids, order numbers, and the `openid` of
    /// the few paths that hold one (default `false`: only the path template, `url.template`,
    /// such as `v3/pay/transactions/out-trade-no/{out_trade_no}`). The query is never
    /// recorded. See docs/observability.md.
    ///
    /// ```
    /// # let key = openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap();
    /// let client = wechatpay::Client::builder()
    ///     .mchid("1900000000")
    ///     .serial("0A")
    ///     .private_key(key)
    ///     # .verifier(wechatpay::verifier::PlatformVerifier::new())
    ///     .trace_paths(true)
    ///     .build()
    ///     .unwrap();
    /// # drop(client);
    /// ```
    pub fn trace_paths(mut self, on: bool) -> Self {
        self.trace_paths = on;
        self
    }

    /// Retries `GET`s on connect errors, 429 and 5xx with this policy (off by default; other
    /// methods are never retried).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Timeout of a whole request (connect, send, receive). Default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.http.timeout = timeout;
        self
    }

    /// Timeout of establishing a connection. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.http.connect_timeout = timeout;
        self
    }

    /// The largest response body the client reads, in bytes. Default
    /// [`DEFAULT_MAX_RESPONSE_SIZE`](crate::DEFAULT_MAX_RESPONSE_SIZE) (64 MiB). A larger one
    /// (announced by `Content-Length`, or reached while reading) ends the call with a
    /// [`Transport`](crate::ErrorKind::Transport) error, as a timeout would: the request may
    /// have been carried out. Bills and statements are downloads, under
    /// [`max_download_size`](Self::max_download_size) instead. Zero is a `Config` error.
    ///
    /// ```
    /// let client = wechatpay::Client::builder()
    ///     .mchid("1900000109")
    ///     .secret("192006250b4c09247ec02edce69f6a2d")
    ///     .max_response_size(1 << 20)
    ///     .build();
    /// assert!(client.is_ok());
    /// ```
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        if bytes == 0 {
            self.fail(Error::config(
                "max_response_size is 0: it must allow at least one byte",
            ));
        } else {
            self.http.max_response_size = bytes;
        }
        self
    }

    /// The largest download, in bytes: a bill or a statement streamed to a writer (counted as
    /// written, that is decompressed, so a gzip bomb stops at the limit), and an APIv2
    /// download ([`v2::RAW_ANSWERS`](crate::v2::RAW_ANSWERS)) read whole. Default
    /// [`DEFAULT_MAX_DOWNLOAD_SIZE`](crate::DEFAULT_MAX_DOWNLOAD_SIZE) (4 GiB). A larger one
    /// ends the download with a [`Transport`](crate::ErrorKind::Transport) error (the `_to_file`
    /// forms leave no file). Zero is a `Config` error.
    ///
    /// ```
    /// let client = wechatpay::Client::builder()
    ///     .mchid("1900000109")
    ///     .secret("192006250b4c09247ec02edce69f6a2d")
    ///     .max_download_size(512 << 20)
    ///     .build();
    /// assert!(client.is_ok());
    /// ```
    pub fn max_download_size(mut self, bytes: u64) -> Self {
        if bytes == 0 {
            self.fail(Error::config(
                "max_download_size is 0: it must allow at least one byte",
            ));
        } else {
            self.http.max_download_size = bytes;
        }
        self
    }

    /// Checks the configuration and builds the client.
    ///
    /// TLS: version 1.2 or later, trusting the system's root certificates (read when the first
    /// client of the process is built; clients with no
    /// [`add_root_certificate`](Self::add_root_certificate) share that configuration) and any
    /// added root. A client's blocking and async verbs share its TLS configurations.
    pub fn build(self) -> Result<Client> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mchid = required(self.mchid, "mchid", "the merchant id")?;
        if !mchid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::config(format!(
                "mchid {} must be ASCII letters and digits",
                shown(&mchid)
            )));
        }
        let mut http = self.http;
        match (self.merchant_cert, self.merchant_key) {
            (Some(_), Some(_)) | (Some(_), None) | (None, Some(_)) if http.identity.is_some() => {
                return Err(Error::config(
                    "the merchant certificate is set twice: use merchant_cert + merchant_key or \
                     merchant_pkcs12, not both",
                ));
            }
            (Some(cert), Some(key)) => {
                http.identity = Some(crate::v2::identity::from_cert(&cert, &key)?);
            }
            (Some(_), None) => {
                return Err(Error::config(
                    "merchant_cert needs its private key: call .merchant_key(pem)",
                ));
            }
            (None, Some(_)) => {
                return Err(Error::config(
                    "merchant_key needs its certificate: call .merchant_cert(pem)",
                ));
            }
            (None, None) => {}
        }
        // APIv3 is configured when any of its settings is, or when APIv2 is not (so that an
        // empty builder names what APIv3 needs).
        let (v3, refresher) = if self.secret.is_none() || self.v3.is_touched() {
            let (v3, refresher) = self.v3.build()?;
            (Some(v3), refresher)
        } else {
            (None, None)
        };
        let allow_insecure_http = self.allow_insecure_http;
        let base = BaseUri::parse(
            self.base_uri.as_deref().unwrap_or(DEFAULT_BASE_URI),
            allow_insecure_http,
        )
        .map_err(|reason| Error::config(format!("base_uri: {reason}")))?;
        let backup = match self.backup_base_uri {
            Some(Some(uri)) => Some(uri),
            Some(None) => None,
            None if base.as_str() == DEFAULT_BASE_URI => {
                Some(crate::failover::DEFAULT_BACKUP_BASE_URI.to_owned())
            }
            None => None,
        };
        let failover = match backup {
            Some(uri) => {
                let backup = BaseUri::parse(&uri, allow_insecure_http)
                    .map_err(|reason| Error::config(format!("backup_base_uri: {reason}")))?;
                if backup == base {
                    return Err(Error::config(
                        "backup_base_uri is the base URI itself: give another host, or call \
                         .no_failover()",
                    ));
                }
                Some(Failover::new(
                    base.clone(),
                    backup,
                    self.failover_cooldown
                        .unwrap_or(crate::failover::DEFAULT_COOLDOWN),
                ))
            }
            None => None,
        };
        let transport = Transport::new(http)?;
        let ctx = Context {
            failover,
            retry: self.retry,
            mchid,
            v3,
            v2: self.secret,
            base,
            allow_insecure_http,
            apiv3_key: self.apiv3_key,
            user_agent: HeaderValue::from_static(crate::USER_AGENT),
            transport,
            templates: TemplateCache::new(),
            strict_paths: self.strict_paths,
            trace_paths: self.trace_paths,
        };
        Ok(Client::assemble(ctx, refresher))
    }
}

impl V3Settings {
    /// Whether any APIv3 setting was made.
    fn is_touched(&self) -> bool {
        self.serial.is_some()
            || self.signer.is_some()
            || !self.platform_ids.is_empty()
            || self.verifier.is_some()
            || self.preferred.is_some()
            || self.send_wechatpay_serial
            || self.auto.is_some()
    }

    /// The APIv3 configuration, and the key ring's refresh policy when the client downloads
    /// the certificates by itself.
    fn build(self) -> Result<(V3, Option<Arc<Refresher>>)> {
        let V3Settings {
            serial,
            signer,
            private_key,
            platform,
            platform_ids,
            certificates,
            auto,
            refresh_interval,
            store,
            verifier,
            replay,
            preferred,
            send_wechatpay_serial,
        } = self;
        let serial = required(serial, "serial", "the merchant API certificate serial")?;
        if !serial.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::config(format!(
                "serial {} must be the hex serial of the merchant API certificate",
                shown(&serial)
            )));
        }
        let signer = signer.ok_or_else(|| {
            Error::config(
                "the merchant private key is missing: call .private_key(pem), \
                 .private_key_file(path) or .signer(..)",
            )
        })?;
        if let Some(id) = platform_ids.iter().find(|id| same_serial(id, &serial)) {
            return Err(Error::config(format!(
                "platform key `{id}` is the merchant API certificate serial: platform keys are \
                 WeChat Pay's certificates or public keys, not the merchant's"
            )));
        }
        let automatic = auto.is_some();
        if let Some(id) = &preferred {
            // A downloaded certificate may become the preferred one later.
            if !platform_ids.contains(id) && !automatic {
                return Err(Error::config(format!(
                    "preferred platform key {} is not among the configured platform keys",
                    shown_id(id)
                )));
            }
            if HeaderValue::from_str(id).is_err() {
                return Err(Error::config(format!(
                    "platform key id {} is not a valid header value",
                    shown(id)
                )));
            }
        }
        if platform_ids.is_empty() && verifier.is_none() && !automatic {
            return Err(Error::config(
                "no platform key: add the WeChat Pay public key or platform certificate with \
                 .platform_key(id, pem), let the client download the certificates with \
                 .auto_certificates(apiv3_key), or set a custom .verifier(..)",
            ));
        }
        if send_wechatpay_serial && platform_ids.is_empty() && !automatic {
            return Err(Error::config(
                "send_wechatpay_serial needs a platform key id: add one with .platform_key(id, pem)",
            ));
        }
        let ring = KeyRing::build(preferred, automatic);
        for id in &platform_ids {
            match certificates.iter().find(|c| same_serial(c.serial(), id)) {
                Some(cert) => ring.insert_certificate(cert, true),
                None => {
                    if let Some(key) = platform.get(id) {
                        ring.insert_public_key(id.clone(), key.clone());
                    }
                }
            }
        }
        let loaded = store
            .as_ref()
            .map_or(0, |store| ring.load_from(store.as_ref()));
        let custom_verifier = verifier.is_some();
        let refresher = auto.map(|apiv3_key| {
            Refresher::new(
                ring.clone(),
                apiv3_key,
                refresh_interval.unwrap_or(DEFAULT_REFRESH_INTERVAL),
                store,
                !custom_verifier,
                // What the store holds counts as a refresh: a restart needs no network.
                loaded > 0,
            )
        });
        let verifier: Arc<dyn Verifier> = match verifier {
            Some(v) => v,
            None => Arc::new(ring.clone()),
        };
        let hooks = refresher
            .clone()
            .map(|refresher| refresher as Arc<dyn KeyHooks>);
        let replay = replay.unwrap_or_else(|| Arc::new(InMemory::default()));
        let v3 = V3 {
            serial,
            signer,
            private_key,
            verifier,
            ring,
            hooks,
            replay,
            send_wechatpay_serial,
            custom_verifier,
        };
        Ok((v3, refresher))
    }
}

/// A key id quoted in an error: only when it has the form of one (a hex serial or
/// `PUB_KEY_ID_` and digits), else its length.
fn shown_id(id: &str) -> String {
    let digits = id.strip_prefix("PUB_KEY_ID_");
    let well_formed = match digits {
        Some(d) => !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()),
        None => !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
    };
    if well_formed {
        format!("`{id}`")
    } else {
        format!("({} characters, not shown)", id.chars().count())
    }
}

fn required(value: Option<String>, name: &str, what: &str) -> Result<String> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        Some(_) => Err(Error::config(format!("{name} is empty: it must be {what}"))),
        None => Err(Error::config(format!(
            "{name} is missing: call .{name}(..) with {what}"
        ))),
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("mchid", &self.mchid.as_deref().map(shown))
            .field("serial", &self.v3.serial.as_deref().map(shown))
            .field("has_signer", &self.v3.signer.is_some())
            .field("has_apiv3_key", &self.apiv3_key.is_some())
            .field("platform_keys", &self.v3.platform_ids)
            .field("has_secret", &self.secret.is_some())
            .field(
                "has_merchant_cert",
                &(self.merchant_cert.is_some() || self.http.identity.is_some()),
            )
            .field("base_uri", &self.base_uri.as_deref().map(DebugUrl))
            .field(
                "backup_base_uri",
                &self
                    .backup_base_uri
                    .as_ref()
                    .map(|b| b.as_deref().map(DebugUrl)),
            )
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("trace_paths", &self.trace_paths)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}
