//! [`Client`]: the façade. Every public method of a client is here or in one file per area:
//!
//! - [`builder`]: [`ClientBuilder`](builder::ClientBuilder), which checks the settings and
//!   assembles the [`Context`] (and the key ring's refresh policy) a client runs on;
//! - `keys`: the key ring, its refresh, and the callbacks' parser;
//! - `bills`: bill and statement downloads;
//! - `toolkit`: pay parameters and the decryption of sensitive fields;
//! - `apiv2`: APIv2 callbacks;
//! - `typed`: the typed requests of [`crate::api`].
//!
//! The façade calls down (endpoints, the pipeline, the areas) and nothing below calls up.

pub(crate) mod builder;

mod apiv2;
mod bills;
mod keys;
mod toolkit;
mod typed;

use std::fmt;
use std::ops::Index;
use std::sync::Arc;

use crate::children::Children;
use crate::context::Context;
use crate::endpoint::Endpoint;
use crate::redact::DebugUrl;
use crate::refresh::Refresher;

/// The production APIv3 host.
pub const DEFAULT_BASE_URI: &str = "https://api.mch.weixin.qq.com/";

/// The WeChat Pay client: signs every request, verifies every response.
///
/// Cheap to clone (one `Arc`), `Send + Sync`; share one per merchant across threads and tasks.
/// Reach endpoints with [`chain`](Client::chain), by indexing (`client["v3/..."]`,
/// `client["v3"]["pay"]`) or with the [`chain!`](crate::chain!) macro; all give an
/// [`Endpoint`] with blocking (`get`, `post`, ...) and async (`get_async`, `post_async`, ...)
/// verbs.
///
/// ```no_run
/// use serde_json::json;
/// use wechatpay::Client;
///
/// # fn main() -> wechatpay::Result<()> {
/// let client = Client::builder()
///     .mchid("1900012181")
///     .serial("MERCHANT_CERTIFICATE_SERIAL")
///     .private_key_file("apiclient_key.pem")
///     .platform_key_file("PUB_KEY_ID_0114232134912410000000000000", "pub_key.pem")
///     .build()?;
///
/// let response = client["v3/global/merchant-service/complaints/{complaint_id}/response"].post(json!({
///     "base_uri": "https://apihk.mch.weixin.qq.com/",
///     "complaint_id": "200201820200101080076610000",
///     "json": { "complainted_mchid": "1900012181", "response_content": "已与用户沟通解决" },
/// }))?;
/// assert_eq!(response.status(), 204);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    ctx: Arc<Context>,
    /// The key ring's refresh policy, when the client downloads certificates by itself.
    refresher: Option<Arc<Refresher>>,
    /// `client["key"]` endpoints, created on first use and kept for the client's lifetime.
    children: Children<Endpoint>,
}

const _: () = {
    const fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
    assert_send_sync_clone::<Client>();
    assert_send_sync_clone::<Endpoint>();
};

impl Client {
    /// A client over `ctx` (from [`ClientBuilder::build`](builder::ClientBuilder::build)).
    fn assemble(ctx: Context, refresher: Option<Arc<Refresher>>) -> Client {
        Client {
            inner: Arc::new(ClientInner {
                ctx: Arc::new(ctx),
                refresher,
                children: Children::new(),
            }),
        }
    }

    /// The endpoint for `path`, a URI template relative to the base URI, normalised as one key
    /// (see [`normalize`](crate::normalize)). A new, owned [`Endpoint`] each call; indexing
    /// (`client[path]`) gives a cached one instead. Either way the client keeps the parsed
    /// template of up to 256 distinct paths that have placeholders, so calling `chain` for
    /// every request parses its template once; a path with no placeholder (values written in at
    /// run time) is parsed each time and not kept, and past 256 templates are parsed each time.
    ///
    /// ```
    /// # let key = openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap();
    /// # let client = wechatpay::Client::builder().mchid("1900000000").serial("0A").private_key(key)
    /// #     .verifier(wechatpay::verifier::PlatformVerifier::new()).build().unwrap();
    /// let endpoint = client.chain("v3/global/merchant-service/complaints/{complaint_id}/response");
    /// assert_eq!(endpoint.template(), "v3/global/merchant-service/complaints/{complaint_id}/response");
    /// ```
    pub fn chain(&self, path: &str) -> Endpoint {
        Endpoint::root(self.inner.ctx.clone(), path)
    }

    /// The merchant id.
    pub fn mchid(&self) -> &str {
        &self.inner.ctx.mchid
    }

    /// What the client's requests run on.
    fn context(&self) -> &Arc<Context> {
        &self.inner.ctx
    }
}

impl Index<&str> for Client {
    type Output = Endpoint;

    /// The cached endpoint for `key`, normalised as one key (see [`normalize`](crate::normalize)).
    ///
    /// The cache keeps every distinct key for the client's lifetime, as wechatpay-php's does:
    /// index with fixed path text only and put values (order numbers, ids) in placeholders;
    /// for a path built at run time, use [`Client::chain`], which caches no endpoint.
    fn index(&self, key: &str) -> &Endpoint {
        self.inner.children.get_or_add(key, || self.chain(key))
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ctx = self.context();
        f.debug_struct("Client")
            .field("mchid", &ctx.mchid)
            .field("serial", &ctx.v3.as_ref().map(|v3| &v3.serial))
            .field("apiv2", &ctx.v2.is_some())
            .field("base_uri", &DebugUrl(ctx.base.as_str()))
            .finish_non_exhaustive()
    }
}

/// A client with a throwaway key that sends nothing useful, for the unit tests that only build
/// requests.
#[cfg(test)]
pub(crate) fn test_client() -> Client {
    let key = openssl::rsa::Rsa::generate(2048)
        .and_then(|k| k.private_key_to_pem())
        .expect("openssl can generate a key");
    Client::builder()
        .mchid("1900000000")
        .serial("0000000000000000000000000000000000000000")
        .private_key(key)
        .verifier(crate::verifier::PlatformVerifier::new())
        .base_uri("http://127.0.0.1:9/")
        .allow_insecure_http(true)
        .build()
        .expect("the test client builds")
}
