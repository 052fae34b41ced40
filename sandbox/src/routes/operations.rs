//! Every APIv3 operation of the WeChat Pay catalogue (`wechatpay::catalogue`): a request is
//! validated as WeChat Pay validates it (path, query and header parameters, the body against
//! its schema, the encrypted fields decrypted), each failure a 400 `PARAM_ERROR` naming the
//! field; an operation the sandbox keeps no state for is answered from the catalogue's example
//! answer, with the request's own identifiers echoed where the answer has them.

use http::Method;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Padding;
use serde_json::{Map, Value, json};
use wechatpay::catalogue::{self, AnswerKind, BodyKind, Kind, Location, Operation, Problem};
use wechatpay::catalogue::{ProblemKind, Schema};

use super::{Request, decode};
use crate::multipart;
use crate::reply::Reply;
use crate::state::State;

/// The catalogue's operation of a request, with the values of its path's placeholders.
pub(crate) struct Found {
    pub(crate) operation: &'static Operation,
    /// `(placeholder, decoded value)`, in the template's order.
    pub(crate) path_values: Vec<(String, String)>,
}

/// The APIv3 operation of `method` at the raw `path`, if the catalogue has one.
pub(crate) fn find(method: &Method, path: &str) -> Option<Found> {
    let operation = catalogue::get().find(method, path)?;
    if operation.api != catalogue::Api::V3 {
        return None;
    }
    let template = operation.template.split('/');
    let segments = path.trim_start_matches('/').split('/');
    let mut path_values = Vec::new();
    for (name, raw) in template.zip(segments) {
        if let Some(name) = name.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            path_values.push((name.to_owned(), decode(raw).unwrap_or_default()));
        }
    }
    Some(Found {
        operation,
        path_values,
    })
}

/// Whether the catalogue has an APIv3 operation at `path`, under any method: a path outside
/// `/v3` (`/global/v3/customs/orders`) is then checked as APIv3.
pub(crate) fn is_v3_path(path: &str) -> bool {
    catalogue::get()
        .at(path)
        .iter()
        .any(|op| op.api == catalogue::Api::V3)
}

/// `400 PARAM_ERROR` shaped as WeChat Pay shapes it: a message naming the input and the rule,
/// and `detail {field, location, value, issue}`.
fn param_error(
    field: &str,
    location: &str,
    title: Option<&str>,
    value: Option<&Value>,
    rule: &str,
    issue: String,
) -> Reply {
    let source = match location {
        "body" => format!("/body{field}"),
        other => format!("/{other}/{field}"),
    };
    let title = title.unwrap_or(field);
    let mut detail = Map::new();
    detail.insert("field".into(), json!(field));
    detail.insert("location".into(), json!(location));
    if let Some(value) = value {
        detail.insert("value".into(), value.clone());
    }
    detail.insert("issue".into(), json!(issue));
    Reply::json(
        400,
        &json!({
            "code": "PARAM_ERROR",
            "message": format!("输入源“{source}”映射到值字段“{title}”{rule} ({issue})"),
            "detail": detail,
        }),
    )
}

/// The rule a problem breaks, in WeChat Pay's words.
fn rule(kind: &ProblemKind) -> &'static str {
    match kind {
        ProblemKind::Missing | ProblemKind::MissingOneOf(_) => "必填性规则校验失败，此字段为必填项",
        ProblemKind::WrongType { .. } | ProblemKind::NotJson(_) => "类型规则校验失败",
        ProblemKind::NotInEnum { .. } => "枚举值规则校验失败",
        _ => "规则校验失败",
    }
}

/// The schema at a JSON Pointer of a value of `schema`.
fn schema_at<'s>(schema: &'s Schema, pointer: &str) -> Option<&'s Schema> {
    pointer
        .split('/')
        .skip(1)
        .try_fold(schema, |schema, token| match schema.kind {
            Kind::Array => schema.items.as_deref(),
            _ => schema
                .properties
                .get(token)
                .or_else(|| schema.json.as_deref()?.properties.get(token)),
        })
}

