//! The typed models: one Rust module per operation (`api::v3::pay::transactions::native`),
//! with its `Request` (path, query, header and body fields) and `Answer`, grouped in files by
//! the first segment of the template and behind one Cargo feature per business area.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use serde_json::Value;

use crate::operations::{Operation, Parameter};
use crate::schema::Schema;

/// The business areas: (feature, what it holds, the first segments of the templates in it).
/// A template's area is found by its API and first segment; `api-other` takes the rest.
pub const AREAS: &[(&str, &str, &[&str])] = &[
    (
        "api-pay",
        "basic payment: orders (JSAPI, Native, App, H5, mini-program), combined orders, the platform certificates",
        &["pay", "combine-transactions", "certificates"],
    ),
    ("api-refund", "refunds", &["refund"]),
    (
        "api-bill",
        "trade and fund bills",
        &["bill", "billdownload"],
    ),
    (
        "api-complaint",
        "consumer complaints and the merchant service",
        &["merchant-service"],
    ),
    ("api-profitsharing", "profit sharing", &["profitsharing"]),
    (
        "api-transfer",
        "transfers and fund applications",
        &[
            "transfer",
            "transfer-detail",
            "transferdownload",
            "bank-transfer",
            "bank-batch-transfer",
            "partner-transfer",
            "fund-app",
            "funds-to-oversea",
            "payroll-card",
        ],
    ),
    (
        "api-marketing",
        "marketing: coupons, merchant coupons, member cards, payment gifts, business circles",
        &[
            "marketing",
            "businesscircle",
            "goldplan",
            "industry-coupon",
            "lovefeast",
            "smartguide",
            "brand",
            "brand-basic",
            "catering",
            "rate-activity",
        ],
    ),
    (
        "api-ecommerce",
        "partners and platforms: e-commerce (收付通) and platform solutions",
        &["ecommerce", "platsolution"],
    ),
    (
        "api-payscore",
        "WeChat Pay Score",
        &["payscore", "discount-card"],
    ),
    (
        "api-papay",
        "entrusted payments (委托代扣) and contracts",
        &[
            "papay",
            "partner-papay",
            "edu-papay",
            "eduschoolpay",
            "edu-star",
            "password-exempt-contract",
            "credit-repayment",
            "repayment",
            "ebike",
            "vehicle",
            "parking",
            "hire-power-bank",
        ],
    ),
    (
        "api-merchant",
        "merchants: applications, settlement, risk, management",
        &[
            "applyment4sub",
            "apply4subject",
            "apply4sub",
            "merchant",
            "mchalterapply",
            "capital",
            "merchant-risk-manage",
            "mch-manage",
            "mch-operation-manage",
            "mch_operate",
            "merchant-settlement",
            "merchantfund",
            "merchant-store",
            "compliance",
            "realname",
            "security",
            "abnormal-fund-processing",
            "transaction-block",
        ],
    ),
    (
        "api-global",
        "the overseas (cross-border) APIs and the Hong Kong wallet, on apihk.mch.weixin.qq.com",
        &[],
    ),
    ("api-v2", "APIv2 (XML)", &[]),
    ("api-other", "every other APIv3 operation", &[]),
];

/// The area of an operation.
pub fn area_of(op: &Operation) -> &'static str {
    if op.api == "v2" {
        return "api-v2";
    }
    if op.host == "hk" || op.host == "global" || op.template.starts_with("global/") {
        return "api-global";
    }
    let first = op.template.split('/').nth(1).unwrap_or("");
    AREAS
        .iter()
        .find(|(_, _, firsts)| firsts.contains(&first))
        .map_or("api-other", |(feature, _, _)| feature)
}

/// Rust keywords (2024 edition) that a segment or field name may spell.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
];

/// `addInstitutionsub` -> `add_institutionsub`, `out-trade-no` -> `out_trade_no`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if previous_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            previous_lower = false;
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.ends_with('_') {
                out.push('_');
            }
            previous_lower = false;
        }
    }
    let out = out.trim_matches('_').to_owned();
    if out.is_empty() {
        "_".to_owned()
    } else if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{out}")
    } else {
        out
    }
}

