//! The state the sandbox's server and its handle share.

use std::sync::{Arc, Mutex, MutexGuard};

use openssl::pkey::{PKey, Public};

use crate::error::Result;
use crate::faults::{Fault, SignMode};
use crate::identity::KeyMaterial;
use crate::log::LoggedRequest;
use crate::store::Store;

/// The global settings tests change while the sandbox runs.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Settings {
    pub(crate) fault: Option<Fault>,
    pub(crate) sign_mode: SignMode,
    /// `/v3/certificates` answers as for a merchant that only has a WeChat Pay public key.
    pub(crate) public_key_only: bool,
}

/// Shared by the server tasks and the [`Sandbox`](crate::Sandbox) handle.
pub(crate) struct State {
    pub(crate) keys: Arc<KeyMaterial>,
    /// The merchant certificate's public key: what requests are verified with.
    pub(crate) merchant_public: PKey<Public>,
    /// `http://127.0.0.1:PORT/`
    pub(crate) base_uri: String,
    settings: Mutex<Settings>,
    log: Mutex<Vec<LoggedRequest>>,
    store: Mutex<Store>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    pub(crate) fn new(keys: Arc<KeyMaterial>, base_uri: String) -> Result<State> {
        let merchant_public = keys.merchant_cert.public_key()?;
        Ok(State {
            keys,
            merchant_public,
            base_uri,
            settings: Mutex::new(Settings::default()),
            log: Mutex::new(Vec::new()),
            store: Mutex::new(Store::default()),
        })
    }

    pub(crate) fn settings(&self) -> Settings {
        *lock(&self.settings)
    }

    pub(crate) fn set_fault(&self, fault: Option<Fault>) {
        lock(&self.settings).fault = fault;
    }

    pub(crate) fn set_sign_mode(&self, mode: SignMode) {
        lock(&self.settings).sign_mode = mode;
    }

    pub(crate) fn set_public_key_only(&self, on: bool) {
        lock(&self.settings).public_key_only = on;
    }

    pub(crate) fn record(&self, request: LoggedRequest) {
        lock(&self.log).push(request);
    }

    pub(crate) fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.log).clone()
    }

    pub(crate) fn clear_requests(&self) {
        lock(&self.log).clear();
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }
}
