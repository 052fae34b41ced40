//! The sandbox's error type.

use std::path::PathBuf;

/// What can go wrong while starting or driving a [`Sandbox`](crate::Sandbox).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// OpenSSL failed (key generation, signing, encryption).
    #[error("openssl: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
    /// A socket or file operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A file of the keys directory is missing, unreadable or inconsistent.
    #[error("keys directory {path}: {reason}")]
    KeysDir {
        /// The file or directory concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The `wechatpay` client could not be built from the sandbox identity
    /// ([`Sandbox::client`](crate::Sandbox::client) panics with it).
    #[error("building the wechatpay client: {0}")]
    Client(#[from] wechatpay::Error),
    /// A notification could not be delivered (bad URL, connection refused, timeout).
    #[error("notify: {0}")]
    Notify(String),
    /// The sandbox's background thread or runtime is gone or could not be started.
    #[error("sandbox runtime: {0}")]
    Runtime(String),
    /// The sandbox could not listen on its address (the port is taken, say).
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address asked for.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// A method was given an argument it cannot use (a serial the sandbox never issued, a
    /// validity that ends before it begins).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A blocking method was called on a thread that drives a Tokio runtime.
    #[error("{0} blocks: on a Tokio runtime thread use its `_async` form")]
    BlockingInRuntime(&'static str),
}

/// `Result` with the sandbox [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
