//! Typed requests ([`crate::api`]): the operation's template and method from its model, the
//! options from its fields, then the same endpoint call as the dynamic chain, and the answer
//! decoded from the verified response.

use std::future::Future;

use super::Client;
use crate::api::{Answer, Host, Request};
use crate::error::Result;
use crate::options::Options;
use crate::prepared::PreparedRequest;

/// The production host of the overseas APIs and the Hong Kong wallet.
const HK_BASE_URI: &str = "https://apihk.mch.weixin.qq.com/";
/// The production APIv3 host's name, which a client on the default base URI has.
const API_HOST: &str = "api.mch.weixin.qq.com";

impl Client {
    /// Sends a typed request and waits for its verified, decoded answer.
    ///
    /// The same call as `client.chain(template).request(method, request.into_options())`
    /// (the template taken as WeChat Pay spells it: the three APIv2 paths with a capital,
    /// `v2/secapi/mch/addInstitutionsub` and its kin, keep it): the same bytes signed and
    /// sent, the same verification, failover, retries and key ring. An
    /// operation of the overseas or Hong Kong host ([`Host::Global`], [`Host::Hk`]) goes to
    /// `apihk.mch.weixin.qq.com` when the client is on the production host
    /// `api.mch.weixin.qq.com`, and to the client's own base URI otherwise (a sandbox, a
    /// proxy, a client built for the Hong Kong host). An answer that does not fit its model is
    /// a [`Decode`](crate::ErrorKind::Decode) error naming the JSON path, which keeps the
    /// verified [`Response`](crate::Response) ([`Error::response`](crate::Error::response)).
    ///
    /// Blocking; from async code use [`send_async`](Client::send_async).
    ///
    /// ```no_run
    /// # #[cfg(feature = "api-pay")]
    /// # fn run(client: wechatpay::Client) -> wechatpay::Result<()> {
    /// use wechatpay::api::v3::pay::transactions::id::by_transaction_id as query;
    ///
    /// let order = client.send(query::Request {
    ///     transaction_id: "1217752501201407033233368018".into(),
    ///     mchid: "1230000109".into(),
    /// })?;
    /// println!("{:?}", order.trade_state);
    /// # Ok(()) }
    /// ```
    pub fn send<R: Request>(&self, request: R) -> Result<R::Answer> {
        let response = self
            .exact(R::SPEC.template)
            .request(R::SPEC.method, self.typed_options(request))?;
        R::Answer::decode(response)
    }

    /// Sends a typed request; the future resolves to its verified, decoded answer. See
    /// [`send`](Client::send); the future is `Send + 'static`, as
    /// [`Endpoint::post_async`](crate::Endpoint::post_async)'s.
    pub fn send_async<R: Request>(
        &self,
        request: R,
    ) -> impl Future<Output = Result<R::Answer>> + Send + 'static {
        let response = self
            .exact(R::SPEC.template)
            .request_async(R::SPEC.method, self.typed_options(request));
        async move { R::Answer::decode(response.await?) }
    }

    /// The request [`send`](Client::send) would send (URL, headers, body), built without
    /// signing or sending it, as [`Endpoint::prepare`](crate::Endpoint::prepare) does.
    pub fn prepare_typed<R: Request>(&self, request: R) -> Result<PreparedRequest> {
        self.exact(R::SPEC.template)
            .prepare(R::SPEC.method, self.typed_options(request))
    }

    /// The operation's endpoint, its template as WeChat Pay spells it (a capital kept: the
    /// dynamic chain's [`normalize`](crate::normalize) would turn `addInstitutionsub` into
    /// `add-institutionsub`).
    fn exact(&self, template: &str) -> crate::Endpoint {
        crate::Endpoint::exact(self.context().clone(), template)
    }

    /// The request's options, sent to the Hong Kong host when the operation lives there and
    /// the client is on the production host.
    fn typed_options<R: Request>(&self, request: R) -> Options {
        let options = request.into_options();
        let on_hk = matches!(R::SPEC.host, Host::Global | Host::Hk);
        if on_hk && options.base_uri.is_none() && self.on_production_host() {
            options.base_uri(HK_BASE_URI)
        } else {
            options
        }
    }

    fn on_production_host(&self) -> bool {
        self.context().base.url().host_str() == Some(API_HOST)
    }
}
