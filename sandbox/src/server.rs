//! The HTTP side: two listeners on 127.0.0.1 (plain HTTP, and HTTPS that requires a client
//! certificate from the sandbox CA), one service for both.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use openssl::ssl::{Ssl, SslAcceptor};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::closing::{self, Closer};
use crate::control;
use crate::dispatch::{self, Outcome};
use crate::faults::Fault;
use crate::log::LoggedRequest;
use crate::reply::{Reply, render};
use crate::state::State;

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
    state.counters.connection();
    let header_read_timeout = state.header_read_timeout;
    let (closer, mut deadline) = closing::channel();
    let service =
        service_fn(move |request| serve(request, Arc::clone(&state), tls, closer.clone()));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        // Header names as WeChat Pay writes them (`Wechatpay-Signature`, `Request-Id`).
        .title_case_headers(true)
        .keep_alive(true)
        .header_read_timeout(header_read_timeout)
        .serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        // The connection first: a request that has arrived is read (and answered) before the
        // connection counts as idle.
        biased;
        _ = connection.as_mut() => return,
        () = deadline.reached() => connection.as_mut().graceful_shutdown(),
    }
    // Closes at once if idle, else after the answer under way ([`Fault::CloseAfterReply`]).
    let _ = connection.await;
}

async fn serve(
    request: Request<Incoming>,
    state: Arc<State>,
    tls: bool,
    closer: Closer,
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
    // The control API (plain port only): neither checked, logged nor counted.
    if !tls && control::is_control(parts.uri.path()) {
        return Ok(control::handle(&state, &parts.method, &target, &body).await);
    }
    let mut request = LoggedRequest {
        method: parts.method.as_str().to_owned(),
        target,
        headers: parts.headers,
        body: body.to_vec(),
        verdict: Ok(()),
        tls,
    };
    let Outcome { response, faults } = dispatch::dispatch(&state, &parts.method, &mut request);
    state.record(request);
    for fault in faults {
        match fault {
            Fault::SlowReply(delay) => tokio::time::sleep(delay).await,
            Fault::ConnectionReset => return Err(Reset),
            Fault::CloseAfterReply(delay) => closer.close_after(delay),
            _ => {}
        }
    }
    Ok(response)
}
