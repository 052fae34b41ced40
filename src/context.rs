//! [`Context`]: what every request of one client needs (its identity, keys, hosts, HTTP
//! clients, policies), and [`KeyHooks`], the two points where the key ring's refresh policy,
//! which sits above the request pipeline, meets a request.
//!
//! The façade builds a context; endpoints, the pipeline and the refresh policy read it. It
//! imports nothing above it: the refresh policy is reached only through the hooks, as
//! wechatpay-go's core reaches its certificate downloader only through a getter.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::HeaderValue;

use crate::base_uri::BaseUri;
use crate::crypto::{Apiv3Key, PrivateKey, PublicKey};
use crate::error::{Error, Result, VerificationFailure};
use crate::failover::Failover;
use crate::keyring::KeyRing;
use crate::options::Options;
use crate::replay::ReplayMemory;
use crate::retry::RetryPolicy;
use crate::signer::Signer;
use crate::template_cache::TemplateCache;
use crate::transport::{Lane, Transport};
use crate::v2::Secret;
use crate::verifier::Verifier;

/// What every request of one client needs. Endpoints and request futures hold an `Arc` of it
/// (not of the [`Client`](crate::Client), whose index cache holds endpoints: no reference
/// cycle).
pub(crate) struct Context {
    pub(crate) mchid: String,
    /// APIv3 signing and verification; `None` for a client configured for APIv2 only.
    pub(crate) v3: Option<V3>,
    /// The APIv2 secret; `None` for a client configured for APIv3 only.
    pub(crate) v2: Option<Secret>,
    pub(crate) base: BaseUri,
    /// Plain `http` is accepted for a per-request `base_uri` and a bill's `download_url`
    /// ([`ClientBuilder::allow_insecure_http`](crate::ClientBuilder::allow_insecure_http)).
    pub(crate) allow_insecure_http: bool,
    /// The APIv3 key, for callbacks.
    pub(crate) apiv3_key: Option<Apiv3Key>,
    pub(crate) user_agent: HeaderValue,
    pub(crate) transport: Transport,
    /// The backup host, when requests to the base URI fail over.
    pub(crate) failover: Option<Failover>,
    /// Retries of `GET`s, when enabled.
    pub(crate) retry: Option<RetryPolicy>,
    /// The parsed templates of this client's endpoints.
    pub(crate) templates: TemplateCache,
    /// Request spans record the concrete URL path, not only the template
    /// ([`ClientBuilder::trace_paths`](crate::ClientBuilder::trace_paths)).
    pub(crate) trace_paths: bool,
    /// Refuse a path the catalogue does not know (feature `catalogue`).
    #[cfg_attr(not(feature = "catalogue"), allow(dead_code))]
    pub(crate) strict_paths: bool,
}

/// What APIv3 requests need: the merchant's signing identity and the platform keys.
pub(crate) struct V3 {
    pub(crate) serial: String,
    pub(crate) signer: Arc<dyn Signer>,
    /// The merchant private key, when one was given (not with a custom signer): for pay
    /// parameters and decrypting response fields.
    pub(crate) private_key: Option<PrivateKey>,
    /// The ring, or a custom verifier.
    pub(crate) verifier: Arc<dyn Verifier>,
    /// The platform keys: configured, and downloaded when automatic.
    pub(crate) ring: KeyRing,
    /// The refresh policy of an automatic ring.
    pub(crate) hooks: Option<Arc<dyn KeyHooks>>,
    /// The verified answers seen in their time window, to refuse a replay.
    pub(crate) replay: Arc<dyn ReplayMemory>,
    /// Send `Wechatpay-Serial` (the preferred key id) on every request.
    pub(crate) send_wechatpay_serial: bool,
    /// `verifier` is a custom one, not the ring.
    pub(crate) custom_verifier: bool,
}

/// The future of a hook.
pub(crate) type HookFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The key ring's refresh policy, as the request pipeline sees it: two hooks.
pub(crate) trait KeyHooks: Send + Sync + 'static {
    /// Before an APIv3 request is prepared and sent: the work that must finish first (the
    /// first download, a lazy refresh), or `None` when there is none (the usual case, which
    /// costs no allocation).
    fn keys_ready<'a>(
        &'a self,
        ctx: &'a Arc<Context>,
        lane: Lane<'a>,
    ) -> Option<HookFuture<'a, Result<()>>>;

    /// After an answer's check named `serial`, which the ring does not have: refreshes
    /// (rate-limited), and says whether to check the answer once more.
    fn unknown_serial<'a>(
        &'a self,
        ctx: &'a Arc<Context>,
        lane: Lane<'a>,
        serial: &'a str,
    ) -> HookFuture<'a, bool>;
}

impl V3 {
    /// The key sensitive fields are encrypted with and `Wechatpay-Serial` names, now.
    pub(crate) fn preferred(&self) -> Option<PreferredKey> {
        let entry = self.ring.preferred_entry()?;
        Some(PreferredKey {
            id: HeaderValue::from_str(&entry.id).ok()?,
            key: entry.public_key().clone(),
        })
    }
}

/// The preferred platform key: its id (as `Wechatpay-Serial` sends it) and the key.
pub(crate) struct PreferredKey {
    pub(crate) id: HeaderValue,
    pub(crate) key: PublicKey,
}

impl Context {
    /// The APIv3 configuration, or a `Config` error saying this client has none.
    pub(crate) fn v3(&self) -> Result<&V3> {
        self.v3.as_ref().ok_or_else(|| {
            Error::config(
                "this client is configured for APIv2 only: APIv3 calls need .serial(..), a \
                 private key and a platform key on the builder",
            )
        })
    }

    /// The APIv2 secret, or a `Config` error saying this client has none.
    pub(crate) fn v2(&self) -> Result<&Secret> {
        self.v2.as_ref().ok_or_else(|| {
            Error::config(
                "this client is not configured for APIv2: `v2/...` calls need the APIv2 key, \
                 set with .secret(..) on the builder",
            )
        })
    }

    /// Whether a request with these options can be prepared only after the key ring's first
    /// download: it encrypts fields or names the preferred key, and an automatic ring has no
    /// usable key yet. (A question, not an action: the download is the `keys_ready` hook's.)
    pub(crate) fn needs_keys_to_prepare(&self, options: &Options) -> bool {
        self.v3.as_ref().is_some_and(|v3| {
            v3.hooks.is_some()
                && (!options.encrypt.is_empty() || v3.send_wechatpay_serial)
                && !v3.ring.has_usable_key()
        })
    }
}

/// Hook 1: the keys an APIv3 request needs are ready.
pub(crate) async fn keys_ready(ctx: &Arc<Context>, lane: Lane<'_>) -> Result<()> {
    let Some(hooks) = ctx.v3.as_ref().and_then(|v3| v3.hooks.as_ref()) else {
        return Ok(());
    };
    match hooks.keys_ready(ctx, lane) {
        Some(work) => work.await,
        None => Ok(()),
    }
}

/// Hook 2: after a failed check, whether to check once more (the check named a serial the
/// ring does not have, and the ring refreshed for it).
pub(crate) async fn refreshed_for(
    ctx: &Arc<Context>,
    lane: Lane<'_>,
    failure: Option<&VerificationFailure>,
) -> bool {
    let Some(VerificationFailure::UnknownSerial(serial)) = failure else {
        return false;
    };
    match ctx.v3.as_ref().and_then(|v3| v3.hooks.as_ref()) {
        Some(hooks) => hooks.unknown_serial(ctx, lane, serial).await,
        None => false,
    }
}
