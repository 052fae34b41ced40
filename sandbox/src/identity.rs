//! The sandbox's identity: the merchant's keys and certificates, the platform's, the CA that
//! issues the TLS certificates, and the APIv3/APIv2 keys. Generated with OpenSSL, optionally
//! kept in a directory so that runs are reproducible.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509, X509NameBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::util::{now_unix, random_alnum, random_bytes, random_digits};

/// Everything a merchant needs to talk to the sandbox, as a merchant would get it from WeChat
/// Pay. `Debug` shows the identifiers and hides the keys and secrets.
#[derive(Clone)]
#[non_exhaustive]
pub struct Identity {
    /// The merchant id (10 digits).
    pub mchid: String,
    /// Serial of the merchant API certificate (`serial_no` of every request), 40 uppercase hex
    /// digits.
    pub merchant_serial: String,
    /// The merchant API private key (`apiclient_key.pem`, PKCS#8 PEM).
    pub merchant_private_key_pem: String,
    /// The merchant API certificate (`apiclient_cert.pem`), issued by the sandbox CA: its
    /// serial is [`merchant_serial`](Self::merchant_serial) and it is also the client
    /// certificate of mutual-TLS APIv2 calls.
    pub merchant_certificate_pem: String,
    /// Serial of the platform certificate (`Wechatpay-Serial` in certificate mode). The first
    /// one: see [`Sandbox::rotate_platform_certificate`](crate::Sandbox::rotate_platform_certificate).
    pub platform_serial: String,
    /// The platform certificate (PEM), the first one.
    pub platform_certificate_pem: String,
    /// The WeChat Pay public key id (`PUB_KEY_ID_` + digits; `Wechatpay-Serial` in public-key
    /// mode).
    pub public_key_id: String,
    /// The WeChat Pay public key (SPKI PEM).
    pub public_key_pem: String,
    /// The APIv3 key (32 characters).
    pub apiv3_key: String,
    /// The APIv2 key (32 characters).
    pub apiv2_secret: String,
    /// The sandbox CA certificate (PEM): it issued the TLS server certificate and the merchant
    /// certificate.
    pub ca_certificate_pem: String,
    /// `https://127.0.0.1:PORT/`: the mutual-TLS port (APIv2 `secapi/...` calls).
    pub tls_base_uri: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("mchid", &self.mchid)
            .field("merchant_serial", &self.merchant_serial)
            .field("merchant_private_key_pem", &"<redacted>")
            .field("merchant_certificate_pem", &"<certificate>")
            .field("platform_serial", &self.platform_serial)
            .field("platform_certificate_pem", &"<certificate>")
            .field("public_key_id", &self.public_key_id)
            .field("public_key_pem", &"<public key>")
            .field("apiv3_key", &"<redacted>")
            .field("apiv2_secret", &"<redacted>")
            .field("ca_certificate_pem", &"<certificate>")
            .field("tls_base_uri", &self.tls_base_uri)
            .finish()
    }
}

/// The private keys WeChat Pay signs with, as the sandbox plays it
/// ([`Sandbox::platform_private_keys`](crate::Sandbox::platform_private_keys)). `Debug` hides
/// them.
#[derive(Clone)]
#[non_exhaustive]
pub struct PlatformPrivateKeys {
    /// The private key of the first platform certificate
    /// ([`Identity::platform_serial`]), PKCS#8 PEM.
    pub certificate_key_pem: String,
    /// The private half of the WeChat Pay public key ([`Identity::public_key_id`]), PKCS#8
    /// PEM.
    pub public_key_private_pem: String,
}

impl fmt::Debug for PlatformPrivateKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformPrivateKeys")
            .field("certificate_key_pem", &"<redacted>")
            .field("public_key_private_pem", &"<redacted>")
            .finish()
    }
}

