//! Where a command's merchant settings come from: a TOML profile, then environment variables,
//! then flags, each overriding the one before. Secrets (private key, APIv3 key, APIv2 secret)
//! come only from files or the environment, never from argument values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::sync::{Arc, Mutex};

use serde::Deserialize;
use wechatpay::crypto::PrivateKey;
use wechatpay::keyring::KeyRing;
use wechatpay::signer::{SignFuture, Signer};
use wechatpay::{Client, ClientBuilder};

use crate::args::Global;
use crate::fail::{
    Fail, SET_APIV3_KEY, SET_MCHID, SET_PLATFORM_KEY, SET_PRIVATE_KEY, SET_SECRET, usage,
};

/// The environment variable that holds the passphrase of a passphrase-protected private key.
pub const PASSPHRASE_VAR: &str = "WECHATPAY_PRIVATE_KEY_PASSPHRASE";

/// The environment variable that accepts a plain `http` base URI (`true` or `false`).
pub const ALLOW_INSECURE_HTTP_VAR: &str = "WECHATPAY_ALLOW_INSECURE_HTTP";

/// A secret's origin: a file, or an environment variable's value.
#[derive(Clone)]
pub enum Secret {
    File(PathBuf),
    Env(&'static str, String),
}

impl Secret {
    fn read(&self, what: &str) -> Result<Vec<u8>, Fail> {
        match self {
            Secret::File(path) => std::fs::read(path).map_err(|e| {
                usage(format!(
                    "cannot read the {what} file `{}`: {e}",
                    path.display()
                ))
            }),
            Secret::Env(_, value) => Ok(value.as_bytes().to_vec()),
        }
    }

    pub fn read_text(&self, what: &str) -> Result<String, Fail> {
        let bytes = self.read(what)?;
        let text =
            String::from_utf8(bytes).map_err(|_| usage(format!("the {what} is not UTF-8")))?;
        Ok(text.trim().to_owned())
    }

    fn origin(&self) -> String {
        match self {
            Secret::File(path) => format!("file {}", path.display()),
            Secret::Env(name, _) => format!("${name}"),
        }
    }
}

/// One merchant's settings after merging the three layers.
#[derive(Clone, Default)]
pub struct Settings {
    pub mchid: Option<String>,
    pub serial: Option<String>,
    pub private_key: Option<Secret>,
    pub platform_keys: Vec<(String, PathBuf)>,
    pub apiv3_key: Option<Secret>,
    pub secret: Option<Secret>,
    pub merchant_cert: Option<PathBuf>,
    pub base_uri: Option<String>,
    /// Where `--security` (APIv2 mutual TLS) requests go, when not the base URI.
    pub security_base_uri: Option<String>,
    pub root_certificate: Option<PathBuf>,
    /// Plain `http` base URIs accepted (a local test server).
    pub allow_insecure_http: bool,
    /// The private key's passphrase ($WECHATPAY_PRIVATE_KEY_PASSPHRASE only).
    pub private_key_passphrase: Option<String>,
}

/// A `[profile.NAME]` table.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Profile {
    mchid: Option<String>,
    serial: Option<String>,
    private_key_file: Option<PathBuf>,
    /// `"ID=PATH"` entries, or a table `{ ID = "PATH" }`.
    platform_keys: Option<PlatformKeys>,
    apiv3_key_file: Option<PathBuf>,
    secret_file: Option<PathBuf>,
    merchant_cert_file: Option<PathBuf>,
    base_uri: Option<String>,
    security_base_uri: Option<String>,
    root_certificate_file: Option<PathBuf>,
    allow_insecure_http: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PlatformKeys {
    List(Vec<String>),
    Table(BTreeMap<String, PathBuf>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    profile: BTreeMap<String, Profile>,
}

/// The user's config directory + `wxpay/config.toml`: `$XDG_CONFIG_HOME` or `~/.config` on
/// Linux and other Unixes, `~/Library/Application Support` on macOS, `%APPDATA%` on Windows.
pub fn default_config_path() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = if cfg!(windows) {
        var("APPDATA")?
    } else if cfg!(target_os = "macos") {
        var("HOME")?.join("Library").join("Application Support")
    } else {
        var("XDG_CONFIG_HOME").or_else(|| var("HOME").map(|h| h.join(".config")))?
    };
    Some(base.join("wxpay").join("config.toml"))
}

/// Parses `ID=PATH`.
pub fn platform_key_arg(value: &str) -> Result<(String, PathBuf), String> {
    match value.split_once('=') {
        Some((id, path)) if !id.is_empty() && !path.is_empty() => {
            Ok((id.to_owned(), PathBuf::from(path)))
        }
        _ => Err(format!("`{value}` is not ID=PATH")),
    }
}

fn load_profile(path: &Path, name: &str, explicit: bool) -> Result<Profile, Fail> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        // No config file is fine unless one was asked for (a message asking for a setting
        // then says where it was looked for).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            let _ = crate::fail::CONFIG_NOT_FOUND.set(path.to_owned());
            return Ok(Profile::default());
        }
        Err(e) => {
            return Err(usage(format!(
                "cannot read the config file `{}`: {e}",
                path.display()
            )));
        }
    };
    let mut file: ConfigFile = toml::from_str(&text).map_err(|e| {
        usage(format!(
            "config file `{}`: {}",
            path.display(),
            toml_error(&text, &e)
        ))
    })?;
    match file.profile.remove(name) {
        Some(profile) => Ok(profile),
        None if !explicit => Ok(Profile::default()),
        None => {
            let known: Vec<&String> = file.profile.keys().collect();
            Err(usage(format!(
                "config file `{}` has no [profile.{name}] (profiles: {known:?})",
                path.display()
            )))
        }
    }
}

