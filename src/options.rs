//! [`Options`]: the per-request settings and template variables.

use std::borrow::Cow;
use std::fmt::{self, Display};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{looks_like_a_name, shown};
use crate::media::Media;
use crate::redact::DebugUrl;
use crate::template::encode_component;

/// Headers the client owns: the signature and the framing.
const MANAGED_HEADERS: [&str; 4] = [
    "authorization",
    "content-length",
    "host",
    "transfer-encoding",
];

/// The keys of a JSON options object that are settings rather than (only) template variables.
pub const RESERVED_KEYS: [&str; 10] = [
    "base_uri",
    "json",
    "query",
    "headers",
    "body",
    "timeout",
    "encrypt",
    "xml",
    "nonceless",
    "security",
];

/// The per-request options: template variables, body, query, headers, base URI, timeout.
///
/// Two ways to build them, with the same result:
///
/// - PHP style, from a `serde_json::Value` object. Every key is a template variable; the
///   reserved keys also configure the request: `base_uri` (string), `json` (any JSON: the body),
///   `body` (string: a raw body), `query` (object, or a pre-encoded string), `headers` (object of
///   strings), `timeout` (seconds, a number), `encrypt` (array of JSON Pointers); for APIv2
///   (`v2/...` paths) `xml` (object of strings and numbers: the signed payload), `nonceless`
///   (boolean) and `security` (boolean: mutual TLS).
/// - Rust style, with the builder methods.
///
/// A reserved key of the wrong type is reported as a [`Config`](crate::ErrorKind::Config) error
/// naming the key when the request is made; nothing is sent.
///
/// ```
/// use serde_json::json;
/// use wechatpay::Options;
///
/// let php_style: Options = json!({
///     "complaint_id": "200201820200101080076610000",
///     "json": { "complainted_mchid": "1900012181", "response_content": "已与用户沟通解决" },
/// })
/// .into();
///
/// let rust_style = Options::new()
///     .var("complaint_id", "200201820200101080076610000")
///     .json(&json!({ "complainted_mchid": "1900012181", "response_content": "已与用户沟通解决" }));
/// # let _ = (php_style, rust_style);
/// ```
#[derive(Clone, Default)]
pub struct Options {
    pub(crate) vars: Map<String, Value>,
    pub(crate) base_uri: Option<String>,
    pub(crate) body: Body,
    pub(crate) query: Option<String>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) timeout: Option<Duration>,
    /// JSON Pointers (RFC 6901) into the `json` body of strings to encrypt.
    pub(crate) encrypt: Vec<String>,
    /// APIv2: the payload fields (strings and numbers), signed and sent as XML (or as the query
    /// of a GET).
    pub(crate) xml: Option<Map<String, Value>>,
    /// APIv2: do not add `nonce_str`.
    pub(crate) nonceless: bool,
    /// APIv2: send over mutual TLS with the merchant certificate.
    pub(crate) security: bool,
    /// The first problem found while building; reported when the request is made.
    pub(crate) problem: Option<String>,
}

#[derive(Clone, Default)]
pub(crate) enum Body {
    #[default]
    None,
    /// Serialised JSON.
    Json(Bytes),
    /// Raw bytes, sent as they are.
    Raw(Bytes),
    /// A media upload: multipart, signed over the meta.
    Multipart(Media),
}

impl Options {
    /// Empty options: no variables, no body.
    pub fn new() -> Options {
        Options::default()
    }

    fn fail(&mut self, problem: impl FnOnce() -> String) {
        if self.problem.is_none() {
            self.problem = Some(problem());
        }
    }

