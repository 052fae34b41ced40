//! The APIv3 signature formats, as pure functions with no I/O.
//!
//! The client uses these for every request and response; they are public so that the exact bytes
//! can be checked (see the golden test) and reused by code that talks to WeChat Pay another way.
//!
//! ```
//! use wechatpay::signature::{request_message, Authorization};
//!
//! let message = request_message("GET", "/v3/certificates", 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242", b"");
//! assert_eq!(message, b"GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n");
//!
//! let header = Authorization {
//!     mchid: "1900009191",
//!     serial_no: "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",
//!     timestamp: 1554208460,
//!     nonce_str: "593BEC0C930BF1AFEB40B4A08C8FB242",
//!     signature: "c2lnbmF0dXJl",
//! };
//! assert_eq!(
//!     header.to_string(),
//!     "WECHATPAY2-SHA256-RSA2048 mchid=\"1900009191\",serial_no=\"1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C\",\
//!      timestamp=\"1554208460\",nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\",signature=\"c2lnbmF0dXJl\""
//! );
//! ```

use std::fmt;
use std::fmt::Write as _;
use std::io::Write;

use http::HeaderValue;

use crate::crypto::base64_encode;
use crate::error::{Error, Result};

/// The `Authorization` scheme of APIv3 requests.
pub const SCHEMA: &str = "WECHATPAY2-SHA256-RSA2048";

/// The message a request signature covers:
/// `METHOD\nREQUEST_TARGET\nTIMESTAMP\nNONCE\nBODY\n`.
///
/// `target` is the path and `?query` exactly as sent on the wire; `body` the exact bytes sent
/// (empty when there is no body; for a media upload, the `meta` JSON).
pub fn request_message(
    method: &str,
    target: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(method.len() + target.len() + nonce.len() + body.len() + 16);
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(target.as_bytes());
    out.push(b'\n');
    // Writing an integer into a Vec cannot fail.
    let _ = write!(out, "{timestamp}");
    out.push(b'\n');
    out.extend_from_slice(nonce.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(body);
    out.push(b'\n');
    out
}

/// The message a response (or callback) signature covers: `TIMESTAMP\nNONCE\nBODY\n`, with
/// the timestamp and nonce exactly as their headers carry them.
pub fn response_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    response_message_parts(timestamp, nonce, body).concat()
}

/// [`response_message`] as its parts in order, for hashing without joining them (the body may
/// be large).
pub(crate) fn response_message_parts<'a>(
    timestamp: &'a str,
    nonce: &'a str,
    body: &'a [u8],
) -> [&'a [u8]; 6] {
    [
        timestamp.as_bytes(),
        b"\n",
        nonce.as_bytes(),
        b"\n",
        body,
        b"\n",
    ]
}

/// The value of an APIv3 `Authorization` header. `Display` writes the fields in the order
/// wechatpay-php sends them: `mchid`, `serial_no`, `timestamp`, `nonce_str`, `signature`.
///
/// `Debug` shows every field but the signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// The merchant id.
    pub mchid: &'a str,
    /// The merchant API certificate serial.
    pub serial_no: &'a str,
    /// Unix seconds, as in the signed message.
    pub timestamp: i64,
    /// The nonce, as in the signed message.
    pub nonce_str: &'a str,
    /// The base64 signature.
    pub signature: &'a str,
}

impl fmt::Debug for Authorization<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("mchid", &self.mchid)
            .field("serial_no", &self.serial_no)
            .field("timestamp", &self.timestamp)
            .field("nonce_str", &self.nonce_str)
            .field(
                "signature",
                &format_args!("<{} characters>", self.signature.len()),
            )
            .finish()
    }
}

impl Authorization<'_> {
    /// The length of the `Display` text: the schema, 61 bytes of fixed text and the fields.
    fn len(&self) -> usize {
        let digits = usize::from(self.timestamp < 0)
            + self
                .timestamp
                .unsigned_abs()
                .checked_ilog10()
                .map_or(1, |log| log as usize + 1);
        SCHEMA.len()
            + 61
            + self.mchid.len()
            + self.serial_no.len()
            + digits
            + self.nonce_str.len()
            + self.signature.len()
    }
}

impl fmt::Display for Authorization<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCHEMA} mchid=\"{}\",serial_no=\"{}\",timestamp=\"{}\",nonce_str=\"{}\",signature=\"{}\"",
            self.mchid, self.serial_no, self.timestamp, self.nonce_str, self.signature
        )
    }
}

/// The `Authorization` header for a raw RSA `signature` (base64-encoded here), marked
/// sensitive so that `Debug` output of a header map does not show it. This is exactly what the
/// client sends.
///
/// ```
/// let value = wechatpay::signature::authorization_header("1900009191", "1DDE55AD", 1554208460, "593BEC0C", b"sig").unwrap();
/// assert!(value.is_sensitive());
/// assert_eq!(
///     value.to_str().unwrap(),
///     "WECHATPAY2-SHA256-RSA2048 mchid=\"1900009191\",serial_no=\"1DDE55AD\",timestamp=\"1554208460\",nonce_str=\"593BEC0C\",signature=\"c2ln\""
/// );
/// ```
pub fn authorization_header(
    mchid: &str,
    serial_no: &str,
    timestamp: i64,
    nonce_str: &str,
    signature: &[u8],
) -> Result<HeaderValue> {
    let signature = base64_encode(signature);
    let header = Authorization {
        mchid,
        serial_no,
        timestamp,
        nonce_str,
        signature: &signature,
    };
    // Written into a buffer of exactly its length, which `HeaderValue` then takes over
    // without another allocation (`bytes` adds one when length and capacity differ).
    let mut text = String::with_capacity(header.len());
    // Writing into a `String` cannot fail.
    let _ = write!(text, "{header}");
    let mut value = HeaderValue::try_from(text)
        .map_err(|_| Error::crypto("the Authorization header has bytes a header cannot carry"))?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `authorization_header` sizes its buffer with `Authorization::len`.
    #[test]
    fn the_computed_length_is_the_written_length() {
        for timestamp in [0, 7, 9, 10, 99, 1_554_208_460, -1, -10, i64::MIN, i64::MAX] {
            for (mchid, nonce) in [("", ""), ("1900009191", "593BEC0C930BF1AFEB40B4A08C8FB242")] {
                let header = Authorization {
                    mchid,
                    serial_no: "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",
                    timestamp,
                    nonce_str: nonce,
                    signature: "c2ln",
                };
                assert_eq!(header.len(), header.to_string().len(), "{timestamp}");
            }
        }
    }
}
