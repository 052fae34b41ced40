//! The operations of the dataset's index (`swagger.yaml`), each read from its own file.

use std::path::Path;

use serde::Serialize;
use yaml_rust2::Yaml;

use crate::dataset::{Dataset, Node};
use crate::overrides;
use crate::report::Report;
use crate::schema::{Normalizer, Schema, prune_required, title};

/// One operation of the catalogue.
#[derive(Clone, Debug, Serialize)]
pub struct Operation {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path template in the chain's spelling, relative to the base URI:
    /// `v3/pay/transactions/out-trade-no/{out_trade_no}`, `v2/pay/micropay`.
    pub template: String,
    /// `v3` or `v2`.
    pub api: &'static str,
    /// The host family: `api` (api.mch.weixin.qq.com), `hk` (Hong Kong wallet,
    /// apihk.mch.weixin.qq.com), `global` (overseas, apihk.mch.weixin.qq.com) or `other`
    /// (`base_uri` says which).
    pub host: &'static str,
    /// The host, when the operation is not served by its family's usual one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_uri: Option<String>,
    /// The official short title (the summary).
    pub title: String,
    /// The business areas (the dataset's tags).
    pub tags: Vec<String>,
    /// Path, query, header and form parameters.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    /// How the body is sent: `json`, `xml`, `multipart` or `none`.
    pub body_kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Schema>,
    /// The success answer: its status and schema (none: no body, or a download).
    pub answer: Answer,
    /// JSON Pointers (`*` for any array index) of the body's encrypted (RSA-OAEP) fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encrypted: Vec<String>,
    /// WeChat Pay does not sign the answer (a download).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unsigned: bool,
    /// APIv2: sent with the merchant certificate (mutual TLS).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mutual_tls: bool,
    /// APIv2: signed with HMAC-SHA256 only.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hmac_sha256_only: bool,
    /// The dataset file it comes from.
    pub source: String,
}

/// One parameter.
#[derive(Clone, Debug, Serialize)]
pub struct Parameter {
    pub name: String,
    /// `path`, `query`, `header` or `form`.
    #[serde(rename = "in")]
    pub location: &'static str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    pub schema: Schema,
}

/// The success answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Answer {
    pub status: u16,
    /// What the answer carries: `json`, `xml`, `none` (no body) or `download` (bytes).
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Schema>,
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Every operation of the index, sorted by template then method, and apart from them the
/// callbacks WeChat Pay sends (`/v3/webhooks`).
pub fn read(
    dataset: &Dataset,
    report: &mut Report,
) -> Result<(Vec<Operation>, Vec<Operation>), String> {
    let index = dataset.load(Path::new("swagger.yaml"))?;
    let paths = index["paths"]
        .as_hash()
        .ok_or("swagger.yaml has no `paths`")?;
    let mut operations = Vec::new();
    let mut callbacks = Vec::new();
    for (path, entry) in paths {
        let path = path.as_str().ok_or("a path that is not text")?;
        let file = entry["$ref"]
            .as_str()
            .ok_or_else(|| format!("path {path} is no `$ref`"))?;
        let file = dataset.root.join(file);
        let callback = path == "/v3/webhooks";
        if callback {
            report.count(
                "callback_not_api",
                format!("{path} ({})", dataset.relative(&file)),
            );
        }
        let doc = dataset.load(&file)?;
        let root = Node {
            file: std::rc::Rc::new(crate::dataset::normalize(&file)),
            at: String::new(),
            yaml: (*doc).clone(),
        };
        for method in METHODS {
            if root.yaml[method].is_badvalue() {
                continue;
            }
            let op = operation(dataset, report, path, method, &root.child(method))?;
            if callback {
                callbacks.push(op)
            } else {
                operations.push(op)
            }
        }
    }
    overrides::apply(&mut operations, report)?;
    operations.sort_by(|a, b| (&a.template, &a.method).cmp(&(&b.template, &b.method)));
    Ok((operations, callbacks))
}