/// The private half of the identity: what the sandbox signs and serves TLS with.
pub(crate) struct KeyMaterial {
    pub(crate) mchid: String,
    pub(crate) merchant_key: PKey<Private>,
    pub(crate) merchant_cert: X509,
    pub(crate) merchant_serial: String,
    pub(crate) platform_key: PKey<Private>,
    pub(crate) platform_cert: X509,
    pub(crate) platform_serial: String,
    pub(crate) public_key_id: String,
    pub(crate) public_key_private: PKey<Private>,
    pub(crate) ca_key: PKey<Private>,
    pub(crate) ca_cert: X509,
    pub(crate) server_key: PKey<Private>,
    pub(crate) server_cert: X509,
    pub(crate) apiv3_key: String,
    pub(crate) apiv2_secret: String,
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("mchid", &self.mchid)
            .finish_non_exhaustive()
    }
}

impl KeyMaterial {
    /// The public identity, with the mutual-TLS port's base URI.
    pub(crate) fn identity(&self, tls_base_uri: String) -> Result<Identity> {
        Ok(Identity {
            mchid: self.mchid.clone(),
            merchant_serial: self.merchant_serial.clone(),
            merchant_private_key_pem: utf8(self.merchant_key.private_key_to_pem_pkcs8()?),
            merchant_certificate_pem: utf8(self.merchant_cert.to_pem()?),
            platform_serial: self.platform_serial.clone(),
            platform_certificate_pem: utf8(self.platform_cert.to_pem()?),
            public_key_id: self.public_key_id.clone(),
            public_key_pem: utf8(self.public_key_private.public_key_to_pem()?),
            apiv3_key: self.apiv3_key.clone(),
            apiv2_secret: self.apiv2_secret.clone(),
            ca_certificate_pem: utf8(self.ca_cert.to_pem()?),
            tls_base_uri,
        })
    }

    /// The platform's private keys as PEM.
    pub(crate) fn platform_private_keys(&self) -> Result<PlatformPrivateKeys> {
        Ok(PlatformPrivateKeys {
            certificate_key_pem: utf8(self.platform_key.private_key_to_pem_pkcs8()?),
            public_key_private_pem: utf8(self.public_key_private.private_key_to_pem_pkcs8()?),
        })
    }

