//! `wxpay req METHOD URI`: one signed request, its verified answer.

use std::io::Read;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use wechatpay::template::TemplateError;
use wechatpay::{Method, Options, RESERVED_KEYS};

use crate::args::{Global, Req};
use crate::config::settings;
use crate::fail::{Fail, usage};

pub fn run(global: &Global, args: Req) -> Result<(), Fail> {
    let method: Method = args
        .method
        .to_ascii_uppercase()
        .parse()
        .ok()
        .filter(|m| {
            [
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ]
            .contains(m)
        })
        .ok_or_else(|| {
            usage(format!(
                "`{}` is not GET, POST, PUT, PATCH or DELETE",
                args.method
            ))
        })?;
    check_uri(&args.uri)?;
    let written = uri_template(&args.uri);
    if args.example {
        return example(&method, &written);
    }
    let body = args.data.as_deref().map(read_json).transpose()?;
    let (template, literal_vars) = protect_literals(&written);
    let is_v2 = is_v2(&template);
    let settings = settings(global)?;
    // `--security` goes to the profile's mutual-TLS host when it has one (the sandbox's TLS
    // port); an explicit --base-uri wins.
    let security_base = settings
        .security_base_uri
        .as_deref()
        .filter(|_| global.base_uri.is_none());
    let mut options = options(&args, body.clone(), is_v2, security_base)?;
    for (name, value) in literal_vars {
        options = options.var(name, value);
    }

    let recorder: Option<crate::config::Recorder> =
        args.verbose.then(|| Arc::new(Mutex::new(Vec::new())));
    let built = if is_v2 {
        settings.apiv2_client(args.security)?
    } else {
        settings.client(recorder.clone(), args.security)?
    };
    // Checked once the settings are known good, before anything is sent.
    if !args.no_check {
        check_body(&method, &written, body.as_ref())?;
        check_mutual_tls(&method, &written, args.security)?;
    }
    let endpoint = built.client.chain(&template);

    if args.verbose {
        let prepared = endpoint
            .prepare(method.clone(), options.clone())
            .map_err(request_error)?;
        note!("> {} {}", prepared.method(), prepared.url());
        for (name, value) in prepared.headers() {
            note!("> {name}: {}", value.to_str().unwrap_or("<binary>"));
        }
    }
    let result = endpoint.request(method.clone(), options);
    if let Some(recorder) = &recorder {
        if let Some(message) = recorder.lock().ok().and_then(|m| m.last().cloned()) {
            let text = String::from_utf8_lossy(&message);
            note!("> signed message ({} bytes):", message.len());
            for line in text.split_inclusive('\n') {
                note!(">   {}", line.escape_debug());
            }
            // The header as sent (the library's own formatting of the values it signed with),
            // but for the signature.
            let lines: Vec<&str> = text.split('\n').collect();
            if let (Some(timestamp), Some(nonce)) = (
                lines.get(2).and_then(|t| t.parse::<i64>().ok()),
                lines.get(3),
            ) {
                if let Ok(header) = wechatpay::signature::authorization_header(
                    settings.mchid.as_deref().unwrap_or_default(),
                    settings.serial.as_deref().unwrap_or_default(),
                    timestamp,
                    nonce,
                    &[],
                ) {
                    let shown = header
                        .to_str()
                        .unwrap_or("<binary>")
                        .replace("signature=\"\"", "signature=\"<masked>\"");
                    note!("> authorization: {shown}");
                }
            }
        }
    }
    let response = result.map_err(|e| {
        if args.verbose {
            if let Some(response) = e.response() {
                note!("< {}", String::from_utf8_lossy(response.bytes()));
            }
        }
        answer_error(e, &method, &written)
    })?;

    note_part!("HTTP {}", response.status());
    if let Some(id) = response.request_id() {
        note_part!("  Request-ID: {id}");
    }
    note!(
        "  ({})",
        if response.signature_verified() {
            "verified"
        } else {
            "unsigned download"
        }
    );
    if args.verbose {
        for (name, value) in response.headers() {
            let shown = if name.as_str().eq_ignore_ascii_case("wechatpay-signature") {
                "<masked>"
            } else {
                value.to_str().unwrap_or("<binary>")
            };
            note!("< {name}: {shown}");
        }
    }
    let body = response.bytes();
    if body.is_empty() {
        return Ok(());
    }
    let terminal = super::stdout_is_terminal();
    if is_v2 {
        if let Ok(map) = response.xml() {
            return super::print_json(&Value::Object(map));
        }
    } else if terminal {
        if let Ok(json) = serde_json::from_slice::<Value>(body) {
            return super::print_json(&json);
        }
    }
    // Piped, the body exactly as received; on a terminal, followed by a line break.
    super::write_stdout(body)?;
    if terminal {
        super::write_stdout(b"\n")?;
    }
    Ok(())
}

/// A library error, with the flag that gives a missing template variable.
fn request_error(e: wechatpay::Error) -> Fail {
    let hint = match e.template() {
        Some(TemplateError::Missing { name }) => Some(format!("give it with --var {name}=VALUE")),
        _ => None,
    };
    let fail = Fail::from(e);
    match hint {
        Some(hint) => fail.hint(hint),
        None => fail,
    }
}

