//! `v2::parse_xml` (the APIv2 XML reader), and what is done with its map: `v2::verify`,
//! `v2::verify_callback`, `v2::decrypt_req_info`, plus the `v2::reply` writer.
//!
//! Input: the raw body (any bytes).
//!
//! Checked, besides "never panics":
//! - `verify_callback(body)` succeeds exactly when `parse_xml(body)` does and `verify` accepts;
//! - a map of plain strings, signed with `v2::sign` (MD5 and HMAC-SHA256), passes `verify`,
//!   unless a name is not ASCII letters, digits and `_` or a value holds `&return_code=` or
//!   `&result_code=`, when it fails with `AmbiguousField`;
//! - the refused `sign` of a map holding a nested or repeated element stays refused;
//! - `reply(Err(text))` parses back, with `return_msg` = the text with the XML-forbidden
//!   characters dropped (by `reply`), then `\r\n` and `\r` read as `\n` (by the reader).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use wechatpay::VerificationFailure;
use wechatpay::v2::{self, Secret, SignType};

fn secret() -> &'static Secret {
    static SECRET: std::sync::OnceLock<Secret> = std::sync::OnceLock::new();
    SECRET.get_or_init(|| Secret::new("192006250b4c09247ec02edce69f6a2d").unwrap())
}

fuzz_target!(|data: &[u8]| {
    let secret = secret();
    let parsed = v2::parse_xml(data);
    let callback = v2::verify_callback(data, secret);
    if wechatpay_fuzz::debug() {
        eprintln!("xml: parse={parsed:?}\n  verify_callback={callback:?}");
    }
    match &parsed {
        Err(e) => {
            let _ = e.to_string();
            assert!(callback.is_err());
        }
        Ok(map) => {
            let verified = v2::verify(map, secret);
            if let Err(e) = &verified {
                let _ = e.to_string();
            }
            assert_eq!(callback.is_ok(), verified.is_ok());
            if let Ok(fields) = &callback {
                assert_eq!(fields, map);
            }

            // Sign what was read, then verify it: both sign types.
            let plain: Option<Vec<(&str, &str)>> = map
                .iter()
                .filter(|(k, _)| k.as_str() != "sign")
                .map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
                .collect();
            if let Some(pairs) = plain {
                for sign_type in [SignType::Md5, SignType::HmacSha256] {
                    let sign = v2::sign(pairs.iter().copied(), secret, sign_type).unwrap();
                    let mut signed = map.clone();
                    signed.insert("sign".to_owned(), Value::String(sign));
                    let ambiguous = pairs.iter().any(|(k, v)| {
                        k.is_empty()
                            || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                            || v.contains("&return_code=")
                            || v.contains("&result_code=")
                    });
                    match v2::verify(&signed, secret) {
                        Ok(()) => assert!(!ambiguous, "an ambiguous map verifies: {signed:?}"),
                        Err(VerificationFailure::AmbiguousField { .. }) if ambiguous => {}
                        Err(e) => panic!("a freshly signed map fails verify ({e}): {signed:?}"),
                    }
                }
            } else if map.len() > 1 || !map.contains_key("sign") {
                let mut signed = map.clone();
                signed.insert("sign".to_owned(), Value::String("0".repeat(32)));
                assert!(v2::verify(&signed, secret).is_err());
            }

            if let Some(req_info) = map.get("req_info").and_then(Value::as_str) {
                let refund = v2::decrypt_req_info(req_info, secret);
                if wechatpay_fuzz::debug() {
                    eprintln!("  req_info={refund:?}");
                }
                if let Err(e) = refund {
                    let _ = e.to_string();
                }
            }
        }
    }

    // The reply writer: whatever the message, the reader gets it back.
    if let Ok(text) = std::str::from_utf8(data) {
        let xml = v2::reply(Err(text));
        let back = v2::parse_xml(xml.as_bytes())
            .unwrap_or_else(|e| panic!("reply() wrote XML the reader refuses ({e}): {xml:?}"));
        // reply() drops the forbidden characters, then the reader reads its line ends: so
        // "\r\0\n" comes back as one "\n" (where the reader, given that text directly,
        // reads two: it normalises line ends before it drops characters).
        let expected = v2::sanitize(text).replace("\r\n", "\n").replace('\r', "\n");
        assert_eq!(back.get("return_code"), Some(&Value::from("FAIL")));
        assert_eq!(
            back.get("return_msg").and_then(Value::as_str),
            Some(expected.as_str()),
            "reply() message does not read back: {xml:?}"
        );
    }
});