    /// Fresh keys and certificates.
    pub(crate) fn generate() -> Result<KeyMaterial> {
        // Five independent RSA-2048 keys: generate them side by side.
        let keys: Vec<Result<PKey<Private>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..5).map(|_| s.spawn(rsa2048)).collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::Runtime("key generation panicked".into())))
                })
                .collect()
        });
        let mut keys = keys.into_iter();
        let mut next = || -> Result<PKey<Private>> {
            keys.next()
                .unwrap_or_else(|| Err(Error::Runtime("missing generated key".into())))
        };
        let merchant_key = next()?;
        let platform_key = next()?;
        let public_key_private = next()?;
        let ca_key = next()?;
        let server_key = next()?;

        let mchid = format!("19{}", random_digits(8)?);
        let now = now_unix();
        let ca_cert = certificate(&CertSpec {
            // The sandbox's root, in the place of `Tenpay.com Root CA`.
            subject: &[
                ("C", "CN"),
                ("O", "wechatpay-sandbox"),
                ("OU", "wechatpay-sandbox CA Center"),
                ("CN", "wechatpay-sandbox Root CA"),
            ],
            key: &ca_key,
            issuer: None,
            kind: Kind::Ca,
            not_before: now - 86_400,
            not_after: now + 20 * 365 * 86_400,
        })?;
        let issuer = Some((&ca_cert, &ca_key));
        let valid_until = now + 10 * 365 * 86_400;
        let server_cert = certificate(&CertSpec {
            subject: &[("CN", "127.0.0.1")],
            key: &server_key,
            issuer,
            kind: Kind::Server,
            not_before: now - 86_400,
            not_after: valid_until,
        })?;
        let merchant_cert = certificate(&CertSpec {
            subject: &[
                ("C", "CN"),
                ("O", "微信商户系统"),
                ("OU", "wechatpay-sandbox merchant"),
                ("CN", &mchid),
            ],
            key: &merchant_key,
            issuer,
            kind: Kind::Client,
            not_before: now - 86_400,
            not_after: valid_until,
        })?;
        let platform_cert = platform_certificate(&platform_key, issuer, now - 86_400, valid_until)?;
        Ok(KeyMaterial {
            merchant_serial: serial_of(&merchant_cert)?,
            platform_serial: serial_of(&platform_cert)?,
            public_key_id: format!("PUB_KEY_ID_01{mchid}{}", random_digits(16)?),
            mchid,
            merchant_key,
            merchant_cert,
            platform_key,
            platform_cert,
            public_key_private,
            ca_key,
            ca_cert,
            server_key,
            server_cert,
            apiv3_key: random_alnum(32)?,
            apiv2_secret: random_alnum(32)?,
        })
    }

    /// The keys generated once per process for sandboxes started without a keys directory.
    pub(crate) fn shared() -> Result<Arc<KeyMaterial>> {
        static SHARED: OnceLock<Arc<KeyMaterial>> = OnceLock::new();
        static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
        if let Some(keys) = SHARED.get() {
            return Ok(Arc::clone(keys));
        }
        // Generation can fail: do it under a lock instead of in `get_or_init`.
        let _guard = INIT.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(keys) = SHARED.get() {
            return Ok(Arc::clone(keys));
        }
        let keys = Arc::new(KeyMaterial::generate()?);
        Ok(Arc::clone(SHARED.get_or_init(|| keys)))
    }

    /// Loads the keys kept in `dir`, or generates them and writes them there when `dir` holds
    /// no `sandbox.json`.
    pub(crate) fn load_or_generate(dir: &Path) -> Result<KeyMaterial> {
        if dir.join(files::SETTINGS).exists() {
            KeyMaterial::load(dir)
        } else {
            let keys = KeyMaterial::generate()?;
            keys.save(dir)?;
            Ok(keys)
        }
    }

    fn save(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).map_err(|e| keys_dir(dir, format!("cannot create: {e}")))?;
        let secret = |name: &str, pem: Vec<u8>| write_file(dir, name, &pem, true);
        let public = |name: &str, pem: Vec<u8>| write_file(dir, name, &pem, false);
        secret(
            files::MERCHANT_KEY,
            self.merchant_key.private_key_to_pem_pkcs8()?,
        )?;
        public(files::MERCHANT_CERT, self.merchant_cert.to_pem()?)?;
        secret(
            files::PLATFORM_KEY,
            self.platform_key.private_key_to_pem_pkcs8()?,
        )?;
        public(files::PLATFORM_CERT, self.platform_cert.to_pem()?)?;
        secret(
            files::PUBLIC_KEY_PRIVATE,
            self.public_key_private.private_key_to_pem_pkcs8()?,
        )?;
        public(
            files::PUBLIC_KEY,
            self.public_key_private.public_key_to_pem()?,
        )?;
        secret(files::CA_KEY, self.ca_key.private_key_to_pem_pkcs8()?)?;
        public(files::CA_CERT, self.ca_cert.to_pem()?)?;
        secret(
            files::SERVER_KEY,
            self.server_key.private_key_to_pem_pkcs8()?,
        )?;
        public(files::SERVER_CERT, self.server_cert.to_pem()?)?;
        let settings = Settings {
            mchid: self.mchid.clone(),
            public_key_id: self.public_key_id.clone(),
            apiv3_key: self.apiv3_key.clone(),
            apiv2_secret: self.apiv2_secret.clone(),
        };
        let json = serde_json::to_vec_pretty(&settings)
            .map_err(|e| keys_dir(dir, format!("cannot serialise settings: {e}")))?;
        // Written last: a directory without it is regenerated.
        write_file(dir, files::SETTINGS, &json, true)
    }

    fn load(dir: &Path) -> Result<KeyMaterial> {
        let read = |name: &str| -> Result<Vec<u8>> {
            let path = dir.join(name);
            fs::read(&path).map_err(|e| keys_dir(&path, format!("cannot read: {e}")))
        };
        let key = |name: &str| -> Result<PKey<Private>> {
            PKey::private_key_from_pem(&read(name)?)
                .map_err(|e| keys_dir(&dir.join(name), format!("not a PEM private key: {e}")))
        };
        let cert = |name: &str| -> Result<X509> {
            X509::from_pem(&read(name)?)
                .map_err(|e| keys_dir(&dir.join(name), format!("not a PEM certificate: {e}")))
        };
        let settings_path = dir.join(files::SETTINGS);
        let settings: Settings = serde_json::from_slice(&read(files::SETTINGS)?)
            .map_err(|e| keys_dir(&settings_path, format!("invalid: {e}")))?;
        if settings.mchid.is_empty() || !settings.mchid.bytes().all(|b| b.is_ascii_digit()) {
            return Err(keys_dir(&settings_path, "mchid must be digits".into()));
        }
        let id_digits = settings.public_key_id.strip_prefix("PUB_KEY_ID_");
        if !id_digits.is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())) {
            return Err(keys_dir(
                &settings_path,
                "public_key_id must be PUB_KEY_ID_ and digits".into(),
            ));
        }
        for (name, value) in [
            ("apiv3_key", &settings.apiv3_key),
            ("apiv2_secret", &settings.apiv2_secret),
        ] {
            if value.len() != 32 || !value.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(keys_dir(
                    &settings_path,
                    format!("{name} must be 32 printable ASCII characters"),
                ));
            }
        }
        let keys = KeyMaterial {
            mchid: settings.mchid,
            merchant_key: key(files::MERCHANT_KEY)?,
            merchant_serial: String::new(),
            merchant_cert: cert(files::MERCHANT_CERT)?,
            platform_key: key(files::PLATFORM_KEY)?,
            platform_serial: String::new(),
            platform_cert: cert(files::PLATFORM_CERT)?,
            public_key_id: settings.public_key_id,
            public_key_private: key(files::PUBLIC_KEY_PRIVATE)?,
            ca_key: key(files::CA_KEY)?,
            ca_cert: cert(files::CA_CERT)?,
            server_key: key(files::SERVER_KEY)?,
            server_cert: cert(files::SERVER_CERT)?,
            apiv3_key: settings.apiv3_key,
            apiv2_secret: settings.apiv2_secret,
        };
        let pairs = [
            (
                files::MERCHANT_CERT,
                &keys.merchant_cert,
                &keys.merchant_key,
            ),
            (
                files::PLATFORM_CERT,
                &keys.platform_cert,
                &keys.platform_key,
            ),
            (files::CA_CERT, &keys.ca_cert, &keys.ca_key),
            (files::SERVER_CERT, &keys.server_cert, &keys.server_key),
        ];
        let now = Asn1Time::days_from_now(0)?;
        for (name, cert, key) in pairs {
            if !cert.public_key()?.public_eq(key) {
                return Err(keys_dir(
                    &dir.join(name),
                    "the certificate does not belong to its private key".into(),
                ));
            }
            if cert.not_after() < now {
                return Err(keys_dir(
                    &dir.join(name),
                    "the certificate has expired: delete the directory to regenerate it".into(),
                ));
            }
        }
        Ok(KeyMaterial {
            merchant_serial: serial_of(&keys.merchant_cert)?,
            platform_serial: serial_of(&keys.platform_cert)?,
            ..keys
        })
    }

    /// A new platform key and certificate, issued by the sandbox CA like the first one, valid
    /// from `not_before` to `not_after` (Unix seconds); with the certificate's serial.
    pub(crate) fn issue_platform_certificate(
        &self,
        not_before: i64,
        not_after: i64,
    ) -> Result<(String, X509, PKey<Private>)> {
        let key = rsa2048()?;
        let cert = platform_certificate(
            &key,
            Some((&self.ca_cert, &self.ca_key)),
            not_before,
            not_after,
        )?;
        Ok((serial_of(&cert)?, cert, key))
    }
}

