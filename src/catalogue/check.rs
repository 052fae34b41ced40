//! A body checked against its schema: missing required fields, wrong types, unknown enum
//! values, each at its JSON Pointer.

use std::fmt;

use serde_json::Value;

use super::schema::{Kind, Schema};

/// One thing wrong with a body.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Problem {
    /// Where, as a JSON Pointer (RFC 6901): `/amount/total`; the empty string is the body
    /// itself.
    pub pointer: String,
    /// What.
    pub kind: ProblemKind,
}

/// What is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A required field is absent (or `null`).
    Missing,
    /// None of the fields of which one is required is present (the pointer is their object's).
    MissingOneOf(Vec<String>),
    /// The value has another type than the schema's.
    WrongType {
        /// The schema's type: `integer`, `string`, ...
        expected: &'static str,
        /// The value's.
        found: &'static str,
    },
    /// The value is not among the enum's.
    NotInEnum {
        /// The value, as JSON text.
        value: String,
        /// The values allowed, as JSON text.
        allowed: Vec<String>,
    },
    /// A string that should hold JSON text does not parse.
    NotJson(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        match &self.kind {
            ProblemKind::Missing => write!(f, "{at}: a required field is missing"),
            ProblemKind::MissingOneOf(names) => {
                write!(
                    f,
                    "{at}: one of {} is required, none is given",
                    names.join(", ")
                )
            }
            ProblemKind::WrongType { expected, found } => {
                write!(
                    f,
                    "{at}: expected {}, found {}",
                    article(expected),
                    article(found)
                )
            }
            ProblemKind::NotInEnum { value, allowed } => {
                write!(f, "{at}: {value} is not one of {}", allowed.join(", "))
            }
            ProblemKind::NotJson(e) => write!(f, "{at}: not JSON text ({e})"),
        }
    }
}

fn article(name: &str) -> String {
    match name {
        "null" => "null".to_owned(),
        "integer" | "object" | "array" => format!("an {name}"),
        _ => format!("a {name}"),
    }
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// The problems of `value` under `schema`. `xml`: an APIv2 body, whose leaves travel as text
/// (a number may be given as a string of digits, and the reverse).
pub(super) fn check(schema: &Schema, value: &Value, xml: bool) -> Vec<Problem> {
    let mut problems = Vec::new();
    walk(schema, value, xml, &mut String::new(), &mut problems);
    problems
}

fn walk(schema: &Schema, value: &Value, xml: bool, at: &mut String, out: &mut Vec<Problem>) {
    let wrong = |expected: &'static str, out: &mut Vec<Problem>| {
        out.push(Problem {
            pointer: at.clone(),
            kind: ProblemKind::WrongType {
                expected,
                found: type_of(value),
            },
        })
    };
    match schema.kind {
        Kind::Object => {
            let Value::Object(map) = value else {
                return wrong("object", out);
            };
            for name in &schema.required {
                if map.get(name).is_none_or(Value::is_null) {
                    out.push(Problem {
                        pointer: format!("{at}/{}", escape(name)),
                        kind: ProblemKind::Missing,
                    });
                }
            }
            for group in &schema.required_any {
                if group.iter().all(|n| map.get(n).is_none_or(Value::is_null)) {
                    out.push(Problem {
                        pointer: at.clone(),
                        kind: ProblemKind::MissingOneOf(group.clone()),
                    });
                }
            }
            for (name, property) in schema.properties.iter() {
                if let Some(v) = map.get(name).filter(|v| !v.is_null()) {
                    let len = at.len();
                    at.push('/');
                    at.push_str(&escape(name));
                    walk(property, v, xml, at, out);
                    at.truncate(len);
                }
            }
        }
        Kind::Array => {
            let Value::Array(items) = value else {
                return wrong("array", out);
            };
            if let Some(schema) = &schema.items {
                for (i, item) in items.iter().enumerate() {
                    let len = at.len();
                    at.push('/');
                    at.push_str(&i.to_string());
                    walk(schema, item, xml, at, out);
                    at.truncate(len);
                }
            }
        }
        Kind::String => match value {
            Value::String(text) => {
                if let Some(json) = &schema.json {
                    match serde_json::from_str::<Value>(text) {
                        Ok(inner) => walk(json, &inner, false, at, out),
                        Err(e) => out.push(Problem {
                            pointer: at.clone(),
                            kind: ProblemKind::NotJson(e.to_string()),
                        }),
                    }
                }
            }
            Value::Number(_) | Value::Bool(_) if xml => {}
            _ => return wrong("string", out),
        },
        Kind::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => {}
            Value::String(s) if xml && s.parse::<i64>().is_ok() => {}
            _ => return wrong("integer", out),
        },
        Kind::Number => match value {
            Value::Number(_) => {}
            Value::String(s) if xml && s.parse::<f64>().is_ok() => {}
            _ => return wrong("number", out),
        },
        Kind::Boolean => match value {
            Value::Bool(_) => {}
            Value::String(s) if xml && (s == "true" || s == "false") => {}
            _ => return wrong("boolean", out),
        },
        Kind::Any if !schema.one_of.is_empty() => {
            // One of the alternatives: the one that fits, or else the nearest one's problems.
            let mut nearest: Option<Vec<Problem>> = None;
            for member in &schema.one_of {
                let mut problems = Vec::new();
                walk(member, value, xml, at, &mut problems);
                if problems.is_empty() {
                    nearest = None;
                    break;
                }
                if nearest.as_ref().is_none_or(|n| problems.len() < n.len()) {
                    nearest = Some(problems);
                }
            }
            out.extend(nearest.unwrap_or_default());
        }
        Kind::File | Kind::Any => {}
    }
    if !schema.enumeration.is_empty() && !in_enum(&schema.enumeration, value) {
        out.push(Problem {
            pointer: at.clone(),
            kind: ProblemKind::NotInEnum {
                value: value.to_string(),
                allowed: schema.enumeration.iter().map(Value::to_string).collect(),
            },
        });
    }
}

/// Whether `value` is among `allowed`, numbers and their text alike (an APIv2 `1` is `"1"`).
fn in_enum(allowed: &[Value], value: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    allowed.contains(value) || allowed.iter().any(|a| text(a) == text(value))
}