/// A field or module identifier for `name`: snake case, a keyword raw (`r#type`) or, where a
/// raw identifier is not allowed, with a trailing `_`.
fn ident(name: &str) -> String {
    let s = snake(name);
    if KEYWORDS.contains(&s.as_str()) {
        if ["self", "Self", "super", "crate"].contains(&s.as_str()) {
            format!("{s}_")
        } else {
            format!("r#{s}")
        }
    } else {
        s
    }
}

/// `goods_detail` -> `GoodsDetail`.
fn pascal(name: &str) -> String {
    let mut out = String::new();
    for part in snake(name).split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'T');
    }
    out
}

/// A title, safe in a doc comment (no intra-doc links, no HTML, no code spans).
fn doc(text: &str) -> String {
    text.replace('`', "")
        .replace('[', "\\[")
        .replace(']', "\\]")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', " ")
}

/// A Rust string literal.
fn lit(text: &str) -> String {
    format!("{text:?}")
}

/// The module path of an operation, relative to `api`: `["v3", "pay", "transactions",
/// "native"]`; Hong Kong's under `hk`; a placeholder `{x}` is `by_x`.
pub fn module_path(op: &Operation) -> Vec<String> {
    let mut path = Vec::new();
    if op.host == "hk" {
        path.push("hk".to_owned());
    }
    for segment in op.template.split('/').filter(|s| !s.is_empty()) {
        let name = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(var) => format!("by_{}", snake(var)),
            None => ident(segment),
        };
        path.push(name);
    }
    path
}

/// What the generator writes: files by path relative to `src/api/`.
pub struct Output {
    pub files: BTreeMap<String, String>,
    /// The features, in order, with what each holds and how many operations.
    pub features: Vec<(&'static str, &'static str, usize)>,
    /// `tests/models/all.rs`: every model, for the round-trip tests.
    pub tests: String,
}

/// A module of the tree: its operations (by method) and its children.
#[derive(Default)]
struct Tree<'a> {
    operations: Vec<&'a Operation>,
    children: BTreeMap<String, Tree<'a>>,
    area: Option<&'static str>,
}

pub fn generate(operations: &[Operation]) -> Result<Output, String> {
    // The tree of modules.
    let mut root = Tree::default();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for op in operations {
        let area = area_of(op);
        *counts.entry(area).or_default() += 1;
        let path = module_path(op);
        let mut node = &mut root;
        for (depth, name) in path.iter().enumerate() {
            node = node.children.entry(name.clone()).or_default();
            // The area is decided at the file's module (the second level: `v3::pay`).
            let file_level = if path[0] == "hk" || path[0] == "global" {
                0
            } else {
                1
            };
            if depth == file_level {
                match node.area {
                    None => node.area = Some(area),
                    Some(existing) if existing != area => {
                        return Err(format!(
                            "{} {}: module `{}` holds operations of {existing} and {area}",
                            op.method,
                            op.template,
                            path[..=depth].join("::")
                        ));
                    }
                    _ => {}
                }
            }
        }
        node.operations.push(op);
    }
    let mut files = BTreeMap::new();
    let mut top = String::from(HEADER);
    top.push_str("//! The typed models, by path: one module per operation.\n\n");
    for (name, tree) in &root.children {
        let area = tree.area;
        match name.as_str() {
            "hk" | "global" => {
                // One file: the whole tree under one area.
                let feature = area.unwrap_or("api-global");
                let mut code = String::from(HEADER);
                let _ = writeln!(code, "//! `{name}`: {}.\n", area_text(feature));
                write_tree(tree, &mut code, &format!("api::{name}"))?;
                files.insert(format!("{name}.rs"), code);
            }
            _ => {
                // `v3/mod.rs`, `v2/mod.rs`: a file per first segment.
                let mut index = String::from(HEADER);
                let _ = writeln!(
                    index,
                    "//! `{name}/...`: the operations by their first segment.\n"
                );
                for (child, subtree) in &tree.children {
                    let feature = subtree.area.unwrap_or("api-other");
                    let file = child.trim_start_matches("r#");
                    let _ = writeln!(
                        index,
                        "#[cfg(feature = {})]\n#[path = \"{file}.rs\"]\npub mod {child};",
                        lit(feature)
                    );
                    let mut code = String::from(HEADER);
                    let _ = writeln!(
                        code,
                        "//! `{name}/{}/...` ({}, feature `{feature}`).\n",
                        child.trim_start_matches("r#"),
                        area_text(feature)
                    );
                    write_tree(subtree, &mut code, &format!("api::{name}::{child}"))?;
                    files.insert(format!("{name}/{file}.rs"), code);
                }
                if !tree.operations.is_empty() {
                    return Err(format!("an operation at the root of `{name}`"));
                }
                files.insert(format!("{name}/mod.rs"), index);
            }
        }
        let _ = name;
    }
    let features = AREAS
        .iter()
        .map(|(f, what, _)| (*f, *what, counts.get(f).copied().unwrap_or(0)))
        .collect();
    let tests = test_index(operations);
    Ok(Output {
        files,
        features,
        tests,
    })
}

