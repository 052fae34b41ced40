//! The request pipeline: prepare -> sign -> send -> verify.
//!
//! Everything here but [`transport::send`](crate::transport::send) is pure: no I/O, no clock
//! except the signing timestamp and the verification window. One async function runs it; the
//! blocking verbs drive that same function (see [`transport`](crate::transport)).

mod prepare;
mod prepare_v2;
mod sign;
mod verify;
mod verify_v2;

use bytes::Bytes;
use http::{HeaderMap, Method};
use url::{Position, Url};

use crate::client::Shared;
use crate::error::Result;
use crate::failover::{Failover, Route};
use crate::response::Response;
use crate::signature::request_message;
use crate::transport::HttpClients;

pub(crate) use prepare::prepare;
pub(crate) use sign::authorize;
pub(crate) use verify::{finish_error, statement_document, statement_sha1};

/// The [`Api`](crate::ErrorKind::Api) error of a non-2xx APIv3 answer.
pub(crate) fn api_error_of(response: Response) -> crate::error::Error {
    crate::error::Error::from_api(verify::api_error(&response), response)
}

/// A request exactly as it will be sent, before the `Authorization` header is added.
///
/// [`Endpoint::prepare`](crate::Endpoint::prepare) returns one without sending anything: use
/// it to see what a call would send.
///
/// ```
/// # let client = wechatpay::Client::offline_for_docs();
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// APIv3: `Authorization` added at send time, response signature verified.
    V3,
    /// APIv2: `sign` already in the payload; the answer's `sign` verified.
    V2 {
        /// Sent over mutual TLS with the merchant certificate.
        mutual_tls: bool,
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

/// Checks a signature over `payload` (for answers whose body is not read yet) with the client's
/// verifier, refreshing the ring for an unknown serial as for any answer.
pub(crate) async fn verify_refreshing(
    shared: &Shared,
    http: &reqwest::Client,
    v3: &crate::client::V3,
    headers: &HeaderMap,
    payload: &[u8],
) -> std::result::Result<(), crate::VerificationFailure> {
    let outcome = v3.verifier.verify(headers, payload);
    if refreshed_for(shared, http, v3, outcome.as_ref().err()).await {
        v3.verifier.verify(headers, payload)
    } else {
        outcome
    }
}

/// After a failed check: when it named a serial the ring does not know, and the ring refreshes
/// itself, refreshes it (rate-limited) and says to check once more.
async fn refreshed_for(
    shared: &Shared,
    http: &reqwest::Client,
    v3: &crate::client::V3,
    failure: Option<&crate::VerificationFailure>,
) -> bool {
    let Some(crate::VerificationFailure::UnknownSerial(serial)) = failure else {
        return false;
    };
    if v3.custom_verifier || !v3.ring.is_automatic() {
        return false;
    }
    let trigger = crate::keyring::Trigger::UnknownSerial(serial.clone());
    let _ = crate::keyring::refresh(shared, http, trigger).await;
    true
}

/// Signs, sends and verifies, with the client's failover and (for `GET`s) retry policy.
pub(crate) async fn execute(
    shared: &Shared,
    http: &HttpClients,
    prepared: PreparedRequest,
) -> Result<Response> {
    // The key ring's own needs first (its first download, a lazy refresh), outside the route:
    // they make their own requests, with their own failover, and what happens to them says
    // nothing about whether the primary got this request.
    if matches!(prepared.protocol, Protocol::V3) {
        crate::keyring::before_request(shared, &http.plain).await?;
    }
    // Without a retry policy, the request is not cloned.
    let Some(policy) = shared
        .retry
        .filter(|_| prepared.method == http::Method::GET)
    else {
        return route(shared, prepared, |p| attempt(shared, http, p)).await;
    };
    let started = std::time::Instant::now();
    let mut retries = 0;
    loop {
        let outcome = route(shared, prepared.clone(), |p| attempt(shared, http, p)).await;
        if retries >= policy.max_retries || !crate::retry::retryable(&outcome) {
            return outcome;
        }
        retries += 1;
        let delay = policy.delay(retries);
        if started.elapsed() + delay > policy.max_elapsed {
            return outcome;
        }
        tracing::info!(
            retry = retries,
            delay_ms = delay.as_millis() as u64,
            "retrying a GET"
        );
        tokio::time::sleep(delay).await;
    }
}

/// One attempt, on the primary or the backup host. A request that could not reach the primary
/// (DNS, connect, TLS handshake: nothing was received) is sent again, signed afresh, to the
/// backup; any later failure is returned as it is. `attempt` signs, sends and checks (the
/// client's requests), or signs and sends (the key ring's certificate downloads).
pub(crate) async fn route<F, Fut>(
    shared: &Shared,
    prepared: PreparedRequest,
    attempt: F,
) -> Result<Response>
where
    F: Fn(PreparedRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Response>>,
{
    let Some(failover) = shared
        .failover
        .as_ref()
        .filter(|f| prepared.url.as_str().starts_with(f.primary.as_str()))
    else {
        return attempt(prepared).await;
    };
    match failover.choose() {
        Route::Backup => attempt(rebase(shared, prepared, failover)?)
            .await
            .map_err(|e| {
                backup_failed(
                    e,
                    format_args!(
                        "sent to the backup host: the primary {} could not be reached shortly \
                         before",
                        failover.primary.as_str()
                    ),
                )
            }),
        // A probe's guard lives until the probe settled, or its future was dropped.
        Route::Primary(_probe) => {
            let outcome = attempt(prepared.clone()).await;
            match &outcome {
                Err(e) if e.is_connect() => {
                    failover.primary_down();
                    let rebased = rebase(shared, prepared, failover)?;
                    attempt(rebased).await.map_err(|backup| {
                        backup_failed(
                            backup,
                            format_args!(
                                "sent to the backup host after the primary failed: {}",
                                e.message()
                            ),
                        )
                    })
                }
                // An error after connecting, or before anything was sent (the signer): nothing
                // learned about the primary. A probe's guard frees the slot as it goes; any
                // other request leaves it alone.
                Err(e) if e.response().is_none() => outcome,
                // The primary answered (any answer, checked or not).
                _ => {
                    failover.primary_up();
                    outcome
                }
            }
        }
    }
}

/// A transport error on the backup host, with why the primary was not used.
fn backup_failed(e: crate::Error, why: std::fmt::Arguments<'_>) -> crate::Error {
    if e.kind() == crate::ErrorKind::Transport {
        e.noting(why)
    } else {
        e
    }
}

/// The request for the backup host: same path and query, and a `User-Agent` that says so.
fn rebase(
    shared: &Shared,
    mut prepared: PreparedRequest,
    failover: &Failover,
) -> Result<PreparedRequest> {
    let relative = &prepared.url.path()[failover.primary.path().len()..];
    let url = prepare::build_url(&failover.backup, relative, prepared.url.query())?;
    prepared.api_offset = failover.backup.path().len() - 1;
    prepared.url = url;
    if let Ok(agent) = http::HeaderValue::from_str(&format!(
        "{} failover",
        shared.user_agent.to_str().unwrap_or_default()
    )) {
        prepared.headers.insert(http::header::USER_AGENT, agent);
    }
    Ok(prepared)
}

/// Signs (APIv3), sends and verifies one request.
async fn attempt(
    shared: &Shared,
    http: &HttpClients,
    mut prepared: PreparedRequest,
) -> Result<Response> {
    match prepared.protocol {
        Protocol::V3 => {
            let v3 = shared.v3()?;
            sign::authorize(shared, v3, &mut prepared).await?;
            let rule = verify::Rule::for_request(&prepared.method, prepared.api_path());
            let response =
                crate::transport::send(&http.plain, prepared, shared.transport.max_response_size())
                    .await?;
            let e = match verify::finish(v3.verifier.as_ref(), rule, response) {
                Err(e) => e,
                verified => return verified,
            };
            // A key the ring does not know yet: refreshed, then the same answer checked again.
            if !refreshed_for(shared, &http.plain, v3, e.verification()).await {
                return Err(e);
            }
            match e.response().cloned() {
                Some(response) => verify::finish(v3.verifier.as_ref(), rule, response),
                None => Err(e),
            }
        }
        Protocol::V2 { mutual_tls } => {
            let secret = shared.v2()?;
            let rule = verify_v2::Answer::for_path(prepared.api_path());
            // A bill is as large as it is: the download endpoints are not limited.
            let limit = match rule {
                verify_v2::Answer::Raw => usize::MAX,
                _ => shared.transport.max_response_size(),
            };
            let response = crate::transport::send(http.pick(mutual_tls)?, prepared, limit).await?;
            verify_v2::finish(secret, rule, response)
        }
    }
}
