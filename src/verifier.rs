//! Who checks responses: the [`Verifier`] trait and its default, [`PlatformVerifier`].

use std::collections::HashMap;

use http::HeaderMap;

use crate::clock::unix_now;
use crate::crypto::{PublicKey, base64_decode};
use crate::error::VerificationFailure;
use crate::signature::response_message_parts;

/// The largest accepted distance between `Wechatpay-Timestamp` and the local clock, in seconds.
pub const CLOCK_WINDOW_SECS: i64 = 300;

/// `Wechatpay-Timestamp`: Unix seconds when WeChat Pay signed.
pub const TIMESTAMP: &str = "Wechatpay-Timestamp";
/// `Wechatpay-Nonce`: the random string in the signed message.
pub const NONCE: &str = "Wechatpay-Nonce";
/// `Wechatpay-Signature`: base64 RSA-SHA256 over `TIMESTAMP\nNONCE\nBODY\n`.
pub const SIGNATURE: &str = "Wechatpay-Signature";
/// `Wechatpay-Serial`: which platform certificate serial or public key id signed.
pub const SERIAL: &str = "Wechatpay-Serial";

/// Checks the WeChat Pay signature headers of a response.
///
/// The client calls it for every 2xx response whose endpoint is signed, with `payload` = the raw
/// body (or, for the overseas statements download, the `{"sha1":"..."}` document WeChat Pay
/// signs instead). The default is a [`PlatformVerifier`] over the keys given to
/// [`ClientBuilder::platform_key`](crate::ClientBuilder::platform_key); replace it with
/// [`ClientBuilder::verifier`](crate::ClientBuilder::verifier).
pub trait Verifier: Send + Sync + 'static {
    /// `Ok` when the headers carry a valid, fresh signature over `payload`.
    fn verify(&self, headers: &HeaderMap, payload: &[u8]) -> Result<(), VerificationFailure>;
}

/// The default [`Verifier`]: platform certificates and WeChat Pay public keys, selected by the
/// exact `Wechatpay-Serial`, with a ±300 s clock window.
///
/// ```
/// use wechatpay::verifier::PlatformVerifier;
/// use wechatpay::VerificationFailure;
///
/// let verifier = PlatformVerifier::new();
/// let headers = http::HeaderMap::new();
/// assert_eq!(
///     verifier.verify_at(&headers, b"{}", 1_700_000_000),
///     Err(VerificationFailure::MissingHeader("Wechatpay-Timestamp"))
/// );
/// ```
#[derive(Clone, Debug, Default)]
pub struct PlatformVerifier {
    keys: HashMap<String, PublicKey>,
}

impl PlatformVerifier {
    /// A verifier with no keys: it rejects everything until keys are added.
    pub fn new() -> PlatformVerifier {
        PlatformVerifier::default()
    }

    /// Adds (or replaces) the key for a certificate serial or `PUB_KEY_ID_...`.
    pub fn insert(&mut self, id: impl Into<String>, key: PublicKey) {
        self.keys.insert(id.into(), key);
    }

    /// The key with exactly this id.
    pub fn get(&self, id: &str) -> Option<&PublicKey> {
        self.keys.get(id)
    }

    /// True when a key with exactly this id is present.
    pub fn contains(&self, id: &str) -> bool {
        self.keys.contains_key(id)
    }

    /// The ids of the keys, in no particular order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// [`Verifier::verify`] with an explicit clock (`now` in Unix seconds).
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        payload: &[u8],
        now: i64,
    ) -> Result<(), VerificationFailure> {
        verify_signature(headers, payload, now, |serial| {
            self.keys
                .get(serial)
                .ok_or_else(|| VerificationFailure::UnknownSerial(serial.to_owned()))
        })
    }
}

/// The response check: the four headers, the clock window, then the signature with the key
/// `key_for` gives for the `Wechatpay-Serial`.
pub(crate) fn verify_signature<'k>(
    headers: &HeaderMap,
    payload: &[u8],
    now: i64,
    key_for: impl FnOnce(&str) -> Result<&'k PublicKey, VerificationFailure>,
) -> Result<(), VerificationFailure> {
    let timestamp = header(headers, TIMESTAMP)?;
    let nonce = header(headers, NONCE)?;
    let signature = header(headers, SIGNATURE)?;
    let serial = header(headers, SERIAL)?;

    if timestamp.is_empty()
        || timestamp.len() > 18
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(VerificationFailure::InvalidHeader {
            name: TIMESTAMP,
            reason: "not a Unix timestamp in seconds",
        });
    }
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| VerificationFailure::InvalidHeader {
            name: TIMESTAMP,
            reason: "not a Unix timestamp in seconds",
        })?;
    if now.saturating_sub(ts) > CLOCK_WINDOW_SECS {
        return Err(VerificationFailure::StaleTimestamp { timestamp: ts, now });
    }
    if ts.saturating_sub(now) > CLOCK_WINDOW_SECS {
        return Err(VerificationFailure::FutureTimestamp { timestamp: ts, now });
    }

    let key = key_for(serial)?;
    let raw = base64_decode(signature).map_err(|_| VerificationFailure::InvalidHeader {
        name: SIGNATURE,
        reason: "not base64",
    })?;
    let message = response_message_parts(timestamp, nonce, payload);
    if key.verify_sha256_parts(&message, &raw) {
        Ok(())
    } else {
        Err(VerificationFailure::BadSignature {
            serial: serial.to_owned(),
        })
    }
}

impl Verifier for PlatformVerifier {
    fn verify(&self, headers: &HeaderMap, payload: &[u8]) -> Result<(), VerificationFailure> {
        self.verify_at(headers, payload, unix_now())
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, VerificationFailure> {
    let value = headers
        .get(name)
        .ok_or(VerificationFailure::MissingHeader(name))?;
    match value.to_str() {
        Ok(s) if !s.is_empty() => Ok(s),
        Ok(_) => Err(VerificationFailure::InvalidHeader {
            name,
            reason: "empty",
        }),
        Err(_) => Err(VerificationFailure::InvalidHeader {
            name,
            reason: "not visible ASCII",
        }),
    }
}