/// The test suite's list of every model (`tests/models/all.rs`): one entry per operation, under
/// its area's feature, with its answer round-tripped when it has a model.
fn test_index(operations: &[Operation]) -> String {
    let mut per_path: HashMap<Vec<String>, usize> = HashMap::new();
    for op in operations {
        *per_path.entry(module_path(op)).or_default() += 1;
    }
    let mut out = String::from(HEADER);
    out.push_str(
        "//! Every typed model, for tests/models.rs.

use super::Entry;

",
    );
    out.push_str(
        "/// One entry per operation of the areas enabled.
// One `push` per operation, each under its area's feature.
#[allow(clippy::vec_init_then_push)]
pub fn entries() -> Vec<Entry> {
    #[allow(unused_mut)]
    let mut all = Vec::new();
",
    );
    for op in operations {
        let path = module_path(op);
        let mut module = format!("wechatpay::api::{}", path.join("::"));
        if per_path[&path] > 1 {
            module.push_str("::");
            module.push_str(&op.method.to_lowercase());
        }
        let with_answer = matches!(answer_model(op), AnswerModel::Json | AnswerModel::Struct(_));
        let _ = writeln!(
            out,
            "    #[cfg(feature = {})]
    all.push(Entry::{}::<{module}::Request>());",
            lit(area_of(op)),
            if with_answer {
                "with_answer"
            } else {
                "request_only"
            }
        );
    }
    out.push_str(
        "    all
}
",
    );
    out
}

fn area_text(feature: &str) -> &'static str {
    AREAS
        .iter()
        .find(|(f, _, _)| *f == feature)
        .map_or("", |(_, what, _)| what)
}

const HEADER: &str = "// Generated by `cargo xtask catalogue` (xtask/src/models.rs) from the WeChat Pay API\n// descriptions; do not edit.\n";

/// Writes a module's operations and its children.
fn write_tree(tree: &Tree, out: &mut String, path: &str) -> Result<(), String> {
    let methods: BTreeSet<&str> = tree.operations.iter().map(|o| o.method.as_str()).collect();
    if methods.len() != tree.operations.len() {
        return Err(format!("{path}: two operations with one method"));
    }
    if tree.operations.len() == 1 {
        write_operation(tree.operations[0], out, path)?;
    } else {
        for op in &tree.operations {
            let name = op.method.to_lowercase();
            if tree.children.contains_key(&name) {
                return Err(format!(
                    "{path}: a child module named `{name}` beside the method"
                ));
            }
            let _ = writeln!(
                out,
                "/// `{} {}`: {}.",
                op.method,
                op.template,
                doc(&op.title)
            );
            let _ = writeln!(out, "pub mod {name} {{");
            write_operation(op, out, &format!("{path}::{name}"))?;
            out.push_str("}\n");
        }
    }
    for (name, child) in &tree.children {
        let titles: Vec<String> = child
            .operations
            .iter()
            .map(|o| format!("`{} {}`: {}", o.method, o.template, doc(&o.title)))
            .collect();
        if titles.is_empty() {
            let _ = writeln!(out, "/// `.../{}/...`", name.trim_start_matches("r#"));
        } else {
            let _ = writeln!(out, "/// {}.", titles.join("; "));
        }
        let _ = writeln!(out, "pub mod {name} {{");
        write_tree(child, out, &format!("{path}::{name}"))?;
        out.push_str("}\n");
    }
    Ok(())
}

/// The types of one module: a name for each definition, shared when identical.
#[derive(Default)]
struct Types {
    /// name -> definition.
    defined: BTreeMap<String, String>,
    /// In order of definition.
    order: Vec<String>,
    v2: bool,
}

