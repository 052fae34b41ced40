//! The control API: unsigned JSON under `/sandbox/` on the plain port, spoken here over raw
//! HTTP/1.1 (no client code): status, pay, notify, rotate, fault, sign-mode, auto-pay,
//! callback-time-scale, log (with its cursor and long poll) and reset, and their errors.

mod support;

use std::time::{Duration, Instant};

use openssl::pkey::PKey;
use serde_json::{Value, json};
use support::hook::Hook;
use support::{Raw, authorization, raw_request};
use wechatpay_sandbox::{CONTROL_PREFIX, Sandbox};

const WAIT: Duration = Duration::from_secs(10);

fn get(sandbox: &Sandbox, target: &str) -> Raw {
    raw_request(sandbox.base_uri(), "GET", target, &[], b"")
}

fn post(sandbox: &Sandbox, target: &str, body: &Value) -> Raw {
    let body = body.to_string();
    raw_request(
        sandbox.base_uri(),
        "POST",
        target,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// The `{"code", "message"}` of a control API error.
fn error(raw: &Raw) -> (u16, String, String) {
    let json = raw.json();
    (
        raw.status,
        json["code"].as_str().unwrap().to_owned(),
        json["message"].as_str().unwrap().to_owned(),
    )
}

fn place(sandbox: &Sandbox, out_trade_no: &str, notify_url: &str) {
    sandbox.client()["v3/pay/transactions/native"]
        .post(json!({ "json": {
            "appid": "wxd678efh567hg6787", "mchid": sandbox.identity().mchid,
            "description": "QQ公仔", "out_trade_no": out_trade_no,
            "notify_url": notify_url, "amount": { "total": 7, "currency": "CNY" },
        }}))
        .unwrap();
}

fn trade_state(sandbox: &Sandbox, out_trade_no: &str) -> Value {
    sandbox.client()["v3/pay/transactions/out-trade-no/{no}{?mchid}"]
        .get(json!({ "no": out_trade_no, "mchid": sandbox.identity().mchid }))
        .unwrap()
        .json::<Value>()
        .unwrap()["trade_state"]
        .clone()
}

#[test]
fn status_and_the_errors_of_unknown_routes_and_methods() {
    let sandbox = Sandbox::start().unwrap();
    assert_eq!(CONTROL_PREFIX, "/sandbox/");
    assert_eq!(
        sandbox.control_uri(),
        format!("{}sandbox/", sandbox.base_uri())
    );
    for target in ["/sandbox/status", "/sandbox/", "/sandbox"] {
        let raw = get(&sandbox, target);
        assert_eq!(raw.status, 200, "{target}");
        assert_eq!(raw.header("Content-Type"), Some("application/json"));
        let status = raw.json();
        assert_eq!(status["base_uri"], sandbox.base_uri());
        assert_eq!(status["control_uri"], sandbox.control_uri().as_str());
        assert_eq!(status["mchid"], sandbox.identity().mchid.as_str());
        assert_eq!(status["sign_mode"], "public-key");
        assert_eq!(status["fault"], Value::Null);
        assert_eq!(status["route_faults"], json!({}));
        assert_eq!(
            status["platform_certificates"],
            json!([sandbox.identity().platform_serial])
        );
        assert_eq!(status["auto_pay_seconds"], Value::Null);
        assert_eq!(status["callback_time_scale"], 1.0);
        assert_eq!(status["orders"], 0);
        assert_eq!(status["refunds"], 0);
        // Connections count every connection, this one included; control requests are not
        // WeChat Pay requests.
        assert_eq!(status["counters"]["requests"], 0);
        assert_eq!(status["counters"]["refused"], 0);
        assert!(status["counters"]["connections"].as_u64().unwrap() >= 1);
        assert_eq!(status["log_next"], 0);
    }
    let (status, code, message) = error(&get(&sandbox, "/sandbox/nope"));
    assert_eq!((status, code.as_str()), (404, "NOT_FOUND"));
    assert!(
        message.starts_with(
            "no such control API: GET /sandbox/nope; the control API has GET /sandbox/status,"
        ),
        "{message}"
    );
    assert_eq!(
        error(&post(&sandbox, "/sandbox/status", &json!({}))),
        (
            405,
            "METHOD_NOT_ALLOWED".into(),
            "POST /sandbox/status: use GET".into()
        )
    );
    assert_eq!(
        error(&get(&sandbox, "/sandbox/pay/X")),
        (
            405,
            "METHOD_NOT_ALLOWED".into(),
            "GET /sandbox/pay/X: use POST".into()
        )
    );
    // Neither logged nor counted as WeChat Pay requests; the mutual-TLS port has no control
    // API, and a path that merely starts with "sandbox" is an ordinary unknown API.
    assert!(sandbox.requests().is_empty());
    assert_eq!(sandbox.counters().requests, 0);
    let raw = get(&sandbox, "/sandbox-not-control/x");
    assert_eq!(raw.status, 404);
    assert_eq!(raw.json()["code"], "NOT_FOUND");
    assert_eq!(sandbox.requests().len(), 1);
}

#[test]
fn pay_marks_an_order_paid_and_sends_its_callback() {
    let sandbox = Sandbox::start().unwrap();
    let hook = Hook::start(&[204]);
    place(&sandbox, "CP-1", &hook.url);
    let raw = post(&sandbox, "/sandbox/pay/CP-1", &json!({}));
    assert_eq!(raw.status, 200);
    let paid = raw.json();
    let transaction_id = paid["transaction_id"].as_str().unwrap().to_owned();
    assert!(transaction_id.starts_with("4200"), "{paid}");
    assert_eq!(
        paid,
        json!({
            "out_trade_no": "CP-1", "transaction_id": transaction_id, "newly_paid": true,
            "notify_url": hook.url, "callback": true,
        })
    );
    let hits = hook.wait_for(1, WAIT);
    let tx = hits[0].resource(&sandbox.identity().apiv3_key);
    assert_eq!(tx["transaction_id"], transaction_id.as_str());
    assert_eq!(trade_state(&sandbox, "CP-1"), "SUCCESS");

    // Again: the same id, no second callback.
    let again = post(&sandbox, "/sandbox/pay/CP-1", &json!({})).json();
    assert_eq!(again["transaction_id"], transaction_id.as_str());
    assert_eq!(again["newly_paid"], false);
    assert_eq!(again["callback"], false);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(hook.hits().len(), 1);

    // A percent-encoded out_trade_no.
    place(&sandbox, "CP 2", &hook.url);
    let raw = post(&sandbox, "/sandbox/pay/CP%202", &json!({}));
    assert_eq!(raw.status, 200, "{}", String::from_utf8_lossy(&raw.body));
    assert_eq!(raw.json()["out_trade_no"], "CP 2");

    assert_eq!(
        error(&post(&sandbox, "/sandbox/pay/NOPE", &json!({}))),
        (
            404,
            "ORDER_NOT_EXIST".into(),
            "no order has the out_trade_no \"NOPE\"".into()
        )
    );
    assert_eq!(
        error(&post(&sandbox, "/sandbox/pay/", &json!({}))).0,
        404,
        "no out_trade_no: no such route"
    );
}

#[test]
fn notify_re_sends_an_order_callback_with_its_id_and_sends_any_event_anywhere() {
    let sandbox = Sandbox::builder()
        .callback_time_scale(0.01)
        .start()
        .unwrap();
    let identity = sandbox.identity().clone();
    let hook = Hook::start(&[200]);
    place(&sandbox, "CN-1", &hook.url);
    sandbox.pay("CN-1").unwrap();
    let first = hook.wait_for(1, WAIT)[0].clone();
    let first_id = first.json()["id"].as_str().unwrap().to_owned();

    // The order's own callback again: same id, same body, a new signature.
    let raw = post(
        &sandbox,
        "/sandbox/notify",
        &json!({ "out_trade_no": "CN-1" }),
    );
    assert_eq!(raw.status, 200, "{}", String::from_utf8_lossy(&raw.body));
    let delivery = raw.json();
    let at = delivery["at"].as_str().unwrap().to_owned();
    let at_ms = delivery["at_ms"].as_u64().unwrap();
    assert_eq!(
        delivery,
        json!({
            "at": at, "at_ms": at_ms, "url": hook.url, "event_type": "TRANSACTION.SUCCESS",
            "notification_id": first_id, "attempt": 1, "outcome": "status", "status": 200,
            "acknowledged": true, "next_attempt_in_ms": null,
        })
    );
    let hits = hook.wait_for(2, WAIT);
    assert_eq!(hits[1].body, first.body);
    assert_ne!(
        hits[1].header("Wechatpay-Nonce"),
        first.header("Wechatpay-Nonce")
    );
    let key = PKey::public_key_from_pem(identity.public_key_pem.as_bytes()).unwrap();
    hits[1].verify(&key).unwrap();

    // Spoiled, to another URL: a new id, and a signature that does not verify.
    let other = Hook::start(&[401]);
    let raw = post(
        &sandbox,
        "/sandbox/notify",
        &json!({ "out_trade_no": "CN-1", "url": other.url, "variant": "bad-signature", "retries": false }),
    );
    let delivery = raw.json();
    assert_eq!(delivery["status"], 401);
    assert_eq!(delivery["acknowledged"], false);
    assert_eq!(
        delivery["next_attempt_in_ms"],
        Value::Null,
        "retries: false"
    );
    assert_ne!(delivery["notification_id"], first_id.as_str());
    let spoiled = other.wait_for(1, WAIT);
    assert!(spoiled[0].verify(&key).is_err());

    // Any event, with the defaults: summary = event_type, original_type from its first part.
    let raw = post(
        &sandbox,
        "/sandbox/notify",
        &json!({
            "url": other.url, "event_type": "COMPLAINT.CREATE",
            "resource": { "complaint_id": "200201820200101080076610000", "action_type": "CREATE_COMPLAINT" },
        }),
    );
    let delivery = raw.json();
    assert_eq!(delivery["event_type"], "COMPLAINT.CREATE");
    assert_eq!(delivery["status"], 401);
    assert_eq!(delivery["next_attempt_in_ms"], 150, "15 s scaled by 0.01");
    let hits = other.wait_for(2, WAIT);
    let envelope = hits[1].json();
    assert_eq!(envelope["summary"], "COMPLAINT.CREATE");
    assert_eq!(envelope["resource"]["original_type"], "complaint");
    assert_eq!(
        hits[1].resource(&identity.apiv3_key),
        json!({ "complaint_id": "200201820200101080076610000", "action_type": "CREATE_COMPLAINT" })
    );
    hits[1].verify(&key).unwrap();

    // An https URL: not sent, and said so.
    let raw = post(
        &sandbox,
        "/sandbox/notify",
        &json!({ "out_trade_no": "CN-1", "url": "https://example.com/notify" }),
    );
    let delivery = raw.json();
    assert_eq!(delivery["outcome"], "not-sent");
    assert_eq!(
        delivery["error"],
        "the notify URL must be http://host[:port]/path (the sandbox does not deliver over TLS): \"https://example.com/notify\""
    );

    // Mistakes, each named.
    let cases = [
        (
            json!({}),
            400,
            "PARAM_ERROR",
            "name exactly one of out_trade_no (a payment callback), out_refund_no (a refund callback) or event_type (any event, with resource)",
        ),
        (
            json!({ "out_trade_no": "A", "out_refund_no": "B" }),
            400,
            "PARAM_ERROR",
            "name exactly one of out_trade_no (a payment callback), out_refund_no (a refund callback) or event_type (any event, with resource)",
        ),
        (
            json!({ "out_trade_no": "NOPE" }),
            404,
            "ORDER_NOT_EXIST",
            "no order has the out_trade_no \"NOPE\"",
        ),
        (
            json!({ "out_refund_no": "NOPE" }),
            404,
            "RESOURCE_NOT_EXISTS",
            "no refund has the out_refund_no \"NOPE\"",
        ),
        (
            json!({ "event_type": "X.Y", "url": other.url }),
            400,
            "PARAM_ERROR",
            "resource is required with event_type",
        ),
        (
            json!({ "event_type": "X.Y", "resource": {} }),
            400,
            "PARAM_ERROR",
            "url is required: the event has no notify_url of its own (an APIv2 order, a refund requested without notify_url, or a custom event)",
        ),
        (
            json!({ "event_type": "X.Y", "resource": [1] , "url": other.url }),
            400,
            "PARAM_ERROR",
            "resource must be a JSON object",
        ),
        (
            json!({ "out_trade_no": "CN-1", "resource": {} }),
            400,
            "PARAM_ERROR",
            "resource goes with event_type (a custom event)",
        ),
        (
            json!({ "out_trade_no": "CN-1", "variant": "loud" }),
            400,
            "PARAM_ERROR",
            "unknown notification variant \"loud\": expected valid, bad-signature, stale-timestamp or duplicate-id",
        ),
        (
            json!({ "out_trade_no": "CN-1", "retries": "yes" }),
            400,
            "PARAM_ERROR",
            "retries must be true or false",
        ),
        (
            json!({ "out_trade_no": 5 }),
            400,
            "PARAM_ERROR",
            "out_trade_no must be a string",
        ),
        (
            json!({ "bogus": 1 }),
            400,
            "PARAM_ERROR",
            "unknown field \"bogus\" (expected url, out_trade_no, out_refund_no, event_type, summary, original_type, resource, variant, retries)",
        ),
        (
            json!([1]),
            400,
            "PARAM_ERROR",
            "the body must be a JSON object",
        ),
    ];
    for (body, status, code, message) in cases {
        assert_eq!(
            error(&post(&sandbox, "/sandbox/notify", &body)),
            (status, code.to_owned(), message.to_owned()),
            "{body}"
        );
    }
    let raw = raw_request(sandbox.base_uri(), "POST", "/sandbox/notify", &[], b"{");
    let (status, code, message) = error(&raw);
    assert_eq!((status, code.as_str()), (400, "PARAM_ERROR"));
    assert!(
        message.starts_with("the body is not valid JSON: "),
        "{message}"
    );
}

#[test]
fn a_refund_callback_goes_to_the_refund_notify_url() {
    let sandbox = Sandbox::start().unwrap();
    let hook = Hook::start(&[200]);
    place(&sandbox, "CR-1", "https://example.com/orders");
    sandbox.pay("CR-1").unwrap();
    sandbox.client()["v3/refund/domestic/refunds"]
        .post(json!({ "json": {
            "out_trade_no": "CR-1", "out_refund_no": "CR-R-1", "notify_url": hook.url,
            "amount": { "refund": 7, "total": 7, "currency": "CNY" },
        }}))
        .unwrap();
    let first = hook.wait_for(1, WAIT)[0].json();
    let raw = post(
        &sandbox,
        "/sandbox/notify",
        &json!({ "out_refund_no": "CR-R-1" }),
    );
    let delivery = raw.json();
    assert_eq!(delivery["event_type"], "REFUND.SUCCESS");
    assert_eq!(delivery["notification_id"], first["id"]);
    assert_eq!(delivery["url"], hook.url.as_str());
    assert_eq!(hook.wait_for(2, WAIT)[1].json(), first);
}

#[test]
fn rotate_fault_sign_mode_auto_pay_and_time_scale() {
    let sandbox = Sandbox::start().unwrap();
    let identity = sandbox.identity().clone();
    let client = sandbox.client();

    // rotate
    let raw = post(&sandbox, "/sandbox/rotate", &json!({}));
    assert_eq!(raw.status, 200, "{}", String::from_utf8_lossy(&raw.body));
    let rotated = raw.json();
    let serial = rotated["serial"].as_str().unwrap().to_owned();
    assert_eq!(serial.len(), 40);
    assert_eq!(
        rotated["platform_certificates"],
        json!([identity.platform_serial, serial])
    );
    assert_eq!(sandbox.platform_certificates().len(), 2);
    assert_eq!(
        error(&post(
            &sandbox,
            "/sandbox/rotate",
            &json!({ "valid_for_seconds": 0 })
        )),
        (
            400,
            "PARAM_ERROR".into(),
            "valid_for_seconds must be a whole number above 0".into()
        )
    );

    // sign-mode: the rotated certificate signs from now on.
    let raw = post(
        &sandbox,
        "/sandbox/sign-mode",
        &json!({ "sign_mode": "certificate" }),
    );
    assert_eq!(raw.json(), json!({ "sign_mode": "certificate" }));
    let answer = get(&sandbox, "/v3/no-such-api");
    assert_eq!(answer.header("Wechatpay-Serial"), Some(serial.as_str()));
    let (status, code, message) = error(&post(
        &sandbox,
        "/sandbox/sign-mode",
        &json!({ "sign_mode": "loud" }),
    ));
    assert_eq!((status, code.as_str()), (400, "PARAM_ERROR"));
    assert!(
        message.starts_with("unknown Sandbox-Sign-Mode \"loud\""),
        "{message}"
    );
    post(
        &sandbox,
        "/sandbox/sign-mode",
        &json!({ "sign_mode": "public-key" }),
    );

    // fault: global, then cleared.
    let raw = post(
        &sandbox,
        "/sandbox/fault",
        &json!({ "fault": "bad-signature" }),
    );
    assert_eq!(
        raw.json(),
        json!({ "fault": "bad-signature", "path": null })
    );
    assert_eq!(
        get(&sandbox, "/sandbox/status").json()["fault"],
        "bad-signature"
    );
    assert!(client["v3/certificates"].get(json!({})).is_err());
    let raw = post(&sandbox, "/sandbox/fault", &json!({ "fault": null }));
    assert_eq!(raw.json(), json!({ "fault": null, "path": null }));
    client["v3/certificates"].get(json!({})).unwrap();

    // fault: one route ("none" clears it too).
    let raw = post(
        &sandbox,
        "/sandbox/fault",
        &json!({ "fault": "server-error-503", "path": "v3/certificates" }),
    );
    assert_eq!(
        raw.json(),
        json!({ "fault": "server-error-503", "path": "/v3/certificates" })
    );
    assert_eq!(
        get(&sandbox, "/sandbox/status").json()["route_faults"],
        json!({ "/v3/certificates": "server-error-503" })
    );
    let error_503 = client["v3/certificates"].get(json!({})).unwrap_err();
    assert_eq!(error_503.api().unwrap().status(), 503);
    post(
        &sandbox,
        "/sandbox/fault",
        &json!({ "fault": "none", "path": "/v3/certificates" }),
    );
    client["v3/certificates"].get(json!({})).unwrap();
    let (status, _, message) = error(&post(
        &sandbox,
        "/sandbox/fault",
        &json!({ "fault": "loud" }),
    ));
    assert_eq!(status, 400);
    assert!(message.contains("\"loud\""), "{message}");
    assert_eq!(
        error(&post(&sandbox, "/sandbox/fault", &json!({}))).2,
        "fault is required: a fault's name (bad-signature, ...), or null to clear it"
    );

    // auto-pay
    let raw = post(&sandbox, "/sandbox/auto-pay", &json!({ "seconds": 0.2 }));
    assert_eq!(raw.json(), json!({ "auto_pay_seconds": 0.2 }));
    assert_eq!(
        get(&sandbox, "/sandbox/status").json()["auto_pay_seconds"],
        0.2
    );
    place(&sandbox, "CA-1", "https://example.com/notify");
    let deadline = Instant::now() + WAIT;
    while trade_state(&sandbox, "CA-1") != "SUCCESS" {
        assert!(Instant::now() < deadline, "never paid");
        std::thread::sleep(Duration::from_millis(20));
    }
    post(&sandbox, "/sandbox/auto-pay", &json!({ "seconds": null }));
    assert_eq!(
        get(&sandbox, "/sandbox/status").json()["auto_pay_seconds"],
        Value::Null
    );
    assert_eq!(
        error(&post(
            &sandbox,
            "/sandbox/auto-pay",
            &json!({ "seconds": -1 })
        ))
        .2,
        "seconds must be a number of seconds, 0 or more"
    );

    // callback-time-scale
    let raw = post(
        &sandbox,
        "/sandbox/callback-time-scale",
        &json!({ "scale": 0.5 }),
    );
    assert_eq!(raw.json(), json!({ "callback_time_scale": 0.5 }));
    assert_eq!(
        error(&post(
            &sandbox,
            "/sandbox/callback-time-scale",
            &json!({ "scale": 0 })
        ))
        .2,
        "the callback time scale must be a finite number above 0, not 0"
    );
}

/// The log's entries as JSON values, and its `Sandbox-Log-Next` cursor.
fn log(sandbox: &Sandbox, query: &str) -> (Vec<Value>, u64) {
    let raw = get(sandbox, &format!("/sandbox/log{query}"));
    assert_eq!(raw.status, 200, "{}", String::from_utf8_lossy(&raw.body));
    assert_eq!(raw.header("Content-Type"), Some("application/x-ndjson"));
    let next = raw.header("Sandbox-Log-Next").unwrap().parse().unwrap();
    let entries = String::from_utf8(raw.body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (entries, next)
}

#[test]
fn the_log_is_json_lines_with_a_cursor_and_a_long_poll() {
    let sandbox = Sandbox::start().unwrap();
    let identity = sandbox.identity().clone();
    sandbox.client()["v3/certificates"].get(json!({})).unwrap();
    // Signed over another body: refused, and the verdict says what should have been signed.
    let auth = authorization(&identity, "GET", "/v3/certificates", b"{}");
    let refused = raw_request(
        sandbox.base_uri(),
        "GET",
        "/v3/certificates",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(refused.status, 401);

    let (entries, next) = log(&sandbox, "");
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(next, 2);
    let ok = &entries[0];
    assert_eq!(ok["seq"], 1);
    assert_eq!(ok["kind"], "request");
    assert_eq!(ok["method"], "GET");
    assert_eq!(ok["target"], "/v3/certificates");
    assert_eq!(ok["tls"], false);
    assert_eq!(ok["verdict"], "ok");
    assert_eq!(ok["body"], Value::Null);
    assert!(ok.get("reason").is_none());
    assert!(ok["at"].as_str().unwrap().ends_with("+08:00"));
    let bad = &entries[1];
    assert_eq!(bad["seq"], 2);
    assert_eq!(bad["verdict"], "refused");
    let reason = bad["reason"].as_str().unwrap();
    let timestamp = auth
        .split("timestamp=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let nonce = auth
        .split("nonce_str=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(
        reason,
        format!(
            "signature verification failed (the signed message must be \"GET\\n/v3/certificates\\n{timestamp}\\n{nonce}\\n\\n\")"
        )
    );

    // Nothing new since the cursor: empty, same cursor, at once without `wait`.
    let (entries, again) = log(&sandbox, "?since=2");
    assert!(entries.is_empty());
    assert_eq!(again, 2);
    let (entries, _) = log(&sandbox, "?since=1");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["seq"], 2);

    // `wait` with nothing to come: an empty answer after that long.
    let started = Instant::now();
    let (entries, _) = log(&sandbox, "?since=2&wait=0.3");
    assert!(entries.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(300));

    // `wait` answers as soon as something comes: here a delivery.
    let hook = Hook::start(&[500]);
    place(&sandbox, "CL-1", &hook.url);
    let (entries, next) = log(&sandbox, "?since=2");
    assert_eq!(entries.len(), 1, "the order: {entries:?}");
    let pay_later = {
        let base = sandbox.base_uri().to_owned();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            raw_request(&base, "POST", "/sandbox/pay/CL-1", &[], b"")
        })
    };
    let started = Instant::now();
    let (entries, last) = log(&sandbox, &format!("?since={next}&wait=20"));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    assert_eq!(pay_later.join().unwrap().status, 200);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let delivery = &entries[0];
    assert_eq!(delivery["seq"], next + 1);
    assert_eq!(last, next + 1);
    assert_eq!(delivery["kind"], "delivery");
    assert_eq!(delivery["url"], hook.url.as_str());
    assert_eq!(delivery["event_type"], "TRANSACTION.SUCCESS");
    assert_eq!(delivery["attempt"], 1);
    assert_eq!(delivery["outcome"], "status");
    assert_eq!(delivery["status"], 500);
    assert_eq!(delivery["acknowledged"], false);
    assert_eq!(delivery["next_attempt_in_ms"], 15_000);

    for (query, message) in [
        ("?since=x", "since=x: expected a whole number, 0 or more"),
        ("?wait=-1", "wait=-1: expected seconds, 0 or more"),
    ] {
        let raw = get(&sandbox, &format!("/sandbox/log{query}"));
        assert_eq!(
            error(&raw),
            (400, "PARAM_ERROR".into(), message.into()),
            "{query}"
        );
    }
}

#[test]
fn reset_forgets_orders_logs_and_faults() {
    let sandbox = Sandbox::start().unwrap();
    place(&sandbox, "CZ-1", "https://example.com/notify");
    post(
        &sandbox,
        "/sandbox/fault",
        &json!({ "fault": "missing-nonce", "path": "/v3/certificates" }),
    );
    post(&sandbox, "/sandbox/fault", &json!({ "fault": "wrong-key" }));
    let raw = post(&sandbox, "/sandbox/reset", &json!({}));
    assert_eq!(raw.status, 200);
    assert_eq!(raw.json(), json!({ "reset": true }));
    let status = get(&sandbox, "/sandbox/status").json();
    assert_eq!(status["orders"], 0);
    assert_eq!(status["fault"], Value::Null);
    assert_eq!(status["route_faults"], json!({}));
    assert!(sandbox.requests().is_empty());
    let (entries, next) = log(&sandbox, "");
    assert!(entries.is_empty());
    assert_eq!(next, 0);
    // The log's numbers go on after a reset: a follower's cursor stays valid.
    sandbox.client()["v3/certificates"].get(json!({})).unwrap();
    let (entries, _) = log(&sandbox, "?since=1");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["seq"], 2);
}
