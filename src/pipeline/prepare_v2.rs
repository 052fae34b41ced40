//! An APIv2 payload -> the signed XML body (or signed query of a `GET`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::{Map, Value};

use super::url::build_url;
use crate::base_uri::BaseUri;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::prepared::{PreparedRequest, Protocol};
use crate::template::encode_component;
use crate::v2::{SignType, is_element_name, is_xml_text, sign, write_xml};

const ACCEPT_V2: HeaderValue = HeaderValue::from_static("text/xml, text/plain, application/x-gzip");
const TEXT_XML: HeaderValue = HeaderValue::from_static("text/xml; charset=utf-8");

/// The merchant-id fields, in the order wechatpay-php reads them.
const MERCHANT_ID_FIELDS: [&str; 3] = ["mch_id", "mchid", "combine_mch_id"];

/// The parts of an APIv2 request the generic preparation hands over.
pub(super) struct Request<'a> {
    pub(super) method: Method,
    /// The path after `v2/`, relative to the base URI.
    pub(super) path: &'a str,
    pub(super) xml: Option<Map<String, Value>>,
    pub(super) nonceless: bool,
    pub(super) security: bool,
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    pub(super) timeout: Option<Duration>,
}

pub(super) fn prepare(
    ctx: &Context,
    base: &BaseUri,
    request: Request<'_>,
) -> Result<PreparedRequest> {
    let secret = ctx.v2()?;
    if request.path.is_empty() || request.path.split('/').any(str::is_empty) {
        return Err(Error::config(format!(
            "`v2/{}` is not an APIv2 endpoint: the path after `v2/` is empty or has an empty \
             segment",
            request.path
        )));
    }
    if let Some((name, _)) = request
        .headers
        .iter()
        .find(|(name, _)| *name == CONTENT_TYPE || *name == ACCEPT)
    {
        return Err(Error::config(format!(
            "option `headers`: `{name}` is set by the client on APIv2 requests (XML)"
        )));
    }
    if request.security && !ctx.transport.has_identity() {
        return Err(Error::config(
            "option `security` needs the merchant certificate: configure it with \
             .merchant_cert(pem).merchant_key(pem) or .merchant_pkcs12(der, passphrase)",
        ));
    }
    let fields = signed_fields(
        ctx,
        secret,
        request.xml.unwrap_or_default(),
        request.nonceless,
    )?;
    let echo = echoed(&fields);
    let pairs = || fields.iter().map(|(k, v)| (k.as_str(), v.as_str()));

    let is_get = request.method == Method::GET;
    let (query, body) = if is_get {
        let mut query = String::new();
        for (k, v) in pairs() {
            if !query.is_empty() {
                query.push('&');
            }
            encode_component(&mut query, k);
            query.push('=');
            encode_component(&mut query, v);
        }
        (Some(query), Bytes::new())
    } else {
        (None, Bytes::from(write_xml(pairs())))
    };
    let url = build_url(base, request.path, query.as_deref())?;

    let mut headers = HeaderMap::with_capacity(3 + request.headers.len());
    headers.insert(ACCEPT, ACCEPT_V2);
    headers.insert(USER_AGENT, ctx.user_agent.clone());
    if !is_get {
        headers.insert(CONTENT_TYPE, TEXT_XML);
    }
    for (name, value) in request.headers {
        headers.insert(name, value);
    }
    Ok(PreparedRequest {
        method: request.method,
        api_offset: base.path().len() - 1,
        url,
        headers,
        body,
        signed_body: None,
        timeout: request.timeout,
        protocol: Protocol::V2 {
            mutual_tls: request.security,
            echo,
        },
    })
}

/// The identifiers an APIv2 answer echoes from its request: the merchant and app ids (the
/// service provider's and the sub-merchant's, and the names transfers and red packets use) and
/// the order, refund, transfer and red-packet numbers. When the request and the answer both
/// carry one, they must be equal: docs/apiv2.md.
pub(crate) const ECHOED_FIELDS: [&str; 12] = [
    "mch_id",
    "mchid",
    "sub_mch_id",
    "appid",
    "sub_appid",
    "mch_appid",
    "wxappid",
    "out_trade_no",
    "transaction_id",
    "out_refund_no",
    "partner_trade_no",
    "mch_billno",
];

/// What of `fields` an answer must echo.
fn echoed(fields: &[(String, String)]) -> Arc<[(&'static str, String)]> {
    ECHOED_FIELDS
        .iter()
        .filter_map(|name| {
            fields
                .iter()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| (*name, v.clone()))
        })
        .collect()
}

/// The payload as strings, with `nonce_str` (unless nonceless) and `sign` added.
fn signed_fields(
    ctx: &Context,
    secret: &crate::v2::Secret,
    xml: Map<String, Value>,
    nonceless: bool,
) -> Result<Vec<(String, String)>> {
    let mut fields: Vec<(String, String)> = Vec::with_capacity(xml.len() + 2);
    for (name, value) in xml {
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
            Value::Number(n) => {
                return Err(Error::config(format!(
                    "option `xml`: field `{name}` is {n}, not a whole number: APIv2 amounts are \
                     integers in fen (cents); pass anything else as a string"
                )));
            }
            other => {
                let found = match other {
                    Value::Bool(_) => "a boolean",
                    Value::Array(_) => "an array",
                    _ => "an object",
                };
                return Err(Error::config(format!(
                    "option `xml`: field `{name}` is {found}; APIv2 fields are strings or \
                     numbers (serialise nested data such as `detail` or `scene_info` to a JSON \
                     string first)"
                )));
            }
        };
        if !is_element_name(&name) {
            return Err(Error::config(format!(
                "option `xml`: `{}` is not a usable field name (ASCII letters, digits, `_`, `-`, \
                 `.`, starting with a letter or `_`)",
                name.escape_default()
            )));
        }
        if !is_xml_text(&text) || text.contains('\r') {
            return Err(Error::config(format!(
                "option `xml`: field `{name}` holds a control character XML cannot carry \
                 faithfully (XML parsers turn a carriage return into a line feed, which would \
                 break the sign)"
            )));
        }
        if name != "sign" {
            fields.push((name, text));
        }
    }
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    // Every merchant-id field present must name this merchant.
    let mut named = false;
    for field in MERCHANT_ID_FIELDS {
        if let Some(id) = get(field) {
            named = true;
            if id != ctx.mchid {
                return Err(Error::config(format!(
                    "option `xml`: {field} `{}` does not match the client's merchant id `{}`",
                    id.escape_default(),
                    ctx.mchid
                )));
            }
        }
    }
    if !named {
        return Err(Error::config(format!(
            "option `xml` has no mch_id, mchid or combine_mch_id: it must name the client's \
             merchant id `{}`",
            ctx.mchid
        )));
    }
    let sign_type = match get("sign_type") {
        None => SignType::Md5,
        Some(name) => SignType::from_name(name).ok_or_else(|| {
            Error::config(format!(
                "option `xml`: sign_type `{}` is neither MD5 nor HMAC-SHA256",
                name.escape_default()
            ))
        })?,
    };
    if !nonceless && get("nonce_str").is_none_or(str::is_empty) {
        // An empty nonce would be left out of the sign: replace it.
        fields.retain(|(k, _)| k != "nonce_str");
        fields.push(("nonce_str".to_owned(), crate::crypto::nonce()?));
    }
    let signature = sign(
        fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        secret,
        sign_type,
    )?;
    fields.push(("sign".to_owned(), signature));
    Ok(fields)
}
