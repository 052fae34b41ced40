//! The flat XML of APIv2: a strict reader (no DTDs, no nesting) and a CDATA writer.

use std::collections::HashSet;

use super::Fields;

/// Reads a flat `<xml><k>v</k>...</xml>` document: text with the five predefined entities and
/// character references, CDATA sections. Refuses DTDs, nesting and anything else.
pub(crate) fn parse_xml(body: &[u8]) -> Result<Fields, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_owned())?;
    let mut rest = text.trim();
    if let Some(after) = rest.strip_prefix("<?xml") {
        let end = after.find("?>").ok_or("unterminated XML declaration")?;
        rest = after.get(end + 2..).unwrap_or_default().trim_start();
    }
    if rest.contains("<!DOCTYPE") || rest.contains("<!ENTITY") {
        return Err("DTDs are not allowed".to_owned());
    }
    let mut rest = rest
        .strip_prefix("<xml>")
        .and_then(|r| r.strip_suffix("</xml>"))
        .ok_or("the body is not <xml>...</xml>")?;
    let mut fields = Fields::new();
    let mut seen: HashSet<&str> = HashSet::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(fields);
        }
        let after_lt = rest.strip_prefix('<').ok_or("expected an element")?;
        let end = after_lt.find('>').ok_or("unterminated tag")?;
        let name = after_lt.get(..end).unwrap_or_default();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format!("bad element name {name:?}"));
        }
        rest = after_lt.get(end + 1..).unwrap_or_default();
        let close = format!("</{name}>");
        let mut value = String::new();
        loop {
            if let Some(after) = rest.strip_prefix("<![CDATA[") {
                let end = after.find("]]>").ok_or("unterminated CDATA section")?;
                value.push_str(after.get(..end).unwrap_or_default());
                rest = after.get(end + 3..).unwrap_or_default();
            } else if let Some(after) = rest.strip_prefix(close.as_str()) {
                rest = after;
                break;
            } else if rest.starts_with('<') {
                return Err(format!("element {name} is not flat text"));
            } else {
                let end = rest.find('<').ok_or("unterminated element")?;
                value.push_str(&unescape(rest.get(..end).unwrap_or_default())?);
                rest = rest.get(end..).unwrap_or_default();
            }
        }
        if !seen.insert(name) {
            return Err(format!("element {name} appears twice"));
        }
        fields.push((name.to_owned(), value));
    }
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        let after = rest.get(amp + 1..).unwrap_or_default();
        let semi = after.find(';').ok_or("unterminated entity")?;
        let entity = after.get(..semi).unwrap_or_default();
        let ch = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse::<u32>().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| format!("unknown entity &{entity};"))?
            }
        };
        out.push(ch);
        rest = after.get(semi + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

/// `<xml><k><![CDATA[v]]></k>...</xml>`.
pub(crate) fn write_xml(fields: &[(String, String)]) -> String {
    let mut out = String::from("<xml>");
    for (k, v) in fields {
        out.push('<');
        out.push_str(k);
        out.push_str("><![CDATA[");
        out.push_str(&v.replace("]]>", "]]]]><![CDATA[>"));
        out.push_str("]]></");
        out.push_str(k);
        out.push('>');
    }
    out.push_str("</xml>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_round_trip_and_refusals() {
        let fields: Fields = vec![
            ("a".into(), "x < y & \"z\" ]]> w".into()),
            ("b".into(), "中文".into()),
        ];
        assert_eq!(parse_xml(write_xml(&fields).as_bytes()).unwrap(), fields);
        let parsed =
            parse_xml(b"<?xml version=\"1.0\"?>\n<xml>\n <a>1 &lt; 2 &#x4e2d;</a>\n</xml>")
                .unwrap();
        assert_eq!(parsed, vec![("a".to_owned(), "1 < 2 中".to_owned())]);
        for bad in [
            &b"<!DOCTYPE x [<!ENTITY e \"e\">]><xml><a>&e;</a></xml>"[..],
            b"<xml><a><b>1</b></a></xml>",
            b"<xml><a>1</a><a>2</a></xml>",
            b"<xml><a>1</xml>",
            b"<xml><a>&bogus;</a></xml>",
            b"<xml><>1</></xml>",
            b"\xff",
            b"",
        ] {
            assert!(parse_xml(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        // Truncations never panic.
        let doc = write_xml(&fields);
        for end in 0..doc.len() {
            let _ = parse_xml(&doc.as_bytes()[..end]);
        }
    }

    #[test]
    fn many_fields_and_a_late_duplicate() {
        // 50 000 distinct fields parse (the duplicate check is not quadratic) ...
        let mut many: Fields = (0..50_000)
            .map(|n| (format!("f{n}"), n.to_string()))
            .collect();
        assert_eq!(parse_xml(write_xml(&many).as_bytes()).unwrap(), many);
        // ... and one repeated at the end is refused.
        many.push(("f7".into(), "again".into()));
        let error = parse_xml(write_xml(&many).as_bytes()).unwrap_err();
        assert!(error.contains("f7 appears twice"), "{error}");
    }
}