/// An error answer, or any other failure of the call. An answer that is neither WeChat Pay's
/// JSON error nor its XML (a 404 page, a proxy's refusal) is quoted, shortened, so that the
/// message says more than its status; a path the catalogue lacks gets a hint.
fn answer_error(e: wechatpay::Error, method: &Method, template: &str) -> Fail {
    let quoted = e
        .api()
        .filter(|api| api.code().is_none() && api.return_code().is_none())
        .and_then(|_| e.response())
        .map(|response| excerpt(response.bytes()))
        .filter(|text| !text.is_empty());
    let unknown = wechatpay::catalogue::get().find(method, template).is_none();
    let mut fail = request_error(e);
    if let Some(text) = quoted {
        fail.message.push_str(&format!(": the answer: {text}"));
    }
    if unknown && fail.code == crate::fail::API && fail.hint.is_none() {
        let area = template.split('/').next().unwrap_or("v3");
        fail = fail.hint(format!(
            "`{method} {template}` is not in the catalogue: `wxpay api list {area}/` lists the \
             operations"
        ));
    }
    fail
}

/// The first line of an answer's text, at most 160 characters, control characters escaped.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.trim().lines().next().unwrap_or_default();
    let mut shown = String::new();
    for c in line.chars().take(160) {
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    if line.chars().count() > 160 {
        shown.push_str("...");
    }
    shown
}

/// An APIv2 operation that takes the merchant certificate, sent without `--security`, is
/// refused before anything is sent: WeChat Pay would answer with a certificate error.
fn check_mutual_tls(method: &Method, template: &str, security: bool) -> Result<(), Fail> {
    match wechatpay::catalogue::get().find(method, template) {
        Some(op) if op.mutual_tls && !security => Err(usage(format!(
            "`{}` takes the merchant certificate (mutual TLS): add --security",
            op.id()
        ))
        .hint(
            "--security sends it with --merchant-cert-file and the private key \
             (--private-key-file); --no-check sends without it",
        )),
        _ => Ok(()),
    }
}

/// The URI is a path under the base URI: not empty, and not a full URL.
fn check_uri(uri: &str) -> Result<(), Fail> {
    if uri.trim().trim_start_matches('/').is_empty() {
        return Err(usage(
            "the URI is empty: give an API path such as v3/certificates".to_owned(),
        ));
    }
    if let Some((scheme, _)) = uri.split_once("://") {
        if !scheme.is_empty() && !scheme.contains('/') {
            return Err(usage(format!(
                "the URI `{uri}` is a full URL: give the path under the base URI (such as \
                 v3/certificates), and the host with --base-uri"
            )));
        }
    }
    Ok(())
}

