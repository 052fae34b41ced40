//! The test suite's key material: the sandbox's process-wide identity (`Sandbox::start()`
//! without a keys directory generates it once per process), its platform private keys, and
//! one unrelated key. One set per process, shared by the sandbox-backed servers (every test
//! server is one), the benchmarks' server and the tests that sign or verify by hand.
//!
//! The merchant id and the public key id are the sandbox's (random per process), so they are
//! functions ([`mchid`], `keys().pubkey_id`), not constants: a test that needs a fixed
//! merchant id for a payload the sandbox does not check (APIv2 `mch_id`) keeps its own.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;
use wechatpay_sandbox::{Identity, Sandbox};

/// Every key the servers and the tests need. No `Debug`: it holds private keys.
pub struct TestKeys {
    /// The sandbox's identity, as `Sandbox::identity` gives it.
    pub identity: Identity,
    /// The merchant id every APIv3 request must carry (10 digits, random per process).
    pub mchid: String,
    /// The merchant certificate's serial: 40 uppercase hex chars.
    pub merchant_serial: String,
    /// The merchant private key as `-----BEGIN PRIVATE KEY-----` (PKCS#8).
    pub merchant_key_pkcs8_pem: String,
    /// The same key as `-----BEGIN RSA PRIVATE KEY-----` (PKCS#1).
    pub merchant_key_pkcs1_pem: String,
    /// The merchant public key: what requests are verified with.
    pub merchant_public: PKey<Public>,
    /// The platform certificate's serial, uppercase hex.
    pub platform_serial: String,
    /// The platform certificate (PEM), issued by the sandbox CA.
    pub platform_cert_pem: String,
    /// The private key of the platform certificate.
    pub platform_private: PKey<Private>,
    /// The WeChat Pay public key's id, `PUB_KEY_ID_` and digits.
    pub pubkey_id: String,
    /// The platform public key as `-----BEGIN PUBLIC KEY-----` (SPKI).
    pub pubkey_spki_pem: String,
    /// The same key as `-----BEGIN RSA PUBLIC KEY-----` (PKCS#1).
    pub pubkey_pkcs1_pem: String,
    /// The private half of the platform public key.
    pub pubkey_private: PKey<Private>,
    /// The APIv3 key (32 characters).
    pub apiv3_key: String,
    /// The APIv2 secret the sandbox signs and checks with (32 characters).
    pub apiv2_secret: String,
    /// An unrelated key, for "signed with the wrong key" cases.
    pub other_private: PKey<Private>,
}

static KEYS: OnceLock<TestKeys> = OnceLock::new();

/// The keys of this process (generated on first use).
pub fn keys() -> &'static TestKeys {
    KEYS.get_or_init(load)
}

/// The merchant id of [`keys`].
pub fn mchid() -> &'static str {
    &keys().mchid
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("system clock is before 1970")
        .as_secs() as i64
}

/// `len` random characters from `[0-9A-Za-z]`.
pub fn random_alnum(len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        openssl::rand::rand_bytes(&mut buf).expect("openssl rand_bytes");
        for &b in &buf {
            // 248 = 4 * 62: rejecting the rest keeps the distribution uniform.
            if b < 248 && out.len() < len {
                out.push(ALPHABET[(b % 62) as usize] as char);
            }
        }
    }
    out
}

/// `n_bytes` random bytes as uppercase hex (`2 * n_bytes` chars).
pub fn random_hex_upper(n_bytes: usize) -> String {
    let mut buf = vec![0u8; n_bytes];
    openssl::rand::rand_bytes(&mut buf).expect("openssl rand_bytes");
    buf.iter().map(|b| format!("{b:02X}")).collect()
}

fn pem_string(pem: Vec<u8>) -> String {
    String::from_utf8(pem).expect("PEM is ASCII")
}

fn load() -> TestKeys {
    let other = std::thread::spawn(|| {
        PKey::from_rsa(Rsa::generate(2048).expect("generate RSA-2048 key")).expect("wrap RSA key")
    });
    // The sandbox shares its generated keys with every sandbox of the process.
    let sandbox = Sandbox::start().expect("the sandbox starts");
    let identity = sandbox.identity().clone();
    let private = sandbox
        .platform_private_keys()
        .expect("the sandbox's platform keys");
    drop(sandbox);
    let private_key = |pem: &str| PKey::private_key_from_pem(pem.as_bytes()).expect("PEM key");
    let merchant = private_key(&identity.merchant_private_key_pem);
    let pubkey_private = private_key(&private.public_key_private_pem);
    let merchant_key_pkcs1_pem = pem_string(
        merchant
            .rsa()
            .expect("merchant key is RSA")
            .private_key_to_pem()
            .expect("merchant key to PKCS#1 PEM"),
    );
    let merchant_public = PKey::public_key_from_pem(
        &merchant
            .public_key_to_pem()
            .expect("merchant public key to PEM"),
    )
    .expect("merchant public key from PEM");
    let pubkey_pkcs1_pem = pem_string(
        pubkey_private
            .rsa()
            .expect("platform public key is RSA")
            .public_key_to_pem_pkcs1()
            .expect("platform public key to PKCS#1 PEM"),
    );
    TestKeys {
        mchid: identity.mchid.clone(),
        merchant_serial: identity.merchant_serial.clone(),
        merchant_key_pkcs8_pem: identity.merchant_private_key_pem.clone(),
        merchant_key_pkcs1_pem,
        merchant_public,
        platform_serial: identity.platform_serial.clone(),
        platform_cert_pem: identity.platform_certificate_pem.clone(),
        platform_private: private_key(&private.certificate_key_pem),
        pubkey_id: identity.public_key_id.clone(),
        pubkey_spki_pem: identity.public_key_pem.clone(),
        pubkey_pkcs1_pem,
        pubkey_private,
        apiv3_key: identity.apiv3_key.clone(),
        apiv2_secret: identity.apiv2_secret.clone(),
        other_private: other.join().expect("key generation thread"),
        identity,
    }
}
