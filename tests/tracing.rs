//! Tracing: every request runs in one `wechatpay.request` span with one `wechatpay.attempt`
//! child per attempt (retries, failover), the retry, failover and key-ring events happen inside
//! it, every callback verification in a `wechatpay.callback` span; the spans record exactly the
//! documented fields (docs/observability.md), and nothing recorded holds a secret, a body, a
//! query value or the order number of the path (unless the client asked for concrete paths).
//!
//! A global subscriber of this binary records every span (name, parent, fields as last
//! recorded) and every event; the tests run one at a time (a lock) and each starts from an
//! empty record.

mod support;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use support::CallbackSpec;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use wechatpay::notify::{NotificationParser, NotificationReceiver, Rejection};
use wechatpay::verifier::PlatformVerifier;
use wechatpay::{Client, ClientBuilder, ErrorKind, RetryPolicy};
use wechatpay_sandbox::{Answer, Fault, Sandbox, SignMode};

// ---------------------------------------------------------------------------------------------
// The capturing subscriber
// ---------------------------------------------------------------------------------------------

/// A span as recorded: its name, target, parent and fields (each as last recorded).
#[derive(Clone, Debug)]
struct SpanRec {
    id: u64,
    name: &'static str,
    target: String,
    parent: Option<u64>,
    fields: BTreeMap<String, String>,
}

/// An event as recorded: its target, the span it happened in, its fields (`message` included).
#[derive(Clone, Debug)]
struct EventRec {
    target: String,
    span: Option<u64>,
    fields: BTreeMap<String, String>,
}

#[derive(Default)]
struct Records {
    spans: Vec<SpanRec>,
    events: Vec<EventRec>,
}

struct Capture {
    next: AtomicU64,
    records: Mutex<Records>,
}

static CAPTURE: Capture = Capture {
    next: AtomicU64::new(1),
    records: Mutex::new(Records {
        spans: Vec::new(),
        events: Vec::new(),
    }),
};

thread_local! {
    /// The spans entered on this thread, innermost last.
    static STACK: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn current() -> Option<u64> {
    STACK.with(|s| s.borrow().last().copied())
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

/// The subscriber installed globally: forwards to [`CAPTURE`].
struct Global;

impl Subscriber for Global {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = CAPTURE.next.fetch_add(1, Ordering::Relaxed);
        let parent = if span.is_root() {
            None
        } else if let Some(parent) = span.parent() {
            Some(parent.into_u64())
        } else {
            current()
        };
        let mut fields = BTreeMap::new();
        span.record(&mut Fields(&mut fields));
        records().spans.push(SpanRec {
            id,
            name: span.metadata().name(),
            target: span.metadata().target().to_owned(),
            parent,
            fields,
        });
        Id::from_u64(id)
    }

    fn record(&self, id: &Id, values: &Record<'_>) {
        let mut records = records();
        if let Some(span) = records.spans.iter_mut().find(|s| s.id == id.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let span = if event.is_root() {
            None
        } else if let Some(parent) = event.parent() {
            Some(parent.into_u64())
        } else {
            current()
        };
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        records().events.push(EventRec {
            target: event.metadata().target().to_owned(),
            span,
            fields,
        });
    }

    fn enter(&self, id: &Id) {
        STACK.with(|s| s.borrow_mut().push(id.into_u64()));
    }

    fn exit(&self, id: &Id) {
        STACK.with(|s| {
            let mut stack = s.borrow_mut();
            if let Some(at) = stack.iter().rposition(|&x| x == id.into_u64()) {
                stack.remove(at);
            }
        });
    }
}

fn records() -> MutexGuard<'static, Records> {
    CAPTURE
        .records
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Installs the subscriber (once), takes the tests' lock and empties the record.
fn start() -> MutexGuard<'static, ()> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    static SERIAL: Mutex<()> = Mutex::new(());
    INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(Global)
            .expect("no other global tracing subscriber in this binary");
    });
    let guard = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    clear();
    guard
}

