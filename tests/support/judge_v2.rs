//! The independent judge of APIv2 requests: the `sign` (MD5 or HMAC-SHA256) recomputed with
//! OpenSSL digests over the fields read by its own flat XML reader (or a `GET`'s query).
//! Nothing here comes from the crate under test or from the sandbox.

use openssl::hash::{MessageDigest, hash};
use openssl::pkey::PKey;

/// Uppercase hex MD5 (or HMAC-SHA256 keyed by `secret`) of the sorted `k=v&...&key=secret`,
/// skipping `sign` and empty values.
pub fn sign_fields_with(fields: &[(String, String)], secret: &str, hmac: bool) -> String {
    let mut pairs: Vec<&(String, String)> = fields
        .iter()
        .filter(|(k, v)| k != "sign" && !v.is_empty())
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut message: String = pairs.iter().map(|(k, v)| format!("{k}={v}&")).collect();
    message.push_str("key=");
    message.push_str(secret);
    let digest = if hmac {
        let key = PKey::hmac(secret.as_bytes()).expect("hmac key");
        let mut signer =
            openssl::sign::Signer::new(MessageDigest::sha256(), &key).expect("hmac signer");
        signer.update(message.as_bytes()).expect("hmac update");
        signer.sign_to_vec().expect("hmac")
    } else {
        hash(MessageDigest::md5(), message.as_bytes())
            .expect("md5")
            .to_vec()
    };
    digest.iter().map(|b| format!("{b:02X}")).collect()
}

/// A flat APIv2 document, `<xml><k><![CDATA[v]]></k>...</xml>`, the fields in this order: as
/// WeChat Pay writes answers and callbacks. A `]]>` inside a value is split across two CDATA
/// sections, so every value reads back as given.
pub fn xml(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = String::from("<xml>");
    for (k, v) in fields {
        let v = v.replace("]]>", "]]]]><![CDATA[>");
        body.push_str(&format!("<{k}><![CDATA[{v}]]></{k}>"));
    }
    body.push_str("</xml>");
    body.into_bytes()
}

/// [`xml`] of `fields` followed by their `sign` under `secret` ([`sign_fields_with`]: MD5, or
/// HMAC-SHA256 when `hmac`; a `sign_type` field is the caller's to add).
pub fn signed_xml(fields: &[(&str, &str)], secret: &str, hmac: bool) -> Vec<u8> {
    let owned: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let sign = sign_fields_with(&owned, secret, hmac);
    let mut all = fields.to_vec();
    all.push(("sign", &sign));
    xml(&all)
}

/// A reader for the flat `<xml><k>v</k>...</xml>` documents clients send: text, entities
/// (`&lt;` `&gt;` `&amp;` `&quot;` `&apos;`) and CDATA sections (several may follow each
/// other).
pub fn parse_flat_xml(body: &str) -> Result<Vec<(String, String)>, String> {
    let inner = body
        .trim()
        .strip_prefix("<xml>")
        .and_then(|b| b.strip_suffix("</xml>"))
        .ok_or("not <xml>...</xml>")?;
    let mut rest = inner;
    let mut fields = Vec::new();
    while !rest.is_empty() {
        let open_end = rest.find('>').ok_or("unterminated tag")?;
        let name = rest
            .strip_prefix('<')
            .ok_or("expected a tag")?
            .get(..open_end - 1)
            .ok_or("bad tag")?
            .to_owned();
        rest = &rest[open_end + 1..];
        let close = format!("</{name}>");
        let mut value = String::new();
        loop {
            if let Some(after) = rest.strip_prefix("<![CDATA[") {
                let end = after.find("]]>").ok_or("unterminated CDATA")?;
                value.push_str(&after[..end]);
                rest = &after[end + 3..];
            } else if let Some(after) = rest.strip_prefix(close.as_str()) {
                rest = after;
                break;
            } else {
                let end = rest.find('<').ok_or("unterminated value")?;
                value.push_str(
                    &rest[..end]
                        .replace("&lt;", "<")
                        .replace("&gt;", ">")
                        .replace("&quot;", "\"")
                        .replace("&apos;", "'")
                        .replace("&amp;", "&"),
                );
                rest = &rest[end..];
            }
        }
        fields.push((name, value));
    }
    Ok(fields)
}

/// A query's pairs, percent-decoded, in order.
pub fn query_fields(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

/// The payload of a request: a `GET`'s query pairs, else the XML body's fields.
pub fn request_fields(
    method: &str,
    target: &str,
    body: &[u8],
) -> Result<Vec<(String, String)>, String> {
    if method == "GET" {
        Ok(query_fields(target.split_once('?').map_or("", |(_, q)| q)))
    } else {
        parse_flat_xml(&String::from_utf8_lossy(body))
    }
}

/// The judge's check of `sign` under `secret`: `Ok` with the sign type (`MD5` or
/// `HMAC-SHA256`).
pub fn check_sign(fields: &[(String, String)], secret: &str) -> Result<&'static str, String> {
    let given = fields
        .iter()
        .find(|(k, _)| k == "sign")
        .map(|(_, v)| v.clone())
        .ok_or("no sign")?;
    let hmac = match fields.iter().find(|(k, _)| k == "sign_type") {
        None => false,
        Some((_, t)) if t == "MD5" => false,
        Some((_, t)) if t == "HMAC-SHA256" => true,
        Some((_, t)) => return Err(format!("unknown sign_type {t}")),
    };
    if sign_fields_with(fields, secret, hmac) == given {
        Ok(if hmac { "HMAC-SHA256" } else { "MD5" })
    } else {
        Err("sign mismatch".into())
    }
}
