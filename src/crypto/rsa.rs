use std::fmt;

use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::x509::X509;

use super::pem::{FirstBlock, first_block, has_label};
use crate::error::{Error, Result};

const PRIVATE_FORMS: &str = "a PKCS#1 (`-----BEGIN RSA PRIVATE KEY-----`) or PKCS#8 \
                             (`-----BEGIN PRIVATE KEY-----`) PEM RSA private key";
const PUBLIC_FORMS: &str = "an X.509 certificate (`-----BEGIN CERTIFICATE-----`), an SPKI public \
                            key (`-----BEGIN PUBLIC KEY-----`) or a PKCS#1 public key \
                            (`-----BEGIN RSA PUBLIC KEY-----`) in PEM";

fn found(input: &[u8]) -> String {
    match first_block(input) {
        FirstBlock::Label(label) => format!("found a `-----BEGIN {label}-----` block"),
        FirstBlock::Malformed => "found a malformed `-----BEGIN` line".to_owned(),
        FirstBlock::None => "found no `-----BEGIN` line".to_owned(),
    }
}

/// An RSA private key: the merchant's API key (`apiclient_key.pem`).
///
/// Its `Debug` output names the key size only, never the key.
///
/// ```
/// # let pem = openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap();
/// let key = wechatpay::crypto::PrivateKey::from_pem(&pem).unwrap();
/// let signature = key.sign_sha256(b"message").unwrap();
/// assert!(key.public_key().unwrap().verify_sha256(b"message", &signature));
/// assert_eq!(format!("{key:?}"), "PrivateKey { bits: 2048 }");
/// ```
#[derive(Clone)]
pub struct PrivateKey {
    pkey: PKey<Private>,
}

impl PrivateKey {
    /// Parses a PKCS#1 (`RSA PRIVATE KEY`) or unencrypted PKCS#8 (`PRIVATE KEY`) PEM.
    ///
    /// The error says what was expected and what was found, and never quotes the input.
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<PrivateKey> {
        Self::parse(pem.as_ref()).map_err(|reason| Error::config(format!("private key: {reason}")))
    }