/// Forgets what was recorded so far.
fn clear() {
    let mut records = records();
    records.spans.clear();
    records.events.clear();
}

fn spans(name: &str) -> Vec<SpanRec> {
    records()
        .spans
        .iter()
        .filter(|s| s.name == name)
        .cloned()
        .collect()
}

/// The only `wechatpay.request` span recorded.
fn the_request() -> SpanRec {
    let requests = spans("wechatpay.request");
    assert_eq!(requests.len(), 1, "{requests:#?}");
    requests.into_iter().next().unwrap()
}

/// The attempt spans of `request`, in order.
fn attempts_of(request: &SpanRec) -> Vec<SpanRec> {
    spans("wechatpay.attempt")
        .into_iter()
        .filter(|s| s.parent == Some(request.id))
        .collect()
}

/// The events whose span is `span` or one of its descendants.
fn events_within(span: u64) -> Vec<EventRec> {
    let records = records();
    let inside = |mut at: Option<u64>| {
        while let Some(id) = at {
            if id == span {
                return true;
            }
            at = records
                .spans
                .iter()
                .find(|s| s.id == id)
                .and_then(|s| s.parent);
        }
        false
    };
    records
        .events
        .iter()
        .filter(|e| inside(e.span))
        .cloned()
        .collect()
}

fn message(event: &EventRec) -> &str {
    event.fields.get("message").map_or("", String::as_str)
}

