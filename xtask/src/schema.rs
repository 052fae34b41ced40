//! Schemas, normalized: every `$ref` inlined, every `allOf` merged, types and examples made
//! consistent, field titles cut from their descriptions (a title, never a paragraph).

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;
use yaml_rust2::Yaml;

use crate::dataset::{Dataset, Node};
use crate::report::Report;

/// A normalized schema.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Schema {
    /// `object`, `array`, `string`, `integer`, `number`, `boolean`, `file`, or `any`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `rfc3339` (a time), `base64` (an encrypted field), `int64`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(rename = "enum", skip_serializing_if = "Vec::is_empty")]
    pub enumeration: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    /// Groups of names of which at least one is required (from an override).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_any: Vec<Vec<String>>,
    /// Where each `required` name was written (for the report), in step with `required`.
    #[serde(skip)]
    pub required_at: Vec<String>,
    #[serde(skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<Schema>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
    /// A string whose value is JSON text of this schema (the dataset's `x-json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<Box<Schema>>,
    /// The alternatives of a `oneOf` (the value is one of them).
    #[serde(rename = "oneOf", skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<Schema>,
}

/// Properties in the dataset's order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Properties(pub Vec<(String, Schema)>);

impl Properties {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&Schema> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Schema> {
        self.0.iter_mut().find(|(n, _)| n == name).map(|(_, s)| s)
    }
}

impl Serialize for Properties {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, schema) in &self.0 {
            map.serialize_entry(name, schema)?;
        }
        map.end()
    }
}

impl Schema {
    /// `over` merged over this schema: its type, title, format and example win; enums,
    /// required names and properties are unions (properties merged by name).
    pub fn merge(mut self, over: Schema) -> Schema {
        if over.kind != "any" {
            self.kind = over.kind;
        }
        if over.title.is_some() {
            self.title = over.title;
        }
        if over.format.is_some() {
            self.format = over.format;
        }
        for value in over.enumeration {
            if !self.enumeration.contains(&value) {
                self.enumeration.push(value);
            }
        }
        for (name, at) in over.required.into_iter().zip(over.required_at) {
            if !self.required.contains(&name) {
                self.required.push(name);
                self.required_at.push(at);
            }
        }
        for (name, schema) in over.properties.0 {
            match self.properties.get_mut(&name) {
                Some(existing) => {
                    let merged = std::mem::take(existing).merge(schema);
                    *existing = merged;
                }
                None => self.properties.0.push((name, schema)),
            }
        }
        match (self.items.take(), over.items) {
            (Some(a), Some(b)) => self.items = Some(Box::new(a.merge(*b))),
            (a, b) => self.items = b.or(a),
        }
        if over.example.is_some() {
            self.example = over.example;
        }
        if !over.one_of.is_empty() {
            self.one_of = over.one_of;
        }
        match (self.json.take(), over.json) {
            (Some(a), Some(b)) => self.json = Some(Box::new(a.merge(*b))),
            (a, b) => self.json = b.or(a),
        }
        self
    }

    /// Whether it is an encrypted field (`format: base64`).
    pub fn encrypted(&self) -> bool {
        self.format.as_deref() == Some("base64")
    }
}

/// Turns dataset nodes into [`Schema`]s, counting what it meets.
pub struct Normalizer<'a> {
    pub dataset: &'a Dataset,
    pub report: &'a mut Report,
    /// The `$ref`s being inlined, to cut a schema that refers to itself.
    stack: Vec<String>,
}

/// The type names the dataset writes, and what they mean.
fn type_name(name: &str) -> Option<(&'static str, bool)> {
    // (type, whether the name is an odd spelling)
    Some(match name {
        "object" => ("object", false),
        "array" => ("array", false),
        "string" => ("string", false),
        "integer" => ("integer", false),
        "number" => ("number", false),
        "boolean" => ("boolean", false),
        "file" => ("file", false),
        "int" | "uint" | "uint64" | "int64" | "int32" | "long" => ("integer", true),
        "string " | "stringde" | "str" => ("string", true),
        _ => return None,
    })
}

/// A field's title: its description up to the first sentence or clause break, without
/// Markdown links; at most 40 characters. (The dataset's paragraphs are not copied.)
pub fn title(description: &str) -> Option<String> {
    let first = description
        .split([
            '\n', '。', '；', ';', '，', ',', '：', ':', '（', '(', '[', '<',
        ])
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches(['*', '`', ' ']);
    if first.is_empty() {
        return None;
    }
    let cut: String = first.chars().take(40).collect();
    Some(cut)
}

