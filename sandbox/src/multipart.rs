//! A strict `multipart/form-data` reader (RFC 7578): CRLF line ends, the boundary from the
//! content type, a closing delimiter. Never panics, whatever the body.

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

/// Splits `body` into its parts.
pub(crate) fn parse<'a>(content_type: &str, body: &'a [u8]) -> Result<Vec<Part<'a>>, String> {
    let boundary = boundary(content_type).ok_or("multipart content type without a boundary")?;
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
        assert!(parse("multipart/form-data", body).is_err());
        assert!(parse("multipart/form-data; boundary=", body).is_err());
    }
}
