//! WeChat Pay callbacks in an actix-web 4 app, offline:
//!
//! ```sh
//! cargo run --example callback_actix --features actix-web
//! ```
//!
//! The handler takes a `WechatpayNotification`: the extractor finds the
//! `web::Data<NotificationReceiver>`, reads the body (bounded), verifies the signature,
//! decrypts the resource with the client's keys and skips the notifications processed before;
//! a callback that does not check out never reaches the handler and WeChat Pay gets the
//! failure answer (`{"code":"FAIL","message":...}`), so it retries. The handler answers
//! `notification.ack()` (204) once it has recorded the payment, or a `Failure` to have WeChat
//! Pay retry.
//!
//! Here the sandbox (`wechatpay-sandbox`) plays WeChat Pay: the app places a Native order whose
//! `notify_url` is its own callback route, the sandbox "pays" it and calls back, then sends the
//! same notification again (a duplicate) and a forged one. In your service, build the client
//! with your keys instead (`Client::builder()...apiv3_key(..)`) and keep the rest.
//!
//! Outside this repository, `Cargo.toml`:
//!
//! ```toml
//! [dependencies]
//! wechatpay = { git = "https://github.com/wechatpay-rs/wechatpay-rs", features = ["actix-web"] }
//! actix-web = "4"
//! serde = { version = "1", features = ["derive"] }
//! serde_json = "1"
//! # only to play WeChat Pay in this example
//! wechatpay-sandbox = { git = "https://github.com/wechatpay-rs/wechatpay-rs" }
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use serde::Deserialize;
use serde_json::json;
use wechatpay::StatusCode;
use wechatpay::notify::{Ack, Failure, WechatpayNotification};
use wechatpay_sandbox::{Event, NotifyVariant, Sandbox};

/// What this merchant reads from a payment-success resource.
#[derive(Debug, Deserialize)]
struct Transaction {
    out_trade_no: String,
    transaction_id: String,
    trade_state: String,
    amount: Amount,
}

#[derive(Debug, Deserialize)]
struct Amount {
    total: u64,
}

/// Standing in for a database: the payments recorded.
#[derive(Default)]
struct Payments(Mutex<HashMap<String, String>>);

/// The callback handler: runs once per notification, for verified, decrypted ones only.
async fn wechatpay_notify(
    payments: web::Data<Payments>,
    notification: WechatpayNotification,
) -> Result<Ack, Failure> {
    if notification.event_type() != "TRANSACTION.SUCCESS" {
        // Not ours to process: acknowledge, so that WeChat Pay stops sending it.
        return Ok(notification.ack());
    }
    // A resource that is not a transaction: `?` answers the failure (400).
    let tx: Transaction = notification.json()?;
    println!(
        "  handler: {} {}: order {} = transaction {}, {} ({} fen)",
        notification.event_type(),
        notification.id(),
        tx.out_trade_no,
        tx.transaction_id,
        tx.trade_state,
        tx.amount.total,
    );
    // Record the payment (idempotently: keyed by out_trade_no). Were the database down:
    // `return Err(Failure::new(StatusCode::SERVICE_UNAVAILABLE, "try again later"))`, and
    // WeChat Pay's retry would be processed.
    let Ok(mut recorded) = payments.0.lock() else {
        return Err(Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "try again later",
        ));
    };
    recorded.insert(tx.out_trade_no, tx.transaction_id);
    Ok(notification.ack())
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // WeChat Pay, played by the sandbox; its client has the sandbox's keys and APIv3 key.
    let sandbox = Sandbox::start_async().await?;
    let client = sandbox.client();

    // Shared by every worker: one receiver (one duplicate filter), one record of payments.
    let receiver = web::Data::new(client.notification_receiver()?);
    let payments = web::Data::new(Payments::default());
    let app_payments = payments.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(receiver.clone())
            .app_data(app_payments.clone())
            .route("/wechatpay/notify", web::post().to(wechatpay_notify))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))?;
    let notify_url = format!("http://{}/wechatpay/notify", server.addrs()[0]);
    println!("callbacks on {notify_url}");
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    // The client's async calls run on any Tokio runtime, actix-web's included.
    let out_trade_no = "ACTIX-121775250120140703";
    client["v3/pay/transactions/native"]
        .post_async(json!({ "json": {
            "appid": "wxd678efh567hg6787",
            "mchid": sandbox.identity().mchid,
            "description": "Image形象店-深圳腾大-QQ公仔",
            "out_trade_no": out_trade_no,
            "notify_url": notify_url,
            "amount": { "total": 100 },
        }}))
        .await?;
    println!("WeChat Pay: order {out_trade_no} paid, calling back");
    sandbox.pay(out_trade_no);
    let delivery = loop {
        if let Some(first) = sandbox.deliveries().into_iter().next() {
            break first;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    println!("  answer: {}", delivery.outcome);

    println!("WeChat Pay: the same notification again (a retry)");
    let event = Event::payment(out_trade_no).variant(NotifyVariant::DuplicateId);
    println!(
        "  answer: HTTP {}",
        sandbox.notify_async(&notify_url, event).await?
    );

    println!("WeChat Pay (forged): a callback with a bad signature");
    let event = Event::payment(out_trade_no).variant(NotifyVariant::BadSignature);
    println!(
        "  answer: HTTP {}",
        sandbox.notify_async(&notify_url, event).await?
    );

    let recorded = payments.0.lock().map(|p| p.len()).unwrap_or(0);
    println!("payments recorded: {recorded}");
    handle.stop(true).await;
    Ok(())
}
