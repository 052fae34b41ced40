use std::fmt;
use std::path::Path;

use openssl::encrypt::{Decrypter, Encrypter};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::rsa::{Padding, Rsa};

use super::base64::{base64_decode, base64_encode};
use super::cert::Certificate;
use super::contexts::Contexts;
use super::der::{DerKind, classify};
use super::load::{Form, Prefix, parse_file, resolve};
use super::pem::{self, Block, FirstBlock, first_block};
use crate::error::{Error, Result};

const PRIVATE_FORMS: &str = "a PKCS#1 (`-----BEGIN RSA PRIVATE KEY-----`) or PKCS#8 \
                             (`-----BEGIN PRIVATE KEY-----`) PEM RSA private key";
const PRIVATE_DER_FORMS: &str = "a DER PKCS#1 or PKCS#8 RSA private key";
const PUBLIC_FORMS: &str = "an X.509 certificate (`-----BEGIN CERTIFICATE-----`), an SPKI public \
                            key (`-----BEGIN PUBLIC KEY-----`) or a PKCS#1 public key \
                            (`-----BEGIN RSA PUBLIC KEY-----`) in PEM";
const PUBLIC_DER_FORMS: &str = "a DER X.509 certificate, SPKI public key or PKCS#1 RSA public key";
const NEEDS_PASSPHRASE: &str = "found a passphrase-protected key; load it with \
                                `PrivateKey::load_with_passphrase(input, passphrase)`, or give it \
                                to a client builder with `.private_key_with_passphrase(..)` (the \
                                API key) or `.merchant_key_with_passphrase(..)` (APIv2 mutual TLS)";
/// OpenSSL hands passphrase callbacks a buffer of `PEM_BUFSIZE` bytes.
const MAX_PASSPHRASE: usize = 1024;

/// "found ..." for PEM input that holds none of the expected blocks.
pub(crate) fn found(input: &[u8]) -> String {
    match first_block(input) {
        FirstBlock::Label(label) => format!("found a `-----BEGIN {label}-----` block"),
        FirstBlock::Malformed => "found a malformed `-----BEGIN` line".to_owned(),
        FirstBlock::None => "found no `-----BEGIN` line".to_owned(),
    }
}

/// The DER of a PEM block, or `<what>` (plus the reason when the END line is missing: the only
/// reason that says more than "damaged").
pub(crate) fn block_der(
    block: Block<'_>,
    what: &str,
) -> std::result::Result<zeroize::Zeroizing<Vec<u8>>, String> {
    block.der.map(zeroize::Zeroizing::new).map_err(|why| {
        if why.contains("END") {
            format!("{what}: {why}")
        } else {
            what.to_owned()
        }
    })
}

fn passphrase_callback(
    passphrase: &[u8],
) -> impl FnOnce(&mut [u8]) -> std::result::Result<usize, ErrorStack> + '_ {
    move |buf: &mut [u8]| {
        if passphrase.len() > buf.len() {
            return Ok(0);
        }
        buf[..passphrase.len()].copy_from_slice(passphrase);
        Ok(passphrase.len())
    }
}

/// An RSA private key: the merchant's API key (`apiclient_key.pem`).
///
/// Loads from every form wechatpay-php accepts (see [`load`](Self::load)). Its `Debug` output
/// names the key size only, never the key.
///
/// ```
/// # let pem = openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap();
/// let key = wechatpay::crypto::PrivateKey::load(&pem).unwrap();
/// let signature = key.sign_sha256(b"message").unwrap();
/// assert!(key.public_key().unwrap().verify_sha256(b"message", &signature));
/// assert_eq!(format!("{key:?}"), "PrivateKey { bits: 2048 }");
/// ```
#[derive(Clone)]
pub struct PrivateKey {
    pkey: PKey<Private>,
    signers: Contexts<Private>,
}

