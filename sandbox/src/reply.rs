//! APIv3 answers: what a route returns, and how it is signed (with any fault applied) on the
//! way out.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};

use crate::error::Result;
use crate::faults::{Fault, SignMode};
use crate::sign::{response_message, rsa_sign};
use crate::state::{Signer, State};
use crate::util::{hex_upper, now_unix, random_alnum, random_bytes};

/// The `Wechatpay-Serial` sent under [`Fault::UnknownSerial`] in certificate mode.
const UNKNOWN_CERTIFICATE_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
/// The `Wechatpay-Serial` sent under [`Fault::UnknownSerial`] in public-key mode.
const UNKNOWN_PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";

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
}

impl Reply {
    /// A signed JSON answer.
    pub(crate) fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            body: serde_json::to_vec(body).unwrap_or_default(),
            content_type: Some("application/json"),
            signed: true,
            signer: Signer::Newest,
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
        }
    }

    /// This answer, signed in certificate mode with the oldest unexpired platform certificate.
    pub(crate) fn signed_by_oldest(mut self) -> Reply {
        self.signer = Signer::Oldest;
        self
    }
}

/// A fresh `Request-ID`.
pub(crate) fn request_id() -> String {
    random_bytes(16).map_or_else(|_| "0".repeat(32), |b| hex_upper(&b))
}

/// The four signature headers of `body`, signed with the key of `mode` (in certificate mode the
/// platform certificate `signer` picks), with `fault` applied (the signature faults only). Also
/// what callbacks carry.
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
        fault: Option<Fault>,
        signed_body: &[u8],
    ) -> Result<SignatureHeaders> {
        let mut timestamp = now_unix();
        if fault == Some(Fault::StaleTimestamp) {
            timestamp -= 400;
        }
        let timestamp = timestamp.to_string();
        let nonce = random_alnum(32)?;
        let signing = state.signing_key(mode, signer)?;
        let (serial, key) = (signing.serial.as_str(), &signing.key);
        let serial = match (fault, mode) {
            (Some(Fault::UnknownSerial), SignMode::Certificate) => UNKNOWN_CERTIFICATE_SERIAL,
            (Some(Fault::UnknownSerial), SignMode::PublicKey) => UNKNOWN_PUBLIC_KEY_ID,
            _ => serial,
        };
        let message = response_message(&timestamp, &nonce, signed_body);
        let signature = if fault == Some(Fault::BadSignature) {
            // Signed by the right key over another message: the timestamp a second later.
            let other = (timestamp.parse::<i64>().unwrap_or(0) + 1).to_string();
            rsa_sign(key, &response_message(&other, &nonce, signed_body))?
        } else {
            rsa_sign(key, &message)?
        };
        let mut headers = SignatureHeaders {
            timestamp: Some(timestamp),
            nonce: Some(nonce),
            signature: Some(signature),
            serial: Some(serial.to_owned()),
        };
        if let Some(Fault::MissingHeader(missing)) = fault {
            use crate::faults::SignatureHeader as H;
            match missing {
                H::Timestamp => headers.timestamp = None,
                H::Nonce => headers.nonce = None,
                H::Signature => headers.signature = None,
                H::Serial => headers.serial = None,
            }
        }
        Ok(headers)
    }

    /// `(name, value)` of the headers present.
    pub(crate) fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("Wechatpay-Timestamp", &self.timestamp),
            ("Wechatpay-Nonce", &self.nonce),
            ("Wechatpay-Signature", &self.signature),
            ("Wechatpay-Serial", &self.serial),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
        .collect()
    }
}

/// The wire response of an APIv3 reply: `Request-ID`, and for a signed reply the signature
/// headers (with the signature faults applied).
pub(crate) fn render(
    state: &State,
    reply: Reply,
    mode: SignMode,
    fault: Option<Fault>,
) -> Response<Full<Bytes>> {
    match try_render(state, reply, mode, fault) {
        Ok(response) => response,
        Err(e) => plain(500, format!("sandbox: cannot sign the answer: {e}")),
    }
}

fn try_render(
    state: &State,
    reply: Reply,
    mode: SignMode,
    fault: Option<Fault>,
) -> Result<Response<Full<Bytes>>> {
    let Reply {
        status,
        mut body,
        content_type,
        signed,
        signer,
    } = reply;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // A 204 cannot carry a body: its tampering is signing over another one.
    let tampered = signed && fault == Some(Fault::TamperedBody);
    let signed_body: Vec<u8> = if tampered && body.is_empty() {
        b"{}".to_vec()
    } else {
        body.clone()
    };
    let mut builder = Response::builder()
        .status(status)
        .header("Request-ID", request_id());
    if let Some(content_type) = content_type {
        builder = builder.header(http::header::CONTENT_TYPE, content_type);
    }
    if signed {
        let headers = SignatureHeaders::new(state, mode, signer, fault, &signed_body)?;
        for (name, value) in headers.pairs() {
            builder = builder.header(name, HeaderValue::from_str(value).map_err(io)?);
        }
    }
    if tampered {
        if let Some(last) = body.last_mut() {
            *last = if *last == b'}' { b']' } else { b'}' };
        }
    }
    builder.body(Full::new(Bytes::from(body))).map_err(io)
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
