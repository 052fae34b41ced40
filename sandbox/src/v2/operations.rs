//! Every APIv2 operation of the WeChat Pay catalogue (`wechatpay::catalogue`) that the sandbox
//! keeps no state for: a request whose `sign` verified is validated against the operation's
//! fields (a missing required field, a wrong type, an unknown enum value: `return_code` FAIL
//! naming the field), then answered from the catalogue's example answer, the request's own
//! identifiers echoed, signed with the request's sign type (unless WeChat Pay leaves that
//! answer unsigned).

use bytes::Bytes;
use http::{Method, Response};
use http_body_util::Full;
use serde_json::{Map, Value};
use wechatpay::catalogue::{self, Api, Operation};

use super::{Checked, Fields, SignType, fail_response, signed_xml, write_xml, xml_response};
use crate::faults::Fault;
use crate::state::State;
use crate::util::random_alnum;

/// The APIv2 operation of `method` at `path` (as sent: `/pay/micropay`), if the catalogue has
/// one.
pub(crate) fn find(method: &Method, path: &str) -> Option<&'static Operation> {
    catalogue::get()
        .find(method, &format!("v2{path}"))
        .filter(|op| op.api == Api::V2)
}

/// Whether the catalogue has an APIv2 operation at `path`, under any method.
pub(crate) fn is_v2_path(path: &str) -> bool {
    path.starts_with('/')
        && catalogue::get()
            .at(&format!("v2{path}"))
            .iter()
            .any(|op| op.api == Api::V2)
}

/// The request's fields as a JSON object of strings (without `sign`).
fn given(request: &Checked) -> Value {
    Value::Object(
        request
            .fields
            .iter()
            .filter(|(k, _)| k != "sign")
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<String, Value>>(),
    )
}

/// Checks a verified request to `operation` as WeChat Pay does: the merchant certificate
/// where the operation needs it, HMAC-SHA256 where it takes only that, then the fields; the
/// `return_code` FAIL answer naming what is wrong, or `None` when the request is sound.
pub(crate) fn refusal(
    operation: &Operation,
    request: &Checked,
    tls: bool,
) -> Option<Response<Full<Bytes>>> {
    if operation.mutual_tls && !tls {
        return Some(fail_response(
            200,
            "证书错误: this API takes the merchant API certificate (mutual TLS)",
        ));
    }
    if operation.hmac_sha256_only && request.sign_type != SignType::HmacSha256 {
        return Some(fail_response(
            200,
            "签名类型错误: this API takes sign_type HMAC-SHA256 only",
        ));
    }
    if let Some(problem) = operation.check_body(&given(request)).first() {
        let field = problem.pointer.trim_start_matches('/');
        let issue = problem.to_string();
        let issue = issue
            .split_once(": ")
            .map_or(issue.as_str(), |(_, rest)| rest);
        return Some(fail_response(200, &format!("参数错误: {field}: {issue}")));
    }
    None
}

/// The answer to a verified request to `operation`.
pub(crate) fn handle(
    state: &State,
    operation: &Operation,
    path: &str,
    request: &Checked,
    tls: bool,
    faults: &[Fault],
) -> Response<Full<Bytes>> {
    if let Some(refusal) = refusal(operation, request, tls) {
        return refusal;
    }
    let given = given(request);
    let fields = match answer_fields(operation, &given) {
        Ok(fields) => fields,
        Err(e) => return fail_response(500, &format!("sandbox: {e}")),
    };
    let unsigned = wechatpay::v2::UNSIGNED_ANSWERS.contains(&path);
    if unsigned {
        return xml_response(200, write_xml(&fields));
    }
    match signed_xml(state, fields, request.sign_type, faults) {
        Ok(xml) => xml_response(200, xml),
        Err(e) => fail_response(500, &format!("sandbox: cannot sign the answer: {e}")),
    }
}

/// The example answer's fields, the request's values echoed where the answer has the same
/// field, `return_code`/`result_code` SUCCESS, a fresh `nonce_str`, no `sign`.
fn answer_fields(operation: &Operation, given: &Value) -> crate::error::Result<Fields> {
    let example = operation.example_answer().unwrap_or(Value::Null);
    let mut fields = Fields::new();
    let mut push = |name: &str, value: String| {
        if let Some(existing) = fields.iter_mut().find(|(k, _)| k == name) {
            existing.1 = value;
        } else {
            fields.push((name.to_owned(), value));
        }
    };
    push("return_code", "SUCCESS".to_owned());
    push("return_msg", "OK".to_owned());
    if let Value::Object(map) = &example {
        for (name, value) in map {
            // A numbered field (`refund_id_$n`, `coupon_type_$n_$m`) is sent as its first one.
            let name = name.replace("$n", "0").replace("$m", "0");
            let echoed = given.get(&name).and_then(Value::as_str);
            let text = match (echoed, value) {
                (Some(text), _) => text.to_owned(),
                (None, Value::String(s)) => s.clone(),
                (None, Value::Null) => continue,
                (None, other) => other.to_string(),
            };
            match name.as_str() {
                "sign" => {}
                "return_code" | "result_code" => push(&name, "SUCCESS".to_owned()),
                "return_msg" => {}
                "nonce_str" => push(&name, random_alnum(32)?),
                _ => push(&name, text),
            }
        }
    }
    Ok(fields)
}
