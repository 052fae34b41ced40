//! Turns what a caller handed over (PEM, DER, `file://` path, `private.pkcs1://` and friends)
//! into one of a few forms the key and certificate parsers then read.
//!
//! Errors name what was found, never quoting the input: it may be a private key. The only input
//! text ever quoted is the path after `file://` (a path is not a secret, and naming it is what
//! makes a wrong path fixable) and the scheme of an unknown `scheme://` prefix.

use std::ops::Deref;
use std::path::Path;

use zeroize::Zeroizing;

use super::base64::decode_base64_strict;
use super::der::looks_like_der;
use super::pem::has_begin;

/// The prefixes of wechatpay-php's `Rsa::from`: bare base64 DER of one structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prefix {
    /// `private.pkcs1://`: `RSAPrivateKey`.
    PrivatePkcs1,
    /// `private.pkcs8://`: `PrivateKeyInfo`.
    PrivatePkcs8,
    /// `public.pkcs1://`: `RSAPublicKey`.
    PublicPkcs1,
    /// `public.spki://`: `SubjectPublicKeyInfo`.
    PublicSpki,
}

impl Prefix {
    const ALL: [(Prefix, &'static str); 4] = [
        (Prefix::PrivatePkcs1, "private.pkcs1://"),
        (Prefix::PrivatePkcs8, "private.pkcs8://"),
        (Prefix::PublicPkcs1, "public.pkcs1://"),
        (Prefix::PublicSpki, "public.spki://"),
    ];

    pub(crate) fn as_str(self) -> &'static str {
        Prefix::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map_or("", |(_, s)| s)
    }
}

/// Bytes of the caller's input: borrowed from it, or read from a file and wiped when dropped
/// (they may be a private key).
pub(crate) enum Input<'a> {
    Borrowed(&'a [u8]),
    Owned(Zeroizing<Vec<u8>>),
}

impl Deref for Input<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Input::Borrowed(bytes) => bytes,
            Input::Owned(bytes) => bytes,
        }
    }
}

/// The input, resolved.
pub(crate) enum Form<'a> {
    /// A known prefix and the DER its base64 decodes to (wiped when dropped).
    Prefixed(Prefix, Zeroizing<Vec<u8>>),
    /// Binary DER.
    Der(Input<'a>),
    /// Text with a `-----BEGIN` line.
    Pem(Input<'a>),
    /// Anything else; the hint (may be empty) suggests what the caller may have meant.
    Other(&'static str),
}

const FILE: &str = "file://";

/// Resolves `input`, reading the file a `file://` input names (once: a `file://` inside that
/// file is not followed).
pub(crate) fn resolve(input: &[u8]) -> Result<Form<'_>, String> {
    let trimmed = trim(input);
    if let Some(path) = trimmed.strip_prefix(FILE.as_bytes()) {
        let path = std::str::from_utf8(path)
            .ok()
            .filter(|p| !p.is_empty() && !p.contains(['\n', '\r', '\0']) && p.len() <= 4096)
            .ok_or("the path after `file://` is not a single line of UTF-8 text")?;
        let content = read_file(Path::new(path))?;
        let der = match resolve_contents(&content)? {
            Form::Prefixed(prefix, der) => return Ok(Form::Prefixed(prefix, der)),
            Form::Other(_) => {
                return Ok(Form::Other(
                    "; the file holds neither PEM nor DER nor a `private.*://`/`public.*://` value",
                ));
            }
            Form::Der(_) => true,
            Form::Pem(_) => false,
        };
        return Ok(if der {
            Form::Der(Input::Owned(content))
        } else {
            Form::Pem(Input::Owned(content))
        });
    }
    resolve_contents(input)
}

/// Reads a key or certificate file, naming the path (not the content) on failure.
/// The largest key or certificate file read: far above any real one, and small enough that a
/// wrong path (`/dev/zero`, a disk image) cannot exhaust memory.
pub(crate) const MAX_KEY_FILE: u64 = 1 << 20;

/// Reads at most [`MAX_KEY_FILE`] bytes; a longer file is an error.
pub(crate) fn read_key_file(path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    // Sized to the file up front: a buffer grown while reading would leave unwiped copies of
    // the key behind.
    let size = file.metadata().map_or(0, |m| m.len()).min(MAX_KEY_FILE + 1);
    let mut content = Zeroizing::new(Vec::with_capacity(size as usize));
    file.take(MAX_KEY_FILE + 1).read_to_end(&mut content)?;
    if content.len() as u64 > MAX_KEY_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "larger than 1 MiB, which no key or certificate is",
        ));
    }
    Ok(content)
}

fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, String> {
    read_key_file(path).map_err(|e| {
        format!(
            "file `{}` cannot be read: {e}",
            path.display().to_string().escape_default()
        )
    })
}

/// Reads and parses a key or certificate file for the `from_file` constructors: errors name
/// `what` and the path, e.g. "private key file `/etc/key.pem` cannot be read: ...".
pub(crate) fn parse_file<T>(
    path: &Path,
    what: &str,
    parse: impl FnOnce(&[u8]) -> Result<T, String>,
) -> crate::error::Result<T> {
    let shown = path.display().to_string();
    let shown = shown.escape_default();
    let content = read_key_file(path).map_err(|e| {
        crate::error::Error::config(format!("{what} file `{shown}` cannot be read: {e}"))
    })?;
    if trim(&content).starts_with(FILE.as_bytes()) {
        // A file names the key it holds, never another file.
        return Err(crate::error::Error::config(format!(
            "{what} file `{shown}` holds a `file://` path, not a key: a file is not followed twice"
        )));
    }
    parse(&content)
        .map_err(|reason| crate::error::Error::config(format!("{what} file `{shown}`: {reason}")))
}

