//! Receives WeChat Pay callbacks with a small real HTTP server, verifies and decrypts them and
//! answers WeChat Pay, offline:
//!
//! ```sh
//! cargo run --example callback
//! ```
//!
//! The receiver listens on 127.0.0.1. The example then plays WeChat Pay: it POSTs a
//! payment-success callback signed and encrypted by the test support code (OpenSSL directly,
//! with throwaway platform keys and APIv3 key), the same callback again (a retry), and a
//! tampered one, and prints what the receiver did with each.
//!
//! In your service, only `receive` matters: give it the request headers and raw body from your
//! web framework, and send back the `http::Response` it returns.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use support::{APIV3_KEY, CallbackSpec, keys};
use wechatpay::crypto::PublicKey;
use wechatpay::notify::{self, Delivery, DuplicateFilter, NotificationParser};
use wechatpay::verifier::PlatformVerifier;
use wechatpay_sandbox::SignMode;

/// What this merchant reads from a payment-success resource.
#[derive(Debug, Deserialize)]
struct Transaction {
    out_trade_no: String,
    transaction_id: String,
    trade_state: String,
    success_time: String,
    amount: Amount,
}

#[derive(Debug, Deserialize)]
struct Amount {
    total: u64,
    currency: String,
}

/// The receiver's state: one parser and one duplicate filter for the whole service.
struct Receiver {
    parser: NotificationParser,
    seen: DuplicateFilter,
}

impl Receiver {
    /// The callback handler: verify, decrypt, de-duplicate, process, answer.
    fn receive(&self, headers: &http::HeaderMap, body: &[u8]) -> http::Response<Vec<u8>> {
        let notification = match self.parser.parse(headers, body) {
            Ok(notification) => notification,
            Err(e) => {
                println!("  receiver: refused: {e}");
                return notify::failure_for(&e);
            }
        };
        let claim = match self.seen.claim(notification.id()) {
            Delivery::First(claim) => claim,
            Delivery::Processed => {
                println!("  receiver: {} was processed already", notification.id());
                return notify::success();
            }
            Delivery::InProgress => {
                return notify::failure(http::StatusCode::TOO_MANY_REQUESTS, "in progress");
            }
        };
        let tx: Transaction = match notification.json() {
            Ok(tx) => tx,
            Err(e) => {
                println!("  receiver: unexpected resource: {e}");
                return notify::failure(http::StatusCode::BAD_REQUEST, "unexpected resource");
            }
        };
        println!(
            "  receiver: {} {} ({}): order {} = transaction {}, {} {} {} at {}",
            notification.event_type(),
            notification.id(),
            notification.summary(),
            tx.out_trade_no,
            tx.transaction_id,
            tx.trade_state,
            tx.amount.total,
            tx.amount.currency,
            tx.success_time,
        );
        // Record the payment here (idempotently, keyed by out_trade_no), then:
        claim.done();
        notify::success()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The platform keys WeChat Pay signs with: here the test support's throwaway ones. In a
    // real service, the same keys given to `Client::builder().platform_key(..)`.
    let k = keys();
    let mut verifier = PlatformVerifier::new();
    verifier.insert(
        k.platform_serial.clone(),
        PublicKey::load(&k.platform_cert_pem)?,
    );
    verifier.insert(k.pubkey_id.clone(), PublicKey::load(&k.pubkey_spki_pem)?);
    let receiver = Arc::new(Receiver {
        parser: NotificationParser::new(APIV3_KEY, verifier)?,
        seen: DuplicateFilter::new(10_000),
    });

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/wechatpay/notify", listener.local_addr()?);
    println!("receiver listening on {url}");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let receiver = Arc::clone(&receiver);
            tokio::spawn(async move {
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let receiver = Arc::clone(&receiver);
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await?.to_bytes();
                        let answer = receiver.receive(&parts.headers, &body);
                        Ok::<_, hyper::Error>(answer.map(|b| Full::new(bytes::Bytes::from(b))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    // Playing WeChat Pay.
    let wechat_pay = reqwest::Client::new();
    let callback = CallbackSpec::payment().signer(SignMode::PublicKey).render();
    let deliveries = [
        ("a payment-success callback", callback.clone()),
        ("the same callback again (a retry)", callback.clone()),
        ("a tampered callback", callback.tampered()),
    ];
    for (what, delivery) in deliveries {
        println!("WeChat Pay posts {what}");
        let answer = wechat_pay
            .post(&url)
            .headers(delivery.headers)
            .body(delivery.body)
            .send()
            .await?;
        let status = answer.status();
        let body = answer.bytes().await?;
        println!(
            "  answer: {status} {}",
            if body.is_empty() {
                "(empty)".into()
            } else {
                String::from_utf8_lossy(&body)
            }
        );
    }
    Ok(())
}
