//! Template + options -> the exact URL, headers and body to sign and send.

use std::borrow::Cow;
use std::sync::LazyLock;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::{Map, Value};

use super::prepare_v2;
use super::url::build_url_from;
use crate::base_uri::BaseUri;
use crate::context::{Context, PreferredKey, V3};
use crate::error::{Error, Result};
use crate::options::{Body, Options};
use crate::prepared::{PreparedRequest, Protocol};
use crate::template::{TemplateError, UriTemplate};

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Builds the request for `template` expanded over `options`: the target, then the options
/// checked against the API it belongs to, then the APIv2 or APIv3 request.
pub(crate) fn prepare(
    ctx: &Context,
    template: &UriTemplate,
    method: Method,
    options: Options,
) -> Result<PreparedRequest> {
    if let Some(problem) = &options.problem {
        return Err(Error::config(problem.clone()));
    }
    let expanded = template
        .expand_strict(&options.vars)
        .map_err(Error::from_template)?;
    let target = Target::of(&expanded, template, &options.vars)?;
    let base = match &options.base_uri {
        Some(b) => Cow::Owned(
            BaseUri::parse(b, ctx.allow_insecure_http)
                .map_err(|reason| Error::config(format!("option `base_uri`: {reason}")))?,
        ),
        None => Cow::Borrowed(&ctx.base),
    };
    if target.v2 {
        return apiv2(ctx, &base, &target, method, options);
    }
    // Requests through the client's base share the template's literal prefix, whose URL the
    // base keeps; a per-request `base_uri` has no such cache.
    let prefix = match &base {
        Cow::Borrowed(_) => template.literal_prefix().trim_start_matches('/'),
        Cow::Owned(_) => "",
    };
    apiv3(ctx, &base, prefix, &target, method, options)
}

/// An APIv2 request: its payload is the `xml` option, signed; the options of APIv3 are refused.
fn apiv2(
    ctx: &Context,
    base: &BaseUri,
    target: &Target<'_>,
    method: Method,
    options: Options,
) -> Result<PreparedRequest> {
    let refused = [
        ("json", matches!(options.body, Body::Json(_))),
        ("body", matches!(options.body, Body::Raw(_))),
        ("multipart", matches!(options.body, Body::Multipart(_))),
        (
            "query",
            options.query.as_deref().is_some_and(|q| !q.is_empty()),
        ),
        ("encrypt", !options.encrypt.is_empty()),
    ];
    refuse(&refused, |name| {
        format!(
            "option `{name}` does not apply to APIv2 (`v2/...`) paths: the payload goes in \
             `xml`, which is signed"
        )
    })?;
    if target.query.is_some_and(|q| !q.is_empty()) {
        return Err(Error::config(format!(
            "`{}`: an APIv2 path carries no query of its own; its fields go in `xml`, which is \
             signed",
            target.relative
        )));
    }
    let request = prepare_v2::Request {
        method,
        path: target.path,
        xml: options.xml,
        nonceless: options.nonceless,
        security: options.security,
        headers: options.headers,
        timeout: options.timeout,
    };
    prepare_v2::prepare(ctx, base, request)
}

/// An APIv3 request, its URL `base` + `target` (`prefix`: the part of the target whose URL the
/// base may keep); the options of APIv2 are refused.
fn apiv3(
    ctx: &Context,
    base: &BaseUri,
    prefix: &str,
    target: &Target<'_>,
    method: Method,
    options: Options,
) -> Result<PreparedRequest> {
    let Options {
        body,
        query,
        headers,
        timeout,
        encrypt,
        xml,
        nonceless,
        security,
        ..
    } = options;
    let refused = [
        ("xml", xml.is_some()),
        ("nonceless", nonceless),
        ("security", security),
    ];
    refuse(&refused, |name| {
        format!("option `{name}` applies only to APIv2 (`v2/...`) paths")
    })?;
    let v3 = ctx.v3()?;
    let query = merged_query(target.query, query.as_deref());
    let url = build_url_from(base, prefix, target.path, query.as_deref())?;
    let parts = V3Parts {
        body,
        encrypt,
        headers,
    };
    let (headers, body, signed_body) = v3_headers_and_body(v3, parts)?;
    Ok(PreparedRequest {
        method,
        // The base path ends in `/`: the API path starts at that slash.
        api_offset: base.path().len() - 1,
        url,
        headers,
        body,
        signed_body,
        timeout,
        protocol: Protocol::V3,
    })
}

