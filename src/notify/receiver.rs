//! The whole receipt of a callback in one call, for web frameworks: bounded body, verification
//! and decryption ([`NotificationParser`]), de-duplication ([`DuplicateFilter`]) and the answers
//! WeChat Pay expects. The framework integrations (features `axum` and `actix-web`) are thin
//! adapters around [`NotificationReceiver::receive`].

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use http::{HeaderMap, StatusCode};

use super::callback::{
    Notification, NotificationParser, callback_span, failure, failure_for, failure_parts,
    record_callback, success,
};
use super::duplicates::{Claim, Delivery, DuplicateFilter};
use crate::error::Error;
use crate::redact::Escaped;

/// The largest callback body a [`NotificationReceiver`] reads by default: 256 KiB. WeChat Pay's
/// notifications are a few kilobytes (a combined order's, with its sub-orders, some tens).
pub const DEFAULT_MAX_BODY_SIZE: usize = 256 * 1024;

/// How many processed notification ids a [`NotificationReceiver`]'s own [`DuplicateFilter`]
/// remembers by default.
pub const DEFAULT_DUPLICATE_CAPACITY: usize = 10_000;

/// Everything a callback endpoint needs, shared by all its requests: the
/// [`NotificationParser`] (the APIv3 key and the platform keys), a [`DuplicateFilter`] and the
/// body size limit.
///
/// Build it once, from the client ([`Client::notification_receiver`](crate::Client::notification_receiver))
/// or from a parser ([`new`](Self::new)), and put it in the web framework's state: with the
/// feature `axum`, [`WechatpayNotification`] is an extractor that finds it in the router's state
/// through `FromRef`; with the feature `actix-web`, an extractor that finds it in
/// `web::Data<NotificationReceiver>`. Without a framework, [`receive`](Self::receive) takes the
/// headers and the raw body.
///
/// Cheap to clone (clones share the duplicate filter), `Send + Sync`. `Debug` never shows the
/// APIv3 key.
///
/// ```
/// use wechatpay::notify::{DuplicateFilter, NotificationParser, NotificationReceiver};
/// use wechatpay::verifier::PlatformVerifier;
///
/// # let platform_key = wechatpay::crypto::PrivateKey::load(openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap()).unwrap().public_key().unwrap();
/// let mut verifier = PlatformVerifier::new();
/// verifier.insert("PUB_KEY_ID_0114232134912410000000000000", platform_key);
/// let receiver = NotificationReceiver::new(NotificationParser::new(
///     "0123456789abcdef0123456789abcdef",
///     verifier,
/// )?)
/// .with_duplicate_filter(DuplicateFilter::new(100_000))
/// .with_max_body_size(64 * 1024);
///
/// // Nothing signed: refused with the failure answer, so WeChat Pay would retry.
/// let refused = receiver.receive(&http::HeaderMap::new(), b"{}").unwrap_err();
/// assert_eq!(refused.status(), 401);
/// assert_eq!(
///     refused.to_response().body(),
///     br#"{"code":"FAIL","message":"signature verification failed"}"#
/// );
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct NotificationReceiver {
    parser: NotificationParser,
    seen: DuplicateFilter,
    max_body_size: usize,
}

impl NotificationReceiver {
    /// A receiver with this parser, a [`DuplicateFilter`] of its own remembering
    /// [`DEFAULT_DUPLICATE_CAPACITY`] ids, and a body limit of [`DEFAULT_MAX_BODY_SIZE`].
    pub fn new(parser: NotificationParser) -> NotificationReceiver {
        NotificationReceiver {
            parser,
            seen: DuplicateFilter::new(DEFAULT_DUPLICATE_CAPACITY),
            max_body_size: DEFAULT_MAX_BODY_SIZE,
        }
    }

    /// Uses `filter` to skip the notifications already processed (another capacity, or a
    /// filter shared with other receivers of the same process).
    pub fn with_duplicate_filter(mut self, filter: DuplicateFilter) -> NotificationReceiver {
        self.seen = filter;
        self
    }

