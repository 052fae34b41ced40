//! Callbacks in actix-web (feature `actix-web`): a real actix-web server on 127.0.0.1 whose handler takes a
//! `WechatpayNotification` (the receiver in `web::Data`), called back by the sandbox (its own signing and encryption code)
//! as WeChat Pay calls back: valid, bad signature, stale timestamp, duplicate id, an order paid
//! in the sandbox, a handler that fails, an oversized and an unsigned body.
//!
//! `cargo test --features actix-web --test callback_actix`

#![cfg(feature = "actix-web")]

use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use serde::Deserialize;
use serde_json::json;
use wechatpay::StatusCode;
use wechatpay::notify::{Ack, Failure, NotificationReceiver, WechatpayNotification};
use wechatpay_sandbox::{Event, NotifyVariant, Sandbox};

#[derive(Deserialize)]
struct Transaction {
    out_trade_no: String,
}

/// What the handler saw: every run (`runs`) and every notification it acknowledged
/// (`processed`: event type and out_trade_no).
#[derive(Clone, Default)]
struct Record {
    runs: Arc<Mutex<u32>>,
    processed: Arc<Mutex<Vec<(String, String)>>>,
    /// When set, the next run answers 503 without acknowledging.
    fail_next: Arc<Mutex<bool>>,
}

async fn handler(
    record: web::Data<Record>,
    notification: WechatpayNotification,
) -> Result<Ack, Failure> {
    *record.runs.lock().unwrap() += 1;
    if std::mem::take(&mut *record.fail_next.lock().unwrap()) {
        return Err(Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable",
        ));
    }
    let tx: Transaction = notification.json()?;
    record
        .processed
        .lock()
        .unwrap()
        .push((notification.event_type().to_owned(), tx.out_trade_no));
    Ok(notification.ack())
}

/// A sandbox and an actix-web server (one worker) on a thread of its own, stopped with the
/// harness.
struct Harness {
    sandbox: Sandbox,
    url: String,
    record: Record,
    server: Option<(ServerHandle, std::thread::JoinHandle<()>)>,
}

impl Harness {
    fn start() -> Harness {
        Harness::with_receiver(|receiver| receiver)
    }

    fn with_receiver(
        configure: impl FnOnce(NotificationReceiver) -> NotificationReceiver,
    ) -> Harness {
        let sandbox = Sandbox::start().expect("sandbox");
        let receiver = web::Data::new(configure(
            sandbox
                .client()
                .notification_receiver()
                .expect("the sandbox's client has the APIv3 key"),
        ));
        Harness::serve(sandbox, Some(receiver))
    }

    /// A server whose app has no `web::Data<NotificationReceiver>`.
    fn without_receiver() -> Harness {
        Harness::serve(Sandbox::start().expect("sandbox"), None)
    }

    fn serve(sandbox: Sandbox, receiver: Option<web::Data<NotificationReceiver>>) -> Harness {
        let record = Record::default();
        let data = web::Data::new(record.clone());
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    let app = App::new().app_data(data.clone());
                    let app = match &receiver {
                        Some(receiver) => app.app_data(receiver.clone()),
                        None => app,
                    };
                    app.route("/wechatpay/notify", web::post().to(handler))
                })
                .workers(1)
                .bind(("127.0.0.1", 0))
                .expect("bind");
                let address = server.addrs()[0];
                let server = server.run();
                tx.send((address, server.handle()))
                    .expect("harness waiting");
                server.await.expect("server");
            })
        });
        let (address, handle) = rx.recv().expect("server started");
        Harness {
            sandbox,
            url: format!("http://{address}/wechatpay/notify"),
            record,
            server: Some((handle, thread)),
        }
    }

    fn notify(&self, event: Event) -> u16 {
        self.sandbox.notify(&self.url, event).expect("delivered")
    }

    fn runs(&self) -> u32 {
        *self.record.runs.lock().unwrap()
    }

    fn processed(&self) -> Vec<(String, String)> {
        self.record.processed.lock().unwrap().clone()
    }

    /// POSTs `body` with no signature headers; the status, `Content-Type` and body.
    fn post_unsigned(&self, body: Vec<u8>) -> (u16, String, Vec<u8>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let answer = reqwest::Client::new()
                .post(&self.url)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .expect("answered");
            let status = answer.status().as_u16();
            let content_type = answer
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (status, content_type, answer.bytes().await.unwrap().to_vec())
        })
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some((handle, thread)) = self.server.take() {
            actix_web::rt::System::new().block_on(handle.stop(false));
            let _ = thread.join();
        }
    }
}