/// A YAML scalar as JSON.
pub fn json(yaml: &Yaml) -> Option<Value> {
    Some(match yaml {
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(r.clone()), Value::Number),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Null => Value::Null,
        Yaml::Array(items) => Value::Array(items.iter().filter_map(json).collect()),
        Yaml::Hash(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    _ => continue,
                };
                if let Some(v) = json(v) {
                    out.insert(key, v);
                }
            }
            Value::Object(out)
        }
        Yaml::Alias(_) | Yaml::BadValue => return None,
    })
}

impl<'a> Normalizer<'a> {
    pub fn new(dataset: &'a Dataset, report: &'a mut Report) -> Normalizer<'a> {
        Normalizer {
            dataset,
            report,
            stack: Vec::new(),
        }
    }

    /// The schema of `node`.
    pub fn schema(&mut self, node: &Node) -> Result<Schema, String> {
        let Yaml::Hash(map) = &node.yaml else {
            return Ok(Schema {
                kind: "any",
                ..Schema::default()
            });
        };
        let own = self.own(node)?;
        let Some(reference) = node.yaml["$ref"].as_str() else {
            return Ok(own);
        };
        if map.len() > 1 {
            self.report
                .count_once("ref_with_siblings", node.place(self.dataset));
        }
        let target = self.dataset.resolve(
            &node.file,
            reference,
            &node.place(self.dataset),
            self.report,
        )?;
        let key = target.place(self.dataset);
        if self.stack.contains(&key) {
            self.report.count_once("recursive_schema", key);
            return Ok(Schema {
                kind: "object",
                ..own
            });
        }
        self.stack.push(key);
        let resolved = self.schema(&target);
        self.stack.pop();
        Ok(resolved?.merge(own))
    }

    /// The keywords of `node` itself (its `allOf` merged in), without its `$ref`.
    fn own(&mut self, node: &Node) -> Result<Schema, String> {
        let y = &node.yaml;
        let mut schema = Schema {
            kind: "any",
            ..Schema::default()
        };
        if let Some(all) = y["allOf"].as_vec() {
            let all_of = node.child("allOf");
            for (i, member) in all.iter().enumerate() {
                let member = self.schema(&all_of.item(i, member))?;
                schema = schema.merge(member);
            }
        }
        let mut mine = Schema {
            kind: "any",
            ..Schema::default()
        };
        match &y["type"] {
            Yaml::String(name) => match type_name(name) {
                Some((kind, odd)) => {
                    mine.kind = kind;
                    if odd {
                        self.report.count_once(
                            "odd_type_name",
                            format!("{} `{name}`", node.place(self.dataset)),
                        );
                    }
                }
                None => {
                    // A value where the type goes: a string, that value its example.
                    mine.kind = "string";
                    mine.example = Some(Value::String(name.clone()));
                    self.report.count_once(
                        "example_in_type_position",
                        format!("{} `{name}`", node.place(self.dataset)),
                    );
                }
            },
            Yaml::BadValue | Yaml::Null => {}
            other => return Err(format!("{}: type {other:?}", node.place(self.dataset))),
        }
        if let Some(description) = y["description"].as_str() {
            mine.title = title(description);
        }
        if let Some(format) = y["format"].as_str() {
            mine.format = Some(format.trim().to_owned());
        }
        if let Some(values) = y["enum"].as_vec() {
            mine.enumeration = values.iter().filter_map(json).collect();
        }
        match &y["required"] {
            Yaml::Array(names) => {
                let at = node.child("required").place(self.dataset);
                for name in names.iter().filter_map(Yaml::as_str) {
                    mine.required.push(name.to_owned());
                    mine.required_at.push(at.clone());
                }
            }
            // A parameter's own `required: true` is Swagger's; its parameter reads it.
            Yaml::BadValue => {}
            _ if !y["in"].is_badvalue() => {}
            // `required: true` on a property: its object (the caller) requires it.
            _ => self
                .report
                .count_once("required_not_a_list", node.place(self.dataset)),
        }
        if let Some(properties) = y["properties"].as_hash() {
            let props = node.child("properties");
            for (name, value) in properties {
                let Some(name) = name.as_str() else { continue };
                let property = props.child(name);
                if name.contains("$n") {
                    self.report
                        .count_once("numbered_field", property.place(self.dataset));
                }
                if value["required"].as_bool() == Some(true)
                    && !mine.required.iter().any(|n| n == name)
                {
                    mine.required.push(name.to_owned());
                    mine.required_at.push(property.place(self.dataset));
                }
                mine.properties
                    .0
                    .push((name.to_owned(), self.schema(&property)?));
            }
        }
        if let Some(members) = y["oneOf"].as_vec().or(y["anyOf"].as_vec()) {
            let key = if y["oneOf"].is_badvalue() {
                "anyOf"
            } else {
                "oneOf"
            };
            self.report.count_once("one_of", node.place(self.dataset));
            let list = node.child(key);
            for (i, member) in members.iter().enumerate() {
                let member = self.schema(&list.item(i, member))?;
                mine.one_of.push(member);
            }
        }
        if !y["x-json"].is_badvalue() {
            mine.json = Some(Box::new(self.schema(&node.child("x-json"))?));
        }
        if !y["items"].is_badvalue() {
            mine.items = Some(Box::new(self.schema(&node.child("items"))?));
        }
        if let Some(example) = json(&y["example"]) {
            mine.example = Some(example);
        }
        if mine.kind == "any" && y["$ref"].is_badvalue() && y["allOf"].is_badvalue() {
            mine.kind = if !mine.properties.is_empty() {
                "object"
            } else if mine.items.is_some() {
                "array"
            } else if !mine.enumeration.is_empty() || mine.format.is_some() {
                "string"
            } else {
                "any"
            };
        }
        self.leaf_checks(node, &mut mine);
        Ok(schema.merge(mine))
    }

    /// Examples made consistent with their type, and the formats counted.
    fn leaf_checks(&mut self, node: &Node, schema: &mut Schema) {
        let place = || node.place(self.dataset);
        // A number whose enum is words (`discount_mode: number, enum: [DIS_FLAG, ...]`): the
        // values are what travels, so the field is a string.
        if (schema.kind == "number" || schema.kind == "integer")
            && !schema.enumeration.is_empty()
            && schema.enumeration.iter().all(Value::is_string)
        {
            self.report.count_once("number_with_string_enum", place());
            schema.kind = "string";
        }
        if schema.kind == "integer" {
            if let Some(Value::String(text)) = &schema.example {
                self.report.count_once(
                    "integer_with_string_example",
                    format!("{} `{text}`", place()),
                );
                schema.example = text.trim().parse::<i64>().ok().map(Value::from);
            }
        }
        if schema.kind == "number" {
            if let Some(Value::String(text)) = &schema.example {
                self.report.count_once(
                    "number_with_string_example",
                    format!("{} `{text}`", place()),
                );
                schema.example = text
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number));
            }
        }
        if schema.kind == "string" {
            // Numbers written for a string (`organization_type: 2401`): the text of the number,
            // as it travels.
            let numeric = |v: &Value| v.is_number() || v.is_boolean();
            if schema.example.as_ref().is_some_and(numeric)
                || schema.enumeration.iter().any(numeric)
            {
                self.report.count_once("string_with_number_value", place());
                let text = |v: Value| {
                    if numeric(&v) {
                        Value::String(v.to_string())
                    } else {
                        v
                    }
                };
                schema.example = schema.example.take().map(text);
                schema.enumeration = std::mem::take(&mut schema.enumeration)
                    .into_iter()
                    .map(text)
                    .collect();
            }
        }
        if let Some(example) = &schema.example {
            if !schema.enumeration.is_empty() && !schema.enumeration.contains(example) {
                self.report
                    .count_once("example_outside_enum", format!("{} `{example}`", place()));
            }
        }
        match schema.format.as_deref() {
            Some("rfc3339") => self.report.count_once("rfc3339_time", place()),
            Some("base64") => self.report.count_once("encrypted_field", place()),
            _ => {}
        }
    }
}