    /// Refuses bodies longer than `bytes` (413, without reading past the limit).
    pub fn with_max_body_size(mut self, bytes: usize) -> NotificationReceiver {
        self.max_body_size = bytes;
        self
    }

    /// The parser that verifies and decrypts.
    pub fn parser(&self) -> &NotificationParser {
        &self.parser
    }

    /// The duplicate filter.
    pub fn duplicate_filter(&self) -> &DuplicateFilter {
        &self.seen
    }

    /// The largest body read, in bytes.
    pub fn max_body_size(&self) -> usize {
        self.max_body_size
    }

    /// Receives one callback: the body's size, then [`NotificationParser::parse`], then the
    /// duplicate filter. A notification to process is returned (with the claim on its id, to
    /// settle with [`WechatpayNotification::ack`]); anything else is a [`Rejection`] that is
    /// already the answer to send ([`Rejection::to_response`]): a failure for a callback that
    /// does not check out or is being processed by another delivery, success for one processed
    /// before.
    ///
    /// It runs inside one `tracing` span `wechatpay.callback` (as `parse` does), whose
    /// `wechatpay.outcome` is `verified` (handed to you), `refused`, `duplicate`,
    /// `in_progress` or `too_large`; the rejection's log line is inside it.
    pub fn receive(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<WechatpayNotification, Rejection> {
        let span = callback_span();
        let _entered = span.enter();
        let outcome = self.receive_in(headers, body, &span);
        let (verdict, error) = match &outcome {
            Ok(_) => ("verified", None),
            Err(Rejection::Invalid(e)) => ("refused", Some(e)),
            Err(Rejection::TooLarge { .. }) => ("too_large", None),
            Err(Rejection::Duplicate { .. }) => ("duplicate", None),
            Err(Rejection::InProgress { .. }) => ("in_progress", None),
            Err(_) => ("refused", None),
        };
        record_callback(&span, verdict, error);
        outcome
    }

    /// [`receive`](Self::receive)'s work, inside its span.
    fn receive_in(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        span: &tracing::Span,
    ) -> Result<WechatpayNotification, Rejection> {
        if body.len() > self.max_body_size {
            return Err(Rejection::TooLarge {
                limit: self.max_body_size,
            }
            .logged());
        }
        let notification = self
            .parser
            .parse_in(headers, body, span)
            .map_err(|e| Rejection::Invalid(e).logged())?;
        match self.seen.claim(notification.id()) {
            Delivery::First(claim) => Ok(WechatpayNotification {
                notification,
                claim,
            }),
            Delivery::Processed => Err(Rejection::Duplicate {
                id: notification.id().to_owned(),
            }
            .logged()),
            Delivery::InProgress => Err(Rejection::InProgress {
                id: notification.id().to_owned(),
            }
            .logged()),
        }
    }
}

/// A `Content-Length` header's value, when there is one and it is a number.
#[cfg(any(feature = "axum", feature = "actix-web"))]
pub(super) fn declared_length(value: Option<&http::HeaderValue>) -> Option<usize> {
    value?.to_str().ok()?.trim().parse().ok()
}

/// A verified, decrypted callback seen for the first time, to process; with the features
/// `axum` and `actix-web`, the extractor of a callback handler.
///
/// It holds the claim on the notification's id in the [`DuplicateFilter`]: answer with
/// [`ack`](Self::ack) once the notification is processed (the id is then remembered, and the
/// repeats WeChat Pay sends are answered with success without reaching the handler). Dropped
/// without `ack` (the handler returned a [`Failure`], or panicked), the id is released and
/// WeChat Pay's retry is processed.
///
/// Dereferences to the [`Notification`]: `id()`, `event_type()`, `json::<T>()`...
///
/// With axum (feature `axum`): the [`NotificationReceiver`] comes from the router's state by
/// `FromRef`; a callback that is refused never reaches the handler, and its [`Rejection`] is
/// the answer:
///
/// ```no_run
/// # #[cfg(feature = "axum")]
/// # mod example {
/// use axum::{Router, extract::FromRef, routing::post};
/// use wechatpay::notify::{Ack, Failure, NotificationReceiver, WechatpayNotification};
///
/// #[derive(Clone)]
/// struct AppState {
///     receiver: NotificationReceiver,
///     // ... your database pool ...
/// }
///
/// // (or `#[derive(FromRef)]` on `AppState`, with axum's feature `macros`)
/// impl FromRef<AppState> for NotificationReceiver {
///     fn from_ref(state: &AppState) -> NotificationReceiver {
///         state.receiver.clone()
///     }
/// }
///
/// #[derive(serde::Deserialize)]
/// struct Transaction {
///     out_trade_no: String,
///     trade_state: String,
/// }
///
/// async fn paid(notification: WechatpayNotification) -> Result<Ack, Failure> {
///     let tx: Transaction = notification.json()?; // a failure answer if it is not one
///     println!("{} is {}", tx.out_trade_no, tx.trade_state);
///     // ... record the payment, idempotently; on error return a `Failure` ...
///     Ok(notification.ack())
/// }
///
/// async fn serve(client: wechatpay::Client) -> Result<(), Box<dyn std::error::Error>> {
///     let state = AppState { receiver: client.notification_receiver()? };
///     let app = Router::new().route("/wechatpay/notify", post(paid)).with_state(state);
///     let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
///     axum::serve(listener, app).await?;
///     Ok(())
/// }
/// # }
/// # fn main() {}
/// ```
///
/// With actix-web (feature `actix-web`): the receiver comes from `web::Data<NotificationReceiver>`
/// (a missing one is answered 500 and logged); [`Rejection`] and [`Failure`] are
/// `ResponseError`s, [`Ack`] a `Responder`:
///
/// ```no_run
/// # #[cfg(feature = "actix-web")]
/// # mod example {
/// use actix_web::{App, HttpServer, web};
/// use wechatpay::notify::{Ack, Failure, NotificationReceiver, WechatpayNotification};
///
/// #[derive(serde::Deserialize)]
/// struct Transaction {
///     out_trade_no: String,
/// }
///
/// async fn paid(notification: WechatpayNotification) -> Result<Ack, Failure> {
///     let tx: Transaction = notification.json()?;
///     println!("{} is paid", tx.out_trade_no);
///     Ok(notification.ack())
/// }
///
/// async fn serve(client: wechatpay::Client) -> Result<(), Box<dyn std::error::Error>> {
///     let receiver = web::Data::new(client.notification_receiver()?);
///     HttpServer::new(move || {
///         App::new()
///             .app_data(receiver.clone())
///             .route("/wechatpay/notify", web::post().to(paid))
///     })
///     .bind(("0.0.0.0", 8080))?
///     .run()
///     .await?;
///     Ok(())
/// }
/// # }
/// # fn main() {}
/// ```
#[must_use = "answer with `.ack()` once processed; dropping it releases the notification id"]
pub struct WechatpayNotification {
    notification: Notification,
    claim: Claim,
}

impl WechatpayNotification {
    /// The notification.
    pub fn notification(&self) -> &Notification {
        &self.notification
    }

