//! The only I/O: send a prepared, signed request and read the whole answer.
//!
//! Both the async and the blocking verbs run the same async pipeline. The async verbs run it on
//! the caller's Tokio runtime with one `reqwest::Client`. The blocking verbs drive it to
//! completion on the calling thread with a private current-thread runtime and a second
//! `reqwest::Client` whose pooled connections live on that runtime (two clients, because a
//! pooled connection's task belongs to the runtime that opened it). Nothing runs between two
//! blocking calls, so each call first lets the runtime catch up with what happened meanwhile:
//! a connection the server closed while idle is noticed and dropped, not reused.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::pipeline::PreparedRequest;
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
}

/// The default largest response body a client reads whole: 64 MiB.
pub const DEFAULT_MAX_RESPONSE_SIZE: usize = 64 << 20;

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            roots: Vec::new(),
            identity: None,
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
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
/// (about 50 ms here, see docs/performance.md), and one `SSL_CTX` serves any number of
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

pub(crate) struct Transport {
    settings: HttpSettings,
    tls: TlsConnectors,
    async_http: HttpClients,
    blocking: OnceLock<Blocking>,
}

/// The blocking verbs' runtime (current-thread, driven by the calling thread) and HTTP clients.
struct Blocking {
    runtime: Option<tokio::runtime::Runtime>,
    http: HttpClients,
}

impl Blocking {
    fn start(settings: &HttpSettings, tls: &TlsConnectors) -> Result<Blocking> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::transport("cannot start the blocking client's runtime", e))?;
        Ok(Blocking {
            runtime: Some(runtime),
            http: settings.clients(tls)?,
        })
    }
}

impl Drop for Blocking {
    fn drop(&mut self) {
        // Dropping a runtime inside an async context would panic; this never blocks.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Transport {
    pub(crate) fn new(settings: HttpSettings) -> Result<Transport> {
        let tls = settings.tls()?;
        Ok(Transport {
            async_http: settings.clients(&tls)?,
            tls,
            settings,
            blocking: OnceLock::new(),
        })
    }

    /// The largest response body read whole, in bytes.
    pub(crate) fn max_response_size(&self) -> usize {
        self.settings.max_response_size
    }

    /// Whether a merchant certificate is configured (APIv2 `security: true`).
    pub(crate) fn has_identity(&self) -> bool {
        self.settings.identity.is_some()
    }

    /// The HTTP clients of the async verbs.
    pub(crate) fn async_http(&self) -> &HttpClients {
        &self.async_http
    }

    /// Runs `call` (given the blocking HTTP clients) to completion, blocking this thread.
    ///
    /// Refused while the thread is polling async code for a Tokio runtime (a task, or the
    /// future of a `block_on`): blocking there stalls the executor, and can deadlock it.
    /// Allowed on any other thread, `spawn_blocking` threads included.
    ///
    /// Code inside `tokio::task::unconstrained` has no budget, so it looks like a
    /// `spawn_blocking` thread. On a multi-thread runtime `block_in_place` runs the call anyway;
    /// on a current-thread runtime Tokio itself panics ("Cannot start a runtime from within a
    /// runtime"), which no public Tokio API lets a library foresee.
    pub(crate) fn block_on<'a, F, T>(
        &'a self,
        verb: &str,
        call: impl FnOnce(&'a HttpClients) -> F,
    ) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            if polling_async_code() {
                return Err(Error::config(format!(
                    "`{verb}` is blocking and was called from async code running on a Tokio \
                     runtime, where it would stall the executor: use `{verb}_async(..).await` \
                     instead, or move the call off the executor with \
                     `tokio::task::spawn_blocking`"
                )));
            }
            if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
                // A thread of a multi-thread runtime that is not polling anything: a
                // `spawn_blocking` thread (or a task inside `tokio::task::unconstrained`, which
                // the check above cannot see). `block_in_place` runs the call in both, where a
                // bare `block_on` would panic in the second.
                return tokio::task::block_in_place(|| self.run(call));
            }
        }
        self.run(call)
    }

    fn run<'a, F, T>(&'a self, call: impl FnOnce(&'a HttpClients) -> F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        let blocking = match self.blocking.get() {
            Some(b) => b,
            None => {
                // A failed start is not remembered: the next call tries again. Two threads may
                // race to start; the loser's runtime is shut down at once.
                let started = Blocking::start(&self.settings, &self.tls)?;
                let _ = self.blocking.set(started);
                self.blocking.get().ok_or_else(unavailable)?
            }
        };
        // `runtime` is only taken out when `Blocking` is dropped.
        let runtime = blocking.runtime.as_ref().ok_or_else(unavailable)?;
        runtime.block_on(async {
            // The runtime slept since the last call. The first yield lets it poll its I/O
            // driver (a closed idle connection becomes readable at EOF and its task is
            // woken); the second lets that task run and take the connection out of the pool.
            // Only then is a pooled connection checked out.
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            call(&blocking.http).await
        })
    }
}

