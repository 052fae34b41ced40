//! APIv2 XML: a safe reader into a JSON-like map, and the writer of request bodies.
//!
//! The reader never resolves a DTD or an entity: a `<!DOCTYPE` anywhere is refused (so neither
//! XXE nor a billion-laughs payload gets anywhere), only the five predefined entities and
//! character references are decoded, nesting is bounded, and characters that XML 1.0 forbids
//! are stripped first, as wechatpay-php does.

use std::borrow::Cow;
use std::fmt;

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Map, Value};

/// The deepest element nesting accepted (the root counts as 1). WeChat Pay's documents have
/// 2 (`<xml><field>`), a few 3 or 4 (`<hblist><hbinfo>`).
pub const MAX_DEPTH: usize = 16;

/// Why an XML document was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum XmlError {
    /// The body is empty or holds no element.
    Empty,
    /// The body is not UTF-8 (byte offset of the first bad byte).
    NotUtf8(usize),
    /// A `<!DOCTYPE ...>`: DTDs are refused outright (XXE, entity expansion).
    Dtd,
    /// An entity other than `&lt;` `&gt;` `&amp;` `&apos;` `&quot;` and character references.
    UndefinedEntity(String),
    /// Elements nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// The document ends inside an element (named).
    Truncated(String),
    /// Content after the root element, or text outside it.
    OutsideRoot,
    /// The root element holds text instead of fields.
    TextRoot,
    /// Malformed XML (the parser's message and the byte offset).
    Malformed {
        /// Byte offset in the (sanitised) document.
        offset: u64,
        /// What the parser found.
        reason: String,
    },
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::Empty => f.write_str("the body holds no XML element"),
            XmlError::NotUtf8(at) => write!(f, "the body is not UTF-8 (byte {at})"),
            XmlError::Dtd => {
                f.write_str("a DOCTYPE is not allowed (DTDs and entities are never resolved)")
            }
            XmlError::UndefinedEntity(name) => {
                write!(
                    f,
                    "entity `&{name};` is not defined (only the predefined five are)"
                )
            }
            XmlError::TooDeep => write!(f, "elements are nested deeper than {MAX_DEPTH}"),
            XmlError::Truncated(name) => write!(f, "the document ends inside <{name}>"),
            XmlError::OutsideRoot => f.write_str("content outside the root element"),
            XmlError::TextRoot => f.write_str("the root element holds text, not fields"),
            XmlError::Malformed { offset, reason } => {
                write!(f, "malformed XML at byte {offset}: {reason}")
            }
        }
    }
}

impl std::error::Error for XmlError {}

/// Removes the characters XML 1.0 does not allow (controls other than tab, LF and CR, the
/// surrogates' range, U+FFFE and U+FFFF), borrowing when there are none.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|&c| is_xml_char(c)).collect())
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Parses an APIv2 document into a map of its root's children.
///
/// A leaf element becomes a string (`<a/>` is `""`), an element with children an object, and
/// a name repeated under one parent an array. Attributes, comments and processing
/// instructions are ignored. The root's name is not checked (`<xml>` in answers, `<root>` in a
/// refund callback's `req_info`).
///
/// ```
/// let map = wechatpay::v2::parse_xml(b"<xml><return_code><![CDATA[SUCCESS]]></return_code><total_fee>1</total_fee></xml>").unwrap();
/// assert_eq!(map["return_code"], "SUCCESS");
/// assert_eq!(map["total_fee"], "1");
///
/// let xxe = b"<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><a>&e;</a></xml>";
/// assert_eq!(wechatpay::v2::parse_xml(xxe).unwrap_err(), wechatpay::v2::XmlError::Dtd);
/// ```
pub fn parse(body: &[u8]) -> Result<Map<String, Value>, XmlError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|e| XmlError::NotUtf8(e.valid_up_to()))?;
    parse_str(&normalize(text))
}