/// `fields` as `(name, value)` pairs, for an exact comparison.
fn fields(span: &SpanRec) -> Vec<(&str, &str)> {
    span.fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Every recorded value (span fields, event fields), for the secret scan.
fn everything_recorded() -> String {
    let records = records();
    let mut all = String::new();
    for span in &records.spans {
        all.push_str(&format!("span {} {:?}\n", span.name, span.fields));
    }
    for event in &records.events {
        all.push_str(&format!("event {} {:?}\n", event.target, event.fields));
    }
    all
}

// ---------------------------------------------------------------------------------------------
// Clients and requests
// ---------------------------------------------------------------------------------------------

/// The sandbox merchant's signing identity aimed at `base_uri`, with the WeChat Pay public key.
fn builder(sandbox: &Sandbox, base_uri: &str) -> ClientBuilder {
    let id = sandbox.identity();
    Client::builder()
        .mchid(&id.mchid)
        .serial(&id.merchant_serial)
        .private_key(&id.merchant_private_key_pem)
        .platform_key(&id.public_key_id, &id.public_key_pem)
        .base_uri(base_uri)
        .allow_insecure_http(true)
}

fn port(sandbox: &Sandbox) -> String {
    url::Url::parse(sandbox.base_uri())
        .unwrap()
        .port()
        .unwrap()
        .to_string()
}

const DESCRIPTION: &str = "Image形象店-深圳腾大-QQ公仔-TRACING";

fn order_number() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "TRACE{}{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A Native order with a fresh number: its options.
fn native_order(sandbox: &Sandbox, out_trade_no: &str) -> Value {
    json!({ "json": {
        "appid": "wxd678efh567hg6787", "mchid": sandbox.identity().mchid,
        "description": DESCRIPTION, "out_trade_no": out_trade_no,
        "notify_url": "https://www.weixin.qq.com/wxpay/pay.php", "amount": { "total": 1 },
    } })
}

/// The query of an order by its number.
fn order_query(sandbox: &Sandbox, out_trade_no: &str) -> Value {
    json!({ "out_trade_no": out_trade_no, "query": { "mchid": sandbox.identity().mchid } })
}

const QUERY_TEMPLATE: &str = "v3/pay/transactions/out-trade-no/{out_trade_no}";

/// The values that must never be recorded: the merchant private key (every line of its PEM
/// body), the APIv3 key, the APIv2 secret, the `Authorization` of every request the sandbox
/// received, and the request bodies.
fn secrets(sandbox: &Sandbox) -> Vec<String> {
    let id = sandbox.identity();
    let mut secrets: Vec<String> = id
        .merchant_private_key_pem
        .lines()
        .filter(|line| !line.starts_with("-----") && line.len() > 16)
        .map(str::to_owned)
        .collect();
    secrets.push(id.apiv3_key.clone());
    secrets.push(id.apiv2_secret.clone());
    for request in sandbox.requests() {
        if let Some(authorization) = request.header("Authorization") {
            secrets.push(authorization.to_owned());
            // The signature alone, too.
            let signature = authorization
                .split("signature=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap();
            secrets.push(signature.to_owned());
        }
        if !request.body.is_empty() {
            secrets.push(request.body_text());
        }
    }
    secrets.push(DESCRIPTION.to_owned());
    secrets
}

fn assert_nothing_recorded_holds(secrets: &[String]) {
    let all = everything_recorded();
    let leaks: Vec<&String> = secrets
        .iter()
        .filter(|s| all.contains(s.as_str()))
        .collect();
    assert!(leaks.is_empty(), "recorded: {leaks:?}\nin:\n{all}");
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

#[test]
fn a_native_order_is_one_request_span_with_one_attempt() {
    let _lock = start();
    let sandbox = Sandbox::start().unwrap();
    let sandbox_port = port(&sandbox);
    let client = sandbox.client();
    let response = client["v3/pay/transactions/native"]
        .post(native_order(&sandbox, &order_number()))
        .unwrap();
    let request_id = response.request_id().expect("the sandbox sets Request-ID");

    let request = the_request();
    assert_eq!(request.parent, None);
    assert_eq!(request.target, "wechatpay::pipeline::trace");
    let duration: f64 = request.fields["wechatpay.duration_ms"].parse().unwrap();
    assert!(duration > 0.0 && duration < 60_000.0, "{duration}");
    let mut expected = vec![
        ("http.request.method", "POST"),
        ("http.response.status_code", "200"),
        ("server.address", "127.0.0.1"),
        ("server.port", &sandbox_port),
        ("url.template", "v3/pay/transactions/native"),
        ("wechatpay.attempts", "1"),
        (
            "wechatpay.duration_ms",
            &request.fields["wechatpay.duration_ms"],
        ),
        ("wechatpay.request_id", request_id),
    ];
    expected.sort();
    assert_eq!(fields(&request), expected);

    let attempts = attempts_of(&request);
    assert_eq!(attempts.len(), 1);
    let mut expected = vec![
        ("http.response.status_code", "200"),
        ("otel.kind", "client"),
        ("server.address", "127.0.0.1"),
        ("server.port", &sandbox_port),
        ("wechatpay.attempt", "1"),
        ("wechatpay.request_id", request_id),
    ];
    expected.sort();
    assert_eq!(fields(&attempts[0]), expected);

    assert_nothing_recorded_holds(&secrets(&sandbox));
}

#[test]
fn a_query_records_the_template_not_the_order_number_nor_the_query() {
    let _lock = start();
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let number = order_number();
    client["v3/pay/transactions/native"]
        .post(native_order(&sandbox, &number))
        .unwrap();
    clear();
    let response = client[QUERY_TEMPLATE]
        .get(order_query(&sandbox, &number))
        .unwrap();

    let request = the_request();
    assert_eq!(request.fields["http.request.method"], "GET");
    assert_eq!(request.fields["url.template"], QUERY_TEMPLATE);
    assert_eq!(request.fields["http.response.status_code"], "200");
    assert_eq!(
        request.fields["wechatpay.request_id"],
        response.request_id().unwrap()
    );
    assert!(!request.fields.contains_key("url.path"), "{request:?}");

    let mut secrets = secrets(&sandbox);
    secrets.push(number.clone());
    secrets.push(format!("mchid={}", sandbox.identity().mchid));
    assert_nothing_recorded_holds(&secrets);
}

#[test]
fn trace_paths_records_the_concrete_path_without_its_query() {
    let _lock = start();
    let sandbox = Sandbox::start().unwrap();
    let client = builder(&sandbox, sandbox.base_uri())
        .trace_paths(true)
        .build()
        .unwrap();
    let number = order_number();
    client["v3/pay/transactions/native"]
        .post(native_order(&sandbox, &number))
        .unwrap();
    client[QUERY_TEMPLATE]
        .get_async_blocking(order_query(&sandbox, &number))
        .unwrap();

    let requests = spans("wechatpay.request");
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_eq!(
        requests[0].fields["url.path"],
        "/v3/pay/transactions/native"
    );
    assert_eq!(requests[1].fields["url.template"], QUERY_TEMPLATE);
    assert_eq!(
        requests[1].fields["url.path"],
        format!("/v3/pay/transactions/out-trade-no/{number}")
    );
    let mut secrets = secrets(&sandbox);
    secrets.push(format!("mchid={}", sandbox.identity().mchid));
    assert_nothing_recorded_holds(&secrets);
}

/// The async verbs, run to completion on a runtime of their own.
trait AsyncBlocking {
    fn get_async_blocking(&self, options: Value) -> wechatpay::Result<wechatpay::Response>;
}

impl AsyncBlocking for wechatpay::Endpoint {
    fn get_async_blocking(&self, options: Value) -> wechatpay::Result<wechatpay::Response> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(self.get_async(options))
    }
}

#[test]
fn a_404_records_its_status_error_code_and_request_id() {
    let _lock = start();
    let sandbox = Sandbox::start().unwrap();
    let sandbox_port = port(&sandbox);
    let number = order_number();
    let error = sandbox.client()[QUERY_TEMPLATE]
        .get_async_blocking(order_query(&sandbox, &number))
        .expect_err("no such order");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(404), "{error}");
    let api = error.api().expect("an API error");

    let request = the_request();
    let mut expected = vec![
        ("error.type", "api"),
        ("http.request.method", "GET"),
        ("http.response.status_code", "404"),
        ("otel.status_code", "ERROR"),
        ("server.address", "127.0.0.1"),
        ("server.port", &sandbox_port),
        ("url.template", QUERY_TEMPLATE),
        ("wechatpay.attempts", "1"),
        (
            "wechatpay.duration_ms",
            &request.fields["wechatpay.duration_ms"],
        ),
        ("wechatpay.error_code", api.code().unwrap()),
        ("wechatpay.request_id", api.request_id().unwrap()),
    ];
    expected.sort();
    assert_eq!(fields(&request), expected);
    let attempts = attempts_of(&request);
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].fields["http.response.status_code"], "404");
    assert_eq!(attempts[0].fields["error.type"], "api");

    let mut secrets = secrets(&sandbox);
    secrets.push(number);
    assert_nothing_recorded_holds(&secrets);
}

