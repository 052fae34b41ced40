//! The HTTP side: the TLS configurations and HTTP clients of one client, sending a prepared,
//! signed request, and reading its answer (whole, or chunk by chunk).
//!
//! A client has a set of HTTP clients per runtime its calls run on: the async verbs' run on
//! the caller's Tokio runtime (one set for each, e.g. each of actix-web's single-threaded
//! workers); the blocking verbs' run on the client's own runtime thread (see
//! [`blocking`](crate::blocking)). A set per runtime, because a pooled connection's task
//! belongs to the runtime that opened it: a call on another runtime would wait for that one to
//! be driven (a busy worker's), or find the connection gone with it.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::blocking::RuntimeThread;
use crate::error::{Error, Result};
use crate::per_runtime::{PerRuntime, current_runtime};
use crate::prepared::PreparedRequest;
use crate::response::Response;

/// Connection settings shared by all HTTP clients.
#[derive(Clone)]
pub(crate) struct HttpSettings {
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    /// Extra trusted root certificates (a private CA, a TLS-inspecting proxy, a test server).
    pub(crate) roots: Vec<native_tls::Certificate>,
    /// The merchant certificate and key for APIv2 `security: true` requests.
    pub(crate) identity: Option<native_tls::Identity>,
    /// The largest response body read whole, in bytes.
    pub(crate) max_response_size: usize,
    /// The largest download (a bill, a statement: the bytes written, decompressed), in bytes.
    pub(crate) max_download_size: u64,
}

/// The default largest response body a client reads whole: 64 MiB.
pub const DEFAULT_MAX_RESPONSE_SIZE: usize = 64 << 20;

/// The default largest download (a bill or a statement, counted decompressed): 4 GiB, several
/// times the largest daily bill of a merchant with a million payments a day.
pub const DEFAULT_MAX_DOWNLOAD_SIZE: u64 = 4 << 30;

/// At most this much room is reserved on the word of an answer's `Content-Length`: the rest is
/// reserved as the bytes arrive.
const MAX_RESERVATION: usize = 256 << 10;

/// A limit on what is read, and the setting that raises it (named in the error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limit {
    pub(crate) bytes: u64,
    pub(crate) setting: &'static str,
}

impl Limit {
    /// The error of an answer past the limit (a `Transport` error, as a timeout would be: the
    /// request may have been carried out).
    pub(crate) fn exceeded(&self, what: &str) -> Error {
        Error::transport(
            format!(
                "{what} is larger than {} bytes, the client's {}",
                self.bytes, self.setting
            ),
            "answer too large",
        )
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            roots: Vec::new(),
            identity: None,
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            max_download_size: DEFAULT_MAX_DOWNLOAD_SIZE,
        }
    }
}

impl HttpSettings {
    /// The TLS configurations, built once and shared by the async and the blocking clients.
    fn tls(&self) -> Result<TlsConnectors> {
        let plain = if self.roots.is_empty() {
            system_roots_only()?
        } else {
            tls_connector(&self.roots, None)?
        };
        let mutual = match &self.identity {
            Some(identity) => Some(tls_connector(&self.roots, Some(identity))?),
            None => None,
        };
        Ok(TlsConnectors { plain, mutual })
    }

    fn client(&self, tls: &native_tls::TlsConnector) -> Result<reqwest::Client> {
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls.clone())
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            // A redirect would be followed with the old signature; WeChat Pay never redirects.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::transport("cannot create the HTTP client", e))
    }

    fn clients(&self, tls: &TlsConnectors) -> Result<HttpClients> {
        Ok(HttpClients {
            plain: self.client(&tls.plain)?,
            mutual: match &tls.mutual {
                Some(mutual) => Some(self.client(mutual)?),
                None => None,
            },
        })
    }
}

