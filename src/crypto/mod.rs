//! Cryptographic building blocks, all on OpenSSL.
//!
//! - [`PrivateKey`]: the merchant API private key (PKCS#1 or PKCS#8 PEM), RSA-SHA256 signing.
//! - [`PublicKey`]: a platform certificate's key or a WeChat Pay public key (X.509 certificate,
//!   SPKI or PKCS#1 PEM), RSA-SHA256 verification.
//! - [`nonce`]: 32 random `[0-9A-Za-z]` characters from OpenSSL's CSPRNG.
//! - [`base64_encode`] / [`base64_decode`]: standard base64 with padding.

mod nonce;
mod pem;
mod rsa;

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
    let valid = !text.is_empty()
        && text.len() % 4 == 0
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        && !text.trim_end_matches('=').contains('=')
        && text.len() - text.trim_end_matches('=').len() <= 2;
    if !valid {
        return Err(Error::crypto("input is not standard padded base64"));
    }
    openssl::base64::decode_block(text).map_err(|e| Error::crypto_from("base64 decoding failed", e))
}