/// A TOML error on one line: `line L, column C: message` (the message's own lines joined).
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

fn env(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_secret(value_var: &'static str, file_var: &'static str) -> Option<Secret> {
    env(file_var)
        .map(|p| Secret::File(PathBuf::from(p)))
        .or_else(|| env(value_var).map(|v| Secret::Env(value_var, v)))
}

/// Merges profile < environment < flags.
pub fn settings(global: &Global) -> Result<Settings, Fail> {
    let profile_name = global
        .profile
        .clone()
        .or_else(|| env("WECHATPAY_PROFILE"))
        .unwrap_or_else(|| "default".to_owned());
    let explicit_file = global
        .config
        .clone()
        .or_else(|| env("WECHATPAY_CONFIG").map(PathBuf::from));
    let profile = match explicit_file.clone().or_else(default_config_path) {
        Some(path) => load_profile(
            &path,
            &profile_name,
            explicit_file.is_some()
                || global.profile.is_some()
                || env("WECHATPAY_PROFILE").is_some(),
        )?,
        None => Profile::default(),
    };

    let mut s = Settings {
        mchid: profile.mchid,
        serial: profile.serial,
        private_key: profile.private_key_file.map(Secret::File),
        platform_keys: match profile.platform_keys {
            Some(PlatformKeys::List(items)) => items
                .iter()
                .map(|i| {
                    platform_key_arg(i)
                        .map_err(|e| usage(format!("profile `{profile_name}`: platform_keys: {e}")))
                })
                .collect::<Result<_, _>>()?,
            Some(PlatformKeys::Table(table)) => table.into_iter().collect(),
            None => Vec::new(),
        },
        apiv3_key: profile.apiv3_key_file.map(Secret::File),
        secret: profile.secret_file.map(Secret::File),
        merchant_cert: profile.merchant_cert_file,
        base_uri: profile.base_uri,
        security_base_uri: profile.security_base_uri,
        root_certificate: profile.root_certificate_file,
        allow_insecure_http: profile.allow_insecure_http.unwrap_or(false),
        private_key_passphrase: None,
    };

    // Environment.
    s.mchid = env("WECHATPAY_MCHID").or(s.mchid);
    s.serial = env("WECHATPAY_SERIAL").or(s.serial);
    s.private_key =
        env_secret("WECHATPAY_PRIVATE_KEY", "WECHATPAY_PRIVATE_KEY_FILE").or(s.private_key);
    s.apiv3_key = env_secret("WECHATPAY_APIV3_KEY", "WECHATPAY_APIV3_KEY_FILE").or(s.apiv3_key);
    s.secret = env_secret("WECHATPAY_SECRET", "WECHATPAY_SECRET_FILE").or(s.secret);
    // Taken as it is (no trimming): a passphrase may end with a space.
    s.private_key_passphrase = std::env::var(PASSPHRASE_VAR).ok().filter(|v| !v.is_empty());
    s.base_uri = env("WECHATPAY_BASE_URI").or(s.base_uri);
    s.merchant_cert = env("WECHATPAY_MERCHANT_CERT_FILE")
        .map(PathBuf::from)
        .or(s.merchant_cert);
    s.root_certificate = env("WECHATPAY_ROOT_CERTIFICATE_FILE")
        .map(PathBuf::from)
        .or(s.root_certificate);
    if let Some(value) = env(ALLOW_INSECURE_HTTP_VAR) {
        s.allow_insecure_http = match value.as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => {
                return Err(usage(format!(
                    "${ALLOW_INSECURE_HTTP_VAR} must be `true` or `false` (or 1 or 0)"
                )));
            }
        };
    }
    if let Some(list) = env("WECHATPAY_PLATFORM_KEYS") {
        s.platform_keys = list
            .split(',')
            .map(|i| {
                platform_key_arg(i.trim())
                    .map_err(|e| usage(format!("$WECHATPAY_PLATFORM_KEYS: {e}")))
            })
            .collect::<Result<_, _>>()?;
    }

    // Flags.
    if let Some(v) = &global.mchid {
        s.mchid = Some(v.clone());
    }
    if let Some(v) = &global.serial {
        s.serial = Some(v.clone());
    }
    if let Some(v) = &global.private_key_file {
        s.private_key = Some(Secret::File(v.clone()));
    }
    if !global.platform_key.is_empty() {
        s.platform_keys = global.platform_key.clone();
    }
    if let Some(v) = &global.apiv3_key_file {
        s.apiv3_key = Some(Secret::File(v.clone()));
    }
    if let Some(v) = &global.secret_file {
        s.secret = Some(Secret::File(v.clone()));
    }
    if let Some(v) = &global.merchant_cert_file {
        s.merchant_cert = Some(v.clone());
    }
    if let Some(v) = &global.base_uri {
        s.base_uri = Some(v.clone());
    }
    if let Some(v) = &global.root_certificate_file {
        s.root_certificate = Some(v.clone());
    }
    if global.allow_insecure_http {
        s.allow_insecure_http = true;
    }
    Ok(s)
}

