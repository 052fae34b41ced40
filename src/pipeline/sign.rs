//! Adds the APIv3 `Authorization` header.

use http::header::AUTHORIZATION;

use super::PreparedRequest;
use crate::client::{Shared, V3};
use crate::crypto::nonce;
use crate::error::Result;
use crate::signature::authorization_header;
use crate::verifier::unix_now;

/// Signs `METHOD\nTARGET\nTIMESTAMP\nNONCE\nBODY\n` over the exact target and body that will
/// be sent, and sets `Authorization`.
pub(crate) async fn authorize(
    shared: &Shared,
    v3: &V3,
    prepared: &mut PreparedRequest,
) -> Result<()> {
    let timestamp = unix_now();
    let nonce = nonce()?;
    let message = prepared.signing_message(timestamp, &nonce);
    let signature = v3.signer.sign(&message).await?;
    let value = authorization_header(&shared.mchid, &v3.serial, timestamp, &nonce, &signature)?;
    prepared.headers.insert(AUTHORIZATION, value);
    Ok(())
}
