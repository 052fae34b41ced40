//! Just enough PEM to tell what a caller handed us, so errors can say what was expected, and to
//! turn a PEM block into DER ourselves (OpenSSL's PEM readers would prompt on the terminal for
//! an encrypted block when no passphrase callback is given).
//!
//! Nothing here ever returns input bytes other than a short, well-formed PEM label or the block
//! itself (to hand back to OpenSSL): the input may be a private key, and errors must not quote it.

use super::base64::decode_base64_strict;

/// What the first `-----BEGIN` line says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FirstBlock<'a> {
    /// No `-----BEGIN` line at all.
    None,
    /// `-----BEGIN <label>-----`, the label being at most 40 of `[A-Z0-9 ]`.
    Label(&'a str),
    /// A `-----BEGIN` line that is not of that form.
    Malformed,
}

const BEGIN: &[u8] = b"-----BEGIN ";

/// The first `-----BEGIN <label>-----` line of `input`.
pub(crate) fn first_block(input: &[u8]) -> FirstBlock<'_> {
    let Some(start) = find(input, BEGIN) else {
        return FirstBlock::None;
    };
    let rest = &input[start + BEGIN.len()..];
    let len = rest
        .iter()
        .take(41)
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b' ')
        .count();
    if len == 0 || len > 40 || !rest[len..].starts_with(b"-----") {
        return FirstBlock::Malformed;
    }
    // Only ASCII letters, digits and spaces: always UTF-8.
    std::str::from_utf8(&rest[..len]).map_or(FirstBlock::Malformed, FirstBlock::Label)
}

/// True when the input has a `-----BEGIN` line of any kind.
pub(crate) fn has_begin(input: &[u8]) -> bool {
    find(input, BEGIN).is_some()
}

/// One PEM block, found by its label.
pub(crate) struct Block<'a> {
    /// From the `-----BEGIN` line through the `-----END` line: what OpenSSL's PEM reader needs
    /// for the legacy encrypted PKCS#1 form.
    pub(crate) text: &'a [u8],
    /// The block has RFC 1421 headers announcing encryption (`Proc-Type: 4,ENCRYPTED`).
    pub(crate) encrypted: bool,
    /// The decoded body, or why it cannot be decoded (never quoting it).
    pub(crate) der: Result<Vec<u8>, &'static str>,
}

/// The first block labelled exactly `label`, if there is one.
pub(crate) fn block<'a>(input: &'a [u8], label: &str) -> Option<Block<'a>> {
    let begin = begin_line(label);
    let start = find(input, begin.as_bytes())?;
    let body_start = start + begin.len();
    let end = format!("-----END {label}-----");
    let Some(end_at) = find(&input[body_start..], end.as_bytes()).map(|i| body_start + i) else {
        return Some(Block {
            text: &input[start..],
            encrypted: false,
            der: Err("its `-----END` line is missing"),
        });
    };
    let body = &input[body_start..end_at];
    let mut encrypted = false;
    // Wiped when dropped: the base64 of what may be a private key (sized once, never grown).
    let mut base64 = zeroize::Zeroizing::new(String::with_capacity(body.len()));
    for line in body.split(|&b| b == b'\n') {
        if line.contains(&b':') {
            // An RFC 1421 header such as `Proc-Type: 4,ENCRYPTED` or `DEK-Info: ...`.
            if line.starts_with(b"Proc-Type:") && find(line, b"ENCRYPTED").is_some() {
                encrypted = true;
            }
            continue;
        }
        base64.extend(
            line.iter()
                .filter(|b| !b.is_ascii_whitespace())
                .map(|&b| char::from(b)),
        );
    }
    let der = if base64.is_empty() {
        Err("its body is empty")
    } else {
        decode_base64_strict(&base64).ok_or("its body is not valid base64")
    };
    Some(Block {
        text: &input[start..end_at + end.len()],
        encrypted,
        der,
    })
}

fn begin_line(label: &str) -> String {
    format!("-----BEGIN {label}-----")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_label() {
        assert_eq!(
            first_block(b"junk\n-----BEGIN PUBLIC KEY-----\nAAAA\n"),
            FirstBlock::Label("PUBLIC KEY")
        );
        assert_eq!(first_block(b"no pem here"), FirstBlock::None);
        assert_eq!(first_block(b"-----BEGIN RSA"), FirstBlock::Malformed);
    }

    #[test]
    fn a_malformed_begin_line_never_yields_the_input() {
        // Trailing dashes missing: the next `-----` is the END line, after the key itself.
        let pem =
            b"-----BEGIN RSA PRIVATE KEY\nMIIEpAIBAAKCAQEAsecret\n-----END RSA PRIVATE KEY-----\n";
        assert_eq!(first_block(pem), FirstBlock::Malformed);
        assert_eq!(first_block(b"-----BEGIN x-----"), FirstBlock::Malformed);
        let long = format!("-----BEGIN {}-----", "A".repeat(41));
        assert_eq!(first_block(long.as_bytes()), FirstBlock::Malformed);
    }

    #[test]
    fn blocks_match_the_whole_label() {
        let pem = b"-----BEGIN RSA PRIVATE KEY-----\nd2Vj\n-----END RSA PRIVATE KEY-----\n";
        assert!(block(pem, "RSA PRIVATE KEY").is_some());
        assert!(block(pem, "PRIVATE KEY").is_none());
        let encrypted = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n";
        assert!(block(encrypted, "PRIVATE KEY").is_none());
    }

    #[test]
    fn blocks_decode_with_crlf_and_headers() {
        let pem = b"x\r\n-----BEGIN TEST-----\r\nProc-Type: 4,ENCRYPTED\r\nDEK-Info: AES-128-CBC,00\r\n\r\nd2Vj\r\naGF0cGF5\r\n-----END TEST-----\r\ny";
        let b = block(pem, "TEST").unwrap();
        assert!(b.encrypted);
        assert_eq!(b.der.unwrap(), b"wechatpay");
        assert!(b.text.starts_with(b"-----BEGIN TEST-----"));
        assert!(b.text.ends_with(b"-----END TEST-----"));
        assert!(block(pem, "OTHER").is_none());
    }

    #[test]
    fn broken_blocks_say_why() {
        let no_end = block(b"-----BEGIN TEST-----\nd2Vj\n", "TEST").unwrap();
        assert_eq!(no_end.der.unwrap_err(), "its `-----END` line is missing");
        let empty = block(b"-----BEGIN TEST-----\n-----END TEST-----", "TEST").unwrap();
        assert_eq!(empty.der.unwrap_err(), "its body is empty");
        let bad = block(b"-----BEGIN TEST-----\nd2V\n-----END TEST-----", "TEST").unwrap();
        assert_eq!(bad.der.unwrap_err(), "its body is not valid base64");
        assert!(!bad.encrypted);
    }
}
