//! Adds the APIv3 `Authorization` header.

use http::HeaderValue;
use http::header::AUTHORIZATION;

use super::PreparedRequest;
use crate::client::Shared;
use crate::crypto::{base64_encode, nonce};
use crate::error::{Error, Result};
use crate::signature::Authorization;
use crate::verifier::unix_now;

/// Signs `METHOD\nTARGET\nTIMESTAMP\nNONCE\nBODY\n` over the exact target and body that will be
/// sent, and sets `Authorization`.
pub(crate) async fn authorize(shared: &Shared, prepared: &mut PreparedRequest) -> Result<()> {
    let timestamp = unix_now();
    let nonce = nonce()?;
    let message = prepared.signing_message(timestamp, &nonce);
    let signature = base64_encode(&shared.signer.sign(&message).await?);
    let value = Authorization {
        mchid: &shared.mchid,
        serial_no: &shared.serial,
        timestamp,
        nonce_str: &nonce,
        signature: &signature,
    }
    .to_string();
    let mut value = HeaderValue::try_from(value)
        .map_err(|_| Error::crypto("the signer returned bytes that do not fit in a header"))?;
    // Kept out of `Debug` output of the header map (http prints "Sensitive").
    value.set_sensitive(true);
    prepared.headers.insert(AUTHORIZATION, value);
    Ok(())
}
