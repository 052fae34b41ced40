//! The independent judge of what the client sends: the APIv3 `Authorization` check (strict:
//! a 32-character alphanumeric nonce, the exact fields), the messages signatures cover,
//! RSA-SHA256 with OpenSSL directly and a strict `multipart/form-data` reader. Nothing here
//! comes from the crate under test or from the sandbox, so it judges both.

use http::header::HeaderMap;
use openssl::hash::MessageDigest;
use openssl::pkey::{HasPrivate, PKeyRef, Public};
use openssl::sign::Verifier;

use super::keys::{keys, now_unix};

/// The only authorization scheme WeChat Pay APIv3 accepts.
pub const AUTH_SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";
/// How far (seconds) a request timestamp may be from the server clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

const REQUIRED_FIELDS: [&str; 5] = ["mchid", "serial_no", "timestamp", "nonce_str", "signature"];

/// The parsed, verified `Authorization` header.
#[derive(Clone, Debug)]
pub struct AuthInfo {
    pub mchid: String,
    pub serial_no: String,
    pub timestamp: i64,
    pub nonce_str: String,
    pub signature: String,
    /// The field names in the order they appeared.
    pub field_order: Vec<String>,
    /// The exact message the signature was verified over.
    pub message: Vec<u8>,
}

/// `TIMESTAMP\nNONCE\nBODY\n`: what a response signature covers.
pub fn response_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = format!("{timestamp}\n{nonce}\n").into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    message
}

/// `METHOD\nTARGET\nTIMESTAMP\nNONCE\nBODY\n`: what a request signature covers.
pub fn request_message(
    method: &str,
    target: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut message = format!("{method}\n{target}\n{timestamp}\n{nonce}\n").into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    message
}

/// Base64 of RSASSA-PKCS1-v1_5 / SHA-256 over `message`.
pub fn rsa_sha256_sign<T: HasPrivate>(key: &PKeyRef<T>, message: &[u8]) -> String {
    let mut signer =
        openssl::sign::Signer::new(MessageDigest::sha256(), key).expect("openssl Signer");
    signer.update(message).expect("Signer::update");
    openssl::base64::encode_block(&signer.sign_to_vec().expect("Signer::sign"))
}

/// Checks a base64 RSASSA-PKCS1-v1_5 / SHA-256 signature over `message`.
pub fn rsa_sha256_verify(
    key: &PKeyRef<Public>,
    message: &[u8],
    signature_b64: &str,
) -> Result<(), String> {
    let raw = openssl::base64::decode_block(signature_b64)
        .map_err(|_| format!("signature is not valid base64: {signature_b64:?}"))?;
    let mut verifier = Verifier::new(MessageDigest::sha256(), key)
        .map_err(|e| format!("cannot create verifier: {e}"))?;
    verifier
        .update(message)
        .map_err(|e| format!("verifier update failed: {e}"))?;
    match verifier.verify(&raw) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err("signature verification failed".to_owned()),
    }
}

/// Parses `key="value",key="value",...` (whitespace allowed around commas).
fn parse_auth_params(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err("no parameters after the authorization scheme".to_owned());
    }
    loop {
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("malformed parameter, expected key=\"value\": {rest:?}"))?;
        let key = &rest[..eq];
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("malformed parameter name {key:?}"));
        }
        let quoted = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or_else(|| format!("value of {key} is not quoted"))?;
        let close = quoted
            .find('"')
            .ok_or_else(|| format!("unterminated quoted value of {key}"))?;
        if fields.iter().any(|(k, _)| k == key) {
            return Err(format!("duplicate field {key}"));
        }
        fields.push((key.to_owned(), quoted[..close].to_owned()));
        rest = quoted[close + 1..].trim_start();
        if rest.is_empty() {
            return Ok(fields);
        }
        rest = rest
            .strip_prefix(',')
            .ok_or_else(|| format!("expected ',' after the value of {key}, found {rest:?}"))?
            .trim_start();
        if rest.is_empty() {
            return Err("trailing ',' in authorization parameters".to_owned());
        }
    }
}

/// The fields of a request's `Authorization` header (`WECHATPAY2-SHA256-RSA2048 k="v",...`),
/// in order, without checking them: what a refused request was signed with.
pub fn authorization_fields(headers: &HeaderMap) -> Result<Vec<(String, String)>, String> {
    let header = headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| "missing Authorization header".to_owned())?
        .to_str()
        .map_err(|_| "Authorization header is not visible ASCII".to_owned())?;
    let (_, params) = header
        .split_once(' ')
        .ok_or_else(|| format!("Authorization header has no scheme: {header:?}"))?;
    parse_auth_params(params)
}