    /// Records the notification as processed (its repeats are then answered with success
    /// without being processed) and gives the success answer.
    pub fn ack(self) -> Ack {
        self.claim.done();
        Ack(())
    }

    /// The notification and the claim on its id, for processing that outlives the request
    /// (settle the claim with [`Claim::done`] once processed, or drop it on failure).
    /// [`Ack::from`] a claim settles it and gives the success answer.
    pub fn into_parts(self) -> (Notification, Claim) {
        (self.notification, self.claim)
    }
}

impl Deref for WechatpayNotification {
    type Target = Notification;

    fn deref(&self) -> &Notification {
        &self.notification
    }
}

impl fmt::Debug for WechatpayNotification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WechatpayNotification")
            .field(&self.notification)
            .finish()
    }
}

/// The answer to a processed notification: HTTP 204, empty body, as [`success`]. Obtained from
/// [`WechatpayNotification::ack`] (or [`Ack::from`] a [`Claim`]), which records the id as
/// processed. With the features `axum` and `actix-web`, a response of that framework
/// (`IntoResponse`, `Responder`).
///
/// ```
/// # use wechatpay::notify::{Ack, Delivery, DuplicateFilter};
/// let filter = DuplicateFilter::new(10);
/// let Delivery::First(claim) = filter.claim("EV-1") else { unreachable!() };
/// let ack = Ack::from(claim);
/// assert!(filter.is_processed("EV-1"));
/// assert_eq!(ack.to_response().status(), 204);
/// ```
#[derive(Debug)]
#[must_use = "send it back to WeChat Pay"]
pub struct Ack(());

