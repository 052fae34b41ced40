//! What the generated models call: the body in and out of [`Options`], parameters as text,
//! answers decoded with their response kept, and the enums with an `Unknown` variant.
//! Not a public interface (hidden from the docs); the models are.

use std::borrow::Cow;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::spec::{BodyKind, Host, Spec};
use crate::error::{Error, Result};
use crate::media::Media;
use crate::options::{Body, Options};
use crate::response::Response;

/// A value as the text it travels as in a path, a query or a header.
pub trait Text {
    /// The text.
    fn text(&self) -> Cow<'_, str>;
}

impl Text for String {
    fn text(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

macro_rules! text_by_display {
    ($($t:ty),*) => {$(
        impl Text for $t {
            fn text(&self) -> Cow<'_, str> {
                Cow::Owned(self.to_string())
            }
        }
    )*};
}
text_by_display!(i64, f64, bool);

impl Text for Vec<String> {
    fn text(&self) -> Cow<'_, str> {
        Cow::Owned(self.join(","))
    }
}

/// `value` as text, owned.
pub fn text<T: Text + ?Sized>(value: &T) -> String {
    value.text().into_owned()
}

/// A parameter read back from its text.
pub trait Param: Sized {
    /// From the text of the parameter `name` (`None`: absent) at `place` (`path`, `query`,
    /// `header`).
    fn from_text(text: Option<&str>, name: &str, place: &str) -> Result<Self>;
}

fn missing(name: &str, place: &str) -> Error {
    Error::config(format!("the {place} parameter `{name}` is missing"))
}

impl Param for String {
    fn from_text(text: Option<&str>, name: &str, place: &str) -> Result<String> {
        text.map(str::to_owned).ok_or_else(|| missing(name, place))
    }
}

macro_rules! param_by_parse {
    ($($t:ty: $what:literal),*) => {$(
        impl Param for $t {
            fn from_text(text: Option<&str>, name: &str, place: &str) -> Result<$t> {
                let text = text.ok_or_else(|| missing(name, place))?;
                text.parse().map_err(|_| {
                    Error::config(format!(
                        "the {place} parameter `{name}` is `{text}`, not {}",
                        $what
                    ))
                })
            }
        }
    )*};
}
param_by_parse!(i64: "an integer", f64: "a number", bool: "true or false");

impl Param for Vec<String> {
    fn from_text(text: Option<&str>, name: &str, place: &str) -> Result<Vec<String>> {
        let text = text.ok_or_else(|| missing(name, place))?;
        Ok(text.split(',').map(str::to_owned).collect())
    }
}

impl<T: Param> Param for Option<T> {
    fn from_text(text: Option<&str>, name: &str, place: &str) -> Result<Option<T>> {
        text.map(|t| T::from_text(Some(t), name, place)).transpose()
    }
}

/// A template variable of the options.
pub fn from_var<T: Param>(options: &Options, name: &str) -> Result<T> {
    let text = options.vars.get(name).map(|v| match v {
        Value::String(s) => Cow::Borrowed(s.as_str()),
        other => Cow::Owned(other.to_string()),
    });
    T::from_text(text.as_deref(), name, "path")
}

/// A query parameter of the options (the last, when repeated).
pub fn from_query<T: Param>(options: &Options, name: &str) -> Result<T> {
    let value = options.query.as_deref().and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .last()
    });
    T::from_text(value.as_deref(), name, "query")
}

/// A header of the options.
pub fn from_header<T: Param>(options: &Options, name: &str) -> Result<T> {
    let value = options
        .headers
        .iter()
        .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.to_str().ok());
    T::from_text(value, name, "header")
}

/// The options of a request's body (path, query and header fields are skipped by its
/// serialisation), with the operation's encrypted fields marked and its host and mutual TLS
/// set.
pub fn body<T: Serialize>(request: &T, spec: &Spec) -> Options {
    let options = match spec.body {
        BodyKind::Json if spec.encrypted.is_empty() => Options::new().json(request),
        BodyKind::Json => match serde_json::to_value(request) {
            Ok(value) => {
                let pointers = present(&value, spec.encrypted);
                let options = Options::new().json(&value);
                if pointers.is_empty() {
                    options
                } else {
                    options.encrypt(pointers)
                }
            }
            // Reported by `json` as for any body.
            Err(_) => Options::new().json(request),
        },
        BodyKind::Xml => Options::new().xml(request),
        BodyKind::None | BodyKind::Multipart => Options::new(),
    };
    settings(options, spec)
}

/// The options of a media upload.
pub fn media(media: &Option<Media>, spec: &Spec) -> Options {
    let options = match media {
        Some(media) => Options::new().multipart(media.clone()),
        None => Options::new(),
    };
    settings(options, spec)
}

fn settings(mut options: Options, spec: &Spec) -> Options {
    if let Host::Other(base_uri) = spec.host {
        options = options.base_uri(base_uri);
    }
    if spec.mutual_tls {
        options = options.security();
    }
    options
}

/// The concrete pointers of `patterns` (`*`: any array index) that name a string of `value`.
pub fn present(value: &Value, patterns: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for pattern in patterns {
        let parts: Vec<&str> = pattern.split('/').skip(1).collect();
        expand(value, &parts, String::new(), &mut out);
    }
    out
}