/// A TLS configuration: TLS 1.2 or later (an older version is refused at the handshake),
/// trusting the system's roots and `roots`, presenting `identity` when given.
fn tls_connector(
    roots: &[native_tls::Certificate],
    identity: Option<&native_tls::Identity>,
) -> Result<native_tls::TlsConnector> {
    let mut builder = native_tls::TlsConnector::builder();
    builder.min_protocol_version(Some(native_tls::Protocol::Tlsv12));
    for root in roots {
        builder.add_root_certificate(root.clone());
    }
    if let Some(identity) = identity {
        builder.identity(identity.clone());
    }
    builder
        .build()
        .map_err(|e| Error::transport("cannot create the TLS configuration", e))
}

/// The TLS configuration of every client that trusts only the system's roots, built once per
/// process: loading the system's certificate bundle is most of what building a client costs
/// (about 50 ms here, see docs/performance.md in the repository), and one `SSL_CTX` serves any number of
/// connections. A failed build is not remembered.
fn system_roots_only() -> Result<native_tls::TlsConnector> {
    static SHARED: OnceLock<native_tls::TlsConnector> = OnceLock::new();
    if let Some(shared) = SHARED.get() {
        return Ok(shared.clone());
    }
    let built = tls_connector(&[], None)?;
    Ok(SHARED.get_or_init(|| built).clone())
}

/// The TLS configurations of one client: without and with the merchant certificate.
struct TlsConnectors {
    plain: native_tls::TlsConnector,
    mutual: Option<native_tls::TlsConnector>,
}

/// One runtime's HTTP clients: the plain one, and the one that presents the merchant
/// certificate (APIv2 `security: true`), whose connections are never shared with the other.
pub(crate) struct HttpClients {
    pub(crate) plain: reqwest::Client,
    pub(crate) mutual: Option<reqwest::Client>,
}

impl HttpClients {
    /// The client for a request: with the merchant certificate when `mutual_tls`.
    pub(crate) fn pick(&self, mutual_tls: bool) -> Result<&reqwest::Client> {
        if !mutual_tls {
            return Ok(&self.plain);
        }
        self.mutual.as_ref().ok_or_else(|| {
            Error::config(
                "option `security` needs the merchant certificate: configure it with \
                 .merchant_cert(pem).merchant_key(pem) or .merchant_pkcs12(der, passphrase)",
            )
        })
    }
}

/// The async HTTP clients of the runtime a call runs on: [`lane`](Self::lane) borrows them
/// for the call.
pub(crate) struct AsyncClients(Arc<HttpClients>);

impl AsyncClients {
    /// The async verbs' lane, with these clients.
    pub(crate) fn lane(&self) -> Lane<'_> {
        Lane {
            http: &self.0,
            runtime: None,
        }
    }
}

/// Which HTTP clients a call runs with, and where its exchanges run.
#[derive(Clone, Copy)]
pub(crate) struct Lane<'a> {
    /// The clients of this lane.
    pub(crate) http: &'a HttpClients,
    /// The blocking verbs' lane: the client's runtime thread, where each exchange runs as one
    /// task. `None`: the async verbs' lane, whose exchanges run in the caller's future.
    pub(crate) runtime: Option<&'a tokio::runtime::Handle>,
}

impl Lane<'_> {
    /// The blocking verbs' lane.
    pub(crate) fn is_blocking(&self) -> bool {
        self.runtime.is_some()
    }
}

/// The HTTP side of one client.
pub(crate) struct Transport {
    settings: HttpSettings,
    tls: TlsConnectors,
    /// The async verbs' clients, one set per runtime (gone with it).
    async_http: PerRuntime<Arc<HttpClients>>,
    /// The set made with the client, for the first runtime that calls.
    first_http: Mutex<Option<Arc<HttpClients>>>,
    /// Started by the first blocking call.
    blocking: OnceLock<BlockingLane>,
}

/// The blocking verbs' runtime thread, and HTTP clients whose connections live on it.
struct BlockingLane {
    thread: RuntimeThread,
    http: HttpClients,
}

impl Transport {
    pub(crate) fn new(settings: HttpSettings) -> Result<Transport> {
        let tls = settings.tls()?;
        Ok(Transport {
            async_http: PerRuntime::new(),
            first_http: Mutex::new(Some(Arc::new(settings.clients(&tls)?))),
            tls,
            settings,
            blocking: OnceLock::new(),
        })
    }