impl Ack {
    /// The answer as an [`http::Response`].
    pub fn to_response(&self) -> http::Response<Vec<u8>> {
        success()
    }
}

impl From<Claim> for Ack {
    /// Settles the claim ([`Claim::done`]) and gives the success answer.
    fn from(claim: Claim) -> Ack {
        claim.done();
        Ack(())
    }
}

/// A failure answer from a callback handler: a 4xx/5xx status with
/// `{"code":"FAIL","message":...}` (as [`failure`]), so that WeChat Pay retries later. With the
/// features `axum` and `actix-web`, a response of that framework (`IntoResponse`,
/// `ResponseError`), so a handler returns `Result<Ack, Failure>`.
///
/// From an [`Error`](crate::Error) (`?` on [`Notification::json`], say), the status and fixed
/// message of [`failure_for`](super::failure_for): nothing of the error goes to WeChat Pay.
/// The message goes to WeChat Pay: keep secrets and customer data out of it.
///
/// ```
/// use wechatpay::notify::Failure;
/// use wechatpay::StatusCode;
///
/// let busy = Failure::new(StatusCode::SERVICE_UNAVAILABLE, "database unavailable");
/// assert_eq!(busy.status(), 503);
/// assert_eq!(
///     busy.to_response().body(),
///     br#"{"code":"FAIL","message":"database unavailable"}"#
/// );
/// // Not a failure status: 500.
/// assert_eq!(Failure::new(StatusCode::OK, "x").status(), 500);
/// ```
#[derive(Clone, Debug)]
pub struct Failure {
    status: StatusCode,
    message: Cow<'static, str>,
}