/// The first set option of `refused`, as the error `message` words it.
fn refuse(refused: &[(&str, bool)], message: impl Fn(&str) -> String) -> Result<()> {
    match refused.iter().find(|(_, set)| *set) {
        Some((name, _)) => Err(Error::config(message(name))),
        None => Ok(()),
    }
}

/// The expanded template, split into what the request needs.
struct Target<'e> {
    /// The expansion without its leading `/` (and without `v2/` for APIv2).
    relative: &'e str,
    /// An APIv2 path: it started with `v2/` (any case).
    v2: bool,
    path: &'e str,
    /// The template's own query, if any.
    query: Option<&'e str>,
}

impl<'e> Target<'e> {
    /// Refuses a fragment, and a `.` or `..` segment (URL normalisation would remove it),
    /// naming the variable that made it.
    fn of(
        expanded: &'e str,
        template: &UriTemplate,
        vars: &Map<String, Value>,
    ) -> Result<Target<'e>> {
        let relative = expanded.trim_start_matches('/');
        // After expansion, `v2/` (any case) routes to APIv2, with the prefix removed.
        let (relative, v2) = match relative.get(..3) {
            Some(p) if p.eq_ignore_ascii_case("v2/") => (&relative[3..], true),
            _ => (relative, false),
        };
        if relative.contains('#') {
            return Err(Error::from_template(TemplateError::Fragment {
                template: template.as_str().to_owned(),
            }));
        }
        let (path, query) = match relative.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (relative, None),
        };
        if let Some(segment) = segments(path).find(|s| is_dot_segment(s)) {
            return Err(Error::from_template(TemplateError::DotSegment {
                name: dot_variable(template, vars).map(str::to_owned),
                segment: String::from_utf8_lossy(segment).into_owned(),
            }));
        }
        Ok(Target {
            relative,
            v2,
            path,
            query,
        })
    }
}

/// The template's query and the `query` option's, joined; an empty query is no query (no bare
/// `?` on the wire).
fn merged_query<'q>(template: Option<&'q str>, option: Option<&'q str>) -> Option<Cow<'q, str>> {
    match (
        template.filter(|q| !q.is_empty()),
        option.filter(|q| !q.is_empty()),
    ) {
        (Some(t), Some(o)) => Some(Cow::Owned(format!("{t}&{o}"))),
        (Some(q), None) | (None, Some(q)) => Some(Cow::Borrowed(q)),
        (None, None) => None,
    }
}