    pub(crate) fn parse(pem: &[u8]) -> std::result::Result<PrivateKey, String> {
        // A passphrase callback that offers an empty passphrase keeps OpenSSL from prompting on
        // the terminal when it meets an encrypted key.
        let no_passphrase = |_: &mut [u8]| Ok(0);
        let pkey = if has_label(pem, "ENCRYPTED PRIVATE KEY") || has_encrypted_pkcs1(pem) {
            return Err(format!(
                "expected {PRIVATE_FORMS}, found a passphrase-protected key; decrypt it first \
                 (openssl pkey -in key.pem -out plain.pem)"
            ));
        } else if has_label(pem, "RSA PRIVATE KEY") {
            openssl::rsa::Rsa::private_key_from_pem_callback(pem, no_passphrase)
                .and_then(PKey::from_rsa)
                .map_err(|_| "the PKCS#1 PEM block is not a valid RSA private key".to_owned())?
        } else if has_label(pem, "PRIVATE KEY") {
            PKey::private_key_from_pem_callback(pem, no_passphrase)
                .map_err(|_| "the PKCS#8 PEM block is not a valid private key".to_owned())?
        } else {
            return Err(format!("expected {PRIVATE_FORMS}, {}", found(pem)));
        };
        if pkey.id() != Id::RSA {
            return Err(format!("expected an RSA key, found a {:?} key", pkey.id()));
        }
        Ok(PrivateKey { pkey })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`: the raw signature bytes.
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>> {
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &self.pkey)
            .map_err(|e| Error::crypto_from("cannot initialise RSA-SHA256 signing", e))?;
        signer
            .sign_oneshot_to_vec(message)
            .map_err(|e| Error::crypto_from("RSA-SHA256 signing failed", e))
    }

    /// The matching public key.
    pub fn public_key(&self) -> Result<PublicKey> {
        self.pkey
            .public_key_to_der()
            .and_then(|der| PKey::public_key_from_der(&der))
            .map(|pkey| PublicKey { pkey })
            .map_err(|e| Error::crypto_from("cannot extract the public key", e))
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> u32 {
        self.pkey.bits()
    }

    /// The OpenSSL key, for operations this crate does not wrap.
    pub fn as_openssl(&self) -> &PKey<Private> {
        &self.pkey
    }
}

fn has_encrypted_pkcs1(pem: &[u8]) -> bool {
    has_label(pem, "RSA PRIVATE KEY") && pem.windows(17).any(|w| w == b"Proc-Type: 4,ENCR")
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("bits", &self.bits())
            .finish()
    }
}

/// An RSA public key: a platform certificate's key or a WeChat Pay public key.
///
/// ```
/// # let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
/// # let spki = openssl::pkey::PKey::from_rsa(rsa).unwrap().public_key_to_pem().unwrap();
/// let key = wechatpay::crypto::PublicKey::from_pem(&spki).unwrap();
/// assert!(!key.verify_sha256(b"message", b"not a signature"));
/// ```
#[derive(Clone)]
pub struct PublicKey {
    pkey: PKey<Public>,
}

impl PublicKey {
    /// Parses an X.509 certificate (its public key is used), an SPKI `PUBLIC KEY` or a PKCS#1
    /// `RSA PUBLIC KEY`, all in PEM.
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<PublicKey> {
        Self::parse(pem.as_ref())
            .map(|(key, _)| key)
            .map_err(|reason| Error::config(format!("public key: {reason}")))
    }

    /// Parses as [`from_pem`](Self::from_pem) does and also returns the certificate serial
    /// (uppercase hex, no leading zero bytes) when the input is a certificate.
    pub(crate) fn parse(pem: &[u8]) -> std::result::Result<(PublicKey, Option<String>), String> {
        let (pkey, serial) = if has_label(pem, "CERTIFICATE") {
            let cert = X509::from_pem(pem)
                .map_err(|_| "the CERTIFICATE PEM block is not a valid X.509 certificate")?;
            let serial = cert
                .serial_number()
                .to_bn()
                .and_then(|bn| bn.to_hex_str().map(|s| s.to_string()))
                .map_err(|_| "the certificate's serial number cannot be read")?;
            let pkey = cert
                .public_key()
                .map_err(|_| "the certificate's public key cannot be read")?;
            (pkey, Some(serial))
        } else if has_label(pem, "RSA PUBLIC KEY") {
            let rsa = openssl::rsa::Rsa::public_key_from_pem_pkcs1(pem)
                .map_err(|_| "the PKCS#1 PEM block is not a valid RSA public key")?;
            (PKey::from_rsa(rsa).map_err(|e| e.to_string())?, None)
        } else if has_label(pem, "PUBLIC KEY") {
            let pkey = PKey::public_key_from_pem(pem)
                .map_err(|_| "the SPKI PEM block is not a valid public key")?;
            (pkey, None)
        } else {
            return Err(format!("expected {PUBLIC_FORMS}, {}", found(pem)));
        };
        if pkey.id() != Id::RSA {
            return Err(format!("expected an RSA key, found a {:?} key", pkey.id()));
        }
        Ok((PublicKey { pkey }, serial))
    }

    /// Checks an RSASSA-PKCS1-v1_5 / SHA-256 `signature` over `message`.
    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        openssl::sign::Verifier::new(MessageDigest::sha256(), &self.pkey)
            .and_then(|mut v| v.verify_oneshot(signature, message))
            .unwrap_or(false)
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> u32 {
        self.pkey.bits()
    }

    /// The OpenSSL key, for operations this crate does not wrap.
    pub fn as_openssl(&self) -> &PKey<Public> {
        &self.pkey
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("bits", &self.bits())
            .finish()
    }
}
