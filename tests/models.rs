//! The typed models against the catalogue they are generated from: every operation has its
//! model, and every operation's example body and example answer decode into the model and
//! re-serialise to the same JSON. A failure names the operation and the JSON path.
//!
//! Needs every area: `cargo test --features api-all,catalogue --test models`.
#![cfg(all(feature = "catalogue", feature = "api-all"))]

#[path = "models/all.rs"]
mod all;

use std::collections::HashMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use wechatpay::Options;
use wechatpay::api::{AnswerKind, BodyKind, Host, Request, Spec};
use wechatpay::catalogue;

/// Decodes an example into a model and back: the JSON the model writes.
type RoundTrip = fn(&Value) -> Result<Value, String>;
/// The same for a request body, with the options that carry its parameters.
type RequestRoundTrip = fn(&Value, Options) -> Result<Value, String>;

/// One operation's model.
pub struct Entry {
    spec: Spec,
    request: RequestRoundTrip,
    answer: Option<RoundTrip>,
}

impl Entry {
    /// An operation whose answer has a model (a struct, or JSON as it came).
    pub fn with_answer<R>() -> Entry
    where
        R: Request + Serialize + DeserializeOwned,
        R::Answer: Serialize + DeserializeOwned,
    {
        Entry {
            spec: R::SPEC,
            request: request_round_trip::<R>,
            answer: Some(answer_round_trip::<R>),
        }
    }

    /// An operation that answers nothing, or a download.
    pub fn request_only<R>() -> Entry
    where
        R: Request + Serialize + DeserializeOwned,
    {
        Entry {
            spec: R::SPEC,
            request: request_round_trip::<R>,
            answer: None,
        }
    }
}

fn request_round_trip<R: Request + Serialize + DeserializeOwned>(
    example: &Value,
    parameters: Options,
) -> Result<Value, String> {
    let model: R = match R::SPEC.body {
        // APIv2: through the options, as a dynamic caller's `xml` payload is read.
        BodyKind::Xml => R::from_options(&parameters.xml(example)).map_err(|e| e.to_string())?,
        _ => serde_path_to_error::deserialize(example)
            .map_err(|e| format!("at `{}`: {}", e.path(), e.inner()))?,
    };
    serde_json::to_value(&model).map_err(|e| e.to_string())
}

fn answer_round_trip<R>(example: &Value) -> Result<Value, String>
where
    R: Request,
    R::Answer: Serialize + DeserializeOwned,
{
    let model: R::Answer = match R::SPEC.answer {
        AnswerKind::Xml => {
            let Value::Object(map) = example else {
                return Err("an APIv2 answer that is not an object".into());
            };
            let xml = xml_of(map);
            let mut de = quick_xml::de::Deserializer::from_str(&xml);
            serde_path_to_error::deserialize(&mut de)
                .map_err(|e| format!("at `{}`: {}", e.path(), e.inner()))?
        }
        _ => serde_path_to_error::deserialize(example)
            .map_err(|e| format!("at `{}`: {}", e.path(), e.inner()))?,
    };
    serde_json::to_value(&model).map_err(|e| e.to_string())
}

/// An APIv2 answer as WeChat Pay writes it: every value text in CDATA.
fn xml_of(map: &Map<String, Value>) -> String {
    fn element(out: &mut String, name: &str, value: &Value) {
        match value {
            Value::Array(items) => items.iter().for_each(|v| element(out, name, v)),
            Value::Object(children) => {
                out.push_str(&format!("<{name}>"));
                children.iter().for_each(|(k, v)| element(out, k, v));
                out.push_str(&format!("</{name}>"));
            }
            Value::String(text) => out.push_str(&format!("<{name}><![CDATA[{text}]]></{name}>")),
            other => out.push_str(&format!("<{name}>{other}</{name}>")),
        }
    }
    let mut out = String::from("<xml>");
    map.iter().for_each(|(k, v)| element(&mut out, k, v));
    out.push_str("</xml>");
    out
}

/// The differences between what an example says and what the model wrote, by JSON path.
/// Numbers compare by value (`1` and `1.0`); with `text`, a leaf compares as the text it
/// travels as (APIv2: `1` and `"1"`).
fn differences(expected: &Value, actual: &Value, at: &str, text: bool, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let here = format!("{at}/{key}");
                match a.get(key) {
                    Some(other) => differences(value, other, &here, text, out),
                    None => out.push(format!("{here}: dropped")),
                }
            }
            for key in a.keys().filter(|k| !e.contains_key(*k)) {
                out.push(format!("{at}/{key}: added"));
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (x, y)) in e.iter().zip(a).enumerate() {
                differences(x, y, &format!("{at}/{i}"), text, out);
            }
        }
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => {}
        (x, y) if x == y => {}
        (x, y) if text && leaf_text(x).is_some() && leaf_text(x) == leaf_text(y) => {}
        (x, y) => out.push(format!("{at}: {x} became {y}")),
    }
}

fn leaf_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn host_of(spec: &Spec) -> catalogue::Host {
    match spec.host {
        Host::Api => catalogue::Host::Api,
        Host::Hk => catalogue::Host::Hk,
        Host::Global => catalogue::Host::Global,
        _ => catalogue::Host::Other,
    }
}

