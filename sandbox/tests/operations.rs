//! Every APIv3 operation of the catalogue, driven from the catalogue through the real client:
//! its example request is answered with the documented status, a signature the client
//! verifies and a body that conforms to the operation's answer schema; the same request
//! without one required field is answered 400 `PARAM_ERROR` naming it.

use openssl::pkey::PKey;
use openssl::rsa::Padding;
use serde_json::Value;
use wechatpay::catalogue::{self, AnswerKind, Api, BodyKind, Kind, Location, Operation, Schema};
use wechatpay::{Client, Media, Options};
use wechatpay_sandbox::{Identity, Sandbox};

/// A parameter's example as text: the description's, or the first value of its enum when the
/// example is not one of them, or a plain value of its type.
fn example_text(schema: &Schema) -> String {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let example = schema.example.as_ref().map(text);
    let allowed: Vec<String> = schema.enumeration.iter().map(text).collect();
    match example {
        Some(e) if allowed.is_empty() || allowed.contains(&e) => e,
        _ if !allowed.is_empty() => allowed[0].clone(),
        _ => match schema.kind {
            Kind::Integer | Kind::Number => "1".to_owned(),
            Kind::Boolean => "true".to_owned(),
            _ => "sandbox".to_owned(),
        },
    }
}

/// RSA-OAEP under the WeChat Pay public key, base64: what a client sends in an encrypted field.
fn encrypt(identity: &Identity, plain: &str) -> String {
    let key = PKey::public_key_from_pem(identity.public_key_pem.as_bytes()).unwrap();
    let rsa = key.rsa().unwrap();
    let mut out = vec![0u8; rsa.size() as usize];
    let n = rsa
        .public_encrypt(plain.as_bytes(), &mut out, Padding::PKCS1_OAEP)
        .unwrap();
    openssl::base64::encode_block(&out[..n])
}

/// Every value at a pointer whose `*` is any array index, mutably.
fn encrypt_at(value: &mut Value, tokens: &[&str], identity: &Identity) {
    match (tokens.split_first(), value) {
        (None, Value::String(s)) => *s = encrypt(identity, s),
        (Some((&"*", rest)), Value::Array(items)) => {
            for item in items {
                encrypt_at(item, rest, identity);
            }
        }
        (Some((key, rest)), Value::Object(map)) => {
            if let Some(v) = map.get_mut(*key) {
                encrypt_at(v, rest, identity);
            }
        }
        _ => {}
    }
}

/// The example body, the merchant ids made the sandbox's, the order number the operation's
/// own (the examples share one, and an order number placed twice with other parameters is
/// refused, as WeChat Pay refuses it), and the encrypted fields encrypted.
fn example_body(op: &Operation, identity: &Identity, index: usize) -> Option<Value> {
    let mut body = op.example_body()?;
    if let Value::Object(map) = &mut body {
        for name in ["mchid", "sp_mchid", "complainted_mchid"] {
            if let Some(v @ Value::String(_)) = map.get_mut(name) {
                *v = Value::String(identity.mchid.clone());
            }
        }
        if let Some(v @ Value::String(_)) = map.get_mut("out_trade_no") {
            *v = Value::String(format!("OPERATION{index}"));
        }
    }
    for pointer in &op.encrypted {
        let tokens: Vec<&str> = pointer.split('/').skip(1).collect();
        encrypt_at(&mut body, &tokens, identity);
    }
    Some(body)
}

/// The options of the operation's example request, without the body.
fn example_options(op: &Operation, identity: &Identity) -> Options {
    let mut options = Options::new();
    for p in op.parameters_in(Location::Path) {
        options = options.var(p.name.clone(), example_text(&p.schema));
    }
    for p in op.parameters_in(Location::Query) {
        let value = if p.name == "mchid" || p.name == "sp_mchid" {
            identity.mchid.clone()
        } else {
            example_text(&p.schema)
        };
        options = options.query(&p.name, value);
    }
    headers(op, identity, options)
}