fn body_problem(operation: &Operation, body: &Value, problem: &Problem) -> Reply {
    let schema = operation.body.as_ref();
    let title = schema
        .and_then(|s| schema_at(s, &problem.pointer))
        .and_then(|s| s.title.as_deref());
    let value = body.pointer(&problem.pointer).filter(|v| !v.is_null());
    let field = if problem.pointer.is_empty() {
        "/"
    } else {
        &problem.pointer
    };
    let issue = problem.to_string();
    let issue = issue
        .strip_prefix(&format!("{field}: "))
        .unwrap_or(&issue)
        .to_owned();
    param_error(field, "body", title, value, rule(&problem.kind), issue)
}

/// A parameter's text checked against its schema: the issue, if any.
fn parameter_issue(schema: &Schema, text: &str) -> Option<String> {
    let fits = match schema.kind {
        Kind::Integer => text.parse::<i64>().is_ok(),
        Kind::Number => text.parse::<f64>().is_ok(),
        Kind::Boolean => matches!(text, "true" | "false"),
        _ => true,
    };
    if !fits {
        return Some(format!("{text:?} is not {}", schema.type_name()));
    }
    if text.is_empty() {
        return Some("an empty value".to_owned());
    }
    let allowed = &schema.enumeration;
    let in_enum = allowed.is_empty()
        || allowed.iter().any(|v| match v {
            Value::String(s) => s == text,
            Value::Number(n) => text.parse::<f64>().ok() == n.as_f64(),
            Value::Bool(b) => text == if *b { "true" } else { "false" },
            _ => false,
        });
    (!in_enum).then(|| {
        let allowed: Vec<String> = allowed.iter().map(Value::to_string).collect();
        format!("{text:?} is not one of {}", allowed.join(", "))
    })
}

/// The decoded query parameters.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(k)?, decode(&v.replace('+', " "))?))
        })
        .collect()
}

/// Checks a request to `found` as WeChat Pay would; the 400 that names what is wrong.
pub(crate) fn validate(state: &State, found: &Found, request: &Request<'_>) -> Result<(), Reply> {
    let operation = found.operation;
    let parameter = |location: Location, name: &str| {
        operation
            .parameters_in(location)
            .find(|p| p.name.eq_ignore_ascii_case(name))
    };
    for (name, value) in &found.path_values {
        if let Some(p) = parameter(Location::Path, name) {
            if let Some(issue) = parameter_issue(&p.schema, value) {
                return Err(param_error(
                    name,
                    "path",
                    p.schema.title.as_deref(),
                    Some(&json!(value)),
                    "格式规则校验失败",
                    issue,
                ));
            }
        }
    }
    let query = query_pairs(request.query);
    for p in operation.parameters_in(Location::Query) {
        let given = query.iter().find(|(k, _)| *k == p.name).map(|(_, v)| v);
        match given {
            None if p.required => {
                return Err(param_error(
                    &p.name,
                    "query",
                    p.schema.title.as_deref(),
                    None,
                    rule(&ProblemKind::Missing),
                    "a required parameter is missing".to_owned(),
                ));
            }
            Some(text) => {
                if let Some(issue) = parameter_issue(&p.schema, text) {
                    return Err(param_error(
                        &p.name,
                        "query",
                        p.schema.title.as_deref(),
                        Some(&json!(text)),
                        "格式规则校验失败",
                        issue,
                    ));
                }
            }
            None => {}
        }
    }
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    // `Wechatpay-Serial` is required when the body carries an encrypted field (below), as
    // WeChat Pay requires it, whatever the description's flag.
    for p in operation.parameters_in(Location::Header) {
        let serial = p.name.eq_ignore_ascii_case("Wechatpay-Serial");
        if p.required && !serial && header(&p.name).is_none() {
            return Err(param_error(
                &p.name,
                "header",
                p.schema.title.as_deref(),
                None,
                rule(&ProblemKind::Missing),
                format!("the {} header is missing", p.name),
            ));
        }
    }
    let serial = header("Wechatpay-Serial");
    let decryption_key = match serial {
        Some(serial) => Some(state.decryption_key(serial).ok_or_else(|| {
            param_error(
                "Wechatpay-Serial",
                "header",
                None,
                Some(&json!(serial)),
                "无效",
                format!("{serial} names no platform certificate or public key of this merchant"),
            )
        })?),
        None => None,
    };
    match operation.body_kind {
        BodyKind::Json => {
            let body = parse_json(request.body)?;
            if let Some(problem) = operation.check_body(&body).first() {
                return Err(body_problem(operation, &body, problem));
            }
            check_encrypted(operation, &body, decryption_key.as_ref())
        }
        BodyKind::Multipart => check_multipart(request),
        _ => Ok(()),
    }
}