fn retrying(sandbox: &Sandbox) -> Client {
    builder(sandbox, sandbox.base_uri())
        .retry(
            RetryPolicy::default()
                .base_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(5)),
        )
        .build()
        .unwrap()
}

#[test]
fn retries_are_attempts_inside_the_request_span() {
    let _lock = start();
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_fault(Some(Fault::ServerError(503)));
    let error = retrying(&sandbox)["v3/certificates"]
        .get(json!({}))
        .expect_err("503 three times");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503), "{error}");

    let request = the_request();
    assert_eq!(request.fields["url.template"], "v3/certificates");
    assert_eq!(request.fields["wechatpay.attempts"], "3");
    assert_eq!(request.fields["http.response.status_code"], "503");
    assert_eq!(request.fields["error.type"], "api");
    let attempts = attempts_of(&request);
    let numbers: Vec<&str> = attempts
        .iter()
        .map(|a| a.fields["wechatpay.attempt"].as_str())
        .collect();
    assert_eq!(numbers, ["1", "2", "3"]);
    for attempt in &attempts {
        assert_eq!(attempt.fields["http.response.status_code"], "503");
        assert_eq!(attempt.fields["error.type"], "api");
        assert!(attempt.fields.contains_key("wechatpay.request_id"));
    }

    // The two retry events happened in the request span, between the attempts.
    let retries: Vec<EventRec> = events_within(request.id)
        .into_iter()
        .filter(|e| message(e) == "retrying a GET")
        .collect();
    assert_eq!(retries.len(), 2, "{retries:#?}");
    assert!(retries.iter().all(|e| e.span == Some(request.id)));
    assert_eq!(retries[0].fields["retry"], "1");
    assert_eq!(retries[1].fields["retry"], "2");
    assert_nothing_recorded_holds(&secrets(&sandbox));
}

