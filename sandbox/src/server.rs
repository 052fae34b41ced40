//! The HTTP side: two listeners on 127.0.0.1 (plain HTTP, and HTTPS that requires a client
//! certificate from the sandbox CA), one service for both.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use openssl::ssl::{Ssl, SslAcceptor};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::auth::{self, Expected};
use crate::faults::{FAULT_HEADER, Fault, SIGN_MODE_HEADER, SignMode};
use crate::log::LoggedRequest;
use crate::reply::{Reply, render};
use crate::routes;
use crate::state::State;
use crate::v2;

/// The largest body the sandbox reads (bigger ones get a 413).
const MAX_BODY: usize = 32 * 1024 * 1024;
/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The error that makes hyper drop the connection without an answer
/// ([`Fault::ConnectionReset`]).
#[derive(Debug)]
struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by the sandbox (fault connection-reset)")
    }
}

impl std::error::Error for Reset {}

/// Accepts on both listeners until `shutdown` fires.
pub(crate) async fn run(
    plain_listener: TcpListener,
    tls_listener: TcpListener,
    acceptor: SslAcceptor,
    state: Arc<State>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let acceptor = Arc::new(acceptor);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = plain_listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(TokioIo::new(stream), Arc::clone(&state), false));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            accepted = tls_listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let state = Arc::clone(&state);
                    let acceptor = Arc::clone(&acceptor);
                    tokio::spawn(async move {
                        let Ok(ssl) = Ssl::new(acceptor.context()) else { return };
                        let Ok(mut tls) = tokio_openssl::SslStream::new(ssl, stream) else { return };
                        let handshake = std::pin::Pin::new(&mut tls).accept();
                        // A client without a certificate from the sandbox CA stops here.
                        if let Ok(Ok(())) = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                            serve_connection(TokioIo::new(tls), state, true).await;
                        }
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

async fn serve_connection<I>(io: TokioIo<I>, state: Arc<State>, tls: bool)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| serve(request, Arc::clone(&state), tls));
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .serve_connection(io, service)
        .await;
}

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// Under `/v3`: the `Authorization` check, then the APIv3 routes.
    V3,
    /// An APIv2 (XML) API of this port.
    V2,
    /// Anything else: a signed 404 `NOT_FOUND`.
    Unknown,
}

fn route_of(path: &str, tls: bool) -> Route {
    if path == "/v3" || path.starts_with("/v3/") {
        Route::V3
    } else if matches!(path, "/pay/micropay" | "/pay/orderquery")
        || (tls && path == "/secapi/pay/refund")
    {
        Route::V2
    } else {
        Route::Unknown
    }
}

/// The per-request overrides of the fault and sign mode (`default_fault` and `default_mode`
/// without the headers), or what is wrong with them.
fn overrides(
    headers: &HeaderMap,
    default_fault: Option<Fault>,
    default_mode: SignMode,
) -> Result<(Option<Fault>, SignMode), String> {
    let text = |name: &str| -> Result<Option<&str>, String> {
        headers
            .get(name)
            .map(|v| {
                v.to_str()
                    .map_err(|_| format!("{name} is not visible ASCII"))
            })
            .transpose()
    };
    let fault = match text(FAULT_HEADER)? {
        Some(name) => Some(name.parse::<Fault>()?),
        None => default_fault,
    };
    let mode = match text(SIGN_MODE_HEADER)? {
        Some(name) => name.parse::<SignMode>()?,
        None => default_mode,
    };
    Ok((fault, mode))
}

async fn serve(
    request: Request<Incoming>,
    state: Arc<State>,
    tls: bool,
) -> Result<Response<Full<Bytes>>, Reset> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let reply = Reply::error(
                413,
                "INVALID_REQUEST",
                "the body is too large or unreadable",
            );
            return Ok(render(&state, reply, state.settings().sign_mode, None));
        }
    };
    // For origin-form targets hyper keeps the bytes of the request line as they were.
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.to_string(), |pq| pq.as_str().to_owned());
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target.as_str(), None),
    };
    let settings = state.settings();
    let default_fault = state.fault_for(path, settings.fault);
    let overrides = overrides(&parts.headers, default_fault, settings.sign_mode);
    let fault = overrides.as_ref().map_or(None, |(fault, _)| *fault);
    let route = route_of(path, tls);

    let (verdict, response) = if route == Route::V2 {
        let outcome = v2::handle(&state, &parts.method, path, &body, tls, fault);
        let response = match &overrides {
            Err(message) => v2::fail_response(400, message),
            Ok(_) => outcome.response,
        };
        (outcome.verdict, response)
    } else {
        let verdict = if route == Route::V3 {
            let keys = &state.keys;
            let expected = Expected {
                mchid: &keys.mchid,
                serial: &keys.merchant_serial,
                merchant_public: &state.merchant_public,
            };
            auth::verify(
                &expected,
                parts.method.as_str(),
                &target,
                &parts.headers,
                &body,
            )
        } else {
            Err(format!(
                "no such API: {} {}",
                parts.method,
                path.chars().take(200).collect::<String>()
            ))
        };
        let (fault, mode) = match &overrides {
            Ok(pair) => *pair,
            Err(_) => (None, settings.sign_mode),
        };
        let reply = match (&overrides, fault, &verdict) {
            (Err(message), _, _) => Reply::param_error(message.clone()),
            (_, Some(Fault::ServerError(status)), _) => Reply::error(
                status,
                "SYSTEM_ERROR",
                "系统错误 (sandbox fault server-error)",
            ),
            _ if route == Route::Unknown => routes::not_found(&parts.method, path),
            (_, _, Err(message)) => Reply::error(401, "SIGN_ERROR", message.clone()),
            (_, _, Ok(())) => routes::handle(
                &state,
                &routes::Request {
                    method: &parts.method,
                    path,
                    query,
                    headers: &parts.headers,
                    body: &body,
                },
            ),
        };
        (verdict, render(&state, reply, mode, fault))
    };

    state.record(LoggedRequest {
        method: parts.method.as_str().to_owned(),
        target: target.clone(),
        headers: parts.headers,
        body: body.to_vec(),
        verdict,
        tls,
    });
    match fault {
        Some(Fault::SlowReply(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::ConnectionReset) => return Err(Reset),
        _ => {}
    }
    Ok(response)
}
