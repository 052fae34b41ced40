//! [`PreparedRequest`]: a request exactly as it will be sent, before it is signed.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method};
use url::{Position, Url};

use crate::signature::request_message;

/// A request exactly as it will be sent, before the `Authorization` header is added.
///
/// [`Endpoint::prepare`](crate::Endpoint::prepare) returns one without sending anything: use
/// it to see what a call would send.
///
/// ```
/// # let key = openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap();
/// # let client = wechatpay::Client::builder().mchid("1900000000").serial("0A").private_key(key)
/// #     .verifier(wechatpay::verifier::PlatformVerifier::new()).build().unwrap();
/// use serde_json::json;
///
/// let prepared = client["v3/pay/transactions/id/{transaction_id}"]
///     .prepare(wechatpay::Method::GET, json!({ "transaction_id": "4200000001", "query": { "mchid": "1230000109" } }))
///     .unwrap();
/// assert_eq!(prepared.target(), "/v3/pay/transactions/id/4200000001?mchid=1230000109");
/// assert_eq!(
///     prepared.signing_message(1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242"),
///     b"GET\n/v3/pay/transactions/id/4200000001?mchid=1230000109\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
/// );
/// ```
#[derive(Clone)]
pub struct PreparedRequest {
    pub(crate) method: Method,
    /// The full URL; its path and query are exactly the signed request target.
    pub(crate) url: Url,
    /// Where the API path (`/v3/...`, after the base URI's path prefix) starts in the URL path.
    pub(crate) api_offset: usize,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// What the signature covers when it is not the body (a media upload's meta part).
    pub(crate) signed_body: Option<Bytes>,
    pub(crate) timeout: Option<std::time::Duration>,
    pub(crate) protocol: Protocol,
}

/// Which API a request belongs to, which decides how it is signed, sent and verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// APIv3: `Authorization` added at send time, response signature verified.
    V3,
    /// APIv2: `sign` already in the payload; the answer's `sign` verified.
    V2 {
        /// Sent over mutual TLS with the merchant certificate.
        mutual_tls: bool,
        /// The identifiers the request sent that an answer echoes (`mch_id`, `out_trade_no`,
        /// ...): an answer that echoes others answers another request.
        echo: Arc<[(&'static str, String)]>,
    },
}

impl std::fmt::Debug for PreparedRequest {
    /// Method and path; the query and body may hold personal data and are shown by length.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("method", &self.method)
            .field("path", &self.url.path())
            .field("query_len", &self.url.query().map_or(0, str::len))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body_len", &self.body.len())
            .field("apiv2", &self.is_apiv2())
            .finish()
    }
}

impl PreparedRequest {
    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The full URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The request target: path and `?query` exactly as sent and signed.
    pub fn target(&self) -> &str {
        &self.url[Position::BeforePath..Position::AfterQuery]
    }

    /// The API path: the URL path after the base URI's prefix, such as `/v3/certificates`.
    pub fn api_path(&self) -> &str {
        &self.url.path()[self.api_offset..]
    }

    /// The headers (all but `Authorization`, which signing adds).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body bytes exactly as sent and signed.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The bytes the signature covers: the body, or for a media upload the `meta` part.
    pub fn signed_body(&self) -> &[u8] {
        self.signed_body.as_deref().unwrap_or(&self.body)
    }

    /// Whether this is an APIv2 request (a `v2/...` path): its payload is already signed (the
    /// `sign` field) and [`signing_message`](Self::signing_message) does not apply.
    pub fn is_apiv2(&self) -> bool {
        matches!(self.protocol, Protocol::V2 { .. })
    }

    /// Whether it is sent with the merchant certificate (APIv2 `security`).
    pub(crate) fn mutual_tls(&self) -> bool {
        matches!(
            self.protocol,
            Protocol::V2 {
                mutual_tls: true,
                ..
            }
        )
    }

    /// The identifiers an APIv2 answer must echo as the request sent them (none for APIv3).
    pub(crate) fn echo(&self) -> Arc<[(&'static str, String)]> {
        match &self.protocol {
            Protocol::V2 { echo, .. } => echo.clone(),
            Protocol::V3 => Arc::new([]),
        }
    }

    /// The message an APIv3 signature with this timestamp and nonce covers.
    pub fn signing_message(&self, timestamp: i64, nonce: &str) -> Vec<u8> {
        request_message(
            self.method.as_str(),
            self.target(),
            timestamp,
            nonce,
            self.signed_body(),
        )
    }
}
