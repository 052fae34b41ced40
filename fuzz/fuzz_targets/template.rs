//! `UriTemplate::parse`, then `expand` and `expand_strict` over variables from the input.
//!
//! Input (UTF-8): the first line is the template; every further line gives a variable, either
//! `name=value` or a bare `value` for the template's next variable (in `variables()` order).
//! A value that parses as JSON is used as that JSON value (so lists, objects, numbers, `null`
//! and nested values reach the expander), anything else as a string.
//!
//! Checked, besides "never panics":
//! - `as_str()`, `Display` and `FromStr` give back exactly the input;
//! - every expansion is ASCII (RFC 6570 output is percent-encoded);
//! - when `expand_strict` succeeds, `expand` gives the same string;
//! - a template without expressions expands to the same text whatever the variables.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use wechatpay::template::UriTemplate;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let source = lines.next().unwrap_or_default();
    let template = match UriTemplate::parse(source) {
        Ok(t) => t,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(template.as_str(), source);
    assert_eq!(template.to_string(), source);
    assert_eq!(source.parse::<UriTemplate>().as_ref(), Ok(&template));

    let names: Vec<&str> = template.variables().map(|(name, _)| name).collect();
    let mut next = names.iter();
    let mut vars = Map::new();
    for line in lines {
        let (name, value) = match line.split_once('=') {
            Some((name, value)) if !name.is_empty() && !name.starts_with(['"', '[', '{']) => {
                (name.to_owned(), value)
            }
            _ => match next.next() {
                Some(name) => ((*name).to_owned(), line),
                None => break,
            },
        };
        let value = serde_json::from_str::<Value>(value)
            .unwrap_or_else(|_| Value::String(value.to_owned()));
        vars.insert(name, value);
    }

    let plain = template.expand(&vars);
    let strict = template.expand_strict(&vars);
    if wechatpay_fuzz::debug() {
        eprintln!("template {source:?} vars={vars:?}\n  expand={plain:?}\n  strict={strict:?}");
    }
    for out in [&plain, &strict] {
        match out {
            Ok(s) => assert!(s.is_ascii(), "non-ASCII expansion {s:?} of {source:?}"),
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    if let Ok(s) = &strict {
        assert_eq!(
            plain.as_ref(),
            Ok(s),
            "expand and expand_strict disagree on {source:?}"
        );
    }
    if names.is_empty() {
        let empty = template.expand(&Map::new());
        assert_eq!(empty.as_ref(), plain.as_ref());
        assert_eq!(template.expand_strict(&Map::new()).as_ref(), plain.as_ref());
    }
});
