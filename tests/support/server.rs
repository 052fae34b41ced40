//! An in-process HTTP/1.1 server on 127.0.0.1 that plays WeChat Pay APIv3:
//! it verifies every request's signature with the judge ([`super::judge`]) and signs its
//! replies. (Being replaced by the sandbox: [`super::scripted::TestServer`].)
//!
//! Every request is recorded with the server's verdict on its `Authorization`
//! header. A request that fails the check is answered `401 SIGN_ERROR`
//! (signed) without calling the handler; a handler that panics is answered
//! `500 TEST_HANDLER_PANICKED` (signed) so the client sees a response.
//!
//! The recorded target is the request-line target as hyper received it. Two
//! limits of hyper/`http` apply: a target with bytes they refuse (space,
//! backtick, control characters) gets a bare 400 from hyper and is not
//! recorded, and a `#fragment` would be dropped (clients never send one).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use super::judge::{AUTH_SCHEME, AuthInfo, response_message, rsa_sha256_sign, verify_request};
use super::keys::{keys, now_unix, random_alnum, random_hex_upper};

/// The `Wechatpay-Serial` sent under [`Fault::UnknownSerial`].
pub const UNKNOWN_SERIAL: &str = "0123456789ABCDEF0123456789ABCDEF01234567";
/// The `Wechatpay-Signature` sent under [`Fault::BadSignatureEncoding`].
pub const BAD_SIGNATURE: &str = "not base64!!";

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Raw request target as received: path + "?" + query, untouched.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The server's own verdict on the `Authorization` header; `Err` says what was wrong.
    pub auth: Result<AuthInfo, String>,
}

