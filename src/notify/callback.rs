//! Callbacks: the parser (verification and decryption), the notification, the answers and the
//! duplicate filter. The module documentation is in `notify/mod.rs`.

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::crypto::{Apiv3Key, base64_decode};
use crate::error::{Error, ErrorKind, Result, VerificationFailure};
use crate::redact::Escaped;
use crate::signature::SCHEMA;
use crate::verifier::Verifier;

/// `Wechatpay-Signature-Type`: how the callback was signed.
pub const SIGNATURE_TYPE: &str = "Wechatpay-Signature-Type";
/// The only signature type accepted: RSA-SHA256 with a 2048-bit key.
pub const SIGNATURE_TYPE_RSA: &str = SCHEMA;
/// The only `resource.algorithm` accepted.
pub const ALGORITHM: &str = "AEAD_AES_256_GCM";

/// Verifies and decrypts WeChat Pay callbacks; see the [module documentation](super).
///
/// Built from the APIv3 key and a [`Verifier`] (the same one that checks responses: usually a
/// [`PlatformVerifier`](crate::verifier::PlatformVerifier) with the platform certificates
/// and/or WeChat Pay public keys). Cheap to clone, `Send + Sync`; share one. `Debug` never
/// shows the key.
#[derive(Clone)]
pub struct NotificationParser {
    key: Apiv3Key,
    verifier: Arc<dyn Verifier>,
}

impl NotificationParser {
    /// A parser with this APIv3 key (exactly 32 bytes, else a [`Config`](crate::ErrorKind::Config)
    /// error giving the length) and verifier.
    pub fn new(apiv3_key: impl AsRef<[u8]>, verifier: impl Verifier) -> Result<NotificationParser> {
        Self::with_shared_verifier(apiv3_key, Arc::new(verifier))
    }

    /// [`new`](Self::new) with a verifier that is already shared, such as a client's.
    pub fn with_shared_verifier(
        apiv3_key: impl AsRef<[u8]>,
        verifier: Arc<dyn Verifier>,
    ) -> Result<NotificationParser> {
        Ok(Self::from_key(Apiv3Key::new(apiv3_key)?, verifier))
    }

    /// A parser from an already checked [`Apiv3Key`] and a shared verifier: infallible, for a
    /// client that validated the key when it was built.
    pub fn from_key(apiv3_key: Apiv3Key, verifier: Arc<dyn Verifier>) -> NotificationParser {
        NotificationParser {
            key: apiv3_key,
            verifier,
        }
    }

    /// Verifies the callback and decrypts its resource; see the [module documentation](super)
    /// for the checks, in order, and the error of each.
    ///
    /// Runs inside a `tracing` span `wechatpay.callback` (see docs/observability.md) that
    /// records the notification's `id` and `event_type` once its signature verified, and the
    /// outcome; never a header value, the body or the resource.
    pub fn parse(&self, headers: &HeaderMap, body: &[u8]) -> Result<Notification> {
        let span = callback_span();
        let _entered = span.enter();
        let outcome = self.parse_in(headers, body, &span);
        record_callback(&span, verdict(&outcome), outcome.as_ref().err());
        outcome
    }

    /// [`parse`](Self::parse)'s checks inside `span`, a callback span its caller opened (and
    /// records the outcome on): the notification's `id` and `event_type` are recorded on it.
    pub(super) fn parse_in(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        span: &tracing::Span,
    ) -> Result<Notification> {
        self.check_signature(headers, body)
            .and_then(|()| self.decrypt_verified(body, span))
    }

    /// Only the signature checks of [`parse`](Self::parse) (signature type, headers, clock,
    /// serial, signature), without reading the body. Runs inside a `wechatpay.callback` span,
    /// as `parse` does (its `id` and `event_type` left empty: the body is not read).
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<()> {
        let span = callback_span();
        let _entered = span.enter();
        let outcome = self.check_signature(headers, body);
        record_callback(&span, verdict(&outcome), outcome.as_ref().err());
        outcome
    }

    /// The signature checks of [`verify`](Self::verify).
    fn check_signature(&self, headers: &HeaderMap, body: &[u8]) -> Result<()> {
        signature_type(headers)
            .and_then(|()| self.verifier.verify(headers, body))
            .map_err(Error::from_failure)
    }

