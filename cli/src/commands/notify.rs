//! `wxpay notify verify|decrypt --headers FILE --body FILE`.

use http::{HeaderMap, HeaderName, HeaderValue};
use wechatpay::keyring::KeyRing;
use wechatpay::notify::{Notification, NotificationParser};
use wechatpay::verifier::{CLOCK_WINDOW_SECS, TIMESTAMP, Verifier};
use wechatpay::{Error, VerificationFailure};

use crate::args::{Global, Notify, NotifyAction};
use crate::config::settings;
use crate::fail::{Fail, usage};
use crate::time::{rfc3339, unix_now};

pub fn run(global: &Global, args: Notify) -> Result<(), Fail> {
    let headers = read_headers(&args.headers)?;
    let body = std::fs::read(&args.body)
        .map_err(|e| usage(format!("cannot read `{}`: {e}", args.body.display())))?;
    // A callback parser needs only the platform keys and the APIv3 key (no merchant id,
    // serial or private key).
    let settings = settings(global)?;
    let keys = settings.platform_ring()?;
    let apiv3_key = settings.require_apiv3_key("`notify`")?;
    let clock = Clock {
        ring: keys.ring,
        at: args.at,
        max_age: args.max_age.map(i64::from),
    };
    let parser = NotificationParser::new(apiv3_key, clock).map_err(Fail::from)?;
    let check = |body: &[u8]| -> Result<Option<Notification>, Error> {
        match args.action {
            NotifyAction::Verify => parser.verify(&headers, body).map(|()| None),
            NotifyAction::Decrypt => parser.parse(&headers, body).map(Some),
        }
    };
    let outcome = match check(&body) {
        // A line break the signature does not cover, added by an editor or `echo` when the
        // body was saved: the signature decides over the body without it.
        Err(e) if is_bad_signature(&e) && trailing_line_break(&body) > 0 => {
            let trimmed = &body[..body.len() - trailing_line_break(&body)];
            let outcome = check(trimmed).map_err(|_| e);
            if outcome.is_ok() {
                note!(
                    "note: `{}` ends with a line break the signature does not cover (an editor \
                     or `echo` added it): checked without it",
                    args.body.display()
                );
            }
            outcome
        }
        outcome => outcome,
    };
    match outcome.map_err(|e| verification_fail(e, &args))? {
        None => note!("verified"),
        Some(notification) => {
            note!(
                "verified: {} {} ({})",
                notification.id(),
                notification.event_type(),
                notification.summary()
            );
            match serde_json::from_slice::<serde_json::Value>(notification.resource()) {
                Ok(json) => super::print_json(&json)?,
                Err(_) => super::print_line(&String::from_utf8_lossy(notification.resource()))?,
            }
        }
    }
    Ok(())
}

/// The platform keys, checked at `--at` (else now), accepting a signature up to `--max-age`
/// seconds old (else the client's 300). Within that age, the signature and the certificate's
/// validity are checked at the time it was signed.
struct Clock {
    ring: KeyRing,
    at: Option<i64>,
    max_age: Option<i64>,
}

impl Verifier for Clock {
    fn verify(&self, headers: &HeaderMap, payload: &[u8]) -> Result<(), VerificationFailure> {
        let mut now = self.at.unwrap_or_else(unix_now);
        // Only a timestamp the library would take (digits): anything else it refuses itself.
        let signed_at = headers
            .get(TIMESTAMP)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 18 && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<i64>().ok());
        if let (Some(max_age), Some(signed_at)) = (self.max_age, signed_at) {
            if now.saturating_sub(signed_at) > max_age {
                return Err(VerificationFailure::StaleTimestamp {
                    timestamp: signed_at,
                    now,
                });
            }
            if signed_at <= now {
                now = signed_at;
            }
        }
        self.ring.verify_at(headers, payload, now)
    }
}

fn is_bad_signature(e: &Error) -> bool {
    matches!(
        e.verification(),
        Some(VerificationFailure::BadSignature { .. })
    )
}

/// How many bytes of line break (`\n` or `\r\n`, once) end the body.
fn trailing_line_break(body: &[u8]) -> usize {
    if body.ends_with(b"\r\n") {
        2
    } else if body.ends_with(b"\n") {
        1
    } else {
        0
    }
}

/// A failed check, with the hint that fits it.
fn verification_fail(e: Error, args: &Notify) -> Fail {
    let hint = match e.verification() {
        Some(VerificationFailure::StaleTimestamp { timestamp, now }) => Some(format!(
            "it was signed at {} ({} s before {}); a callback captured earlier is checked with \
             --max-age SECONDS or --at TIME (Unix seconds or RFC 3339)",
            rfc3339(*timestamp),
            now.saturating_sub(*timestamp),
            if args.at.is_some() { "--at" } else { "now" },
        )),
        Some(VerificationFailure::FutureTimestamp { timestamp, now }) => Some(format!(
            "it is signed at {}, more than {CLOCK_WINDOW_SECS} s after {}: check the clock, \
             or give the time it was received with --at",
            rfc3339(*timestamp),
            rfc3339(*now),
        )),
        Some(VerificationFailure::BadSignature { .. }) => Some(format!(
            "the body must be byte for byte what WeChat Pay sent (`{}`: not reformatted, no \
             added line break), with the headers of the same delivery; else check the \
             platform keys (--platform-key ID=PATH)",
            args.body.display()
        )),
        _ => None,
    };
    let fail = Fail::from(e);
    match hint {
        Some(hint) => fail.hint(hint),
        None => fail,
    }
}

/// `Name: value` per line (a leading HTTP status line and blank lines are skipped).
fn read_headers(path: &std::path::Path) -> Result<HeaderMap, Fail> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read `{}`: {e}", path.display())))?;
    let mut headers = HeaderMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with("HTTP/") || line.starts_with("POST ") {
            continue;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| {
            usage(format!(
                "{} line {}: expected `Name: value`",
                path.display(),
                n + 1
            ))
        })?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            usage(format!(
                "{} line {}: bad header name",
                path.display(),
                n + 1
            ))
        })?;
        let value = HeaderValue::from_str(value.trim()).map_err(|_| {
            usage(format!(
                "{} line {}: bad header value",
                path.display(),
                n + 1
            ))
        })?;
        headers.append(name, value);
    }
    Ok(headers)
}
