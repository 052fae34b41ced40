//! APIv3 answers: what a route returns, and how it is signed (with any fault applied) on the
//! way out.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use openssl::pkey::{PKey, Private};
use serde_json::{Value, json};

use crate::answer::replace_first;
use crate::error::Result;
use crate::faults::{
    Fault, NOT_BASE64_SIGNATURE, SignMode, SignatureHeader, UNKNOWN_CERTIFICATE_SERIAL,
    UNKNOWN_PUBLIC_KEY_ID,
};
use crate::sign::{SCHEME, response_message, rsa_sign};
use crate::state::{Signer, State};
use crate::util::{hex_upper, now_unix, random_alnum, random_bytes};

/// The content type of a JSON answer, as WeChat Pay spells it.
pub(crate) const JSON: &str = "application/json; charset=utf-8";

/// The `Wechatpay-Signature-Type` header, sent with every signed answer (204s and errors
/// included) and callback, as WeChat Pay does.
pub(crate) const SIGNATURE_TYPE: &str = "Wechatpay-Signature-Type";

/// What a route answers.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) content_type: Option<&'static str>,
    /// APIv3 answers are signed, except downloads.
    pub(crate) signed: bool,
    /// Which platform certificate signs it in certificate mode.
    pub(crate) signer: Signer,
    /// The key that signs it whatever the sandbox's sign mode (the certificate list).
    pub(crate) mode: Option<SignMode>,
    /// More headers (`Wechatpay-Statement-Sha1`).
    pub(crate) headers: Vec<(&'static str, String)>,
    /// What the signature covers instead of the body (an overseas statement's
    /// `{"sha1":"..."}`).
    pub(crate) sign_over: Option<Vec<u8>>,
}

impl Reply {
    /// A signed JSON answer.
    pub(crate) fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            body: serde_json::to_vec(body).unwrap_or_default(),
            content_type: Some(JSON),
            signed: true,
            signer: Signer::Newest,
            mode: None,
            headers: Vec::new(),
            sign_over: None,
        }
    }

    /// A signed 204.
    pub(crate) fn no_content() -> Reply {
        Reply {
            status: 204,
            body: Vec::new(),
            content_type: None,
            signed: true,
            signer: Signer::Newest,
            mode: None,
            headers: Vec::new(),
            sign_over: None,
        }
    }

    /// A signed answer of `status` with no body (a 204, or an operation whose answer
    /// carries nothing).
    pub(crate) fn no_content_with(status: u16) -> Reply {
        Reply {
            status,
            ..Reply::no_content()
        }
    }

    /// WeChat Pay's error body `{"code","message"}`, signed.
    pub(crate) fn error(status: u16, code: &str, message: impl Into<String>) -> Reply {
        Reply::json(status, &json!({ "code": code, "message": message.into() }))
    }

    /// `400 PARAM_ERROR` naming a missing field.
    pub(crate) fn required(field: &str) -> Reply {
        Reply::error(400, "PARAM_ERROR", format!("{field} is required"))
    }

    /// `400 PARAM_ERROR` with a message.
    pub(crate) fn param_error(message: impl Into<String>) -> Reply {
        Reply::error(400, "PARAM_ERROR", message)
    }

    /// An unsigned answer (a download).
    pub(crate) fn unsigned(status: u16, content_type: &'static str, body: Vec<u8>) -> Reply {
        Reply {
            status,
            body,
            content_type: Some(content_type),
            signed: false,
            signer: Signer::Newest,
            mode: None,
            headers: Vec::new(),
            sign_over: None,
        }
    }

    /// This answer, signed with a platform certificate whatever the sign mode.
    pub(crate) fn signed_by_certificate(mut self) -> Reply {
        self.mode = Some(SignMode::Certificate);
        self
    }

    /// This answer, signed in certificate mode with the oldest unexpired platform certificate.
    pub(crate) fn signed_by_oldest(mut self) -> Reply {
        self.signer = Signer::Oldest;
        self
    }

    /// This answer, signed in certificate mode with the certificate a test named for the
    /// certificate list (`Sandbox::sign_certificate_list_with`).
    pub(crate) fn signed_by_list_signer(mut self) -> Reply {
        self.signer = Signer::Named;
        self
    }
}

/// A fresh `Request-ID`.
pub(crate) fn request_id() -> String {
    random_bytes(16).map_or_else(|_| "0".repeat(32), |b| hex_upper(&b))
}

