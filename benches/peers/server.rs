//! The benchmark's server: a pre-signed static 200 answer on 127.0.0.1, every request's
//! signature checked with the test suite's own code (`support::verify_request`).

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::{TARGET, support};

/// The answer's headers, signed over [`body`] at one timestamp.
struct Signed {
    at: i64,
    headers: Vec<(&'static str, String)>,
}

fn sign(body: &[u8]) -> Signed {
    let keys = support::keys();
    let at = support::now_unix();
    let timestamp = at.to_string();
    let nonce = support::random_alnum(32);
    let message = support::response_message(&timestamp, &nonce, body);
    let signature = support::rsa_sha256_sign(&keys.platform_private, &message);
    Signed {
        at,
        headers: vec![
            ("Wechatpay-Timestamp", timestamp),
            ("Wechatpay-Nonce", nonce),
            ("Wechatpay-Signature", signature),
            ("Wechatpay-Serial", keys.platform_serial.clone()),
            (
                "Request-ID",
                "08F78BB5AF0610D302100000000000000000".to_owned(),
            ),
        ],
    }
}

/// A 200-byte query-order answer.
fn body() -> Bytes {
    let mut body = json!({
        "appid": "wxd678efh567hg6787",
        "mchid": support::mchid(),
        "out_trade_no": "1217752501201407033233368018",
        "transaction_id": "4200000001",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "pad": "",
    });
    let len = serde_json::to_vec(&body).expect("json").len();
    body["pad"] = Value::String("x".repeat(200 - len));
    Bytes::from(serde_json::to_vec(&body).expect("json"))
}

struct State {
    body: Bytes,
    signed: RwLock<Arc<Signed>>,
    requests: AtomicU64,
    verified: AtomicU64,
    connections: AtomicU64,
}

impl State {
    /// The signed headers; re-signed once a minute, so that a long run stays inside the 300 s
    /// window WeChat Pay's answers are checked against.
    fn signed(&self) -> Arc<Signed> {
        let current = Arc::clone(&self.signed.read().expect("lock"));
        if support::now_unix() - current.at < 60 {
            return current;
        }
        let fresh = Arc::new(sign(&self.body));
        *self.signed.write().expect("lock") = Arc::clone(&fresh);
        fresh
    }
}

async fn answer(
    request: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    state.requests.fetch_add(1, Ordering::Relaxed);
    let target = parts.uri.path_and_query().map_or("", |pq| pq.as_str());
    let checked = if target == TARGET {
        support::verify_request(parts.method.as_str(), target, &parts.headers, &body).map(drop)
    } else {
        Err(format!("unexpected target {target}"))
    };
    let mut response = match checked {
        Ok(()) => {
            state.verified.fetch_add(1, Ordering::Relaxed);
            let mut response = Response::new(Full::new(state.body.clone()));
            for (name, value) in &state.signed().headers {
                response
                    .headers_mut()
                    .insert(*name, value.parse().expect("header value"));
            }
            response
        }
        Err(reason) => {
            eprintln!("server: rejected: {reason}");
            let error = json!({ "code": "SIGN_ERROR", "message": reason });
            let mut response = Response::new(Full::new(Bytes::from(error.to_string())));
            *response.status_mut() = hyper::StatusCode::UNAUTHORIZED;
            response
        }
    };
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// Writes the identity into `dir`, serves until stdin closes, then reports.
pub fn serve(dir: &Path) -> Result<(), String> {
    let keys = support::keys();
    let body = body();
    let state = Arc::new(State {
        signed: RwLock::new(Arc::new(sign(&body))),
        body,
        requests: AtomicU64::new(0),
        verified: AtomicU64::new(0),
        connections: AtomicU64::new(0),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;

    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))
    };
    write("merchant_key.pem", &keys.merchant_key_pkcs8_pem)?;
    write("platform_cert.pem", &keys.platform_cert_pem)?;
    let identity = json!({
        "base_uri": format!("http://{addr}/"),
        "mchid": support::mchid(),
        "merchant_serial": keys.merchant_serial,
        "platform_serial": keys.platform_serial,
    });
    // Written last, through a rename: its presence means the server is ready.
    write("identity.json.tmp", &identity.to_string())?;
    std::fs::rename(dir.join("identity.json.tmp"), dir.join("identity.json"))
        .map_err(|e| e.to_string())?;

    let task_state = Arc::clone(&state);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                task_state.connections.fetch_add(1, Ordering::Relaxed);
                let state = Arc::clone(&task_state);
                tokio::spawn(async move {
                    let service = service_fn(move |req| answer(req, Arc::clone(&state)));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });

    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    let requests = state.requests.load(Ordering::Relaxed);
    let verified = state.verified.load(Ordering::Relaxed);
    let connections = state.connections.load(Ordering::Relaxed);
    eprintln!(
        "server: {requests} requests over {connections} connections, {verified} with a valid \
         signature"
    );
    if requests != verified {
        return Err(format!("{} requests failed the check", requests - verified));
    }
    Ok(())
}
