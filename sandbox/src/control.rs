//! The control API: unsigned JSON under [`CONTROL_PREFIX`] on the plain port, for tools (the
//! `wxpay sandbox` subcommands) and tests in other languages. Its requests are neither checked,
//! logged nor counted as WeChat Pay requests.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, Response};
use http_body_util::Full;
use serde_json::{Map, Value, json};

use crate::deliveries::{self, Delivery, DeliveryOutcome};
use crate::error::{Error, Result};
use crate::faults::{Fault, SignMode};
use crate::log::LoggedRequest;
use crate::notify::{Event, NotifyVariant};
use crate::state::{PlatformCertificate, State};
use crate::store::Store;
use crate::util::{Beijing, now_unix};

/// The path prefix of the control API, on the plain port ([`Sandbox::control_uri`]): a
/// request whose path starts with it is answered by the control API, never by the WeChat Pay
/// routes or a script.
///
/// [`Sandbox::control_uri`]: crate::Sandbox::control_uri
pub const CONTROL_PREFIX: &str = "/sandbox/";

/// The answer header that carries the cursor of `GET /sandbox/log`: the `since` of the next
/// poll.
const LOG_NEXT_HEADER: &str = "Sandbox-Log-Next";

/// The longest `wait` of `GET /sandbox/log`.
const MAX_LOG_WAIT: Duration = Duration::from_secs(60);

/// How long a rotated certificate is valid unless `valid_for_seconds` says otherwise: five
/// years, as WeChat Pay's.
const DEFAULT_VALIDITY: Duration = Duration::from_secs(5 * 365 * 86_400);

/// The longest body of a request or logged answer shown in the log.
const MAX_SHOWN_BODY: usize = 4096;

/// Whether `path` belongs to the control API.
pub(crate) fn is_control(path: &str) -> bool {
    path.starts_with(CONTROL_PREFIX) || path == "/sandbox"
}

/// A control API error: `{"code", "message"}` with an HTTP status.
struct Failure {
    status: u16,
    code: &'static str,
    message: String,
}

fn bad_request(message: impl Into<String>) -> Failure {
    Failure {
        status: 400,
        code: "PARAM_ERROR",
        message: message.into(),
    }
}

fn not_found(code: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        status: 404,
        code,
        message: message.into(),
    }
}

fn internal(e: impl std::fmt::Display) -> Failure {
    Failure {
        status: 500,
        code: "SYSTEM_ERROR",
        message: e.to_string(),
    }
}

fn respond(status: u16, content_type: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

fn json_response(status: u16, value: &Value) -> Response<Full<Bytes>> {
    let mut body = serde_json::to_vec(value).unwrap_or_default();
    body.push(b'\n');
    respond(status, "application/json", body)
}

/// Answers a control request.
pub(crate) async fn handle(
    state: &Arc<State>,
    method: &Method,
    target: &str,
    body: &[u8],
) -> Response<Full<Bytes>> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let rest = path
        .strip_prefix(CONTROL_PREFIX)
        .unwrap_or_default()
        .trim_end_matches('/');
    let result = match (method.as_str(), rest) {
        ("GET", "" | "status") => Ok(json_response(200, &status(state))),
        ("POST", "notify") => notify(state, body).await,
        ("POST", "rotate") => rotate_route(state, body).await,
        ("POST", "fault") => fault(state, body),
        ("POST", "sign-mode") => sign_mode(state, body),
        ("POST", "auto-pay") => auto_pay(state, body),
        ("POST", "callback-time-scale") => time_scale(state, body),
        ("POST", "reset") => {
            reset(state);
            Ok(json_response(200, &json!({ "reset": true })))
        }
        ("GET", "log") => log(state, query).await,
        ("POST", pay) if pay.starts_with("pay/") => pay_route(state, &pay["pay/".len()..]),
        (_, known)
            if matches!(
                known,
                "" | "status"
                    | "notify"
                    | "rotate"
                    | "fault"
                    | "sign-mode"
                    | "auto-pay"
                    | "callback-time-scale"
                    | "reset"
                    | "log"
            ) || known.starts_with("pay/") =>
        {
            Err(Failure {
                status: 405,
                code: "METHOD_NOT_ALLOWED",
                message: format!(
                    "{method} {path}: use {}",
                    if matches!(known, "" | "status" | "log") {
                        "GET"
                    } else {
                        "POST"
                    }
                ),
            })
        }
        _ => Err(not_found(
            "NOT_FOUND",
            format!(
                "no such control API: {method} {}; the control API has GET /sandbox/status, \
                 GET /sandbox/log, POST /sandbox/pay/{{out_trade_no}}, POST /sandbox/notify, \
                 POST /sandbox/rotate, POST /sandbox/fault, POST /sandbox/sign-mode, \
                 POST /sandbox/auto-pay, POST /sandbox/callback-time-scale, POST /sandbox/reset",
                path.chars().take(200).collect::<String>()
            ),
        )),
    };
    result.unwrap_or_else(|failure| {
        json_response(
            failure.status,
            &json!({ "code": failure.code, "message": failure.message }),
        )
    })
}