    /// Sets a template variable (a string, number, boolean, array or object). The reserved
    /// keys ([`RESERVED_KEYS`]) are refused here: set them with the method of the same name.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<Value>) -> Options {
        let name = name.into();
        if RESERVED_KEYS.contains(&name.as_str()) {
            self.fail(|| {
                format!(
                    "`{name}` is a reserved option key, not a variable: use Options::{name}(..)"
                )
            });
        } else {
            self.vars.insert(name, value.into());
        }
        self
    }

    /// Serialises `body` as the JSON request body.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Options {
        if !matches!(self.body, Body::None) {
            self.fail(|| "options `json` and `body` are mutually exclusive".to_owned());
        }
        match serde_json::to_vec(body) {
            Ok(bytes) => self.body = Body::Json(bytes.into()),
            Err(e) => self.fail(|| format!("option `json` cannot be serialised: {e}")),
        }
        self
    }

    /// A raw request body, sent byte for byte (with `Content-Type: application/json` unless a
    /// header says otherwise).
    pub fn body(mut self, body: impl Into<Bytes>) -> Options {
        if !matches!(self.body, Body::None) {
            self.fail(|| "options `json` and `body` are mutually exclusive".to_owned());
        }
        self.body = Body::Raw(body.into());
        self
    }

    /// Sensitive fields: each JSON Pointer (RFC 6901, such as `/payer/id_card_number`) names a
    /// string in the `json` body that is sent OAEP-encrypted under the preferred platform key,
    /// with `Wechatpay-Serial` set to that key's id. A pointer that matches nothing, or a value
    /// that is not a string, is a [`Config`](crate::ErrorKind::Config) error naming the pointer.
    pub fn encrypt<I, S>(mut self, pointers: I) -> Options
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.encrypt.extend(pointers.into_iter().map(Into::into));
        self
    }

    /// A media upload: the body becomes `multipart/form-data` with the `meta` and `file` parts,
    /// and the signature covers the meta JSON (see [`Media`]).
    pub fn multipart(mut self, media: Media) -> Options {
        if !matches!(self.body, Body::None) {
            self.fail(|| {
                "options `json`, `body` and `multipart` are mutually exclusive".to_owned()
            });
        }
        self.body = Body::Multipart(media);
        self
    }

    /// APIv2: the payload (an object whose values are strings or numbers). `nonce_str` and
    /// `sign` are added; it is sent as the XML body, or as the query of a `GET`.
    ///
    /// ```
    /// use serde_json::json;
    /// let options = wechatpay::Options::new()
    ///     .xml(&json!({ "appid": "wxd678efh567hg6787", "mch_id": "1900000000", "out_trade_no": "1217752501201407033233368018" }));
    /// # let _ = options;
    /// ```
    pub fn xml<T: Serialize + ?Sized>(mut self, payload: &T) -> Options {
        match serde_json::to_value(payload) {
            Ok(Value::Object(map)) => self.xml = Some(map),
            Ok(other) => self.fail(|| wrong_type("xml", "an object", &other)),
            Err(e) => self.fail(|| format!("option `xml` cannot be serialised: {e}")),
        }
        self
    }

    /// APIv2: do not add `nonce_str` (for the few endpoints that refuse it).
    pub fn nonceless(mut self) -> Options {
        self.nonceless = true;
        self
    }

    /// APIv2: send this request over mutual TLS with the merchant certificate (refunds,
    /// `secapi/*`, transfers, red packets). Without a configured certificate the request is a
    /// [`Config`](crate::ErrorKind::Config) error and nothing is sent.
    pub fn security(mut self) -> Options {
        self.security = true;
        self
    }

    /// Appends `key=value` to the query, both percent-encoded (all but `A-Za-z0-9-._~`).
    pub fn query(mut self, key: &str, value: impl Display) -> Options {
        let value = value.to_string();
        push_pair(self.query.get_or_insert_with(String::new), key, &value);
        self
    }

    /// Appends an already encoded query string (without `?`), used exactly as given.
    pub fn raw_query(mut self, query: &str) -> Options {
        match check_raw_query(query) {
            Ok(()) => {
                let q = self.query.get_or_insert_with(String::new);
                if !q.is_empty() && !query.is_empty() {
                    q.push('&');
                }
                q.push_str(query);
            }
            Err(p) => self.fail(|| p),
        }
        self
    }

    /// Adds a request header. `Authorization`, `Host`, `Content-Length` and
    /// `Transfer-Encoding` belong to the client and are refused.
    pub fn header(mut self, name: &str, value: &str) -> Options {
        match parse_header(name, value) {
            Ok(pair) => self.headers.push(pair),
            Err(p) => self.fail(|| p),
        }
        self
    }

    /// Sends this request to another base URI (for example `https://apihk.mch.weixin.qq.com/`).
    pub fn base_uri(mut self, base_uri: impl Into<String>) -> Options {
        self.base_uri = Some(base_uri.into());
        self
    }

    /// A timeout for this request (the whole exchange).
    pub fn timeout(mut self, timeout: Duration) -> Options {
        self.timeout = Some(timeout);
        self
    }

    /// The template variables.
    pub fn vars(&self) -> &Map<String, Value> {
        &self.vars
    }

    fn from_map(vars: Map<String, Value>) -> Options {
        let mut o = Options::default();
        let reserved = Reserved::find(&vars);
        if let Some(v) = reserved.base_uri {
            match v {
                Value::String(s) => o.base_uri = Some(s.clone()),
                other => o.fail(|| wrong_type("base_uri", "a string", other)),
            }
        }
        let json = reserved.json;
        let has_json = json.is_some();
        if let Some(v) = json {
            match serde_json::to_vec(v) {
                Ok(bytes) => o.body = Body::Json(bytes.into()),
                Err(e) => o.fail(|| format!("option `json` cannot be serialised: {e}")),
            }
        }
        if let Some(v) = reserved.body {
            match v {
                _ if has_json => {
                    o.fail(|| "options `json` and `body` are mutually exclusive".to_owned())
                }
                Value::String(s) => o.body = Body::Raw(Bytes::copy_from_slice(s.as_bytes())),
                other => o.fail(|| wrong_type("body", "a string", other)),
            }
        }
        if let Some(v) = reserved.query {
            match v {
                Value::Object(pairs) => match encode_query(pairs) {
                    Ok(q) => o.query = Some(q),
                    Err(p) => o.fail(|| p),
                },
                Value::String(s) => o = o.raw_query(s),
                other => o.fail(|| wrong_type("query", "an object or a string", other)),
            }
        }
        if let Some(v) = reserved.headers {
            match v {
                Value::Object(headers) => {
                    for (name, value) in headers {
                        match value {
                            Value::String(s) => match parse_header(name, s) {
                                Ok(pair) => o.headers.push(pair),
                                Err(p) => o.fail(|| p),
                            },
                            other => o.fail(|| {
                                wrong_type(&format!("headers.{}", name_of(name)), "a string", other)
                            }),
                        }
                    }
                }
                other => o.fail(|| wrong_type("headers", "an object of strings", other)),
            }
        }
        if let Some(v) = reserved.encrypt {
            let pointers = v.as_array().and_then(|items| {
                items
                    .iter()
                    .map(|i| i.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            });
            match pointers {
                Some(p) => o.encrypt = p,
                None => o.fail(|| wrong_type("encrypt", "an array of JSON Pointer strings", v)),
            }
        }
        if let Some(v) = reserved.xml {
            match v {
                Value::Object(map) => o.xml = Some(map.clone()),
                other => o.fail(|| wrong_type("xml", "an object", other)),
            }
        }
        for (key, value, flag) in [
            ("nonceless", reserved.nonceless, &mut o.nonceless),
            ("security", reserved.security, &mut o.security),
        ] {
            match value {
                None => {}
                Some(Value::Bool(b)) => *flag = *b,
                Some(other) => {
                    let problem = wrong_type(key, "a boolean", other);
                    if o.problem.is_none() {
                        o.problem = Some(problem);
                    }
                }
            }
        }
        if let Some(v) = reserved.timeout {
            match v.as_f64().and_then(|s| Duration::try_from_secs_f64(s).ok()) {
                Some(d) if !d.is_zero() => o.timeout = Some(d),
                _ => o.fail(|| wrong_type("timeout", "a positive number of seconds", v)),
            }
        }
        o.vars = vars;
        o
    }
}

