//! The APIv3 request check, as WeChat Pay does it: the `Authorization` header parsed strictly,
//! the merchant id, the certificate serial, the clock window and the RSA-SHA256 signature over
//! the raw request target and the raw body (the `meta` part of a multipart upload).

use http::HeaderMap;
use openssl::pkey::{PKey, Public};

use crate::multipart;
use crate::sign::{SCHEME, request_message, rsa_verify};
use crate::util::now_unix;

/// How far (seconds) a request timestamp may be from the sandbox clock, either way.
pub const MAX_CLOCK_SKEW: i64 = 300;

/// The fields of the `Authorization` header, all required.
const FIELDS: [&str; 5] = ["mchid", "nonce_str", "signature", "timestamp", "serial_no"];

/// What a request is checked against.
pub(crate) struct Expected<'a> {
    pub(crate) mchid: &'a str,
    pub(crate) serial: &'a str,
    pub(crate) merchant_public: &'a PKey<Public>,
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The `Authorization` header or the signature: 401 `SIGN_ERROR` with this message.
    Signature(String),
    /// The request cannot be read (a multipart body without parts, say), whatever its
    /// signature: 400 `PARAM_ERROR`, as WeChat Pay answers it, never a signature error.
    Malformed(String),
}

impl Refusal {
    /// What the log's verdict says.
    pub(crate) fn into_message(self) -> String {
        match self {
            Refusal::Signature(message) | Refusal::Malformed(message) => message,
        }
    }
}

impl From<String> for Refusal {
    fn from(message: String) -> Refusal {
        Refusal::Signature(message)
    }
}

/// Checks a request; `Err` says what was wrong.
pub(crate) fn verify(
    expected: &Expected<'_>,
    method: &str,
    target: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Refusal> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let header = values
        .next()
        .ok_or_else(|| "the Authorization header is missing".to_owned())?;
    if values.next().is_some() {
        return Err(Refusal::Signature(
            "more than one Authorization header".to_owned(),
        ));
    }
    let header = header
        .to_str()
        .map_err(|_| "the Authorization header is not visible ASCII".to_owned())?;
    let (scheme, params) = header
        .split_once(' ')
        .ok_or_else(|| "the Authorization header has no scheme".to_owned())?;
    if scheme != SCHEME {
        return Err(Refusal::Signature(format!(
            "unsupported authorization scheme {scheme:?}, expected {SCHEME}"
        )));
    }
    let fields = parse_params(params)?;
    let get = |name: &str| -> Result<&str, String> {
        fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("the Authorization header has no {name}"))
    };
    let mchid = get("mchid")?;
    let serial_no = get("serial_no")?;
    let timestamp = get("timestamp")?;
    let nonce = get("nonce_str")?;
    let signature = get("signature")?;

    if mchid != expected.mchid {
        return Err(Refusal::Signature(format!(
            "mchid {mchid:?} is not this merchant ({:?})",
            expected.mchid
        )));
    }
    // WeChat Pay compares serials whatever their case (wechatpay-node-v3 sends lower-case hex).
    if !serial_no.eq_ignore_ascii_case(expected.serial) {
        return Err(Refusal::Signature(format!(
            "serial_no {serial_no:?} is not the merchant certificate serial ({:?})",
            expected.serial
        )));
    }
    let seconds = parse_timestamp(timestamp)?;
    let skew = seconds.saturating_sub(now_unix()).saturating_abs();
    if skew > MAX_CLOCK_SKEW {
        return Err(Refusal::Signature(format!(
            "timestamp {timestamp} is {skew} s away from the server clock (limit {MAX_CLOCK_SKEW} s)"
        )));
    }
    check_nonce(nonce)?;
    let signed = signed_body(headers, body).map_err(Refusal::Malformed)?;
    let message = request_message(method, target, timestamp, nonce, signed);
    rsa_verify(expected.merchant_public, &message, signature).map_err(|e| {
        Refusal::Signature(format!(
            "{e} (the signed message must be {:?})",
            lossy(&message)
        ))
    })
}

/// The body a request signature covers: the raw body, or the `meta` part of a multipart
/// upload.
fn signed_body<'b>(headers: &HeaderMap, body: &'b [u8]) -> Result<&'b [u8], String> {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return Ok(body);
    }
    let parts = multipart::parse(content_type, body)?;
    parts
        .into_iter()
        .find(|p| p.name == "meta")
        .map(|p| p.data)
        .ok_or_else(|| "the multipart body has no `meta` part".to_owned())
}

