//! Cryptographic building blocks, all on OpenSSL.
//!
//! - Keys: [`PrivateKey`] (the merchant API key: RSA-SHA256 signing, RSA-OAEP decryption),
//!   [`PublicKey`] (a platform certificate's key or a WeChat Pay public key: verification,
//!   RSA-OAEP encryption) and [`Certificate`] (serial, validity, public key). Each loads from
//!   every form wechatpay-php accepts: PKCS#1 / PKCS#8 / SPKI / X.509 PEM, DER,
//!   `private.pkcs1://`, `private.pkcs8://`, `public.pkcs1://`, `public.spki://` bare base64,
//!   `file://` paths, and passphrase-protected private keys
//!   ([`PrivateKey::load_with_passphrase`]). OpenSSL never prompts on a terminal.
//! - AES-256-GCM ([`aes_256_gcm_encrypt`], [`aes_256_gcm_decrypt`], [`Apiv3Key`]) for callbacks
//!   and platform certificates; AES-256-ECB with PKCS#7 ([`aes_256_ecb_encrypt`],
//!   [`aes_256_ecb_decrypt`]) for APIv2 refund callbacks.
//! - Digests: [`md5`], [`sha1`], [`sha256`], [`hmac_sha256`], [`hex_lower`], [`hex_upper`],
//!   and [`constant_time_eq`] to compare MACs.
//! - [`nonce`]: 32 random `[0-9A-Za-z]` characters from OpenSSL's CSPRNG.
//! - [`base64_encode`] / [`base64_decode`]: standard base64 with padding.
//!
//! Errors: unusable key material is a [`Config`](crate::ErrorKind::Config) error that says what
//! was expected and what was found; an operation that fails (wrong tag, wrong key length, bad
//! padding) is a [`Crypto`](crate::ErrorKind::Crypto) error. No error, and no `Debug` output,
//! ever shows a key, the APIv3 key or a decrypted plaintext.
//!
//! PKCS#1 v1.5 *decryption* is deliberately absent (Bleichenbacher / Marvin).
//!
//! ```
//! use wechatpay::crypto::{PrivateKey, base64_decode, base64_encode};
//!
//! # let pem = openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap();
//! let merchant = PrivateKey::load(&pem)?;              // or "file:///path/apiclient_key.pem"
//! let public = merchant.public_key()?;
//!
//! // A sensitive field, encrypted for its owner and decrypted by it.
//! let field = public.encrypt_oaep_base64("110101199003070000")?;
//! assert_eq!(merchant.decrypt_oaep_base64(&field)?, "110101199003070000");
//!
//! // A signature, as WeChat Pay checks it.
//! let signature = merchant.sign_sha256(b"GET\n/v3/certificates\n1554208460\nNONCE\n\n")?;
//! assert!(public.verify_sha256(b"GET\n/v3/certificates\n1554208460\nNONCE\n\n", &signature));
//! # let _ = (base64_decode, base64_encode);
//! # Ok::<(), wechatpay::Error>(())
//! ```

mod aes;
mod cert;
mod contexts;
mod der;
mod digest;
pub(crate) mod load;

pub(crate) use load::read_key_file;
mod nonce;
mod pem;
pub(crate) mod rsa;

pub use aes::{
    Apiv3Key, GCM_MAX_NONCE_LEN, GCM_TAG_LEN, aes_256_ecb_decrypt, aes_256_ecb_encrypt,
    aes_256_gcm_decrypt, aes_256_gcm_encrypt,
};
pub use cert::Certificate;
pub use digest::{constant_time_eq, hex_lower, hex_upper, hmac_sha256, md5, sha1, sha256};
pub use nonce::nonce;
pub use rsa::{PrivateKey, PublicKey};

use crate::error::{Error, Result};

/// Standard base64 (RFC 4648, with padding), as WeChat Pay uses for signatures.
///
/// ```
/// assert_eq!(wechatpay::crypto::base64_encode(b"wechatpay"), "d2VjaGF0cGF5");
/// ```
pub fn base64_encode(bytes: &[u8]) -> String {
    openssl::base64::encode_block(bytes)
}

/// Decodes standard base64 (RFC 4648, with padding). Whitespace and line breaks are refused.
///
/// ```
/// assert_eq!(wechatpay::crypto::base64_decode("d2VjaGF0cGF5").unwrap(), b"wechatpay");
/// assert!(wechatpay::crypto::base64_decode("not base64!!").is_err());
/// ```
pub fn base64_decode(text: &str) -> Result<Vec<u8>> {
    decode_base64_strict(text).ok_or_else(|| Error::crypto("input is not standard padded base64"))
}

/// Standard padded base64 or `None`; the one decoder every part of the crate uses.
pub(crate) fn decode_base64_strict(text: &str) -> Option<Vec<u8>> {
    let valid = !text.is_empty()
        && text.len() % 4 == 0
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        && !text.trim_end_matches('=').contains('=')
        && text.len() - text.trim_end_matches('=').len() <= 2;
    if !valid {
        return None;
    }
    openssl::base64::decode_block(text).ok()
}

/// A self-signed certificate with this serial, valid from one day ago for `valid_secs`, as
/// PEM: for documentation examples only.
#[doc(hidden)]
pub fn test_certificate_for_docs(serial: &[u8], valid_secs: i64) -> Vec<u8> {
    use openssl::asn1::{Asn1Integer, Asn1Time};
    use openssl::bn::BigNum;
    use openssl::x509::{X509, X509NameBuilder};

    let build = || -> std::result::Result<Vec<u8>, openssl::error::ErrorStack> {
        let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048)?)?;
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_text("CN", "wechatpay documentation")?;
        let name = name.build();
        let now = crate::verifier::unix_now();
        let mut builder = X509::builder()?;
        builder.set_version(2)?;
        let serial = BigNum::from_slice(serial)?;
        let serial = Asn1Integer::from_bn(&serial)?;
        builder.set_serial_number(&serial)?;
        builder.set_subject_name(&name)?;
        builder.set_issuer_name(&name)?;
        builder.set_pubkey(&key)?;
        let not_before = Asn1Time::from_unix((now - 86_400) as _)?;
        let not_after = Asn1Time::from_unix((now - 86_400 + valid_secs) as _)?;
        builder.set_not_before(&not_before)?;
        builder.set_not_after(&not_after)?;
        builder.sign(&key, openssl::hash::MessageDigest::sha256())?;
        builder.build().to_pem()
    };
    build().unwrap_or_default()
}
