//! A tiny merchant callback receiver: hyper on 127.0.0.1, parsing each callback with the real
//! client's `notifications()` parser and a duplicate filter.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use wechatpay::notify::{self, Delivery, DuplicateFilter, NotificationParser};

/// What the receiver made of one delivery.
#[derive(Debug)]
pub enum Received {
    /// Parsed and processed: (id, event type, decrypted resource).
    Processed(String, String, serde_json::Value),
    /// Parsed, but its id was processed before.
    Duplicate(String),
    /// Refused by the parser.
    Refused(wechatpay::Error),
}

pub struct Receiver {
    pub url: String,
    pub log: Arc<Mutex<Vec<Received>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    pub fn start(client: &wechatpay::Client) -> Receiver {
        let parser = Arc::new(client.notifications().unwrap());
        let seen = DuplicateFilter::new(100);
        let log = Arc::new(Mutex::new(Vec::new()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!(
            "http://{}/wechatpay/notify?from=sandbox",
            listener.local_addr().unwrap()
        );
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let task_log = Arc::clone(&log);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let parser = Arc::clone(&parser);
                            let seen = seen.clone();
                            let log = Arc::clone(&task_log);
                            tokio::spawn(async move {
                                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                                    let parser = Arc::clone(&parser);
                                    let seen = seen.clone();
                                    let log = Arc::clone(&log);
                                    async move {
                                        let (parts, body) = request.into_parts();
                                        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                                        let answer = handle(&parser, &seen, &log, &parts.headers, &body);
                                        let (answer_parts, answer_body) = answer.into_parts();
                                        Ok::<_, Infallible>(hyper::Response::from_parts(answer_parts, Full::new(Bytes::from(answer_body))))
                                    }
                                });
                                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                            });
                        }
                    }
                }
            });
        });
        Receiver {
            url,
            log,
            shutdown: Some(tx),
        }
    }

    /// Takes what was received so far.
    pub fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn handle(
    parser: &NotificationParser,
    seen: &DuplicateFilter,
    log: &Mutex<Vec<Received>>,
    headers: &http::HeaderMap,
    body: &[u8],
) -> http::Response<Vec<u8>> {
    let notification = match parser.parse(headers, body) {
        Ok(n) => n,
        Err(e) => {
            let answer = notify::failure_for(&e);
            log.lock().unwrap().push(Received::Refused(e));
            return answer;
        }
    };
    match seen.claim(notification.id()) {
        Delivery::First(claim) => {
            let resource = notification.json::<serde_json::Value>().unwrap();
            log.lock().unwrap().push(Received::Processed(
                notification.id().to_owned(),
                notification.event_type().to_owned(),
                resource,
            ));
            claim.done();
            notify::success()
        }
        _ => {
            log.lock()
                .unwrap()
                .push(Received::Duplicate(notification.id().to_owned()));
            // Recognised and not processed again; 200 tells it apart from a first delivery.
            let mut answer = http::Response::new(Vec::new());
            *answer.status_mut() = http::StatusCode::OK;
            answer
        }
    }
}
