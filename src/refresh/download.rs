//! One download of `/v3/certificates`: fetched through the orchestrator, trusted, decrypted and
//! merged into the ring (and the store).

use std::sync::Arc;

use serde::Deserialize;

use super::state::Refresher;
use crate::clock::unix_now;
use crate::context::Context;
use crate::crypto::Certificate;
use crate::error::{Error, Result, VerificationFailure};
use crate::keyring::same_serial;
use crate::options::Options;
use crate::pipeline::{Policy, Request, Whole, execute, first_sighting, prepare};
use crate::redact::Escaped;
use crate::template::UriTemplate;
use crate::transport::Lane;
use crate::verifier::{PlatformVerifier, Verifier};

/// The platform certificates' endpoint.
const CERTIFICATES: &str = "v3/certificates";

#[derive(Deserialize)]
struct Download {
    data: Vec<DownloadEntry>,
}

#[derive(Deserialize)]
struct DownloadEntry {
    serial_no: String,
    encrypt_certificate: Sealed,
}

#[derive(Deserialize)]
struct Sealed {
    algorithm: String,
    nonce: String,
    #[serde(default)]
    associated_data: String,
    ciphertext: String,
}

/// Downloads the platform certificates into the ring: with keys to trust, the list must verify
/// with them before anything in it is read; every entry must decrypt under the APIv3 key.
pub(super) async fn download(
    refresher: &Refresher,
    ctx: &Arc<Context>,
    lane: Lane<'_>,
) -> Result<()> {
    let ring = &refresher.ring;
    ring.expired_anchor()?;
    let template = UriTemplate::parse(CERTIFICATES).map_err(Error::from_template)?;
    // Names the key the ring trusts most: WeChat Pay signs an answer with the key the request's
    // `Wechatpay-Serial` names when a merchant has both kinds (the migration), so that a ring
    // anchored by a public key can verify the list that brings the certificates.
    let options = match ring.preferred() {
        Some(id) => Options::new().header(crate::verifier::SERIAL, &id),
        None => Options::new(),
    };
    let prepared = prepare(ctx, &template, http::Method::GET, options)?;
    // With the client's failover: a ring with no usable key can still fill itself from the
    // backup host while the primary is down.
    let answer = execute::<Whole>(
        ctx,
        lane,
        Request::Ready(prepared),
        Policy::certificates(ctx),
        CERTIFICATES,
    )
    .await;
    let response = match answer {
        Ok(response) => response,
        Err(error) => return public_key_mode(refresher, error),
    };

    // With keys to trust, the signature is checked before anything in the body is read.
    let anchored = ring.has_usable_key();
    let mut new_signer = None;
    if anchored {
        match ring.verify(response.headers(), response.bytes()) {
            Ok(()) => {}
            // Signed with a certificate the ring does not have: WeChat Pay switched to it while
            // this client was not looking (a restart from an old store, a blocking client idle
            // through the overlap). Without a configured key pinning the trust, the signer is
            // taken from the download itself below, once every entry has decrypted under the
            // APIv3 key, which only WeChat Pay and the merchant hold.
            Err(VerificationFailure::UnknownSerial(serial)) if !ring.has_configured_key() => {
                new_signer = Some(serial);
            }
            Err(failure) => return Err(Error::from_verification(failure, response)),
        }
    }
    // Decrypt every entry before trusting any.
    let listing: Download = response.json()?;
    let mut downloaded = Vec::with_capacity(listing.data.len());
    for entry in &listing.data {
        let sealed = &entry.encrypt_certificate;
        let field = |name: &str| Some(format!("data[].encrypt_certificate.{name}"));
        if sealed.algorithm != "AEAD_AES_256_GCM" {
            return Err(Error::decode(
                format!(
                    "/v3/certificates: certificate {} is sealed with `{}`, not AEAD_AES_256_GCM",
                    entry.serial_no.escape_default(),
                    sealed.algorithm.escape_default()
                ),
                field("algorithm"),
                "unsupported algorithm".to_owned(),
            ));
        }
        // What else the APIv3 key seals (callbacks' resources) must not pass for a certificate.
        if sealed.associated_data != "certificate" {
            return Err(Error::decode(
                format!(
                    "/v3/certificates: certificate {} is sealed with associated data `{}`, not \
                     `certificate`: the list is refused",
                    entry.serial_no.escape_default(),
                    sealed.associated_data.escape_default()
                ),
                field("associated_data"),
                "associated data is not `certificate`".to_owned(),
            ));
        }
        let pem = refresher.apiv3_key.decrypt_base64(
            &sealed.nonce,
            &sealed.associated_data,
            &sealed.ciphertext,
        )?;
        let cert = Certificate::parse_exact(&pem).map_err(|reason| {
            Error::decode(
                format!(
                    "/v3/certificates: entry {} does not decrypt to one certificate ({reason}): \
                     the list is refused",
                    entry.serial_no.escape_default()
                ),
                field("ciphertext"),
                reason,
            )
        })?;
        if !same_serial(cert.serial(), &entry.serial_no) {
            return Err(Error::from_verification(
                VerificationFailure::BadSignature {
                    serial: entry.serial_no.clone(),
                },
                response,
            ));
        }
        downloaded.push((cert, pem));
    }

    // With no key at all (a first download, as wechatpay-php's and the Node SDK's tools do),
    // or signed by a certificate new to the ring: the download itself.
    if !anchored || new_signer.is_some() {
        // Only a certificate valid now may sign, as in the ring.
        let now = unix_now();
        let mut own = PlatformVerifier::new();
        for (cert, _) in &downloaded {
            if cert.not_before_unix() <= now && now <= cert.not_after_unix() {
                own.insert(cert.serial().to_owned(), cert.public_key().clone());
            }
        }
        if let Err(failure) = own.verify(response.headers(), response.bytes()) {
            // Signed by a certificate the download carries, but not valid now: say so.
            let failure = match failure {
                VerificationFailure::UnknownSerial(serial) => {
                    match downloaded
                        .iter()
                        .find(|(c, _)| same_serial(c.serial(), &serial))
                    {
                        Some((cert, _)) if cert.not_after_unix() < now => {
                            VerificationFailure::ExpiredCertificate {
                                serial,
                                not_after: cert.not_after_unix(),
                            }
                        }
                        Some((cert, _)) => VerificationFailure::CertificateNotYetValid {
                            serial,
                            not_before: cert.not_before_unix(),
                        },
                        None => VerificationFailure::UnknownSerial(serial),
                    }
                }
                other => other,
            };
            return Err(Error::from_verification(failure, response));
        }
        match &new_signer {
            Some(serial) => tracing::warn!(
                serial = %Escaped(serial),
                "platform certificates signed by a certificate the ring did not have: verified \
                 with that certificate, which the download carries sealed under the APIv3 key"
            ),
            None => tracing::warn!(
                "first download of platform certificates, with no platform key configured: it \
                 was verified only with the certificate it contains (integrity, not origin); \
                 configure a platform key to anchor the trust"
            ),
        }
    }

    // Verified (by the ring or by the certificate it carries) and every entry read: a list
    // seen before is a replay, refused as any answer is, and the ring is left as it was.
    if let Err(failure) = first_sighting(ctx.v3()?.replay.as_ref(), lane, response.headers()).await
    {
        return Err(Error::from_verification(failure, response));
    }

    merge(refresher, &downloaded);
    ring.set_public_key_mode(false);
    Ok(())
}

