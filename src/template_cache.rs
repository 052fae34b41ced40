//! The parsed URI templates of one client, shared by its endpoints: `client.chain(path)`
//! called for every request (wechatpay-php's style) parses `path` once, not per request.
//!
//! Only templates with an expression (`{...}`) are kept: a path built at run time with its
//! values written in has none, and must not use up the room that real templates need. A path
//! with no expression parses into a single literal, cheaply.

use std::sync::Arc;

use crate::bounded_cache::BoundedCache;
use crate::template::{TemplateError, UriTemplate};

/// How many templates a client keeps. Paths built at run time with values written into them
/// (not placeholders) would otherwise have no end; past this many, templates are parsed and
/// not kept.
const MAX_TEMPLATES: usize = 256;

/// A template as parsed, or why it does not parse.
pub(crate) type Parsed = Result<Arc<UriTemplate>, TemplateError>;

/// Parsed templates by their text.
pub(crate) struct TemplateCache {
    parsed: BoundedCache<Parsed>,
}

impl TemplateCache {
    /// An empty cache.
    pub(crate) fn new() -> TemplateCache {
        TemplateCache {
            parsed: BoundedCache::new(MAX_TEMPLATES),
        }
    }

    /// `path` parsed: the kept result, or parsed now (and kept, when it has an expression and
    /// there is room).
    pub(crate) fn parse(&self, path: &str) -> Parsed {
        let parse = || UriTemplate::parse(path).map(Arc::new);
        if !path.contains('{') {
            return parse();
        }
        self.parsed.get_or_add(path, parse).unwrap_or_else(parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_parse_per_template_shared_by_every_caller() {
        let cache = TemplateCache::new();
        let a = cache
            .parse("v3/pay/transactions/id/{transaction_id}")
            .unwrap();
        let b = cache
            .parse("v3/pay/transactions/id/{transaction_id}")
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.as_str(), "v3/pay/transactions/id/{transaction_id}");
    }

    #[test]
    fn paths_without_an_expression_are_not_kept() {
        let cache = TemplateCache::new();
        for i in 0..2 * MAX_TEMPLATES {
            let path = format!("v3/pay/transactions/id/42000{i}");
            assert_eq!(cache.parse(&path).unwrap().as_str(), path);
        }
        assert_eq!(cache.parsed.len(), 0);
        // Room is left for real templates.
        let a = cache
            .parse("v3/refund/domestic/refunds/{out_refund_no}")
            .unwrap();
        let b = cache
            .parse("v3/refund/domestic/refunds/{out_refund_no}")
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn errors_are_returned_every_time() {
        let cache = TemplateCache::new();
        for _ in 0..2 {
            assert!(cache.parse("v3/{unclosed").is_err());
        }
    }

    #[test]
    fn the_cache_is_bounded_and_still_parses_past_its_bound() {
        let cache = TemplateCache::new();
        for i in 0..MAX_TEMPLATES + 10 {
            let path = format!("v3/{i}/{{id}}");
            assert_eq!(cache.parse(&path).unwrap().as_str(), path);
        }
        assert_eq!(cache.parsed.len(), MAX_TEMPLATES);
        let late = format!("v3/{}/{{id}}", MAX_TEMPLATES + 1);
        assert!(!Arc::ptr_eq(
            &cache.parse(&late).unwrap(),
            &cache.parse(&late).unwrap()
        ));
    }
}
