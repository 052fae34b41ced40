//! The HTTP verbs of an [`Endpoint`]: blocking and async forms over the one orchestrator.

use std::future::Future;

use http::Method;

use crate::endpoint::Endpoint;
#[cfg(feature = "catalogue")]
use crate::error::Error;
use crate::error::Result;
use crate::options::Options;
use crate::pipeline::{self, Policy, Request, Whole};
use crate::prepared::PreparedRequest;
use crate::response::Response;

macro_rules! verbs {
    ($( $method:ident: $blocking:ident, $nonblocking:ident; )*) => {$(
        #[doc = concat!("`", stringify!($method), "` this endpoint and wait for the verified response.")]
        ///
        /// Blocking, like wechatpay-php's synchronous verbs: call it from ordinary (non-async)
        /// code, a plain thread or a `tokio::task::spawn_blocking` closure. Called from async
        /// code running on a Tokio runtime it returns a [`Config`](crate::ErrorKind::Config)
        /// error instead of blocking the executor; use the `_async` form there. (Inside
        /// `tokio::task::unconstrained` the call is not recognised as async code: it completes,
        /// and stalls its executor meanwhile.) The call waits on its own thread while the
        /// client's runtime thread (started by its first blocking call) drives the connection.
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
        let verb = method.as_str().to_ascii_lowercase();
        let request = self.request_for(method, options.into())?;
        let ctx = self.context();
        ctx.transport.block_on(&verb, |lane| {
            pipeline::execute::<Whole>(ctx, lane, request, Policy::call(ctx), self.template())
        })
    }

    /// Any method, async. See [`post_async`](Endpoint::post_async).
    pub fn request_async<O: Into<Options>>(
        &self,
        method: Method,
        options: O,
    ) -> impl Future<Output = Result<Response>> + Send + 'static + use<O> {
        let verb = method.as_str().to_ascii_lowercase();
        let request = self.request_for(method, options.into());
        let ctx = self.context().clone();
        let template = self.shared_template();
        async move {
            let request = request?;
            let http = ctx.transport.async_clients(&verb)?;
            pipeline::execute::<Whole>(&ctx, http.lane(), request, Policy::call(&ctx), &template)
                .await
        }
    }

    /// The request a call sends: prepared now (the template expanded, the options checked),
    /// or, when it needs a platform key that the key ring has not downloaded yet, once the
    /// ring's keys are ready.
    fn request_for(&self, method: Method, options: Options) -> Result<Request> {
        if !self.context().needs_keys_to_prepare(&options) {
            return self.prepare(method, options).map(Request::Ready);
        }
        let endpoint = self.clone();
        Ok(Request::AfterKeys(
            method.clone(),
            Box::new(move |_| endpoint.prepare(method, options)),
        ))
    }

    /// Builds the request a call would send (URL, headers, body), without signing or sending
    /// it. The same checks apply as for a real call. See [`PreparedRequest`].
    pub fn prepare(&self, method: Method, options: impl Into<Options>) -> Result<PreparedRequest> {
        #[cfg(feature = "catalogue")]
        if self.context().strict_paths {
            crate::catalogue::known(&method, self.template()).map_err(Error::from_template)?;
        }
        pipeline::prepare(self.context(), self.parsed()?, method, options.into())
    }
}