/// What every XML parser reads: line ends normalised (`\r\n` and a lone `\r` become `\n`,
/// XML 1.0 section 2.11), then the characters XML forbids stripped, as wechatpay-php does.
pub(crate) fn normalize(text: &str) -> Cow<'_, str> {
    let text = if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    };
    match text {
        Cow::Borrowed(t) => sanitize(t),
        Cow::Owned(t) => Cow::Owned(sanitize(&t).into_owned()),
    }
}

struct Frame {
    name: String,
    text: String,
    children: Map<String, Value>,
    has_children: bool,
}

fn parse_str(text: &str) -> Result<Map<String, Value>, XmlError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Map<String, Value>> = None;
    loop {
        let event = reader.read_event().map_err(|e| XmlError::Malformed {
            offset: reader.error_position(),
            reason: e.to_string(),
        })?;
        match event {
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(XmlError::OutsideRoot);
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                stack.push(Frame {
                    name: element_name(&reader, start.name().as_ref())?,
                    text: String::new(),
                    children: Map::new(),
                    has_children: false,
                });
            }
            Event::Empty(start) => {
                let name = element_name(&reader, start.name().as_ref())?;
                match stack.last_mut() {
                    Some(parent) => add_child(parent, name, Value::String(String::new())),
                    None => root = Some(Map::new()),
                }
            }
            Event::Text(t) => {
                let decoded = t.decode().map_err(|e| malformed(&reader, e))?;
                match stack.last_mut() {
                    Some(frame) => frame.text.push_str(&decoded),
                    None if decoded.trim().is_empty() => {}
                    None => return Err(XmlError::OutsideRoot),
                }
            }
            Event::CData(c) => {
                let decoded = c.decode().map_err(|e| malformed(&reader, e))?;
                stack
                    .last_mut()
                    .ok_or(XmlError::OutsideRoot)?
                    .text
                    .push_str(&decoded);
            }
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref().map_err(|e| malformed(&reader, e))?
                } else {
                    let name = r.decode().map_err(|e| malformed(&reader, e))?;
                    Some(match name.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(XmlError::UndefinedEntity(other.to_owned())),
                    })
                };
                let frame = stack.last_mut().ok_or(XmlError::OutsideRoot)?;
                // A reference to a character XML forbids is dropped, like the raw character.
                if let Some(c) = resolved.filter(|&c| is_xml_char(c)) {
                    frame.text.push(c);
                }
            }
            Event::End(_) => {
                let frame = stack.pop().ok_or(XmlError::OutsideRoot)?;
                let value = if frame.has_children {
                    Value::Object(frame.children)
                } else {
                    Value::String(frame.text)
                };
                match stack.last_mut() {
                    Some(parent) => add_child(parent, frame.name, value),
                    None => {
                        root = Some(match value {
                            Value::Object(map) => map,
                            Value::String(s) if s.trim().is_empty() => Map::new(),
                            _ => return Err(XmlError::TextRoot),
                        })
                    }
                }
            }
            Event::Eof => {
                if let Some(open) = stack.pop() {
                    return Err(XmlError::Truncated(open.name));
                }
                return root.ok_or(XmlError::Empty);
            }
        }
    }
}

fn element_name(reader: &Reader<&[u8]>, raw: &[u8]) -> Result<String, XmlError> {
    std::str::from_utf8(raw)
        .map(str::to_owned)
        .map_err(|e| malformed(reader, e))
}

fn malformed(reader: &Reader<&[u8]>, e: impl fmt::Display) -> XmlError {
    XmlError::Malformed {
        offset: reader.buffer_position(),
        reason: e.to_string(),
    }
}

fn add_child(parent: &mut Frame, name: String, value: Value) {
    parent.has_children = true;
    match parent.children.get_mut(&name) {
        None => {
            parent.children.insert(name, value);
        }
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

/// Whether `name` can be an element name as we write them: ASCII letters, digits, `_`, `-`
/// and `.`, not starting with a digit, `-` or `.`, and not starting with `xml` in any case.
pub(crate) fn is_element_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'A'..=b'Z' | b'a'..=b'z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("xml"))
}

/// Writes `<xml><k>v</k>...</xml>`: a value holding `<`, `>`, `&` or `"` goes in CDATA (a
/// `]]>` in it split across two sections), any other as it is. Names must satisfy
/// [`is_element_name`] and values hold only XML characters: the caller checks both.
pub(crate) fn write<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut xml = String::from("<xml>");
    for (name, value) in fields {
        xml.push('<');
        xml.push_str(name);
        xml.push('>');
        if value.contains(['<', '>', '&', '"']) {
            xml.push_str("<![CDATA[");
            xml.push_str(&value.replace("]]>", "]]]]><![CDATA[>"));
            xml.push_str("]]>");
        } else {
            xml.push_str(value);
        }
        xml.push_str("</");
        xml.push_str(name);
        xml.push('>');
    }
    xml.push_str("</xml>");
    xml
}

