//! WeChat Pay callbacks in an axum 0.8 app, offline:
//!
//! ```sh
//! cargo run --example callback_axum --features axum
//! ```
//!
//! The handler takes a `WechatpayNotification`: the extractor reads the body (bounded),
//! verifies the signature, decrypts the resource with the client's keys and skips the
//! notifications processed before; a callback that does not check out never reaches the
//! handler and WeChat Pay gets the failure answer (`{"code":"FAIL","message":...}`), so it
//! retries. The handler answers `notification.ack()` (204) once it has recorded the payment, or
//! a `Failure` to have WeChat Pay retry.
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
//! wechatpay = { git = "https://github.com/wechatpay-rs/wechatpay-rs", features = ["axum"] }
//! axum = "0.8"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread", "net", "time"] }
//! serde = { version = "1", features = ["derive"] }
//! serde_json = "1"
//! # only to play WeChat Pay in this example
//! wechatpay-sandbox = { git = "https://github.com/wechatpay-rs/wechatpay-rs" }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;
use wechatpay::StatusCode;
use wechatpay::notify::{Ack, Failure, NotificationReceiver, WechatpayNotification};
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

/// The app's state: the callback receiver (the client's keys and a duplicate filter) and,
/// standing in for a database, the payments recorded.
#[derive(Clone)]
struct AppState {
    receiver: NotificationReceiver,
    payments: Arc<Mutex<HashMap<String, String>>>,
}

/// The extractor finds the receiver in the state through `FromRef`.
impl FromRef<AppState> for NotificationReceiver {
    fn from_ref(state: &AppState) -> NotificationReceiver {
        state.receiver.clone()
    }
}

/// The callback handler: runs once per notification, for verified, decrypted ones only.
async fn wechatpay_notify(
    axum::extract::State(state): axum::extract::State<AppState>,
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
    let Ok(mut payments) = state.payments.lock() else {
        return Err(Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "try again later",
        ));
    };
    payments.insert(tx.out_trade_no, tx.transaction_id);
    Ok(notification.ack())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // WeChat Pay, played by the sandbox; its client has the sandbox's keys and APIv3 key.
    let sandbox = Sandbox::start_async().await?;
    let client = sandbox.client();

    let state = AppState {
        receiver: client.notification_receiver()?,
        payments: Arc::default(),
    };
    let app = Router::new()
        .route("/wechatpay/notify", post(wechatpay_notify))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let notify_url = format!("http://{}/wechatpay/notify", listener.local_addr()?);
    println!("callbacks on {notify_url}");
    tokio::spawn(async move { axum::serve(listener, app).await });

    // An order whose callback comes to the route above; the payer pays it.
    let out_trade_no = "AXUM-1217752501201407033";
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
        tokio::time::sleep(Duration::from_millis(20)).await;
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

    let payments = state.payments.lock().map(|p| p.len()).unwrap_or(0);
    println!("payments recorded: {payments}");
    Ok(())
}
