use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::x509::X509;

use super::der::{DerKind, classify};
use super::load::{Form, parse_file, resolve};
use super::pem;
use super::rsa::{PublicKey, block_der, found};
use crate::error::{Error, Result};

const CERT_FORMS: &str =
    "an X.509 certificate (PEM `-----BEGIN CERTIFICATE-----` or DER) with an RSA key";

/// An X.509 certificate: a WeChat Pay platform certificate (`wechatpay_*.pem`) or the merchant
/// API certificate (`apiclient_cert.pem`).
///
/// Loads from PEM, DER or a `file://` path like the keys (see [`Certificate::load`]), and gives
/// the serial number as WeChat Pay writes it, the validity period and the public key.
///
/// ```
/// use wechatpay::crypto::Certificate;
///
/// # // A self-signed certificate, serial 0ABC, valid until 2126.
/// # let pem = concat!(
/// #     "-----BEGIN CERTIFICATE-----\n",
/// #     "MIIDFTCCAf2gAwIBAgICCrwwDQYJKoZIhvcNAQELBQAwIjEgMB4GA1UEAwwXd2Vj\n",
/// #     "aGF0cGF5IGRvY3VtZW50YXRpb24wIBcNMjYxMjA3MDMzNDM2WhgPMjEyNjExMTMw\n",
/// #     "MzM0MzZaMCIxIDAeBgNVBAMMF3dlY2hhdHBheSBkb2N1bWVudGF0aW9uMIIBIjAN\n",
/// #     "BgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAk8yH21kmuFzj0rwfH/V5PjCighTr\n",
/// #     "No97HuQi1nOyPl1Amt6Ag/cKOjDGU31dHjFdDO4mbuOGOzFzaUVeuHRDykMBSAgf\n",
/// #     "eFERQrFg/wweOsX+NJcRzIJZ9fDhVY+AgMu7RJ7zZY25F34rzOr8IJA6SL/pnBdS\n",
/// #     "wOjvaLYE/CRDX62/SuJpFlkzhOKu4iGwg6GNQWK+0HA6TAXIB6IWStxqmp8/NOZ3\n",
/// #     "DZ1dnal/RgQUdkg8Cv6K0CdA1gW9JHgviTR0cYvCUERWRp0M0FY+7yB0TK3Wui/c\n",
/// #     "vvL65YqWnZtwrfSSeodw6MPCEft4SDVxRp/aegD0Pv1/UinBU5/CYKMqgwIDAQAB\n",
/// #     "o1MwUTAdBgNVHQ4EFgQUCR9NhOxnQjzoFvQoo+gMdlQgd30wHwYDVR0jBBgwFoAU\n",
/// #     "CR9NhOxnQjzoFvQoo+gMdlQgd30wDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0B\n",
/// #     "AQsFAAOCAQEAdaMe/zc9OStlrqVY+mKI99dBhEqZlU4eHc4iHu9abQkHZd1wJQ9h\n",
/// #     "cOVuNRiuWaCwkQQsGBMFTFYVFTdn0wlD4JVQ+q//siqenAdB0zDOFxLdC50OICPD\n",
/// #     "UTDeJ3IOEBM9OOHlLrNb0YCpTJs2OwBxoDlYyWyVVV3nojtbv+6KxEfVAH5iDrjV\n",
/// #     "KzBoghKg43/+IKgjg+EBS1EoqFbRFFwpxQZqAzxXD6bFoZIuBUAFaYotRwKA7rpF\n",
/// #     "1HK8xzN6fvIXBO82JOxkhpIdoMKZoncnO67QJDCH/AY3BU3RIeNE8za5JshalO79\n",
/// #     "pcA8WFYsjkfaqd+UaJVn+rxt44SXvYX/qA==\n",
/// #     "-----END CERTIFICATE-----\n",
/// # );
/// let cert = Certificate::load(&pem).unwrap();
/// assert_eq!(cert.serial(), "0ABC");
/// assert!(cert.is_valid_at(cert.not_before_unix() + 1));
/// assert!(!cert.is_valid_at(cert.not_after_unix() + 1));
/// let key = cert.public_key();
/// # let _ = key;
/// ```
#[derive(Clone)]
pub struct Certificate {
    x509: X509,
    serial: String,
    public_key: PublicKey,
    not_before: i64,
    not_after: i64,
}

impl Certificate {
    /// Loads a certificate from PEM (the first `-----BEGIN CERTIFICATE-----` block), DER or
    /// `file://<path>`. The key must be RSA, as WeChat Pay's are. The
    /// [`Config`](crate::ErrorKind::Config) error says what was found.
    pub fn load(input: impl AsRef<[u8]>) -> Result<Certificate> {
        Self::parse(input.as_ref())
            .map_err(|reason| Error::config(format!("certificate: {reason}")))
    }