/// How far `stale-timestamp` and `future-timestamp` move `Wechatpay-Timestamp`.
const TIMESTAMP_SHIFT: i64 = 400;

/// The four signature headers of a payload, signed with the key of `mode` (in certificate
/// mode the platform certificate `signer` picks), with the signature faults of `faults`
/// applied. Also what callbacks carry.
pub(crate) struct SignatureHeaders {
    pub(crate) timestamp: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) signature: Option<String>,
    pub(crate) serial: Option<String>,
}

impl SignatureHeaders {
    pub(crate) fn new(
        state: &State,
        mode: SignMode,
        signer: Signer,
        faults: &[Fault],
        payload: &[u8],
    ) -> Result<SignatureHeaders> {
        let has = |fault: Fault| faults.contains(&fault);
        let mut timestamp = now_unix();
        if has(Fault::StaleTimestamp) {
            timestamp -= TIMESTAMP_SHIFT;
        }
        if has(Fault::FutureTimestamp) {
            timestamp += TIMESTAMP_SHIFT;
        }
        let timestamp = timestamp.to_string();
        let nonce = random_alnum(32)?;
        let signing = state.signing_key(mode, signer)?;
        let serial = match (has(Fault::UnknownSerial), mode) {
            (true, SignMode::Certificate | SignMode::Both) => UNKNOWN_CERTIFICATE_SERIAL.to_owned(),
            (true, SignMode::PublicKey) => UNKNOWN_PUBLIC_KEY_ID.to_owned(),
            (false, _) => signing.serial,
        };
        let key = if has(Fault::WrongKey) {
            wrong_key(state, mode)
        } else {
            signing.key
        };
        let signature = if has(Fault::SignatureNotBase64) {
            NOT_BASE64_SIGNATURE.to_owned()
        } else if has(Fault::BadSignature) {
            // Signed by the right key over another message: the timestamp a second later.
            let other = (timestamp.parse::<i64>().unwrap_or(0) + 1).to_string();
            rsa_sign(&key, &response_message(&other, &nonce, payload))?
        } else {
            rsa_sign(&key, &response_message(&timestamp, &nonce, payload))?
        };
        let mut headers = SignatureHeaders {
            timestamp: Some(timestamp),
            nonce: Some(nonce),
            signature: Some(signature),
            serial: Some(serial),
        };
        for fault in faults {
            if let Fault::MissingHeader(missing) = fault {
                match missing {
                    SignatureHeader::Timestamp => headers.timestamp = None,
                    SignatureHeader::Nonce => headers.nonce = None,
                    SignatureHeader::Signature => headers.signature = None,
                    SignatureHeader::Serial => headers.serial = None,
                }
            }
        }
        Ok(headers)
    }

    /// `(name, value)` of the headers present.
    pub(crate) fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            (SignatureHeader::Timestamp, &self.timestamp),
            (SignatureHeader::Nonce, &self.nonce),
            (SignatureHeader::Signature, &self.signature),
            (SignatureHeader::Serial, &self.serial),
        ]
        .into_iter()
        .filter_map(|(header, value)| value.as_deref().map(|v| (header.name(), v)))
        .collect()
    }
}

/// The key [`Fault::WrongKey`] signs with: the other platform key (the WeChat Pay public key's
/// in certificate mode, the newest certificate's in public-key mode, or the CA's when every
/// certificate has expired).
fn wrong_key(state: &State, mode: SignMode) -> PKey<Private> {
    let other = match mode {
        SignMode::Certificate | SignMode::Both => SignMode::PublicKey,
        SignMode::PublicKey => SignMode::Certificate,
    };
    state
        .signing_key(other, Signer::Newest)
        .map_or_else(|_| state.keys.ca_key.clone(), |k| k.key)
}

/// An APIv3 answer on its way out, in the terms [`render_answer`] needs.
pub(crate) struct Outgoing<'a> {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
    pub(crate) content_type: Option<&'a str>,
    /// The key that signs it, or `None` for an unsigned answer.
    pub(crate) signing: Option<(SignMode, Signer)>,
    /// What the signature covers instead of the body.
    pub(crate) sign_over: Option<&'a [u8]>,
    pub(crate) faults: &'a [Fault],
    /// Set after the generated headers: a name's first occurrence replaces the generated
    /// value, later ones add values.
    pub(crate) headers: &'a [(HeaderName, HeaderValue)],
    /// `(from, to)`: replacements in the body after signing.
    pub(crate) tampers: &'a [(Vec<u8>, Vec<u8>)],
}