    /// The envelope and decryption steps of [`parse`](Self::parse), for a body whose
    /// signature was checked (its `id` and `event_type` recorded on `span`). Not public: a
    /// [`Notification`] is always a verified one.
    fn decrypt_verified(&self, body: &[u8], span: &tracing::Span) -> Result<Notification> {
        let envelope: Envelope = decode_json(body, "notification envelope", false)?;
        if !span.is_disabled() {
            use tracing::field::display;
            span.record("wechatpay.notification_id", display(Escaped(&envelope.id)));
            span.record(
                "wechatpay.event_type",
                display(Escaped(&envelope.event_type)),
            );
        }
        let resource = envelope.resource;
        if resource.algorithm != ALGORITHM {
            let shown: String = resource.algorithm.chars().take(40).collect();
            return Err(Error::decode(
                format!(
                    "notification resource.algorithm `{}` is not supported (expected {ALGORITHM})",
                    shown.escape_default()
                ),
                Some("resource.algorithm".to_owned()),
                "unsupported algorithm",
            ));
        }
        let sealed = base64_decode(&resource.ciphertext).map_err(|_| {
            Error::decode(
                "notification resource.ciphertext is not standard padded base64",
                Some("resource.ciphertext".to_owned()),
                "not base64",
            )
        })?;
        let associated_data = resource.associated_data.unwrap_or_default();
        let plaintext = self
            .key
            .decrypt(
                resource.nonce.as_bytes(),
                associated_data.as_bytes(),
                &sealed,
            )
            .map_err(|e| {
                let detail = e.to_string();
                let detail = detail
                    .strip_prefix(&format!("{}: ", ErrorKind::Crypto))
                    .unwrap_or(&detail);
                Error::crypto(format!(
                    "notification resource cannot be decrypted with the APIv3 key: {detail}"
                ))
            })?;
        Ok(Notification {
            id: envelope.id,
            create_time: envelope.create_time,
            event_type: envelope.event_type,
            resource_type: envelope.resource_type,
            summary: envelope.summary.unwrap_or_default(),
            original_type: resource.original_type.unwrap_or_default(),
            associated_data,
            resource: plaintext,
        })
    }
}

impl fmt::Debug for NotificationParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotificationParser")
            .field("apiv3_key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The span of one callback's verification: the notification's id and event type (once its
/// signature verified), the outcome and, when refused, the error's kind and the check that
/// failed ([`record_callback`]).
pub(super) fn callback_span() -> tracing::Span {
    tracing::info_span!(
        "wechatpay.callback",
        wechatpay.api = "v3",
        wechatpay.notification_id = tracing::field::Empty,
        wechatpay.event_type = tracing::field::Empty,
        wechatpay.outcome = tracing::field::Empty,
        "error.type" = tracing::field::Empty,
        wechatpay.verification = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    )
}

/// `verified` or `refused`.
fn verdict<T>(outcome: &Result<T>) -> &'static str {
    match outcome {
        Ok(_) => "verified",
        Err(_) => "refused",
    }
}

/// Records how a callback ended on its span: `outcome` (`verified`, `refused`, and for a
/// [`NotificationReceiver`](super::NotificationReceiver) `duplicate`, `in_progress`,
/// `too_large`) and the error that refused it, if one did.
pub(super) fn record_callback(span: &tracing::Span, outcome: &'static str, error: Option<&Error>) {
    if span.is_disabled() {
        return;
    }
    span.record("wechatpay.outcome", outcome);
    if let Some(e) = error {
        span.record("error.type", e.kind().name());
        if let Some(failure) = e.verification() {
            span.record("wechatpay.verification", failure.name());
        }
    }
    if matches!(outcome, "refused" | "too_large") {
        span.record("otel.status_code", "ERROR");
    }
}