/// The server's independent check of a request's `Authorization` header.
pub fn verify_request(
    method: &str,
    target: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<AuthInfo, String> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let header = values
        .next()
        .ok_or_else(|| "missing Authorization header".to_owned())?;
    if values.next().is_some() {
        return Err("more than one Authorization header".to_owned());
    }
    let header = header
        .to_str()
        .map_err(|_| "Authorization header is not visible ASCII".to_owned())?;
    let (scheme, params) = header
        .split_once(' ')
        .ok_or_else(|| format!("Authorization header has no scheme: {header:?}"))?;
    if scheme != AUTH_SCHEME {
        return Err(format!(
            "unsupported authorization scheme {scheme:?}, expected {AUTH_SCHEME:?}"
        ));
    }
    let fields = parse_auth_params(params)?;
    if let Some((unknown, _)) = fields
        .iter()
        .find(|(k, _)| !REQUIRED_FIELDS.contains(&k.as_str()))
    {
        return Err(format!("unknown field {unknown}"));
    }
    let get = |name: &str| -> Result<&str, String> {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| format!("missing field {name}"))
    };
    let mchid = get("mchid")?;
    let serial_no = get("serial_no")?;
    let timestamp_raw = get("timestamp")?;
    let nonce_str = get("nonce_str")?;
    let signature = get("signature")?;

    let k = keys();
    if mchid != k.mchid {
        return Err(format!(
            "mchid mismatch: got {mchid:?}, expected {:?}",
            k.mchid
        ));
    }
    if serial_no != k.merchant_serial {
        return Err(format!(
            "serial_no mismatch: got {serial_no:?}, expected {:?}",
            k.merchant_serial
        ));
    }
    let timestamp = if !timestamp_raw.is_empty()
        && timestamp_raw.len() <= 18
        && timestamp_raw.bytes().all(|b| b.is_ascii_digit())
    {
        timestamp_raw.parse::<i64>().expect("digits fit in i64")
    } else {
        return Err(format!(
            "timestamp is not a decimal integer: {timestamp_raw:?}"
        ));
    };
    let skew = (timestamp - now_unix()).abs();
    if skew > MAX_CLOCK_SKEW_SECS {
        return Err(format!(
            "timestamp {timestamp} is {skew} s away from the server clock (limit {MAX_CLOCK_SKEW_SECS} s)"
        ));
    }
    if nonce_str.len() != 32 || !nonce_str.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "nonce_str must be 32 characters of [0-9A-Za-z], got {nonce_str:?}"
        ));
    }
    // A media upload signs its `meta` part, not the whole multipart body.
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let signed: Vec<u8> = if content_type.starts_with("multipart/form-data") {
        multipart_parts(content_type, body)?
            .into_iter()
            .find(|p| p.name == "meta")
            .map(|p| p.data)
            .ok_or_else(|| "multipart body without a `meta` part".to_owned())?
    } else {
        body.to_vec()
    };
    let message = request_message(method, target, timestamp_raw, nonce_str, &signed);
    rsa_sha256_verify(&k.merchant_public, &message, signature)?;

    Ok(AuthInfo {
        mchid: mchid.to_owned(),
        serial_no: serial_no.to_owned(),
        timestamp,
        nonce_str: nonce_str.to_owned(),
        signature: signature.to_owned(),
        field_order: fields.into_iter().map(|(k, _)| k).collect(),
        message,
    })
}

/// One part of a `multipart/form-data` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// Splits a `multipart/form-data` body (RFC 7578) into its parts, strictly: CRLF line ends,
/// the boundary from `content_type`, a closing delimiter.
pub fn multipart_parts(content_type: &str, body: &[u8]) -> Result<Vec<Part>, String> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty())
        .ok_or_else(|| format!("no boundary in {content_type:?}"))?;
    let delimiter = format!("--{boundary}");
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + from)
    };
    if !body.starts_with(delimiter.as_bytes()) {
        return Err("multipart body does not start with the boundary".to_owned());
    }
    let mut parts = Vec::new();
    let mut pos = delimiter.len();
    loop {
        if body[pos..].starts_with(b"--\r\n") || &body[pos..] == b"--" {
            return Ok(parts);
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err("boundary not followed by CRLF".to_owned());
        }
        pos += 2;
        let head_end = find(body, b"\r\n\r\n", pos).ok_or("part without a header end")?;
        let head =
            std::str::from_utf8(&body[pos..head_end]).map_err(|_| "part header not UTF-8")?;
        let next = find(body, format!("\r\n{delimiter}").as_bytes(), head_end + 4)
            .ok_or("part without a closing boundary")?;
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            data: body[head_end + 4..next].to_vec(),
        };
        for line in head.split("\r\n") {
            let (name, value) = line.split_once(':').ok_or("malformed part header")?;
            match name.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for param in value.split(';').map(str::trim) {
                        if let Some(v) = param.strip_prefix("name=") {
                            part.name = v.trim_matches('"').to_owned();
                        } else if let Some(v) = param.strip_prefix("filename=") {
                            part.filename = Some(v.trim_matches('"').to_owned());
                        }
                    }
                }
                "content-type" => part.content_type = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        parts.push(part);
        pos = next + 2 + delimiter.len();
    }
}
