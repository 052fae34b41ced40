//! The two hooks through which requests meet the refresh policy.

use std::sync::Arc;

use super::state::{Refresher, Trigger};
use crate::context::{Context, HookFuture, KeyHooks};
use crate::error::Result;
use crate::transport::Lane;

impl KeyHooks for Refresher {
    fn keys_ready<'a>(
        &'a self,
        ctx: &'a Arc<Context>,
        lane: Lane<'a>,
    ) -> Option<HookFuture<'a, Result<()>>> {
        if !lane.is_blocking() {
            // Async use: the periodic refresh runs in the background on the caller's runtime.
            self.ensure_background(ctx);
        }
        let usable = self.ring.has_usable_key();
        let (pending, stale) = {
            let state = self.state();
            (
                state.pending.is_some(),
                !state.background && !state.fresh(self.interval),
            )
        };
        if usable && !pending && !stale {
            return None;
        }
        Some(Box::pin(self.before_request(ctx, lane)))
    }

    fn unknown_serial<'a>(
        &'a self,
        ctx: &'a Arc<Context>,
        lane: Lane<'a>,
        serial: &'a str,
    ) -> HookFuture<'a, bool> {
        Box::pin(async move {
            if !self.on_unknown_serial {
                return false;
            }
            let trigger = Trigger::UnknownSerial(serial.to_owned());
            // Whatever the refresh did, the answer is checked once more.
            let _ = self.refresh(ctx, lane, trigger).await;
            true
        })
    }
}

impl Refresher {
    /// Before a request: the first download (waited for) when the ring has no usable key; a
    /// refresh for the serial a callback named while no runtime was at hand; for clients
    /// without the background task (blocking), a refresh when the last one is older than the
    /// interval.
    async fn before_request(&self, ctx: &Arc<Context>, lane: Lane<'_>) -> Result<()> {
        if !self.ring.has_usable_key() {
            self.ring.expired_anchor()?;
            return self.refresh(ctx, lane, Trigger::Initial).await;
        }
        let pending = self.state().pending.take();
        if let Some(serial) = pending {
            let _ = self
                .refresh(ctx, lane, Trigger::CallbackSerial(serial))
                .await;
        }
        let stale = {
            let state = self.state();
            !state.background && !state.fresh(self.interval)
        };
        if stale {
            // Lazily, and never an error for this request: it still has keys to verify with.
            let _ = self.refresh(ctx, lane, Trigger::Stale).await;
        }
        Ok(())
    }
}
