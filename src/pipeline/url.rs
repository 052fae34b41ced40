//! The URL of a request: the base URI followed by exactly the expanded target.

use std::borrow::Cow;

use url::{Position, Url};

use crate::base_uri::BaseUri;
use crate::error::{Error, Result};
use crate::template::TemplateError;

/// The URL `base` + `path` (relative, already expanded) + `?query`, refused when the URL
/// parser would send anything other than exactly that (what is signed must be what is sent).
pub(crate) fn build_url(base: &BaseUri, path: &str, query: Option<&str>) -> Result<Url> {
    build_url_from(base, "", path, query)
}

/// [`build_url`] for a `path` that starts with `prefix`, a template's literal text: the base
/// keeps the URL of the prefix and parses only the rest (see [`BaseUri::join`]).
pub(crate) fn build_url_from(
    base: &BaseUri,
    prefix: &str,
    path: &str,
    query: Option<&str>,
) -> Result<Url> {
    let relative = match query {
        None => Cow::Borrowed(path),
        Some(q) => Cow::Owned([path, "?", q].concat()),
    };
    // The whole URL must be the base followed by exactly the relative target.
    match base.join(prefix, &relative) {
        Ok(url) if url.as_str().strip_prefix(base.as_str()) == Some(&*relative) => Ok(url),
        other => Err(Error::from_template(TemplateError::Rewritten {
            expanded: format!("{}{relative}", base.path()),
            sent: match other {
                // The target, or the whole URL when the scheme, host or base path changed.
                Ok(url) if url.as_str().starts_with(base.as_str()) => {
                    url[Position::BeforePath..Position::AfterQuery].to_owned()
                }
                Ok(url) => url.into(),
                Err(e) => format!("nothing (the URL parser refuses it: {e})"),
            },
        })),
    }
}