/// The body as a JSON object (an empty body is `{}`) whose fields are all among `allowed`.
fn object(body: &[u8], allowed: &[&str]) -> Result<Map<String, Value>, Failure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| bad_request(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(bad_request("the body must be a JSON object"));
    };
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad_request(format!(
            "unknown field {unknown:?} (expected {})",
            allowed.join(", ")
        )));
    }
    Ok(map)
}

/// An optional non-empty string field.
fn string<'m>(map: &'m Map<String, Value>, name: &str) -> Result<Option<&'m str>, Failure> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Err(bad_request(format!("{name} is empty"))),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad_request(format!("{name} must be a string"))),
    }
}

/// An optional number of seconds (finite, not negative).
fn seconds(map: &Map<String, Value>, name: &str) -> Result<Option<Duration>, Failure> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .map(Some)
            .ok_or_else(|| bad_request(format!("{name} must be a number of seconds, 0 or more"))),
        Some(_) => Err(bad_request(format!("{name} must be a number of seconds"))),
    }
}

fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn rfc3339(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Beijing::at(seconds).rfc3339()
}

/// `GET /sandbox/status`
fn status(state: &State) -> Value {
    let settings = state.settings();
    let counters = state.counters.snapshot();
    let (orders, refunds) = {
        let store = state.store();
        (store.orders.len(), store.refunds.len())
    };
    let route_faults: Map<String, Value> = state
        .route_faults()
        .into_iter()
        .map(|(path, fault)| (path, json!(fault.to_string())))
        .collect();
    json!({
        "base_uri": state.base_uri,
        "control_uri": format!("{}{}", state.base_uri, &CONTROL_PREFIX[1..]),
        "mchid": state.keys.mchid,
        "sign_mode": settings.sign_mode.to_string(),
        "fault": settings.fault.map(|f| f.to_string()),
        "route_faults": route_faults,
        "platform_certificates": state
            .platform_certificates()
            .into_iter()
            .map(|c| c.serial)
            .collect::<Vec<_>>(),
        "auto_pay_seconds": state.callbacks.auto_pay().map(|d| d.as_secs_f64()),
        "callback_time_scale": state.callbacks.time_scale(),
        "orders": orders,
        "refunds": refunds,
        "counters": {
            "connections": counters.connections,
            "requests": counters.requests,
            "refused": counters.refused,
        },
        "log_next": state.last_sequence(),
    })
}

/// `POST /sandbox/pay/{out_trade_no}`
fn pay_route(state: &State, raw: &str) -> Result<Response<Full<Bytes>>, Failure> {
    let no = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| bad_request("the out_trade_no is not UTF-8 once percent-decoded"))?
        .into_owned();
    if no.is_empty() || no.contains('/') {
        return Err(bad_request(
            "POST /sandbox/pay/{out_trade_no}: one path segment, the order's out_trade_no",
        ));
    }
    let (transaction_id, newly) = deliveries::pay_order(state, &no).ok_or_else(|| {
        not_found(
            "ORDER_NOT_EXIST",
            format!("no order has the out_trade_no {no:?}"),
        )
    })?;
    let notify_url = state
        .store()
        .orders
        .get(&no)
        .and_then(|o| o.notify_url.clone());
    let callback = newly && notify_url.is_some();
    if newly {
        state.callbacks.order_paid(&no);
    }
    Ok(json_response(
        200,
        &json!({
            "out_trade_no": no,
            "transaction_id": transaction_id,
            "newly_paid": newly,
            "notify_url": notify_url,
            "callback": callback,
        }),
    ))
}

