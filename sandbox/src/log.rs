//! The record of every request the sandbox received.

use http::HeaderMap;

/// One request as the sandbox received it, with its verdict.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LoggedRequest {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The raw request target (path and query) exactly as received.
    pub target: String,
    /// The request headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Vec<u8>,
    /// The sandbox's own check of the request: the APIv3 `Authorization` signature, or the
    /// APIv2 `sign`. `Err` says what was wrong (for a path that is neither APIv3 nor APIv2:
    /// `no such API: METHOD PATH`).
    pub verdict: Result<(), String>,
    /// Whether it came over the mutual-TLS port.
    pub tls: bool,
}

impl LoggedRequest {
    /// The path part of the target (before any `?`).
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The raw query (after the first `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// A header's value, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}
