//! Just enough PEM to tell what a caller handed us, so errors can say what was expected.

/// The label of the first `-----BEGIN <label>-----` line, if any.
pub(crate) fn first_label(input: &[u8]) -> Option<&str> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let start = input.windows(BEGIN.len()).position(|w| w == BEGIN)? + BEGIN.len();
    let rest = &input[start..];
    let end = rest.windows(5).position(|w| w == b"-----")?;
    std::str::from_utf8(&rest[..end]).ok()
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
            first_label(b"junk\n-----BEGIN PUBLIC KEY-----\nAAAA\n"),
            Some("PUBLIC KEY")
        );
        assert_eq!(first_label(b"no pem here"), None);
        assert_eq!(first_label(b"-----BEGIN RSA"), None);
    }

    #[test]
    fn has_label_matches_whole_label() {
        let pem = b"-----BEGIN RSA PRIVATE KEY-----\n";
        assert!(has_label(pem, "RSA PRIVATE KEY"));
        assert!(!has_label(pem, "PRIVATE KEY"));
    }
}
