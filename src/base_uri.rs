//! The base URI requests are relative to.

use url::Url;

/// A checked base URI: `http` or `https`, a host, a path ending in `/`, nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BaseUri {
    url: Url,
}

impl BaseUri {
    pub(crate) fn parse(input: &str) -> Result<BaseUri, String> {
        let mut url = Url::parse(input)
            .map_err(|e| format!("{} is not an absolute URI: {e}", crate::error::shown(input)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "`{input}` must use http or https, not `{}`",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("`{input}` has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "the base URI of host `{}` must not carry credentials (not shown)",
                url.host_str().unwrap_or_default()
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("`{input}` must not have a query or a fragment"));
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(BaseUri { url })
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_prefix_and_adds_slash() {
        let b = BaseUri::parse("https://proxy.example.com/wechat").unwrap();
        assert_eq!(b.as_str(), "https://proxy.example.com/wechat/");
        assert_eq!(b.path(), "/wechat/");
        let b = BaseUri::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(b.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(b.path(), "/");
        let b = BaseUri::parse("https://api.mch.weixin.qq.com:443/").unwrap();
        assert_eq!(b.as_str(), "https://api.mch.weixin.qq.com/");
    }

    #[test]
    fn rejects_unusable_bases() {
        for (input, expected) in [
            ("api.mch.weixin.qq.com", "is not an absolute URI"),
            ("ftp://x/", "must use http or https"),
            ("https://u:p@x/", "must not carry credentials"),
            ("https://x/?a=1", "must not have a query"),
            ("https://x/#f", "must not have a query or a fragment"),
        ] {
            let err = BaseUri::parse(input).unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }
}
