//! The key ring of a client, its refresh, and the parser of the callbacks it verifies.

use std::sync::Arc;

use super::Client;
use crate::error::{Error, Result};
use crate::keyring::KeyRing;
use crate::notify::{NotificationParser, NotificationReceiver};
use crate::refresh::{CallbackVerifier, Refresher, Trigger};
use crate::verifier::Verifier;

impl Client {
    /// The client's key ring (its platform keys, configured and downloaded); `None` for a
    /// client with a custom verifier or without APIv3.
    pub fn key_ring(&self) -> Option<&KeyRing> {
        let v3 = self.context().v3.as_ref()?;
        (!v3.custom_verifier).then_some(&v3.ring)
    }

    /// Downloads the platform certificates now (blocking), as the periodic refresh does; a
    /// refresh in progress is waited for instead of repeated. A `Config` error when the client
    /// was not built with [`auto_certificates`](crate::ClientBuilder::auto_certificates).
    pub fn refresh_certificates(&self) -> Result<()> {
        let refresher = self.refresher()?;
        let ctx = self.context();
        ctx.transport.block_on("refresh_certificates", |lane| {
            refresher.refresh(ctx, lane, Trigger::Periodic)
        })
    }

    /// [`refresh_certificates`](Self::refresh_certificates) for async code.
    pub async fn refresh_certificates_async(&self) -> Result<()> {
        let refresher = self.refresher()?;
        let ctx = self.context();
        let http = ctx.transport.async_clients("refresh_certificates")?;
        refresher.refresh(ctx, http.lane(), Trigger::Periodic).await
    }

    fn refresher(&self) -> Result<&Arc<Refresher>> {
        self.inner.refresher.as_ref().ok_or_else(|| {
            Error::config(
                "refresh_certificates needs a client built with .auto_certificates(apiv3_key)",
            )
        })
    }

    /// A parser for WeChat Pay callbacks, with the client's verifier (its platform keys) and
    /// APIv3 key; a `Config` error when no APIv3 key was configured.
    ///
    /// ```no_run
    /// # fn handle(client: &wechatpay::Client, headers: &http::HeaderMap, body: &[u8]) -> wechatpay::Result<()> {
    /// let notification = client.notifications()?.parse(headers, body)?;
    /// #[derive(serde::Deserialize)]
    /// struct Transaction { out_trade_no: String, trade_state: String }
    /// let paid: Transaction = notification.json()?;
    /// # let _ = paid; Ok(()) }
    /// ```
    pub fn notifications(&self) -> Result<NotificationParser> {
        let ctx = self.context();
        let key = ctx.apiv3_key.clone().ok_or_else(|| {
            Error::config("callbacks need the APIv3 key: set it with .apiv3_key(..) on the builder")
        })?;
        let v3 = ctx.v3()?;
        let verifier: Arc<dyn Verifier> = match (&self.inner.refresher, v3.custom_verifier) {
            (_, true) => v3.verifier.clone(),
            // An unknown serial in a callback starts a refresh, so that the retry verifies.
            (Some(refresher), false) => Arc::new(CallbackVerifier::new(refresher, ctx)),
            (None, false) => Arc::new(v3.ring.clone()),
        };
        Ok(NotificationParser::from_key(key, verifier))
    }

    /// A [`NotificationReceiver`] over [`notifications`](Self::notifications): the callback
    /// endpoint's state for the `axum` and `actix-web` extractors (and
    /// [`NotificationReceiver::receive`]), with a duplicate filter of its own. A `Config`
    /// error when no APIv3 key was configured. Build one per endpoint and share it (each call
    /// makes a new duplicate filter).
    ///
    /// ```no_run
    /// # fn f(client: &wechatpay::Client) -> wechatpay::Result<()> {
    /// let receiver = client
    ///     .notification_receiver()?
    ///     .with_duplicate_filter(wechatpay::notify::DuplicateFilter::new(100_000));
    /// # let _ = receiver; Ok(()) }
    /// ```
    pub fn notification_receiver(&self) -> Result<NotificationReceiver> {
        Ok(NotificationReceiver::new(self.notifications()?))
    }
}