/// The template, API and host family of an index path.
fn place_of(path: &str) -> (String, &'static str, &'static str) {
    let path = path.trim_start_matches('/');
    if let Some(rest) = path.strip_prefix("hk/") {
        (rest.to_owned(), "v3", "hk")
    } else if path.starts_with("global/") || path.starts_with("v3/global/") {
        (path.to_owned(), "v3", "global")
    } else if path.starts_with("v3/") {
        (path.to_owned(), "v3", "api")
    } else {
        (format!("v2/{path}"), "v2", "api")
    }
}

fn operation(
    dataset: &Dataset,
    report: &mut Report,
    path: &str,
    method: &str,
    node: &Node,
) -> Result<Operation, String> {
    let y = &node.yaml;
    let (template, api, mut host) = place_of(path);
    let source = dataset.relative(&node.file);
    let id = format!("{} {template}", method.to_uppercase());
    let base_uri = match (y["x-base-uri"].as_str(), y["x-baseuri"].as_str()) {
        (Some(uri), _) => Some(uri.to_owned()),
        (None, Some(uri)) => {
            report.count(
                "override",
                format!("{id}: `x-baseuri` read as `x-base-uri`"),
            );
            Some(uri.to_owned())
        }
        (None, None) => None,
    };
    if let Some(uri) = &base_uri {
        host = if uri.contains("apihk.") {
            if host == "api" { "global" } else { host }
        } else {
            "other"
        };
    }
    let mut normalizer = Normalizer::new(dataset, report);
    let mut parameters = Vec::new();
    let mut body = None;
    let mut body_kind = "none";
    if let Some(list) = y["parameters"].as_vec() {
        let params = node.child("parameters");
        for (i, p) in list.iter().enumerate() {
            let mut p_node = params.item(i, p);
            if let Some(reference) = p["$ref"].as_str() {
                let place = p_node.place(dataset);
                p_node = dataset.resolve(&node.file, reference, &place, normalizer.report)?;
            }
            let p = p_node.yaml.clone();
            let location = match p["in"].as_str() {
                Some("path") => "path",
                Some("query") => "query",
                Some("header") => "header",
                Some("formData") => "form",
                Some("body") => {
                    let schema = normalizer.schema(&p_node.child("schema"))?;
                    body_kind = if api == "v2" { "xml" } else { "json" };
                    body = Some(schema);
                    continue;
                }
                other => return Err(format!("{id}: parameter in {other:?}")),
            };
            let name = p["name"]
                .as_str()
                .ok_or_else(|| format!("{id}: a parameter without a name"))?
                .to_owned();
            // A non-body parameter is its own schema (type, enum, example, allOf).
            let mut schema = normalizer.schema(&p_node)?;
            if let Some(inner) = p["schema"].as_hash().map(|_| p_node.child("schema")) {
                schema = schema.merge(normalizer.schema(&inner)?);
            }
            if schema.kind == "any" {
                // A header, path or query value is text on the wire.
                normalizer
                    .report
                    .count_once("parameter_without_type", p_node.place(dataset));
                schema.kind = "string";
            }
            if location == "path" && schema.example.is_none() {
                normalizer
                    .report
                    .count("path_parameter_without_example", format!("{id} `{name}`"));
            }
            if location == "form" {
                body_kind = "multipart";
            }
            parameters.push(Parameter {
                required: p["required"].as_bool().unwrap_or(location == "path"),
                name,
                location,
                schema,
            });
        }
    }
    let placeholders = placeholders(&template);
    for name in &placeholders {
        if !parameters
            .iter()
            .any(|p| p.location == "path" && &p.name == name)
        {
            report.count("template_parameter_undeclared", format!("{id} `{name}`"));
            parameters.push(Parameter {
                name: name.clone(),
                location: "path",
                required: true,
                schema: Schema {
                    kind: "string",
                    ..Schema::default()
                },
            });
        }
    }
    for p in &parameters {
        if p.location == "path" && !placeholders.contains(&p.name) {
            report.count(
                "declared_parameter_not_in_template",
                format!("{id} `{}`", p.name),
            );
        }
    }
    let answer = answer(dataset, report, &id, node, api)?;
    if let Some(body) = &mut body {
        prune_required(body, &format!("{id} body"), report);
    }
    let mut answer = answer;
    if let Some(schema) = &mut answer.schema {
        prune_required(schema, &format!("{id} answer"), report);
    }
    let takes_serial = parameters
        .iter()
        .any(|p| p.location == "header" && p.name.eq_ignore_ascii_case("Wechatpay-Serial"));
    let mut encrypted = Vec::new();
    if let Some(body) = &body {
        pointers(body, "", &mut encrypted);
    }
    if takes_serial {
        for pointer in &encrypted {
            report.count_once("encrypted_field_with_serial", format!("{id} {pointer}"));
        }
    }
    let hmac_sha256_only = api == "v2"
        && body.as_ref().is_some_and(|b| {
            b.properties.get("sign_type").is_some_and(|s| {
                !s.enumeration.is_empty()
                    && s.enumeration
                        .iter()
                        .all(|v| v.as_str() == Some("HMAC-SHA256"))
            })
        });
    if hmac_sha256_only {
        report.count("hmac_sha256_only", id.clone());
    }
    let unsigned = answer.kind == "download";
    Ok(Operation {
        method: method.to_uppercase(),
        template,
        api,
        host,
        base_uri,
        title: y["summary"]
            .as_str()
            .and_then(title)
            .unwrap_or_else(|| id.clone()),
        tags: y["tags"]
            .as_vec()
            .map(|t| {
                t.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        parameters,
        body_kind,
        body,
        answer,
        encrypted,
        unsigned,
        mutual_tls: y["x-api-cert-required"].as_bool().unwrap_or(false),
        hmac_sha256_only,
        source,
    })
}

/// The names of a template's placeholders, in order.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push(rest[open + 1..open + close].to_owned());
        rest = &rest[open + close + 1..];
    }
    out
}