    /// Reads a certificate file (PEM or DER). Errors name the path.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Certificate> {
        parse_file(path.as_ref(), "certificate", Self::parse)
    }

    pub(crate) fn parse(input: &[u8]) -> std::result::Result<Certificate, String> {
        match resolve(input)? {
            Form::Prefixed(prefix, _) => Err(format!(
                "expected {CERT_FORMS}, found a `{}` key",
                prefix.as_str()
            )),
            Form::Der(der) => match classify(&der) {
                DerKind::Certificate | DerKind::Unknown => Self::parse_der(&der),
                kind => Err(format!("expected {CERT_FORMS}, found {}", kind.describe())),
            },
            Form::Pem(pem) => match pem::block(&pem, "CERTIFICATE") {
                Some(block) => {
                    const WHAT: &str = "the CERTIFICATE PEM block is not a valid X.509 certificate";
                    let der = block_der(block, WHAT)?;
                    let x509 = X509::from_der(&der).map_err(|_| WHAT.to_owned())?;
                    Self::from_x509(x509)
                }
                None => Err(format!("expected {CERT_FORMS}, {}", found(&pem))),
            },
            Form::Other(hint) => Err(format!(
                "expected {CERT_FORMS}, found no `-----BEGIN` line{hint}"
            )),
        }
    }

    /// One certificate and nothing else, as the key ring takes it from a download: exactly one
    /// `CERTIFICATE` PEM block with only whitespace around it, or DER that is exactly one
    /// certificate (no trailing bytes). Never a `file://` path, never a block found inside other
    /// text.
    pub(crate) fn parse_exact(input: &[u8]) -> std::result::Result<Certificate, String> {
        let der = if input.starts_with(&[0x30]) {
            input.to_vec()
        } else {
            let text = input.trim_ascii();
            let block = pem::block(text, "CERTIFICATE")
                .filter(|block| block.text.len() == text.len() && !block.encrypted)
                .ok_or("not exactly one PEM CERTIFICATE block, nor DER")?;
            block_der(block, "the CERTIFICATE PEM block is not valid")?.to_vec()
        };
        let cert = Self::parse_der(&der)?;
        match cert.x509.to_der() {
            Ok(again) if again == der => Ok(cert),
            _ => Err("the certificate is followed by other bytes, or not DER-encoded".to_owned()),
        }
    }

    pub(crate) fn parse_der(der: &[u8]) -> std::result::Result<Certificate, String> {
        let x509 =
            X509::from_der(der).map_err(|_| "the DER X.509 certificate is not valid".to_owned())?;
        Self::from_x509(x509)
    }

    /// The OpenSSL certificate.
    pub(crate) fn x509(&self) -> &X509 {
        &self.x509
    }

    /// Wraps an OpenSSL certificate (its key must be RSA).
    pub fn from_openssl(x509: X509) -> Result<Certificate> {
        Self::from_x509(x509).map_err(|reason| Error::config(format!("certificate: {reason}")))
    }

    fn from_x509(x509: X509) -> std::result::Result<Certificate, String> {
        let serial = serial_hex(&x509)?;
        let pkey = x509
            .public_key()
            .map_err(|_| "the certificate's public key cannot be read".to_owned())?;
        let public_key = PublicKey::from_pkey(pkey)?;
        let not_before = unix_seconds(x509.not_before())
            .ok_or("the certificate's notBefore time cannot be read")?;
        let not_after = unix_seconds(x509.not_after())
            .ok_or("the certificate's notAfter time cannot be read")?;
        Ok(Certificate {
            x509,
            serial,
            public_key,
            not_before,
            not_after,
        })
    }

    /// The serial number in uppercase hex, as wechatpay-php's `PemUtil::parseCertificateSerialNo`
    /// gives it and WeChat Pay sends it in `Wechatpay-Serial`: the number's bytes, without
    /// leading zero bytes (so a serial with the high bit set, DER-encoded with a leading `00`,
    /// reads `8...`, while `0A` stays `0A`). This is exactly what
    /// `openssl x509 -serial -noout` prints after `serial=`, for every serial but zero (PHP and
    /// this method say `0`, the command line `00`; RFC 5280 serials are positive).
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The certificate's public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// Start of the validity period (`notBefore`), Unix seconds.
    pub fn not_before_unix(&self) -> i64 {
        self.not_before
    }

    /// End of the validity period (`notAfter`, inclusive), Unix seconds.
    pub fn not_after_unix(&self) -> i64 {
        self.not_after
    }

    /// Start of the validity period (`notBefore`).
    pub fn not_before(&self) -> SystemTime {
        system_time(self.not_before)
    }

    /// End of the validity period (`notAfter`, inclusive).
    pub fn not_after(&self) -> SystemTime {
        system_time(self.not_after)
    }

    /// True when `unix_seconds` lies within `notBefore..=notAfter`.
    pub fn is_valid_at(&self, unix_seconds: i64) -> bool {
        (self.not_before..=self.not_after).contains(&unix_seconds)
    }

    /// [`is_valid_at`](Self::is_valid_at) the local clock.
    pub fn is_valid_now(&self) -> bool {
        self.is_valid_at(crate::clock::unix_now())
    }

    /// The OpenSSL certificate, for operations this crate does not wrap.
    pub fn as_openssl(&self) -> &X509 {
        &self.x509
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("serial", &self.serial)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("public_key", &self.public_key)
            .finish()
    }
}

/// `BN_bn2hex` of the serial, as PHP's `openssl_x509_parse()['serialNumberHex']`.
fn serial_hex(x509: &X509) -> std::result::Result<String, String> {
    x509.serial_number()
        .to_bn()
        .and_then(|bn| bn.to_hex_str().map(|s| s.to_ascii_uppercase()))
        .map_err(|_| "the certificate's serial number cannot be read".to_owned())
}

fn unix_seconds(time: &Asn1TimeRef) -> Option<i64> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(time).ok()?;
    Some(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

fn system_time(unix: i64) -> SystemTime {
    let magnitude = Duration::from_secs(unix.unsigned_abs());
    let time = if unix >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    };
    time.unwrap_or(UNIX_EPOCH)
}