impl Failure {
    /// A failure answer with this status (a 4xx or 5xx; anything else becomes 500) and
    /// message.
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Failure {
        let status = if status.is_client_error() || status.is_server_error() {
            status
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        Failure {
            status,
            message: message.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message sent to WeChat Pay.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The answer as an [`http::Response`].
    pub fn to_response(&self) -> http::Response<Vec<u8>> {
        failure(self.status, &self.message)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        tracing::warn!(error = %Escaped(&error), "callback not processed");
        let (status, message) = failure_parts(&error);
        Failure::new(status, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "callback answered {}: {}",
            self.status.as_u16(),
            Escaped(&self.message)
        )
    }
}

impl std::error::Error for Failure {}

/// Why a callback did not reach its handler, and the answer WeChat Pay gets for it
/// ([`to_response`](Self::to_response)); with the features `axum` and `actix-web`, the
/// extractor's rejection (`IntoResponse`, `ResponseError`).
///
/// | variant | answer |
/// | --- | --- |
/// | [`Invalid`](Self::Invalid) | [`failure_for`](super::failure_for) the error: 401 (signature, clock, serial), 400 (malformed), 500 (not decryptable) |
/// | [`TooLarge`](Self::TooLarge) | 413 failure |
/// | [`Unreadable`](Self::Unreadable) | 400 failure |
/// | [`InProgress`](Self::InProgress) | 429 failure: WeChat Pay retries later |
/// | [`Duplicate`](Self::Duplicate) | 204 success: processed before, not processed again |
/// | [`NotConfigured`](Self::NotConfigured) | 500 failure |
///
/// Failure answers are `{"code":"FAIL","message":...}` with fixed messages; the details are
/// logged (`tracing`, target `wechatpay::notify::receiver`) and kept here.
///
/// ```
/// use wechatpay::notify::Rejection;
///
/// let repeat = Rejection::Duplicate { id: "EV-2018022511223320873".into() };
/// assert!(repeat.is_success());
/// assert_eq!(repeat.to_response().status(), 204);
///
/// let large = Rejection::TooLarge { limit: 256 * 1024 };
/// assert_eq!(large.status(), 413);
/// assert_eq!(
///     large.to_response().body(),
///     br#"{"code":"FAIL","message":"notification too large"}"#
/// );
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Rejection {
    /// The callback failed verification, was malformed or could not be decrypted: the
    /// [`NotificationParser::parse`] error.
    Invalid(Error),
    /// The body is longer than the receiver's limit.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body could not be read (the connection failed).
    Unreadable(String),
    /// Another delivery of this notification is being processed right now.
    InProgress {
        /// The notification id.
        id: String,
    },
    /// This notification was processed already: answered with success.
    Duplicate {
        /// The notification id.
        id: String,
    },
    /// The framework's state has no [`NotificationReceiver`] (actix-web: no
    /// `web::Data<NotificationReceiver>` in the app data).
    NotConfigured,
}

impl Rejection {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::Invalid(e) => failure_parts(e).0,
            Rejection::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::Unreadable(_) => StatusCode::BAD_REQUEST,
            Rejection::InProgress { .. } => StatusCode::TOO_MANY_REQUESTS,
            Rejection::Duplicate { .. } => StatusCode::NO_CONTENT,
            Rejection::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// True for [`Duplicate`](Self::Duplicate), the one rejection answered with success.
    pub fn is_success(&self) -> bool {
        matches!(self, Rejection::Duplicate { .. })
    }

    /// The answer to send WeChat Pay.
    pub fn to_response(&self) -> http::Response<Vec<u8>> {
        let status = self.status();
        match self {
            Rejection::Invalid(e) => failure_for(e),
            Rejection::TooLarge { .. } => failure(status, "notification too large"),
            Rejection::Unreadable(_) => failure(status, "notification body not read"),
            Rejection::InProgress { .. } => failure(status, "notification being processed"),
            Rejection::Duplicate { .. } => success(),
            Rejection::NotConfigured => failure(status, "notification receiver not configured"),
        }
    }

    /// Logs it (the details that the answer does not give) and returns it.
    pub(crate) fn logged(self) -> Rejection {
        match &self {
            Rejection::Duplicate { id } => {
                tracing::info!(id = %Escaped(id), "callback processed before: acknowledged again")
            }
            Rejection::InProgress { id } => {
                tracing::info!(id = %Escaped(id), "callback being processed: retry asked")
            }
            Rejection::NotConfigured => tracing::error!("{self}"),
            _ => tracing::warn!(error = %self, "callback refused"),
        }
        self
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Invalid(e) => write!(f, "callback refused: {}", Escaped(e)),
            Rejection::TooLarge { limit } => {
                write!(f, "callback refused: body over {limit} bytes")
            }
            Rejection::Unreadable(e) => {
                write!(f, "callback body could not be read: {}", Escaped(e))
            }
            Rejection::InProgress { id } => {
                write!(f, "callback {} is being processed", Escaped(id))
            }
            Rejection::Duplicate { id } => {
                write!(f, "callback {} was processed before", Escaped(id))
            }
            Rejection::NotConfigured => f.write_str(
                "no wechatpay::notify::NotificationReceiver in the web framework's state \
                 (actix-web: add web::Data::new(receiver) with App::app_data)",
            ),
        }
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Rejection::Invalid(e) => Some(e),
            _ => None,
        }
    }
}