/// POSTs `body` chunked (no `Content-Length`) over a plain socket; the answer's status.
fn post_chunked(url: &str, body: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let address = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .expect("http URL");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request = format!(
        "POST /wechatpay/notify HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request.extend_from_slice(b"\r\n0\r\n\r\n");
    stream.write_all(&request).expect("sent");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let head = String::from_utf8_lossy(&answer);
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{head}"))
}

fn transaction(no: &str) -> (String, String) {
    ("TRANSACTION.SUCCESS".to_owned(), no.to_owned())
}

#[test]
fn valid_callback_runs_the_handler_once_with_the_decrypted_transaction() {
    let h = Harness::start();
    let status = h.notify(Event::payment("ACTIX-VALID-1"));
    assert!(status == 200 || status == 204, "{status}");
    assert_eq!(h.processed(), [transaction("ACTIX-VALID-1")]);
    assert_eq!(h.runs(), 1);
}

#[test]
fn bad_signature_is_answered_with_the_failure_and_never_reaches_the_handler() {
    let h = Harness::start();
    let status = h.notify(Event::payment("ACTIX-BAD-1").variant(NotifyVariant::BadSignature));
    assert_eq!(status, 401);
    assert_eq!(h.runs(), 0);
    assert!(h.processed().is_empty());
}

#[test]
fn stale_timestamp_is_answered_with_the_failure() {
    let h = Harness::start();
    let status = h.notify(Event::payment("ACTIX-STALE-1").variant(NotifyVariant::StaleTimestamp));
    assert_eq!(status, 401);
    assert_eq!(h.runs(), 0);
}

#[test]
fn duplicate_id_is_acknowledged_without_running_the_handler_again() {
    let h = Harness::start();
    assert_eq!(h.notify(Event::payment("ACTIX-DUP-1")), 204);
    let status = h.notify(Event::payment("ACTIX-DUP-1").variant(NotifyVariant::DuplicateId));
    assert!(status == 200 || status == 204, "{status}");
    assert_eq!(h.runs(), 1, "the duplicate never reached the handler");
    assert_eq!(h.processed(), [transaction("ACTIX-DUP-1")]);
    // A new notification still goes through.
    assert_eq!(h.notify(Event::payment("ACTIX-DUP-2")), 204);
    assert_eq!(h.runs(), 2);
}

#[test]
fn a_failed_handler_releases_the_id_and_the_retry_is_processed() {
    let h = Harness::start();
    *h.record.fail_next.lock().unwrap() = true;
    assert_eq!(h.notify(Event::payment("ACTIX-RETRY-1")), 503);
    assert!(h.processed().is_empty());
    // WeChat Pay's retry: same id, processed this time.
    let status = h.notify(Event::payment("ACTIX-RETRY-1").variant(NotifyVariant::DuplicateId));
    assert_eq!(status, 204);
    assert_eq!(h.runs(), 2);
    assert_eq!(h.processed(), [transaction("ACTIX-RETRY-1")]);
}

#[test]
fn an_order_paid_in_the_sandbox_is_called_back_to_its_notify_url() {
    let h = Harness::start();
    let client = h.sandbox.client();
    client["v3/pay/transactions/native"]
        .post(json!({ "json": {
            "appid": "wxd678efh567hg6787",
            "mchid": h.sandbox.identity().mchid,
            "description": "QQ公仔",
            "out_trade_no": "ACTIX-ORDER-1",
            "notify_url": h.url,
            "amount": { "total": 100 },
        }}))
        .expect("order placed");
    h.sandbox.pay("ACTIX-ORDER-1").expect("paid");
    let deadline = Instant::now() + Duration::from_secs(10);
    let delivery = loop {
        if let Some(first) = h.sandbox.deliveries().into_iter().next() {
            break first;
        }
        assert!(Instant::now() < deadline, "no callback within 10 s");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(delivery.acknowledged(), "{}", delivery.outcome);
    assert_eq!(delivery.next_attempt_in, None, "no retry scheduled");
    assert_eq!(h.processed(), [transaction("ACTIX-ORDER-1")]);
}

#[test]
fn an_unsigned_body_gets_the_json_failure_answer() {
    let h = Harness::start();
    let (status, content_type, body) = h.post_unsigned(b"{}".to_vec());
    assert_eq!(status, 401);
    assert_eq!(content_type, "application/json; charset=utf-8");
    assert_eq!(
        body,
        br#"{"code":"FAIL","message":"signature verification failed"}"#
    );
    assert_eq!(h.runs(), 0);
}

#[test]
fn a_missing_receiver_is_answered_500_and_not_processed() {
    let h = Harness::without_receiver();
    assert_eq!(h.notify(Event::payment("ACTIX-NORECV-1")), 500);
    let (status, _, body) = h.post_unsigned(b"{}".to_vec());
    assert_eq!(status, 500);
    assert_eq!(
        body,
        br#"{"code":"FAIL","message":"notification receiver not configured"}"#
    );
    assert_eq!(h.runs(), 0);
}

#[test]
fn a_body_over_the_limit_is_answered_413() {
    let h = Harness::with_receiver(|r| r.with_max_body_size(256));
    assert_eq!(h.notify(Event::payment("ACTIX-BIG-1")), 413);
    let (status, _, body) = h.post_unsigned(vec![b' '; 2_000]);
    assert_eq!(status, 413);
    assert_eq!(
        body,
        br#"{"code":"FAIL","message":"notification too large"}"#
    );
    assert_eq!(h.runs(), 0);
}

#[test]
fn a_chunked_body_over_the_limit_is_answered_413() {
    let h = Harness::with_receiver(|r| r.with_max_body_size(256));
    assert_eq!(post_chunked(&h.url, &[b' '; 2_000]), 413);
    // Under the limit, read and refused as unsigned.
    assert_eq!(post_chunked(&h.url, b"{}"), 401);
    assert_eq!(h.runs(), 0);
}
