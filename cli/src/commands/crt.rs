//! `wxpay crt`: download the platform certificates, decrypt them, verify the download, write
//! `wechatpay_<serial>.pem`.

use std::sync::{Arc, Mutex};

use http::HeaderMap;
use serde::Deserialize;
use wechatpay::crypto::{Apiv3Key, Certificate, PublicKey};
use wechatpay::verifier::{PlatformVerifier, Verifier};
use wechatpay::{ErrorKind, VerificationFailure};

use crate::args::{Crt, Global};
use crate::config::settings;
use crate::fail::{Fail, usage};

#[derive(Deserialize)]
struct Download {
    data: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    serial_no: String,
    encrypt_certificate: Sealed,
}

#[derive(Deserialize)]
struct Sealed {
    nonce: String,
    associated_data: String,
    ciphertext: String,
}

/// Accepts any signature but keeps the headers and payload, to check them once the
/// certificates are decrypted (first download, no trusted key yet).
/// The headers and payload of the signed download.
type Signed = (HeaderMap, Vec<u8>);

#[derive(Clone, Default)]
struct Deferred(Arc<Mutex<Option<Signed>>>);

impl Verifier for Deferred {
    fn verify(&self, headers: &HeaderMap, payload: &[u8]) -> Result<(), VerificationFailure> {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((headers.clone(), payload.to_vec()));
        }
        Ok(())
    }
}

pub fn run(global: &Global, args: Crt) -> Result<(), Fail> {
    let settings = settings(global)?;
    let key = Apiv3Key::new(settings.require_apiv3_key("`crt`")?).map_err(Fail::from)?;

    // Trusted keys: --trust, else the profile's platform keys.
    let trusted = if args.trust.is_empty() {
        settings.platform_keys.clone()
    } else {
        args.trust.clone()
    };
    let mut trust = PlatformVerifier::new();
    for (id, path) in &trusted {
        let key = PublicKey::from_file(path)
            .map_err(|e| usage(format!("trusted key `{id}` ({}): {e}", path.display())))?;
        trust.insert(id.clone(), key);
    }
    let deferred = Deferred::default();

    let mut no_keys = settings.clone();
    no_keys.platform_keys.clear();
    // The client verifies nothing by itself here: the check happens below, with the trusted
    // keys or the downloaded certificates.
    let built = client_with_verifier(&no_keys, deferred.clone())?;
    let response = match built["v3/certificates"].get(()) {
        Ok(r) => r,
        Err(e) if e.kind() == ErrorKind::Api => {
            let api = e.api();
            let code = api.and_then(|a| a.code()).unwrap_or("");
            let status = api.map(|a| a.status().as_u16()).unwrap_or(0);
            if code == "RESOURCE_NOT_EXISTS" || status == 403 || status == 404 {
                return Err(Fail::from(e).hint(
                    "this merchant uses WeChat Pay public key mode: download the public key \
                     (PUB_KEY_ID_...) from the merchant platform and use it with --platform-key \
                     PUB_KEY_ID_...=pub_key.pem instead of platform certificates",
                ));
            }
            return Err(Fail::from(e));
        }
        Err(e) => return Err(Fail::from(e)),
    };
    let download: Download = response.json().map_err(Fail::from)?;
    let mut certificates = Vec::new();
    for entry in &download.data {
        let sealed = &entry.encrypt_certificate;
        let pem = key
            .decrypt_base64(&sealed.nonce, &sealed.associated_data, &sealed.ciphertext)
            .map_err(Fail::from)?;
        let cert = Certificate::load(&pem).map_err(Fail::from)?;
        if !cert
            .serial()
            .eq_ignore_ascii_case(entry.serial_no.trim_start_matches('0'))
            && !cert.serial().eq_ignore_ascii_case(&entry.serial_no)
        {
            return Err(verification(format!(
                "entry serial_no {} does not match its certificate's serial {}",
                entry.serial_no,
                cert.serial()
            )));
        }
        certificates.push((cert, pem));
    }

    // Verify the download.
    let (headers, payload) = deferred
        .0
        .lock()
        .ok()
        .and_then(|mut s| s.take())
        .ok_or_else(|| usage("the download was not signed".to_owned()))?;
    if trusted.is_empty() {
        let mut own = PlatformVerifier::new();
        for (cert, _) in &certificates {
            own.insert(cert.serial().to_owned(), cert.public_key().clone());
        }
        own.verify(&headers, &payload)
            .map_err(|f| verification(format!("the certificate download: {f}")))?;
        note!(
            "warning: no trusted key was given (--trust ID=PATH): the download was verified with \
             the certificate it contains, which proves integrity but not origin"
        );
    } else {
        trust
            .verify(&headers, &payload)
            .map_err(|f| verification(format!("the certificate download: {f}")))?;
    }

    std::fs::create_dir_all(&args.output)
        .map_err(|e| usage(format!("cannot create `{}`: {e}", args.output.display())))?;
    for (cert, pem) in &certificates {
        let path = args.output.join(format!("wechatpay_{}.pem", cert.serial()));
        std::fs::write(&path, pem)
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

fn client_with_verifier(
    settings: &crate::config::Settings,
    verifier: Deferred,
) -> Result<wechatpay::Client, Fail> {
    Ok(settings.client_with(None, Some(verifier))?.client)
}

fn verification(message: String) -> Fail {
    Fail {
        code: crate::fail::VERIFICATION,
        message: format!("verification failed: {message}"),
        hint: Some("pass the key you trust with --trust ID=PATH".to_owned()),
    }
}

/// `2026-11-27T01:02:03Z` for a Unix time (UTC).
fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_743_441), "2026-11-27T01:37:21Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