/// `v3.pay.transactions.native` -> `v3/pay/transactions/native`; a slash form is kept.
pub fn uri_template(uri: &str) -> String {
    let uri = uri.trim_start_matches('/');
    if uri.contains('/') || !uri.contains('.') {
        uri.to_owned()
    } else {
        // Each segment as the chain! macro reads it: merchantService, _transaction_id_.
        uri.split('.')
            .map(wechatpay::normalize)
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// A slash-form URI is typed as it should be sent, but a chain key turns capitals into `-x`
/// (`T1` would become `-t1`): each literal segment with a capital goes in a generated
/// placeholder instead, whose value is sent as written.
fn protect_literals(template: &str) -> (String, Vec<(String, String)>) {
    let mut vars = Vec::new();
    let segments: Vec<String> = template
        .split('/')
        .enumerate()
        .map(|(i, segment)| {
            if segment.contains(['{', '}']) || !segment.bytes().any(|b| b.is_ascii_uppercase()) {
                segment.to_owned()
            } else {
                let name = format!("wxpay_literal_{i}");
                vars.push((name.clone(), segment.to_owned()));
                format!("{{{name}}}")
            }
        })
        .collect();
    (segments.join("/"), vars)
}

fn pair<'a>(what: &str, value: &'a str, sep: char) -> Result<(&'a str, &'a str), Fail> {
    value
        .split_once(sep)
        .map(|(k, v)| (k.trim(), v.trim_start()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| usage(format!("{what} `{value}` is not in the form K{sep}V")))
}

fn options(
    args: &Req,
    body: Option<Value>,
    is_v2: bool,
    security_base_uri: Option<&str>,
) -> Result<Options, Fail> {
    let mut map = Map::new();
    for var in &args.vars {
        let (k, v) = pair("--var", var, '=')?;
        if RESERVED_KEYS.contains(&k) {
            return Err(usage(reserved_var(k)));
        }
        map.insert(k.to_owned(), Value::from(v));
    }
    if !args.params.is_empty() {
        let mut query = Map::new();
        for p in &args.params {
            let (k, v) = pair("-p", p, '=')?;
            query.insert(k.to_owned(), Value::from(v));
        }
        map.insert("query".into(), Value::Object(query));
    }
    if !args.headers.is_empty() {
        let mut headers = Map::new();
        for h in &args.headers {
            let (k, v) = pair("-H", h, ':')?;
            headers.insert(k.to_owned(), Value::from(v));
        }
        map.insert("headers".into(), Value::Object(headers));
    }
    if let Some(json) = body {
        map.insert(if is_v2 { "xml" } else { "json" }.into(), json);
    }
    if args.security {
        map.insert("security".into(), Value::Bool(true));
        if let Some(base) = security_base_uri {
            map.entry("base_uri").or_insert(Value::from(base));
        }
    }
    Ok(Options::from(map))
}

/// Why `--var NAME=...` is refused for a reserved option name, and what to use instead.
fn reserved_var(name: &str) -> String {
    let instead = match name {
        "base_uri" => "use --base-uri URI",
        "json" | "body" | "xml" => "give the body with -d",
        "query" => "give query parameters with -p K=V",
        "headers" => "give headers with -H 'K: V'",
        "security" => "use --security",
        _ => "wxpay has no flag for it",
    };
    format!("--var {name}: `{name}` is a request option, not a template variable: {instead}")
}

fn is_v2(template: &str) -> bool {
    template
        .get(..3)
        .is_some_and(|p| p.eq_ignore_ascii_case("v2/"))
}

/// `-d`'s JSON.
fn read_json(data: &str) -> Result<Value, Fail> {
    let text = read_data(data)?;
    serde_json::from_str(&text).map_err(|e| usage(format!("-d is not JSON: {e}")))
}

/// `--example`: the operation's example body, to edit and send with `-d @FILE`.
fn example(method: &Method, template: &str) -> Result<(), Fail> {
    let ops = super::api::operations_at(template, Some(method))?;
    match ops[0].example_body() {
        Some(body) => super::print_line(&serde_json::to_string_pretty(&body).unwrap_or_default()),
        None => Err(usage(format!("`{}` takes no body", ops[0].id()))),
    }
}

/// The body checked against the catalogue before anything is sent: every problem listed, by
/// its JSON Pointer. A path the catalogue does not know is sent as given, with a note.
fn check_body(method: &Method, template: &str, body: Option<&Value>) -> Result<(), Fail> {
    let c = wechatpay::catalogue::get();
    let Some(op) = c.find(method, template) else {
        if let Some(near) = c.nearest(template) {
            note!(
                "note: `{method} {template}` is not in the catalogue (nearest: `{}`); sending it as given",
                near.id()
            );
        }
        return Ok(());
    };
    let problems = match (body, &op.body) {
        (Some(body), _) => op.check_body(body),
        (None, Some(schema)) if !schema.required.is_empty() => {
            // APIv2's nonce_str and sign are the client's to add.
            let required: Vec<&str> = schema
                .required
                .iter()
                .map(String::as_str)
                .filter(|n| !(is_v2(template) && (*n == "nonce_str" || *n == "sign")))
                .collect();
            return Err(usage(format!(
                "`{}` takes a body (required: {}); none given",
                op.id(),
                required.join(", ")
            ))
            .hint(
                "give it with -d; `--example` prints one to start from; --no-check sends anyway",
            ));
        }
        (None, _) => Vec::new(),
    };
    if problems.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
    Err(usage(format!(
        "the body does not match `{}`: {}",
        op.id(),
        listed.join("; ")
    ))
    .hint("`wxpay api show` lists its fields; --no-check sends it anyway"))
}

fn read_data(data: &str) -> Result<String, Fail> {
    if data == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| usage(format!("cannot read stdin: {e}")))?;
        Ok(text)
    } else if let Some(path) = data.strip_prefix('@') {
        std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read `{path}`: {e}")))
    } else {
        Ok(data.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::uri_template;

    #[test]
    fn literal_capitals_are_sent_as_written() {
        let (template, vars) = super::protect_literals("v3/pay/transactions/out-trade-no/T1");
        assert_eq!(
            template,
            "v3/pay/transactions/out-trade-no/{wxpay_literal_4}"
        );
        assert_eq!(vars, [("wxpay_literal_4".to_owned(), "T1".to_owned())]);
        let (template, vars) = super::protect_literals("v3/pay/transactions/id/{transaction_id}");
        assert_eq!(template, "v3/pay/transactions/id/{transaction_id}");
        assert!(vars.is_empty());
    }

    #[test]
    fn dotted_and_slash_forms() {
        assert_eq!(
            uri_template("v3.pay.transactions.native"),
            "v3/pay/transactions/native"
        );
        assert_eq!(
            uri_template("v3.pay.transactions.id._transaction_id_"),
            "v3/pay/transactions/id/{transaction_id}"
        );
        assert_eq!(
            uri_template("v3.global.merchantService.complaints"),
            "v3/global/merchant-service/complaints"
        );
        assert_eq!(
            uri_template("/v3/pay/transactions/id/{transaction_id}"),
            "v3/pay/transactions/id/{transaction_id}"
        );
        assert_eq!(uri_template("v3/certificates"), "v3/certificates");
    }
}
