//! [`Answer`]: what a script ([`Sandbox::script`](crate::Sandbox::script)) sends back instead
//! of the sandbox's own routes.

use http::StatusCode;
use http::header::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::faults::{Fault, SignMode};

/// The sign type of an APIv2 answer's `sign`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum V2SignType {
    /// Uppercase hex MD5 of the sorted fields and `key=<APIv2 secret>`.
    Md5,
    /// Uppercase hex HMAC-SHA256, keyed with the APIv2 secret, of the same string.
    HmacSha256,
}

impl V2SignType {
    /// `MD5` or `HMAC-SHA256`, as `sign_type` writes it.
    pub fn name(self) -> &'static str {
        match self {
            V2SignType::Md5 => "MD5",
            V2SignType::HmacSha256 => "HMAC-SHA256",
        }
    }
}

/// Who signs an APIv3 answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signing {
    /// The key of the request's sign mode ([`Sandbox::set_sign_mode`](crate::Sandbox::set_sign_mode)
    /// or `Sandbox-Sign-Mode`).
    Current,
    /// The key of this mode.
    Mode(SignMode),
    /// Nobody: no signature headers.
    Unsigned,
}

/// What kind of answer it is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Form {
    /// APIv3: the body as given, signed (RSA) as [`Signing`] says, over `sign_over` if set.
    V3 {
        signing: Signing,
        sign_over: Option<Vec<u8>>,
    },
    /// APIv2: these fields as XML, with a `sign` of this type (`None`: no `sign`).
    V2 {
        fields: Vec<(String, String)>,
        sign: Option<V2SignType>,
    },
    /// These bytes, nothing added but the headers asked for.
    Raw,
}

/// An answer chosen by a script, built like the sandbox's own: APIv3 (signed by the current
/// sign mode's key unless told otherwise, with a `Request-ID`) or APIv2 (XML, signed with the
/// sandbox's APIv2 secret or not), or raw bytes.
///
/// ```
/// use serde_json::json;
/// use wechatpay_sandbox::{Answer, Fault, SignMode, V2SignType};
///
/// // APIv3: a signed JSON answer, signed with the certificate key and then spoiled.
/// let answer = Answer::json(200, &json!({ "trade_state": "SUCCESS" }))
///     .sign_mode(SignMode::Certificate)
///     .fault(Fault::StaleTimestamp)
///     .header("Request-ID", "08F78BB5AF0610A7F0C6A6C10B");
/// // APIv2: a signed business failure, forged after signing.
/// let forged = Answer::v2_signed(&[("return_code", "SUCCESS"), ("result_code", "FAIL")], V2SignType::Md5)
///     .tampered("FAIL", "SUCCESS");
/// # let _ = (answer, forged);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
    pub(crate) content_type: Option<String>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) faults: Vec<Fault>,
    /// `(from, to)`: the first `from` in the body becomes `to`, after signing.
    pub(crate) tampers: Vec<(Vec<u8>, Vec<u8>)>,
    pub(crate) form: Form,
}

/// The status, or a panic naming it.
fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status)
        .unwrap_or_else(|_| panic!("Answer: {status} is not an HTTP status code"))
}

impl Answer {
    fn new(status: u16, content_type: Option<&str>, body: Vec<u8>, form: Form) -> Answer {
        Answer {
            status: status_code(status),
            body,
            content_type: content_type.map(str::to_owned),
            headers: Vec::new(),
            faults: Vec::new(),
            tampers: Vec::new(),
            form,
        }
    }

    fn v3(status: u16, content_type: Option<&str>, body: Vec<u8>) -> Answer {
        let form = Form::V3 {
            signing: Signing::Current,
            sign_over: None,
        };
        Answer::new(status, content_type, body, form)
    }

    /// An APIv3 answer: `body` serialised, `Content-Type: application/json`, signed.
    ///
    /// # Panics
    ///
    /// If `status` is not between 100 and 999.
    pub fn json(status: u16, body: &Value) -> Answer {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        Answer::v3(status, Some("application/json"), bytes)
    }

