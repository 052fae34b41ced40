//! Adds the APIv3 `Authorization` header.

use http::header::AUTHORIZATION;

use crate::clock::unix_now;
use crate::context::{Context, V3};
use crate::crypto::nonce;
use crate::error::Result;
use crate::prepared::PreparedRequest;
use crate::signature::authorization_header;

/// Signs `METHOD\nTARGET\nTIMESTAMP\nNONCE\nBODY\n` over the exact target and body that will
/// be sent, and sets `Authorization`.
pub(crate) async fn authorize(
    ctx: &Context,
    v3: &V3,
    prepared: &mut PreparedRequest,
) -> Result<()> {
    let timestamp = unix_now();
    let nonce = nonce()?;
    let message = prepared.signing_message(timestamp, &nonce);
    let signature = v3.signer.sign(&message).await?;
    let value = authorization_header(&ctx.mchid, &v3.serial, timestamp, &nonce, &signature)?;
    prepared.headers.insert(AUTHORIZATION, value);
    Ok(())
}
