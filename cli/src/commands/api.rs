//! `wxpay api list|show`: the catalogue of the WeChat Pay API, from the shell.

use wechatpay::Method;
use wechatpay::catalogue::{self, Host, Location, Operation, Schema};

use crate::args::{Api, ApiAction};
use crate::fail::{Fail, usage};

pub fn run(args: Api) -> Result<(), Fail> {
    match args.action {
        ApiAction::List { pattern } => list(pattern.as_deref().unwrap_or("")),
        ApiAction::Show { uri, method } => show(&uri, method.as_deref()),
    }
}

/// The host a listing names after the title, when it is not api.mch.weixin.qq.com.
fn host_note(op: &Operation) -> String {
    match (op.host, &op.base_uri) {
        (_, Some(uri)) => format!(
            "  [{}]",
            uri.trim_start_matches("https://").trim_end_matches('/')
        ),
        (Host::Hk, None) => "  [apihk.mch.weixin.qq.com, Hong Kong wallet]".to_owned(),
        (Host::Global, None) => "  [apihk.mch.weixin.qq.com]".to_owned(),
        _ => String::new(),
    }
}

fn list(pattern: &str) -> Result<(), Fail> {
    let c = catalogue::get();
    let mut out = String::new();
    for op in c.search(pattern) {
        out.push_str(&format!(
            "{:<6} {}  {}{}\n",
            op.method.as_str(),
            op.template,
            op.title,
            host_note(op)
        ));
    }
    let lower = pattern.to_lowercase();
    for op in &c.callbacks {
        if lower.is_empty() || op.template.contains(&lower) || op.title.contains(pattern) {
            out.push_str(&format!(
                "{:<6} {}  {}  [callback: WeChat Pay sends it to your notify_url]\n",
                op.method.as_str(),
                op.template,
                op.title
            ));
        }
    }
    if out.is_empty() {
        return Err(usage(format!("no operation matches `{pattern}`"))
            .hint("`wxpay api list` prints them all"));
    }
    super::write_stdout(out.as_bytes())
}

/// A method given on the command line.
pub fn method_of(text: &str) -> Result<Method, Fail> {
    let upper = text.to_ascii_uppercase();
    [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ]
    .into_iter()
    .find(|m| m.as_str() == upper)
    .ok_or_else(|| usage(format!("`{text}` is not GET, POST, PUT, PATCH or DELETE")))
}

/// The operations at `uri`, or a usage error naming the nearest template.
pub fn operations_at(uri: &str, method: Option<&Method>) -> Result<Vec<&'static Operation>, Fail> {
    let c = catalogue::get();
    let template = super::req::uri_template(uri);
    let mut found = c.at(&template);
    if let Some(method) = method {
        found.retain(|op| op.method == *method);
    }
    if found.is_empty() {
        let near = c
            .nearest(&template)
            .map(|op| format!("did you mean `{}`?", op.id()));
        let what = match method {
            Some(m) => format!("`{m} {template}`"),
            None => format!("`{template}`"),
        };
        let fail = usage(format!("{what} is not in the catalogue"));
        return Err(match near {
            Some(near) => fail.hint(near),
            None => fail,
        });
    }
    Ok(found)
}

fn show(uri: &str, method: Option<&str>) -> Result<(), Fail> {
    let method = method.map(method_of).transpose()?;
    let found = operations_at(uri, method.as_ref())?;
    let mut out = String::new();
    for (i, op) in found.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        describe(op, &mut out);
    }
    super::write_stdout(out.as_bytes())
}

fn describe(op: &Operation, out: &mut String) {
    out.push_str(&format!("{}  {}\n", op.id(), op.title));
    let host = op.base_uri.as_deref().or(op.host.base_uri()).unwrap_or("");
    out.push_str(&format!("  host: {host}\n"));
    if !op.tags.is_empty() {
        out.push_str(&format!("  area: {}\n", op.tags.join(", ")));
    }
    let answer = match (op.unsigned, op.answer.kind) {
        (true, _) => "a download (unsigned: check its digest)".to_owned(),
        (_, kind) => format!("{:?}", kind).to_lowercase(),
    };
    out.push_str(&format!("  answer: {} {answer}\n", op.answer.status));
    if op.mutual_tls {
        out.push_str("  APIv2: mutual TLS with the merchant certificate (--security)\n");
    }
    if op.hmac_sha256_only {
        out.push_str("  APIv2: HMAC-SHA256 only (sign_type)\n");
    }
    if !op.encrypted.is_empty() {
        out.push_str(&format!(
            "  encrypted fields (RSA-OAEP with a platform key, sent with Wechatpay-Serial): {}\n",
            op.encrypted.join(", ")
        ));
    }
    if !op.parameters.is_empty() {
        out.push_str("parameters:\n");
        let rows: Vec<[String; 4]> = op
            .parameters
            .iter()
            .map(|p| {
                [
                    format!("{} {}", location(p.location), p.name),
                    p.schema.type_name(),
                    if p.required { "required" } else { "" }.to_owned(),
                    p.schema.title.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(&rows, out);
    }
    if let Some(body) = &op.body {
        out.push_str(&format!(
            "body ({}):\n",
            format!("{:?}", op.body_kind).to_lowercase()
        ));
        let mut rows = Vec::new();
        fields(body, "", &mut rows);
        table(&rows, out);
        for group in &body.required_any {
            out.push_str(&format!("  one of {} is required\n", group.join(", ")));
        }
    }
    if let Some(schema) = &op.answer.schema {
        out.push_str(&format!("answer fields ({}):\n", op.answer.status));
        let mut rows = Vec::new();
        fields(schema, "", &mut rows);
        table(&rows, out);
    }
    if let Some(example) = op.example_body() {
        out.push_str("example body:\n");
        out.push_str(&serde_json::to_string_pretty(&example).unwrap_or_default());
        out.push('\n');
    }
}

fn location(location: Location) -> &'static str {
    match location {
        Location::Path => "path",
        Location::Query => "query",
        Location::Header => "header",
        Location::Form => "form",
        _ => "other",
    }
}

/// One row per field, nested names dotted (`amount.total`, `detail.goods_detail[].quantity`).
fn fields(schema: &Schema, prefix: &str, rows: &mut Vec<[String; 4]>) {
    let schema = match (&schema.items, schema.properties.0.is_empty()) {
        (Some(items), true) => {
            return fields(items, &format!("{prefix}[]"), rows);
        }
        _ => schema,
    };
    for (name, property) in schema.properties.iter() {
        let path = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        };
        rows.push([
            path.clone(),
            property.type_name(),
            if schema.requires(name) {
                "required"
            } else {
                ""
            }
            .to_owned(),
            property.title.clone().unwrap_or_default(),
        ]);
        let inner = property.items.as_deref().map_or(property, |items| items);
        let nested = if property.items.is_some() {
            format!("{path}[]")
        } else {
            path
        };
        if !inner.properties.0.is_empty() {
            fields(inner, &nested, rows);
        }
        if let Some(json) = &property.json {
            fields(json, &format!("{nested}(JSON)"), rows);
        }
    }
}

/// Rows in aligned columns, indented by two.
fn table(rows: &[[String; 4]], out: &mut String) {
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2)];
    for row in rows {
        let mut line = String::from("  ");
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i < 3 {
                let pad = widths[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}
