//! Text from outside, made safe to show.
//!
//! - [`url`] (and [`quoted_url`], [`DebugUrl`]): the one place a URL given by the caller is
//!   formatted for humans (errors, `Debug`): its user-info (`user:password@`) never appears.
//! - [`Escaped`]: text from an answer or a callback (a code, a message, a serial, an error
//!   quoting them) as a log field shows it, control characters escaped, so that it can neither
//!   start a log line of its own nor drive a terminal.

use std::fmt;

use url::Url;

/// The longest URL shown; a longer one is described by its length.
const MAX_SHOWN: usize = 256;

/// What stands for removed user-info, query or fragment: `https://***@proxy.example.com/?***`.
const HIDDEN: &str = "***";

/// `input`, a URL given by the caller, as a message shows it: parsed, without its user-info
/// (`https://user:password@proxy/` is shown `https://***@proxy/`), query or fragment
/// (`https://proxy/?***`), which may hold a key. `None` for what cannot be
/// shown: text that does not parse as a URL (it may be a secret given in the wrong place), or a
/// URL longer than 256 characters.
pub(crate) fn url(input: &str) -> Option<String> {
    // A URL without an authority (`user:password@host` reads as the scheme `user` and an
    // opaque path) is not one the caller meant: not shown.
    let parsed = Url::parse(input).ok().filter(Url::has_authority)?;
    let has_user_info = !parsed.username().is_empty() || parsed.password().is_some();
    let mut shown = parsed;
    if has_user_info {
        // Only a URL that cannot be a base has no user-info to clear; it has none anyway.
        let _ = shown.set_password(None);
        let _ = shown.set_username("");
    }
    // A query or a fragment may hold a key too (`?key=...`): only its presence is shown.
    if shown.query().is_some() {
        shown.set_query(Some(HIDDEN));
    }
    if shown.fragment().is_some() {
        shown.set_fragment(Some(HIDDEN));
    }
    let mut text = String::from(shown);
    if has_user_info {
        if let Some(at) = text.find("://") {
            text.insert_str(at + 3, &format!("{HIDDEN}@"));
        }
    }
    let showable =
        text.len() <= MAX_SHOWN && text.bytes().all(|b| b.is_ascii_graphic()) && !text.is_empty();
    showable.then_some(text)
}

/// [`url`] quoted for a message: `` `https://***@proxy/` ``, or only the length of what cannot
/// be shown.
pub(crate) fn quoted_url(input: &str) -> String {
    match url(input) {
        Some(text) => format!("`{text}`"),
        None => not_shown(input),
    }
}

fn not_shown(input: &str) -> String {
    format!(
        "(a value of {} characters, not shown)",
        input.chars().count()
    )
}

/// A caller's URL in a `Debug` field: `"https://***@proxy/"` ([`url`]), or only its length.
pub(crate) struct DebugUrl<'a>(pub(crate) &'a str);

impl fmt::Debug for DebugUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match url(self.0) {
            Some(text) => fmt::Debug::fmt(&text, f),
            None => f.write_str(&not_shown(self.0)),
        }
    }
}

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
    fn user_info_is_never_shown() {
        for (input, shown) in [
            (
                "https://user:pa55word@proxy.example.com/wechat/",
                "https://***@proxy.example.com/wechat/",
            ),
            ("https://user@proxy/", "https://***@proxy/"),
            (
                "http://:secret@127.0.0.1:8080",
                "http://***@127.0.0.1:8080/",
            ),
            ("https://u:p@ss@proxy/", "https://***@proxy/"),
            ("ftp://user:pass@x/", "ftp://***@x/"),
            (
                "https://api.mch.weixin.qq.com/",
                "https://api.mch.weixin.qq.com/",
            ),
            (
                "https://proxy/?key=pa55word#pa55word",
                "https://proxy/?***#***",
            ),
            ("https://user:pa55word@proxy/?a=1", "https://***@proxy/?***"),
        ] {
            assert_eq!(url(input).as_deref(), Some(shown), "{input}");
            assert_eq!(quoted_url(input), format!("`{shown}`"));
            assert_eq!(format!("{:?}", DebugUrl(input)), format!("{shown:?}"));
        }
    }

    #[test]
    fn what_is_not_a_url_is_not_shown() {
        for input in [
            "https://user:pa55word@proxy.example.com:99999/",
            "https://user:pa55word@[::1/",
            "user:pa55word@proxy.example.com",
            "private.pkcs8:pa55word",
            "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb",
            "",
        ] {
            assert_eq!(url(input), None, "{input}");
            let quoted = quoted_url(input);
            assert!(!quoted.contains("pa55word"), "{quoted}");
            assert!(quoted.contains("not shown"), "{quoted}");
            assert!(!format!("{:?}", DebugUrl(input)).contains("pa55word"));
        }
        let long = format!("https://x/{}", "a".repeat(MAX_SHOWN));
        assert_eq!(url(&long), None);
    }

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
