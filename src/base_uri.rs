//! The base URI requests are relative to.

use std::fmt;
use std::sync::Arc;

use url::{ParseError, Url};

use crate::bounded_cache::BoundedCache;
use crate::redact;

/// How many path prefixes a base URI keeps the URL of (see [`BaseUri::join`]).
const MAX_PREFIXES: usize = 256;

/// A checked base URI: `http` or `https`, a host, a path ending in `/`, nothing else.
pub(crate) struct BaseUri {
    url: Url,
    /// `url` joined with path prefixes (templates' literal text, such as `v3/pay/transactions/`),
    /// so that a request has only the rest of its path parsed; `None` for a prefix the URL
    /// parser does not leave as it is.
    prefixes: BoundedCache<Option<Arc<Url>>>,
}

impl Clone for BaseUri {
    /// The same base, with an empty prefix cache.
    fn clone(&self) -> BaseUri {
        BaseUri::new(self.url.clone())
    }
}

impl PartialEq for BaseUri {
    fn eq(&self, other: &BaseUri) -> bool {
        self.url == other.url
    }
}

impl Eq for BaseUri {}

impl fmt::Debug for BaseUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BaseUri").field(&self.url.as_str()).finish()
    }
}

impl BaseUri {
    /// `input` checked as a base URI. Plain `http` is refused unless `allow_insecure_http`
    /// (the builder's [`allow_insecure_http`](crate::ClientBuilder::allow_insecure_http)). The
    /// error quotes `input` only as [`redact::quoted_url`] shows it; the caller names the
    /// setting.
    pub(crate) fn parse(input: &str, allow_insecure_http: bool) -> Result<BaseUri, String> {
        let shown = || redact::quoted_url(input);
        let mut url = Url::parse(input).map_err(|e| {
            format!(
                "{} is not an absolute URI ({e}): it must start with `https://`",
                shown()
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(match redact::url(input) {
                Some(text) => format!("`{text}` must use http or https, not `{}`", url.scheme()),
                None => format!("{} must use http or https", shown()),
            });
        }
        if url.scheme() == "http" && !allow_insecure_http {
            return Err(insecure_http(&shown()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{} has no host", shown()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "the base URI of host `{}` must not carry credentials (not shown)",
                url.host_str().unwrap_or_default()
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "{} must not have a query or a fragment (not shown)",
                shown()
            ));
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(BaseUri::new(url))
    }

    fn new(url: Url) -> BaseUri {
        BaseUri {
            url,
            prefixes: BoundedCache::new(MAX_PREFIXES),
        }
    }

    /// The whole base, ending in `/`.
    pub(crate) fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The path prefix, starting and ending in `/`.
    pub(crate) fn path(&self) -> &str {
        self.url.path()
    }

    /// The parsed URL, to derive request URLs from without parsing the host again.
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// `relative` (a path without its leading `/`, maybe with a `?query`) resolved against this
    /// base. `prefix`, a leading part of `relative`'s path ending in `/` that many requests share
    /// (a template's literal text, such as `v3/pay/transactions/id/`), is resolved once and kept:
    /// only the rest of `relative` is parsed. The caller checks the result; what the URL parser
    /// makes of unusual input (a `\`, a `..`) is not this function's concern.
    pub(crate) fn join(&self, prefix: &str, relative: &str) -> Result<Url, ParseError> {
        let rest = match relative.strip_prefix(prefix) {
            Some(rest) if prefix.ends_with('/') => rest,
            _ => return join_path(&self.url, relative),
        };
        let base = self.prefixes.get_or_add(prefix, || {
            join_path(&self.url, prefix)
                .ok()
                .filter(|url| url.as_str().strip_prefix(self.as_str()) == Some(prefix))
                .map(Arc::new)
        });
        match base {
            Some(Some(base)) => join_path(&base, rest),
            // The prefix is not kept (the cache is full), or the parser changes it.
            _ => join_path(&self.url, relative),
        }
    }
}

/// Why a plain `http` URL (`shown`, quoted) is refused, and how to allow it.
pub(crate) fn insecure_http(shown: &str) -> String {
    format!(
        "{shown} uses plain http, which would send the signed `Authorization` header, the \
         request bodies and the answers in clear, for anyone on the way to read or alter: use \
         https, or, for a local test server such as wechatpay-sandbox, allow plain http with \
         .allow_insecure_http(true) on the client builder"
    )
}

/// `base` joined with the relative path `path`: `./` first when `path` would otherwise read
/// as absolute (a leading `/` or `\`) or as a scheme (a `:` in its first segment).
fn join_path(base: &Url, path: &str) -> Result<Url, ParseError> {
    let mut first_segment = path.bytes().take_while(|&b| b != b'/' && b != b'?');
    if path.starts_with(['/', '\\']) || first_segment.any(|b| b == b':') {
        return base.join(&format!("./{path}"));
    }
    base.join(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_prefix_and_adds_slash() {
        let b = BaseUri::parse("https://proxy.example.com/wechat", false).unwrap();
        assert_eq!(b.as_str(), "https://proxy.example.com/wechat/");
        assert_eq!(b.path(), "/wechat/");
        let b = BaseUri::parse("http://127.0.0.1:8080", true).unwrap();
        assert_eq!(b.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(b.path(), "/");
        let b = BaseUri::parse("https://api.mch.weixin.qq.com:443/", false).unwrap();
        assert_eq!(b.as_str(), "https://api.mch.weixin.qq.com/");
    }

    #[test]
    fn rejects_unusable_bases() {
        for (input, expected) in [
            (
                "api.mch.weixin.qq.com",
                "(a value of 21 characters, not shown) is not an absolute URI",
            ),
            ("ftp://x/", "`ftp://x/` must use http or https"),
            ("https://u:p@x/", "must not carry credentials"),
            ("https://x/?a=1", "`https://x/?***` must not have a query"),
            ("https://x/#f", "must not have a query or a fragment"),
            ("http://x/", "`http://x/` uses plain http"),
        ] {
            let err = BaseUri::parse(input, false).unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }

    #[test]
    fn plain_http_needs_the_opt_in() {
        let err = BaseUri::parse("http://127.0.0.1:8080/", false).unwrap_err();
        assert!(err.contains(".allow_insecure_http(true)"), "{err}");
        assert!(err.contains("`Authorization` header"), "{err}");
        assert!(BaseUri::parse("http://127.0.0.1:8080/", true).is_ok());
        assert!(BaseUri::parse("https://127.0.0.1:8080/", false).is_ok());
    }

    #[test]
    fn errors_never_show_user_info() {
        for input in [
            "ftp://merchant:pa55word@proxy/",
            "https://merchant:pa55word@proxy:99999/",
            "https://merchant:pa55word@proxy/?a=1",
            "http://merchant:pa55word@proxy/",
            "https://merchant:pa55word@/",
            "merchant:pa55word@proxy",
        ] {
            for allow in [false, true] {
                let err = BaseUri::parse(input, allow).unwrap_err();
                assert!(!err.contains("pa55word"), "{input}: {err}");
                assert!(!err.contains("merchant"), "{input}: {err}");
            }
        }
    }

    #[test]
    fn joining_from_a_kept_prefix_is_joining_from_the_base() {
        for base in [
            "https://api.mch.weixin.qq.com/",
            "http://127.0.0.1:8080/wechat/",
        ] {
            let b = BaseUri::parse(base, true).unwrap();
            for (prefix, relative) in [
                (
                    "v3/pay/transactions/id/",
                    "v3/pay/transactions/id/4200000001?mchid=1230000109",
                ),
                (
                    "v3/pay/transactions/id/",
                    "v3/pay/transactions/id/4200000002",
                ),
                ("v3/x/", "v3/x/"),
                ("v3/x/", "v3/x/?a=1"),
                ("v3/x/", "v3/x/a:b/c"),
                ("v3/x/", "v3/x//y"),
                ("v3/x/", "v3/x/%E5%B7%B2/y%3Fz"),
                ("", "a:b/c?d"),
                ("", "/v3/x"),
                ("v3/", "v3x/y"),
            ] {
                // Twice: once filling the cache, once from it.
                for _ in 0..2 {
                    let url = b.join(prefix, relative).unwrap();
                    assert_eq!(
                        url.as_str(),
                        format!("{base}{relative}"),
                        "{prefix} + {relative}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_prefix_cache_is_bounded_and_not_cloned() {
        let b = BaseUri::parse("https://x/", false).unwrap();
        for i in 0..MAX_PREFIXES + 10 {
            let prefix = format!("v3/{i}/");
            let url = b.join(&prefix, &format!("{prefix}y")).unwrap();
            assert_eq!(url.as_str(), format!("https://x/v3/{i}/y"));
        }
        assert_eq!(b.prefixes.len(), MAX_PREFIXES);
        let copy = b.clone();
        assert_eq!(copy, b);
        assert_eq!(copy.prefixes.len(), 0);
        assert_eq!(format!("{b:?}"), "BaseUri(\"https://x/\")");
    }
}
