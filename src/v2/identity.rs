//! The merchant certificate and key that APIv2 `security: true` requests present (mutual TLS).

use std::sync::Once;

use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use crate::crypto::load::{Form, resolve};
use crate::crypto::{Certificate, PrivateKey};
use crate::error::{Error, Result};

/// A checked certificate chain (leaf first) and the private key of its leaf. `cert` is a PEM
/// chain (or one PEM certificate), or one certificate in any other form
/// [`Certificate::load`] takes (DER, `file://`).
pub(crate) fn from_cert(cert: &[u8], key: &PrivateKey) -> Result<native_tls::Identity> {
    let named = |reason: String| Error::config(format!("merchant_cert: {reason}"));
    let chain = match resolve(cert).map_err(named)? {
        Form::Pem(pem) => X509::stack_from_pem(&pem)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                named(format!(
                    "expected a PEM `CERTIFICATE` (apiclient_cert.pem), {}",
                    crate::crypto::rsa::found(&pem)
                ))
            })?,
        Form::Der(der) => vec![Certificate::parse_der(&der).map_err(named)?.x509().clone()],
        // Not a certificate: the certificate parser says what was found.
        Form::Prefixed(..) | Form::Other(_) => {
            return Err(named(Certificate::parse(cert).err().unwrap_or_else(|| {
                "the input changed while it was read".to_owned()
            })));
        }
    };
    identity(&chain, key.as_openssl())
}

/// The certificate, its key and any chain from a PKCS#12 file (apiclient_cert.p12, whose
/// passphrase WeChat Pay sets to the merchant id).
pub(crate) fn from_pkcs12(der: &[u8], passphrase: &str) -> Result<native_tls::Identity> {
    if passphrase.contains('\0') {
        return Err(Error::config(
            "merchant_pkcs12: the passphrase contains a NUL byte",
        ));
    }
    let pkcs12 = Pkcs12::from_der(der).map_err(|_| {
        Error::config(format!(
            "merchant_pkcs12: expected DER PKCS#12 (apiclient_cert.p12), found {} bytes that \
             do not parse as one",
            der.len()
        ))
    })?;
    let parsed = match pkcs12.parse2(passphrase) {
        Ok(parsed) => parsed,
        Err(_) => {
            // WeChat Pay's .p12 files use RC2/3DES, which OpenSSL 3 keeps in its legacy provider.
            load_legacy_provider();
            pkcs12.parse2(passphrase).map_err(|_| {
                Error::config(
                    "merchant_pkcs12: cannot be opened: wrong passphrase (WeChat Pay sets it to \
                     the merchant id), or an encryption this OpenSSL does not offer",
                )
            })?
        }
    };
    let (Some(cert), Some(key)) = (parsed.cert, parsed.pkey) else {
        return Err(Error::config(
            "merchant_pkcs12: the file must hold a certificate and its private key",
        ));
    };
    let mut chain = vec![cert];
    chain.extend(parsed.ca.into_iter().flatten());
    identity(&chain, &key)
}

fn identity(chain: &[X509], key: &PKey<Private>) -> Result<native_tls::Identity> {
    let leaf_key = chain[0]
        .public_key()
        .map_err(|_| Error::config("merchant_cert: the certificate's public key is unusable"))?;
    if !leaf_key.public_eq(key) {
        return Err(Error::config(
            "merchant_cert and merchant_key do not belong together: the certificate's public \
             key is not the key's",
        ));
    }
    let internal = |what: &str| Error::config(format!("merchant certificate: cannot {what}"));
    let mut pem = Vec::new();
    for cert in chain {
        pem.extend(
            cert.to_pem()
                .map_err(|_| internal("encode the certificate"))?,
        );
    }
    let key_pem = zeroize::Zeroizing::new(
        key.private_key_to_pem_pkcs8()
            .map_err(|_| internal("encode the key"))?,
    );
    native_tls::Identity::from_pkcs8(&pem, &key_pem)
        .map_err(|e| Error::config(format!("merchant certificate: not usable for TLS: {e}")))
}

fn load_legacy_provider() {
    static LEGACY: Once = Once::new();
    LEGACY.call_once(|| {
        if let Ok(provider) = openssl::provider::Provider::try_load(None, "legacy", true) {
            // Loaded for the life of the process, like the default provider.
            std::mem::forget(provider);
        }
    });
}
