//! Just enough PEM to tell what a caller handed us, so errors can say what was expected.
//!
//! Nothing here ever returns input bytes other than a short, well-formed PEM label: the input
//! may be a private key, and errors must not quote it.

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

/// The first `-----BEGIN <label>-----` line of `input`.
pub(crate) fn first_block(input: &[u8]) -> FirstBlock<'_> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let Some(start) = input.windows(BEGIN.len()).position(|w| w == BEGIN) else {
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

/// True when a PEM block with exactly this label is present.
pub(crate) fn has_label(input: &[u8], label: &str) -> bool {
    let line = format!("-----BEGIN {label}-----");
    input.windows(line.len()).any(|w| w == line.as_bytes())
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
    fn has_label_matches_whole_label() {
        let pem = b"-----BEGIN RSA PRIVATE KEY-----\n";
        assert!(has_label(pem, "RSA PRIVATE KEY"));
        assert!(!has_label(pem, "PRIVATE KEY"));
    }
}