/// A platform certificate (WeChat Pay's subject) for `key`.
fn platform_certificate(
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    not_before: i64,
    not_after: i64,
) -> Result<X509> {
    certificate(&CertSpec {
        // Shaped like WeChat Pay's (`CN=Tenpay.com sign`), the OU saying whose it is.
        subject: &[
            ("C", "CN"),
            ("ST", "Guangdong Province"),
            ("L", "Shenzhen"),
            ("O", "Tencent Technology (Shenzhen) Company Limited"),
            ("OU", "wechatpay-sandbox"),
            ("CN", "Tenpay.com sign"),
        ],
        key,
        issuer,
        kind: Kind::Signing,
        not_before,
        not_after,
    })
}

/// The file names of a keys directory.
mod files {
    pub(super) const SETTINGS: &str = "sandbox.json";
    pub(super) const MERCHANT_KEY: &str = "apiclient_key.pem";
    pub(super) const MERCHANT_CERT: &str = "apiclient_cert.pem";
    pub(super) const PLATFORM_KEY: &str = "platform_key.pem";
    pub(super) const PLATFORM_CERT: &str = "platform_cert.pem";
    pub(super) const PUBLIC_KEY_PRIVATE: &str = "pub_key_private.pem";
    pub(super) const PUBLIC_KEY: &str = "pub_key.pem";
    pub(super) const CA_KEY: &str = "ca_key.pem";
    pub(super) const CA_CERT: &str = "ca_cert.pem";
    pub(super) const SERVER_KEY: &str = "server_key.pem";
    pub(super) const SERVER_CERT: &str = "server_cert.pem";
}