/// The messages a [`RecordingSigner`] signed, in order.
pub type Recorder = Arc<Mutex<Vec<Vec<u8>>>>;

/// Signs with the merchant key and keeps a copy of each message (the signature is not kept).
struct RecordingSigner {
    key: wechatpay::crypto::PrivateKey,
    recorder: Recorder,
}

impl Signer for RecordingSigner {
    fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a> {
        if let Ok(mut log) = self.recorder.lock() {
            log.push(message.to_vec());
        }
        Box::pin(std::future::ready(self.key.sign_sha256(message)))
    }
}

/// A built client.
pub struct Built {
    pub client: Client,
}

/// The merchant private key, loaded, and an unencrypted PEM of it for the client builder.
pub struct LoadedKey {
    pub key: PrivateKey,
    pem: Vec<u8>,
}

/// The platform keys, in a key ring as the client keeps them.
pub struct PlatformRing {
    pub ring: KeyRing,
    /// (the id as configured, the id in the ring): a certificate is filed under its own serial.
    pub ids: Vec<(String, String)>,
}

/// A key id quoted in a message when it has the form of one, else only its length (a value that
/// is no key id may be a secret in the wrong place).
pub fn shown_id(id: &str) -> String {
    if is_public_key_id(id) || is_hex_serial(id) {
        format!("`{id}`")
    } else {
        format!("({} characters, not shown)", id.chars().count())
    }
}