/// The success answer of an operation.
fn answer(
    dataset: &Dataset,
    report: &mut Report,
    id: &str,
    node: &Node,
    api: &'static str,
) -> Result<Answer, String> {
    let responses = node.child("responses");
    let Some(map) = responses.yaml.as_hash() else {
        return Ok(Answer {
            status: 200,
            kind: "none",
            schema: None,
        });
    };
    let mut integer_codes = false;
    let mut chosen = None;
    for (code, _) in map {
        let (text, status) = match code {
            Yaml::Integer(n) => {
                integer_codes = true;
                (n.to_string(), u16::try_from(*n).unwrap_or(0))
            }
            Yaml::String(s) => (s.clone(), s.parse().unwrap_or(0)),
            _ => continue,
        };
        if (200..300).contains(&status) && chosen.is_none() {
            chosen = Some((text, status));
        }
    }
    if integer_codes {
        report.count("integer_response_code", id.to_owned());
    }
    let Some((key, status)) = chosen else {
        return Ok(Answer {
            status: 200,
            kind: "none",
            schema: None,
        });
    };
    // The key as the YAML wrote it: an integer or a string.
    let entry = map
        .iter()
        .find(|(k, _)| match k {
            Yaml::Integer(n) => n.to_string() == key,
            Yaml::String(s) => *s == key,
            _ => false,
        })
        .map(|(_, v)| v.clone())
        .unwrap_or(Yaml::BadValue);
    let entry = Node {
        file: responses.file.clone(),
        at: format!("{}/{key}", responses.at),
        yaml: entry,
    };
    let produces: Vec<String> = node.yaml["produces"]
        .as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let download = !produces.is_empty()
        && produces
            .iter()
            .all(|t| !t.contains("json") && !t.contains("xml"));
    if entry.yaml["schema"].is_badvalue() {
        return Ok(Answer {
            status,
            kind: if download { "download" } else { "none" },
            schema: None,
        });
    }
    let schema = Normalizer::new(dataset, report).schema(&entry.child("schema"))?;
    Ok(Answer {
        status,
        kind: if download {
            "download"
        } else if api == "v2" {
            "xml"
        } else {
            "json"
        },
        schema: Some(schema),
    })
}

/// The JSON Pointers of the encrypted fields of `schema` (`*` for any array index).
fn pointers(schema: &Schema, at: &str, out: &mut Vec<String>) {
    if schema.encrypted() {
        out.push(at.to_owned());
    }
    for (name, property) in &schema.properties.0 {
        let name = name.replace('~', "~0").replace('/', "~1");
        pointers(property, &format!("{at}/{name}"), out);
    }
    if let Some(items) = &schema.items {
        pointers(items, &format!("{at}/*"), out);
    }
}
