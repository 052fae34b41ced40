//! The verifier of a client's callbacks: the ring, plus a refresh (rate-limited, in the
//! background) when a callback names a serial the ring does not know, so that WeChat Pay's
//! retry of the callback verifies.

use std::sync::{Arc, Weak};

use http::HeaderMap;

use super::state::{Refresher, Trigger};
use crate::context::Context;
use crate::error::VerificationFailure;
use crate::keyring::KeyRing;
use crate::redact::Escaped;
use crate::verifier::Verifier;

/// See the module documentation.
pub(crate) struct CallbackVerifier {
    ring: KeyRing,
    refresher: Weak<Refresher>,
    client: Weak<Context>,
}

impl CallbackVerifier {
    /// The callbacks' verifier of the client of `ctx`, whose ring `refresher` keeps.
    pub(crate) fn new(refresher: &Arc<Refresher>, ctx: &Arc<Context>) -> CallbackVerifier {
        CallbackVerifier {
            ring: refresher.ring.clone(),
            refresher: Arc::downgrade(refresher),
            client: Arc::downgrade(ctx),
        }
    }
}

impl Verifier for CallbackVerifier {
    fn verify(&self, headers: &HeaderMap, payload: &[u8]) -> Result<(), VerificationFailure> {
        let outcome = self.ring.verify(headers, payload);
        if let Err(VerificationFailure::UnknownSerial(serial)) = &outcome {
            self.refresh_for(serial);
        }
        outcome
    }
}

impl CallbackVerifier {
    /// A refresh for a callback's unknown serial, in the background, when the client lives and
    /// a Tokio runtime is at hand; else the client's next request makes it.
    fn refresh_for(&self, serial: &str) {
        let Some(refresher) = self.refresher.upgrade() else {
            return;
        };
        let (Some(ctx), Ok(handle)) =
            (self.client.upgrade(), tokio::runtime::Handle::try_current())
        else {
            tracing::info!(
                serial = %Escaped(serial),
                "unknown serial in a callback: no runtime to refresh on; the next request will"
            );
            refresher.state().pending = Some(serial.to_owned());
            return;
        };
        let trigger = Trigger::CallbackSerial(serial.to_owned());
        handle.spawn(async move {
            if let Ok(http) = ctx.transport.async_clients("refresh_certificates") {
                let _ = refresher.refresh(&ctx, http.lane(), trigger).await;
            }
        });
    }
}
