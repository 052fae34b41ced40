//! `wxpay sandbox pay|notify|rotate|fault|log|reset|status`: a running sandbox's control API
//! (unsigned JSON under `/sandbox/` on its port), over a plain HTTP/1.1 connection.
//!
//! The sandbox is found with `--sandbox URL`, else `$WECHATPAY_SANDBOX`, else the `base_uri`
//! of the profile (`wxpay --config DIR/wxpay.toml --profile sandbox sandbox ...`, the profile
//! `wxpay sandbox` writes).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::args::{Global, SandboxAction, SandboxNotify, SandboxTarget};
use crate::commands::{print_json, print_line};
use crate::config;
use crate::fail::{API, Fail, TRANSPORT, usage};

/// How long `log --follow` asks the sandbox to hold a poll open when nothing comes.
const FOLLOW_WAIT_SECONDS: u64 = 25;
/// How long an answer may take (beyond a poll's wait).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

pub fn run(global: &Global, action: SandboxAction) -> Result<(), Fail> {
    match action {
        SandboxAction::Pay { out_trade_no, to } => {
            let control = Control::find(global, &to)?;
            let answer = control.post(&format!("pay/{}", encode(&out_trade_no)), &json!({}))?;
            print_json(&answer)
        }
        SandboxAction::Notify(args) => notify(global, args),
        SandboxAction::Rotate { valid_for, to } => {
            let control = Control::find(global, &to)?;
            let body = match valid_for {
                Some(seconds) => json!({ "valid_for_seconds": seconds }),
                None => json!({}),
            };
            print_json(&control.post("rotate", &body)?)
        }
        SandboxAction::Fault { fault, path, to } => {
            let control = Control::find(global, &to)?;
            let mut body = json!({ "fault": fault.0.map(|f| f.to_string()) });
            if let Some(path) = path {
                body["path"] = json!(path);
            }
            print_json(&control.post("fault", &body)?)
        }
        SandboxAction::Log {
            follow,
            since,
            json,
            to,
        } => log(global, &to, follow, since, json),
        SandboxAction::Reset { to } => {
            let control = Control::find(global, &to)?;
            print_json(&control.post("reset", &json!({}))?)
        }
        SandboxAction::Status { to } => {
            let control = Control::find(global, &to)?;
            print_json(&control.get("status")?.json()?)
        }
    }
}

fn notify(global: &Global, args: SandboxNotify) -> Result<(), Fail> {
    let mut body = Map::new();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            body.insert(name.to_owned(), json!(value));
        }
    };
    put("out_trade_no", args.out_trade_no);
    put("out_refund_no", args.out_refund_no);
    put("event_type", args.event_type);
    put("summary", args.summary);
    put("original_type", args.original_type);
    put("url", args.url);
    put("variant", args.variant.map(|v| v.to_string()));
    if let Some(resource) = &args.resource {
        let value: Value = serde_json::from_str(resource)
            .map_err(|e| usage(format!("--resource is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(usage("--resource must be a JSON object"));
        }
        body.insert("resource".into(), value);
    }
    if args.no_retry {
        body.insert("retries".into(), json!(false));
    }
    let control = Control::find(global, &args.to)?;
    let delivery = control.post("notify", &Value::Object(body))?;
    print_json(&delivery)?;
    if delivery["acknowledged"] == json!(false) {
        note!("wxpay: note: {}", delivery_words(&delivery));
    }
    Ok(())
}

/// `log [--follow] [--since N] [--json]`
fn log(
    global: &Global,
    to: &SandboxTarget,
    follow: bool,
    since: u64,
    json: bool,
) -> Result<(), Fail> {
    let control = Control::find(global, to)?;
    let mut cursor = since;
    let mut wait = 0;
    loop {
        let answer = match control.get(&format!("log?since={cursor}&wait={wait}")) {
            Ok(answer) => answer,
            // Followed until the sandbox stops: then it is over, not an error.
            Err(fail) if wait > 0 && fail.code == TRANSPORT => {
                note!("wxpay: the sandbox at {} stopped", control.base);
                return Ok(());
            }
            Err(fail) => return Err(fail),
        };
        let next = answer
            .header("Sandbox-Log-Next")
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| unexpected(&control, "a log answer without Sandbox-Log-Next"))?;
        let text = String::from_utf8_lossy(&answer.body).into_owned();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if json {
                print_line(line)?;
            } else {
                let entry: Value = serde_json::from_str(line).map_err(|e| {
                    unexpected(&control, &format!("a log line that is not JSON: {e}"))
                })?;
                print_line(&entry_words(&entry))?;
            }
        }
        cursor = next;
        if !follow {
            return Ok(());
        }
        wait = FOLLOW_WAIT_SECONDS;
    }
}

