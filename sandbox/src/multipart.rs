//! A strict `multipart/form-data` reader (RFC 7578): CRLF line ends, the boundary from the
//! content type (or, when the content type has none, from the body's first line, as WeChat
//! Pay reads it), a closing delimiter. Never panics, whatever the body.

/// One part of a multipart body.
pub(crate) struct Part<'a> {
    pub(crate) name: String,
    pub(crate) filename: Option<String>,
    pub(crate) data: &'a [u8],
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The boundary parameter of a `multipart/form-data` content type.
fn boundary(content_type: &str) -> Option<&str> {
    content_type
        .split(';')
        .skip(1)
        .map(str::trim)
        .find_map(|p| {
            let (name, value) = p.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("boundary")
                .then(|| value.trim().trim_matches('"'))
        })
        .filter(|b| !b.is_empty() && b.len() <= 70)
}

/// The boundary of a body whose content type names none: its first line, `--BOUNDARY`.
/// (Python's `wechatpayv3` has always sent `Content-Type: multipart/form-data` alone, and
/// WeChat Pay accepts it.)
fn boundary_in_body(body: &[u8]) -> Option<&str> {
    let line_end = find(body, b"\r\n", 0)?;
    let line = std::str::from_utf8(body.get(..line_end)?).ok()?;
    line.strip_prefix("--").filter(|b| {
        !b.is_empty() && b.len() <= 70 && b.bytes().all(|c| c.is_ascii_graphic() || c == b' ')
    })
}

/// Splits `body` into its parts.
pub(crate) fn parse<'a>(content_type: &str, body: &'a [u8]) -> Result<Vec<Part<'a>>, String> {
    let boundary = boundary(content_type)
        .or_else(|| boundary_in_body(body))
        .ok_or("a multipart body that does not start with a boundary line, and no boundary in the content type")?;
    let delimiter = format!("--{boundary}");
    let between = format!("\r\n{delimiter}");
    if !body.starts_with(delimiter.as_bytes()) {
        return Err("the multipart body does not start with its boundary".to_owned());
    }
    let mut parts = Vec::new();
    let mut pos = delimiter.len();
    loop {
        let rest = body.get(pos..).unwrap_or_default();
        if rest == b"--" || rest == b"--\r\n" {
            return Ok(parts);
        }
        if !rest.starts_with(b"\r\n") {
            return Err("a multipart boundary is not followed by CRLF".to_owned());
        }
        pos += 2;
        let head_end = find(body, b"\r\n\r\n", pos).ok_or("a multipart part has no header end")?;
        let head = std::str::from_utf8(body.get(pos..head_end).unwrap_or_default())
            .map_err(|_| "a multipart part header is not UTF-8")?;
        let data_start = head_end + 4;
        let next = find(body, between.as_bytes(), data_start)
            .ok_or("a multipart part has no closing boundary")?;
        let mut part = Part {
            name: String::new(),
            filename: None,
            data: body.get(data_start..next).unwrap_or_default(),
        };
        for line in head.split("\r\n") {
            let (name, value) = line
                .split_once(':')
                .ok_or("a malformed multipart part header")?;
            if name.trim().eq_ignore_ascii_case("content-disposition") {
                for param in value.split(';').map(str::trim) {
                    if let Some(v) = param.strip_prefix("name=") {
                        part.name = v.trim_matches('"').to_owned();
                    } else if let Some(v) = param.strip_prefix("filename=") {
                        part.filename = Some(v.trim_matches('"').to_owned());
                    }
                }
            }
        }
        if part.name.is_empty() {
            return Err("a multipart part has no name".to_owned());
        }
        parts.push(part);
        pos = next + between.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{\"a\":1}\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\nPNG\r\n--XX--\r\n";
        let parts = parse("multipart/form-data; boundary=XX", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].data, b"{\"a\":1}");
        assert_eq!(parts[1].filename.as_deref(), Some("a.png"));
        assert_eq!(parts[1].data, b"PNG");
    }

    #[test]
    fn garbage_never_panics() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{}\r\n--XX--";
        for end in 0..body.len() {
            let _ = parse("multipart/form-data; boundary=XX", &body[..end]);
        }
        assert!(parse("multipart/form-data", b"{}\r\n--XX--").is_err());
        assert!(parse("multipart/form-data", b"--\r\n").is_err());
        assert!(parse("multipart/form-data; boundary=", b"no boundary line").is_err());
    }

    #[test]
    fn the_boundary_of_a_bare_content_type_is_the_first_line() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{}\r\n--XX--\r\n";
        for content_type in ["multipart/form-data", "multipart/form-data; boundary="] {
            let parts = parse(content_type, body).unwrap();
            assert_eq!(
                (parts.len(), parts[0].name.as_str(), parts[0].data),
                (1, "meta", &b"{}"[..])
            );
        }
        // A boundary named in the content type wins, as before: this body does not use it.
        assert_eq!(
            parse("multipart/form-data; boundary=YY", body)
                .err()
                .as_deref(),
            Some("the multipart body does not start with its boundary")
        );
    }
}
