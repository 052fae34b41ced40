//! APIv2 (XML): every request's `sign` is checked with the sandbox's own code (MD5, or
//! HMAC-SHA256 when `sign_type` says so) over the XML body's fields, or the query's for a
//! `GET` without a body; then a script or one of the APIs of [`apis`] answers.

pub(crate) mod apis;
pub(crate) mod operations;
mod xml;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use openssl::hash::{MessageDigest, hash};
use openssl::pkey::PKey;
use openssl::sign::Signer;

pub(crate) use crate::answer::V2SignType as SignType;
use crate::error::Result;
use crate::faults::Fault;
use crate::state::State;
use crate::util::hex_upper;
pub(crate) use xml::{parse_xml, write_xml};

/// An APIv2 payload: field names and values, in document order.
pub(crate) type Fields = Vec<(String, String)>;

/// Uppercase hex MD5 (or HMAC-SHA256 keyed by `secret`) of the sorted `k=v&...&key=secret`,
/// skipping `sign` and empty values.
pub(crate) fn sign(
    fields: &[(String, String)],
    secret: &str,
    sign_type: SignType,
) -> Result<String> {
    let mut pairs: Vec<&(String, String)> = fields
        .iter()
        .filter(|(k, v)| k != "sign" && !v.is_empty())
        .collect();
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut message = String::new();
    for (k, v) in pairs {
        message.push_str(k);
        message.push('=');
        message.push_str(v);
        message.push('&');
    }
    message.push_str("key=");
    message.push_str(secret);
    let digest = match sign_type {
        SignType::Md5 => hash(MessageDigest::md5(), message.as_bytes())?.to_vec(),
        SignType::HmacSha256 => {
            let key = PKey::hmac(secret.as_bytes())?;
            let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
            signer.update(message.as_bytes())?;
            signer.sign_to_vec()?
        }
    };
    Ok(hex_upper(&digest))
}

/// `fields` followed by their `sign` (with another secret under [`Fault::BadSignature`] or
/// [`Fault::WrongKey`]; the nonce, or the last field, changed after signing under
/// [`Fault::TamperedBody`]), as XML.
pub(crate) fn signed_xml(
    state: &State,
    mut fields: Fields,
    sign_type: SignType,
    faults: &[Fault],
) -> Result<String> {
    let secret = &state.keys.apiv2_secret;
    let sign = if faults.contains(&Fault::BadSignature) || faults.contains(&Fault::WrongKey) {
        sign(&fields, &format!("{secret}x"), sign_type)?
    } else {
        sign(&fields, secret, sign_type)?
    };
    if faults.contains(&Fault::TamperedBody) {
        // The nonce, or else the last field, gains a character.
        let last = fields.len().saturating_sub(1);
        let at = fields.iter().position(|(k, _)| k == "nonce_str");
        if let Some((_, value)) = fields.get_mut(at.unwrap_or(last)) {
            value.push('x');
        }
    }
    fields.push(("sign".into(), sign));
    Ok(write_xml(&fields))
}

/// An XML answer.
pub(crate) fn xml_response(status: u16, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    response
}

/// `<xml><return_code>FAIL</return_code><return_msg>..</return_msg></xml>`, unsigned.
pub(crate) fn fail_response(status: u16, message: &str) -> Response<Full<Bytes>> {
    xml_response(
        status,
        write_xml(&[
            ("return_code".into(), "FAIL".into()),
            ("return_msg".into(), message.into()),
        ]),
    )
}

/// The first non-empty value of `name`.
pub(crate) fn field<'f>(fields: &'f Fields, name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// A request whose `sign` the sandbox verified.
pub(crate) struct Checked {
    pub(crate) fields: Fields,
    pub(crate) sign_type: SignType,
}

/// A request the sandbox refused: why (for the log), and the `return_msg` of its answer.
pub(crate) struct Rejected {
    pub(crate) reason: String,
    pub(crate) return_msg: &'static str,
}

impl Rejected {
    /// The answer: 200 with `return_code` FAIL, as WeChat Pay does.
    pub(crate) fn response(&self) -> Response<Full<Bytes>> {
        fail_response(200, self.return_msg)
    }
}

/// The sandbox's own check of an APIv2 request: its fields (the XML body, or the query of a
/// `GET` without a body) and their `sign`. A refusal is answered as WeChat Pay does: 200 with
/// `return_code` FAIL.
pub(crate) fn check(
    state: &State,
    method: &Method,
    query: Option<&str>,
    body: &[u8],
) -> Result<Checked, Rejected> {
    let reject = |reason: String, return_msg: &'static str| Rejected { reason, return_msg };
    let fields = if *method == Method::GET && body.is_empty() {
        query_fields(query.unwrap_or_default()).map_err(|reason| reject(reason, "参数格式错误"))?
    } else {
        parse_xml(body).map_err(|reason| reject(reason, "XML格式错误"))?
    };
    let sign_type = verify(state, &fields).map_err(|reason| reject(reason, "签名错误"))?;
    Ok(Checked { fields, sign_type })
}

/// The pairs of a query, form-decoded (`+` is a space), in order.
fn query_fields(query: &str) -> Result<Fields, String> {
    let decode = |raw: &str| {
        percent_encoding::percent_decode_str(&raw.replace('+', " "))
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| format!("the query part {raw:?} is not UTF-8 once decoded"))
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

/// The request's sign type from `sign_type` (absent: MD5).
fn sign_type_of(fields: &Fields) -> Result<SignType, String> {
    match field(fields, "sign_type") {
        None | Some("MD5") => Ok(SignType::Md5),
        Some("HMAC-SHA256") => Ok(SignType::HmacSha256),
        Some(other) => Err(format!("unsupported sign_type {other:?}")),
    }
}

/// The sandbox's own check of a request's `sign`.
fn verify(state: &State, fields: &Fields) -> Result<SignType, String> {
    let given = field(fields, "sign").ok_or("the request has no sign")?;
    let sign_type = sign_type_of(fields)?;
    let expected = sign(fields, &state.keys.apiv2_secret, sign_type)
        .map_err(|e| format!("cannot compute the sign: {e}"))?;
    if given == expected {
        Ok(sign_type)
    } else {
        Err(format!("sign mismatch ({}): got {given}", sign_type.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector() -> Fields {
        [
            ("appid", "wxd930ea5d5a258f4f"),
            ("mch_id", "10000100"),
            ("device_info", "1000"),
            ("body", "test"),
            ("nonce_str", "ibuaiVcKdpRxkhJA"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn published_sign_vectors() {
        let secret = "192006250b4c09247ec02edce69f6a2d";
        assert_eq!(
            sign(&vector(), secret, SignType::Md5).unwrap(),
            "9A0A8659F005D6984697E2CA0A9CF3B7"
        );
        assert_eq!(
            sign(&vector(), secret, SignType::HmacSha256).unwrap(),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        );
    }

    #[test]
    fn query_fields_are_form_decoded_in_order() {
        assert_eq!(
            query_fields("b=1&a=x%20y+z&&c&d=%E5%BE%AE").unwrap(),
            [
                ("b".to_owned(), "1".to_owned()),
                ("a".to_owned(), "x y z".to_owned()),
                ("c".to_owned(), String::new()),
                ("d".to_owned(), "微".to_owned()),
            ]
        );
        assert!(query_fields("a=%FF").is_err());
        assert_eq!(query_fields("").unwrap(), Fields::new());
    }
}
