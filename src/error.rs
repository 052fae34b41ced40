//! One error type for everything the client can report.
//!
//! [`Error::kind`] says which stage failed; the accessors give the details of that stage:
//! [`Error::api`] for a WeChat Pay error answer, [`Error::verification`] (and
//! [`Error::response`]) for a response whose signature did not check out, [`Error::template`]
//! for a URI template problem.

use std::error::Error as StdError;
use std::fmt;

use http::StatusCode;

use crate::response::Response;
use crate::template::TemplateError;

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Which stage of a call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The client or the request options are not usable: a missing or malformed setting, an
    /// option of the wrong type, a blocking call made inside an async runtime.
    Config,
    /// The URI template did not parse, or a path variable has no value.
    Template,
    /// The request did not complete: DNS, connect, TLS, timeout, a broken connection.
    Transport,
    /// WeChat Pay answered with a non-2xx status (or, for APIv2, a `return_code` or
    /// `result_code` that is not `SUCCESS`); see [`Error::api`]. An APIv3 error answer carries
    /// no signature, nor does an APIv2 `return_code` `FAIL` or any answer of the
    /// [`UNSIGNED_ANSWERS`](crate::v2::UNSIGNED_ANSWERS) endpoints (transfers, red packets):
    /// their codes and messages are not authenticated. Before acting on one, query: what a code
    /// says happened (an order already paid, a transfer that failed) may be forged. A transfer
    /// is retried with the same number, never a new one.
    Api,
    /// A 2xx response, a callback or a download failed verification; see
    /// [`Error::verification`]. A response is kept in [`Error::response`]: the business call
    /// may have succeeded.
    Verification,
    /// A cryptographic operation failed (for example the signer could not sign).
    Crypto,
    /// A response body could not be decoded as the caller asked (JSON type, UTF-8 text, a
    /// malformed callback envelope, a corrupt gzip stream).
    Decode,
    /// Writing to the caller's writer failed (a bill download).
    Io,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Config => "configuration error",
            ErrorKind::Template => "URI template error",
            ErrorKind::Transport => "transport error",
            ErrorKind::Api => "WeChat Pay API error",
            ErrorKind::Verification => "verification failed",
            ErrorKind::Crypto => "cryptographic error",
            ErrorKind::Decode => "decode error",
            ErrorKind::Io => "I/O error",
        })
    }
}

impl ErrorKind {
    /// A short lowercase name, for logs and traces (`error.type`): `config`, `template`,
    /// `transport`, `api`, `verification`, `crypto`, `decode`, `io`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Template => "template",
            ErrorKind::Transport => "transport",
            ErrorKind::Api => "api",
            ErrorKind::Verification => "verification",
            ErrorKind::Crypto => "crypto",
            ErrorKind::Decode => "decode",
            ErrorKind::Io => "io",
        }
    }
}

/// Whether a caller's value looks like the identifier or name it should be, and may be quoted:
/// short, visible ASCII, and no `@` (no `user:password@` either).
pub(crate) fn looks_like_a_name(value: &str) -> bool {
    value.len() <= 64 && value.bytes().all(|b| b.is_ascii_graphic() && b != b'@')
}

/// A caller's value quoted in an error message: as it is when it
/// [looks like a name](looks_like_a_name), else only its length, in case a secret was passed in
/// the wrong place.
pub(crate) fn shown(value: &str) -> String {
    if looks_like_a_name(value) {
        format!("`{value}`")
    } else {
        format!(
            "(a value of {} characters, not shown)",
            value.chars().count()
        )
    }
}

/// The error of every fallible operation in this crate.
///
/// ```
/// use wechatpay::{Client, ErrorKind};
///
/// let err = Client::builder().build().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Config);
/// assert!(err.to_string().contains("mchid"));
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    detail: Detail,
    source: Option<BoxError>,
}

enum Detail {
    None,
    Template(TemplateError),
    Api(ApiError, Response),
    Verification(VerificationFailure, Option<Response>),
    Decode {
        path: Option<String>,
        /// The verified response a typed model could not decode.
        response: Option<Response>,
    },
}