/// The JSON of a delivery attempt (the log's and `POST /sandbox/notify`'s).
fn delivery_json(delivery: &Delivery) -> Map<String, Value> {
    let mut entry = Map::new();
    entry.insert("at".into(), json!(rfc3339(delivery.at)));
    entry.insert("at_ms".into(), json!(unix_millis(delivery.at)));
    entry.insert("url".into(), json!(delivery.url));
    entry.insert("event_type".into(), json!(delivery.event_type));
    entry.insert("notification_id".into(), json!(delivery.notification_id));
    entry.insert("attempt".into(), json!(delivery.attempt));
    match &delivery.outcome {
        DeliveryOutcome::Status(status) => {
            entry.insert("outcome".into(), json!("status"));
            entry.insert("status".into(), json!(status));
        }
        DeliveryOutcome::Failed(reason) => {
            entry.insert("outcome".into(), json!("failed"));
            entry.insert("error".into(), json!(reason));
        }
        DeliveryOutcome::NotSent(reason) => {
            entry.insert("outcome".into(), json!("not-sent"));
            entry.insert("error".into(), json!(reason));
        }
    }
    entry.insert("acknowledged".into(), json!(delivery.acknowledged()));
    entry.insert(
        "next_attempt_in_ms".into(),
        json!(
            delivery
                .next_attempt_in
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        ),
    );
    entry
}

/// `POST /sandbox/notify`: an order's callback (`out_trade_no`), a refund's
/// (`out_refund_no`) or any event (`event_type` and `resource`), to `url` or the order's or
/// refund's `notify_url`; answers with the first attempt.
async fn notify(state: &Arc<State>, body: &[u8]) -> Result<Response<Full<Bytes>>, Failure> {
    let map = object(
        body,
        &[
            "url",
            "out_trade_no",
            "out_refund_no",
            "event_type",
            "summary",
            "original_type",
            "resource",
            "variant",
            "retries",
        ],
    )?;
    let url = string(&map, "url")?;
    let variant = match string(&map, "variant")? {
        Some(name) => name.parse::<NotifyVariant>().map_err(bad_request)?,
        None => NotifyVariant::Valid,
    };
    let retries = match map.get("retries") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad_request("retries must be true or false")),
    };
    let out_trade_no = string(&map, "out_trade_no")?;
    let out_refund_no = string(&map, "out_refund_no")?;
    let event_type = string(&map, "event_type")?;
    let custom_only = ["summary", "original_type", "resource"];
    if event_type.is_none() {
        if let Some(field) = custom_only.iter().find(|f| map.contains_key(**f)) {
            return Err(bad_request(format!(
                "{field} goes with event_type (a custom event)"
            )));
        }
    }
    let (event, default_url) = match (out_trade_no, out_refund_no, event_type) {
        (Some(no), None, None) => {
            let notify_url = match state.store().orders.get(no) {
                Some(order) => order.notify_url.clone(),
                // Event::payment creates an order it does not know, when there is a URL.
                None if url.is_some() => None,
                None => {
                    return Err(not_found(
                        "ORDER_NOT_EXIST",
                        format!("no order has the out_trade_no {no:?}"),
                    ));
                }
            };
            (Event::payment(no), notify_url)
        }
        (None, Some(no), None) => {
            let notify_url = match state.store().refunds.get(no) {
                Some(refund) => refund.notify_url.clone(),
                None => {
                    return Err(not_found(
                        "RESOURCE_NOT_EXISTS",
                        format!("no refund has the out_refund_no {no:?}"),
                    ));
                }
            };
            (Event::refund(no), notify_url)
        }
        (None, None, Some(event_type)) => {
            let resource = match map.get("resource") {
                Some(resource @ Value::Object(_)) => resource.clone(),
                Some(_) => return Err(bad_request("resource must be a JSON object")),
                None => return Err(bad_request("resource is required with event_type")),
            };
            let summary = string(&map, "summary")?.unwrap_or(event_type);
            let default_type = event_type
                .split('.')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let original_type = string(&map, "original_type")?.unwrap_or(&default_type);
            (
                Event::custom(event_type, summary, original_type, resource),
                None,
            )
        }
        _ => {
            return Err(bad_request(
                "name exactly one of out_trade_no (a payment callback), out_refund_no (a \
                 refund callback) or event_type (any event, with resource)",
            ));
        }
    };
    let url = match (url, default_url) {
        (Some(url), _) => url.to_owned(),
        (None, Some(url)) => url,
        (None, None) => {
            return Err(bad_request(
                "url is required: the event has no notify_url of its own (an APIv2 order, a \
                 refund requested without notify_url, or a custom event)",
            ));
        }
    };
    let first = state.callbacks.send(url, event.variant(variant), retries);
    let delivery = first.await.map_err(|_| {
        internal("the delivery was cancelled (the sandbox was reset or is stopping)")
    })?;
    Ok(json_response(200, &Value::Object(delivery_json(&delivery))))
}

