//! The APIv3 routes: a verified request in, a [`Reply`] out.

mod bill;
mod certificates;
mod complaints;
mod media;
pub(crate) mod operations;
mod pay;
mod refund;

use http::{HeaderMap, Method};
use serde_json::Value;

use crate::reply::Reply;
use crate::state::State;

/// A request that passed the signature check, as the routes see it.
pub(crate) struct Request<'a> {
    pub(crate) method: &'a Method,
    /// The raw path (no query).
    pub(crate) path: &'a str,
    /// The raw query, if any.
    pub(crate) query: Option<&'a str>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
}

impl Request<'_> {
    /// The decoded value of query parameter `name` (the first one).
    pub(crate) fn query_param(&self, name: &str) -> Option<String> {
        self.query?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k)? == name).then(|| decode(&v.replace('+', " ")))?
        })
    }

    /// The body as a JSON object, or `400 PARAM_ERROR`.
    pub(crate) fn json(&self) -> Result<Value, Reply> {
        match serde_json::from_slice::<Value>(self.body) {
            Ok(value @ Value::Object(_)) => Ok(value),
            Ok(_) => Err(Reply::param_error("the body must be a JSON object")),
            Err(e) => Err(Reply::param_error(format!(
                "the body is not valid JSON: {e}"
            ))),
        }
    }
}

/// Percent-decodes one path segment or query component; `None` when it is not UTF-8.
fn decode(raw: &str) -> Option<String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The value at a dotted path (`amount.total`).
fn at<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// A required non-empty string at `path`.
pub(crate) fn req_str<'v>(value: &'v Value, path: &str) -> Result<&'v str, Reply> {
    match at(value, path) {
        None | Some(Value::Null) => Err(Reply::required(path)),
        Some(Value::String(s)) if s.is_empty() => Err(Reply::required(path)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Reply::param_error(format!("{path} must be a string"))),
    }
}

/// An optional string at `path` (absent, null or empty: `None`).
pub(crate) fn opt_str<'v>(value: &'v Value, path: &str) -> Result<Option<&'v str>, Reply> {
    match at(value, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Reply::param_error(format!("{path} must be a string"))),
    }
}

/// A required non-negative integer at `path`.
pub(crate) fn req_u64(value: &Value, path: &str) -> Result<u64, Reply> {
    match at(value, path) {
        None | Some(Value::Null) => Err(Reply::required(path)),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| Reply::param_error(format!("{path} must be a non-negative integer"))),
    }
}

/// The `mchid` given must be the sandbox's.
pub(crate) fn check_mchid(state: &State, mchid: &str) -> Result<(), Reply> {
    if mchid == state.keys.mchid {
        Ok(())
    } else {
        Err(Reply::error(
            400,
            "MCH_NOT_EXISTS",
            format!("商户号不存在: mchid {mchid:?} is not this merchant"),
        ))
    }
}

/// Answers a verified APIv3 request: validated against the catalogue's operation, then
/// answered by the sandbox's stateful routes where it has them, else from the catalogue.
pub(crate) fn handle(state: &State, request: &Request<'_>) -> Reply {
    let found = operations::find(request.method, request.path);
    if let Some(found) = &found {
        if let Err(reply) = operations::validate(state, found, request) {
            return reply;
        }
    }
    match stateful(state, request) {
        Some(result) => result.unwrap_or_else(|reply| reply),
        None => match &found {
            Some(found) => described(state, found, request),
            None => not_found(request.method, request.path),
        },
    }
}

/// An operation answered from its description, with what the sandbox knows of its subject.
fn described(state: &State, found: &operations::Found, request: &Request<'_>) -> Reply {
    let id = found
        .path_values
        .iter()
        .find(|(name, _)| name == "complaint_id")
        .map(|(_, v)| v.as_str());
    let template = found.operation.template.as_str();
    match (request.method.as_str(), template, id) {
        ("GET", "v3/merchant-service/complaints-v2/{complaint_id}", Some(id)) => {
            complaints::detail(state, found, request, id)
        }
        (
            "GET",
            "v3/merchant-service/complaints-v2/{complaint_id}/negotiation-historys",
            Some(id),
        ) => complaints::history(state, found, request, id),
        ("POST", "v3/merchant-service/complaints-v2/{complaint_id}/complete", Some(id)) => {
            complaints::complete(state, request, id).unwrap_or_else(|reply| reply)
        }
        _ => operations::answer(state, found, request),
    }
}

/// The answer of a route the sandbox keeps state for, or `None`.
fn stateful(state: &State, request: &Request<'_>) -> Option<Result<Reply, Reply>> {
    let raw_segments = request.path.strip_prefix('/').unwrap_or(request.path);
    let decoded = raw_segments
        .split('/')
        .map(decode)
        .collect::<Option<Vec<String>>>()?;
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let result = match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["v3", "merchant-service", "complaints-v2", id, "response"])
        | (
            "POST",
            [
                "v3",
                "global",
                "merchant-service",
                "complaints",
                id,
                "response",
            ],
        ) => complaints::respond(state, request, id),
        (
            "POST",
            [
                "v3",
                "pay",
                "transactions",
                kind @ ("jsapi" | "native" | "app"),
            ],
        ) => pay::place(state, request, kind),
        ("GET", ["v3", "pay", "transactions", "id", id]) => {
            pay::query(state, request, pay::Key::TransactionId(id))
        }
        ("GET", ["v3", "pay", "transactions", "out-trade-no", no]) => {
            pay::query(state, request, pay::Key::OutTradeNo(no))
        }
        ("POST", ["v3", "pay", "transactions", "out-trade-no", no, "close"]) => {
            pay::close(state, request, no)
        }
        ("POST", ["v3", "refund", "domestic", "refunds"]) => refund::create(state, request),
        ("GET", ["v3", "refund", "domestic", "refunds", no]) => refund::query(state, no),
        ("GET", ["v3", "certificates"]) => certificates::list(state, request),
        (
            "POST",
            [
                "v3",
                "merchant",
                "media",
                kind @ ("upload" | "video_upload"),
            ],
        ) => media::upload(state, request, kind),
        ("GET", ["v3", "bill", "tradebill"]) => bill::tradebill(state, request),
        ("GET", ["v3", "billdownload", "file"]) => bill::download(state, request),
        _ => return None,
    };
    Some(result)
}

/// `404 NOT_FOUND` for a route the sandbox does not have.
pub(crate) fn not_found(method: &Method, path: &str) -> Reply {
    let shown: String = path.chars().take(200).collect();
    let hint = if path == "/secapi/pay/refund" {
        " (an APIv2 API of the mutual-TLS port: Identity::tls_base_uri)"
    } else {
        ""
    };
    Reply::error(
        404,
        "NOT_FOUND",
        format!("no such API: {method} {shown}{hint}"),
    )
}
