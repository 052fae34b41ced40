//! `wxpay notify verify|decrypt --headers FILE --body FILE`.

use http::{HeaderMap, HeaderName, HeaderValue};
use wechatpay::notify::NotificationParser;

use crate::args::{Global, Notify, NotifyAction};
use crate::config::settings;
use crate::fail::{Fail, usage};

pub fn run(global: &Global, args: Notify) -> Result<(), Fail> {
    let headers = read_headers(&args.headers)?;
    let body = std::fs::read(&args.body)
        .map_err(|e| usage(format!("cannot read `{}`: {e}", args.body.display())))?;
    // A callback parser needs only the platform keys and the APIv3 key (no merchant id,
    // serial or private key).
    let settings = settings(global)?;
    let keys = settings.platform_ring()?;
    let apiv3_key = settings.require_apiv3_key("`notify`")?;
    let parser = NotificationParser::new(apiv3_key, keys.ring).map_err(Fail::from)?;
    match args.action {
        NotifyAction::Verify => {
            parser.verify(&headers, &body).map_err(Fail::from)?;
            note!("verified");
        }
        NotifyAction::Decrypt => {
            let notification = parser.parse(&headers, &body).map_err(Fail::from)?;
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
