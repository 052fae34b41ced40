//! Turns a raw response into a verified [`Response`] or an error.

use http::Method;
use percent_encoding::percent_decode_str;

use crate::clock::unix_now;
use crate::error::{ApiError, Error, Result, VerificationFailure};
use crate::replay::{Fingerprint, ReplayMemory, Sighting};
use crate::response::Response;
use crate::transport::Lane;
use crate::verifier::Verifier;

/// Downloads WeChat Pay does not sign (their integrity comes from a hash in a signed response).
const UNSIGNED: [&str; 5] = [
    "/v3/billdownload/file",
    "/v3/new-tax-control-fapiao/download",
    "/v3/transferdownload/elecvoucherfile",
    "/v3/transferdownload/signfile",
    "/v3/statements",
];
/// `<prefix><media id>` is an unsigned image download; `<prefix>upload` is signed.
const UNSIGNED_IMAGES: [&str; 2] = [
    "/v3/merchant-service/images/",
    "/v3/global/merchant-service/images/",
];
/// The overseas statements: the signature covers `{"sha1":"<Wechatpay-Statement-Sha1>"}`.
const STATEMENT_SHA1: &str = "/v3/global/statements";
const STATEMENT_SHA1_HEADER: &str = "Wechatpay-Statement-Sha1";

/// How an endpoint's 2xx answers are verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    /// The signature covers the body.
    Body,
    /// Not signed by WeChat Pay.
    Unsigned,
    /// The signature covers `{"sha1":"..."}`, and the body must hash to it.
    StatementSha1,
}

impl Rule {
    /// The rule for a request. Only `GET`s of the listed paths go unverified, and an image id
    /// that a server could read as `upload` (percent-encoded, or with `;parameters`) does not.
    pub(crate) fn for_request(method: &Method, api_path: &str) -> Rule {
        if method != Method::GET {
            return Rule::Body;
        }
        if UNSIGNED.contains(&api_path) {
            return Rule::Unsigned;
        }
        for prefix in UNSIGNED_IMAGES {
            if let Some(id) = api_path.strip_prefix(prefix) {
                let decoded = percent_decode_str(id).decode_utf8_lossy();
                let plain = !decoded.is_empty() && !decoded.contains(['/', ';', '?', '#']);
                if plain && !decoded.eq_ignore_ascii_case("upload") {
                    return Rule::Unsigned;
                }
            }
        }
        if api_path == STATEMENT_SHA1 {
            Rule::StatementSha1
        } else {
            Rule::Body
        }
    }
}

/// Non-2xx -> [`Api`](crate::ErrorKind::Api) error; 2xx -> verified by the endpoint's rule.
pub(crate) fn finish(
    verifier: &dyn Verifier,
    rule: Rule,
    mut response: Response,
) -> Result<Response> {
    if !response.status().is_success() {
        return Err(api_error_of(response));
    }
    let outcome = match rule {
        Rule::Unsigned => return Ok(response),
        Rule::Body => verifier
            .verify(response.headers(), response.bytes())
            .and_then(|()| no_error_document(&response)),
        Rule::StatementSha1 => verify_statement(verifier, &response),
    };
    match outcome {
        Ok(()) => {
            response.mark_verified();
            Ok(response)
        }
        Err(failure) => Err(Error::from_verification(failure, response)),
    }
}

fn verify_statement(
    verifier: &dyn Verifier,
    response: &Response,
) -> Result<(), VerificationFailure> {
    let sha1 = statement_sha1(response.headers())?;
    let digest =
        crate::crypto::sha1(response.bytes()).map_err(|_| VerificationFailure::InvalidHeader {
            name: STATEMENT_SHA1_HEADER,
            reason: "SHA-1 unavailable",
        })?;
    if !crate::crypto::hex_lower(&digest).eq_ignore_ascii_case(sha1) {
        return Err(VerificationFailure::DigestMismatch);
    }
    verifier.verify(response.headers(), statement_document(sha1).as_bytes())
}

/// A 2xx answer whose body is an error document (`code` and `message`, and nothing else but
/// `detail`, the code a word such as `ORDER_NOT_EXIST`): the signed body of an error answer
/// served with a success status. A code of digits only is not an error's: some operations
/// answer success as `{"code":"000000","message":"成功"}` (the `v3/gov/subsidy/...` ones). Only
/// small JSON objects are read: error documents are.
fn no_error_document(response: &Response) -> Result<(), VerificationFailure> {
    const AT_MOST: usize = 64 << 10;
    let body = response.bytes();
    let looks_like_one = body.len() <= AT_MOST
        && body.trim_ascii_start().starts_with(b"{")
        && contains(body, b"\"code\"")
        && contains(body, b"\"message\"");
    if !looks_like_one {
        return Ok(());
    }
    let Ok(document) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body)
    else {
        return Ok(());
    };
    let only_error_fields = document
        .keys()
        .all(|k| matches!(k.as_str(), "code" | "message" | "detail"));
    match (&document.get("code"), &document.get("message")) {
        (Some(serde_json::Value::String(code)), Some(serde_json::Value::String(_)))
            if only_error_fields && code.bytes().any(|b| b.is_ascii_alphabetic()) =>
        {
            Err(VerificationFailure::ErrorDocument {
                status: response.status().as_u16(),
                code: code.clone(),
            })
        }
        _ => Ok(()),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Remembers a verified answer in `memory` until its timestamp leaves the window: a second
/// sighting is a [`Replayed`](VerificationFailure::Replayed) failure. The headers were checked
/// already (the signature verified).
///
/// On the blocking lane the memory is asked with [`ReplayMemory::sight`], on the calling
/// thread, which polls the pipeline and may wait there: a memory that asks a server (Redis)
/// then does one round trip from that thread, where its async form would hand the command to
/// the lane's runtime thread and back (two more thread wake-ups per answer). The async lane
/// awaits [`ReplayMemory::sight_async`].
pub(crate) async fn first_sighting(
    memory: &dyn ReplayMemory,
    lane: Lane<'_>,
    headers: &http::HeaderMap,
) -> Result<(), VerificationFailure> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let (serial, nonce) = (text(crate::verifier::SERIAL), text(crate::verifier::NONCE));
    let timestamp: i64 = text(crate::verifier::TIMESTAMP).parse().unwrap_or(0);
    let fingerprint = Fingerprint::of(serial, nonce, text(crate::verifier::SIGNATURE));
    let expires_at = timestamp.saturating_add(crate::verifier::CLOCK_WINDOW_SECS);
    let now = unix_now();
    let sighting = if lane.is_blocking() {
        memory.sight(&fingerprint, expires_at, now)
    } else {
        memory.sight_async(&fingerprint, expires_at, now).await
    };
    match sighting {
        Sighting::First => Ok(()),
        Sighting::Again => Err(VerificationFailure::Replayed {
            serial: serial.to_owned(),
            nonce: nonce.to_owned(),
        }),
    }
}