/// The longest `nonce_str` accepted.
const MAX_NONCE_LEN: usize = 32;

/// `nonce_str`: 1 to 32 visible ASCII characters, without `"` or `,`.
fn check_nonce(nonce: &str) -> Result<(), String> {
    let allowed = |b: u8| b.is_ascii_graphic() && b != b'"' && b != b',';
    if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN || !nonce.bytes().all(allowed) {
        return Err(format!(
            "nonce_str must be 1 to {MAX_NONCE_LEN} visible ASCII characters without '\"' or ',', got {:?}",
            nonce.chars().take(64).collect::<String>()
        ));
    }
    Ok(())
}

fn parse_timestamp(raw: &str) -> Result<i64, String> {
    if raw.is_empty() || raw.len() > 12 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("timestamp {raw:?} is not Unix seconds"));
    }
    raw.parse::<i64>()
        .map_err(|_| format!("timestamp {raw:?} is not Unix seconds"))
}

/// `key="value",key="value"` (spaces allowed after commas): exactly the five fields, each once.
fn parse_params(params: &str) -> Result<Vec<(&str, &str)>, String> {
    let mut fields: Vec<(&str, &str)> = Vec::with_capacity(5);
    let mut rest = params;
    loop {
        let (key, after) = rest
            .split_once('=')
            .ok_or_else(|| format!("malformed Authorization parameter {rest:?}"))?;
        if !FIELDS.contains(&key) {
            return Err(format!("unknown Authorization parameter {key:?}"));
        }
        if fields.iter().any(|(k, _)| *k == key) {
            return Err(format!("Authorization parameter {key} appears twice"));
        }
        let quoted = after
            .strip_prefix('"')
            .ok_or_else(|| format!("the value of {key} is not quoted"))?;
        let (value, after) = quoted
            .split_once('"')
            .ok_or_else(|| format!("the value of {key} has no closing quote"))?;
        if value.is_empty() {
            return Err(format!("{key} is empty"));
        }
        fields.push((key, value));
        if after.is_empty() {
            break;
        }
        rest = after
            .strip_prefix(',')
            .ok_or_else(|| format!("expected ',' after the value of {key}"))?
            .trim_start_matches(' ');
    }
    if let Some(missing) = FIELDS.iter().find(|f| !fields.iter().any(|(k, _)| k == *f)) {
        return Err(format!("the Authorization header has no {missing}"));
    }
    Ok(fields)
}

fn lossy(bytes: &[u8]) -> String {
    const SHOWN: usize = 512;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(SHOWN)]).into_owned();
    if bytes.len() > SHOWN {
        format!("{text}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        let ok =
            parse_params(r#"mchid="1",nonce_str="n", signature="s",timestamp="1",serial_no="S""#)
                .unwrap();
        assert_eq!(ok.len(), 5);
        for bad in [
            "",
            r#"mchid="1""#,
            r#"mchid="1",mchid="1",nonce_str="n",signature="s",timestamp="1",serial_no="S""#,
            r#"mchid=1,nonce_str="n",signature="s",timestamp="1",serial_no="S""#,
            r#"mchid="1",nonce_str="n",signature="s",timestamp="1",serial_no="S","#,
            r#"mchid="1",nonce_str="n",signature="s",timestamp="1",serial_no="S",x="y""#,
            r#"mchid="1";nonce_str="n",signature="s",timestamp="1",serial_no="S""#,
            r#"mchid="",nonce_str="n",signature="s",timestamp="1",serial_no="S""#,
            r#"mchid="1",nonce_str="n",signature="s",timestamp="1",serial_no="S"#,
        ] {
            assert!(parse_params(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nonces() {
        let longest = "Z".repeat(32);
        for good in [
            "a",
            "0",
            "-_.3~!#$%&'()*+/:;<=>?@[\\]^`{|}",
            "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
            longest.as_str(),
        ] {
            assert_eq!(check_nonce(good), Ok(()), "{good}");
        }
        let too_long = "Z".repeat(33);
        for bad in [
            "",
            too_long.as_str(),
            "a,b",
            "a\"b",
            "a b",
            "tab\t",
            "中文",
            "\u{7f}",
        ] {
            let error = check_nonce(bad).unwrap_err();
            assert!(error.contains("nonce_str"), "{bad}: {error}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1700000000"), Ok(1_700_000_000));
        for bad in ["", "-1", "+1", "1.5", "99999999999999999999", "١٢"] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }
}