/// The body as JSON, or the 400 WeChat Pay answers a body that is not.
fn parse_json(body: &[u8]) -> Result<Value, Reply> {
    let text = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(text).map_err(|e| {
        param_error(
            "/",
            "body",
            Some("请求体"),
            None,
            "格式规则校验失败，不是合法的JSON",
            format!("the body is not JSON: {e}"),
        )
    })
}

/// Every value at a JSON Pointer whose `*` stands for any array index.
fn values_at<'v>(value: &'v Value, pointer: &str) -> Vec<(String, &'v Value)> {
    let mut found = vec![(String::new(), value)];
    for token in pointer.split('/').skip(1) {
        found = found
            .into_iter()
            .flat_map(|(at, v)| -> Vec<(String, &Value)> {
                match (token, v) {
                    ("*", Value::Array(items)) => items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| (format!("{at}/{i}"), item))
                        .collect(),
                    (key, Value::Object(map)) => map
                        .get(key)
                        .map(|item| vec![(format!("{at}/{key}"), item)])
                        .unwrap_or_default(),
                    _ => Vec::new(),
                }
            })
            .collect();
    }
    found
}

/// The encrypted fields decrypt with the key `Wechatpay-Serial` names (RSA-OAEP), as WeChat
/// Pay decrypts them.
fn check_encrypted(
    operation: &Operation,
    body: &Value,
    key: Option<&PKey<Private>>,
) -> Result<(), Reply> {
    for pointer in &operation.encrypted {
        for (at, value) in values_at(body, pointer) {
            let Some(text) = value.as_str().filter(|t| !t.is_empty()) else {
                continue;
            };
            let title = operation
                .body
                .as_ref()
                .and_then(|s| schema_at(s, &at))
                .and_then(|s| s.title.as_deref());
            let Some(key) = key else {
                return Err(param_error(
                    "Wechatpay-Serial",
                    "header",
                    None,
                    None,
                    rule(&ProblemKind::Missing),
                    format!("{at} is encrypted: the Wechatpay-Serial header must name its key"),
                ));
            };
            if !decrypts(key, text) {
                return Err(param_error(
                    &at,
                    "body",
                    title,
                    Some(value),
                    "解密失败",
                    "does not decrypt (RSA-OAEP with the key Wechatpay-Serial names)".to_owned(),
                ));
            }
        }
    }
    Ok(())
}

fn decrypts(key: &PKey<Private>, text: &str) -> bool {
    let Ok(ciphertext) = openssl::base64::decode_block(text) else {
        return false;
    };
    let Ok(rsa) = key.rsa() else {
        return false;
    };
    let mut plain = vec![0u8; rsa.size() as usize];
    rsa.private_decrypt(&ciphertext, &mut plain, Padding::PKCS1_OAEP)
        .is_ok()
}

/// A media upload has a JSON `meta` part and a `file` part.
fn check_multipart(request: &Request<'_>) -> Result<(), Reply> {
    let content_type = request
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let missing = |name: &str| {
        param_error(
            name,
            "body",
            None,
            None,
            rule(&ProblemKind::Missing),
            format!("the multipart body has no `{name}` part"),
        )
    };
    let parts = multipart::parse(content_type, request.body)
        .map_err(|e| param_error("/", "body", None, None, "格式规则校验失败", e))?;
    let meta = parts
        .iter()
        .find(|p| p.name == "meta")
        .ok_or_else(|| missing("meta"))?;
    if !parts.iter().any(|p| p.name == "file") {
        return Err(missing("file"));
    }
    parse_json(meta.data).map(drop)
}

/// The downloads WeChat Pay does not sign (whatever the description says of their answer):
/// their paths, and the prefixes of the image downloads (`<prefix><media id>`; `<prefix>upload`
/// is an upload, signed).
const UNSIGNED: [&str; 5] = [
    "/v3/billdownload/file",
    "/v3/new-tax-control-fapiao/download",
    "/v3/transferdownload/elecvoucherfile",
    "/v3/transferdownload/signfile",
    "/v3/statements",
];
const UNSIGNED_IMAGES: [&str; 2] = [
    "/v3/merchant-service/images/",
    "/v3/global/merchant-service/images/",
];
/// The overseas statement: signed over `{"sha1":"<Wechatpay-Statement-Sha1>"}`.
const GLOBAL_STATEMENTS: &str = "/v3/global/statements";