/// `sandbox.json`: the settings that are not keys.
#[derive(Serialize, Deserialize)]
struct Settings {
    mchid: String,
    public_key_id: String,
    apiv3_key: String,
    apiv2_secret: String,
}

fn keys_dir(path: &Path, reason: String) -> Error {
    Error::KeysDir {
        path: PathBuf::from(path),
        reason,
    }
}

fn write_file(dir: &Path, name: &str, data: &[u8], private: bool) -> Result<()> {
    let path = dir.join(name);
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options
        .open(&path)
        .map_err(|e| keys_dir(&path, format!("cannot write: {e}")))?;
    file.write_all(data)
        .map_err(|e| keys_dir(&path, format!("cannot write: {e}")))
}

fn utf8(pem: Vec<u8>) -> String {
    String::from_utf8_lossy(&pem).into_owned()
}

fn rsa2048() -> Result<PKey<Private>> {
    Ok(PKey::from_rsa(Rsa::generate(2048)?)?)
}

/// A certificate's serial number as uppercase hex (how WeChat Pay writes serials).
fn serial_of(cert: &X509) -> Result<String> {
    Ok(cert.serial_number().to_bn()?.to_hex_str()?.to_string())
}

#[derive(Clone, Copy)]
enum Kind {
    Ca,
    Server,
    Client,
    Signing,
}

struct CertSpec<'a> {
    subject: &'a [(&'a str, &'a str)],
    key: &'a PKey<Private>,
    issuer: Option<(&'a X509, &'a PKey<Private>)>,
    kind: Kind,
    not_before: i64,
    not_after: i64,
}

fn certificate(spec: &CertSpec<'_>) -> Result<X509> {
    let mut name = X509NameBuilder::new()?;
    for (field, value) in spec.subject {
        name.append_entry_by_text(field, value)?;
    }
    let name = name.build();
    // 20 serial bytes whose first byte is 0x10..=0x7F: positive, no DER padding byte, exactly
    // 40 hex digits, like WeChat Pay's serials.
    let mut serial = random_bytes(20)?;
    serial[0] = 0x10 + serial[0] % 0x70;
    let serial = BigNum::from_slice(&serial)?;
    let serial = Asn1Integer::from_bn(&serial)?;

    let mut b = X509::builder()?;
    b.set_version(2)?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    match spec.issuer {
        Some((cert, _)) => b.set_issuer_name(cert.subject_name())?,
        None => b.set_issuer_name(&name)?,
    }
    b.set_pubkey(spec.key)?;
    let not_before = Asn1Time::from_unix(spec.not_before)?;
    let not_after = Asn1Time::from_unix(spec.not_after)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    match spec.kind {
        Kind::Ca => {
            b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()?,
            )?;
        }
        Kind::Server | Kind::Client | Kind::Signing => {
            b.append_extension(BasicConstraints::new().critical().build()?)?;
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .non_repudiation()
                    .key_encipherment()
                    .build()?,
            )?;
            match spec.kind {
                Kind::Server => {
                    b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
                    let san = SubjectAlternativeName::new()
                        .ip("127.0.0.1")
                        .dns("localhost")
                        .build(&b.x509v3_context(spec.issuer.map(|(c, _)| &**c), None))?;
                    b.append_extension(san)?;
                }
                Kind::Client => {
                    b.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?;
                }
                _ => {}
            }
        }
    }
    let signing_key = spec.issuer.map_or(spec.key, |(_, k)| k);
    b.sign(signing_key, MessageDigest::sha256())?;
    Ok(b.build())
}
