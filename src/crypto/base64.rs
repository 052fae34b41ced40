//! Standard base64 (RFC 4648, with padding), strictly decoded.

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
