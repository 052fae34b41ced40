//! The periodic refresh of async clients: a task on the caller's runtime.

use std::sync::{Arc, Weak};

use super::state::{Refresher, Trigger};
use crate::context::Context;

impl Refresher {
    /// Starts the periodic refresh on the caller's Tokio runtime, once per client: a first
    /// refresh at once, then one every interval, for as long as the client lives.
    pub(super) fn ensure_background(&self, ctx: &Arc<Context>) {
        {
            let mut state = self.state();
            if state.background {
                return;
            }
            state.background = true;
        }
        let interval = self.interval;
        let client = Arc::downgrade(ctx);
        let refresher = self.this.clone();
        let stop = self.stop.clone();
        tokio::spawn(async move {
            // However the task ends (the client dropped, the runtime shut down), blocking use
            // takes over the refreshes.
            struct Running(Weak<Refresher>);
            impl Drop for Running {
                fn drop(&mut self) {
                    if let Some(refresher) = self.0.upgrade() {
                        refresher.state().background = false;
                    }
                }
            }
            let _running = Running(refresher.clone());
            loop {
                {
                    let (Some(ctx), Some(refresher)) = (client.upgrade(), refresher.upgrade())
                    else {
                        return;
                    };
                    if let Ok(http) = ctx.transport.async_clients("refresh_certificates") {
                        let _ = refresher
                            .refresh(&ctx, http.lane(), Trigger::Background)
                            .await;
                    }
                }
                // Woken early when the client is dropped.
                if tokio::time::timeout(interval, stop.notified())
                    .await
                    .is_ok()
                {
                    return;
                }
            }
        });
    }
}