    /// The largest response body read whole.
    pub(crate) fn response_limit(&self) -> Limit {
        Limit {
            bytes: self.settings.max_response_size as u64,
            setting: "max_response_size",
        }
    }

    /// The largest download (bills, statements), counted decompressed.
    pub(crate) fn download_limit(&self) -> Limit {
        Limit {
            bytes: self.settings.max_download_size,
            setting: "max_download_size",
        }
    }

    /// Whether a merchant certificate is configured (APIv2 `security: true`).
    pub(crate) fn has_identity(&self) -> bool {
        self.settings.identity.is_some()
    }

    /// The HTTP clients of the runtime the caller is on (made at its first call), or a
    /// `Config` error when `verb_async` is polled outside a Tokio runtime (where reqwest would
    /// panic).
    pub(crate) fn async_clients(&self, verb: &str) -> Result<AsyncClients> {
        let Some(runtime) = current_runtime() else {
            return Err(Error::config(format!(
                "`{verb}_async` needs a Tokio runtime (with I/O and time enabled) to run on; \
                 poll it from Tokio, or use the blocking `{verb}`"
            )));
        };
        if let Some(clients) = self.async_http.get(runtime) {
            return Ok(AsyncClients(clients));
        }
        let first = self
            .first_http
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let clients = match first {
            Some(clients) => clients,
            None => Arc::new(self.settings.clients(&self.tls)?),
        };
        Ok(AsyncClients(self.async_http.insert(clients)))
    }

    /// Runs `call` (given the blocking lane) to completion, blocking this thread: see
    /// [`blocking`](crate::blocking). A `Config` error naming `verb` when called from async code.
    pub(crate) fn block_on<'a, F, T>(
        &'a self,
        verb: &str,
        call: impl FnOnce(Lane<'a>) -> F,
    ) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        crate::blocking::refuse_in_async_code(verb)?;
        let lane = self.blocking_lane()?;
        let future = call(Lane {
            http: &lane.http,
            runtime: Some(lane.thread.handle()),
        });
        crate::blocking::block_on(lane.thread.handle(), future)
    }

    fn blocking_lane(&self) -> Result<&BlockingLane> {
        if let Some(lane) = self.blocking.get() {
            return Ok(lane);
        }
        // A failed start is not remembered: the next call tries again. Two threads may race to
        // start; the loser's runtime thread ends at once.
        let started = BlockingLane {
            thread: RuntimeThread::start()?,
            http: self.settings.clients(&self.tls)?,
        };
        Ok(self.blocking.get_or_init(|| started))
    }
}

/// Sends `prepared` with `http` and reads the whole answer, of at most `limit` bytes. On the
/// blocking lane the exchange runs as one task on the client's runtime thread, so that the
/// connection is back in the pool before the caller hears of the answer: otherwise the next
/// call could find the pool empty (that thread not scheduled yet) and open a second
/// connection.
pub(crate) async fn exchange(
    lane: Lane<'_>,
    http: &reqwest::Client,
    prepared: PreparedRequest,
    limit: Limit,
) -> Result<Response> {
    let Some(runtime) = lane.runtime else {
        return read(send(http, prepared).await?, limit).await;
    };
    let http = http.clone();
    let task = runtime.spawn(async move { read(send(&http, prepared).await?, limit).await });
    task.await
        .map_err(|e| Error::transport("the blocking client's exchange did not finish", e))?
}

/// The whole answer whose status and headers are in, its body within `limit`.
pub(crate) async fn read(mut response: reqwest::Response, limit: Limit) -> Result<Response> {
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let body = match next_all(response, limit).await {
        Ok(body) => body,
        // What was known of the answer, for its support: the status and Request-ID.
        Err(e) => {
            return Err(
                match headers.get("request-id").and_then(|v| v.to_str().ok()) {
                    Some(id) => e.noting(format_args!("answer: HTTP {status}, Request-ID {id}")),
                    None => e.noting(format_args!("answer: HTTP {status}")),
                },
            );
        }
    };
    Ok(Response::new(status, headers, body))
}

