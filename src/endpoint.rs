//! [`Endpoint`]: a URI template reached by chaining, and [`normalize`], the rule that turns
//! chained keys into path segments.

use std::fmt;
use std::ops::Index;
use std::sync::{Arc, OnceLock};

use crate::children::Children;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::template::UriTemplate;
use crate::template_cache::Parsed;

/// Turns one chained key into path text, as wechatpay-php does, by three rules in order:
///
/// 1. a leading capital letter is lowercased (`ComplaintNotifications` -> `complaintNotifications`);
/// 2. every other capital `X` becomes `-x` (`merchantService` -> `merchant-service`);
/// 3. a key that starts and ends with `_` becomes a placeholder (`_complaint_id_` -> `{complaint_id}`).
///
/// A key may hold several segments (`v3/pay/transactions/native`); the rules apply to the key
/// as a whole. Values such as order numbers belong in placeholders, which are never normalised.
///
/// ```
/// use wechatpay::normalize;
///
/// assert_eq!(normalize("merchantService"), "merchant-service");
/// assert_eq!(normalize("ComplaintNotifications"), "complaint-notifications");
/// assert_eq!(normalize("complaintsV2"), "complaints-v2");
/// assert_eq!(normalize("_complaint_id_"), "{complaint_id}");
/// assert_eq!(normalize("_foo"), "_foo");
/// ```
pub fn normalize(key: &str) -> String {
    // Most keys (and every path in wechatpay-php's style) have no capital: copied as they are.
    let mut out = if key.bytes().any(|b| b.is_ascii_uppercase()) {
        let mut out = String::with_capacity(key.len() + 4);
        for (i, c) in key.char_indices() {
            if c.is_ascii_uppercase() {
                if i > 0 {
                    out.push('-');
                }
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    } else {
        key.to_owned()
    };
    if out.len() >= 2 && out.starts_with('_') && out.ends_with('_') {
        out.replace_range(..1, "{");
        out.replace_range(out.len() - 1.., "}");
    }
    out
}

/// One API endpoint: a URI template relative to the base URI, with the verbs to call it.
///
/// Get one from [`Client::chain`](crate::Client::chain), by indexing a client or an endpoint
/// (`client["v3"]["pay"]`: each `[]` is one normalised key, cached, so repeated indexing costs
/// a lookup) or with [`chain!`](crate::chain!). The caches keep every distinct key for the
/// client's lifetime: index with fixed path text, put values in placeholders, and use
/// [`chain`](Endpoint::chain) for paths built at run time. `Display` and [`template`](Endpoint::template)
/// show the template.
///
/// ```
/// # let key = openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap();
/// # let client = wechatpay::Client::builder().mchid("1900000000").serial("0A").private_key(key)
/// #     .verifier(wechatpay::verifier::PlatformVerifier::new()).build().unwrap();
/// let a = &client["v3"]["global"]["merchantService"]["complaints"]["_complaint_id_"]["response"];
/// let b = wechatpay::chain!(client.v3.global.merchantService.complaints._complaint_id_.response);
/// assert_eq!(a.template(), "v3/global/merchant-service/complaints/{complaint_id}/response");
/// assert!(std::ptr::eq(a, b));
/// ```
pub struct Endpoint {
    ctx: Arc<Context>,
    path: Arc<str>,
    /// Parsed on first use, from the client's template cache.
    template: OnceLock<Parsed>,
    /// Index cache: `self[key]`.
    children: Children<Endpoint>,
}

impl Endpoint {
    pub(crate) fn root(ctx: Arc<Context>, key: &str) -> Endpoint {
        Endpoint::with_path(ctx, normalize(key).into())
    }

    /// The endpoint of a template taken as written, not normalised: a typed model's, whose
    /// template is WeChat Pay's own spelling (`v2/secapi/mch/addInstitutionsub` keeps its
    /// capital, which [`normalize`] would turn into `add-institutionsub`).
    pub(crate) fn exact(ctx: Arc<Context>, template: &str) -> Endpoint {
        Endpoint::with_path(ctx, template.into())
    }

    fn with_path(ctx: Arc<Context>, path: Arc<str>) -> Endpoint {
        Endpoint {
            ctx,
            path,
            template: OnceLock::new(),
            children: Children::new(),
        }
    }

    /// A new endpoint one key further: this template, `/`, and `key` normalised.
    pub fn chain(&self, key: &str) -> Endpoint {
        let key = normalize(key);
        let path = if self.path.is_empty() {
            key
        } else {
            let mut p = String::with_capacity(self.path.len() + 1 + key.len());
            p.push_str(&self.path);
            p.push('/');
            p.push_str(&key);
            p
        };
        Endpoint::with_path(self.ctx.clone(), path.into())
    }

    /// The URI template, relative to the base URI.
    pub fn template(&self) -> &str {
        &self.path
    }

    /// The URI template, shared (for a request's future, which outlives the borrow).
    pub(crate) fn shared_template(&self) -> Arc<str> {
        self.path.clone()
    }

    /// The parsed template (on first use, from the client's template cache; then kept).
    pub(crate) fn parsed(&self) -> Result<&UriTemplate> {
        self.template
            .get_or_init(|| self.ctx.templates.parse(&self.path))
            .as_deref()
            .map_err(|e| Error::from_template(e.clone()))
    }

    /// What the endpoint's requests run on.
    pub(crate) fn context(&self) -> &Arc<Context> {
        &self.ctx
    }
}

impl Clone for Endpoint {
    /// The same template on the same client; the clone has its own (empty) index cache.
    fn clone(&self) -> Endpoint {
        Endpoint {
            ctx: self.ctx.clone(),
            path: self.path.clone(),
            template: self.template.clone(),
            children: Children::new(),
        }
    }
}

impl Index<&str> for Endpoint {
    type Output = Endpoint;

    /// The cached child endpoint for `key` (see [`chain`](Endpoint::chain)).
    fn index(&self, key: &str) -> &Endpoint {
        self.children.get_or_add(key, || self.chain(key))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Endpoint").field(&&*self.path).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn three_rules_in_order() {
        for (key, expected) in [
            ("v3", "v3"),
            ("merchantService", "merchant-service"),
            ("ComplaintNotifications", "complaint-notifications"),
            ("complaintsV2", "complaints-v2"),
            ("_complaint_id_", "{complaint_id}"),
            ("_out_trade_no_", "{out_trade_no}"),
            ("_foo", "_foo"),
            ("foo_", "foo_"),
            ("__", "{}"),
            ("_", "_"),
            ("_SubMchid_", "{-sub-mchid}"),
            (
                "v3/global/merchant-service/complaints/{complaint_id}/response",
                "v3/global/merchant-service/complaints/{complaint_id}/response",
            ),
            ("已与", "已与"),
        ] {
            assert_eq!(normalize(key), expected, "key {key}");
        }
    }

    #[test]
    fn normalising_is_idempotent_on_its_output() {
        for key in [
            "merchantService",
            "ComplaintNotifications",
            "_complaint_id_",
            "v3/pay",
        ] {
            let once = normalize(key);
            assert_eq!(normalize(&once), once);
        }
    }
}