/// One log entry in words: `[seq] HH:MM:SS METHOD TARGET: ok`, `...: refused: REASON`, or a
/// callback attempt.
fn entry_words(entry: &Value) -> String {
    let text = |name: &str| entry[name].as_str().unwrap_or_default().to_owned();
    let time = text("at").get(11..19).unwrap_or_default().to_owned();
    let seq = &entry["seq"];
    match entry["kind"].as_str() {
        Some("request") => {
            let port = if entry["tls"] == json!(true) {
                " (mutual TLS)"
            } else {
                ""
            };
            let verdict = match entry["verdict"].as_str() {
                Some("ok") => "ok".to_owned(),
                _ => format!("refused: {}", text("reason")),
            };
            format!(
                "[{seq}] {time} {} {}{port}: {verdict}",
                text("method"),
                text("target")
            )
        }
        Some("delivery") => format!(
            "[{seq}] {time} callback {} {} attempt {} to {}: {}",
            text("event_type"),
            text("notification_id"),
            entry["attempt"],
            text("url"),
            delivery_words(entry)
        ),
        _ => entry.to_string(),
    }
}

/// What came of a delivery attempt, in words.
fn delivery_words(delivery: &Value) -> String {
    let outcome = match delivery["outcome"].as_str() {
        Some("status") => format!("HTTP {}", delivery["status"]),
        Some("failed") => format!(
            "no answer: {}",
            delivery["error"].as_str().unwrap_or_default()
        ),
        Some("not-sent") => format!(
            "not sent: {}",
            delivery["error"].as_str().unwrap_or_default()
        ),
        _ => delivery.to_string(),
    };
    let acknowledged = delivery["acknowledged"] == json!(true);
    match delivery["next_attempt_in_ms"].as_u64() {
        Some(ms) => format!("{outcome}, next attempt in {}", duration_words(ms)),
        None if acknowledged => format!("{outcome}, acknowledged"),
        None if delivery["outcome"] == "not-sent" => outcome,
        None => format!("{outcome}, no more attempts"),
    }
}

/// `150 ms`, `15 s`, `1.8 s`.
fn duration_words(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        let text = format!("{:.3}", ms as f64 / 1000.0);
        format!("{} s", text.trim_end_matches('0'))
    }
}

/// Percent-encodes a path segment (everything but unreserved characters).
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn unexpected(control: &Control, what: &str) -> Fail {
    Fail {
        code: TRANSPORT,
        message: format!("{} answered with {what}", control.base),
        hint: Some("is it a `wxpay sandbox`?".to_owned()),
    }
}

/// An answer of the control API.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Result<Value, Fail> {
        serde_json::from_slice(&self.body).map_err(|e| Fail {
            code: TRANSPORT,
            message: format!("the sandbox's answer is not JSON: {e}"),
            hint: None,
        })
    }
}

/// A running sandbox's control API.
struct Control {
    /// `http://127.0.0.1:PORT/`, for messages.
    base: String,
    /// `127.0.0.1:PORT`
    authority: String,
}