fn is_unsigned(operation: &Operation, path: &str) -> bool {
    operation.unsigned
        || operation.answer.kind == AnswerKind::Download
        || UNSIGNED.contains(&path)
        || UNSIGNED_IMAGES
            .iter()
            .any(|prefix| path.strip_prefix(prefix).is_some_and(|id| id != "upload"))
}

/// The answer to a valid request to an operation the sandbox keeps no state for: the
/// documented status, the example answer with the request's identifiers echoed.
pub(crate) fn answer(state: &State, found: &Found, request: &Request<'_>) -> Reply {
    let operation = found.operation;
    let status = operation.answer.status;
    let file = || format!("wechatpay-sandbox,{}\n", operation.title).into_bytes();
    if request.path == GLOBAL_STATEMENTS {
        let body = file();
        let sha1 = crate::util::sha1_hex(&body).unwrap_or_default();
        let mut reply = Reply::unsigned(status, "text/csv", body);
        reply.signed = true;
        reply.sign_over = Some(format!(r#"{{"sha1":"{sha1}"}}"#).into_bytes());
        reply.headers.push(("wechatpay-statement-sha1", sha1));
        return reply;
    }
    if is_unsigned(operation, request.path) {
        let content_type = if request.path.contains("/images/") {
            "image/png"
        } else {
            "application/octet-stream"
        };
        return Reply::unsigned(status, content_type, file());
    }
    match operation.answer.kind {
        // A 204 carries nothing, whatever schema the description gives it.
        _ if status == 204 => Reply::no_content(),
        AnswerKind::Json => {
            let Some(example) = operation.example_answer() else {
                return Reply::json(status, &json!({}));
            };
            let values = request_values(state, found, request);
            let mut echoed = example.clone();
            echo(&mut echoed, &values);
            // An echo that breaks the schema (a value outside an enum) is not sent.
            if operation.check_answer(&echoed).is_empty() {
                Reply::json(status, &echoed)
            } else {
                Reply::json(status, &example)
            }
        }
        _ => Reply::no_content_with(status),
    }
}

/// The scalar values the request gives, by field name: path placeholders, query parameters,
/// then the body's fields (the shallowest first); and the merchant id.
fn request_values(state: &State, found: &Found, request: &Request<'_>) -> Map<String, Value> {
    let mut values = Map::new();
    for (name, value) in &found.path_values {
        values.insert(name.clone(), json!(value));
    }
    for (name, value) in query_pairs(request.query) {
        values.entry(name).or_insert(json!(value));
    }
    if found.operation.body_kind == BodyKind::Json {
        if let Ok(body) = serde_json::from_slice::<Value>(request.body) {
            let mut level = vec![&body];
            while !level.is_empty() {
                let mut next = Vec::new();
                for value in level {
                    match value {
                        Value::Object(map) => {
                            for (k, v) in map {
                                if v.is_object() || v.is_array() {
                                    next.push(v);
                                } else if !v.is_null() {
                                    values.entry(k.clone()).or_insert(v.clone());
                                }
                            }
                        }
                        Value::Array(items) => next.extend(items),
                        _ => {}
                    }
                }
                level = next;
            }
        }
    }
    values
        .entry("mchid")
        .or_insert(json!(state.keys.mchid.clone()));
    values
}

/// Replaces, anywhere in `answer`, a scalar field named like a request value by that value
/// (of the same JSON type).
fn echo(answer: &mut Value, values: &Map<String, Value>) {
    match answer {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match values.get(k) {
                    Some(given) if same_type(v, given) => *v = given.clone(),
                    _ => echo(v, values),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| echo(v, values)),
        _ => {}
    }
}

fn same_type(a: &Value, b: &Value) -> bool {
    matches!(
        (a, b),
        (Value::String(_), Value::String(_))
            | (Value::Number(_), Value::Number(_))
            | (Value::Bool(_), Value::Bool(_))
    )
}