#[test]
fn a_retry_that_succeeds_records_each_attempt_and_the_final_answer() {
    let _lock = start();
    let sandbox = Sandbox::start().unwrap();
    let client = retrying(&sandbox);
    let number = order_number();
    client["v3/pay/transactions/native"]
        .post(native_order(&sandbox, &number))
        .unwrap();
    clear();
    let seen = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&seen);
    sandbox.script(move |request| {
        (request
            .path()
            .starts_with("/v3/pay/transactions/out-trade-no/")
            && counter.fetch_add(1, Ordering::SeqCst) == 0)
            .then(|| {
                Answer::json(
                    503,
                    &json!({ "code": "SYSTEM_ERROR", "message": "try again" }),
                )
            })
    });
    let response = client[QUERY_TEMPLATE]
        .get(order_query(&sandbox, &number))
        .unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 2);

    let request = the_request();
    assert_eq!(request.fields["wechatpay.attempts"], "2");
    assert_eq!(request.fields["http.response.status_code"], "200");
    assert_eq!(
        request.fields["wechatpay.request_id"],
        response.request_id().unwrap()
    );
    assert!(!request.fields.contains_key("error.type"), "{request:?}");
    let attempts = attempts_of(&request);
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].fields["http.response.status_code"], "503");
    assert_eq!(attempts[0].fields["wechatpay.error_code"], "SYSTEM_ERROR");
    assert_eq!(attempts[1].fields["http.response.status_code"], "200");
    assert_ne!(
        attempts[0].fields["wechatpay.request_id"],
        attempts[1].fields["wechatpay.request_id"]
    );
    let mut secrets = secrets(&sandbox);
    secrets.push(number);
    assert_nothing_recorded_holds(&secrets);
}

#[test]
fn failover_is_a_second_attempt_and_its_event_is_inside_the_request_span() {
    let _lock = start();
    let backup = Sandbox::start().unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = builder(&backup, &format!("http://127.0.0.1:{dead}/"))
        .backup_base_uri(backup.base_uri())
        .build()
        .unwrap();
    client["v3/pay/transactions/native"]
        .post(native_order(&backup, &order_number()))
        .unwrap();

    let request = the_request();
    assert_eq!(request.fields["wechatpay.attempts"], "2");
    assert_eq!(request.fields["server.port"], port(&backup));
    assert_eq!(request.fields["http.response.status_code"], "200");
    let attempts = attempts_of(&request);
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].fields["server.port"], dead.to_string());
    assert_eq!(attempts[0].fields["error.type"], "transport");
    assert!(!attempts[0].fields.contains_key("http.response.status_code"));
    assert_eq!(attempts[1].fields["server.port"], port(&backup));
    assert_eq!(attempts[1].fields["http.response.status_code"], "200");

    let switched: Vec<EventRec> = events_within(request.id)
        .into_iter()
        .filter(|e| message(e).contains("switching to the backup host"))
        .collect();
    assert_eq!(switched.len(), 1, "{:#?}", records().events);
    assert_eq!(switched[0].span, Some(request.id));
    assert_nothing_recorded_holds(&secrets(&backup));
}