    /// An APIv3 answer with any body, signed; no `Content-Type` when `content_type` is empty.
    ///
    /// # Panics
    ///
    /// If `status` is not between 100 and 999.
    pub fn bytes(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Answer {
        let content_type = Some(content_type).filter(|c| !c.is_empty());
        Answer::v3(status, content_type, body.into())
    }

    /// An APIv3 `204 No Content`, signed (over the empty body).
    pub fn no_content() -> Answer {
        Answer::v3(204, None, Vec::new())
    }

    /// WeChat Pay's APIv3 error body `{"code":..,"message":..}`, signed.
    ///
    /// # Panics
    ///
    /// If `status` is not between 100 and 999.
    pub fn error(status: u16, code: &str, message: &str) -> Answer {
        Answer::json(
            status,
            &serde_json::json!({ "code": code, "message": message }),
        )
    }

    /// An APIv2 answer: `fields` as `<xml>` (in this order, values in CDATA) followed by a
    /// `sign` of `sign_type` keyed with the sandbox's APIv2 secret
    /// ([`Identity::apiv2_secret`](crate::Identity::apiv2_secret)); `200`,
    /// `Content-Type: text/xml; charset=utf-8`.
    pub fn v2_signed(fields: &[(&str, &str)], sign_type: V2SignType) -> Answer {
        Answer::v2(fields, Some(sign_type))
    }

    /// An APIv2 answer without a `sign`: `fields` as `<xml>`, `200`.
    pub fn v2_unsigned(fields: &[(&str, &str)]) -> Answer {
        Answer::v2(fields, None)
    }

    fn v2(fields: &[(&str, &str)], sign: Option<V2SignType>) -> Answer {
        let fields = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let form = Form::V2 { fields, sign };
        Answer::new(200, Some("text/xml; charset=utf-8"), Vec::new(), form)
    }

    /// These bytes with this `Content-Type` (none when empty) and nothing else: no
    /// `Request-ID`, no signature. For either API.
    ///
    /// # Panics
    ///
    /// If `status` is not between 100 and 999.
    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Answer {
        let content_type = Some(content_type).filter(|c| !c.is_empty());
        Answer::new(status, content_type, body.into(), Form::Raw)
    }

    /// Signs this APIv3 answer with the key of `mode`, whatever the sandbox's sign mode.
    pub fn sign_mode(mut self, mode: SignMode) -> Answer {
        if let Form::V3 { signing, .. } = &mut self.form {
            *signing = Signing::Mode(mode);
        }
        self
    }

    /// Sends this APIv3 answer without signature headers (as WeChat Pay sends downloads).
    pub fn unsigned(mut self) -> Answer {
        if let Form::V3 { signing, .. } = &mut self.form {
            *signing = Signing::Unsigned;
        }
        self
    }

    /// Signs `payload` instead of the body (WeChat Pay's overseas statements sign a
    /// `{"sha1":"..."}` document and send the file). APIv3 only.
    pub fn sign_over(mut self, payload: impl Into<Vec<u8>>) -> Answer {
        if let Form::V3 { sign_over, .. } = &mut self.form {
            *sign_over = Some(payload.into());
        }
        self
    }

    /// Applies `fault` too, on top of the faults of the sandbox for the request
    /// ([`Sandbox::set_fault`](crate::Sandbox::set_fault) and the others). Several faults
    /// combine (a stale timestamp and a missing nonce, say).
    pub fn fault(mut self, fault: Fault) -> Answer {
        self.faults.push(fault);
        self
    }

    /// Adds a header. The first one of a name replaces the value the sandbox generates
    /// (`Request-ID`, `Content-Type`, `Wechatpay-Serial`, ...), later ones add values; a
    /// [`Fault::MissingHeader`] still removes its header.
    ///
    /// # Panics
    ///
    /// If `name` is not a header name or `value` not a header value (a script that panics
    /// gets a 500 answer naming the panic).
    pub fn header(mut self, name: &str, value: &str) -> Answer {
        let header = HeaderName::from_bytes(name.as_bytes())
            .unwrap_or_else(|e| panic!("Answer::header: {name:?} is not a header name: {e}"));
        let value = HeaderValue::from_str(value)
            .unwrap_or_else(|e| panic!("Answer::header: {value:?} is not a value for {name}: {e}"));
        self.headers.push((header, value));
        self
    }

    /// Replaces the first `from` in the body by `to` after signing (a man in the middle). The
    /// answer becomes a plain 500 saying so if the body has no `from`.
    pub fn tampered(mut self, from: &str, to: &str) -> Answer {
        self.tampers
            .push((from.as_bytes().to_vec(), to.as_bytes().to_vec()));
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }
}

/// `body` with the first `from` replaced by `to`, or `None` when there is no `from`.
pub(crate) fn replace_first(body: &[u8], from: &[u8], to: &[u8]) -> Option<Vec<u8>> {
    if from.is_empty() {
        return None;
    }
    let at = body.windows(from.len()).position(|w| w == from)?;
    let mut out = Vec::with_capacity(body.len() - from.len() + to.len());
    out.extend_from_slice(&body[..at]);
    out.extend_from_slice(to);
    out.extend_from_slice(&body[at + from.len()..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_first_replaces_once() {
        assert_eq!(
            replace_first(b"a888b888", b"888", b"1").as_deref(),
            Some(&b"a1b888"[..])
        );
        assert_eq!(replace_first(b"abc", b"x", b"y"), None);
        assert_eq!(replace_first(b"abc", b"", b"y"), None);
        assert_eq!(replace_first(b"", b"a", b"y"), None);
    }

    #[test]
    fn the_builder_records_what_it_is_told() {
        let answer = Answer::bytes(200, "", b"x".to_vec())
            .sign_mode(SignMode::PublicKey)
            .sign_over(b"{}".to_vec())
            .fault(Fault::WrongKey)
            .header("X-A", "1")
            .header("x-a", "2");
        assert_eq!(answer.content_type, None);
        assert_eq!(
            answer.form,
            Form::V3 {
                signing: Signing::Mode(SignMode::PublicKey),
                sign_over: Some(b"{}".to_vec()),
            }
        );
        assert_eq!(answer.faults, [Fault::WrongKey]);
        assert_eq!(answer.headers.len(), 2);
        assert_eq!(answer.headers[0].0, answer.headers[1].0);
        // APIv3 settings do not turn an APIv2 answer into an APIv3 one.
        let v2 = Answer::v2_unsigned(&[("a", "1")])
            .sign_mode(SignMode::Certificate)
            .unsigned()
            .sign_over(b"x".to_vec());
        assert!(matches!(v2.form, Form::V2 { sign: None, .. }));
        assert_eq!(Answer::no_content().status(), 204);
        assert_eq!(V2SignType::HmacSha256.name(), "HMAC-SHA256");
    }

    #[test]
    #[should_panic(expected = "is not an HTTP status code")]
    fn a_bad_status_panics_at_once() {
        let _ = Answer::raw(1000, "", Vec::new());
    }

    #[test]
    #[should_panic(expected = "is not a header name")]
    fn a_bad_header_name_panics_at_once() {
        let _ = Answer::no_content().header("a b", "1");
    }
}
