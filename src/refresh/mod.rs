//! The key ring's refresh policy: when `/v3/certificates` is downloaded into the ring, how a
//! download is trusted, and what is kept. It sits above the request pipeline (its downloads
//! are requests like any other, run by the one orchestrator) and meets the request path only
//! through the two hooks of [`KeyHooks`](crate::context::KeyHooks): "keys ready" before a
//! request, "unknown serial" after a check. The ring itself ([`KeyRing`](crate::keyring::KeyRing))
//! only holds keys and verifies.
//!
//! - [`state`]: the [`Refresher`] (the ring it fills, the APIv3 key, the interval, the store,
//!   the state of the attempts).
//! - [`run`]: whether a refresh runs now (rate limits, one at a time, sharing an outcome).
//! - [`download`]: one download, checked and merged.
//! - [`hooks`]: the two hooks; [`background`]: the periodic task of async clients;
//!   [`callback`]: the callbacks' verifier, which refreshes for an unknown serial.

mod background;
mod callback;
mod download;
mod hooks;
mod run;
mod state;

pub(crate) use callback::CallbackVerifier;
pub(crate) use state::{Refresher, Trigger};