#[test]
fn the_key_rings_first_download_is_a_request_inside_the_callers() {
    let _lock = start();
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let id = sandbox.identity();
    let client = Client::builder()
        .mchid(&id.mchid)
        .serial(&id.merchant_serial)
        .private_key(&id.merchant_private_key_pem)
        .auto_certificates(&id.apiv3_key)
        .base_uri(sandbox.base_uri())
        .allow_insecure_http(true)
        .build()
        .unwrap();
    client["v3/pay/transactions/native"]
        .post(native_order(&sandbox, &order_number()))
        .unwrap();

    let requests = spans("wechatpay.request");
    let outer: Vec<&SpanRec> = requests.iter().filter(|s| s.parent.is_none()).collect();
    assert_eq!(outer.len(), 1, "{requests:#?}");
    let outer = outer[0];
    assert_eq!(outer.fields["url.template"], "v3/pay/transactions/native");
    let download: Vec<&SpanRec> = requests
        .iter()
        .filter(|s| s.parent == Some(outer.id))
        .collect();
    assert_eq!(download.len(), 1, "{requests:#?}");
    assert_eq!(download[0].fields["url.template"], "v3/certificates");
    assert_eq!(download[0].fields["http.response.status_code"], "200");
    assert_eq!(download[0].fields["wechatpay.attempts"], "1");
    // The ring's own events (what it downloaded) are inside the caller's request.
    let ring_events: Vec<EventRec> = events_within(outer.id)
        .into_iter()
        .filter(|e| e.target.starts_with("wechatpay::refresh"))
        .collect();
    assert!(!ring_events.is_empty(), "{:#?}", records().events);
    // The caller's request sent once the keys were there: one attempt, after the download.
    assert_eq!(attempts_of(outer).len(), 1);
    assert!(attempts_of(outer)[0].id > download[0].id);
    let events_outside: Vec<EventRec> = records()
        .events
        .iter()
        .filter(|e| e.target.starts_with("wechatpay") && e.span.is_none())
        .cloned()
        .collect();
    assert!(events_outside.is_empty(), "{events_outside:#?}");
    assert_nothing_recorded_holds(&secrets(&sandbox));
}

#[test]
fn an_unknown_serials_refresh_is_inside_the_attempt_that_met_it() {
    let _lock = start();
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let id = sandbox.identity();
    let client = Client::builder()
        .mchid(&id.mchid)
        .serial(&id.merchant_serial)
        .private_key(&id.merchant_private_key_pem)
        .auto_certificates(&id.apiv3_key)
        .base_uri(sandbox.base_uri())
        .allow_insecure_http(true)
        .build()
        .unwrap();
    client["v3/pay/transactions/native"]
        .post(native_order(&sandbox, &order_number()))
        .unwrap();
    // The answers are signed with a certificate the ring does not have yet.
    sandbox
        .rotate_platform_certificate(Duration::from_secs(86_400))
        .unwrap();
    clear();
    client["v3/pay/transactions/native"]
        .post(native_order(&sandbox, &order_number()))
        .unwrap();

    let requests = spans("wechatpay.request");
    let outer: Vec<&SpanRec> = requests.iter().filter(|s| s.parent.is_none()).collect();
    assert_eq!(outer.len(), 1, "{requests:#?}");
    let outer = outer[0];
    assert_eq!(outer.fields["http.response.status_code"], "200");
    assert_eq!(outer.fields["wechatpay.attempts"], "1");
    let attempts = attempts_of(outer);
    assert_eq!(attempts.len(), 1);
    // The refresh's download is a request inside the attempt whose answer named the serial.
    let download: Vec<&SpanRec> = requests
        .iter()
        .filter(|s| s.parent == Some(attempts[0].id))
        .collect();
    assert_eq!(download.len(), 1, "{requests:#?}");
    assert_eq!(download[0].fields["url.template"], "v3/certificates");
    let ring_events: Vec<EventRec> = events_within(attempts[0].id)
        .into_iter()
        .filter(|e| {
            e.target.starts_with("wechatpay::refresh") || e.target.starts_with("wechatpay::keyring")
        })
        .collect();
    assert!(!ring_events.is_empty(), "{:#?}", records().events);
    assert_nothing_recorded_holds(&secrets(&sandbox));
}