impl Recorded {
    /// The body as UTF-8 (lossy).
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics with the body if it is not JSON.
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "request body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header's value as a string, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The path part of the target (before any `?`).
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The raw query part of the target (after the first `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// The verdict, or a panic that says why the request was rejected.
    pub fn auth_ok(&self) -> &AuthInfo {
        match &self.auth {
            Ok(info) => info,
            Err(reason) => panic!(
                "request {} {} was not properly signed: {reason}",
                self.method, self.target
            ),
        }
    }
}

/// Which platform key signs a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signer {
    /// The platform certificate's key; `Wechatpay-Serial` = `keys().platform_serial`.
    Certificate,
    /// The platform public key; `Wechatpay-Serial` = `keys().pubkey_id`.
    PublicKey,
    /// No `Wechatpay-*` headers at all.
    Unsigned,
}

/// A deliberate defect in a signed reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Remove this header (case-insensitive) after signing.
    OmitHeader(&'static str),
    /// `Wechatpay-Timestamp` = now - 400 (signed consistently).
    StaleTimestamp,
    /// `Wechatpay-Timestamp` = now + 400 (signed consistently).
    FutureTimestamp,
    /// `Wechatpay-Serial` = [`UNKNOWN_SERIAL`] (signature by the real key).
    UnknownSerial,
    /// Sign the real body, then send it with its last byte changed (`x` if empty).
    TamperBody,
    /// Sign with `keys().other_private` instead of the platform key.
    WrongKey,
    /// `Wechatpay-Signature` = [`BAD_SIGNATURE`].
    BadSignatureEncoding,
}

/// What the handler wants sent back.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// Extra headers. The first occurrence of a name replaces what the server
    /// generated for it (e.g. `Request-ID`, `Wechatpay-Serial`); later ones add values.
    pub headers: Vec<(String, String)>,
    pub signer: Signer,
    pub faults: Vec<Fault>,
    /// If set, the signature covers this instead of the body.
    pub signed_message_body: Option<Vec<u8>>,
}

impl Reply {
    /// JSON reply, `Content-Type: application/json`, signed by the certificate key.
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        let body = serde_json::to_vec(&body).expect("serialize JSON reply");
        Reply::bytes(status, "application/json", body)
    }

    /// 204 with an empty body, signed.
    pub fn no_content() -> Reply {
        Reply::bytes(204, "", Vec::new())
    }

    /// Any body; `Content-Type` is omitted when `content_type` is empty.
    pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Reply {
        assert!(
            StatusCode::from_u16(status).is_ok(),
            "Reply: {status} is not a valid HTTP status code"
        );
        let mut reply = Reply {
            status,
            body,
            headers: Vec::new(),
            signer: Signer::Certificate,
            faults: Vec::new(),
            signed_message_body: None,
        };
        if !content_type.is_empty() {
            reply = reply.header("Content-Type", content_type);
        }
        reply
    }

    /// The WeChat-style error body `{"code": ..., "message": ...}`, signed.
    pub fn error(status: u16, code: &str, message: &str) -> Reply {
        Reply::json(
            status,
            serde_json::json!({ "code": code, "message": message }),
        )
    }

    pub fn signer(mut self, s: Signer) -> Reply {
        self.signer = s;
        self
    }

    pub fn fault(mut self, f: Fault) -> Reply {
        self.faults.push(f);
        self
    }

    /// Add a header; panics at once on an invalid name or value.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        HeaderName::from_bytes(name.as_bytes())
            .unwrap_or_else(|e| panic!("Reply::header: invalid header name {name:?}: {e}"));
        HeaderValue::from_str(value)
            .unwrap_or_else(|e| panic!("Reply::header: invalid value {value:?} for {name}: {e}"));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sign this instead of the body (used for the overseas statements rule,
    /// where the signature covers `{"sha1":"..."}`).
    pub fn sign_over(mut self, message_body: Vec<u8>) -> Reply {
        self.signed_message_body = Some(message_body);
        self
    }
}

/// Turns a [`Reply`] into the wire response: signs it and applies its faults.
fn render(reply: Reply) -> Response<Full<Bytes>> {
    let Reply {
        status,
        body,
        headers: extra,
        signer,
        faults,
        signed_message_body,
    } = reply;
    let k = keys();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        headers.insert(
            name,
            HeaderValue::from_str(value).expect("generated header value"),
        );
    };
    set("Request-ID", &random_hex_upper(16));

    if signer != Signer::Unsigned {
        let mut timestamp = now_unix();
        if faults.contains(&Fault::StaleTimestamp) {
            timestamp -= 400;
        }
        if faults.contains(&Fault::FutureTimestamp) {
            timestamp += 400;
        }
        let timestamp = timestamp.to_string();
        let nonce = random_alnum(32);
        let (serial, key) = match signer {
            Signer::PublicKey => (k.pubkey_id.as_str(), &k.pubkey_private),
            _ => (k.platform_serial.as_str(), &k.platform_private),
        };
        let serial = if faults.contains(&Fault::UnknownSerial) {
            UNKNOWN_SERIAL
        } else {
            serial
        };
        let key = if faults.contains(&Fault::WrongKey) {
            &k.other_private
        } else {
            key
        };
        let signed_body = signed_message_body.as_deref().unwrap_or(&body);
        let signature = if faults.contains(&Fault::BadSignatureEncoding) {
            BAD_SIGNATURE.to_owned()
        } else {
            rsa_sha256_sign(key, &response_message(&timestamp, &nonce, signed_body))
        };
        set("Wechatpay-Nonce", &nonce);
        set("Wechatpay-Signature", &signature);
        set("Wechatpay-Timestamp", &timestamp);
        set("Wechatpay-Serial", serial);
        set("Wechatpay-Signature-Type", AUTH_SCHEME);
    }

    let mut replaced: HashSet<HeaderName> = HashSet::new();
    for (name, value) in &extra {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("checked by Reply::header");
        let value = HeaderValue::from_str(value).expect("checked by Reply::header");
        if replaced.insert(name.clone()) {
            headers.insert(name, value);
        } else {
            headers.append(name, value);
        }
    }
    for fault in &faults {
        if let Fault::OmitHeader(name) = fault {
            headers.remove(*name);
        }
    }

    let mut wire_body = body;
    if faults.contains(&Fault::TamperBody) {
        match wire_body.last_mut() {
            Some(last) => *last = if *last == b'x' { b'y' } else { b'x' },
            None => wire_body.push(b'x'),
        }
    }

    let mut response = Response::new(Full::new(Bytes::from(wire_body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or_else(|_| {
        eprintln!("TestServer: invalid reply status {status}, sending 500 instead");
        StatusCode::INTERNAL_SERVER_ERROR
    });
    *response.headers_mut() = headers;
    response
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

struct Shared {
    handler: Box<Handler>,
    log: Mutex<Vec<Recorded>>,
}

impl Shared {
    fn log(&self) -> MutexGuard<'_, Vec<Recorded>> {
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn serve_request(
    request: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes().to_vec();
    let method = parts.method.as_str().to_owned();
    // For origin-form targets hyper keeps the bytes from the request line as they were.
    let target = match parts.uri.path_and_query() {
        Some(pq) => pq.as_str().to_owned(),
        None => parts.uri.to_string(),
    };
    let auth = verify_request(&method, &target, &parts.headers, &body);
    let recorded = Recorded {
        method,
        target,
        headers: parts.headers,
        body,
        auth,
    };
    shared.log().push(recorded.clone());

    let reply = match &recorded.auth {
        Err(reason) => Reply::error(401, "SIGN_ERROR", reason),
        Ok(_) => match catch_unwind(AssertUnwindSafe(|| (shared.handler)(&recorded))) {
            Ok(reply) => reply,
            Err(payload) => Reply::error(
                500,
                "TEST_HANDLER_PANICKED",
                &format!("test handler panicked: {}", panic_message(&*payload)),
            ),
        },
    };
    Ok(render(reply))
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        let service = service_fn(move |req| serve_request(req, Arc::clone(&shared)));
                        let _ = http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                // E.g. out of file descriptors: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

/// The fake WeChat Pay server. Dropping it stops accepting and closes its connections.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestServer {
    /// Start on 127.0.0.1:0 in a background thread with its own tokio runtime;
    /// returns when listening. The handler runs on the server thread, only for
    /// requests whose signature verified.
    pub fn start<F>(handler: F) -> TestServer
    where
        F: Fn(&Recorded) -> Reply + Send + Sync + 'static,
    {
        // Key generation (once per binary) happens here, not in the first request.
        let _ = keys();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("TestServer: build tokio runtime");
        let std_listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("TestServer: bind 127.0.0.1:0");
        let addr = std_listener
            .local_addr()
            .expect("TestServer: listener address");
        std_listener
            .set_nonblocking(true)
            .expect("TestServer: set_nonblocking");
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener)
                .expect("TestServer: register listener with tokio")
        };
        let shared = Arc::new(Shared {
            handler: Box::new(handler),
            log: Mutex::new(Vec::new()),
        });
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let task_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("wechatpay-test-server-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(accept_loop(listener, task_shared, shutdown_rx));
                // Dropping the runtime here cancels every connection task.
                drop(runtime);
            })
            .expect("TestServer: spawn server thread");
        TestServer {
            addr,
            shared,
            shutdown: Some(shutdown_tx),
        }
    }

    /// `http://127.0.0.1:<port>/`
    pub fn base_uri(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Everything received so far, in order (including rejected requests).
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.log().clone()
    }

    /// The most recent request; panics if none was received.
    pub fn last(&self) -> Recorded {
        self.shared
            .log()
            .last()
            .cloned()
            .expect("TestServer::last(): the server has not received any request")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