impl Types {
    /// Registers `code` (with `__TYPE__` standing for the type's name) under the first free name
    /// among the candidates, or the name an identical definition already has.
    fn define(&mut self, candidates: &[String], code: &str) -> String {
        for name in candidates {
            let text = code.replace("__TYPE__", name);
            match self.defined.get(name) {
                Some(existing) if *existing == text => return name.clone(),
                Some(_) => continue,
                None if RESERVED.contains(&name.as_str()) => continue,
                None => {
                    self.defined.insert(name.clone(), text);
                    self.order.push(name.clone());
                    return name.clone();
                }
            }
        }
        let base = &candidates[0];
        for i in 2.. {
            let name = format!("{base}{i}");
            let text = code.replace("__TYPE__", &name);
            match self.defined.get(&name) {
                Some(existing) if *existing == text => return name,
                Some(_) => continue,
                None => {
                    self.defined.insert(name.clone(), text);
                    self.order.push(name.clone());
                    return name;
                }
            }
        }
        unreachable!()
    }
}

/// Names a nested type may not take: the module's own two, and the prelude's, which a
/// `use module::*` would otherwise shadow (`refunds::From`, a refund's source account).
const RESERVED: &[&str] = &[
    "Request",
    "Answer",
    "Self",
    "From",
    "Into",
    "Option",
    "Some",
    "None",
    "Result",
    "Ok",
    "Err",
    "String",
    "Vec",
    "Box",
    "Default",
    "Clone",
    "Copy",
    "Send",
    "Sync",
    "Sized",
    "Drop",
    "Fn",
    "Iterator",
    "ToString",
    "ToOwned",
    "Eq",
    "PartialEq",
    "Ord",
    "PartialOrd",
];

/// The Rust type of `schema` (a field named `field`, in a type named `parent`), defining the
/// nested types it needs.
fn rust_type(types: &mut Types, schema: &Schema, field: &str, parent: &str) -> String {
    match schema.kind {
        "object" if !schema.properties.is_empty() => {
            let own = pascal(field);
            let code = struct_code(types, schema, "__TYPE__", &own, &[], None);
            types.define(&[own.clone(), format!("{parent}{own}")], &code)
        }
        "object" | "any" | "file" => "::serde_json::Value".to_owned(),
        "array" => {
            let item = match &schema.items {
                Some(items) => rust_type(types, items, field, parent),
                None => "::serde_json::Value".to_owned(),
            };
            format!("::std::vec::Vec<{item}>")
        }
        "string" if !schema.enumeration.is_empty() => {
            let values: Vec<&str> = schema
                .enumeration
                .iter()
                .filter_map(Value::as_str)
                .collect();
            if values.len() != schema.enumeration.len() {
                return "::std::string::String".to_owned();
            }
            let code = enum_code(schema, &values);
            let own = pascal(field);
            types.define(&[own.clone(), format!("{parent}{own}")], &code)
        }
        "string" => "::std::string::String".to_owned(),
        "integer" => "i64".to_owned(),
        "number" => "f64".to_owned(),
        "boolean" => "bool".to_owned(),
        _ => "::serde_json::Value".to_owned(),
    }
}

fn enum_code(schema: &Schema, values: &[&str]) -> String {
    let mut names: Vec<String> = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let mut name = if value.is_empty() {
            "Empty".to_owned()
        } else if value.is_ascii() {
            pascal(value)
        } else {
            format!("Value{}", i + 1)
        };
        if name == "Unknown" {
            name = "UnknownValue".to_owned();
        }
        while names.contains(&name) {
            name.push('_');
        }
        names.push(name);
    }
    let mut code = String::new();
    let _ = writeln!(
        code,
        "crate::api::string_enum! {{\n    /// {}\n    pub enum __TYPE__ {{",
        doc(schema
            .title
            .as_deref()
            .unwrap_or("One of the values WeChat Pay defines"))
    );
    for (name, value) in names.iter().zip(values) {
        let _ = writeln!(code, "        {name} = {},", lit(value));
    }
    code.push_str("    }\n}\n");
    code
}

/// A field of a generated struct.
struct Field {
    /// The wire name.
    wire: String,
    ident: String,
    ty: String,
    required: bool,
    title: Option<String>,
    /// Not part of the body: a path, query or header parameter.
    parameter: bool,
}