fn key(host: catalogue::Host, method: &str, template: &str) -> String {
    format!("{host:?} {method} {template}")
}

#[test]
fn every_operation_has_a_model_and_every_model_an_operation() {
    let entries = all::entries();
    let catalogue = catalogue::get();
    assert_eq!(entries.len(), catalogue.operations.len());
    let models: HashMap<String, &Entry> = entries
        .iter()
        .map(|e| {
            (
                key(host_of(&e.spec), e.spec.method.as_str(), e.spec.template),
                e,
            )
        })
        .collect();
    assert_eq!(models.len(), entries.len(), "two models for one operation");
    let mut missing = Vec::new();
    for op in &catalogue.operations {
        let k = key(op.host, op.method.as_str(), &op.template);
        match models.get(&k) {
            None => missing.push(k),
            Some(entry) => {
                assert_eq!(
                    entry.spec.encrypted.len(),
                    op.encrypted.len(),
                    "{k}: encrypted fields"
                );
                assert_eq!(entry.spec.mutual_tls, op.mutual_tls, "{k}: mutual TLS");
                assert_eq!(entry.spec.title, op.title, "{k}: title");
            }
        }
    }
    assert!(
        missing.is_empty(),
        "operations without a model: {missing:#?}"
    );
}

/// The APIv2 fields the client adds to every request, which the models leave out.
const CLIENT_FIELDS_V2: [&str; 2] = ["nonce_str", "sign"];

#[test]
fn every_example_body_decodes_into_its_model_and_back() {
    let catalogue = catalogue::get();
    let mut failures = Vec::new();
    let mut checked = 0;
    for entry in all::entries() {
        let spec = &entry.spec;
        if !matches!(spec.body, BodyKind::Json | BodyKind::Xml) {
            continue;
        }
        let op = catalogue
            .find_on(host_of(spec), &spec.method, spec.template)
            .expect("every model has its operation");
        let Some(mut example) = op.example_body() else {
            failures.push(format!("{}: no example body", op.id()));
            continue;
        };
        let text = spec.body == BodyKind::Xml;
        if let (true, Value::Object(map)) = (text, &mut example) {
            map.retain(|k, _| !CLIENT_FIELDS_V2.contains(&k.as_str()));
        }
        // The query parameters, for the APIv2 models read from options.
        let mut parameters = Options::new();
        for p in op.parameters_in(catalogue::Location::Query) {
            let value = p
                .schema
                .example
                .clone()
                .or_else(|| p.schema.enumeration.first().cloned())
                .unwrap_or_else(|| Value::from("1"));
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            parameters = parameters.query(&p.name, text);
        }
        checked += 1;
        match (entry.request)(&example, parameters) {
            Err(e) => failures.push(format!("{}: {e}", op.id())),
            Ok(written) => {
                let mut diffs = Vec::new();
                differences(&example, &written, "", text, &mut diffs);
                failures.extend(diffs.into_iter().map(|d| format!("{}: {d}", op.id())));
            }
        }
    }
    assert!(checked >= 690, "only {checked} bodies checked");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_example_answer_decodes_into_its_model_and_back() {
    let catalogue = catalogue::get();
    let mut failures = Vec::new();
    let mut checked = 0;
    for entry in all::entries() {
        let Some(answer) = entry.answer else { continue };
        let spec = &entry.spec;
        let op = catalogue
            .find_on(host_of(spec), &spec.method, spec.template)
            .expect("every model has its operation");
        let Some(example) = op.example_answer() else {
            failures.push(format!("{}: no example answer", op.id()));
            continue;
        };
        checked += 1;
        match answer(&example) {
            Err(e) => failures.push(format!("{}: {e}", op.id())),
            Ok(written) => {
                let mut diffs = Vec::new();
                differences(
                    &example,
                    &written,
                    "",
                    spec.answer == AnswerKind::Xml,
                    &mut diffs,
                );
                failures.extend(diffs.into_iter().map(|d| format!("{}: {d}", op.id())));
            }
        }
    }
    assert!(checked > 800, "only {checked} answers checked");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_differences_are_found() {
    let mut out = Vec::new();
    let expected = serde_json::json!({"a": 1, "b": {"c": "x"}, "d": [1, 2]});
    let actual = serde_json::json!({"a": 1.0, "b": {"c": "y", "e": 0}, "d": [1]});
    differences(&expected, &actual, "", false, &mut out);
    assert_eq!(
        out,
        [
            "/b/c: \"x\" became \"y\"",
            "/b/e: added",
            "/d: [1,2] became [1]"
        ]
    );
    out.clear();
    differences(
        &serde_json::json!({"n": "1"}),
        &serde_json::json!({"n": 1}),
        "",
        true,
        &mut out,
    );
    assert!(out.is_empty());
    differences(
        &serde_json::json!({"n": "1"}),
        &serde_json::json!({"n": 1}),
        "",
        false,
        &mut out,
    );
    assert_eq!(out, ["/n: \"1\" became 1"]);
}