/// Reads the rest of a body within `limit`: one announced longer is refused before anything is
/// read, and a chunk that would take it past the limit before it is kept, so the client never
/// holds more. An announced length is trusted for at most a small reservation: a lying server
/// cannot make the client reserve memory it never sends.
pub(crate) async fn next_all(
    mut response: reqwest::Response,
    limit: Limit,
) -> Result<bytes::Bytes> {
    let too_large = || limit.exceeded("the response body");
    let announced = response.content_length();
    if announced.is_some_and(|n| n > limit.bytes) {
        return Err(too_large());
    }
    let within = |length: usize| length as u64 <= limit.bytes;
    // One chunk (the usual case) is returned as it is, without a copy.
    let Some(first) = next_chunk(&mut response).await? else {
        return Ok(bytes::Bytes::new());
    };
    if !within(first.len()) {
        return Err(too_large());
    }
    let Some(second) = next_chunk(&mut response).await? else {
        return Ok(first);
    };
    let mut length = first.len() + second.len();
    if !within(length) {
        return Err(too_large());
    }
    let mut body = bytes::BytesMut::with_capacity(reservation(announced, length));
    body.extend_from_slice(&first);
    body.extend_from_slice(&second);
    while let Some(chunk) = next_chunk(&mut response).await? {
        length += chunk.len();
        if !within(length) {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The room reserved for a body of which `received` bytes came: the announced length, but never
/// more than [`MAX_RESERVATION`] beyond what came.
fn reservation(announced: Option<u64>, received: usize) -> usize {
    let announced = announced.map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    announced
        .min(received.saturating_add(MAX_RESERVATION))
        .max(received)
}

/// Reads the next chunk of a streamed body (`None` at its end).
pub(crate) async fn next_chunk(response: &mut reqwest::Response) -> Result<Option<bytes::Bytes>> {
    response.chunk().await.map_err(transport_error)
}

/// Sends `prepared` and returns as soon as the status and headers are in; the caller reads the
/// body ([`read`], [`next_chunk`]).
pub(crate) async fn send(
    http: &reqwest::Client,
    prepared: PreparedRequest,
) -> Result<reqwest::Response> {
    let PreparedRequest {
        method,
        url,
        headers,
        body,
        timeout,
        ..
    } = prepared;
    let mut request = reqwest::Request::new(method, url);
    *request.headers_mut() = headers;
    if !body.is_empty() {
        *request.body_mut() = Some(body.into());
    }
    if timeout.is_some() {
        *request.timeout_mut() = timeout;
    }
    http.execute(request).await.map_err(transport_error)
}

fn transport_error(e: reqwest::Error) -> Error {
    // The URL is left out: its path and query may hold template values, among them
    // OAEP-encrypted fields. The host says where the request went.
    let host = e
        .url()
        .map(|u| match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!(" ({h}:{p})"),
            (Some(h), None) => format!(" ({h})"),
            _ => String::new(),
        })
        .unwrap_or_default();
    let e = e.without_url();
    let what = if e.is_timeout() {
        "the request timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "the response body could not be read"
    } else {
        "the request failed"
    };
    Error::transport(format!("{what}{host}: {e}"), e)
}

#[cfg(test)]
mod tests {
    use super::{MAX_RESERVATION, reservation};

    #[test]
    fn an_announced_length_buys_a_small_reservation_only() {
        assert_eq!(reservation(None, 100), 100);
        assert_eq!(reservation(Some(1_000), 100), 1_000);
        // A server announcing 64 MiB after 100 bytes gets 256 KiB more, not 64 MiB.
        assert_eq!(reservation(Some(64 << 20), 100), 100 + MAX_RESERVATION);
        assert_eq!(reservation(Some(u64::MAX), 10), 10 + MAX_RESERVATION);
        // Never less than what came (a lying short length).
        assert_eq!(reservation(Some(10), 100), 100);
    }
}
