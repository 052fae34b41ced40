//! Turns a raw APIv2 answer into a verified [`Response`] or an error.

use crate::error::{ApiError, Error, Result, VerificationFailure};
use crate::response::Response;
use crate::v2::{RAW_ANSWERS, Secret, UNSIGNED_ANSWERS, verify};

/// How an endpoint's answers are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// XML with a `sign`.
    Signed,
    /// XML without a sign; `return_code` and `result_code` still checked.
    Unsigned,
    /// Unsigned and possibly not XML (a bill, a web page): a body without a `return_code` is
    /// returned as it is.
    Raw,
}

impl Answer {
    /// The rule for an API path (after the base URI's prefix, `v2/` removed).
    pub(crate) fn for_path(api_path: &str) -> Answer {
        if RAW_ANSWERS.contains(&api_path) {
            Answer::Raw
        } else if UNSIGNED_ANSWERS.contains(&api_path) {
            Answer::Unsigned
        } else {
            Answer::Signed
        }
    }
}

/// Non-2xx, `return_code` or `result_code` not `SUCCESS` -> [`Api`](crate::ErrorKind::Api)
/// error; a signed endpoint's `sign` checked before `result_code` is read, so a business
/// failure is reported only from a verified answer.
pub(crate) fn finish(
    secret: &Secret,
    rule: Answer,
    echo: &[(&'static str, String)],
    mut response: Response,
) -> Result<Response> {
    let parsed = crate::v2::parse_xml(response.bytes());
    if !response.status().is_success() {
        let api = ApiError::from_v2(response.status(), parsed.unwrap_or_default());
        return Err(Error::from_api(api, response));
    }
    let map = match parsed {
        Ok(map) if map.contains_key("return_code") => map,
        // A bill, a web page: returned as it is.
        _ if rule == Answer::Raw => return Ok(response),
        Ok(_) => {
            return Err(Error::decode(
                "the APIv2 answer has no `return_code`",
                None,
                "no return_code".to_owned(),
            ));
        }
        Err(e) => {
            return Err(Error::decode(
                format!("the APIv2 answer is not usable XML: {e}"),
                None,
                e,
            ));
        }
    };
    if map.get("return_code").and_then(|v| v.as_str()) != Some("SUCCESS") {
        return Err(Error::from_api(
            ApiError::from_v2(response.status(), map),
            response,
        ));
    }
    if rule == Answer::Signed {
        if let Err(failure) = verify(&map, secret) {
            return Err(Error::from_verification(failure, response));
        }
    }
    // A signed answer to another request (replayed: APIv2 answers carry no timestamp) echoes
    // that request's identifiers.
    if let Err(failure) = echoes(&map, echo) {
        return Err(Error::from_verification(failure, response));
    }
    if rule == Answer::Signed {
        response.mark_verified();
    }
    let code = |name: &str| map.get(name).map(|v| v.as_str());
    if matches!(code("result_code"), None | Some(Some("SUCCESS"))) {
        Ok(response)
    } else {
        Err(Error::from_api(
            ApiError::from_v2(response.status(), map),
            response,
        ))
    }
}

/// Every identifier the request sent that the answer carries too must be the request's.
fn echoes(
    answer: &serde_json::Map<String, serde_json::Value>,
    echo: &[(&'static str, String)],
) -> std::result::Result<(), VerificationFailure> {
    for (field, sent) in echo {
        if let Some(answered) = answer.get(*field).and_then(|v| v.as_str()) {
            if answered != sent {
                return Err(VerificationFailure::EchoMismatch {
                    field: (*field).to_owned(),
                    sent: sent.clone(),
                    answered: answered.to_owned(),
                });
            }
        }
    }
    Ok(())
}
