//! A body's or an answer's schema, as the generator normalized it: every reference inlined,
//! every `allOf` merged.

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::Value;

/// A type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Kind {
    /// A JSON object (APIv2: nested XML elements).
    Object,
    /// An array.
    Array,
    /// A string.
    String,
    /// An integer (amounts in fen, counts).
    Integer,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A file (a part of a media upload).
    File,
    /// Anything: the description does not say.
    Any,
}

/// A schema.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Schema {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The field's short official title.
    pub title: Option<String>,
    /// `rfc3339` (a time), `base64` (an encrypted field), `int64`, ...
    pub format: Option<String>,
    /// The values it may take; an empty list: any.
    #[serde(rename = "enum", default)]
    pub enumeration: Vec<Value>,
    /// The names of the required properties.
    #[serde(default)]
    pub required: Vec<String>,
    /// Groups of property names of which at least one is required (an order named by either
    /// of its ids).
    #[serde(default)]
    pub required_any: Vec<Vec<String>>,
    /// The properties, in the description's order.
    #[serde(default)]
    pub properties: Properties,
    /// The items' schema.
    pub items: Option<Box<Schema>>,
    /// An example value.
    pub example: Option<Value>,
    /// A string whose value is JSON text of this schema.
    pub json: Option<Box<Schema>>,
    /// The alternatives the value is one of (`oneOf`).
    #[serde(rename = "oneOf", default)]
    pub one_of: Vec<Schema>,
}

/// Properties, in the description's order.
#[derive(Clone, Debug, Default)]
pub struct Properties(pub Vec<(String, Schema)>);

impl Properties {
    /// The schema of the property `name`.
    pub fn get(&self, name: &str) -> Option<&Schema> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// The properties' names and schemas.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Schema)> {
        self.0.iter().map(|(n, s)| (n.as_str(), s))
    }
}

impl<'de> Deserialize<'de> for Properties {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Properties, D::Error> {
        struct Ordered;
        impl<'de> Visitor<'de> for Ordered {
            type Value = Properties;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of property schemas")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Properties, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((name, schema)) = map.next_entry::<String, Schema>()? {
                    out.push((name, schema));
                }
                Ok(Properties(out))
            }
        }
        d.deserialize_map(Ordered)
    }
}

impl Schema {
    /// Whether the property `name` is required.
    pub fn requires(&self, name: &str) -> bool {
        self.required.iter().any(|n| n == name)
    }

    /// Whether it is an encrypted field (`format: base64`).
    pub fn encrypted(&self) -> bool {
        self.format.as_deref() == Some("base64")
    }

    /// A short name of the type: `string`, `integer`, `object`, `array of string`, `string
    /// (rfc3339)`, `string (one of 3)`.
    pub fn type_name(&self) -> String {
        let base = match self.kind {
            Kind::Object => "object".to_owned(),
            Kind::Array => match &self.items {
                Some(items) => format!("array of {}", items.type_name()),
                None => "array".to_owned(),
            },
            Kind::String => "string".to_owned(),
            Kind::Integer => "integer".to_owned(),
            Kind::Number => "number".to_owned(),
            Kind::Boolean => "boolean".to_owned(),
            Kind::File => "file".to_owned(),
            Kind::Any => "any".to_owned(),
        };
        match (&self.format, self.enumeration.len()) {
            (_, n) if n > 0 => format!("{base} (one of {n})"),
            (Some(format), _) if format == "rfc3339" || format == "base64" => {
                format!("{base} ({format})")
            }
            _ if self.json.is_some() => format!("{base} (JSON text)"),
            _ => base,
        }
    }
}
