//! Callbacks as production sends them: paying an order POSTs a signed, encrypted
//! `TRANSACTION.SUCCESS` to the order's own `notify_url`, a refund with a `notify_url` POSTs
//! `REFUND.SUCCESS`, an unacknowledged callback is retried on WeChat Pay's schedule (scaled)
//! with the same id, auto-pay pays orders by itself, and every attempt is logged. The receiver
//! is a bare `TcpListener`; signatures are checked and resources decrypted with OpenSSL here.

mod support;

use std::time::{Duration, Instant};

use openssl::pkey::{PKey, Public};
use serde_json::{Value, json};
use support::hook::{Hit, Hook};
use wechatpay_sandbox::{
    Delivery, DeliveryOutcome, Event, Identity, RETRY_SCHEDULE, Sandbox, SignMode,
};

const WAIT: Duration = Duration::from_secs(10);

fn place(sandbox: &Sandbox, kind: &str, out_trade_no: &str, total: u64, notify_url: &str) {
    let mut order = json!({
        "appid": "wxd678efh567hg6787", "mchid": sandbox.identity().mchid,
        "description": "Image形象店-深圳腾大-QQ公仔", "out_trade_no": out_trade_no,
        "notify_url": notify_url, "amount": { "total": total, "currency": "CNY" },
    });
    if kind == "jsapi" {
        order["payer"] = json!({ "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" });
    }
    sandbox.client()[format!("v3/pay/transactions/{kind}").as_str()]
        .post(json!({ "json": order }))
        .unwrap();
}

fn query(sandbox: &Sandbox, out_trade_no: &str) -> Value {
    sandbox.client()["v3/pay/transactions/out-trade-no/{no}{?mchid}"]
        .get(json!({ "no": out_trade_no, "mchid": sandbox.identity().mchid }))
        .unwrap()
        .json()
        .unwrap()
}