/// The fields of an object schema (numbered fields aside).
fn fields_of(types: &mut Types, schema: &Schema, parent: &str) -> (Vec<Field>, bool) {
    let mut fields = Vec::new();
    let mut numbered = false;
    for (name, property) in &schema.properties.0 {
        if name.contains("$n") {
            numbered = true;
            continue;
        }
        let ty = rust_type(types, property, name, parent);
        let mut id = ident(name);
        while fields.iter().any(|f: &Field| f.ident == id) {
            id = format!("{}_", id.trim_start_matches("r#"));
        }
        fields.push(Field {
            wire: name.clone(),
            ident: id,
            ty,
            required: schema.required.contains(name),
            title: property.title.clone(),
            parameter: false,
        });
    }
    (fields, numbered)
}

/// A struct's code; `extra` fields (parameters) first. `parent`: the name its nested types
/// are named after when their own name is taken.
fn struct_code(
    types: &mut Types,
    schema: &Schema,
    name: &str,
    parent: &str,
    extra: &[Field],
    title: Option<&str>,
) -> String {
    let (fields, numbered) = fields_of(types, schema, parent);
    let mut all: Vec<&Field> = extra.iter().collect();
    all.extend(fields.iter());
    struct_text(
        title.or(schema.title.as_deref()),
        name,
        &all,
        numbered,
        Derives::Data,
    )
}

/// What a struct derives.
#[derive(Clone, Copy, PartialEq)]
enum Derives {
    /// Data: `Default`, `PartialEq`, serde.
    Data,
    /// A media upload's request: serde for its (skipped) parameters only.
    Upload,
}

fn struct_text(
    title: Option<&str>,
    name: &str,
    fields: &[&Field],
    numbered: bool,
    derives: Derives,
) -> String {
    let mut code = String::new();
    let _ = writeln!(
        code,
        "/// {}",
        doc(title.unwrap_or("The fields of this object"))
    );
    let _ = writeln!(
        code,
        "#[derive(Clone, Debug, Default, {}::serde::Serialize, ::serde::Deserialize)]",
        if derives == Derives::Data {
            "PartialEq, "
        } else {
            ""
        }
    );
    let _ = writeln!(code, "pub struct {name} {{");
    for f in fields {
        let _ = writeln!(
            code,
            "    /// {}",
            doc(f.title.as_deref().unwrap_or(&f.wire))
        );
        let mut attrs = Vec::new();
        if f.parameter {
            attrs.push("skip".to_owned());
        } else {
            if f.ident.trim_start_matches("r#") != f.wire {
                attrs.push(format!("rename = {}", lit(&f.wire)));
            }
            if !f.required {
                attrs.push("default".to_owned());
                attrs.push("skip_serializing_if = \"::std::option::Option::is_none\"".to_owned());
            }
        }
        if !attrs.is_empty() {
            let _ = writeln!(code, "    #[serde({})]", attrs.join(", "));
        }
        let ty = if f.required || f.ty.starts_with("::std::option") {
            f.ty.clone()
        } else {
            format!("::std::option::Option<{}>", f.ty)
        };
        let _ = writeln!(code, "    pub {}: {ty},", f.ident);
    }
    if numbered {
        // Only APIv2 numbers its fields, and its values are text.
        code.push_str(
            "    /// The numbered fields (`coupon_id_$n`: `coupon_id_0`, `coupon_id_1`, ...) and any other\n    /// field the description does not list, as text\n    #[serde(flatten, deserialize_with = \"crate::api::support::numbered\")]\n    pub numbered: ::std::collections::BTreeMap<::std::string::String, ::std::string::String>,\n",
        );
    }
    code.push_str("}\n");
    code
}

/// The Rust type of a parameter, and whether it may be absent.
fn parameter_type(types: &mut Types, p: &Parameter) -> String {
    let ty = match p.schema.kind {
        "array" => "::std::vec::Vec<::std::string::String>".to_owned(),
        "object" | "any" | "file" => "::std::string::String".to_owned(),
        _ => rust_type(types, &p.schema, &p.name, ""),
    };
    if p.required || p.location == "path" {
        ty
    } else {
        format!("::std::option::Option<{ty}>")
    }
}

/// What an operation's answer decodes into.
enum AnswerModel<'a> {
    /// The response itself: a download, or an APIv2 answer that is not XML fields (a page).
    Response,
    /// Nothing (`204`).
    Nothing,
    /// JSON as it came: the description gives no fields.
    Json,
    /// A generated struct.
    Struct(&'a Schema),
}