/// Drops the `required` names that have no property schema (counted once per schema), at every
/// level of a finished schema.
pub fn prune_required(schema: &mut Schema, place: &str, report: &mut Report) {
    if !schema.properties.is_empty() || schema.kind == "object" {
        let missing: Vec<String> = schema
            .required
            .iter()
            .filter(|n| schema.properties.get(n).is_none())
            .cloned()
            .collect();
        if !schema.properties.is_empty() {
            // Counted once per place the name was written, however many operations inline it.
            for (name, at) in schema.required.iter().zip(&schema.required_at) {
                if missing.contains(name) {
                    report.count_once(
                        "required_without_property",
                        format!("{at} `{name}` (first seen in {place})"),
                    );
                }
            }
            let kept: Vec<(String, String)> = std::mem::take(&mut schema.required)
                .into_iter()
                .zip(std::mem::take(&mut schema.required_at))
                .filter(|(n, _)| !missing.contains(n))
                .collect();
            (schema.required, schema.required_at) = kept.into_iter().unzip();
        }
    }
    for (name, property) in &mut schema.properties.0 {
        prune_required(property, &format!("{place}/{name}"), report);
    }
    if let Some(items) = &mut schema.items {
        prune_required(items, &format!("{place}[]"), report);
    }
    if let Some(json) = &mut schema.json {
        prune_required(json, &format!("{place}(json)"), report);
    }
    for (i, member) in schema.one_of.iter_mut().enumerate() {
        prune_required(member, &format!("{place}(oneOf {i})"), report);
    }
}