/// Waits until the delivery log has `n` attempts; all of them.
fn deliveries(sandbox: &Sandbox, n: usize, timeout: Duration) -> Vec<Delivery> {
    let deadline = Instant::now() + timeout;
    loop {
        let log = sandbox.deliveries();
        if log.len() >= n {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "{} deliveries after {timeout:?}, expected {n}: {log:#?}",
            log.len()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn public_key(identity: &Identity) -> PKey<Public> {
    PKey::public_key_from_pem(identity.public_key_pem.as_bytes()).unwrap()
}

fn certificate_key(pem: &str) -> PKey<Public> {
    openssl::x509::X509::from_pem(pem.as_bytes())
        .unwrap()
        .public_key()
        .unwrap()
}

/// The envelope of a callback as WeChat Pay sends it.
fn check_envelope(hit: &Hit, event_type: &str, summary: &str, original_type: &str) -> String {
    assert_eq!(hit.method, "POST");
    assert_eq!(hit.target, "/wechatpay/notify?from=sandbox");
    assert_eq!(hit.header("Content-Type"), Some("application/json"));
    assert_eq!(
        hit.header("Wechatpay-Signature-Type"),
        Some("WECHATPAY2-SHA256-RSA2048")
    );
    let envelope = hit.json();
    assert_eq!(envelope["event_type"], event_type);
    assert_eq!(envelope["resource_type"], "encrypt-resource");
    assert_eq!(envelope["summary"], summary);
    assert_eq!(envelope["resource"]["algorithm"], "AEAD_AES_256_GCM");
    assert_eq!(envelope["resource"]["original_type"], original_type);
    assert_eq!(envelope["resource"]["associated_data"], original_type);
    assert!(
        envelope["create_time"]
            .as_str()
            .unwrap()
            .ends_with("+08:00"),
        "{envelope}"
    );
    let id = envelope["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("EV-"), "{id}");
    id
}

#[test]
fn paying_an_order_posts_a_signed_encrypted_transaction_success_to_its_notify_url() {
    let sandbox = Sandbox::start().unwrap();
    let identity = sandbox.identity().clone();
    let hook = Hook::start(&[200]);
    place(&sandbox, "jsapi", "CB-1", 888, &hook.url);
    assert_eq!(query(&sandbox, "CB-1")["trade_state"], "NOTPAY");
    assert!(sandbox.deliveries().is_empty());

    let transaction_id = sandbox.pay("CB-1").unwrap();
    let log = deliveries(&sandbox, 1, WAIT);
    let hits = hook.hits();
    let [hit] = &hits[..] else { panic!("{hits:?}") };
    let id = check_envelope(hit, "TRANSACTION.SUCCESS", "支付成功", "transaction");
    // Public-key mode (the default): signed with the WeChat Pay public key's private half.
    assert_eq!(
        hit.header("Wechatpay-Serial"),
        Some(identity.public_key_id.as_str())
    );
    hit.verify(&public_key(&identity)).unwrap();
    let tx = hit.resource(&identity.apiv3_key);
    assert_eq!(tx["out_trade_no"], "CB-1");
    assert_eq!(tx["transaction_id"], transaction_id.as_str());
    assert_eq!(tx["mchid"], identity.mchid.as_str());
    assert_eq!(tx["appid"], "wxd678efh567hg6787");
    assert_eq!(tx["trade_type"], "JSAPI");
    assert_eq!(tx["trade_state"], "SUCCESS");
    assert_eq!(tx["payer"]["openid"], "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
    assert_eq!(
        tx["amount"],
        json!({ "total": 888, "payer_total": 888, "currency": "CNY", "payer_currency": "CNY" })
    );
    let [first] = &log[..] else { panic!("{log:?}") };
    assert_eq!(first.url, hook.url);
    assert_eq!(first.event_type, "TRANSACTION.SUCCESS");
    assert_eq!(first.notification_id, id);
    assert_eq!(first.attempt, 1);
    assert_eq!(first.outcome, DeliveryOutcome::Status(200));
    assert_eq!(first.next_attempt_in, None);
    assert!(log[0].acknowledged());

    // Paid already: the same transaction id, and no second callback.
    assert_eq!(sandbox.pay("CB-1").unwrap(), transaction_id);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(hook.hits().len(), 1);
    assert_eq!(sandbox.deliveries().len(), 1);
    assert_eq!(sandbox.pay("NO-SUCH-ORDER"), None);

    // Certificate mode: signed with the platform certificate, verified with its public key.
    sandbox.set_sign_mode(SignMode::Certificate);
    place(&sandbox, "native", "CB-2", 1, &hook.url);
    sandbox.pay("CB-2").unwrap();
    let hits = hook.wait_for(2, WAIT);
    let hit = &hits[1];
    check_envelope(hit, "TRANSACTION.SUCCESS", "支付成功", "transaction");
    assert_eq!(
        hit.header("Wechatpay-Serial"),
        Some(identity.platform_serial.as_str())
    );
    hit.verify(&certificate_key(&identity.platform_certificate_pem))
        .unwrap();
    assert!(hit.verify(&public_key(&identity)).is_err());
    let tx = hit.resource(&identity.apiv3_key);
    assert_eq!(tx["out_trade_no"], "CB-2");
    assert_eq!(tx["trade_type"], "NATIVE");
    assert_eq!(tx["amount"]["total"], 1);
    assert_eq!(query(&sandbox, "CB-2")["trade_state"], "SUCCESS");
}

/// The intervals between arrivals, in milliseconds.
fn gaps(hits: &[Hit]) -> Vec<u128> {
    hits.windows(2)
        .map(|w| w[1].at.duration_since(w[0].at).as_millis())
        .collect()
}

fn scaled(duration: Duration, scale: f64) -> Duration {
    Duration::from_secs_f64(duration.as_secs_f64() * scale)
}

#[test]
fn an_unacknowledged_callback_is_retried_on_the_scaled_schedule_with_the_same_id_until_200_or_204()
{
    let sandbox = Sandbox::builder()
        .callback_time_scale(0.01)
        .start()
        .unwrap();
    let identity = sandbox.identity().clone();
    // 201 is a success for HTTP, not for WeChat Pay: only 200 and 204 acknowledge.
    let hook = Hook::start(&[500, 404, 201, 204]);
    place(&sandbox, "app", "RT-1", 5, &hook.url);
    sandbox.pay("RT-1").unwrap();
    let log = deliveries(&sandbox, 4, WAIT);
    let hits = hook.hits();
    assert_eq!(hits.len(), 4);

    // Each attempt is signed anew (its own nonce), carries the same body and the same id.
    let id = check_envelope(&hits[0], "TRANSACTION.SUCCESS", "支付成功", "transaction");
    for hit in &hits {
        hit.verify(&public_key(&identity)).unwrap();
        assert_eq!(hit.body, hits[0].body);
        assert_eq!(hit.json()["id"], id.as_str());
    }
    let mut nonces: Vec<&str> = hits
        .iter()
        .map(|h| h.header("Wechatpay-Nonce").unwrap())
        .collect();
    nonces.dedup();
    assert_eq!(nonces.len(), 4, "{nonces:?}");

    // 15 s, 15 s, 30 s scaled by 0.01: 150, 150 and 300 ms.
    let expected = [150u128, 150, 300];
    for (gap, want) in gaps(&hits).into_iter().zip(expected) {
        assert!(
            gap + 5 >= want && gap <= want + 400,
            "a gap of {gap} ms, expected {want} ms"
        );
    }
    let outcomes: Vec<(u32, DeliveryOutcome, Option<Duration>)> = log
        .iter()
        .map(|d| (d.attempt, d.outcome.clone(), d.next_attempt_in))
        .collect();
    assert_eq!(
        outcomes,
        [
            (
                1,
                DeliveryOutcome::Status(500),
                Some(Duration::from_millis(150))
            ),
            (
                2,
                DeliveryOutcome::Status(404),
                Some(Duration::from_millis(150))
            ),
            (
                3,
                DeliveryOutcome::Status(201),
                Some(Duration::from_millis(300))
            ),
            (4, DeliveryOutcome::Status(204), None),
        ]
    );
    for delivery in &log {
        assert_eq!(delivery.notification_id, id);
        assert_eq!(delivery.event_type, "TRANSACTION.SUCCESS");
        assert_eq!(delivery.url, hook.url);
    }
    // Acknowledged: the next retry (3 min scaled, 1.8 s) never comes.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(hook.hits().len(), 4);
    assert_eq!(sandbox.deliveries().len(), 4);
}

#[test]
fn the_whole_schedule_is_fifteen_retries_then_nothing() {
    let scale = 0.0001; // 24 h 4 min in 8.7 s
    let sandbox = Sandbox::builder()
        .callback_time_scale(scale)
        .start()
        .unwrap();
    let hook = Hook::start(&[503]);
    place(&sandbox, "native", "ALL-1", 1, &hook.url);
    let started = Instant::now();
    sandbox.pay("ALL-1").unwrap();
    let log = deliveries(&sandbox, 16, Duration::from_secs(40));
    let total = started.elapsed();
    assert!(total >= Duration::from_millis(8600), "{total:?}");
    let hits = hook.hits();
    assert_eq!(hits.len(), 16);
    let attempts: Vec<u32> = log.iter().map(|d| d.attempt).collect();
    assert_eq!(attempts, (1..=16).collect::<Vec<u32>>());
    let waits: Vec<Option<Duration>> = log.iter().map(|d| d.next_attempt_in).collect();
    let mut expected: Vec<Option<Duration>> = RETRY_SCHEDULE
        .iter()
        .map(|d| Some(scaled(*d, scale)))
        .collect();
    expected.push(None);
    assert_eq!(waits, expected);
    assert!(log.iter().all(|d| d.outcome == DeliveryOutcome::Status(503)
        && d.notification_id == log[0].notification_id));
    // The long waits are kept: 1 h, 3 h and 6 h scaled are 360 ms, 1.08 s and 2.16 s.
    let gaps = gaps(&hits);
    for (i, want) in [(9usize, 360u128), (10, 1080), (13, 2160), (14, 2160)] {
        assert!(
            gaps[i] + 5 >= want && gaps[i] <= want + 500,
            "gap {i}: {} ms, expected {want} ms",
            gaps[i]
        );
    }
    // And after the sixteenth attempt, nothing more.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(hook.hits().len(), 16);
    assert_eq!(sandbox.deliveries().len(), 16);
}

#[test]
fn a_refund_with_a_notify_url_posts_refund_success_to_it() {
    let sandbox = Sandbox::start().unwrap();
    let identity = sandbox.identity().clone();
    let orders = Hook::start(&[204]);
    let refunds = Hook::start(&[200]);
    place(&sandbox, "native", "RF-1", 300, &orders.url);
    let transaction_id = sandbox.pay("RF-1").unwrap();
    orders.wait_for(1, WAIT);
    let answer: Value = sandbox.client()["v3/refund/domestic/refunds"]
        .post(json!({ "json": {
            "out_trade_no": "RF-1", "out_refund_no": "RF-R-1", "notify_url": refunds.url,
            "amount": { "refund": 100, "total": 300, "currency": "CNY" },
        }}))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(answer["status"], "PROCESSING");
    let hits = refunds.wait_for(1, WAIT);
    let hit = &hits[0];
    let id = check_envelope(hit, "REFUND.SUCCESS", "退款成功", "refund");
    hit.verify(&public_key(&identity)).unwrap();
    let refund = hit.resource(&identity.apiv3_key);
    let success_time = refund["success_time"].as_str().unwrap().to_owned();
    assert!(success_time.ends_with("+08:00"), "{success_time}");
    assert_eq!(
        refund,
        json!({
            "mchid": identity.mchid,
            "out_trade_no": "RF-1",
            "transaction_id": transaction_id,
            "out_refund_no": "RF-R-1",
            "refund_id": answer["refund_id"],
            "refund_status": "SUCCESS",
            "success_time": success_time,
            "user_received_account": "支付用户零钱",
            "amount": { "total": 300, "refund": 100, "payer_total": 300, "payer_refund": 100 },
        })
    );
    let log = deliveries(&sandbox, 2, WAIT);
    assert_eq!(log[1].event_type, "REFUND.SUCCESS");
    assert_eq!(log[1].notification_id, id);
    assert_eq!(log[1].url, refunds.url);
    assert_eq!(log[1].outcome, DeliveryOutcome::Status(200));
    // The refund is now settled for the API too.
    let queried: Value = sandbox.client()["v3/refund/domestic/refunds/{no}"]
        .get(json!({ "no": "RF-R-1" }))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(queried["status"], "SUCCESS");

    // Without a notify_url: no callback.
    sandbox.client()["v3/refund/domestic/refunds"]
        .post(json!({ "json": {
            "out_trade_no": "RF-1", "out_refund_no": "RF-R-2",
            "amount": { "refund": 1, "total": 300, "currency": "CNY" },
        }}))
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sandbox.deliveries().len(), 2);
    assert_eq!(refunds.hits().len(), 1);
}

#[test]
fn auto_pay_pays_an_order_after_the_delay_then_notifies() {
    let delay = Duration::from_millis(400);
    let sandbox = Sandbox::builder().auto_pay(delay).start().unwrap();
    let identity = sandbox.identity().clone();
    let hook = Hook::start(&[204]);
    let placed = Instant::now();
    place(&sandbox, "native", "AP-1", 42, &hook.url);
    // Closed before the delay is over: never paid, never notified.
    place(&sandbox, "native", "AP-CLOSED", 1, &hook.url);
    sandbox.client()["v3/pay/transactions/out-trade-no/{no}/close"]
        .post(json!({ "no": "AP-CLOSED", "json": { "mchid": identity.mchid } }))
        .unwrap();
    assert_eq!(query(&sandbox, "AP-1")["trade_state"], "NOTPAY");
    let hits = hook.wait_for(1, WAIT);
    assert!(
        hits[0].at.duration_since(placed) >= delay,
        "{:?}",
        hits[0].at.duration_since(placed)
    );
    let tx = hits[0].resource(&identity.apiv3_key);
    assert_eq!(tx["out_trade_no"], "AP-1");
    assert_eq!(tx["amount"]["total"], 42);
    assert_eq!(query(&sandbox, "AP-1")["trade_state"], "SUCCESS");
    assert_eq!(
        query(&sandbox, "AP-1")["transaction_id"],
        tx["transaction_id"]
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(hook.hits().len(), 1);
    assert_eq!(query(&sandbox, "AP-CLOSED")["trade_state"], "CLOSED");

    // Turned off: the next order stays unpaid.
    sandbox.set_auto_pay(None);
    place(&sandbox, "native", "AP-2", 1, &hook.url);
    std::thread::sleep(delay + Duration::from_millis(300));
    assert_eq!(query(&sandbox, "AP-2")["trade_state"], "NOTPAY");
    assert_eq!(hook.hits().len(), 1);
    // And on again, from the handle.
    sandbox.set_auto_pay(Some(Duration::ZERO));
    place(&sandbox, "native", "AP-3", 1, &hook.url);
    let hits = hook.wait_for(2, WAIT);
    assert_eq!(
        hits[1].resource(&identity.apiv3_key)["out_trade_no"],
        "AP-3"
    );
}

#[test]
fn https_urls_are_not_sent_and_unreachable_receivers_are_retried() {
    let sandbox = Sandbox::builder()
        .callback_time_scale(0.01)
        .start()
        .unwrap();
    place(
        &sandbox,
        "native",
        "HT-1",
        1,
        "https://www.weixin.qq.com/wxpay/pay.php",
    );
    sandbox.pay("HT-1").unwrap();
    let log = deliveries(&sandbox, 1, WAIT);
    assert_eq!(log[0].url, "https://www.weixin.qq.com/wxpay/pay.php");
    assert_eq!(log[0].event_type, "TRANSACTION.SUCCESS");
    assert!(log[0].notification_id.starts_with("EV-"));
    assert_eq!(log[0].next_attempt_in, None);
    match &log[0].outcome {
        DeliveryOutcome::NotSent(reason) => assert!(
            reason.contains("must be http://") && reason.contains("does not deliver over TLS"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(sandbox.deliveries().len(), 1, "not retried");

    // Nothing listens on a freshly closed port: no answer, retried.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/notify");
    place(&sandbox, "native", "HT-2", 1, &url);
    sandbox.pay("HT-2").unwrap();
    let log = deliveries(&sandbox, 3, WAIT);
    for (delivery, attempt) in log[1..].iter().zip(1..) {
        assert_eq!(delivery.url, url);
        assert_eq!(delivery.attempt, attempt);
        assert_eq!(delivery.notification_id, log[1].notification_id);
        match &delivery.outcome {
            DeliveryOutcome::Failed(reason) => assert!(
                reason.starts_with(&format!("cannot connect to 127.0.0.1:{port}")),
                "{reason}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(delivery.next_attempt_in.is_some());
    }
}

#[test]
fn one_off_notifications_are_logged_and_reset_cancels_the_retries() {
    let sandbox = Sandbox::builder()
        .callback_time_scale(0.01)
        .start()
        .unwrap();
    let ok = Hook::start(&[200]);
    let status = sandbox.notify(&ok.url, Event::payment("ONE-1")).unwrap();
    assert_eq!(status, 200);
    let log = sandbox.deliveries();
    let [one] = &log[..] else { panic!("{log:?}") };
    assert_eq!(one.url, ok.url);
    assert_eq!(one.attempt, 1);
    assert_eq!(one.outcome, DeliveryOutcome::Status(200));
    assert_eq!(one.next_attempt_in, None, "Sandbox::notify does not retry");
    assert_eq!(ok.hits()[0].json()["id"], one.notification_id.as_str());
    sandbox.clear_deliveries();
    assert!(sandbox.deliveries().is_empty());

    // A failing receiver, reset after its first attempt: no retry comes.
    let failing = Hook::start(&[500]);
    place(&sandbox, "native", "RS-1", 1, &failing.url);
    // A fault the client would refuse every answer for.
    sandbox.set_fault(Some(wechatpay_sandbox::Fault::BadSignature));
    sandbox.pay("RS-1").unwrap();
    deliveries(&sandbox, 1, WAIT);
    sandbox.reset();
    assert!(sandbox.deliveries().is_empty());
    assert!(sandbox.requests().is_empty());
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(failing.hits().len(), 1, "the retry was cancelled");
    assert!(sandbox.deliveries().is_empty());
    // The order is gone, and the fault with it: the 404 verifies.
    let error = sandbox.client()["v3/pay/transactions/out-trade-no/{no}{?mchid}"]
        .get(json!({ "no": "RS-1", "mchid": sandbox.identity().mchid }))
        .unwrap_err();
    let api = error.api().unwrap_or_else(|| panic!("{error}"));
    assert_eq!(api.status(), 404, "{error}");
    assert_eq!(api.code(), Some("ORDER_NOT_EXIST"), "{error}");
}

#[test]
fn a_bad_time_scale_is_refused() {
    for scale in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let error = Sandbox::builder()
            .callback_time_scale(scale)
            .start()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "invalid argument: the callback time scale must be a finite number above 0, not {scale}"
            )
        );
    }
    let sandbox = Sandbox::start().unwrap();
    assert!(sandbox.set_callback_time_scale(-0.5).is_err());
    sandbox.set_callback_time_scale(0.5).unwrap();
}