impl Error {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                detail: Detail::None,
                source: None,
            }),
        }
    }

    fn with_source(mut self, source: impl Into<BoxError>) -> Error {
        self.inner.source = Some(source.into());
        self
    }

    /// The message, without the kind.
    pub(crate) fn message(&self) -> &str {
        &self.inner.message
    }

    /// The same error, its message followed by `note` (where else the call failed).
    pub(crate) fn noting(mut self, note: impl std::fmt::Display) -> Error {
        use std::fmt::Write;
        let _ = write!(self.inner.message, " ({note})");
        self
    }

    /// An error of `kind` with only a message (an earlier failure reported again).
    pub(crate) fn of_kind(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error::new(kind, message)
    }

    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, message)
    }

    pub(crate) fn crypto(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Crypto, message)
    }

    pub(crate) fn crypto_from(message: impl Into<String>, source: impl Into<BoxError>) -> Error {
        Error::new(ErrorKind::Crypto, message).with_source(source)
    }

    pub(crate) fn transport(message: impl Into<String>, source: impl Into<BoxError>) -> Error {
        Error::new(ErrorKind::Transport, message).with_source(source)
    }

    pub(crate) fn from_template(err: TemplateError) -> Error {
        let mut e = Error::new(ErrorKind::Template, err.to_string());
        e.inner.detail = Detail::Template(err);
        e
    }

    pub(crate) fn from_api(api: ApiError, response: Response) -> Error {
        let mut e = Error::new(ErrorKind::Api, api.to_string());
        e.inner.detail = Detail::Api(api, response);
        e
    }

    pub(crate) fn from_verification(failure: VerificationFailure, response: Response) -> Error {
        let mut e = Error::new(ErrorKind::Verification, failure.to_string());
        e.inner.detail = Detail::Verification(failure, Some(response));
        e
    }

    /// A failed check with no buffered response to keep: a callback, a streamed download.
    pub(crate) fn from_failure(failure: VerificationFailure) -> Error {
        let mut e = Error::new(ErrorKind::Verification, failure.to_string());
        e.inner.detail = Detail::Verification(failure, None);
        e
    }

    pub(crate) fn io(message: impl Into<String>, source: std::io::Error) -> Error {
        Error::new(ErrorKind::Io, message).with_source(source)
    }

    pub(crate) fn decode(
        message: impl Into<String>,
        path: Option<String>,
        source: impl Into<BoxError>,
    ) -> Error {
        let mut e = Error::new(ErrorKind::Decode, message).with_source(source);
        e.inner.detail = Detail::Decode {
            path,
            response: None,
        };
        e
    }

    /// The same decode error, keeping the verified `response` it could not decode (a typed
    /// model's failure never loses the answer).
    pub(crate) fn with_response(mut self, response: Response) -> Error {
        if let Detail::Decode { response: slot, .. } = &mut self.inner.detail {
            *slot = Some(response);
        }
        self
    }

    /// Which stage failed.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The WeChat Pay error answer, when [`kind`](Error::kind) is [`ErrorKind::Api`].
    pub fn api(&self) -> Option<&ApiError> {
        match &self.inner.detail {
            Detail::Api(api, _) => Some(api),
            _ => None,
        }
    }

    /// Which verification check failed, when [`kind`](Error::kind) is
    /// [`ErrorKind::Verification`].
    pub fn verification(&self) -> Option<&VerificationFailure> {
        match &self.inner.detail {
            Detail::Verification(failure, _) => Some(failure),
            _ => None,
        }
    }

    /// The response that came with the error: the unverified response of a
    /// [`Verification`](ErrorKind::Verification) error, the error answer of an
    /// [`Api`](ErrorKind::Api) error, or the verified answer a typed model could not decode
    /// (a [`Decode`](ErrorKind::Decode) error of [`Client::send`](crate::Client::send)). Treat
    /// an unverified body as untrusted ([`Response::signature_verified`] says which). `None`
    /// for checks of something that is not a buffered response (a callback, a streamed
    /// download).
    pub fn response(&self) -> Option<&Response> {
        match &self.inner.detail {
            Detail::Api(_, r)
            | Detail::Verification(_, Some(r))
            | Detail::Decode {
                response: Some(r), ..
            } => Some(r),
            _ => None,
        }
    }

    /// The response that came with the error, owned (see [`response`](Error::response)).
    pub fn into_response(self) -> Option<Response> {
        match self.inner.detail {
            Detail::Api(_, r)
            | Detail::Verification(_, Some(r))
            | Detail::Decode {
                response: Some(r), ..
            } => Some(r),
            _ => None,
        }
    }

    /// The template problem, when [`kind`](Error::kind) is [`ErrorKind::Template`].
    pub fn template(&self) -> Option<&TemplateError> {
        match &self.inner.detail {
            Detail::Template(t) => Some(t),
            _ => None,
        }
    }

    /// For a JSON [`Decode`](ErrorKind::Decode) error, the path in the document where decoding
    /// failed, such as `data[0].serial_no` (`.` for the root).
    pub fn json_path(&self) -> Option<&str> {
        match &self.inner.detail {
            Detail::Decode { path, .. } => path.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status of the response that came with the error, if any.
    pub fn status(&self) -> Option<StatusCode> {
        self.response().map(Response::status)
    }

    /// True when a [`Transport`](ErrorKind::Transport) error was a timeout.
    pub fn is_timeout(&self) -> bool {
        self.find_source::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_timeout)
    }

    /// True when a [`Transport`](ErrorKind::Transport) error happened while connecting, so the
    /// request provably did not reach the server.
    pub fn is_connect(&self) -> bool {
        self.find_source::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_connect)
    }

    fn find_source<T: StdError + 'static>(&self) -> Option<&T> {
        let mut cur: Option<&(dyn StdError + 'static)> =
            self.inner.source.as_deref().map(|s| s as _);
        while let Some(err) = cur {
            if let Some(t) = err.downcast_ref::<T>() {
                return Some(t);
            }
            cur = err.source();
        }
        None
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.inner.kind, self.inner.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        match &self.inner.detail {
            Detail::None => {}
            Detail::Template(t) => {
                d.field("template", t);
            }
            Detail::Api(api, _) => {
                d.field("api", api);
            }
            Detail::Verification(v, r) => {
                d.field("verification", v)
                    .field("status", &r.as_ref().map(Response::status));
            }
            Detail::Decode { path, response } => {
                d.field("json_path", path)
                    .field("status", &response.as_ref().map(Response::status));
            }
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.inner.detail {
            Detail::Template(t) => Some(t),
            _ => self.inner.source.as_deref().map(|s| s as _),
        }
    }
}

