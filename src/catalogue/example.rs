//! An example value composed from a schema: the description's example where it gives one, the
//! type's plain value where it does not.

use serde_json::{Map, Value};

use super::schema::{Kind, Schema};

/// The example of `schema`. An object is composed from its properties (an example written on
/// the object as a whole is used only when it has none), an array holds one example item, an
/// enum without an example takes its first value, one of several alternatives is the first's, a string holding JSON text is composed from that text's schema, an untyped leaf `null` becomes the type's
/// plain value: `""`, `0`, `false`; a time its RFC 3339 form.
pub(super) fn of(schema: &Schema) -> Value {
    match schema.kind {
        Kind::Object if !schema.properties.0.is_empty() => {
            let mut map = Map::new();
            for (name, property) in schema.properties.iter() {
                map.insert(name.to_owned(), of(property));
            }
            Value::Object(map)
        }
        Kind::Array => match (&schema.example, &schema.items) {
            (Some(example @ Value::Array(_)), _) => example.clone(),
            (_, Some(items)) => Value::Array(vec![of(items)]),
            (_, None) => Value::Array(Vec::new()),
        },
        Kind::Any if !schema.one_of.is_empty() => of(&schema.one_of[0]),
        // JSON text: composed from its own schema, so that it passes its own check.
        Kind::String if schema.json.is_some() => {
            let inner = schema.json.as_deref().map(of).unwrap_or(Value::Null);
            Value::String(inner.to_string())
        }
        kind => schema
            .example
            .clone()
            .filter(|e| fits(kind, e))
            .filter(|e| schema.enumeration.is_empty() || schema.enumeration.contains(e))
            .or_else(|| schema.enumeration.first().cloned())
            .unwrap_or_else(|| plain(schema)),
    }
}

/// Whether an example has the schema's type (the descriptions sometimes write a string for a
/// number, or an object's example as text).
fn fits(kind: Kind, example: &Value) -> bool {
    match kind {
        Kind::Object => example.is_object(),
        Kind::String => example.is_string(),
        Kind::Integer => example.is_i64() || example.is_u64(),
        Kind::Number => example.is_number(),
        Kind::Boolean => example.is_boolean(),
        Kind::Array => example.is_array(),
        Kind::File | Kind::Any => true,
    }
}

fn plain(schema: &Schema) -> Value {
    match schema.kind {
        Kind::Object => Value::Object(Map::new()),
        Kind::Array => Value::Array(Vec::new()),
        Kind::String if schema.format.as_deref() == Some("rfc3339") => {
            Value::String("2018-06-08T10:34:56+08:00".to_owned())
        }
        Kind::String | Kind::File => Value::String(String::new()),
        Kind::Integer => Value::from(0),
        Kind::Number => Value::from(0.0),
        Kind::Boolean => Value::Bool(false),
        Kind::Any => Value::Null,
    }
}
