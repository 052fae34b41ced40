//! Key material for the fake WeChat Pay server: generated once per test binary.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage};
use openssl::x509::{X509, X509NameBuilder};

/// The merchant id every request must carry.
pub const MCHID: &str = "1900012181";
/// The id of the platform public key (the "public key mode" of WeChat Pay).
pub const PUB_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";

/// Every key the fake server and the tests need.
pub struct TestKeys {
    /// 40 uppercase hex chars, random per process.
    pub merchant_serial: String,
    /// The merchant private key as `-----BEGIN PRIVATE KEY-----` (PKCS#8).
    pub merchant_key_pkcs8_pem: String,
    /// The same key as `-----BEGIN RSA PRIVATE KEY-----` (PKCS#1).
    pub merchant_key_pkcs1_pem: String,
    /// The merchant public key: what the server verifies requests with.
    pub merchant_public: PKey<Public>,
    /// The platform certificate's serial, uppercase hex without leading zero bytes.
    pub platform_serial: String,
    /// Self-signed X.509 platform certificate (PEM), valid from now-1day to now+1year.
    pub platform_cert_pem: String,
    /// The private key of the platform certificate.
    pub platform_private: PKey<Private>,
    /// Always [`PUB_KEY_ID`].
    pub pubkey_id: String,
    /// The platform public key as `-----BEGIN PUBLIC KEY-----` (SPKI).
    pub pubkey_spki_pem: String,
    /// The same key as `-----BEGIN RSA PUBLIC KEY-----` (PKCS#1).
    pub pubkey_pkcs1_pem: String,
    /// The private half of the platform public key.
    pub pubkey_private: PKey<Private>,
    /// An unrelated key, for "signed with the wrong key" faults.
    pub other_private: PKey<Private>,
}

static KEYS: OnceLock<TestKeys> = OnceLock::new();

/// The keys of this test binary (RSA-2048, generated on first use).
pub fn keys() -> &'static TestKeys {
    KEYS.get_or_init(generate)
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

fn rsa2048() -> PKey<Private> {
    let rsa = Rsa::generate(2048).expect("generate RSA-2048 key");
    PKey::from_rsa(rsa).expect("wrap RSA key")
}

fn pem_string(pem: Vec<u8>) -> String {
    String::from_utf8(pem).expect("PEM is ASCII")
}

fn generate() -> TestKeys {
    // Four independent keys: generate them side by side.
    let mut generated: Vec<PKey<Private>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(rsa2048)).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("key generation thread panicked"))
            .collect()
    });
    let other_private = generated.pop().expect("4 keys");
    let pubkey_private = generated.pop().expect("4 keys");
    let platform_private = generated.pop().expect("4 keys");
    let merchant = generated.pop().expect("4 keys");

    let merchant_rsa = merchant.rsa().expect("merchant key is RSA");
    let merchant_key_pkcs8_pem = pem_string(
        merchant
            .private_key_to_pem_pkcs8()
            .expect("merchant key to PKCS#8 PEM"),
    );
    let merchant_key_pkcs1_pem = pem_string(
        merchant_rsa
            .private_key_to_pem()
            .expect("merchant key to PKCS#1 PEM"),
    );
    let merchant_public = PKey::public_key_from_pem(
        &merchant
            .public_key_to_pem()
            .expect("merchant public key to PEM"),
    )
    .expect("merchant public key from PEM");

    let (platform_serial, platform_cert_pem) = platform_certificate(&platform_private);

    let pubkey_rsa = pubkey_private.rsa().expect("platform public key is RSA");
    let pubkey_spki_pem = pem_string(
        pubkey_private
            .public_key_to_pem()
            .expect("platform public key to SPKI PEM"),
    );
    let pubkey_pkcs1_pem = pem_string(
        pubkey_rsa
            .public_key_to_pem_pkcs1()
            .expect("platform public key to PKCS#1 PEM"),
    );

    TestKeys {
        merchant_serial: random_hex_upper(20),
        merchant_key_pkcs8_pem,
        merchant_key_pkcs1_pem,
        merchant_public,
        platform_serial,
        platform_cert_pem,
        platform_private,
        pubkey_id: PUB_KEY_ID.to_owned(),
        pubkey_spki_pem,
        pubkey_pkcs1_pem,
        pubkey_private,
        other_private,
    }
}

/// A self-signed certificate for `key`; returns (serial as uppercase hex, PEM).
fn platform_certificate(key: &PKey<Private>) -> (String, String) {
    // 20 serial bytes whose first byte is 0x10..=0x7F: the serial is positive,
    // needs no DER padding byte, and prints as exactly 40 hex digits.
    let mut serial_bytes = [0u8; 20];
    openssl::rand::rand_bytes(&mut serial_bytes).expect("openssl rand_bytes");
    serial_bytes[0] = 0x10 + serial_bytes[0] % 0x70;
    let serial_bn = BigNum::from_slice(&serial_bytes).expect("serial BigNum");
    let serial_hex = serial_bn.to_hex_str().expect("serial to hex").to_string();
    let serial = Asn1Integer::from_bn(&serial_bn).expect("serial ASN.1 integer");

    let mut name = X509NameBuilder::new().expect("X509 name builder");
    name.append_entry_by_text("C", "CN").expect("name C");
    name.append_entry_by_text("O", "Tenpay.com")
        .expect("name O");
    name.append_entry_by_text("OU", "Tenpay.com CA Center")
        .expect("name OU");
    name.append_entry_by_text("CN", "WeChat Pay test platform certificate")
        .expect("name CN");
    let name = name.build();

    let now = now_unix();
    let not_before = Asn1Time::from_unix(now - 86_400).expect("not_before");
    let not_after = Asn1Time::from_unix(now + 365 * 86_400).expect("not_after");

    let mut builder = X509::builder().expect("X509 builder");
    builder.set_version(2).expect("X509 v3");
    builder.set_serial_number(&serial).expect("set serial");
    builder.set_subject_name(&name).expect("set subject");
    builder.set_issuer_name(&name).expect("set issuer");
    builder.set_pubkey(key).expect("set public key");
    builder.set_not_before(&not_before).expect("set not_before");
    builder.set_not_after(&not_after).expect("set not_after");
    builder
        .append_extension(BasicConstraints::new().critical().build().expect("bc"))
        .expect("add basicConstraints");
    builder
        .append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .non_repudiation()
                .key_encipherment()
                .build()
                .expect("ku"),
        )
        .expect("add keyUsage");
    builder
        .sign(key, MessageDigest::sha256())
        .expect("self-sign platform certificate");
    let cert = builder.build();
    let pem = pem_string(cert.to_pem().expect("certificate to PEM"));
    (serial_hex, pem)
}