/// The options that make an APIv3 request's headers and body.
struct V3Parts {
    body: Body,
    encrypt: Vec<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// The headers and body of an APIv3 request (and what its signature covers, when not the
/// body): sensitive fields encrypted under the preferred platform key, which `Wechatpay-Serial`
/// then names.
fn v3_headers_and_body(v3: &V3, parts: V3Parts) -> Result<(HeaderMap, Bytes, Option<Bytes>)> {
    let V3Parts {
        body,
        encrypt,
        headers: extra,
    } = parts;
    // The preferred platform key (a key-ring snapshot and a clock reading) only when used.
    let preferred = if v3.send_wechatpay_serial || !encrypt.is_empty() {
        v3.preferred()
    } else {
        None
    };
    let body = if encrypt.is_empty() {
        body
    } else {
        encrypt_fields(preferred.as_ref(), body, &encrypt)?
    };
    let (body, signed_body, content_type) = match body {
        Body::None => (Bytes::new(), None, None),
        Body::Json(bytes) | Body::Raw(bytes) => (bytes, None, Some(APPLICATION_JSON)),
        Body::Multipart(media) => {
            let boundary = crate::crypto::nonce()?;
            let content_type =
                HeaderValue::try_from(format!("multipart/form-data; boundary={boundary}"))
                    .map_err(|_| Error::config("multipart boundary is not a header value"))?;
            let meta = Bytes::copy_from_slice(media.meta());
            (
                media.multipart_body(&boundary),
                Some(meta),
                Some(content_type),
            )
        }
    };
    let content_type = content_type.filter(|_| !body.is_empty());
    let mut headers = first_headers(content_type);
    if let (true, Some(preferred)) = (v3.send_wechatpay_serial, &preferred) {
        headers.insert(crate::verifier::SERIAL, preferred.id.clone());
    }
    for (name, value) in extra {
        headers.insert(name, value);
    }
    if let (false, Some(preferred)) = (encrypt.is_empty(), &preferred) {
        // WeChat Pay decrypts with the key this names: it must be the one used.
        headers.insert(crate::verifier::SERIAL, preferred.id.clone());
    }
    Ok((headers, body, signed_body))
}

/// What every request starts with: `Accept` and this SDK's `User-Agent` (the client's, which is
/// always [`crate::USER_AGENT`]), then the same with `Content-Type: application/json`. Cloning
/// one of these takes 6-8 % less of a request's construction than inserting each header
/// (`issue8_full` in benches/core.rs, fastest batches, 7 December), although callgrind counts
/// only 0.6-2.8 % fewer instructions.
static COMMON_HEADERS: LazyLock<[HeaderMap; 2]> = LazyLock::new(|| {
    let mut plain = HeaderMap::with_capacity(6);
    plain.insert(ACCEPT, APPLICATION_JSON);
    plain.insert(USER_AGENT, HeaderValue::from_static(crate::USER_AGENT));
    let mut json = plain.clone();
    json.insert(CONTENT_TYPE, APPLICATION_JSON);
    [plain, json]
});

/// `Accept`, `User-Agent` and, for a body, `Content-Type`: a clone of [`COMMON_HEADERS`], with
/// any other content type (a multipart boundary) set on top.
fn first_headers(content_type: Option<HeaderValue>) -> HeaderMap {
    match content_type {
        None => COMMON_HEADERS[0].clone(),
        Some(json) if json == APPLICATION_JSON => COMMON_HEADERS[1].clone(),
        Some(other) => {
            let mut headers = COMMON_HEADERS[0].clone();
            headers.insert(CONTENT_TYPE, other);
            headers
        }
    }
}

/// The segments of a path, as bytes: a byte loop, where `str::split` would start a `memchr`
/// search for each (short) segment, several times slower here.
fn segments(path: &str) -> impl Iterator<Item = &[u8]> {
    path.as_bytes().split(|&b| b == b'/')
}

/// `.` and `..`, in any of the spellings URL parsers resolve (`%2e`, `.%2E`, ...).
fn is_dot_segment(segment: &[u8]) -> bool {
    segment.len() <= 6
        && [".", "..", "%2e", "%2e%2e", ".%2e", "%2e."]
            .iter()
            .any(|dot| segment.eq_ignore_ascii_case(dot.as_bytes()))
}

/// The path variable whose value makes a dot segment, to name it in the error.
fn dot_variable<'t>(template: &'t UriTemplate, vars: &Map<String, Value>) -> Option<&'t str> {
    let has_dot = |v: &Value| match v {
        Value::String(s) => segments(s).any(is_dot_segment),
        Value::Array(items) => items
            .iter()
            .any(|i| i.as_str().is_some_and(|s| segments(s).any(is_dot_segment))),
        Value::Object(map) => map
            .values()
            .any(|i| i.as_str().is_some_and(|s| segments(s).any(is_dot_segment))),
        _ => false,
    };
    template
        .variables()
        .filter(|(_, op)| !matches!(op, Some('?' | '&')))
        .find(|(name, _)| vars.get(*name).is_some_and(has_dot))
        .map(|(name, _)| name)
}