/// `Wechatpay-Serial` when the operation takes it or encrypts, and the other required headers.
fn headers(op: &Operation, identity: &Identity, mut options: Options) -> Options {
    if op.takes_serial() || !op.encrypted.is_empty() {
        options = options.header("Wechatpay-Serial", &identity.public_key_id);
    }
    for p in op.parameters_in(Location::Header) {
        if p.required && !p.name.eq_ignore_ascii_case("Wechatpay-Serial") {
            options = options.header(&p.name, &example_text(&p.schema));
        }
    }
    options
}

/// The downloads WeChat Pay does not sign (../shared/protocol.md), whose answers the client
/// does not verify.
fn unsigned(template: &str) -> bool {
    [
        "v3/billdownload/file",
        "v3/new-tax-control-fapiao/download",
        "v3/transferdownload/elecvoucherfile",
        "v3/transferdownload/signfile",
        "v3/statements",
        "v3/merchant-service/images/{media_id}",
        "v3/global/merchant-service/images/{media_id}",
    ]
    .contains(&template)
}

fn send(
    client: &Client,
    op: &Operation,
    options: Options,
) -> wechatpay::Result<wechatpay::Response> {
    client
        .chain(&op.template)
        .request(op.method.clone(), options)
}

/// The operations whose answers depend on the sandbox's state (an order that must exist, a
/// refund of a paid order): answered with a signed business error when the example names
/// nothing the sandbox has, as WeChat Pay answers it.
fn stateful_error(op: &Operation) -> Option<&'static [&'static str]> {
    match (op.method.as_str(), op.template.as_str()) {
        ("GET", "v3/pay/transactions/id/{transaction_id}")
        | ("GET", "v3/pay/transactions/out-trade-no/{out_trade_no}")
        | ("POST", "v3/pay/transactions/out-trade-no/{out_trade_no}/close") => {
            Some(&["ORDER_NOT_EXIST"])
        }
        ("POST", "v3/refund/domestic/refunds") => Some(&[
            "RESOURCE_NOT_EXISTS",
            "ORDER_NOT_EXIST",
            "TRADE_STATE_ERROR",
        ]),
        ("GET", "v3/refund/domestic/refunds/{out_refund_no}") => Some(&["RESOURCE_NOT_EXISTS"]),
        ("GET", "v3/billdownload/file") => Some(&["RESOURCE_NOT_EXISTS", "PARAM_ERROR"]),
        _ => None,
    }
}

