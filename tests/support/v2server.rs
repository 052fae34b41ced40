//! An in-process APIv2 server on 127.0.0.1, over plain HTTP or mutual TLS (a client
//! certificate signed by the test CA is required). It checks every request's `sign` with the
//! judge ([`super::judge_v2`]) and answers a bad one as WeChat Pay does (`return_code` FAIL),
//! without calling the handler; handlers build signed answers with [`V2Reply::signed`].
//! (Being replaced by the sandbox: [`super::scripted::V2Server`].)

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use openssl::ssl::{Ssl, SslAcceptor, SslMethod, SslVerifyMode};
use tokio::sync::oneshot;

use super::judge_v2::{check_sign, request_fields, sign_fields_with};
use super::tls::tls;

/// The APIv2 key the server signs with and checks against.
pub const SECRET: &str = "192006250b4c09247ec02edce69f6a2d";

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct V2Recorded {
    pub method: String,
    pub target: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The payload: the XML body's fields, or a GET's query pairs (decoded), in order.
    pub fields: Vec<(String, String)>,
    /// `Ok(sign type)` when the server's own check of `sign` passed.
    pub verdict: Result<&'static str, String>,
}

impl V2Recorded {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An answer.
#[derive(Clone, Debug)]
pub struct V2Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl V2Reply {
    /// `fields` as XML with an MD5 `sign` (HMAC-SHA256 when `hmac`).
    pub fn signed(fields: &[(&str, &str)], hmac: bool) -> V2Reply {
        let owned: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let sign = sign_fields(&owned, hmac);
        let mut all = owned;
        all.push(("sign".into(), sign));
        V2Reply::xml(&all)
    }

    /// `fields` as XML, no sign.
    pub fn unsigned(fields: &[(&str, &str)]) -> V2Reply {
        let owned: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        V2Reply::xml(&owned)
    }

    pub fn xml(fields: &[(String, String)]) -> V2Reply {
        let mut body = String::from("<xml>");
        for (k, v) in fields {
            body.push_str(&format!("<{k}><![CDATA[{v}]]></{k}>"));
        }
        body.push_str("</xml>");
        V2Reply::raw(200, "text/xml", body.into_bytes())
    }

    pub fn raw(status: u16, content_type: &'static str, body: Vec<u8>) -> V2Reply {
        V2Reply {
            status,
            content_type,
            body,
        }
    }

    /// Replaces `from` by `to` in the body after signing.
    pub fn tampered(mut self, from: &str, to: &str) -> V2Reply {
        let text = String::from_utf8(self.body).expect("utf-8");
        assert!(text.contains(from), "nothing to tamper");
        self.body = text.replacen(from, to, 1).into_bytes();
        self
    }
}

/// Uppercase hex MD5 (or HMAC-SHA256 keyed by [`SECRET`]) of the sorted `k=v&...&key=SECRET`.
pub fn sign_fields(fields: &[(String, String)], hmac: bool) -> String {
    sign_fields_with(fields, SECRET, hmac)
}

type Handler = dyn Fn(&V2Recorded) -> V2Reply + Send + Sync;

struct Shared {
    handler: Box<Handler>,
    log: Mutex<Vec<V2Recorded>>,
}

async fn serve(
    request: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes().to_vec();
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.to_string(), |pq| pq.as_str().to_owned());
    let fields = request_fields(parts.method.as_str(), &target, &body);
    let verdict = fields
        .as_ref()
        .map_err(|e| e.to_string())
        .and_then(|f| check_sign(f, SECRET));
    let recorded = V2Recorded {
        method: parts.method.as_str().to_owned(),
        target,
        headers: parts.headers,
        body,
        fields: fields.unwrap_or_default(),
        verdict,
    };
    shared.log.lock().unwrap().push(recorded.clone());
    let reply = match &recorded.verdict {
        Ok(_) => (shared.handler)(&recorded),
        Err(_) => V2Reply::unsigned(&[("return_code", "FAIL"), ("return_msg", "签名错误")]),
    };
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = http::StatusCode::from_u16(reply.status).expect("status");
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(reply.content_type),
    );
    Ok(response)
}

/// The fake APIv2 server. Dropping it stops it.
pub struct V2Server {
    addr: SocketAddr,
    https: bool,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl V2Server {
    /// Plain HTTP.
    pub fn start<F>(handler: F) -> V2Server
    where
        F: Fn(&V2Recorded) -> V2Reply + Send + Sync + 'static,
    {
        Self::spawn(Box::new(handler), None)
    }

    /// HTTPS that requires a client certificate issued by the test CA.
    pub fn start_mutual_tls<F>(handler: F) -> V2Server
    where
        F: Fn(&V2Recorded) -> V2Reply + Send + Sync + 'static,
    {
        let material = tls();
        let mut acceptor =
            SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).expect("acceptor");
        acceptor
            .set_private_key(&material.server.key)
            .expect("server key");
        acceptor
            .set_certificate(&material.server.cert)
            .expect("server cert");
        acceptor
            .cert_store_mut()
            .add_cert(material.ca.cert.clone())
            .expect("trust the test CA");
        acceptor.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
        Self::spawn(Box::new(handler), Some(acceptor.build()))
    }

    fn spawn(handler: Box<Handler>, acceptor: Option<SslAcceptor>) -> V2Server {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = std_listener.local_addr().expect("addr");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener).expect("listener")
        };
        let shared = Arc::new(Shared {
            handler,
            log: Mutex::new(Vec::new()),
        });
        let (tx, mut rx) = oneshot::channel::<()>();
        let https = acceptor.is_some();
        let task_shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let acceptor = acceptor.map(Arc::new);
                loop {
                    tokio::select! {
                        _ = &mut rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let shared = Arc::clone(&task_shared);
                            let acceptor = acceptor.clone();
                            tokio::spawn(async move {
                                let service = service_fn(move |req| serve(req, Arc::clone(&shared)));
                                match acceptor {
                                    None => {
                                        let _ = http1::Builder::new()
                                            .serve_connection(TokioIo::new(stream), service)
                                            .await;
                                    }
                                    Some(acceptor) => {
                                        let Ok(ssl) = Ssl::new(acceptor.context()) else { return };
                                        let Ok(mut tls) = tokio_openssl::SslStream::new(ssl, stream) else { return };
                                        if std::pin::Pin::new(&mut tls).accept().await.is_err() {
                                            return;
                                        }
                                        let _ = http1::Builder::new()
                                            .serve_connection(TokioIo::new(tls), service)
                                            .await;
                                    }
                                }
                            });
                        }
                    }
                }
            });
        });
        V2Server {
            addr,
            https,
            shared,
            shutdown: Some(tx),
        }
    }

    pub fn base_uri(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}/", self.addr)
    }

    pub fn requests(&self) -> Vec<V2Recorded> {
        self.shared.log.lock().unwrap().clone()
    }

    pub fn last(&self) -> V2Recorded {
        self.requests().pop().expect("no request received")
    }
}

impl Drop for V2Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
