//! Text from outside, made safe to show.
//!
//! - [`Escaped`]: text from an answer or a callback (a code, a message, a serial, an error
//!   quoting them) as a log field shows it, control characters escaped, so that it can neither
//!   start a log line of its own nor drive a terminal.

use std::fmt;

/// A value's `Display`, for a log field (`error = %Escaped(&e)`), with every character that
/// could end a line or drive a terminal escaped as Rust writes it (`\n`, `\r`, `\t`,
/// `\u{1b}`, ...): control characters, the Unicode line and paragraph separators, the
/// direction overrides; and `\` itself (`\\`), so that an escape cannot be forged.
pub(crate) struct Escaped<T>(pub(crate) T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        write!(Escaper(f), "{}", self.0)
    }
}

impl<T: fmt::Display> fmt::Debug for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Writes through to a formatter, escaping what [`Escaped`] escapes.
struct Escaper<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl fmt::Write for Escaper<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut plain = 0;
        for (i, c) in s.char_indices() {
            if needs_escape(c) {
                self.0.write_str(&s[plain..i])?;
                for e in c.escape_default() {
                    self.0.write_char(e)?;
                }
                plain = i + c.len_utf8();
            }
        }
        self.0.write_str(&s[plain..])
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        // Line and paragraph separators.
        || c == '\u{2028}'
        || c == '\u{2029}'
        // Bidirectional embeddings, overrides and isolates (text that reads other than it is).
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_text_stays_on_its_line() {
        let shown =
            Escaped("SYSTEM_ERROR\nWARN forged line\r\u{1b}[2J\t\\n 已处理\u{2028}\u{202e}x")
                .to_string();
        assert_eq!(
            shown,
            "SYSTEM_ERROR\\nWARN forged line\\r\\u{1b}[2J\\t\\\\n 已处理\\u{2028}\\u{202e}x"
        );
        assert!(!shown.chars().any(needs_escape_unless_backslash));
        assert_eq!(format!("{:?}", Escaped("a\nb")), "a\\nb");
        assert_eq!(Escaped(format_args!("{}-{}", 1, "\n")).to_string(), "1-\\n");
    }

    fn needs_escape_unless_backslash(c: char) -> bool {
        c != '\\' && needs_escape(c)
    }
}