fn answer_model(op: &Operation) -> AnswerModel<'_> {
    match (op.answer.kind, &op.answer.schema) {
        ("download", _) => AnswerModel::Response,
        ("none", _) | (_, None) => AnswerModel::Nothing,
        (_, Some(schema)) if schema.kind == "object" && !schema.properties.is_empty() => {
            AnswerModel::Struct(schema)
        }
        _ if op.api == "v2" => AnswerModel::Response,
        (_, Some(_)) => AnswerModel::Json,
    }
}

/// APIv2 body fields the client sets itself.
const CLIENT_FIELDS_V2: &[&str] = &["nonce_str", "sign"];

/// Headers the client sets itself.
const CLIENT_HEADERS: &[&str] = &["wechatpay-serial", "accept-encoding"];

fn write_operation(op: &Operation, out: &mut String, _path: &str) -> Result<(), String> {
    let mut types = Types {
        v2: op.api == "v2",
        ..Types::default()
    };
    let id = format!("{} {}", op.method, op.template);
    let multipart = op.body_kind == "multipart";
    // The body's fields, then the parameters, named apart where they collide.
    let body_names: BTreeSet<String> = op
        .body
        .as_ref()
        .map(|b| b.properties.0.iter().map(|(n, _)| ident(n)).collect())
        .unwrap_or_default();
    let mut parameters = Vec::new();
    let mut sets = String::new();
    let mut gets = String::new();
    for p in &op.parameters {
        if p.location == "form" {
            continue;
        }
        if p.location == "header" && CLIENT_HEADERS.contains(&p.name.to_lowercase().as_str()) {
            continue;
        }
        let mut name = ident(&p.name);
        if body_names.contains(&name) || parameters.iter().any(|f: &Field| f.ident == name) {
            name = format!("{}_{}", name.trim_start_matches("r#"), p.location);
        }
        let ty = parameter_type(&mut types, p);
        let optional = ty.starts_with("::std::option");
        let wire = lit(&p.name);
        let value = if ty.contains("Vec<") {
            "v.join(\",\")".to_owned()
        } else {
            "v".to_owned()
        };
        let (set, get) = match p.location {
            "path" => (
                format!("o = o.var({wire}, crate::api::support::text(&self.{name}));"),
                format!("r.{name} = crate::api::support::from_var(options, {wire})?;"),
            ),
            "query" => (
                if optional {
                    format!("if let Some(v) = &self.{name} {{ o = o.query({wire}, {value}); }}")
                } else {
                    format!("{{ let v = &self.{name}; o = o.query({wire}, {value}); }}")
                },
                format!("r.{name} = crate::api::support::from_query(options, {wire})?;"),
            ),
            _ => (
                if optional {
                    format!(
                        "if let Some(v) = &self.{name} {{ o = o.header({wire}, &crate::api::support::text(v)); }}"
                    )
                } else {
                    format!("o = o.header({wire}, &crate::api::support::text(&self.{name}));")
                },
                format!("r.{name} = crate::api::support::from_header(options, {wire})?;"),
            ),
        };
        let _ = writeln!(sets, "        {set}");
        let _ = writeln!(gets, "        {get}");
        parameters.push(Field {
            wire: p.name.clone(),
            ident: name,
            ty: ty.clone(),
            required: true,
            title: p.schema.title.clone(),
            parameter: true,
        });
    }
    if multipart {
        let _ = writeln!(
            gets,
            "        r.media = crate::api::support::from_media(options);"
        );
    }
    let body_call = if multipart {
        "crate::api::support::media(&self.media, &Self::SPEC)"
    } else {
        "crate::api::support::body(&self, &Self::SPEC)"
    };
    let request_title = format!("The request of {}: {id}", op.title);
    let answer_title = format!("The answer of {}: {id}", op.title);
    // The request.
    let request = match (&op.body, multipart) {
        (_, true) => {
            let mut fields: Vec<&Field> = parameters.iter().collect();
            let media = Field {
                wire: "media".into(),
                ident: "media".into(),
                ty: "::std::option::Option<crate::Media>".into(),
                required: true,
                title: Some("The file, with its meta (filename, SHA-256)".into()),
                parameter: true,
            };
            fields.push(&media);
            struct_text(
                Some(&request_title),
                "Request",
                &fields,
                false,
                Derives::Upload,
            )
        }
        (Some(body), false) if body.kind == "object" => {
            // APIv2: the client adds `nonce_str` and `sign` to every request.
            let mut body = body.clone();
            if op.api == "v2" {
                body.properties
                    .0
                    .retain(|(name, _)| !CLIENT_FIELDS_V2.contains(&name.as_str()));
                body.required
                    .retain(|name| !CLIENT_FIELDS_V2.contains(&name.as_str()));
            }
            struct_code(
                &mut types,
                &body,
                "Request",
                "Request",
                &parameters,
                Some(&request_title),
            )
        }
        (Some(_), false) => {
            return Err(format!("{id}: a body that is not an object"));
        }
        (None, false) => {
            let fields: Vec<&Field> = parameters.iter().collect();
            struct_text(
                Some(&request_title),
                "Request",
                &fields,
                false,
                Derives::Data,
            )
        }
    };
    // The answer.
    let answer_type = match answer_model(op) {
        AnswerModel::Response => "crate::Response".to_owned(),
        AnswerModel::Nothing => "()".to_owned(),
        AnswerModel::Json => "::serde_json::Value".to_owned(),
        AnswerModel::Struct(schema) => {
            let code = struct_code(
                &mut types,
                schema,
                "Answer",
                "Answer",
                &[],
                Some(&answer_title),
            );
            types.defined.insert("Answer".to_owned(), code);
            types.order.push("Answer".to_owned());
            "Answer".to_owned()
        }
    };
    out.push_str(&request);
    let encrypted: Vec<String> = op.encrypted.iter().map(|p| lit(p)).collect();
    // The family first: `v3/global/certificates` names apihk, its family's usual host.
    let host = match (op.host, &op.base_uri) {
        ("hk", _) => "crate::api::Host::Hk".to_owned(),
        ("global", _) => "crate::api::Host::Global".to_owned(),
        (_, Some(uri)) => format!("crate::api::Host::Other({})", lit(uri)),
        _ => "crate::api::Host::Api".to_owned(),
    };
    let body = match (op.body_kind, op.body.is_some()) {
        ("multipart", _) => "crate::api::BodyKind::Multipart",
        ("json", true) => "crate::api::BodyKind::Json",
        ("xml", true) => "crate::api::BodyKind::Xml",
        _ => "crate::api::BodyKind::None",
    };
    let answer_kind = match (op.answer.kind, op.api) {
        ("download", _) => "crate::api::AnswerKind::Download",
        _ if answer_type == "()" => "crate::api::AnswerKind::None",
        (_, "v2") => "crate::api::AnswerKind::Xml",
        _ => "crate::api::AnswerKind::Json",
    };
    let _ = writeln!(
        out,
        "impl crate::api::Request for Request {{
    type Answer = {answer_type};
    const SPEC: crate::api::Spec = crate::api::Spec {{
        method: crate::Method::{method},
        template: {template},
        title: {title},
        host: {host},
        body: {body},
        answer: {answer_kind},
        encrypted: &[{encrypted}],
        mutual_tls: {mutual_tls},
    }};
    fn into_options(self) -> crate::Options {{
{into_options}
    }}
    fn from_options(options: &crate::Options) -> crate::Result<Self> {{
{from_options}
    }}
}}",
        method = op.method,
        template = lit(&op.template),
        title = lit(&op.title),
        encrypted = encrypted.join(", "),
        mutual_tls = op.mutual_tls,
        into_options = if sets.is_empty() {
            format!("        {body_call}")
        } else {
            format!("        let mut o = {body_call};\n{sets}        o")
        },
        from_options = if gets.is_empty() {
            "        crate::api::support::from_body(options, &Self::SPEC)".to_owned()
        } else {
            format!(
                "        let mut r: Self = crate::api::support::from_body(options, &Self::SPEC)?;\n{gets}        Ok(r)"
            )
        },
    );
    for name in &types.order {
        out.push_str(&types.defined[name]);
    }
    if answer_type == "Answer" {
        let _ = writeln!(
            out,
            "crate::api::{}!(Answer);",
            if op.api == "v2" {
                "xml_answer"
            } else {
                "json_answer"
            }
        );
    }
    let _ = types.v2;
    Ok(())
}