/// Issues a platform certificate valid from a minute ago for `valid_for`
/// ([`Sandbox::rotate_platform_certificate`](crate::Sandbox::rotate_platform_certificate)).
pub(crate) fn rotate(state: &State, valid_for: Duration) -> Result<String> {
    let now = now_unix();
    let seconds = i64::try_from(valid_for.as_secs()).unwrap_or(i64::MAX);
    let not_after = now.saturating_add(seconds);
    let (serial, cert, key) = state.keys.issue_platform_certificate(now - 60, not_after)?;
    state.add_platform_certificate(PlatformCertificate::new(serial.clone(), cert, key)?);
    Ok(serial)
}

/// `POST /sandbox/rotate` with an optional `{"valid_for_seconds"}`.
async fn rotate_route(state: &Arc<State>, body: &[u8]) -> Result<Response<Full<Bytes>>, Failure> {
    let map = object(body, &["valid_for_seconds"])?;
    let valid_for = match map.get("valid_for_seconds") {
        None | Some(Value::Null) => DEFAULT_VALIDITY,
        Some(value) => value
            .as_u64()
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
            .ok_or_else(|| bad_request("valid_for_seconds must be a whole number above 0"))?,
    };
    let task_state = Arc::clone(state);
    // A new RSA key takes a moment: off the runtime's only thread.
    let serial = tokio::task::spawn_blocking(move || rotate(&task_state, valid_for))
        .await
        .map_err(internal)?
        .map_err(internal)?;
    let serials: Vec<String> = state
        .platform_certificates()
        .into_iter()
        .map(|c| c.serial)
        .collect();
    Ok(json_response(
        200,
        &json!({ "serial": serial, "platform_certificates": serials }),
    ))
}

/// `POST /sandbox/fault` with `{"fault": NAME or null, "path"?}`.
fn fault(state: &State, body: &[u8]) -> Result<Response<Full<Bytes>>, Failure> {
    let map = object(body, &["fault", "path"])?;
    if !map.contains_key("fault") {
        return Err(bad_request(
            "fault is required: a fault's name (bad-signature, ...), or null to clear it",
        ));
    }
    let fault = match string(&map, "fault")? {
        None | Some("none") => None,
        Some(name) => Some(name.parse::<Fault>().map_err(bad_request)?),
    };
    let path = string(&map, "path")?.map(|p| {
        if p.starts_with('/') {
            p.to_owned()
        } else {
            format!("/{p}")
        }
    });
    match &path {
        Some(path) => state.set_route_fault(path.clone(), fault),
        None => state.set_fault(fault),
    }
    Ok(json_response(
        200,
        &json!({ "fault": fault.map(|f| f.to_string()), "path": path }),
    ))
}

/// `POST /sandbox/sign-mode` with `{"sign_mode"}`.
fn sign_mode(state: &State, body: &[u8]) -> Result<Response<Full<Bytes>>, Failure> {
    let map = object(body, &["sign_mode"])?;
    let mode = string(&map, "sign_mode")?
        .ok_or_else(|| bad_request("sign_mode is required"))?
        .parse::<SignMode>()
        .map_err(bad_request)?;
    state.set_sign_mode(mode);
    Ok(json_response(
        200,
        &json!({ "sign_mode": mode.to_string() }),
    ))
}

/// `POST /sandbox/auto-pay` with `{"seconds": N or null}`.
fn auto_pay(state: &State, body: &[u8]) -> Result<Response<Full<Bytes>>, Failure> {
    let map = object(body, &["seconds"])?;
    if !map.contains_key("seconds") {
        return Err(bad_request(
            "seconds is required: the delay before an order is paid, or null to stop",
        ));
    }
    let delay = seconds(&map, "seconds")?;
    state.callbacks.set_auto_pay(delay);
    Ok(json_response(
        200,
        &json!({ "auto_pay_seconds": delay.map(|d| d.as_secs_f64()) }),
    ))
}