impl Control {
    /// `--sandbox`, else `$WECHATPAY_SANDBOX`, else the profile's `base_uri`.
    fn find(global: &Global, to: &SandboxTarget) -> Result<Control, Fail> {
        let env = std::env::var("WECHATPAY_SANDBOX")
            .ok()
            .filter(|v| !v.is_empty());
        let (uri, source) = match (&to.sandbox, env) {
            (Some(uri), _) => (uri.clone(), "--sandbox"),
            (None, Some(uri)) => (uri, "$WECHATPAY_SANDBOX"),
            (None, None) => match config::settings(global)?.base_uri {
                Some(uri) => (uri, "the profile's base_uri"),
                None => {
                    return Err(usage(
                        "which sandbox? no --sandbox, $WECHATPAY_SANDBOX or base_uri",
                    )
                    .hint(
                        "give the address `wxpay sandbox` printed (--sandbox \
                             http://127.0.0.1:PORT/ or WECHATPAY_SANDBOX=...), or use the \
                             profile it wrote: wxpay --config DIR/wxpay.toml --profile sandbox \
                             sandbox ...",
                    ));
                }
            },
        };
        let parsed: http::Uri = uri
            .parse()
            .map_err(|e| usage(format!("{source} `{uri}` is not a URL: {e}")))?;
        let authority = match (parsed.scheme_str(), parsed.authority()) {
            (Some("http") | None, Some(authority)) => authority.as_str().to_owned(),
            _ => {
                return Err(usage(format!(
                    "{source} `{uri}` is not a sandbox's address: it is http://HOST:PORT/ (the \
                     control API is plain http)"
                )));
            }
        };
        Ok(Control {
            base: format!("http://{authority}/"),
            authority,
        })
    }

    fn get(&self, path: &str) -> Result<Answer, Fail> {
        self.exchange("GET", path, None)
    }

    /// POSTs `body` and gives the JSON answer.
    fn post(&self, path: &str, body: &Value) -> Result<Value, Fail> {
        self.exchange("POST", path, Some(body.to_string().into_bytes()))?
            .json()
    }

    /// One request on its own connection; an error answer is a [`Fail`].
    fn exchange(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Result<Answer, Fail> {
        let unreachable = |e: std::io::Error| Fail {
            code: TRANSPORT,
            message: format!("cannot reach the sandbox at {}: {e}", self.base),
            hint: Some(
                "is `wxpay sandbox` running there? (--sandbox URL, $WECHATPAY_SANDBOX or the \
                 profile's base_uri say where)"
                    .to_owned(),
            ),
        };
        let mut stream = TcpStream::connect(&self.authority).map_err(unreachable)?;
        let wait = path
            .split_once("wait=")
            .and_then(|(_, w)| w.parse::<u64>().ok())
            .unwrap_or(0);
        stream
            .set_read_timeout(Some(ANSWER_TIMEOUT + Duration::from_secs(wait)))
            .map_err(unreachable)?;
        let body = body.unwrap_or_default();
        let mut request = format!(
            "{method} /sandbox/{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Content-Length: {}\r\n",
            self.authority,
            body.len()
        );
        if !body.is_empty() {
            request.push_str("Content-Type: application/json\r\n");
        }
        request.push_str("\r\n");
        stream
            .write_all(request.as_bytes())
            .and_then(|()| stream.write_all(&body))
            .map_err(unreachable)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).map_err(unreachable)?;
        let answer = parse(&raw).ok_or_else(|| unexpected(self, "something that is not HTTP"))?;
        if answer.status >= 400 {
            let error = answer.json().unwrap_or(Value::Null);
            let (code, message) = match (error["code"].as_str(), error["message"].as_str()) {
                (Some(code), Some(message)) => (code.to_owned(), message.to_owned()),
                _ => (
                    format!("HTTP {}", answer.status),
                    String::from_utf8_lossy(&answer.body).trim().to_owned(),
                ),
            };
            return Err(Fail {
                code: API,
                message: format!("the sandbox refused: {code}: {message}"),
                hint: None,
            });
        }
        Ok(answer)
    }
}

/// An HTTP/1.1 answer read to the end of its connection.
fn parse(raw: &[u8]) -> Option<Answer> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some(Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(duration_words(150), "150 ms");
        assert_eq!(duration_words(15_000), "15 s");
        assert_eq!(duration_words(1_800), "1.8 s");
        assert_eq!(encode("N 1/é"), "N%201%2F%C3%A9");
        let entry = json!({
            "seq": 3, "kind": "delivery", "at": "2024-06-01T12:34:56+08:00",
            "event_type": "TRANSACTION.SUCCESS", "notification_id": "EV-1", "attempt": 2,
            "url": "http://127.0.0.1:9/n", "outcome": "status", "status": 500,
            "acknowledged": false, "next_attempt_in_ms": 30_000,
        });
        assert_eq!(
            entry_words(&entry),
            "[3] 12:34:56 callback TRANSACTION.SUCCESS EV-1 attempt 2 to http://127.0.0.1:9/n: \
             HTTP 500, next attempt in 30 s"
        );
    }
}