fn signature_type(headers: &HeaderMap) -> std::result::Result<(), VerificationFailure> {
    for value in headers.get_all(SIGNATURE_TYPE) {
        if value.as_bytes() != SIGNATURE_TYPE_RSA.as_bytes() {
            // Echo a bounded prefix only: the header comes from whoever posted.
            let shown: String = String::from_utf8_lossy(value.as_bytes())
                .chars()
                .take(40)
                .collect();
            return Err(VerificationFailure::UnsupportedSignatureType(shown));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    create_time: String,
    event_type: String,
    resource_type: String,
    summary: Option<String>,
    resource: EncryptedResource,
}

#[derive(Deserialize)]
struct EncryptedResource {
    algorithm: String,
    ciphertext: String,
    nonce: String,
    associated_data: Option<String>,
    original_type: Option<String>,
}

/// A verified, decrypted callback.
///
/// `Debug` shows the envelope fields and the size of the resource, never the decrypted
/// resource itself.
#[derive(Clone)]
pub struct Notification {
    id: String,
    create_time: String,
    event_type: String,
    resource_type: String,
    summary: String,
    original_type: String,
    associated_data: String,
    resource: Vec<u8>,
}

impl Notification {
    /// The notification id, the same on every retry: the key to de-duplicate on.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// When WeChat Pay created it, as sent (RFC 3339, e.g. `2015-05-20T13:29:35+08:00`).
    pub fn create_time(&self) -> &str {
        &self.create_time
    }

    /// What happened, e.g. `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// `encrypt-resource`.
    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }

    /// WeChat Pay's one-line description, e.g. `支付成功` (empty when absent).
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// `resource.original_type`: the type of the decrypted object, e.g. `transaction`
    /// (empty when absent).
    pub fn original_type(&self) -> &str {
        &self.original_type
    }

    /// `resource.associated_data` as authenticated, e.g. `transaction` (empty when absent).
    pub fn associated_data(&self) -> &str {
        &self.associated_data
    }

    /// The decrypted resource (JSON for every notification WeChat Pay documents).
    pub fn resource(&self) -> &[u8] {
        &self.resource
    }

    /// The decrypted resource, owned.
    pub fn into_resource(self) -> Vec<u8> {
        self.resource
    }

    /// The decrypted resource as UTF-8 text; a [`Decode`](crate::ErrorKind::Decode) error if
    /// it is not.
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.resource).map_err(|e| {
            Error::decode(
                format!(
                    "notification resource is not UTF-8 (at byte {})",
                    e.valid_up_to()
                ),
                None,
                e,
            )
        })
    }

    /// Decodes the decrypted resource into `T`. On failure the
    /// [`Decode`](crate::ErrorKind::Decode) error names the path that failed
    /// ([`Error::json_path`](crate::Error::json_path)), such as `amount.total`, but, unlike
    /// [`Response::json`](crate::Response::json), never quotes a value of the resource.
    ///
    /// ```no_run
    /// # fn f(notification: wechatpay::notify::Notification) -> wechatpay::Result<()> {
    /// #[derive(serde::Deserialize)]
    /// struct Amount { total: u64, payer_total: u64, currency: String }
    /// #[derive(serde::Deserialize)]
    /// struct Transaction { out_trade_no: String, transaction_id: String, trade_state: String, amount: Amount }
    ///
    /// let tx: Transaction = notification.json()?;
    /// # Ok(()) }
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        decode_json(&self.resource, "notification resource", true)
    }
}

impl fmt::Debug for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notification")
            .field("id", &self.id)
            .field("create_time", &self.create_time)
            .field("event_type", &self.event_type)
            .field("resource_type", &self.resource_type)
            .field("summary", &self.summary)
            .field("original_type", &self.original_type)
            .field("resource_len", &self.resource.len())
            .finish()
    }
}

/// JSON into `T` with the failing path named; trailing bytes refused. With `redact`, the error
/// never contains a value of the document (only its structure, the path and the expected type).
fn decode_json<T: DeserializeOwned>(bytes: &[u8], what: &str, redact: bool) -> Result<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if redact {
            let text = redacted(&inner);
            Error::decode(format!("{what} JSON at `{path}`: {text}"), Some(path), text)
        } else {
            Error::decode(
                format!("{what} JSON at `{path}`: {inner}"),
                Some(path),
                inner,
            )
        }
    })?;
    de.end()
        .map_err(|e| Error::decode(format!("{what} JSON: {e}"), Some(".".to_owned()), e))?;
    Ok(value)
}

/// A serde_json error's message without any value from the document. serde's data errors
/// read `invalid type: string "...", expected ...` (and `invalid value`, `unknown variant`):
/// the part before `, expected` is reduced to its kind (`string`, `integer`...). Syntax errors
/// never quote the input. Custom messages of a `Deserialize` impl could say anything, so they
/// are replaced.
fn redacted(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let message = match full.rfind(" at line ") {
        Some(i) if err.line() != 0 => &full[..i],
        _ => full.as_str(),
    };
    let position = if err.line() == 0 {
        String::new()
    } else {
        format!(" at line {} column {}", err.line(), err.column())
    };
    let text = match err.classify() {
        serde_json::error::Category::Data => {
            let plain = ["missing field `", "duplicate field `", "invalid length "];
            if plain.iter().any(|p| message.starts_with(p)) {
                message.to_owned()
            } else if let Some((prefix, rest)) = ["invalid type: ", "invalid value: "]
                .iter()
                .find_map(|p| message.strip_prefix(p).map(|rest| (*p, rest)))
            {
                match rest.rsplit_once(", expected ") {
                    Some((unexpected, expected)) => {
                        let kind = unexpected.split(['"', '`']).next().unwrap_or("").trim();
                        format!("{prefix}{kind}, expected {expected}")
                    }
                    None => format!("{prefix}value not accepted"),
                }
            } else if message.starts_with("unknown variant `")
                || message.starts_with("unknown field `")
            {
                let head = if message.starts_with("unknown variant") {
                    "unknown variant"
                } else {
                    "unknown field"
                };
                match message.rsplit_once(", expected ") {
                    Some((_, expected)) => format!("{head}, expected {expected}"),
                    None => head.to_owned(),
                }
            } else {
                "a value the target type does not accept".to_owned()
            }
        }
        _ => message.to_owned(),
    };
    format!("{text}{position}")
}