/// The values of the reserved keys present (and not `null`) in an options object, found in
/// one pass over its entries rather than by one hashed lookup per reserved key.
#[derive(Default)]
struct Reserved<'a> {
    base_uri: Option<&'a Value>,
    json: Option<&'a Value>,
    query: Option<&'a Value>,
    headers: Option<&'a Value>,
    body: Option<&'a Value>,
    timeout: Option<&'a Value>,
    encrypt: Option<&'a Value>,
    xml: Option<&'a Value>,
    nonceless: Option<&'a Value>,
    security: Option<&'a Value>,
}

impl<'a> Reserved<'a> {
    fn find(vars: &'a Map<String, Value>) -> Reserved<'a> {
        let mut found = Reserved::default();
        for (key, value) in vars.iter().filter(|(_, v)| !v.is_null()) {
            let slot = match key.as_str() {
                "base_uri" => &mut found.base_uri,
                "json" => &mut found.json,
                "query" => &mut found.query,
                "headers" => &mut found.headers,
                "body" => &mut found.body,
                "timeout" => &mut found.timeout,
                "encrypt" => &mut found.encrypt,
                "xml" => &mut found.xml,
                "nonceless" => &mut found.nonceless,
                "security" => &mut found.security,
                _ => continue,
            };
            *slot = Some(value);
        }
        found
    }
}

impl From<Value> for Options {
    /// PHP-style options; see [`Options`]. `null` means no options.
    fn from(value: Value) -> Options {
        match value {
            Value::Object(map) => Options::from_map(map),
            Value::Null => Options::default(),
            other => {
                let mut o = Options::default();
                o.fail(|| format!("options must be a JSON object, found {}", describe(&other)));
                o
            }
        }
    }
}

impl From<&Value> for Options {
    fn from(value: &Value) -> Options {
        Options::from(value.clone())
    }
}

impl From<Map<String, Value>> for Options {
    fn from(map: Map<String, Value>) -> Options {
        Options::from_map(map)
    }
}

impl From<()> for Options {
    /// No options.
    fn from((): ()) -> Options {
        Options::default()
    }
}

impl fmt::Debug for Options {
    /// Names the variables and settings without printing values, which may be personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = match &self.body {
            Body::None => "none".to_owned(),
            Body::Json(b) => format!("json ({} bytes)", b.len()),
            Body::Raw(b) => format!("raw ({} bytes)", b.len()),
            Body::Multipart(m) => format!(
                "multipart ({} bytes of {})",
                m.data().len(),
                m.content_type()
            ),
        };
        f.debug_struct("Options")
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("base_uri", &self.base_uri.as_deref().map(DebugUrl))
            .field("body", &body)
            .field("query", &self.query.as_ref().map(|q| q.len()))
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .field("encrypt", &self.encrypt)
            .field(
                "xml",
                &self.xml.as_ref().map(|m| m.keys().collect::<Vec<_>>()),
            )
            .field("nonceless", &self.nonceless)
            .field("security", &self.security)
            .field("problem", &self.problem)
            .finish()
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(key: &str, expected: &str, found: &Value) -> String {
    format!(
        "option `{key}` must be {expected}, found {}",
        describe(found)
    )
}

/// A caller's name (a header name, a query key) in an option's path: as it is when it
/// [looks like one](looks_like_a_name), else by its length, in case a secret was put there.
fn name_of(name: &str) -> Cow<'_, str> {
    if looks_like_a_name(name) {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(format!(
            "(a name of {} characters, not shown)",
            name.chars().count()
        ))
    }
}

