//! The HTTP verbs of an [`Endpoint`]: blocking and async forms over one pipeline.

use std::future::Future;

use http::Method;

use crate::endpoint::Endpoint;
use crate::error::Result;
use crate::options::Options;
use crate::pipeline::{self, PreparedRequest};
use crate::response::Response;
use crate::transport;

macro_rules! verbs {
    ($( $method:ident: $blocking:ident, $nonblocking:ident; )*) => {$(
        #[doc = concat!("`", stringify!($method), "` this endpoint and wait for the verified response.")]
        ///
        /// Blocking, like wechatpay-php's synchronous verbs: call it from ordinary (non-async)
        /// code, a plain thread or a `tokio::task::spawn_blocking` closure. Called from async
        /// code running on a Tokio runtime it returns a [`Config`](crate::ErrorKind::Config)
        /// error instead of blocking the executor; use the `_async` form there. (Tokio hides
        /// one case: inside `tokio::task::unconstrained` on a current-thread runtime, where
        /// Tokio itself panics.)
        pub fn $blocking(&self, options: impl Into<Options>) -> Result<Response> {
            self.request(Method::$method, options)
        }

        #[doc = concat!("`", stringify!($method), "` this endpoint; the future resolves to the verified response.")]
        ///
        /// The future is `Send + 'static` (it can be spawned) and runs on a Tokio runtime (polled
        /// elsewhere, it resolves to a [`Config`](crate::ErrorKind::Config) error). Options are
        /// read and the template is expanded before this returns; nothing is sent until the
        /// future is polled.
        pub fn $nonblocking(
            &self,
            options: impl Into<Options>,
        ) -> impl Future<Output = Result<Response>> + Send + 'static {
            self.request_async(Method::$method, options)
        }
    )*};
}

/// An async request, prepared at once or after the key ring's first download. (One per call,
/// moved into its future: boxing a variant would cost an allocation per request.)
#[allow(clippy::large_enum_variant)]
enum Pending {
    Ready(Result<PreparedRequest>),
    Later(Endpoint, Method, Options),
}

impl Endpoint {
    verbs! {
        GET: get, get_async;
        POST: post, post_async;
        PUT: put, put_async;
        PATCH: patch, patch_async;
        DELETE: delete, delete_async;
    }

    /// Any method, blocking. See [`post`](Endpoint::post).
    pub fn request(&self, method: Method, options: impl Into<Options>) -> Result<Response> {
        let options = options.into();
        let shared = self.shared();
        if crate::keyring::needs_keys_first(shared, &options) {
            // The key to encrypt with (or to name in `Wechatpay-Serial`) is downloaded first.
            let verb = method.as_str().to_ascii_lowercase();
            shared.transport.block_on(&verb, |http| {
                crate::keyring::before_request(shared, &http.plain)
            })?;
        }
        let prepared = self.prepare(method, options)?;
        let verb = prepared.method.as_str().to_ascii_lowercase();
        shared
            .transport
            .block_on(&verb, |http| pipeline::execute(shared, http, prepared))
    }

    /// Any method, async. See [`post_async`](Endpoint::post_async).
    pub fn request_async(
        &self,
        method: Method,
        options: impl Into<Options>,
    ) -> impl Future<Output = Result<Response>> + Send + 'static {
        let options = options.into();
        let shared = self.shared().clone();
        // Usually prepared now; when the key to encrypt with is not downloaded yet, after it is.
        let pending = if crate::keyring::needs_keys_first(&shared, &options) {
            Pending::Later(self.clone(), method, options)
        } else {
            Pending::Ready(self.prepare(method, options))
        };
        async move {
            let prepared = match pending {
                Pending::Ready(prepared) => prepared?,
                Pending::Later(endpoint, method, options) => {
                    transport::require_runtime(&method.as_str().to_ascii_lowercase())?;
                    crate::keyring::ensure_background(&shared);
                    crate::keyring::before_request(&shared, &shared.transport.async_http().plain)
                        .await?;
                    endpoint.prepare(method, options)?
                }
            };
            transport::require_runtime(&prepared.method.as_str().to_ascii_lowercase())?;
            crate::keyring::ensure_background(&shared);
            pipeline::execute(&shared, shared.transport.async_http(), prepared).await
        }
    }

    /// Builds the request a call would send (URL, headers, body), without signing or sending
    /// it. The same checks apply as for a real call. See [`PreparedRequest`].
    pub fn prepare(&self, method: Method, options: impl Into<Options>) -> Result<PreparedRequest> {
        pipeline::prepare(self.shared(), self.parsed()?, method, options.into())
    }
}