/// Writes a parsed map back as `<xml>...</xml>`, every text in CDATA: what
/// [`Response::xml_as`](crate::Response::xml_as) deserialises, so that typed access reads
/// exactly the values that were checked. A name that is not an [element
/// name](is_element_name) as we write them (`b:trade_state`, which serde would read as
/// `trade_state`) is refused: the error is that name.
pub(crate) fn write_map(map: &Map<String, Value>) -> Result<String, String> {
    fn element(out: &mut String, name: &str, value: &Value) -> Result<(), String> {
        if !is_element_name(name) {
            return Err(name.to_owned());
        }
        match value {
            Value::Array(items) => {
                for item in items {
                    element(out, name, item)?;
                }
            }
            Value::Object(children) => {
                out.push_str(&format!("<{name}>"));
                for (child, value) in children {
                    element(out, child, value)?;
                }
                out.push_str(&format!("</{name}>"));
            }
            Value::String(text) => {
                out.push_str(&format!("<{name}>"));
                if !text.is_empty() {
                    out.push_str("<![CDATA[");
                    out.push_str(&text.replace("]]>", "]]]]><![CDATA[>"));
                    out.push_str("]]>");
                }
                out.push_str(&format!("</{name}>"));
            }
            other => out.push_str(&format!("<{name}>{other}</{name}>")),
        }
        Ok(())
    }
    let mut out = String::from("<xml>");
    for (name, value) in map {
        element(&mut out, name, value)?;
    }
    out.push_str("</xml>");
    Ok(out)
}

/// Whether `value` holds only characters XML allows.
pub(crate) fn is_xml_text(value: &str) -> bool {
    value.chars().all(is_xml_char)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leaves_nesting_and_repeats() {
        let map = parse(
            b"<?xml version=\"1.0\"?>\n<xml>\n  <a>1</a>\n  <b/>\n  <list><item>x</item><item>y</item></list>\n  <!-- note -->\n  <c attr=\"z\">&lt;&#x4F60;&#22909;&gt;</c>\n</xml>\n",
        )
        .unwrap();
        assert_eq!(
            Value::Object(map),
            json!({ "a": "1", "b": "", "list": { "item": ["x", "y"] }, "c": "<你好>" })
        );
    }

    #[test]
    fn illegal_characters_are_stripped() {
        let map = parse("<xml><a>o\u{1}k\u{1F}&#x1;</a></xml>".as_bytes()).unwrap();
        assert_eq!(map["a"], "ok");
    }

    #[test]
    fn writing_and_reading_round_trip_awkward_values() {
        let xml = write([("a", "x<y & \"z\"]]>end"), ("b", "plain"), ("c", "")]);
        assert_eq!(
            xml,
            "<xml><a><![CDATA[x<y & \"z\"]]]]><![CDATA[>end]]></a><b>plain</b><c></c></xml>"
        );
        let map = parse(xml.as_bytes()).unwrap();
        assert_eq!(map["a"], "x<y & \"z\"]]>end");
        assert_eq!(map["b"], "plain");
        assert_eq!(map["c"], "");
    }

    #[test]
    fn names() {
        for ok in ["mch_id", "A1", "_x", "a-b.c"] {
            assert!(is_element_name(ok), "{ok}");
        }
        for bad in ["", "1a", "-a", "a b", "a<", "xmlns", "XML_x", "é"] {
            assert!(!is_element_name(bad), "{bad}");
        }
    }
}
