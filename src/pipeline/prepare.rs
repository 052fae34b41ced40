//! Template + options -> the exact URL, headers and body to sign and send.

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Map, Value};

use super::{PreparedRequest, Protocol};
use crate::base_uri::BaseUri;
use crate::client::{PreferredKey, Shared};
use crate::error::{Error, Result};
use crate::options::{Body, Options};
use crate::template::{TemplateError, UriTemplate};
use url::Url;

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Builds the request for `template` expanded over `options`.
pub(crate) fn prepare(
    shared: &Shared,
    template: &UriTemplate,
    method: Method,
    options: Options,
) -> Result<PreparedRequest> {
    let Options {
        vars,
        base_uri,
        body,
        query,
        headers: extra_headers,
        timeout,
        encrypt,
        xml,
        nonceless,
        security,
        problem,
    } = options;
    if let Some(problem) = problem {
        return Err(Error::config(problem));
    }

    let expanded = template
        .expand_strict(&vars)
        .map_err(Error::from_template)?;
    let relative = expanded.trim_start_matches('/');
    // After expansion, `v2/` (any case) routes to APIv2, with the prefix removed.
    let (relative, v2) = match relative.get(..3) {
        Some(p) if p.eq_ignore_ascii_case("v2/") => (&relative[3..], true),
        _ => (relative, false),
    };
    if v2 {
        let refused = [
            ("json", matches!(body, Body::Json(_))),
            ("body", matches!(body, Body::Raw(_))),
            ("multipart", matches!(body, Body::Multipart(_))),
            ("query", query.as_deref().is_some_and(|q| !q.is_empty())),
            ("encrypt", !encrypt.is_empty()),
        ];
        if let Some((name, _)) = refused.iter().find(|(_, set)| *set) {
            return Err(Error::config(format!(
                "option `{name}` does not apply to APIv2 (`v2/...`) paths: the payload goes in \
                 `xml`, which is signed"
            )));
        }
    } else {
        let refused = [
            ("xml", xml.is_some()),
            ("nonceless", nonceless),
            ("security", security),
        ];
        if let Some((name, _)) = refused.iter().find(|(_, set)| *set) {
            return Err(Error::config(format!(
                "option `{name}` applies only to APIv2 (`v2/...`) paths"
            )));
        }
    }
    if relative.contains('#') {
        return Err(Error::from_template(TemplateError::Fragment {
            template: template.as_str().to_owned(),
        }));
    }
    let (path, template_query) = match relative.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (relative, None),
    };
    if let Some(segment) = path.split('/').find(|s| is_dot_segment(s)) {
        return Err(Error::from_template(TemplateError::DotSegment {
            name: dot_variable(template, &vars).map(str::to_owned),
            segment: segment.to_owned(),
        }));
    }

    let base = match &base_uri {
        Some(b) => Cow::Owned(
            BaseUri::parse(b)
                .map_err(|reason| Error::config(format!("option `base_uri`: {reason}")))?,
        ),
        None => Cow::Borrowed(&shared.base),
    };
    if v2 {
        if template_query.is_some_and(|q| !q.is_empty()) {
            return Err(Error::config(format!(
                "`{relative}`: an APIv2 path carries no query of its own; its fields go in \
                 `xml`, which is signed"
            )));
        }
        let request = super::prepare_v2::Request {
            method,
            path,
            xml,
            nonceless,
            security,
            headers: extra_headers,
            timeout,
        };
        return super::prepare_v2::prepare(shared, &base, request);
    }
    // An empty query is no query: no bare `?` on the wire.
    let query = match (
        template_query.filter(|q| !q.is_empty()),
        query.as_deref().filter(|q| !q.is_empty()),
    ) {
        (Some(t), Some(o)) => Some(Cow::Owned(format!("{t}&{o}"))),
        (Some(q), None) | (None, Some(q)) => Some(Cow::Borrowed(q)),
        (None, None) => None,
    };

    let url = build_url(&base, path, query.as_deref())?;

    let v3 = shared.v3()?;
    let body = if encrypt.is_empty() {
        body
    } else {
        encrypt_fields(v3.preferred(), body, &encrypt)?
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

    let mut headers = HeaderMap::with_capacity(6 + extra_headers.len());
    headers.insert(ACCEPT, APPLICATION_JSON);
    headers.insert(USER_AGENT, shared.user_agent.clone());
    if let Some(content_type) = content_type.filter(|_| !body.is_empty()) {
        headers.insert(CONTENT_TYPE, content_type);
    }
    let preferred = v3.preferred();
    if let (true, Some(preferred)) = (v3.send_wechatpay_serial, &preferred) {
        headers.insert(crate::verifier::SERIAL, preferred.id.clone());
    }
    for (name, value) in extra_headers {
        headers.insert(name, value);
    }
    if let (false, Some(preferred)) = (encrypt.is_empty(), &preferred) {
        // WeChat Pay decrypts with the key this names: it must be the one used.
        headers.insert(crate::verifier::SERIAL, preferred.id.clone());
    }

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

/// The URL `base` + `path` (relative, already expanded) + `?query`, refused when the URL
/// parser would send anything other than exactly that (what is signed must be what is sent).
pub(super) fn build_url(base: &BaseUri, path: &str, query: Option<&str>) -> Result<Url> {
    let mut full_path = String::with_capacity(base.path().len() + path.len());
    full_path.push_str(base.path());
    full_path.push_str(path);
    let mut url = base.url().clone();
    url.set_path(&full_path);
    url.set_query(query);
    if url.path() != full_path || url.query() != query {
        let with_query = |path: &str, query: Option<&str>| match query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        };
        return Err(Error::from_template(TemplateError::Rewritten {
            expanded: with_query(&full_path, query),
            sent: with_query(url.path(), url.query()),
        }));
    }
    Ok(url)
}

/// `.` and `..`, in any of the spellings URL parsers resolve (`%2e`, `.%2E`, ...).
fn is_dot_segment(segment: &str) -> bool {
    segment.len() <= 6
        && [".", "..", "%2e", "%2e%2e", ".%2e", "%2e."]
            .iter()
            .any(|dot| segment.eq_ignore_ascii_case(dot))
}

/// The path variable whose value makes a dot segment, to name it in the error.
fn dot_variable<'t>(template: &'t UriTemplate, vars: &Map<String, Value>) -> Option<&'t str> {
    let has_dot = |v: &Value| match v {
        Value::String(s) => s.split('/').any(is_dot_segment),
        Value::Array(items) => items
            .iter()
            .any(|i| i.as_str().is_some_and(|s| s.split('/').any(is_dot_segment))),
        Value::Object(map) => map
            .values()
            .any(|i| i.as_str().is_some_and(|s| s.split('/').any(is_dot_segment))),
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
    preferred: Option<PreferredKey>,
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
    crate::fields::map_strings(&mut json, pointers, "option `encrypt`", |plain| {
        preferred.key.encrypt_oaep_base64(plain)
    })?;
    serde_json::to_vec(&json)
        .map(|b| Body::Json(b.into()))
        .map_err(|e| Error::config(format!("option `json` cannot be serialised: {e}")))
}
