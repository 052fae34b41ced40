//! The mutual-TLS port's OpenSSL configuration: the server certificate for 127.0.0.1 issued
//! by the sandbox CA, and a required client certificate issued by the same CA.

use openssl::ssl::{SslAcceptor, SslMethod, SslVerifyMode};

use crate::error::Result;
use crate::identity::KeyMaterial;

/// An acceptor that requires a client certificate from the sandbox CA.
pub(crate) fn acceptor(keys: &KeyMaterial) -> Result<SslAcceptor> {
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    builder.set_private_key(&keys.server_key)?;
    builder.set_certificate(&keys.server_cert)?;
    builder.add_extra_chain_cert(keys.ca_cert.clone())?;
    builder.check_private_key()?;
    builder.cert_store_mut().add_cert(keys.ca_cert.clone())?;
    // The CA the client should pick its certificate for.
    builder.add_client_ca(&keys.ca_cert)?;
    builder.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    Ok(builder.build())
}
