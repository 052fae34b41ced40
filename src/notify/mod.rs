//! WeChat Pay callbacks (notifications): verify, decrypt, answer, de-duplicate.
//!
//! WeChat Pay POSTs a JSON envelope to your `notify_url`, signed like a response (the headers
//! `Wechatpay-Timestamp`, `-Nonce`, `-Signature`, `-Serial` and `-Signature-Type`) and with its
//! business content (`resource`) encrypted by AES-256-GCM under your APIv3 key.
//! [`NotificationParser::parse`] takes the request headers (an [`http::HeaderMap`], so any web
//! framework works and header names may come in any case) and the raw body bytes, and returns a
//! [`Notification`] only when everything checks out:
//!
//! 1. `Wechatpay-Signature-Type`, when present, is `WECHATPAY2-SHA256-RSA2048`. WeChat Pay added
//!    the header later (the official Java SDK defaults it to RSA when absent), so its absence is
//!    accepted; any other value (an SM2 signature, a typo) is refused.
//! 2. The four signature headers, the ±300 s clock window, the serial and the RSA-SHA256
//!    signature over `timestamp\nnonce\nbody\n`, by the same
//!    [`Verifier`](crate::verifier::Verifier) that checks responses.
//! 3. The envelope: `id`, `create_time`, `event_type`, `resource_type`, `summary` and
//!    `resource {algorithm, ciphertext, nonce, associated_data, original_type}`, with
//!    `algorithm` = `AEAD_AES_256_GCM`.
//! 4. AES-256-GCM decryption of `resource`: key = the APIv3 key, IV = the bytes of `nonce`,
//!    AAD = the bytes of `associated_data` (empty when absent), input = base64(ciphertext ||
//!    16-byte tag).
//!
//! A failed check is a [`Verification`](crate::ErrorKind::Verification) error
//! ([`Error::verification`](crate::Error::verification) names it), a malformed envelope or an
//! unknown algorithm a [`Decode`](crate::ErrorKind::Decode) error (with
//! [`Error::json_path`](crate::Error::json_path)), a decryption failure (wrong APIv3 key,
//! altered ciphertext) a [`Crypto`](crate::ErrorKind::Crypto) error. WeChat Pay's "signature
//! probe" (a `Wechatpay-Signature` starting `WECHATPAY/SIGNTEST/`) fails verification, as it
//! must.
//!
//! Answer with [`success`] (HTTP 204) once you have *processed* the notification, or with
//! [`failure`] / [`failure_for`] (4xx/5xx with `{"code":"FAIL","message":...}`): WeChat Pay
//! then retries later. Because of retries, the same notification (same `id`) can arrive more
//! than once, even concurrently: make processing idempotent, and use a [`DuplicateFilter`] to
//! skip the repeats this process has already handled.
//!
//! ```
//! use std::sync::Arc;
//! use wechatpay::notify::{self, Delivery, DuplicateFilter, NotificationParser};
//! use wechatpay::verifier::PlatformVerifier;
//!
//! # let platform_key = wechatpay::crypto::PrivateKey::load(openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap()).unwrap().public_key().unwrap();
//! let mut verifier = PlatformVerifier::new();
//! verifier.insert("PUB_KEY_ID_0114232134912410000000000000", platform_key);
//! let parser = NotificationParser::new("0123456789abcdef0123456789abcdef", verifier)?;
//! let seen = DuplicateFilter::new(10_000);
//!
//! /// Your web framework's handler: headers and raw body in, status and body out.
//! fn handle(
//!     parser: &NotificationParser,
//!     seen: &DuplicateFilter,
//!     headers: &http::HeaderMap,
//!     body: &[u8],
//! ) -> http::Response<Vec<u8>> {
//!     let notification = match parser.parse(headers, body) {
//!         Ok(n) => n,
//!         Err(e) => return notify::failure_for(&e),
//!     };
//!     match seen.claim(notification.id()) {
//!         Delivery::First(claim) => {
//!             #[derive(serde::Deserialize)]
//!             struct Transaction { out_trade_no: String, trade_state: String }
//!             let Ok(tx) = notification.json::<Transaction>() else {
//!                 return notify::failure(http::StatusCode::BAD_REQUEST, "unexpected resource");
//!             };
//!             // ... record `tx` (idempotently) ...
//!             # let _ = (tx.out_trade_no, tx.trade_state);
//!             claim.done();
//!             notify::success()
//!         }
//!         Delivery::Processed => notify::success(),
//!         Delivery::InProgress => notify::failure(http::StatusCode::TOO_MANY_REQUESTS, "busy"),
//!     }
//! }
//!
//! // Nothing signed here: the check fails with a typed error, answered 401.
//! let answer = handle(&parser, &seen, &http::HeaderMap::new(), b"{}");
//! assert_eq!(answer.status(), 401);
//! # Ok::<(), wechatpay::Error>(())
//! ```
//!
//! # In a web framework
//!
//! [`NotificationReceiver`] does all of the above in one call (a bounded body, the parser, the
//! duplicate filter, the answers): [`NotificationReceiver::receive`] gives a
//! [`WechatpayNotification`] to process, answered with [`WechatpayNotification::ack`] or a
//! [`Failure`], or a [`Rejection`] that is the answer already. With the feature `axum` (axum
//! 0.8) or `actix-web` (actix-web 4), [`WechatpayNotification`] is that framework's extractor
//! and the answers are its responses; its documentation has an example of each.

#[cfg(feature = "actix-web")]
mod actix;
#[cfg(feature = "axum")]
mod axum;
mod callback;
mod duplicates;
mod receiver;

pub use callback::{
    ALGORITHM, Notification, NotificationParser, SIGNATURE_TYPE, SIGNATURE_TYPE_RSA, failure,
    failure_for, success,
};
pub use duplicates::{
    Claim, ClaimStore, Claimed, DEFAULT_CLAIM_LEASE, DEFAULT_PROCESSED_FOR, Delivery,
    DuplicateFilter, MAX_DURATION,
};
pub use receiver::{
    Ack, DEFAULT_DUPLICATE_CAPACITY, DEFAULT_MAX_BODY_SIZE, Failure, NotificationReceiver,
    Rejection, WechatpayNotification,
};
