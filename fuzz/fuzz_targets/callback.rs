//! `notify::NotificationParser`: `verify` and `parse` of a callback (headers + body), then what
//! a handler does with the result (`Notification::text` / `json`, `notify::failure_for`).
//!
//! Input: a header block, an empty line, the body (see `src/lib.rs`). `@now` in a header value
//! is the current time; `@sign` a valid signature over the final body. In the body, the text
//! `@SEALED@` is replaced by base64(AES-256-GCM(APIv3 key, nonce, associated data, plaintext))
//! where nonce and associated data are `resource.nonce` / `resource.associated_data` of the
//! body (when it is JSON) and the plaintext is whatever follows the first `\n@@\n` of the body
//! (cut off the body). Without these, the fuzzer could never get past the signature and the
//! GCM tag.
//!
//! Checked, besides "never panics":
//! - no input without `@sign` passes `verify` or `parse` (no forged signature);
//! - `parse` succeeds only if `verify` does;
//! - a parsed notification's resource is exactly the sealed plaintext.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde_json::Value;
use wechatpay::crypto::{Apiv3Key, base64_encode};
use wechatpay::notify::{self, NotificationParser};
use wechatpay_fuzz::{APIV3_KEY, HeaderBlock, debug, find, split, unix_now, verifier};

const SEALED: &[u8] = b"@SEALED@";
const PLAINTEXT_MARK: &[u8] = b"\n@@\n";

fn parser() -> &'static NotificationParser {
    static PARSER: std::sync::OnceLock<NotificationParser> = std::sync::OnceLock::new();
    PARSER.get_or_init(|| NotificationParser::new(APIV3_KEY, verifier()).unwrap())
}

/// What a handler would decode: the documented transaction fields.
#[allow(dead_code)]
#[derive(Deserialize, Debug)]
struct Transaction {
    out_trade_no: String,
    transaction_id: Option<String>,
    trade_state: String,
    amount: Option<Amount>,
}

#[allow(dead_code)]
#[derive(Deserialize, Debug)]
struct Amount {
    total: u64,
    currency: Option<String>,
}

fuzz_target!(|data: &[u8]| {
    let (block, body) = split(data);
    let block = HeaderBlock::parse(block);

    // The sealed resource: cut the plaintext off, encrypt it, put it where `@SEALED@` is.
    let (body, plaintext) = match find(body, PLAINTEXT_MARK) {
        Some(i) => (&body[..i], Some(&body[i + PLAINTEXT_MARK.len()..])),
        None => (body, None),
    };
    let mut body = body.to_vec();
    let mut sealed_as: Option<(String, &[u8])> = None;
    if let (Some(plaintext), Some(at)) = (plaintext, find(&body, SEALED)) {
        let (nonce, aad) = match serde_json::from_slice::<Value>(&body) {
            Ok(v) => {
                let text = |name: &str| {
                    v.pointer(&format!("/resource/{name}"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                (text("nonce"), text("associated_data"))
            }
            Err(_) => (String::new(), String::new()),
        };
        let key = Apiv3Key::new(APIV3_KEY).unwrap();
        if let Ok(sealed) = key.encrypt(nonce.as_bytes(), aad.as_bytes(), plaintext) {
            let sealed = base64_encode(&sealed);
            body.splice(at..at + SEALED.len(), sealed.clone().into_bytes());
            sealed_as = Some((sealed, plaintext));
        }
    }

    let headers = block.headers(unix_now(), &body);
    let parser = parser();

    let verified = parser.verify(&headers, &body);
    let parsed = parser.parse(&headers, &body);
    if !block.wants_signature() {
        assert!(verified.is_err(), "verify accepted an unsigned callback");
        assert!(parsed.is_err(), "parse accepted an unsigned callback");
    }
    if debug() {
        eprintln!("callback: verify={verified:?}\n  parse={parsed:?}");
    }
    match parsed {
        Ok(notification) => {
            assert!(verified.is_ok(), "parse succeeded where verify failed");
            let _ = format!("{notification:?}");
            let _ = notification.text();
            let _ = notification.json::<Value>();
            if let Err(e) = notification.json::<Transaction>() {
                // The redacted message must not panic to build, nor lose the path.
                let _ = (e.to_string(), e.json_path());
            }
            if let Some((sealed, plaintext)) = sealed_as {
                let envelope: Value = serde_json::from_slice(&body).unwrap();
                if envelope
                    .pointer("/resource/ciphertext")
                    .and_then(Value::as_str)
                    == Some(sealed.as_str())
                {
                    assert_eq!(notification.resource(), plaintext);
                }
            }
        }
        Err(e) => {
            let answer = notify::failure_for(&e);
            assert!(answer.status().is_client_error() || answer.status().is_server_error());
            let _ = (
                e.to_string(),
                format!("{e:?}"),
                e.json_path(),
                e.verification(),
            );
        }
    }
});