/// Replaces each string the pointers name in the JSON body by its OAEP ciphertext (base64)
/// under the preferred platform key.
fn encrypt_fields(
    preferred: Option<&PreferredKey>,
    body: Body,
    pointers: &[String],
) -> Result<Body> {
    let preferred = preferred.ok_or_else(|| {
        Error::config(
            "option `encrypt` needs a platform key to encrypt with: add one with \
             .platform_key(id, pem)",
        )
    })?;
    let Body::Json(bytes) = body else {
        return Err(Error::config("option `encrypt` needs a `json` body"));
    };
    let mut json: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::config(format!("option `json` is not JSON: {e}")))?;
    crate::json_pointer::map_strings(&mut json, pointers, "option `encrypt`", |plain| {
        preferred.key.encrypt_oaep_base64(plain)
    })?;
    serde_json::to_vec(&json)
        .map(|b| Body::Json(b.into()))
        .map_err(|e| Error::config(format!("option `json` cannot be serialised: {e}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::client::Client;
    use crate::{ErrorKind, Method};

    fn target(client: &Client, template: &str, options: serde_json::Value) -> String {
        let prepared = client
            .chain(template)
            .prepare(Method::GET, options)
            .unwrap();
        prepared.target().to_owned()
    }

    #[test]
    fn targets_are_the_expansion_exactly() {
        let client = crate::client::test_client();
        let transaction = "v3/pay/transactions/id/{transaction_id}";
        let options = json!({ "transaction_id": "4200000001", "query": { "mchid": "1230000109" } });
        // Twice: the base keeps the literal prefix's URL after the first.
        for _ in 0..2 {
            assert_eq!(
                target(&client, transaction, options.clone()),
                "/v3/pay/transactions/id/4200000001?mchid=1230000109"
            );
        }
        for (template, options, expected) in [
            (
                "v3/x/{id}{?a}",
                json!({ "id": 1, "a": 2, "query": { "b": 3 } }),
                "/v3/x/1?a=2&b=3",
            ),
            ("v3/x/{+p}", json!({ "p": "a:b/c" }), "/v3/x/a:b/c"),
            ("v3/x/{+p}", json!({ "p": "/y" }), "/v3/x//y"),
            ("{+p}/y", json!({ "p": "v3:x" }), "/v3:x/y"),
            ("v3/x/{?a}", json!({ "a": "1" }), "/v3/x/?a=1"),
            ("/v3/certificates", json!({}), "/v3/certificates"),
            ("v3/{id}", json!({ "id": "已与" }), "/v3/%E5%B7%B2%E4%B8%8E"),
        ] {
            for _ in 0..2 {
                assert_eq!(
                    target(&client, template, options.clone()),
                    expected,
                    "{template}"
                );
            }
        }
    }

    #[test]
    fn the_first_headers_are_the_same_prebuilt_or_not() {
        use http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
        use http::{HeaderMap, HeaderValue};

        let names = |h: &HeaderMap| h.keys().map(|k| k.as_str().to_owned()).collect::<Vec<_>>();
        let agent = HeaderValue::from_static(crate::USER_AGENT);
        let json = Some(super::APPLICATION_JSON);
        let form = Some(HeaderValue::from_static("multipart/form-data; boundary=x"));
        let plain = super::first_headers(None);
        assert_eq!(names(&plain), ["accept", "user-agent"]);
        assert_eq!(plain[USER_AGENT], agent);
        for content_type in [json.clone(), form.clone()] {
            let mut h = super::first_headers(content_type.clone());
            assert_eq!(names(&h), ["accept", "user-agent", "content-type"]);
            assert_eq!(h[ACCEPT], "application/json");
            assert_eq!(h[USER_AGENT], agent);
            assert_eq!(Some(&h[CONTENT_TYPE]), content_type.as_ref());
            h.insert("x-extra", HeaderValue::from_static("1"));
            assert_eq!(h.len(), 4);
        }
        assert_eq!(super::COMMON_HEADERS[0].len(), 2);
        // The prebuilt maps are not changed by what is added to a request's copy.
        let client = crate::client::test_client();
        let with_header = json!({ "id": "1", "json": {}, "headers": { "X-A": "1" } });
        let prepared = client
            .chain("v3/x/{id}")
            .prepare(Method::POST, with_header)
            .unwrap();
        assert_eq!(
            names(prepared.headers()),
            ["accept", "user-agent", "content-type", "x-a"]
        );
        let prepared = client
            .chain("v3/x/{id}")
            .prepare(Method::POST, json!({ "id": "1", "json": {} }))
            .unwrap();
        assert_eq!(
            names(prepared.headers()),
            ["accept", "user-agent", "content-type"]
        );
        let prepared = client
            .chain("v3/x/{id}")
            .prepare(Method::GET, json!({ "id": "1" }))
            .unwrap();
        assert_eq!(names(prepared.headers()), ["accept", "user-agent"]);
    }

    #[test]
    fn a_per_request_base_uri_keeps_its_path() {
        let client = crate::client::test_client();
        let options = json!({ "id": "1", "base_uri": "https://proxy.example.com/wechat" });
        let prepared = client
            .chain("v3/x/{id}")
            .prepare(Method::GET, options)
            .unwrap();
        assert_eq!(
            prepared.url().as_str(),
            "https://proxy.example.com/wechat/v3/x/1"
        );
        assert_eq!(prepared.target(), "/wechat/v3/x/1");
        assert_eq!(prepared.api_path(), "/v3/x/1");
    }

    #[test]
    fn a_rewritten_query_is_refused_with_both_forms() {
        let client = crate::client::test_client();
        for _ in 0..2 {
            let err = client
                .chain("v3/x/{id}?a={+v}")
                .prepare(Method::GET, json!({ "id": "1", "v": "it's" }))
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Template);
            assert_eq!(
                err.template(),
                Some(&crate::template::TemplateError::Rewritten {
                    expanded: "/v3/x/1?a=it's".into(),
                    sent: "/v3/x/1?a=it%27s".into(),
                })
            );
        }
    }
}