fn push_pair(q: &mut String, key: &str, value: &str) {
    if !q.is_empty() {
        q.push('&');
    }
    encode_component(q, key);
    q.push('=');
    encode_component(q, value);
}

/// The text of a string, number or boolean (a string borrowed, not copied).
fn scalar(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// Encodes a query object: scalars as `k=v`, arrays as repeated `k=v1&k=v2`, nulls skipped.
fn encode_query(pairs: &Map<String, Value>) -> Result<String, String> {
    // Room for a typical query (`mchid=...&sub_mchid=...`) without growing.
    let mut q = String::with_capacity(64);
    for (key, value) in pairs {
        match value {
            Value::Null => {}
            Value::Array(items) => {
                for item in items {
                    let s = scalar(item).ok_or_else(|| {
                        wrong_type(
                            &format!("query.{}[]", name_of(key)),
                            "a string, number or boolean",
                            item,
                        )
                    })?;
                    push_pair(&mut q, key, &s);
                }
            }
            other => {
                let s = scalar(other).ok_or_else(|| {
                    wrong_type(
                        &format!("query.{}", name_of(key)),
                        "a string, number, boolean or array of them",
                        other,
                    )
                })?;
                push_pair(&mut q, key, &s);
            }
        }
    }
    Ok(q)
}

/// A pre-encoded query must already be in its wire form: visible ASCII without `#`.
fn check_raw_query(query: &str) -> Result<(), String> {
    match query
        .bytes()
        .position(|b| !(0x21..0x7f).contains(&b) || b == b'#')
    {
        None => Ok(()),
        Some(i) => Err(format!(
            "option `query` is a pre-encoded string, but byte {i} must be percent-encoded first"
        )),
    }
}

fn parse_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        format!(
            "option `headers`: {} is not a valid header name",
            shown(name)
        )
    })?;
    if MANAGED_HEADERS.contains(&header.as_str()) {
        return Err(format!(
            "option `headers`: `{name}` is set by the client and cannot be overridden"
        ));
    }
    let value = HeaderValue::from_str(value)
        .map_err(|_| format!("option `headers`: the value of `{name}` must be visible ASCII"))?;
    Ok((header, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_objects_encode_everything_but_unreserved() {
        let o = Options::from(
            json!({ "query": { "a b": "x/y?z", "n": 10, "t": true, "list": [1, "é"], "skip": null } }),
        );
        assert_eq!(o.problem, None);
        assert_eq!(
            o.query.as_deref(),
            Some("a%20b=x%2Fy%3Fz&n=10&t=true&list=1&list=%C3%A9")
        );
    }

    #[test]
    fn typed_query_appends() {
        let o = Options::new()
            .query("limit", 10)
            .raw_query("offset=0")
            .query("k", "a&b");
        assert_eq!(o.query.as_deref(), Some("limit=10&offset=0&k=a%26b"));
    }

    #[test]
    fn wrong_types_name_the_key() {
        let cases = [
            (
                json!({ "base_uri": 1 }),
                "option `base_uri` must be a string, found a number",
            ),
            (
                json!({ "body": {} }),
                "option `body` must be a string, found an object",
            ),
            (
                json!({ "query": 5 }),
                "option `query` must be an object or a string, found a number",
            ),
            (
                json!({ "query": { "k": {} } }),
                "option `query.k` must be a string, number, boolean or array of them, found an object",
            ),
            (
                json!({ "headers": [] }),
                "option `headers` must be an object of strings, found an array",
            ),
            (
                json!({ "headers": { "X-A": 1 } }),
                "option `headers.X-A` must be a string, found a number",
            ),
            (
                json!({ "timeout": "5" }),
                "option `timeout` must be a positive number of seconds, found a string",
            ),
            (
                json!({ "timeout": -1 }),
                "option `timeout` must be a positive number of seconds, found a number",
            ),
            (
                json!({ "json": {}, "body": "{}" }),
                "options `json` and `body` are mutually exclusive",
            ),
            (
                json!({ "headers": { "Authorization": "x" } }),
                "option `headers`: `Authorization` is set by the client and cannot be overridden",
            ),
            (
                json!({ "headers": { "bad name": "x" } }),
                "option `headers`: (a value of 8 characters, not shown) is not a valid header name",
            ),
            (
                json!({ "query": "a=b c" }),
                "option `query` is a pre-encoded string, but byte 3 must be percent-encoded first",
            ),
            (
                json!([1, 2]),
                "options must be a JSON object, found an array",
            ),
            (json!("v3"), "options must be a JSON object, found a string"),
        ];
        for (value, expected) in cases {
            let o = Options::from(value.clone());
            assert_eq!(o.problem.as_deref(), Some(expected), "for {value}");
        }
    }

    #[test]
    fn every_key_stays_a_variable() {
        let o = Options::from(json!({ "complaint_id": "1", "json": { "a": 1 }, "timeout": 1.5 }));
        assert_eq!(o.problem, None);
        assert_eq!(o.vars.len(), 3);
        assert!(matches!(&o.body, Body::Json(b) if b.as_ref() == br#"{"a":1}"#));
        assert_eq!(o.timeout, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn reserved_keys_are_not_variables_in_the_builder() {
        let o = Options::new().var("json", json!({ "a": 1 }));
        assert_eq!(
            o.problem.as_deref(),
            Some("`json` is a reserved option key, not a variable: use Options::json(..)")
        );
        assert!(matches!(o.body, Body::None));
    }

    #[test]
    fn debug_hides_values() {
        let o = Options::from(json!({ "name": "张三", "json": { "id_card": "1101" } }));
        let s = format!("{o:?}");
        assert!(!s.contains("张三") && !s.contains("1101"), "{s}");
        assert!(s.contains("\"name\""));
    }

    #[test]
    fn every_reserved_key_is_found_in_one_pass() {
        // The slots in the order of RESERVED_KEYS.
        fn slots<'a>(r: &Reserved<'a>) -> [Option<&'a Value>; 10] {
            [
                r.base_uri,
                r.json,
                r.query,
                r.headers,
                r.body,
                r.timeout,
                r.encrypt,
                r.xml,
                r.nonceless,
                r.security,
            ]
        }
        for (i, key) in RESERVED_KEYS.iter().enumerate() {
            let Value::Object(map) = json!({ "complaint_id": "1", *key: true }) else {
                unreachable!()
            };
            let found = slots(&Reserved::find(&map));
            for (j, slot) in found.iter().enumerate() {
                assert_eq!(slot.is_some(), i == j, "{key}: slot {j}");
            }
        }
        // `null` is the same as absent.
        let Value::Object(map) = json!({ "json": null, "timeout": null }) else {
            unreachable!()
        };
        assert!(slots(&Reserved::find(&map)).iter().all(Option::is_none));
        let o = Options::from(json!({ "json": null, "nonceless": null, "x": 1 }));
        assert_eq!(o.problem, None);
        assert!(matches!(o.body, Body::None));
    }

    #[test]
    fn the_first_problem_follows_the_reserved_key_order_not_the_object_order() {
        let o = Options::from(json!({ "timeout": "5", "body": 1 }));
        assert_eq!(
            o.problem.as_deref(),
            Some("option `body` must be a string, found a number")
        );
    }
}