fn expand(value: &Value, parts: &[&str], at: String, out: &mut Vec<String>) {
    let Some((first, rest)) = parts.split_first() else {
        if value.is_string() {
            out.push(at);
        }
        return;
    };
    match (value, *first) {
        (Value::Array(items), "*") => {
            for (i, item) in items.iter().enumerate() {
                expand(item, rest, format!("{at}/{i}"), out);
            }
        }
        (Value::Object(map), key) => {
            let name = key.replace("~1", "/").replace("~0", "~");
            if let Some(next) = map.get(&name) {
                expand(next, rest, format!("{at}/{key}"), out);
            }
        }
        _ => {}
    }
}

/// The request's body fields from the options (its parameters are then read one by one).
pub fn from_body<T: DeserializeOwned + Default>(options: &Options, spec: &Spec) -> Result<T> {
    match spec.body {
        BodyKind::Json => {
            let bytes = match &options.body {
                Body::Json(bytes) | Body::Raw(bytes) => bytes,
                Body::None => return Err(Error::config("the options have no `json` body")),
                Body::Multipart(_) => {
                    return Err(Error::config(
                        "the options have a media upload, not a `json` body",
                    ));
                }
            };
            let mut de = serde_json::Deserializer::from_slice(bytes);
            serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                Error::decode(
                    format!("the `json` body at `{path}`: {inner}"),
                    Some(path),
                    inner,
                )
            })
        }
        BodyKind::Xml => {
            // Read as the XML it becomes, so that `"total_fee": "1"` and `"total_fee": 1`
            // both fill an integer field.
            let map = options
                .xml
                .as_ref()
                .ok_or_else(|| Error::config("the options have no `xml` payload"))?;
            let text = crate::v2::write_map(map).map_err(|name| {
                Error::config(format!(
                    "the `xml` payload: `{}` is not a plain element name",
                    name.escape_default()
                ))
            })?;
            let mut de = quick_xml::de::Deserializer::from_str(&text);
            serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner().to_string();
                Error::decode(
                    format!("the `xml` payload at `{path}`: {inner}"),
                    Some(path),
                    inner,
                )
            })
        }
        BodyKind::None | BodyKind::Multipart => Ok(T::default()),
    }
}

/// The media upload of the options.
pub fn from_media(options: &Options) -> Option<Media> {
    match &options.body {
        Body::Multipart(media) => Some(media.clone()),
        _ => None,
    }
}

/// A JSON answer, its response kept on failure.
pub fn decode_json<T: DeserializeOwned>(response: Response) -> Result<T> {
    match response.json() {
        Ok(value) => Ok(value),
        Err(e) => Err(e.with_response(response)),
    }
}

/// An APIv2 (XML) answer, its response kept on failure.
pub fn decode_xml<T: DeserializeOwned>(response: Response) -> Result<T> {
    match response.xml_as() {
        Ok(value) => Ok(value),
        Err(e) => Err(e.with_response(response)),
    }
}

/// A string enum of WeChat Pay's, with an `Unknown` variant for the values this version does
/// not know: decodes any string, encodes back the same string.
#[allow(unused_macros)]
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $first:ident = $first_value:literal,
            $($variant:ident = $value:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            #[doc = concat!("`", $first_value, "`")]
            $first,
            $(
                #[doc = concat!("`", $value, "`")]
                $variant,
            )*
            /// A value this version of the models does not know, as it came.
            Unknown(::std::string::String),
        }

        impl $name {
            /// The value as WeChat Pay writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    Self::$first => $first_value,
                    $(Self::$variant => $value,)*
                    Self::Unknown(value) => value,
                }
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $first_value => Self::$first,
                    $($value => Self::$variant,)*
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        /// The first value the description lists.
        impl ::std::default::Default for $name {
            fn default() -> Self {
                Self::$first
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                Ok(Self::from(&*text))
            }
        }

        impl crate::api::support::Text for $name {
            fn text(&self) -> ::std::borrow::Cow<'_, str> {
                ::std::borrow::Cow::Borrowed(self.as_str())
            }
        }

        impl crate::api::support::Param for $name {
            fn from_text(text: Option<&str>, name: &str, place: &str) -> crate::Result<Self> {
                <::std::string::String as crate::api::support::Param>::from_text(text, name, place)
                    .map(|t| Self::from(t.as_str()))
            }
        }
    };
}
pub(crate) use string_enum;

/// The numbered fields of an APIv2 answer (`coupon_id_0`, ...) as text, however the XML reader
/// hands them over (text, a number, or an element map holding `$text`).
pub fn numbered<'de, D>(
    deserializer: D,
) -> std::result::Result<std::collections::BTreeMap<String, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let map: std::collections::BTreeMap<String, XmlText> =
        serde::Deserialize::deserialize(deserializer)?;
    Ok(map.into_iter().map(|(k, v)| (k, v.0)).collect())
}

/// One XML value as text.
struct XmlText(String);

impl<'de> serde::Deserialize<'de> for XmlText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = XmlText;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a text value")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<XmlText, E> {
                Ok(XmlText(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(
                self,
                v: String,
            ) -> std::result::Result<XmlText, E> {
                Ok(XmlText(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<XmlText, E> {
                Ok(XmlText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<XmlText, E> {
                Ok(XmlText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<XmlText, E> {
                Ok(XmlText(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> std::result::Result<XmlText, E> {
                Ok(XmlText(v.to_string()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<XmlText, E> {
                Ok(XmlText(String::new()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<XmlText, A::Error> {
                // An element: its text content (`$text`, `$value`); an empty element is "".
                let mut text = String::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "$text" || key == "$value" {
                        text = map.next_value::<XmlText>()?.0;
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(XmlText(text))
            }
        }
        d.deserialize_any(Visitor)
    }
}