/// The answer WeChat Pay expects once a notification is processed: HTTP 204, empty body.
///
/// ```
/// assert_eq!(wechatpay::notify::success().status(), 204);
/// ```
pub fn success() -> http::Response<Vec<u8>> {
    let mut response = http::Response::new(Vec::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// A failure answer: `status` (a 4xx or 5xx; anything else becomes 500) with
/// `{"code":"FAIL","message":<message>}`. WeChat Pay retries the notification later. The
/// message goes to WeChat Pay: keep secrets and customer data out of it.
///
/// ```
/// use wechatpay::notify::failure;
///
/// let answer = failure(http::StatusCode::SERVICE_UNAVAILABLE, "try again");
/// assert_eq!(answer.status(), 503);
/// assert_eq!(answer.body(), br#"{"code":"FAIL","message":"try again"}"#);
/// assert_eq!(failure(http::StatusCode::OK, "x").status(), 500);
/// ```
pub fn failure(status: StatusCode, message: &str) -> http::Response<Vec<u8>> {
    let body = serde_json::to_vec(&serde_json::json!({ "code": "FAIL", "message": message }))
        .unwrap_or_else(|_| br#"{"code":"FAIL"}"#.to_vec());
    let mut response = http::Response::new(body);
    *response.status_mut() = if status.is_client_error() || status.is_server_error() {
        status
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// The failure answer for an error of [`NotificationParser::parse`], with a fixed message that
/// reveals nothing: 401 for a failed signature check, 400 for a malformed notification, 500
/// for anything else (a decryption failure usually means a wrong APIv3 key: once fixed, the
/// retries succeed).
///
/// ```
/// # let err = wechatpay::crypto::Apiv3Key::new("short").unwrap_err();
/// assert_eq!(wechatpay::notify::failure_for(&err).status(), 500);
/// ```
pub fn failure_for(error: &Error) -> http::Response<Vec<u8>> {
    let (status, message) = failure_parts(error);
    failure(status, message)
}

/// The status and fixed message of [`failure_for`].
pub(super) fn failure_parts(error: &Error) -> (StatusCode, &'static str) {
    match error.kind() {
        ErrorKind::Verification => (StatusCode::UNAUTHORIZED, "signature verification failed"),
        ErrorKind::Decode => (StatusCode::BAD_REQUEST, "malformed notification"),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "notification not processed",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Amount {
        total: u64,
        currency: Currency,
    }

    #[derive(Debug, Deserialize)]
    enum Currency {
        #[serde(rename = "CNY")]
        Cny,
    }

    fn decode_error(json: &str) -> Error {
        decode_json::<Amount>(json.as_bytes(), "notification resource", true).unwrap_err()
    }

    #[test]
    fn resource_decode_errors_never_quote_values() {
        let secret = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
        let cases = [
            (
                format!(r#"{{"total":"{secret}","currency":"CNY"}}"#),
                "total",
                "invalid type: string, expected u64",
            ),
            (
                r#"{"total":-31415926,"currency":"CNY"}"#.to_owned(),
                "total",
                "invalid value: integer, expected u64",
            ),
            (
                format!(r#"{{"total":1,"currency":"{secret}"}}"#),
                "currency",
                "unknown variant, expected `CNY`",
            ),
            (r#"{"total":1}"#.to_owned(), ".", "missing field `currency`"),
            // serde_path_to_error says `?` where the document ends early.
            (
                r#"{"total":1,"currency":"CNY""#.to_owned(),
                "?",
                "EOF while parsing an object",
            ),
        ];
        for (json, path, message) in cases {
            let err = decode_error(&json);
            assert_eq!(err.kind(), ErrorKind::Decode);
            assert_eq!(err.json_path(), Some(path), "{err}");
            let text = format!("{err} {err:?} {}", std::error::Error::source(&err).unwrap());
            assert!(text.contains(message), "{text}");
            assert!(
                !text.contains(secret) && !text.contains("31415926"),
                "{text}"
            );
        }
    }
}