/// [`resolve`] without `file://`.
pub(crate) fn resolve_contents(input: &[u8]) -> Result<Form<'_>, String> {
    let trimmed = trim(input);
    for (prefix, text) in Prefix::ALL {
        if let Some(body) = trimmed.strip_prefix(text.as_bytes()) {
            // Sized once (never reallocated, so no unwiped copy is left behind), wiped on drop.
            let mut base64 = Zeroizing::new(String::with_capacity(body.len()));
            base64.extend(
                body.iter()
                    .filter(|b| !b.is_ascii_whitespace())
                    .map(|&b| char::from(b)),
            );
            if base64.is_empty() {
                return Err(format!("the `{text}` value is empty"));
            }
            let der = decode_base64_strict(&base64)
                .ok_or_else(|| format!("the `{text}` value is not standard padded base64"))?;
            return Ok(Form::Prefixed(prefix, Zeroizing::new(der)));
        }
    }
    if let Some(scheme) = unknown_scheme(trimmed) {
        return Err(format!(
            "found an unsupported `{scheme}://` prefix (supported: `file://`, \
             `private.pkcs1://`, `private.pkcs8://`, `public.pkcs1://`, `public.spki://`)"
        ));
    }
    if looks_like_der(trimmed) {
        return Ok(Form::Der(Input::Borrowed(trimmed)));
    }
    if has_begin(input) {
        return Ok(Form::Pem(Input::Borrowed(input)));
    }
    Ok(Form::Other(hint(trimmed)))
}

/// A UTF-8 byte order mark and, unless the input is DER (whose last bytes may well be
/// whitespace values), leading and trailing ASCII whitespace removed.
fn trim(input: &[u8]) -> &[u8] {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    if looks_like_der(input) {
        return input;
    }
    input.trim_ascii()
}

/// `scheme` of a leading `scheme://` made of `[a-z0-9.+-]` (at most 32 bytes).
fn unknown_scheme(input: &[u8]) -> Option<&str> {
    let end = input.windows(3).take(33).position(|w| w == b"://")?;
    let scheme = &input[..end];
    let plain = !scheme.is_empty()
        && scheme.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'+' | b'-')
        });
    if plain {
        std::str::from_utf8(scheme).ok()
    } else {
        None
    }
}

/// A hint for text that is none of the forms. It never quotes the input.
fn hint(input: &[u8]) -> &'static str {
    let one_line = !input.is_empty() && !input.contains(&b'\n');
    let base64ish = input.len() >= 64
        && input
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    if one_line && base64ish && input.starts_with(b"MI") {
        return "; bare base64 needs a `private.pkcs1://`, `private.pkcs8://`, \
                `public.pkcs1://` or `public.spki://` prefix";
    }
    let pathish = one_line
        && !input.iter().any(u8::is_ascii_whitespace)
        && (input.contains(&b'/')
            || input.contains(&b'\\')
            || [".pem", ".crt", ".cer", ".key", ".der"]
                .iter()
                .any(|ext| input.ends_with(ext.as_bytes())));
    if pathish {
        return "; to read a file, prefix its path with `file://`";
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_decode_base64_with_line_breaks() {
        match resolve(b"  public.spki://d2Vj\naGF0cGF5\n").unwrap() {
            Form::Prefixed(Prefix::PublicSpki, der) => assert_eq!(&der[..], b"wechatpay"),
            _ => panic!("expected a prefixed form"),
        }
        assert_eq!(
            resolve(b"private.pkcs8://").err().unwrap(),
            "the `private.pkcs8://` value is empty"
        );
        assert_eq!(
            resolve(b"private.pkcs1://a b c").err().unwrap(),
            "the `private.pkcs1://` value is not standard padded base64"
        );
    }

    #[test]
    fn unknown_schemes_are_named_but_nothing_else() {
        let err = resolve(b"https://example.com/key.pem").err().unwrap();
        assert!(
            err.starts_with("found an unsupported `https://` prefix"),
            "{err}"
        );
        // Not a plain scheme: not quoted, and not a prefix at all.
        assert!(matches!(resolve(b"SECRET://x").unwrap(), Form::Other(_)));
    }

    #[test]
    fn hints_do_not_quote() {
        assert_eq!(hint(b"garbage"), "");
        assert!(hint(b"/etc/wechatpay/apiclient_key.pem").contains("file://"));
        assert!(hint(b"apiclient_key.pem").contains("file://"));
        let base64 = format!("MII{}", "A".repeat(80));
        assert!(hint(base64.as_bytes()).contains("private.pkcs8://"));
    }

    #[test]
    fn bad_file_inputs_say_why() {
        assert_eq!(
            resolve(b"file://").err().unwrap(),
            "the path after `file://` is not a single line of UTF-8 text"
        );
        let err = resolve(b"file:///nonexistent/wechatpay/key.pem")
            .err()
            .unwrap();
        assert!(
            err.starts_with("file `/nonexistent/wechatpay/key.pem` cannot be read: "),
            "{err}"
        );
    }
}