/// The `Wechatpay-Statement-Sha1` header of an overseas statement: 40 hex digits.
pub(crate) fn statement_sha1(headers: &http::HeaderMap) -> Result<&str, VerificationFailure> {
    let value = headers
        .get(STATEMENT_SHA1_HEADER)
        .ok_or(VerificationFailure::MissingHeader(STATEMENT_SHA1_HEADER))?;
    let hex = value.as_bytes();
    if hex.len() != 40 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return Err(VerificationFailure::InvalidHeader {
            name: STATEMENT_SHA1_HEADER,
            reason: "not a SHA-1 in hex (40 hex digits)",
        });
    }
    // All ASCII, as just checked.
    Ok(std::str::from_utf8(hex).unwrap_or_default())
}

/// What an overseas statement's signature covers.
fn statement_document(sha1: &str) -> String {
    format!(r#"{{"sha1":"{sha1}"}}"#)
}

/// The statement's signature, checked from its headers before the body is read: it covers
/// `{"sha1":"<Wechatpay-Statement-Sha1>"}`. The body must then hash to that SHA-1.
pub(crate) fn verify_statement_headers(
    verifier: &dyn Verifier,
    headers: &http::HeaderMap,
) -> Result<(), VerificationFailure> {
    let sha1 = statement_sha1(headers)?;
    verifier.verify(headers, statement_document(sha1).as_bytes())
}

/// The [`Api`](crate::ErrorKind::Api) error of a non-2xx APIv3 answer.
pub(crate) fn api_error_of(response: Response) -> Error {
    Error::from_api(api_error(&response), response)
}

fn api_error(response: &Response) -> ApiError {
    #[derive(serde::Deserialize)]
    struct Body {
        code: Option<String>,
        message: Option<String>,
        detail: Option<serde_json::Value>,
    }
    let body: Option<Body> = serde_json::from_slice(response.bytes()).ok();
    let (code, message, detail) = match body {
        Some(b) => (b.code, b.message, b.detail),
        None => (None, None, None),
    };
    ApiError {
        status: response.status(),
        code,
        message,
        detail,
        request_id: response.request_id().map(str::to_owned),
        xml: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_follow_the_protocol_list() {
        assert_eq!(
            Rule::for_request(&Method::GET, "/v3/billdownload/file"),
            Rule::Unsigned
        );
        assert_eq!(
            Rule::for_request(&Method::GET, "/v3/statements"),
            Rule::Unsigned
        );
        assert_eq!(
            Rule::for_request(&Method::GET, "/v3/merchant-service/images/abc%3D"),
            Rule::Unsigned
        );
        assert_eq!(
            Rule::for_request(&Method::GET, "/v3/global/merchant-service/images/abc"),
            Rule::Unsigned
        );
        assert_eq!(
            Rule::for_request(&Method::GET, "/v3/merchant-service/images/upload"),
            Rule::Body
        );
        assert_eq!(
            Rule::for_request(&Method::GET, "/v3/merchant-service/images/"),
            Rule::Body
        );
        assert_eq!(
            Rule::for_request(&Method::GET, "/v3/merchant-service/images/a/b"),
            Rule::Body
        );
        assert_eq!(
            Rule::for_request(&Method::GET, "/v3/global/statements"),
            Rule::StatementSha1
        );
        assert_eq!(
            Rule::for_request(&Method::GET, "/v3/billdownload/file/x"),
            Rule::Body
        );
        assert_eq!(
            Rule::for_request(&Method::GET, "/v3/pay/transactions/native"),
            Rule::Body
        );
    }

    #[test]
    fn nothing_a_server_could_read_as_a_signed_endpoint_goes_unverified() {
        let get = |p| Rule::for_request(&Method::GET, p);
        assert_eq!(get("/v3/merchant-service/images/%75pload"), Rule::Body);
        assert_eq!(get("/v3/merchant-service/images/UPLOAD"), Rule::Body);
        assert_eq!(get("/v3/merchant-service/images/upload;v=1"), Rule::Body);
        assert_eq!(get("/v3/merchant-service/images/a%2Fb"), Rule::Body);
        assert_eq!(get("/v3/merchant-service/images/a%3Bb"), Rule::Body);
        for method in [
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::HEAD,
        ] {
            assert_eq!(
                Rule::for_request(&method, "/v3/billdownload/file"),
                Rule::Body
            );
            assert_eq!(
                Rule::for_request(&method, "/v3/merchant-service/images/abc"),
                Rule::Body
            );
        }
    }
}
