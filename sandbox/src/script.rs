//! Scripts ([`Sandbox::script`](crate::Sandbox::script)): running one on a request that passed
//! the checks, and sending the [`Answer`] it chose.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;

use crate::answer::{Answer, Form, Signing};
use crate::faults::{Fault, SignMode};
use crate::log::LoggedRequest;
use crate::reply::{Outgoing, plain, render_answer, set_extra_headers, tamper};
use crate::state::{Signer, State};
use crate::v2;

/// A script: consulted for every request that passed the sandbox's checks; `None` leaves the
/// request to the sandbox's routes.
pub(crate) type Script = Arc<dyn Fn(&LoggedRequest) -> Option<Answer> + Send + Sync + 'static>;

/// The script's answer, or the message of its panic.
pub(crate) fn run(script: &Script, request: &LoggedRequest) -> Result<Option<Answer>, String> {
    catch_unwind(AssertUnwindSafe(|| script(request))).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        format!("the sandbox script panicked: {message}")
    })
}

/// The wire response of a script's answer, and every fault it is sent with: `mode` is the
/// request's sign mode, `faults` the sandbox's faults for the request (the answer's own are
/// added).
pub(crate) fn render(
    state: &State,
    answer: Answer,
    mode: SignMode,
    faults: &[Fault],
) -> (Response<Full<Bytes>>, Vec<Fault>) {
    let Answer {
        status,
        body,
        content_type,
        headers,
        faults: own,
        tampers,
        form,
    } = answer;
    let faults: Vec<Fault> = faults.iter().chain(&own).copied().collect();
    let response = match form {
        Form::V3 { signing, sign_over } => {
            let signing = match signing {
                Signing::Current => Some((mode, Signer::Newest)),
                Signing::Mode(mode) => Some((mode, Signer::Newest)),
                Signing::Unsigned => None,
            };
            render_answer(
                state,
                Outgoing {
                    status,
                    body,
                    content_type: content_type.as_deref(),
                    signing,
                    sign_over: sign_over.as_deref(),
                    faults: &faults,
                    headers: &headers,
                    tampers: &tampers,
                },
            )
        }
        Form::V2 { fields, sign } => {
            let xml = match sign {
                Some(sign_type) => v2::signed_xml(state, fields, sign_type, &faults),
                None => Ok(v2::write_xml(&fields)),
            };
            match xml {
                Ok(xml) => raw(
                    status,
                    content_type.as_deref(),
                    xml.into_bytes(),
                    &headers,
                    &tampers,
                ),
                Err(e) => plain(500, format!("sandbox: cannot make the answer: {e}")),
            }
        }
        Form::Raw => raw(status, content_type.as_deref(), body, &headers, &tampers),
    };
    (response, faults)
}

/// Exactly these bytes (tampered), with this content type and these headers.
fn raw(
    status: http::StatusCode,
    content_type: Option<&str>,
    body: Vec<u8>,
    headers: &[(http::HeaderName, http::HeaderValue)],
    tampers: &[(Vec<u8>, Vec<u8>)],
) -> Response<Full<Bytes>> {
    let body = match tamper(body, tampers) {
        Ok(body) => body,
        Err(e) => return plain(500, format!("sandbox: cannot make the answer: {e}")),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Some(content_type) = content_type.and_then(|c| http::HeaderValue::from_str(c).ok()) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, content_type);
    }
    set_extra_headers(response.headers_mut(), headers);
    response
}
