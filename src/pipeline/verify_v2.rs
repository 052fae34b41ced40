//! Turns a raw APIv2 answer into a verified [`Response`] or an error.

use crate::error::{ApiError, Error, Result};
use crate::response::Response;
use crate::v2::{Secret, UNSIGNED_ANSWERS, XmlError, verify};

/// Whether answers of this API path (after the base URI's prefix, `v2/` removed) carry a sign.
pub(crate) fn answers_are_signed(api_path: &str) -> bool {
    !UNSIGNED_ANSWERS.contains(&api_path)
}

/// Non-2xx, `return_code` or `result_code` not `SUCCESS` -> [`Api`](crate::ErrorKind::Api)
/// error; a signed endpoint's `sign` checked before `result_code` is read, so a business
/// failure is reported only from a verified answer.
pub(crate) fn finish(secret: &Secret, signed: bool, mut response: Response) -> Result<Response> {
    let parsed = if looks_like_xml(response.bytes()) {
        Some(crate::v2::parse_xml(response.bytes()))
    } else {
        None
    };
    if !response.status().is_success() {
        let api = match parsed {
            Some(Ok(map)) => ApiError::from_v2(response.status(), map),
            _ => ApiError::from_v2(response.status(), Default::default()),
        };
        return Err(Error::from_api(api, response));
    }
    if !signed {
        // Not XML (a bill), or XML of another kind (an HTML page): returned as it is.
        if let Some(Ok(map)) = parsed {
            if map.contains_key("return_code") {
                check_codes(map, response)
            } else {
                Ok(response)
            }
        } else {
            Ok(response)
        }
    } else {
        let map = match parsed {
            Some(Ok(map)) => map,
            Some(Err(e)) => return Err(not_xml(e)),
            None => return Err(not_xml(XmlError::Empty)),
        };
        match map.get("return_code").and_then(|v| v.as_str()) {
            Some("SUCCESS") => {}
            Some(_) => {
                return Err(Error::from_api(
                    ApiError::from_v2(response.status(), map),
                    response,
                ));
            }
            None => {
                return Err(Error::decode(
                    "the APIv2 answer has no `return_code`",
                    None,
                    "no return_code".to_owned(),
                ));
            }
        }
        if let Err(failure) = verify(&map, secret) {
            return Err(Error::from_verification(failure, response));
        }
        response.mark_verified();
        check_codes(map, response)
    }
}

fn check_codes(
    map: serde_json::Map<String, serde_json::Value>,
    response: Response,
) -> Result<Response> {
    let code = |name: &str| map.get(name).map(|v| v.as_str());
    let ok = code("return_code") == Some(Some("SUCCESS"))
        && matches!(code("result_code"), None | Some(Some("SUCCESS")));
    if ok {
        Ok(response)
    } else {
        Err(Error::from_api(
            ApiError::from_v2(response.status(), map),
            response,
        ))
    }
}

fn not_xml(e: XmlError) -> Error {
    Error::decode(format!("the APIv2 answer is not usable XML: {e}"), None, e)
}

/// The body starts (after an optional BOM and white space) with `<`.
fn looks_like_xml(body: &[u8]) -> bool {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'<')
}