impl PrivateKey {
    /// Loads an RSA private key from any of these forms:
    ///
    /// - PEM: PKCS#1 `-----BEGIN RSA PRIVATE KEY-----` or PKCS#8 `-----BEGIN PRIVATE KEY-----`
    ///   (the first such block; other blocks, such as a certificate, may surround it);
    /// - DER of either;
    /// - wechatpay-php's prefixes with bare base64 DER: `private.pkcs1://MIIE...` and
    ///   `private.pkcs8://MIIE...` (line breaks in the base64 are ignored);
    /// - `file://<path>`: the file is read and may hold any of the forms above (the path is
    ///   used as written, relative to the working directory unless absolute:
    ///   `file:///etc/wechatpay/apiclient_key.pem`). A bare path is not read; see
    ///   [`from_file`](Self::from_file).
    ///
    /// A passphrase-protected key needs [`load_with_passphrase`](Self::load_with_passphrase);
    /// OpenSSL never prompts for one. The [`Config`](crate::ErrorKind::Config) error says what
    /// was expected and what was found, and never quotes the input.
    ///
    /// ```
    /// use wechatpay::crypto::{base64_encode, PrivateKey};
    ///
    /// let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
    /// let pkcs1 = format!("private.pkcs1://{}", base64_encode(&rsa.private_key_to_der().unwrap()));
    /// assert_eq!(PrivateKey::load(pkcs1).unwrap().bits(), 2048);
    ///
    /// let err = PrivateKey::load("not a key").unwrap_err();
    /// assert_eq!(err.kind(), wechatpay::ErrorKind::Config);
    /// assert!(err.to_string().contains("expected a PKCS#1"));
    /// ```
    pub fn load(input: impl AsRef<[u8]>) -> Result<PrivateKey> {
        Self::parse(input.as_ref())
            .map_err(|reason| Error::config(format!("private key: {reason}")))
    }

    /// [`load`](Self::load) for a key that may be passphrase-protected: encrypted PKCS#8
    /// (`-----BEGIN ENCRYPTED PRIVATE KEY-----` or DER) or legacy encrypted PKCS#1
    /// (`Proc-Type: 4,ENCRYPTED`). An unencrypted key loads too (the passphrase is unused).
    ///
    /// ```
    /// use openssl::symm::Cipher;
    /// use wechatpay::crypto::PrivateKey;
    ///
    /// let pkey = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    /// let pem = pkey.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"secret").unwrap();
    /// assert!(PrivateKey::load(&pem).is_err());
    /// assert!(PrivateKey::load_with_passphrase(&pem, "wrong").is_err());
    /// let key = PrivateKey::load_with_passphrase(&pem, "secret").unwrap();
    /// assert_eq!(key.bits(), 2048);
    /// ```
    pub fn load_with_passphrase(
        input: impl AsRef<[u8]>,
        passphrase: impl AsRef<[u8]>,
    ) -> Result<PrivateKey> {
        let passphrase = passphrase.as_ref();
        if passphrase.len() >= MAX_PASSPHRASE {
            return Err(Error::config(format!(
                "private key: the passphrase is {} bytes; OpenSSL accepts at most {}",
                passphrase.len(),
                MAX_PASSPHRASE - 1
            )));
        }
        Self::parse_with(input.as_ref(), Some(passphrase))
            .map_err(|reason| Error::config(format!("private key: {reason}")))
    }

    /// Reads a key file (any form [`load`](Self::load) accepts, except that a `file://` inside
    /// the file is not followed). Errors name the path.
    pub fn from_file(path: impl AsRef<Path>) -> Result<PrivateKey> {
        parse_file(path.as_ref(), "private key", Self::parse)
    }

    /// The same as [`load`](Self::load); kept from the first release, when only PEM was read.
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<PrivateKey> {
        Self::load(pem)
    }

    pub(crate) fn parse(input: &[u8]) -> std::result::Result<PrivateKey, String> {
        Self::parse_with(input, None)
    }