#[test]
fn every_apiv3_operation_answers_its_example_and_refuses_a_missing_required_field() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let identity = sandbox.identity();
    let operations: Vec<&Operation> = catalogue::get()
        .operations
        .iter()
        .filter(|op| op.api == Api::V3)
        .collect();
    assert!(operations.len() > 1000, "{}", operations.len());
    let mut failures = Vec::new();
    let (mut answered, mut refused) = (0, 0);
    for (index, op) in operations.iter().enumerate() {
        let id = op.id();
        let body = example_body(op, identity, index);
        let with_body = |options: Options, body: Option<&Value>| match (op.body_kind, body) {
            (BodyKind::Json, Some(body)) => options.json(body),
            (BodyKind::Multipart, _) => {
                options.multipart(Media::new("sandbox.png", b"\x89PNG sandbox".to_vec()).unwrap())
            }
            _ => options,
        };
        // The example request.
        let options = with_body(example_options(op, identity), body.as_ref());
        match send(&client, op, options) {
            Ok(response) => {
                answered += 1;
                if response.status().as_u16() != op.answer.status {
                    failures.push(format!(
                        "{id}: status {}, documented {}",
                        response.status(),
                        op.answer.status
                    ));
                } else if !unsigned(&op.template) && !response.signature_verified() {
                    failures.push(format!("{id}: not verified"));
                } else if op.answer.kind == AnswerKind::Json
                    && op.answer.status != 204
                    // Files: the description gives them a JSON answer of any shape.
                    && !unsigned(&op.template)
                    && op.template != "v3/global/statements"
                {
                    match response.json::<Value>() {
                        Ok(answer) => {
                            let problems = op.check_answer(&answer);
                            if !problems.is_empty() {
                                failures.push(format!(
                                    "{id}: the answer does not fit: {}",
                                    problems[0]
                                ));
                            }
                        }
                        Err(e) => failures.push(format!("{id}: the answer is not JSON: {e}")),
                    }
                }
            }
            Err(e) => {
                let expected = stateful_error(op).unwrap_or_default();
                let code = e
                    .api()
                    .and_then(|a| a.code())
                    .unwrap_or_default()
                    .to_owned();
                if !expected.contains(&code.as_str()) {
                    failures.push(format!("{id}: {e}"));
                } else {
                    answered += 1;
                }
            }
        }

        // The same request without its first required body field (else query parameter).
        let required_field = op
            .body
            .as_ref()
            .filter(|_| op.body_kind == BodyKind::Json)
            .and_then(|schema| {
                let present = body.as_ref()?.as_object()?;
                schema
                    .required
                    .iter()
                    .find(|name| present.contains_key(*name))
                    .cloned()
            });
        let (options, field, location) = if let Some(name) = required_field {
            let mut body = body.clone().unwrap();
            body.as_object_mut().unwrap().remove(&name);
            (
                with_body(example_options(op, identity), Some(&body)),
                format!("/{name}"),
                "body",
            )
        } else if let Some(p) = op.parameters_in(Location::Query).find(|p| p.required) {
            let mut options = Options::new();
            for q in op.parameters_in(Location::Path) {
                options = options.var(q.name.clone(), example_text(&q.schema));
            }
            for q in op
                .parameters_in(Location::Query)
                .filter(|q| q.name != p.name)
            {
                options = options.query(&q.name, example_text(&q.schema));
            }
            (
                with_body(headers(op, identity, options), body.as_ref()),
                p.name.clone(),
                "query",
            )
        } else {
            continue;
        };
        match send(&client, op, options) {
            Ok(response) => failures.push(format!(
                "{id} without {field}: answered {}",
                response.status()
            )),
            Err(e) => {
                let api = e.api();
                let detail = api.and_then(|a| a.detail()).cloned().unwrap_or_default();
                let named = detail["field"] == field.as_str() && detail["location"] == location;
                if api.map(|a| (a.status().as_u16(), a.code())) != Some((400, Some("PARAM_ERROR")))
                    || !named
                {
                    failures.push(format!("{id} without {field}: {e} {detail}"));
                } else {
                    refused += 1;
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} operations failed:\n{}",
        failures.len(),
        operations.len(),
        failures.join("\n")
    );
    assert_eq!(answered, operations.len());
    assert!(refused > 500, "{refused}");
    // Every request passed the sandbox's signature check.
    assert!(
        sandbox
            .requests()
            .iter()
            .all(|r| r.verdict.is_ok()
                || r.verdict.as_ref().is_err_and(|v| !v.contains("signature")))
    );
}

/// The example request of an APIv2 operation: its example fields, the merchant id the
/// sandbox's, HMAC-SHA256 where the operation takes only that; over mutual TLS where it
/// needs the merchant certificate.
fn v2_options(op: &Operation, sandbox: &Sandbox, xml: &Value) -> serde_json::Value {
    let mut options = serde_json::json!({ "xml": xml });
    if op.mutual_tls {
        options["security"] = true.into();
        options["base_uri"] = sandbox.identity().tls_base_uri.clone().into();
    }
    options
}

fn v2_example(op: &Operation, identity: &Identity) -> Value {
    let mut xml = op.example_body().unwrap_or_else(|| serde_json::json!({}));
    // A GET carries its fields in the query.
    for p in op.parameters_in(Location::Query) {
        xml[p.name.as_str()] = Value::String(example_text(&p.schema));
    }
    if let Value::Object(map) = &mut xml {
        map.remove("sign");
        map.remove("nonce_str");
        // APIv2 fields are text: the examples' numbers, booleans and nested data as the XML
        // carries them.
        for value in map.values_mut() {
            if !value.is_string() {
                let text = match &*value {
                    Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => {
                        format!("{}", n.as_f64().unwrap_or_default() as i64)
                    }
                    other => other.to_string(),
                };
                *value = Value::String(text);
            }
        }
        // The client requires the merchant id in every APIv2 body, and it must be its own.
        if !["mch_id", "mchid", "combine_mch_id"]
            .iter()
            .any(|n| map.contains_key(*n))
        {
            map.insert("mch_id".to_owned(), Value::String(identity.mchid.clone()));
        }
        for name in ["mch_id", "mchid", "combine_mch_id"] {
            if map.contains_key(name) {
                map.insert(name.to_owned(), Value::String(identity.mchid.clone()));
            }
        }
        if op.hmac_sha256_only {
            map.insert("sign_type".to_owned(), "HMAC-SHA256".into());
        } else if map.get("sign_type").is_some_and(|v| v != "HMAC-SHA256") {
            map.insert("sign_type".to_owned(), "MD5".into());
        }
    }
    xml
}

#[test]
fn every_apiv2_operation_answers_its_example_and_refuses_a_missing_required_field() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let identity = sandbox.identity();
    let operations: Vec<&Operation> = catalogue::get()
        .operations
        .iter()
        .filter(|op| op.api == Api::V2)
        .collect();
    assert!(operations.len() > 100, "{}", operations.len());
    let mut failures = Vec::new();
    let (mut answered, mut refused) = (0, 0);
    for op in &operations {
        let id = op.id();
        let xml = v2_example(op, identity);
        // The chain normalises a capital (`addInstitutionsub` -> `add-institutionsub`), as
        // wechatpay-php's does: such a segment goes in a placeholder, sent as given.
        let (endpoint, last) = match op.template.rsplit_once('/') {
            Some((head, last)) if last.bytes().any(|b| b.is_ascii_uppercase()) => {
                (client.chain(&format!("{head}/{{last}}")), Some(last))
            }
            _ => (client.chain(&op.template), None),
        };
        let v2_options = |op: &Operation, sandbox: &Sandbox, xml: &Value| {
            let mut options = v2_options(op, sandbox, xml);
            if let Some(last) = last {
                options["last"] = last.into();
            }
            options
        };
        match endpoint.request(op.method.clone(), v2_options(op, &sandbox, &xml)) {
            Ok(response) => {
                let fields = response.xml().unwrap_or_default();
                if fields.get("return_code").and_then(Value::as_str) != Some("SUCCESS") {
                    failures.push(format!("{id}: {fields:?}"));
                } else {
                    answered += 1;
                }
            }
            Err(e) => {
                // The sandbox keeps orders for these: the examples name an order it does not
                // have, or one placed with another amount.
                let stateful: &[&str] = match op.template.as_str() {
                    "v2/pay/orderquery" => &["ORDERNOTEXIST"],
                    "v2/secapi/pay/refund" => &["ORDERNOTEXIST", "PARAM_ERROR"],
                    _ => &[],
                };
                let code = e.api().and_then(|a| a.err_code()).unwrap_or_default();
                if stateful.contains(&code) {
                    answered += 1;
                } else {
                    failures.push(format!("{id}: {e}"));
                }
            }
        }
        let required = op.body.as_ref().and_then(|schema| {
            schema
                .required
                .iter()
                .find(|name| {
                    // Not the merchant id: the client refuses a body without it.
                    !matches!(
                        name.as_str(),
                        "sign" | "nonce_str" | "sign_type" | "mch_id" | "mchid" | "combine_mch_id"
                    ) && xml.get(name.as_str()).is_some()
                })
                .cloned()
        });
        let Some(name) = required else { continue };
        let mut without = xml.clone();
        without.as_object_mut().unwrap().remove(&name);
        match endpoint.request(op.method.clone(), v2_options(op, &sandbox, &without)) {
            Ok(response) => failures.push(format!("{id} without {name}: {:?}", response.xml())),
            Err(e) => {
                let message = e.api().and_then(|a| a.return_msg()).unwrap_or_default();
                if e.api().and_then(|a| a.return_code()) == Some("FAIL")
                    && message.contains(&format!(" {name}: "))
                {
                    refused += 1;
                } else {
                    failures.push(format!("{id} without {name}: {e}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} APIv2 operations failed:\n{}",
        failures.len(),
        operations.len(),
        failures.join("\n")
    );
    assert_eq!(answered, operations.len());
    assert!(refused > 100, "{refused}");
}
