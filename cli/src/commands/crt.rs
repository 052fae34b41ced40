//! `wxpay crt`: the library's key ring downloads `/v3/certificates` and applies its checks
//! (the list verified with the trusted keys, or on a first download with a certificate it
//! carries that is valid now; every entry decrypted with the APIv3 key, its serial the one it is
//! listed under: docs/keyring.md, "Trust"); this command writes what the ring took as
//! `wechatpay_<serial>.pem` and prints it.

use wechatpay::crypto::{Apiv3Key, Certificate};
use wechatpay::keyring::{DirectoryStore, KeyRing, KeyStore};
use wechatpay::{ErrorKind, VerificationFailure};

use crate::args::{Crt, Global};
use crate::config::{settings, shown_id};
use crate::fail::{API, Fail, VERIFICATION, bare_message, usage};
use crate::time::{rfc3339, unix_now};

const PUBLIC_KEY_MODE_HINT: &str = "this merchant uses WeChat Pay public key mode: download the \
    public key (PUB_KEY_ID_...) from the merchant platform and use it with --platform-key \
    PUB_KEY_ID_...=pub_key.pem instead of platform certificates";

pub fn run(global: &Global, args: Crt) -> Result<(), Fail> {
    let settings = settings(global)?;
    let apiv3_key = settings.require_apiv3_key("`crt`")?;
    Apiv3Key::new(&apiv3_key).map_err(Fail::from)?;

    // Trusted keys: --trust, else the profile's platform keys; with none, a first download.
    let (trusted, what) = if args.trust.is_empty() {
        (settings.platform_keys.clone(), "platform key")
    } else {
        (args.trust.clone(), "trusted key")
    };
    let mut builder = settings.builder_without_platform_keys()?;
    for (id, path) in &trusted {
        let pem = std::fs::read(path).map_err(|e| {
            usage(format!(
                "{what} {}: cannot read `{}`: {e}",
                shown_id(id),
                path.display()
            ))
        })?;
        // The library's rule for a platform key (a certificate's id is its serial), checked here
        // too so that the message names the file.
        KeyRing::new().add_platform_key(id, &pem).map_err(|e| {
            let message = bare_message(&e);
            let message = match message.strip_prefix("platform key") {
                Some(rest) => format!("{what}{rest}"),
                None => message,
            };
            usage(format!("{message} (`{}`)", path.display()))
        })?;
        builder = builder.platform_key(id, pem);
    }
    let client = builder
        .auto_certificates(&apiv3_key)
        .build()
        .map_err(Fail::from)?;
    let ring = client
        .key_ring()
        .ok_or_else(|| usage("the client has no key ring".to_owned()))?;

    client
        .refresh_certificates()
        .map_err(|e| refresh_failed(e, trusted.is_empty()))?;
    if ring.public_key_mode() {
        return Err(Fail {
            code: API,
            message: "WeChat Pay has no platform certificates for this merchant: \
                      `/v3/certificates` answered 403, 404 or RESOURCE_NOT_EXISTS"
                .to_owned(),
            hint: Some(PUBLIC_KEY_MODE_HINT.to_owned()),
        });
    }
    if trusted.is_empty() {
        note!(
            "warning: no trusted key was given (--trust ID=PATH): the download was verified with \
             the certificate it contains, which proves integrity but not origin"
        );
    }

    let listed = ring.last_download();
    if listed.is_empty() {
        note!("the download lists no platform certificate: nothing written");
        return Ok(());
    }
    std::fs::create_dir_all(&args.output)
        .map_err(|e| usage(format!("cannot create `{}`: {e}", args.output.display())))?;
    // Written whatever the directory holds: it is neither trusted nor skipped.
    let store = DirectoryStore::new(&args.output);
    let now = unix_now();
    for cert in &listed {
        if cert.not_after_unix() < now {
            note!(
                "note: {} expired at {}: not written",
                cert.serial(),
                rfc3339(cert.not_after_unix())
            );
            continue;
        }
        let path = args.output.join(format!("wechatpay_{}.pem", cert.serial()));
        store
            .save(cert.serial(), &pem(cert)?)
            .map_err(|e| usage(format!("cannot write `{}`: {e}", path.display())))?;
        super::print_line(&format!(
            "{}  valid {} to {}  -> {}",
            cert.serial(),
            rfc3339(cert.not_before_unix()),
            rfc3339(cert.not_after_unix()),
            path.display()
        ))?;
    }
    Ok(())
}

/// A refresh that failed, in the command's words.
fn refresh_failed(e: wechatpay::Error, first_download: bool) -> Fail {
    match e.kind() {
        ErrorKind::Api => {
            let api = e.api();
            let code = api.and_then(|a| a.code()).unwrap_or("");
            let status = api.map(|a| a.status().as_u16()).unwrap_or(0);
            let public_key_mode = code == "RESOURCE_NOT_EXISTS" || status == 403 || status == 404;
            let fail = Fail::from(e);
            if public_key_mode {
                fail.hint(PUBLIC_KEY_MODE_HINT)
            } else {
                fail
            }
        }
        ErrorKind::Verification => {
            let message = match e.verification() {
                // With no key to trust, the list must be signed by a certificate it carries that
                // is valid now.
                Some(VerificationFailure::UnknownSerial(serial)) if first_download => format!(
                    "the certificate download is signed by {serial}, which is none of the \
                     certificates it carries that are valid now"
                ),
                // A first download signed by a certificate it carries, expired: not trusted.
                Some(VerificationFailure::ExpiredCertificate { serial, not_after })
                    if first_download =>
                {
                    format!(
                        "the certificate download is signed by {serial}, which expired at {}: \
                         only a certificate it carries that is valid now may sign it",
                        rfc3339(*not_after)
                    )
                }
                // The ring's anchors are the trusted keys: an expired one verifies nothing.
                Some(VerificationFailure::ExpiredCertificate { serial, not_after }) => format!(
                    "trusted certificate {serial} expired at {}",
                    rfc3339(*not_after)
                ),
                Some(failure) => format!("the certificate download: {failure}"),
                None => format!("the certificate download: {}", bare_message(&e)),
            };
            Fail {
                code: VERIFICATION,
                message: format!("verification failed: {message}"),
                hint: Some("pass a key you trust, valid now, with --trust ID=PATH".to_owned()),
            }
        }
        _ => Fail::from(e),
    }
}

/// The certificate as PEM.
fn pem(cert: &Certificate) -> Result<Vec<u8>, Fail> {
    cert.as_openssl().to_pem().map_err(|e| {
        usage(format!(
            "cannot encode certificate {} as PEM: {e}",
            cert.serial()
        ))
    })
}