#[test]
fn a_subscriber_that_wants_nothing_gets_no_span() {
    // A subscriber that wants nothing (here scoped to this thread, where the blocking call
    // polls the request) is asked, says no, and is never handed a span or an event: the
    // request runs with disabled spans.
    struct Nothing;
    impl Subscriber for Nothing {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            false
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            panic!("no span is created when none is wanted")
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {
            panic!("no event is sent when none is wanted")
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
    let _lock = start();
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    tracing::subscriber::with_default(Nothing, || {
        client["v3/pay/transactions/native"]
            .post(native_order(&sandbox, &order_number()))
            .unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// Callbacks
// ---------------------------------------------------------------------------------------------

fn parser() -> NotificationParser {
    let k = support::keys();
    let mut verifier = PlatformVerifier::new();
    verifier.insert(
        k.platform_serial.clone(),
        wechatpay::crypto::PublicKey::load(&k.platform_cert_pem).unwrap(),
    );
    NotificationParser::new(support::APIV3_KEY, verifier).unwrap()
}

#[test]
fn a_callback_records_its_id_event_type_and_outcome() {
    let _lock = start();
    let spec = CallbackSpec::payment();
    let callback = spec.render();
    let notification = parser().parse(&callback.headers, &callback.body).unwrap();

    let spans = spans("wechatpay.callback");
    assert_eq!(spans.len(), 1, "{spans:#?}");
    let mut expected = vec![
        ("wechatpay.api", "v3"),
        ("wechatpay.event_type", "TRANSACTION.SUCCESS"),
        ("wechatpay.notification_id", notification.id()),
        ("wechatpay.outcome", "verified"),
    ];
    expected.sort();
    assert_eq!(fields(&spans[0]), expected);
    assert_eq!(spans[0].fields["wechatpay.notification_id"], spec.id);

    // Nothing of the resource, the signature or the key.
    let plaintext = String::from_utf8(spec.plaintext.clone()).unwrap();
    let resource: Value = serde_json::from_str(&plaintext).unwrap();
    let mut secrets = vec![
        support::APIV3_KEY.to_owned(),
        callback.headers["Wechatpay-Signature"]
            .to_str()
            .unwrap()
            .to_owned(),
        resource["out_trade_no"].as_str().unwrap().to_owned(),
        resource["payer"]["openid"].as_str().unwrap().to_owned(),
        spec.summary.clone(),
    ];
    secrets.push(resource["transaction_id"].as_str().unwrap().to_owned());
    assert_nothing_recorded_holds(&secrets);
}

#[test]
fn a_refused_callback_records_the_check_that_failed() {
    let _lock = start();
    let callback = CallbackSpec::payment().render().tampered();
    let error = parser()
        .parse(&callback.headers, &callback.body)
        .expect_err("tampered");
    assert_eq!(error.kind(), ErrorKind::Verification);
    // `verify` alone is a callback verification too.
    let unsigned = CallbackSpec::payment()
        .render()
        .without("Wechatpay-Signature");
    parser()
        .verify(&unsigned.headers, &unsigned.body)
        .expect_err("unsigned");

    let spans = spans("wechatpay.callback");
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let mut expected = vec![
        ("error.type", "verification"),
        ("otel.status_code", "ERROR"),
        ("wechatpay.api", "v3"),
        ("wechatpay.outcome", "refused"),
        ("wechatpay.verification", "bad_signature"),
    ];
    expected.sort();
    assert_eq!(fields(&spans[0]), expected);
    assert_eq!(spans[1].fields["wechatpay.verification"], "missing_header");
    // An unverified body's id is not recorded.
    assert!(!spans[0].fields.contains_key("wechatpay.notification_id"));
}

#[test]
fn a_receiver_is_one_callback_span_and_its_rejections_are_inside_it() {
    let _lock = start();
    let receiver = NotificationReceiver::new(parser());
    let spec = CallbackSpec::payment();
    let callback = spec.render();
    let ack = receiver
        .receive(&callback.headers, &callback.body)
        .unwrap()
        .ack();
    assert_eq!(ack.to_response().status(), 204);
    let again = receiver
        .receive(&callback.headers, &callback.body)
        .expect_err("processed before");
    assert!(matches!(again, Rejection::Duplicate { .. }), "{again:?}");
    let forged = CallbackSpec::payment().render().tampered();
    receiver
        .receive(&forged.headers, &forged.body)
        .expect_err("forged");

    // One span per delivery: the parser's checks run in the receiver's span, not one of their
    // own.
    let spans = spans("wechatpay.callback");
    assert_eq!(spans.len(), 3, "{spans:#?}");
    assert!(spans.iter().all(|s| s.parent.is_none()), "{spans:#?}");
    let outcomes: Vec<&str> = spans
        .iter()
        .map(|s| s.fields["wechatpay.outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["verified", "duplicate", "refused"]);
    assert_eq!(spans[0].fields["wechatpay.notification_id"], spec.id);
    assert_eq!(spans[1].fields["wechatpay.notification_id"], spec.id);
    assert_eq!(spans[2].fields["wechatpay.verification"], "bad_signature");
    assert_eq!(spans[2].fields["otel.status_code"], "ERROR");
    // The receiver's log lines are inside their delivery's span.
    let duplicate: Vec<EventRec> = events_within(spans[1].id)
        .into_iter()
        .filter(|e| message(e).contains("processed before"))
        .collect();
    assert_eq!(duplicate.len(), 1, "{:#?}", records().events);
    let refused: Vec<EventRec> = events_within(spans[2].id)
        .into_iter()
        .filter(|e| message(e).contains("callback refused"))
        .collect();
    assert_eq!(refused.len(), 1, "{:#?}", records().events);
    assert_nothing_recorded_holds(&[
        support::APIV3_KEY.to_owned(),
        String::from_utf8(spec.plaintext.clone()).unwrap(),
        callback.headers["Wechatpay-Signature"]
            .to_str()
            .unwrap()
            .to_owned(),
        "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".to_owned(),
    ]);
}

#[test]
fn an_apiv2_callback_records_its_outcome() {
    let _lock = start();
    let secret = wechatpay::v2::Secret::new("192006250b4c09247ec02edce69f6a2d").unwrap();
    let fields_ = [
        ("return_code", "SUCCESS"),
        ("result_code", "SUCCESS"),
        ("openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
        ("out_trade_no", "1212321211201407033568112322"),
    ];
    let signed = wechatpay::v2::sign(fields_, &secret, wechatpay::v2::SignType::Md5).unwrap();
    let body = format!(
        "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code>\
         <openid>oUpF8uMuAJO_M2pxb1Q9zNjWeS6o</openid>\
         <out_trade_no>1212321211201407033568112322</out_trade_no><sign>{signed}</sign></xml>"
    );
    wechatpay::v2::verify_callback(body.as_bytes(), &secret).unwrap();
    let forged = body.replace(
        "1212321211201407033568112322",
        "1212321211201407033568119999",
    );
    wechatpay::v2::verify_callback(forged.as_bytes(), &secret).expect_err("forged");

    let spans = spans("wechatpay.callback");
    assert_eq!(spans.len(), 2, "{spans:#?}");
    assert_eq!(
        fields(&spans[0]),
        [("wechatpay.api", "v2"), ("wechatpay.outcome", "verified")]
    );
    assert_eq!(spans[1].fields["wechatpay.outcome"], "refused");
    assert_eq!(spans[1].fields["wechatpay.verification"], "bad_sign");
    assert_nothing_recorded_holds(&[
        "192006250b4c09247ec02edce69f6a2d".to_owned(),
        "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".to_owned(),
        "1212321211201407033568112322".to_owned(),
        signed,
    ]);
}