/// `POST /sandbox/callback-time-scale` with `{"scale"}`.
fn time_scale(state: &State, body: &[u8]) -> Result<Response<Full<Bytes>>, Failure> {
    let map = object(body, &["scale"])?;
    let scale = map
        .get("scale")
        .and_then(Value::as_f64)
        .ok_or_else(|| bad_request("scale is required: a number above 0"))?;
    state.callbacks.set_time_scale(scale).map_err(|e| match e {
        Error::InvalidArgument(message) => bad_request(message),
        other => internal(other),
    })?;
    Ok(json_response(200, &json!({ "callback_time_scale": scale })))
}

/// Forgets orders, refunds, bills, uploads, the logs and the faults; cancels pending
/// auto-payments and retries.
pub(crate) fn reset(state: &State) {
    state.callbacks.cancel_all();
    *state.store() = Store::default();
    state.clear_requests();
    state.callbacks.clear_log();
    state.set_fault(None);
    state.clear_route_faults();
}

/// The body shown in the log: text, cut at [`MAX_SHOWN_BODY`] bytes.
fn shown_body(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    match std::str::from_utf8(body) {
        Ok(text) if text.len() <= MAX_SHOWN_BODY => json!(text),
        Ok(text) => {
            let mut end = MAX_SHOWN_BODY;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            json!(format!("{}... ({} bytes)", &text[..end], body.len()))
        }
        Err(_) => json!(format!("({} bytes, not UTF-8)", body.len())),
    }
}

fn request_json(seq: u64, at: SystemTime, request: &LoggedRequest) -> Value {
    let mut entry = Map::new();
    entry.insert("seq".into(), json!(seq));
    entry.insert("kind".into(), json!("request"));
    entry.insert("at".into(), json!(rfc3339(at)));
    entry.insert("at_ms".into(), json!(unix_millis(at)));
    entry.insert("method".into(), json!(request.method));
    entry.insert("target".into(), json!(request.target));
    entry.insert("tls".into(), json!(request.tls));
    match &request.verdict {
        Ok(()) => {
            entry.insert("verdict".into(), json!("ok"));
        }
        Err(reason) => {
            entry.insert("verdict".into(), json!("refused"));
            entry.insert("reason".into(), json!(reason));
        }
    }
    entry.insert("body".into(), shown_body(&request.body));
    Value::Object(entry)
}

/// The query parameter `name`, if present.
fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// `GET /sandbox/log?since=N&wait=SECONDS`: the entries numbered above `since` (default 0:
/// all) as JSON lines, oldest first; with `wait`, waits up to that long (at most 60 s) for a
/// first entry. The `Sandbox-Log-Next` header is the `since` of the next poll.
async fn log(state: &State, query: &str) -> Result<Response<Full<Bytes>>, Failure> {
    let since = match query_param(query, "since") {
        None | Some("") => 0,
        Some(raw) => raw
            .parse::<u64>()
            .map_err(|_| bad_request(format!("since={raw}: expected a whole number, 0 or more")))?,
    };
    let wait = match query_param(query, "wait") {
        None | Some("") => Duration::ZERO,
        Some(raw) => raw
            .parse::<f64>()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(|| bad_request(format!("wait={raw}: expected seconds, 0 or more")))?
            .min(MAX_LOG_WAIT),
    };
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let mut entries: Vec<(u64, Value)> = state
            .requests_since(since)
            .into_iter()
            .map(|(seq, at, request)| (seq, request_json(seq, at, &request)))
            .collect();
        entries.extend(state.callbacks.deliveries_since(since).into_iter().map(
            |(seq, delivery)| {
                let mut entry = Map::new();
                entry.insert("seq".into(), json!(seq));
                entry.insert("kind".into(), json!("delivery"));
                entry.extend(delivery_json(&delivery));
                (seq, Value::Object(entry))
            },
        ));
        if !entries.is_empty() || tokio::time::Instant::now() >= deadline {
            entries.sort_by_key(|(seq, _)| *seq);
            let next = entries.last().map_or(since, |(seq, _)| *seq);
            let mut body = Vec::new();
            for (_, entry) in &entries {
                body.extend(serde_json::to_vec(entry).map_err(internal)?);
                body.push(b'\n');
            }
            let mut response = respond(200, "application/x-ndjson", body);
            if let Ok(value) = http::HeaderValue::from_str(&next.to_string()) {
                response.headers_mut().insert(LOG_NEXT_HEADER, value);
            }
            return Ok(response);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