/// A non-2xx answer from WeChat Pay.
///
/// WeChat Pay describes errors with a JSON body `{"code": "...", "message": "...", "detail": ...}`
/// and a `Request-ID` header to quote to its support. APIv3 error answers are not signed, so
/// nothing here is authenticated; of APIv2 failures, only a signed endpoint's `result_code`
/// failure is (its `sign` is checked first), not a `return_code` `FAIL` nor an answer of the
/// [`UNSIGNED_ANSWERS`](crate::v2::UNSIGNED_ANSWERS) endpoints. Query before acting on what a
/// code says happened.
///
/// `Debug` shows every field but an APIv2 answer's `sign` (a digest keyed with the APIv2
/// secret, which would let anyone who reads the log try to guess it offline).
#[derive(Clone)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) detail: Option<serde_json::Value>,
    pub(crate) request_id: Option<String>,
    /// An APIv2 answer's fields.
    pub(crate) xml: Option<serde_json::Map<String, serde_json::Value>>,
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// An APIv2 answer's fields, `sign` and `paySign` redacted.
        struct Fields<'a>(&'a serde_json::Map<String, serde_json::Value>);
        impl fmt::Debug for Fields<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let keyed =
                    |k: &str| k.eq_ignore_ascii_case("sign") || k.eq_ignore_ascii_case("paysign");
                f.debug_map()
                    .entries(self.0.iter().map(|(k, v)| {
                        let v: &dyn fmt::Debug = if keyed(k) { &"<redacted>" } else { v };
                        (k, v)
                    }))
                    .finish()
            }
        }
        f.debug_struct("ApiError")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("message", &self.message)
            .field("detail", &self.detail)
            .field("request_id", &self.request_id)
            .field("xml", &self.xml.as_ref().map(Fields))
            .finish()
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// WeChat Pay's error code, such as `PARAM_ERROR` or `SIGN_ERROR`.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// WeChat Pay's human-readable message.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The `detail` object of the error body, when present.
    pub fn detail(&self) -> Option<&serde_json::Value> {
        self.detail.as_ref()
    }

    /// The `Request-ID` response header.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// An APIv2 failure from its parsed answer: `code` is `err_code` (or `return_code` when
    /// the communication itself failed), `message` is `err_code_des` (or `return_msg`).
    pub(crate) fn from_v2(
        status: StatusCode,
        xml: serde_json::Map<String, serde_json::Value>,
    ) -> ApiError {
        let field = |name: &str| xml.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let failed_communication = field("return_code").as_deref() != Some("SUCCESS");
        let (code, message) = if failed_communication {
            (field("return_code"), field("return_msg"))
        } else {
            (
                field("err_code").or_else(|| field("result_code")),
                field("err_code_des").or_else(|| field("return_msg")),
            )
        };
        ApiError {
            status,
            code,
            message,
            detail: None,
            request_id: None,
            xml: Some(xml),
        }
    }

    /// The fields of an APIv2 answer (`return_code`, `return_msg`, `result_code`, `err_code`,
    /// `err_code_des`, ...): `None` for APIv3.
    pub fn xml(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.xml.as_ref()
    }

    fn xml_field(&self, name: &str) -> Option<&str> {
        self.xml.as_ref()?.get(name)?.as_str()
    }

    /// APIv2 `return_code` (`SUCCESS` or `FAIL`).
    pub fn return_code(&self) -> Option<&str> {
        self.xml_field("return_code")
    }

    /// APIv2 `return_msg`.
    pub fn return_msg(&self) -> Option<&str> {
        self.xml_field("return_msg")
    }

    /// APIv2 `result_code` (`SUCCESS` or `FAIL`).
    pub fn result_code(&self) -> Option<&str> {
        self.xml_field("result_code")
    }

    /// APIv2 `err_code`, such as `ORDERPAID` or `USERPAYING`.
    pub fn err_code(&self) -> Option<&str> {
        self.xml_field("err_code")
    }

    /// APIv2 `err_code_des`.
    pub fn err_code_des(&self) -> Option<&str> {
        self.xml_field("err_code_des")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status.as_u16())?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (Request-ID {id})")?;
        }
        Ok(())
    }
}