/// A download that failed: `Ok` in WeChat Pay public-key mode (a merchant with a public key
/// and no platform certificates is answered 404 `RESOURCE_NOT_EXISTS`, or 403), else the error.
fn public_key_mode(refresher: &Refresher, error: Error) -> Result<()> {
    let Some(api) = error.api() else {
        return Err(error);
    };
    let code = api.code().unwrap_or_default();
    let status = api.status().as_u16();
    let ring = &refresher.ring;
    if !(ring.has_public_key() && (code == "RESOURCE_NOT_EXISTS" || status == 403 || status == 404))
    {
        return Err(error);
    }
    if ring.public_key_mode() {
        tracing::info!(
            code = %Escaped(code),
            status,
            "still in WeChat Pay public key mode"
        );
    } else {
        tracing::info!(
            code = %Escaped(code),
            status,
            "this merchant has no platform certificates: continuing in WeChat Pay public key mode"
        );
    }
    ring.set_public_key_mode(true);
    Ok(())
}

/// Adds what is new, keeps every unexpired certificate, drops expired downloaded ones (never a
/// configured entry), and keeps the store in step.
fn merge(refresher: &Refresher, downloaded: &[(Certificate, Vec<u8>)]) {
    let ring = &refresher.ring;
    let certificates: Vec<Certificate> = downloaded.iter().map(|(c, _)| c.clone()).collect();
    let (added, dropped) = ring.merge_downloaded(&certificates);
    for serial in &added {
        let not_after = certificates
            .iter()
            .find(|c| c.serial() == serial)
            .map_or(0, Certificate::not_after_unix);
        tracing::info!(
            serial = serial.as_str(),
            not_after,
            "platform certificate added"
        );
    }
    for serial in &dropped {
        tracing::info!(
            serial = serial.as_str(),
            "platform certificate expired: dropped"
        );
    }
    tracing::info!(
        added = added.len(),
        dropped = dropped.len(),
        total = ring.len(),
        "platform certificates refreshed"
    );
    if let Some(store) = &refresher.store {
        for (cert, pem) in downloaded {
            if added.iter().any(|s| s == cert.serial()) {
                if let Err(e) = store.save(cert.serial(), pem) {
                    tracing::warn!(serial = cert.serial(), error = %Escaped(&e), "cannot store the certificate");
                }
            }
        }
        for serial in &dropped {
            if let Err(e) = store.remove(serial) {
                tracing::warn!(serial = serial.as_str(), error = %Escaped(&e), "cannot remove the certificate");
            }
        }
    }
}