/// The wire response of an APIv3 reply: `Request-ID`, and for a signed reply the signature
/// headers (with the signature faults applied).
pub(crate) fn render(
    state: &State,
    reply: Reply,
    mode: SignMode,
    fault: Option<Fault>,
) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers: Vec<(HeaderName, HeaderValue)> = reply
        .headers
        .iter()
        .filter_map(|(name, value)| {
            Some((
                HeaderName::from_static(name),
                HeaderValue::from_str(value).ok()?,
            ))
        })
        .collect();
    render_answer(
        state,
        Outgoing {
            status,
            body: reply.body,
            content_type: reply.content_type,
            signing: reply
                .signed
                .then_some((reply.mode.unwrap_or(mode), reply.signer)),
            sign_over: reply.sign_over.as_deref(),
            faults: fault.as_slice(),
            headers: &headers,
            tampers: &[],
        },
    )
}

/// [`render`] for any answer; a failure (to sign, to tamper) is a plain 500 saying why.
pub(crate) fn render_answer(state: &State, outgoing: Outgoing<'_>) -> Response<Full<Bytes>> {
    match try_render(state, outgoing) {
        Ok(response) => response,
        Err(e) => plain(500, format!("sandbox: cannot make the answer: {e}")),
    }
}

fn try_render(state: &State, outgoing: Outgoing<'_>) -> Result<Response<Full<Bytes>>> {
    let Outgoing {
        status,
        mut body,
        content_type,
        signing,
        sign_over,
        faults,
        headers: extra,
        tampers,
    } = outgoing;
    let mut headers = HeaderMap::new();
    headers.insert("Request-ID", header_value(&request_id())?);
    if let Some(content_type) = content_type {
        headers.insert(CONTENT_TYPE, header_value(content_type)?);
    }
    // An empty body cannot be changed: its tampering is signing over something else.
    let tampered = signing.is_some() && faults.contains(&Fault::TamperedBody);
    if let Some((mode, signer)) = signing {
        let mut payload = sign_over.unwrap_or(&body).to_vec();
        if tampered && body.is_empty() {
            payload.extend_from_slice(b"{}");
        }
        let signature = SignatureHeaders::new(state, mode, signer, faults, &payload)?;
        for (name, value) in signature.pairs() {
            headers.insert(name, header_value(value)?);
        }
        headers.insert(SIGNATURE_TYPE, HeaderValue::from_static(SCHEME));
    }
    set_extra_headers(&mut headers, extra);
    // A header named by a fault stays out, whoever set it.
    for fault in faults {
        if let Fault::MissingHeader(missing) = fault {
            headers.remove(missing.name());
        }
    }
    if tampered {
        if let Some(last) = body.last_mut() {
            *last = if *last == b'}' { b']' } else { b'}' };
        }
    }
    let body = tamper(body, tampers).map_err(crate::error::Error::Runtime)?;
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// `body` with each `(from, to)` applied in turn (the first `from` becomes `to`), or what is
/// missing.
pub(crate) fn tamper(mut body: Vec<u8>, tampers: &[(Vec<u8>, Vec<u8>)]) -> Result<Vec<u8>, String> {
    for (from, to) in tampers {
        body = replace_first(&body, from, to).ok_or_else(|| {
            format!(
                "Answer::tampered: the body has no {:?}",
                String::from_utf8_lossy(from)
            )
        })?;
    }
    Ok(body)
}

/// Sets `extra` on `headers`: a name's first occurrence replaces what is there, later ones
/// add values.
pub(crate) fn set_extra_headers(headers: &mut HeaderMap, extra: &[(HeaderName, HeaderValue)]) {
    let mut replaced: Vec<&HeaderName> = Vec::new();
    for (name, value) in extra {
        if replaced.contains(&name) {
            headers.append(name.clone(), value.clone());
        } else {
            replaced.push(name);
            headers.insert(name.clone(), value.clone());
        }
    }
}

fn header_value(value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(io)
}

fn io(e: impl std::fmt::Display) -> crate::error::Error {
    crate::error::Error::Runtime(e.to_string())
}

/// A plain-text answer with no signature (the sandbox's own failures).
pub(crate) fn plain(status: u16, text: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}