/// The check a response failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerificationFailure {
    /// A required header is absent.
    MissingHeader(&'static str),
    /// A header is present but unusable (not ASCII, timestamp not an integer, signature not
    /// base64).
    InvalidHeader {
        /// The header.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `Wechatpay-Timestamp` is more than the allowed window in the past.
    StaleTimestamp {
        /// The response's timestamp (Unix seconds).
        timestamp: i64,
        /// The local clock (Unix seconds).
        now: i64,
    },
    /// `Wechatpay-Timestamp` is more than the allowed window in the future.
    FutureTimestamp {
        /// The response's timestamp (Unix seconds).
        timestamp: i64,
        /// The local clock (Unix seconds).
        now: i64,
    },
    /// `Wechatpay-Serial` names no configured platform certificate or public key.
    UnknownSerial(String),
    /// The signature does not verify with the key `Wechatpay-Serial` names.
    BadSignature {
        /// The key that was tried.
        serial: String,
    },
    /// The content's SHA-1 differs from the one that vouches for it (`Wechatpay-Statement-Sha1`
    /// of an overseas statement, `hash_value` of a bill).
    DigestMismatch,
    /// A callback's `Wechatpay-Signature-Type` is not `WECHATPAY2-SHA256-RSA2048`.
    UnsupportedSignatureType(String),
    /// `Wechatpay-Serial` names a platform certificate that has expired.
    ExpiredCertificate {
        /// The certificate's serial.
        serial: String,
        /// When it expired (Unix seconds).
        not_after: i64,
    },
    /// `Wechatpay-Serial` names a platform certificate whose validity has not begun (more than
    /// the 300 s clock window from now).
    CertificateNotYetValid {
        /// The certificate's serial.
        serial: String,
        /// When it becomes valid (Unix seconds).
        not_before: i64,
    },
    /// An APIv2 answer or callback has no `sign`.
    MissingSign,
    /// An APIv2 `sign` does not match (the sign type tried: `MD5` or `HMAC-SHA256`).
    BadSign(&'static str),
    /// An APIv2 answer that must be signed holds a nested or repeated element (named), which a
    /// `sign` cannot cover.
    UnsignedField(String),
    /// An APIv2 answer or callback holds a field that could be other signed fields regrouped
    /// (see [`v2::verify`](crate::v2::verify)).
    AmbiguousField {
        /// The field.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// This signed answer was received before (the same serial, nonce and signature, within
    /// its time window): a replay, refused (see [`replay`](crate::replay)).
    Replayed {
        /// Its `Wechatpay-Serial`.
        serial: String,
        /// Its `Wechatpay-Nonce`.
        nonce: String,
    },
    /// A 2xx answer whose body is an error document (`code` and `message`, nothing an
    /// operation returns): an error answer's signed body served with a success status.
    ErrorDocument {
        /// The status it came with.
        status: u16,
        /// The document's `code`.
        code: String,
    },
    /// An APIv2 answer echoes an identifier other than the request's (an answer to another
    /// request, replayed).
    EchoMismatch {
        /// The field (`mch_id`, `out_trade_no`, ...).
        field: String,
        /// What the request sent.
        sent: String,
        /// What the answer says.
        answered: String,
    },
}

impl VerificationFailure {
    /// Which check failed, as a short name without the values (no serial, nonce or
    /// identifier), for traces: `missing_header`, `bad_signature`, `unknown_serial`, ...
    pub(crate) fn name(&self) -> &'static str {
        match self {
            VerificationFailure::MissingHeader(_) => "missing_header",
            VerificationFailure::InvalidHeader { .. } => "invalid_header",
            VerificationFailure::StaleTimestamp { .. } => "stale_timestamp",
            VerificationFailure::FutureTimestamp { .. } => "future_timestamp",
            VerificationFailure::UnknownSerial(_) => "unknown_serial",
            VerificationFailure::BadSignature { .. } => "bad_signature",
            VerificationFailure::DigestMismatch => "digest_mismatch",
            VerificationFailure::UnsupportedSignatureType(_) => "unsupported_signature_type",
            VerificationFailure::ExpiredCertificate { .. } => "expired_certificate",
            VerificationFailure::CertificateNotYetValid { .. } => "certificate_not_yet_valid",
            VerificationFailure::MissingSign => "missing_sign",
            VerificationFailure::BadSign(_) => "bad_sign",
            VerificationFailure::UnsignedField(_) => "unsigned_field",
            VerificationFailure::AmbiguousField { .. } => "ambiguous_field",
            VerificationFailure::Replayed { .. } => "replayed",
            VerificationFailure::ErrorDocument { .. } => "error_document",
            VerificationFailure::EchoMismatch { .. } => "echo_mismatch",
        }
    }
}

impl fmt::Display for VerificationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerificationFailure::MissingHeader(name) => write!(f, "header `{name}` is missing"),
            VerificationFailure::InvalidHeader { name, reason } => {
                write!(f, "header `{name}` is invalid: {reason}")
            }
            VerificationFailure::StaleTimestamp { timestamp, now } => write!(
                f,
                "`Wechatpay-Timestamp` {timestamp} is {}s in the past (allowed: 300s)",
                now.saturating_sub(*timestamp)
            ),
            VerificationFailure::FutureTimestamp { timestamp, now } => write!(
                f,
                "`Wechatpay-Timestamp` {timestamp} is {}s in the future (allowed: 300s)",
                timestamp.saturating_sub(*now)
            ),
            VerificationFailure::UnknownSerial(serial) => write!(
                f,
                "`Wechatpay-Serial` {serial} names no configured platform certificate or public key"
            ),
            VerificationFailure::BadSignature { serial } => write!(
                f,
                "`Wechatpay-Signature` does not verify with platform key {serial}"
            ),
            VerificationFailure::DigestMismatch => {
                f.write_str("the content's SHA-1 does not match the hash that vouches for it")
            }
            VerificationFailure::UnsupportedSignatureType(kind) => write!(
                f,
                "`Wechatpay-Signature-Type` {kind:?} is not supported (only WECHATPAY2-SHA256-RSA2048)"
            ),
            VerificationFailure::ExpiredCertificate { serial, not_after } => write!(
                f,
                "`Wechatpay-Serial` {serial} names a platform certificate that expired at {not_after} (Unix time)"
            ),
            VerificationFailure::CertificateNotYetValid { serial, not_before } => write!(
                f,
                "`Wechatpay-Serial` {serial} names a platform certificate that is valid only from {not_before} (Unix time)"
            ),
            VerificationFailure::MissingSign => f.write_str("the APIv2 answer has no `sign`"),
            VerificationFailure::BadSign(kind) => {
                write!(
                    f,
                    "the APIv2 `sign` does not match ({kind} with the APIv2 secret)"
                )
            }
            VerificationFailure::UnsignedField(name) => write!(
                f,
                "field `{name}` is nested or repeated, which an APIv2 `sign` cannot cover"
            ),
            VerificationFailure::AmbiguousField { name, reason } => write!(
                f,
                "field `{name}` could be other fields regrouped under the same APIv2 `sign`: {reason}"
            ),
            VerificationFailure::Replayed { serial, nonce } => write!(
                f,
                "this signed answer (`Wechatpay-Serial` {serial}, `Wechatpay-Nonce` {}) was \
                 received before: a replay",
                nonce.escape_default()
            ),
            VerificationFailure::ErrorDocument { status, code } => write!(
                f,
                "a {status} answer carries an error document (code {}): an error's signed body \
                 served as a success",
                code.escape_default()
            ),
            VerificationFailure::EchoMismatch {
                field,
                sent,
                answered,
            } => write!(
                f,
                "the APIv2 answer's `{field}` is {} where the request sent {}: an answer to \
                 another request",
                answered.escape_default(),
                sent.escape_default()
            ),
        }
    }
}

impl StdError for VerificationFailure {}
