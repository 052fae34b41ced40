use openssl::hash::{MessageDigest, hash};
use openssl::pkey::PKey;
use openssl::sign::Signer;

use crate::error::{Error, Result};

fn digest<const N: usize>(md: MessageDigest, name: &str, data: &[u8]) -> Result<[u8; N]> {
    let out = hash(md, data).map_err(|e| Error::crypto_from(format!("{name} failed"), e))?;
    out.as_ref()
        .try_into()
        .map_err(|_| Error::crypto(format!("{name} gave {} bytes, not {N}", out.len())))
}

/// MD5 of `data` (APIv2 signatures; the refund callback key). An error only where OpenSSL
/// refuses MD5 (a FIPS-only configuration).
///
/// ```
/// use wechatpay::crypto::{hex_upper, md5};
///
/// let signed = "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100\
///               &nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d";
/// assert_eq!(hex_upper(&md5(signed.as_bytes()).unwrap()), "9A0A8659F005D6984697E2CA0A9CF3B7");
/// ```
pub fn md5(data: &[u8]) -> Result<[u8; 16]> {
    digest(MessageDigest::md5(), "MD5", data)
}

/// SHA-1 of `data` (bill and statement integrity).
///
/// ```
/// use wechatpay::crypto::{hex_lower, sha1};
/// assert_eq!(hex_lower(&sha1(b"abc").unwrap()), "a9993e364706816aba3e25717850c26c9cd0d89d");
/// ```
pub fn sha1(data: &[u8]) -> Result<[u8; 20]> {
    digest(MessageDigest::sha1(), "SHA-1", data)
}

/// SHA-256 of `data` (the `sha256` of a media upload's meta).
///
/// ```
/// use wechatpay::crypto::{hex_lower, sha256};
/// assert_eq!(
///     hex_lower(&sha256(b"abc").unwrap()),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
pub fn sha256(data: &[u8]) -> Result<[u8; 32]> {
    digest(MessageDigest::sha256(), "SHA-256", data)
}

/// HMAC-SHA256 of `data` under `key` (APIv2 `sign_type=HMAC-SHA256`). Any key length, empty
/// included.
///
/// ```
/// use wechatpay::crypto::{hex_upper, hmac_sha256};
///
/// let secret = "192006250b4c09247ec02edce69f6a2d";
/// let signed = format!("appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100\
///                       &nonce_str=ibuaiVcKdpRxkhJA&key={secret}");
/// assert_eq!(
///     hex_upper(&hmac_sha256(secret.as_bytes(), signed.as_bytes()).unwrap()),
///     "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
/// );
/// ```
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Result<[u8; 32]> {
    let failed = |e| Error::crypto_from("HMAC-SHA256 failed", e);
    // OpenSSL 3 refuses an empty HMAC key. HMAC zero-pads the key to the block size, so the
    // single byte 0x00 is the same key.
    let key = if key.is_empty() { &[0u8][..] } else { key };
    let pkey = PKey::hmac(key).map_err(failed)?;
    let mut signer = Signer::new(MessageDigest::sha256(), &pkey).map_err(failed)?;
    let mac = signer.sign_oneshot_to_vec(data).map_err(failed)?;
    mac.as_slice()
        .try_into()
        .map_err(|_| Error::crypto(format!("HMAC-SHA256 gave {} bytes, not 32", mac.len())))
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn hex(bytes: &[u8], alphabet: &[u8; 16]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(alphabet[usize::from(b >> 4)]));
        out.push(char::from(alphabet[usize::from(b & 0x0f)]));
    }
    out
}

/// Lowercase hex (`hash_value` of bills, the refund-callback key `md5(secret)`).
///
/// ```
/// assert_eq!(wechatpay::crypto::hex_lower(&[0x0a, 0xbc]), "0abc");
/// ```
pub fn hex_lower(bytes: &[u8]) -> String {
    hex(bytes, HEX_LOWER)
}

/// Uppercase hex (APIv2 signatures, certificate serials).
///
/// ```
/// assert_eq!(wechatpay::crypto::hex_upper(&[0x0a, 0xbc]), "0ABC");
/// ```
pub fn hex_upper(bytes: &[u8]) -> String {
    hex(bytes, HEX_UPPER)
}

/// Compares two byte strings in time that depends on their lengths only, not their contents
/// (for signatures and MACs). Different lengths compare unequal at once: the length is all that
/// leaks.
///
/// ```
/// use wechatpay::crypto::constant_time_eq;
/// assert!(constant_time_eq(b"9A0A8659", b"9A0A8659"));
/// assert!(!constant_time_eq(b"9A0A8659", b"9A0A8658"));
/// assert!(!constant_time_eq(b"9A0A8659", b"9A0A865"));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}