/// Whether this thread is polling async code for a Tokio runtime: a task, or the future of a
/// `block_on`. Tokio has no direct query, but it gives such code a cooperative budget (at most
/// 255 units) and leaves every other thread, `spawn_blocking` ones included, unconstrained. So
/// taking budget until it runs out tells them apart; what was taken is given back (each
/// `RestoreOnPending` restores the budget it found, so they are dropped newest first).
fn polling_async_code() -> bool {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut taken = Vec::with_capacity(256);
    let mut constrained = false;
    for _ in 0..256 {
        match tokio::task::coop::poll_proceed(&mut cx) {
            std::task::Poll::Ready(restore) => taken.push(restore),
            std::task::Poll::Pending => {
                constrained = true;
                break;
            }
        }
    }
    while let Some(restore) = taken.pop() {
        drop(restore);
    }
    constrained
}

fn unavailable() -> Error {
    Error::transport(
        "the blocking client's runtime is unavailable",
        "runtime not running",
    )
}

/// Fails the async verbs cleanly (instead of panicking inside reqwest) when polled outside a
/// Tokio runtime.
pub(crate) fn require_runtime(verb: &str) -> Result<()> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => Ok(()),
        Err(_) => Err(Error::config(format!(
            "`{verb}_async` needs a Tokio runtime (with I/O and time enabled) to run on; \
             poll it from Tokio, or use the blocking `{verb}`"
        ))),
    }
}

/// Sends `prepared` and reads the whole response, of at most `limit` bytes.
pub(crate) async fn send(
    http: &reqwest::Client,
    prepared: PreparedRequest,
    limit: usize,
) -> Result<Response> {
    read(send_streaming(http, prepared).await?, limit).await
}

/// The whole answer whose status and headers are in, its body of at most `limit` bytes.
pub(crate) async fn read(mut response: reqwest::Response, limit: usize) -> Result<Response> {
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

/// Reads the rest of a body of at most `limit` bytes: one announced longer is refused before
/// anything is read, and a chunk that would take it past the limit before it is kept, so the
/// client never holds more.
pub(crate) async fn next_all(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<bytes::Bytes> {
    let too_large = || {
        Error::transport(
            format!(
                "the response body is larger than {limit} bytes, the client's max_response_size"
            ),
            "response body too large",
        )
    };
    let announced = response.content_length();
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    // One chunk (the usual case) is returned as it is, without a copy.
    let Some(first) = next_chunk(&mut response).await? else {
        return Ok(bytes::Bytes::new());
    };
    if first.len() > limit {
        return Err(too_large());
    }
    let Some(second) = next_chunk(&mut response).await? else {
        return Ok(first);
    };
    let mut length = first.len() + second.len();
    if length > limit {
        return Err(too_large());
    }
    // Room for the announced length (at most `limit`), else for what has come so far.
    let mut body =
        bytes::BytesMut::with_capacity(announced.map_or(length, |n| (n as usize).max(length)));
    body.extend_from_slice(&first);
    body.extend_from_slice(&second);
    while let Some(chunk) = next_chunk(&mut response).await? {
        length += chunk.len();
        if length > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Reads the next chunk of a streamed body (`None` at its end).
pub(crate) async fn next_chunk(response: &mut reqwest::Response) -> Result<Option<bytes::Bytes>> {
    response.chunk().await.map_err(transport_error)
}

/// Sends `prepared` and returns as soon as the status and headers are in; the caller reads the
/// body.
pub(crate) async fn send_streaming(
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
    use std::task::{Context, Poll, Waker};

    use super::polling_async_code;

    /// How much budget the current task has left (spent to find out, then given back).
    fn budget_left() -> usize {
        let mut cx = Context::from_waker(Waker::noop());
        let mut taken = Vec::new();
        while let Poll::Ready(restore) = tokio::task::coop::poll_proceed(&mut cx) {
            taken.push(restore);
            if taken.len() > 1000 {
                break;
            }
        }
        let left = taken.len();
        while let Some(restore) = taken.pop() {
            drop(restore);
        }
        left
    }

    #[test]
    fn the_check_gives_back_exactly_the_budget_it_took() {
        assert!(!polling_async_code());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let full = budget_left();
            assert!((1..=255).contains(&full), "{full}");
            for spent in [0, 1, full / 2, full - 1, full] {
                let mut cx = Context::from_waker(Waker::noop());
                for _ in 0..spent {
                    match tokio::task::coop::poll_proceed(&mut cx) {
                        Poll::Ready(restore) => restore.made_progress(),
                        Poll::Pending => unreachable!(),
                    }
                }
                assert!(polling_async_code(), "spent {spent}");
                assert_eq!(budget_left(), full - spent, "spent {spent}");
                tokio::task::yield_now().await; // a fresh budget
            }
            assert!(!tokio::task::unconstrained(async { polling_async_code() }).await);
        });
        let spawned = runtime.block_on(async {
            tokio::task::spawn_blocking(polling_async_code)
                .await
                .unwrap()
        });
        assert!(!spawned);
    }
}
