//! Shared helpers of the fuzz targets: the text format of a header block, the fixed keys, and
//! the `@now` / `@sign` / `@SEALED@` directives that let the fuzzer reach the code behind a
//! valid signature and a valid AES-GCM tag (which it could never forge by itself).
//!
//! Input of the `callback` and `headers` targets:
//!
//! ```text
//! Wechatpay-Timestamp: @now          <- `@now` is replaced by the clock the target uses
//! Wechatpay-Nonce: 5K8264ILTKCH16CQ2502SI8ZNMTM67VS
//! Wechatpay-Signature: @sign         <- `@sign` is replaced by a valid signature
//! Wechatpay-Serial: PUB_KEY_ID_0114232134912410000000000000
//! @now: 1700000000                   <- a directive line (`headers` target: the clock)
//!                                    <- the first empty line ends the header block
//! {"id":"...", ...}                  <- the body, all the rest
//! ```
//!
//! A header line is `name:value` (spaces and tabs after the colon are skipped); lines whose
//! name or value `http` refuses are dropped, repeated names are appended. Everything is bytes:
//! no UTF-8 is required anywhere.

use std::sync::OnceLock;

use http::{HeaderMap, HeaderName, HeaderValue};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use wechatpay::crypto::PublicKey;
use wechatpay::verifier::PlatformVerifier;

/// The APIv3 key of the `callback` target.
pub const APIV3_KEY: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
/// The id under which the fuzz key is known to the verifier (a WeChat Pay public key id).
pub const SERIAL: &str = "PUB_KEY_ID_0114232134912410000000000000";
/// A second id for the same key (a platform certificate serial), so that serial look-up has
/// two entries to confuse.
pub const CERT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";

/// The value replaced by a valid signature.
pub const SIGN: &[u8] = b"@sign";
/// The value replaced by the target's clock.
pub const NOW: &[u8] = b"@now";

struct Keys {
    private: PKey<Private>,
    verifier: PlatformVerifier,
}

/// One RSA key pair per process, generated once. 1024 bits rather than WeChat Pay's 2048: the
/// code under test does not look at the size, and signing `@sign` inputs is then ~4x cheaper.
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rsa = Rsa::generate(1024).expect("RSA key generation");
        let private = PKey::from_rsa(rsa).expect("PKey");
        let public_pem = private.public_key_to_pem().expect("public PEM");
        let public = PublicKey::load(&public_pem).expect("wechatpay loads the public key");
        let mut verifier = PlatformVerifier::new();
        verifier.insert(SERIAL, public.clone());
        verifier.insert(CERT_SERIAL, public);
        Keys { private, verifier }
    })
}

/// A verifier holding the fuzz public key under [`SERIAL`] and [`CERT_SERIAL`].
pub fn verifier() -> PlatformVerifier {
    keys().verifier.clone()
}

/// Splits the input at its first empty line (`\n\n` or `\r\n\r\n`): header block and body.
/// Without one, everything is the header block and the body is empty.
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    let lf = find(data, b"\n\n").map(|i| (i, 2));
    let crlf = find(data, b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => {
            let (i, n) = if a.0 <= b.0 { a } else { b };
            (&data[..i], &data[i + n..])
        }
        (Some((i, n)), None) | (None, Some((i, n))) => (&data[..i], &data[i + n..]),
        (None, None) => (data, &[]),
    }
}

/// The first occurrence of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The parsed header block: header lines (raw) and directive lines (`@name: value`).
#[derive(Default, Debug)]
pub struct HeaderBlock<'a> {
    /// `(name, value)` of each header line, in order.
    pub lines: Vec<(&'a [u8], &'a [u8])>,
    /// `(name without @, value)` of each directive line.
    pub directives: Vec<(&'a [u8], &'a [u8])>,
}

impl<'a> HeaderBlock<'a> {
    /// Reads the header block.
    pub fn parse(block: &'a [u8]) -> HeaderBlock<'a> {
        let mut out = HeaderBlock::default();
        for line in block.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let name = &line[..colon];
            let mut value = &line[colon + 1..];
            while let [b' ' | b'\t', rest @ ..] = value {
                value = rest;
            }
            match name.strip_prefix(b"@") {
                Some(directive) => out.directives.push((directive, value)),
                None => out.lines.push((name, value)),
            }
        }
        out
    }

    /// The value of the first directive with this name.
    pub fn directive(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.directives
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The `@now: <i64>` directive, when it is present and a number.
    pub fn now(&self) -> Option<i64> {
        std::str::from_utf8(self.directive(b"now")?)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Whether some header value is `@sign`.
    pub fn wants_signature(&self) -> bool {
        self.lines.iter().any(|(_, v)| *v == SIGN)
    }

    /// Builds the `HeaderMap`: `@now` values become `now`; then, when some value is `@sign`,
    /// the signature is computed over the resolved `Wechatpay-Timestamp` and `Wechatpay-Nonce`
    /// (the first of each, as the verifier reads them) and `body`, and replaces it.
    pub fn headers(&self, now: i64, body: &[u8]) -> HeaderMap {
        let now_text = now.to_string();
        let mut resolved: Vec<(HeaderName, &[u8])> = Vec::with_capacity(self.lines.len());
        for &(name, value) in &self.lines {
            let Ok(name) = HeaderName::from_bytes(name) else {
                continue;
            };
            let value = if value == NOW {
                now_text.as_bytes()
            } else {
                value
            };
            resolved.push((name, value));
        }
        let first = |wanted: &str| {
            resolved
                .iter()
                .find(|(n, v)| n.as_str().eq_ignore_ascii_case(wanted) && *v != SIGN)
                .map(|(_, v)| *v)
                .unwrap_or(b"")
        };
        let signature = if resolved.iter().any(|(_, v)| *v == SIGN) {
            let mut message = Vec::with_capacity(body.len() + 64);
            message.extend_from_slice(first("wechatpay-timestamp"));
            message.push(b'\n');
            message.extend_from_slice(first("wechatpay-nonce"));
            message.push(b'\n');
            message.extend_from_slice(body);
            message.push(b'\n');
            Some(sign(&message))
        } else {
            None
        };
        let mut map = HeaderMap::new();
        for (name, value) in resolved {
            let value = match &signature {
                Some(s) if value == SIGN => s.as_bytes(),
                _ => value,
            };
            if let Ok(value) = HeaderValue::from_bytes(value) {
                map.append(name, value);
            }
        }
        map
    }
}

/// RSASSA-PKCS1-v1_5 / SHA-256 with the fuzz private key, standard base64.
pub fn sign(message: &[u8]) -> String {
    let mut signer =
        openssl::sign::Signer::new(MessageDigest::sha256(), &keys().private).expect("signer");
    let raw = signer.sign_oneshot_to_vec(message).expect("sign");
    openssl::base64::encode_block(&raw)
}

/// The current Unix time in seconds, as the library's verifier reads it.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Whether `WECHATPAY_FUZZ_DEBUG` is set: the targets then print what each input gave, to
/// check by hand that the seeds reach the paths they are meant for.
pub fn debug() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("WECHATPAY_FUZZ_DEBUG").is_some())
}