    fn parse_with(
        input: &[u8],
        passphrase: Option<&[u8]>,
    ) -> std::result::Result<PrivateKey, String> {
        let pkey = match resolve(input)? {
            Form::Prefixed(prefix @ (Prefix::PublicPkcs1 | Prefix::PublicSpki), _) => {
                return Err(format!(
                    "expected a private key, found a `{}` public key",
                    prefix.as_str()
                ));
            }
            Form::Prefixed(prefix, der) => prefixed_private(prefix, &der)?,
            Form::Der(der) => private_from_der(&der, passphrase)?,
            Form::Pem(pem) => private_from_pem(&pem, passphrase)?,
            Form::Other(hint) => {
                return Err(format!(
                    "expected {PRIVATE_FORMS}, found no `-----BEGIN` line{hint}"
                ));
            }
        };
        if pkey.id() != Id::RSA {
            return Err(not_rsa(pkey.id()));
        }
        Ok(PrivateKey {
            pkey,
            signers: Contexts::default(),
        })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`: the raw signature bytes.
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.signers
            .sign_sha256(&self.pkey, message)
            .map_err(|e| Error::crypto_from("RSA-SHA256 signing failed", e))
    }

    /// RSAES-OAEP decryption (SHA-1, MGF1-SHA-1, empty label), as WeChat Pay encrypts the
    /// sensitive fields of its answers with the merchant's public key.
    ///
    /// There is deliberately no PKCS#1 v1.5 decryption (Bleichenbacher / Marvin). A failure is
    /// one [`Crypto`](crate::ErrorKind::Crypto) error whatever the cause (wrong key, damaged
    /// ciphertext), and never shows any plaintext.
    ///
    /// ```
    /// # let key = wechatpay::crypto::PrivateKey::load(openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap()).unwrap();
    /// let ciphertext = key.public_key().unwrap().encrypt_oaep(b"110101199003070000").unwrap();
    /// assert_eq!(key.decrypt_oaep(&ciphertext).unwrap(), b"110101199003070000");
    /// ```
    pub fn decrypt_oaep(&self, ciphertext: &[u8]) -> Result<Vec<u8>> {
        let failed =
            || Error::crypto("RSA-OAEP decryption failed (wrong key or damaged ciphertext)");
        let modulus = self.pkey.size();
        if ciphertext.len() != modulus {
            return Err(Error::crypto(format!(
                "RSA-OAEP ciphertext is {} bytes; this {}-bit key's are {modulus}",
                ciphertext.len(),
                self.bits()
            )));
        }
        let mut decrypter = Decrypter::new(&self.pkey).map_err(|_| failed())?;
        decrypter
            .set_rsa_padding(Padding::PKCS1_OAEP)
            .and_then(|()| decrypter.set_rsa_oaep_md(MessageDigest::sha1()))
            .and_then(|()| decrypter.set_rsa_mgf1_md(MessageDigest::sha1()))
            .map_err(|_| failed())?;
        let len = decrypter.decrypt_len(ciphertext).map_err(|_| failed())?;
        let mut out = vec![0; len];
        let n = decrypter
            .decrypt(ciphertext, &mut out)
            .map_err(|_| failed())?;
        out.truncate(n);
        Ok(out)
    }

    /// [`decrypt_oaep`](Self::decrypt_oaep) of a base64 field value, as UTF-8 text (WeChat Pay's
    /// sensitive fields are names, ID numbers, phone numbers...).
    ///
    /// Not base64 or not the key's ciphertext size: a [`Crypto`](crate::ErrorKind::Crypto)
    /// error; plaintext not UTF-8: a [`Decode`](crate::ErrorKind::Decode) error. Neither shows
    /// the plaintext.
    ///
    /// ```
    /// # let key = wechatpay::crypto::PrivateKey::load(openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap()).unwrap();
    /// let field = key.public_key().unwrap().encrypt_oaep_base64("张三").unwrap();
    /// assert_eq!(key.decrypt_oaep_base64(&field).unwrap(), "张三");
    /// ```
    pub fn decrypt_oaep_base64(&self, ciphertext: &str) -> Result<String> {
        let raw = base64_decode(ciphertext.trim())?;
        let plain = self.decrypt_oaep(&raw)?;
        String::from_utf8(plain).map_err(|e| {
            let err = e.utf8_error();
            Error::decode(
                format!(
                    "the RSA-OAEP plaintext is not UTF-8 (at byte {})",
                    err.valid_up_to()
                ),
                None,
                err,
            )
        })
    }

    /// The matching public key.
    pub fn public_key(&self) -> Result<PublicKey> {
        self.pkey
            .public_key_to_der()
            .and_then(|der| PKey::public_key_from_der(&der))
            .map(PublicKey::new)
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

fn prefixed_private(prefix: Prefix, der: &[u8]) -> std::result::Result<PKey<Private>, String> {
    let parsed = match prefix {
        Prefix::PrivatePkcs1 => Rsa::private_key_from_der(der).and_then(PKey::from_rsa),
        _ => PKey::private_key_from_pkcs8(der),
    };
    parsed.map_err(|_| match prefix {
        Prefix::PrivatePkcs1 => prefixed_error(
            prefix,
            der,
            DerKind::Pkcs1Private,
            (Prefix::PrivatePkcs8, DerKind::Pkcs8Private),
        ),
        _ => prefixed_error(
            prefix,
            der,
            DerKind::Pkcs8Private,
            (Prefix::PrivatePkcs1, DerKind::Pkcs1Private),
        ),
    })
}

/// Why a `private.*://` / `public.*://` value did not parse: its DER is the other form of the
/// same key (then say which prefix fits), a broken instance of the `expected` form, or
/// something else.
fn prefixed_error(
    prefix: Prefix,
    der: &[u8],
    expected: DerKind,
    (other_prefix, other_kind): (Prefix, DerKind),
) -> String {
    let kind = classify(der);
    let text = prefix.as_str();
    if kind == other_kind {
        format!(
            "the `{text}` value holds {}: use `{}`",
            kind.describe(),
            other_prefix.as_str()
        )
    } else if kind == expected {
        format!("the `{text}` value is not a valid {}", kind.describe())
    } else {
        format!(
            "the `{text}` value is not {}; found {}",
            expected.describe(),
            kind.describe()
        )
    }
}

fn private_from_der(
    der: &[u8],
    passphrase: Option<&[u8]>,
) -> std::result::Result<PKey<Private>, String> {
    let kind = classify(der);
    match kind {
        DerKind::Pkcs1Private => Rsa::private_key_from_der(der)
            .and_then(PKey::from_rsa)
            .map_err(|_| "the DER PKCS#1 RSA private key is not valid".to_owned()),
        DerKind::Pkcs8Private => PKey::private_key_from_pkcs8(der)
            .map_err(|_| "the DER PKCS#8 private key is not valid".to_owned()),
        DerKind::Pkcs8Encrypted => match passphrase {
            Some(pass) => PKey::private_key_from_pkcs8_callback(der, passphrase_callback(pass))
                .map_err(|_| {
                    "the passphrase does not decrypt the DER encrypted PKCS#8 key (or the key \
                     is damaged)"
                        .to_owned()
                }),
            None => Err(format!("expected {PRIVATE_DER_FORMS}, {NEEDS_PASSPHRASE}")),
        },
        // A valid key of a shape the peek does not know (multi-prime RSA, say): let OpenSSL try.
        DerKind::Unknown => PKey::private_key_from_der(der)
            .map_err(|_| format!("expected {PRIVATE_DER_FORMS}, found {}", kind.describe())),
        _ => Err(format!(
            "expected {PRIVATE_DER_FORMS}, found {}",
            kind.describe()
        )),
    }
}

fn private_from_pem(
    pem: &[u8],
    passphrase: Option<&[u8]>,
) -> std::result::Result<PKey<Private>, String> {
    if let Some(block) = pem::block(pem, "ENCRYPTED PRIVATE KEY") {
        let Some(pass) = passphrase else {
            return Err(format!("expected {PRIVATE_FORMS}, {NEEDS_PASSPHRASE}"));
        };
        let der = block_der(
            block,
            "the ENCRYPTED PRIVATE KEY PEM block is not a valid encrypted key",
        )?;
        return PKey::private_key_from_pkcs8_callback(&der, passphrase_callback(pass)).map_err(
            |_| {
                "the passphrase does not decrypt the ENCRYPTED PRIVATE KEY PEM block (or the \
                 block is damaged)"
                    .to_owned()
            },
        );
    }
    if let Some(block) = pem::block(pem, "RSA PRIVATE KEY") {
        if block.encrypted {
            let Some(pass) = passphrase else {
                return Err(format!("expected {PRIVATE_FORMS}, {NEEDS_PASSPHRASE}"));
            };
            return Rsa::private_key_from_pem_callback(block.text, passphrase_callback(pass))
                .and_then(PKey::from_rsa)
                .map_err(|_| {
                    "the passphrase does not decrypt the encrypted PKCS#1 PEM block (or the \
                     block is damaged)"
                        .to_owned()
                });
        }
        const WHAT: &str = "the PKCS#1 PEM block is not a valid RSA private key";
        let der = block_der(block, WHAT)?;
        return Rsa::private_key_from_der(&der)
            .and_then(PKey::from_rsa)
            .map_err(|_| WHAT.to_owned());
    }
    if let Some(block) = pem::block(pem, "PRIVATE KEY") {
        const WHAT: &str = "the PKCS#8 PEM block is not a valid private key";
        let der = block_der(block, WHAT)?;
        return PKey::private_key_from_pkcs8(&der).map_err(|_| WHAT.to_owned());
    }
    Err(format!("expected {PRIVATE_FORMS}, {}", found(pem)))
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
/// let key = wechatpay::crypto::PublicKey::load(&spki).unwrap();
/// assert!(!key.verify_sha256(b"message", b"not a signature"));
/// ```
#[derive(Clone)]
pub struct PublicKey {
    pkey: PKey<Public>,
    verifiers: Contexts<Public>,
}

impl PublicKey {
    fn new(pkey: PKey<Public>) -> PublicKey {
        PublicKey {
            pkey,
            verifiers: Contexts::default(),
        }
    }

    /// Loads an RSA public key from any of these forms:
    ///
    /// - PEM: an X.509 `-----BEGIN CERTIFICATE-----` (its public key is used), an SPKI
    ///   `-----BEGIN PUBLIC KEY-----` (WeChat Pay's `pub_key.pem`) or a PKCS#1
    ///   `-----BEGIN RSA PUBLIC KEY-----`;
    /// - DER of any of them;
    /// - wechatpay-php's prefixes with bare base64 DER: `public.spki://MIIB...` and
    ///   `public.pkcs1://MIIB...`;
    /// - `file://<path>`, as for [`PrivateKey::load`].
    ///
    /// A private key is refused (without being quoted). For a certificate's serial number and
    /// validity period, load it as a [`Certificate`].
    ///
    /// ```
    /// use wechatpay::crypto::{base64_encode, PublicKey};
    ///
    /// let pkey = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    /// let spki = format!("public.spki://{}", base64_encode(&pkey.public_key_to_der().unwrap()));
    /// assert_eq!(PublicKey::load(spki).unwrap().bits(), 2048);
    /// ```
    pub fn load(input: impl AsRef<[u8]>) -> Result<PublicKey> {
        Self::parse(input.as_ref())
            .map(|(key, _)| key)
            .map_err(|reason| Error::config(format!("public key: {reason}")))
    }

    /// Reads a public key or certificate file (any form [`load`](Self::load) accepts, except
    /// that a `file://` inside the file is not followed). Errors name the path.
    pub fn from_file(path: impl AsRef<Path>) -> Result<PublicKey> {
        parse_file(path.as_ref(), "public key", |input| {
            Self::parse(input).map(|(key, _)| key)
        })
    }

    /// The same as [`load`](Self::load); kept from the first release, when only PEM was read.
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<PublicKey> {
        Self::load(pem)
    }

    /// Parses as [`load`](Self::load) does and also returns the certificate serial (uppercase
    /// hex, no leading zero bytes, see [`Certificate::serial`]) when the input is a certificate.
    pub(crate) fn parse(input: &[u8]) -> std::result::Result<(PublicKey, Option<String>), String> {
        let (pkey, serial) = match resolve(input)? {
            Form::Prefixed(prefix @ (Prefix::PrivatePkcs1 | Prefix::PrivatePkcs8), _) => {
                return Err(format!(
                    "expected a public key or certificate, found a `{}` private key",
                    prefix.as_str()
                ));
            }
            Form::Prefixed(prefix, der) => (prefixed_public(prefix, &der)?, None),
            Form::Der(der) => public_from_der(&der)?,
            Form::Pem(pem) => public_from_pem(&pem)?,
            Form::Other(hint) => {
                return Err(format!(
                    "expected {PUBLIC_FORMS}, found no `-----BEGIN` line{hint}"
                ));
            }
        };
        Self::from_pkey(pkey).map(|key| (key, serial))
    }

    pub(crate) fn from_pkey(pkey: PKey<Public>) -> std::result::Result<PublicKey, String> {
        if pkey.id() != Id::RSA {
            return Err(not_rsa(pkey.id()));
        }
        Ok(PublicKey::new(pkey))
    }

    /// Checks an RSASSA-PKCS1-v1_5 / SHA-256 `signature` over `message`.
    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verify_sha256_parts(&[message], signature)
    }

    /// [`verify_sha256`](Self::verify_sha256) over the message made of `parts`, one after
    /// the other, without joining them into one buffer (a response's body may be large).
    pub(crate) fn verify_sha256_parts(&self, parts: &[&[u8]], signature: &[u8]) -> bool {
        self.verifiers.verify_sha256(&self.pkey, parts, signature)
    }

    /// RSAES-OAEP encryption (SHA-1, MGF1-SHA-1, empty label), as WeChat Pay requires for the
    /// sensitive fields of a request (names, ID numbers...). Randomised: two calls give
    /// different ciphertexts. A 2048-bit key takes at most 214 bytes of plaintext.
    ///
    /// ```
    /// # let key = wechatpay::crypto::PrivateKey::load(openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap()).unwrap();
    /// let public = key.public_key().unwrap();
    /// assert_eq!(public.encrypt_oaep(b"x").unwrap().len(), 256);
    /// assert!(public.encrypt_oaep(&[b'x'; 215]).is_err());
    /// ```
    pub fn encrypt_oaep(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let modulus = self.pkey.size();
        // OAEP with SHA-1: k - 2 * 20 - 2 bytes of room.
        let room = modulus.saturating_sub(42);
        if plaintext.len() > room {
            return Err(Error::crypto(format!(
                "RSA-OAEP plaintext is {} bytes; a {}-bit key takes at most {room}",
                plaintext.len(),
                self.bits()
            )));
        }
        let failed = |e| Error::crypto_from("RSA-OAEP encryption failed", e);
        let mut encrypter = Encrypter::new(&self.pkey).map_err(failed)?;
        encrypter
            .set_rsa_padding(Padding::PKCS1_OAEP)
            .and_then(|()| encrypter.set_rsa_oaep_md(MessageDigest::sha1()))
            .and_then(|()| encrypter.set_rsa_mgf1_md(MessageDigest::sha1()))
            .map_err(failed)?;
        let len = encrypter.encrypt_len(plaintext).map_err(failed)?;
        let mut out = vec![0; len];
        let n = encrypter.encrypt(plaintext, &mut out).map_err(failed)?;
        out.truncate(n);
        Ok(out)
    }

    /// [`encrypt_oaep`](Self::encrypt_oaep) of a text field, base64-encoded: the value to put in
    /// the request JSON.
    pub fn encrypt_oaep_base64(&self, plaintext: &str) -> Result<String> {
        self.encrypt_oaep(plaintext.as_bytes())
            .map(|c| base64_encode(&c))
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

fn prefixed_public(prefix: Prefix, der: &[u8]) -> std::result::Result<PKey<Public>, String> {
    let parsed = match prefix {
        Prefix::PublicPkcs1 => Rsa::public_key_from_der_pkcs1(der).and_then(PKey::from_rsa),
        _ => PKey::public_key_from_der(der),
    };
    parsed.map_err(|_| match prefix {
        Prefix::PublicPkcs1 => prefixed_error(
            prefix,
            der,
            DerKind::Pkcs1Public,
            (Prefix::PublicSpki, DerKind::Spki),
        ),
        _ => prefixed_error(
            prefix,
            der,
            DerKind::Spki,
            (Prefix::PublicPkcs1, DerKind::Pkcs1Public),
        ),
    })
}

type PublicParts = (PKey<Public>, Option<String>);

fn from_certificate(cert: Certificate) -> PublicParts {
    let serial = cert.serial().to_owned();
    (cert.public_key().as_openssl().clone(), Some(serial))
}

fn public_from_der(der: &[u8]) -> std::result::Result<PublicParts, String> {
    let kind = classify(der);
    match kind {
        DerKind::Certificate => Certificate::parse_der(der).map(from_certificate),
        DerKind::Spki => PKey::public_key_from_der(der)
            .map(|k| (k, None))
            .map_err(|_| "the DER SPKI public key is not valid".to_owned()),
        DerKind::Pkcs1Public => Rsa::public_key_from_der_pkcs1(der)
            .and_then(PKey::from_rsa)
            .map(|k| (k, None))
            .map_err(|_| "the DER PKCS#1 RSA public key is not valid".to_owned()),
        _ => Err(format!(
            "expected {PUBLIC_DER_FORMS}, found {}",
            kind.describe()
        )),
    }
}

fn public_from_pem(pem: &[u8]) -> std::result::Result<PublicParts, String> {
    if let Some(block) = pem::block(pem, "CERTIFICATE") {
        const WHAT: &str = "the CERTIFICATE PEM block is not a valid X.509 certificate";
        let der = block_der(block, WHAT)?;
        return Certificate::parse_der(&der)
            .map(from_certificate)
            .map_err(|_| WHAT.to_owned());
    }
    if let Some(block) = pem::block(pem, "RSA PUBLIC KEY") {
        const WHAT: &str = "the PKCS#1 PEM block is not a valid RSA public key";
        let der = block_der(block, WHAT)?;
        return Rsa::public_key_from_der_pkcs1(&der)
            .and_then(PKey::from_rsa)
            .map(|k| (k, None))
            .map_err(|_| WHAT.to_owned());
    }
    if let Some(block) = pem::block(pem, "PUBLIC KEY") {
        const WHAT: &str = "the SPKI PEM block is not a valid public key";
        let der = block_der(block, WHAT)?;
        return PKey::public_key_from_der(&der)
            .map(|k| (k, None))
            .map_err(|_| WHAT.to_owned());
    }
    Err(format!("expected {PUBLIC_FORMS}, {}", found(pem)))
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("bits", &self.bits())
            .finish()
    }
}

/// The error for a key of another algorithm, named as people know it.
fn not_rsa(id: Id) -> String {
    let name = match id {
        Id::EC => "an EC (elliptic curve)",
        Id::ED25519 => "an Ed25519",
        Id::ED448 => "an Ed448",
        Id::X25519 => "an X25519",
        Id::X448 => "an X448",
        Id::DSA => "a DSA",
        Id::DH => "a DH",
        Id::RSA_PSS => "an RSA-PSS (restricted to PSS signatures)",
        Id::SM2 => "an SM2",
        Id::HMAC => "an HMAC",
        _ => "another kind of",
    };
    format!("expected an RSA key (WeChat Pay's are RSA-2048), found {name} key")
}