fn is_public_key_id(id: &str) -> bool {
    id.strip_prefix("PUB_KEY_ID_")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

fn is_hex_serial(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The library's message without its kind and a leading `what: `.
fn detail(e: &wechatpay::Error, what: &str) -> String {
    let message = crate::fail::bare_message(e);
    match message.strip_prefix(&format!("{what}: ")) {
        Some(rest) => rest.to_owned(),
        None => message,
    }
}

impl Settings {
    /// The merchant id, or an error saying what `command` needs it for and how to set it.
    pub fn require_mchid(&self, command: &str) -> Result<String, Fail> {
        self.mchid
            .clone()
            .ok_or_else(|| usage(format!("{command} needs the merchant id: {SET_MCHID}")))
    }

    /// The APIv3 key's text, or an error naming how to set it.
    pub fn require_apiv3_key(&self, command: &str) -> Result<String, Fail> {
        match &self.apiv3_key {
            Some(source) => source.read_text("APIv3 key"),
            None => Err(usage(format!(
                "{command} needs the APIv3 key: {SET_APIV3_KEY}"
            ))),
        }
    }

    /// The merchant private key, or an error naming how to set it.
    pub fn require_private_key(&self, command: &str) -> Result<PrivateKey, Fail> {
        match self.private_key()? {
            Some(loaded) => Ok(loaded.key),
            None => Err(usage(format!(
                "{command} needs the merchant private key: {SET_PRIVATE_KEY}"
            ))),
        }
    }

    /// The merchant private key when one is configured, decrypted with
    /// $WECHATPAY_PRIVATE_KEY_PASSPHRASE when that is set.
    pub fn private_key(&self) -> Result<Option<LoadedKey>, Fail> {
        let Some(source) = &self.private_key else {
            return Ok(None);
        };
        let pem = source.read("private key")?;
        let loaded = match &self.private_key_passphrase {
            Some(passphrase) => PrivateKey::load_with_passphrase(&pem, passphrase.as_bytes()),
            None => PrivateKey::load(&pem),
        };
        let key = loaded.map_err(|e| {
            let detail = detail(&e, "private key");
            if self.private_key_passphrase.is_none() && detail.contains("passphrase") {
                usage(format!(
                    "private key ({}) is passphrase-protected: set its passphrase in ${PASSPHRASE_VAR}",
                    source.origin()
                ))
            } else {
                usage(format!("private key ({}): {detail}", source.origin()))
            }
        })?;
        let pem = if self.private_key_passphrase.is_some() {
            key.as_openssl()
                .private_key_to_pem_pkcs8()
                .map_err(|_| usage("cannot re-encode the decrypted private key".to_owned()))?
        } else {
            pem
        };
        Ok(Some(LoadedKey { key, pem }))
    }

    /// The platform keys in a [`KeyRing`], filed as the client files them (a certificate under
    /// its serial, a public key under its id), so that [`KeyRing::preferred`] is the client's
    /// choice. An error when there is none.
    pub fn platform_ring(&self) -> Result<PlatformRing, Fail> {
        if self.platform_keys.is_empty() {
            return Err(usage(format!("no platform key: {SET_PLATFORM_KEY}")));
        }
        let ring = KeyRing::new();
        let mut ids = Vec::new();
        for (id, path) in &self.platform_keys {
            let pem = std::fs::read(path).map_err(|e| {
                usage(format!(
                    "platform key {}: cannot read `{}`: {e}",
                    shown_id(id),
                    path.display()
                ))
            })?;
            // The library's rule, as `--platform-key` gives it to the client.
            let filed = ring.add_platform_key(id, &pem).map_err(|e| {
                usage(format!(
                    "{} (`{}`)",
                    crate::fail::bare_message(&e),
                    path.display()
                ))
            })?;
            ids.push((id.clone(), filed));
        }
        Ok(PlatformRing { ring, ids })
    }

    /// Builds a client. With a `recorder`, requests are signed by a signer that also records
    /// each signed message (for `-v`). The merchant certificate is loaded only for
    /// `mutual_tls` (`--security`): its TLS configuration reads the system's root certificates,
    /// about 50 ms that every other command would pay for nothing.
    pub fn client(&self, recorder: Option<Recorder>, mutual_tls: bool) -> Result<Built, Fail> {
        let client = self
            .builder(recorder, mutual_tls, true, true)?
            .build()
            .map_err(Fail::from)?;
        Ok(Built { client })
    }

    /// A client for `v2/...` calls only: the merchant id and the APIv2 secret (an error naming
    /// how to set it when there is none), and for `mutual_tls` the merchant certificate and
    /// key. The APIv3 settings (serial, platform keys, APIv3 key) are left out: an APIv2 call
    /// needs none of them, so a profile without them is no error.
    pub fn apiv2_client(&self, mutual_tls: bool) -> Result<Built, Fail> {
        if self.secret.is_none() {
            return Err(usage(format!(
                "`v2/...` calls need the APIv2 secret: {SET_SECRET}"
            )));
        }
        let apiv2 = Settings {
            serial: None,
            platform_keys: Vec::new(),
            apiv3_key: None,
            // The private key only as the mutual-TLS identity's key.
            private_key: self.private_key.clone().filter(|_| mutual_tls),
            ..self.clone()
        };
        let client = apiv2
            .builder(None, mutual_tls, false, false)?
            .build()
            .map_err(Fail::from)?;
        Ok(Built { client })
    }

    /// A client builder with every setting but the platform keys, for a command that gives the
    /// client keys of its own (`crt --trust`).
    pub fn builder_without_platform_keys(&self) -> Result<ClientBuilder, Fail> {
        self.builder(None, false, false, true)
    }

    fn builder(
        &self,
        recorder: Option<Recorder>,
        mutual_tls: bool,
        platform_keys: bool,
        apiv3: bool,
    ) -> Result<ClientBuilder, Fail> {
        let mchid = self
            .mchid
            .clone()
            .ok_or_else(|| usage(format!("no merchant id: {SET_MCHID}")))?;
        let mut builder = Client::builder().mchid(mchid);
        if let Some(LoadedKey { key, pem }) = self.private_key()? {
            // The APIv3 signing key, unless this is an APIv2-only client.
            if apiv3 {
                builder = match recorder {
                    Some(recorder) => builder.signer(RecordingSigner { key, recorder }),
                    None => builder.private_key(&pem),
                };
            }
            if let Some(cert) = self.merchant_cert.as_ref().filter(|_| mutual_tls) {
                let cert_pem = std::fs::read(cert).map_err(|e| {
                    usage(format!(
                        "cannot read the merchant certificate `{}`: {e}",
                        cert.display()
                    ))
                })?;
                builder = builder.merchant_cert(cert_pem).merchant_key(&pem);
            }
        }
        if let Some(serial) = &self.serial {
            builder = builder.serial(serial);
        }
        if platform_keys {
            for (id, path) in &self.platform_keys {
                builder = builder.platform_key_file(id, path);
            }
            // Every request names the key `wxpay` trusts most, as the Go, Java and Python SDKs
            // do: WeChat Pay signs its answer with that key when the merchant has both kinds
            // (the migration from certificates to the public key).
            if !self.platform_keys.is_empty() {
                builder = builder.send_wechatpay_serial(true);
            }
        }
        if let Some(source) = &self.apiv3_key {
            builder = builder.apiv3_key(source.read_text("APIv3 key")?);
        }
        if let Some(source) = &self.secret {
            builder = builder.secret(source.read_text("APIv2 secret")?);
        }
        if let Some(uri) = &self.base_uri {
            builder = builder.base_uri(uri);
        }
        builder = builder.allow_insecure_http(self.allow_insecure_http);
        if let Some(root) = &self.root_certificate {
            let pem = std::fs::read(root).map_err(|e| {
                usage(format!(
                    "cannot read the root certificate `{}`: {e}",
                    root.display()
                ))
            })?;
            builder = builder.add_root_certificate(pem);
        }
        Ok(builder)
    }
}
