//! The request pipeline: prepare -> sign -> send -> verify.
//!
//! Everything here but [`transport::send`](crate::transport::send) is pure: no I/O, no clock
//! except the signing timestamp and the verification window. One async function runs it; the
//! blocking verbs drive that same function (see [`transport`](crate::transport)).

mod prepare;
mod sign;
mod verify;

use bytes::Bytes;
use http::{HeaderMap, Method};
use url::Url;

use crate::client::Shared;
use crate::error::Result;
use crate::response::Response;

pub(crate) use prepare::prepare;

/// A request ready to be signed and sent.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) method: Method,
    /// The full URL; its path and query are exactly the signed request target.
    pub(crate) url: Url,
    /// The API path (`/v3/...`, no base prefix, no query) that selects the verification rule.
    pub(crate) api_path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) timeout: Option<std::time::Duration>,
}

/// Signs, sends and verifies.
pub(crate) async fn execute(
    shared: &Shared,
    http: &reqwest::Client,
    mut prepared: Prepared,
) -> Result<Response> {
    sign::authorize(shared, &mut prepared).await?;
    let api_path = std::mem::take(&mut prepared.api_path);
    let response = crate::transport::send(http, prepared).await?;
    verify::finish(shared.verifier.as_ref(), &api_path, response)
}
