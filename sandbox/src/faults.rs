//! Deliberate defects in the sandbox's answers, and the choice of signing key.
//!
//! Set globally with [`Sandbox::set_fault`](crate::Sandbox::set_fault) and
//! [`Sandbox::set_sign_mode`](crate::Sandbox::set_sign_mode), or per request with the headers
//! [`FAULT_HEADER`] and [`SIGN_MODE_HEADER`] (a per-request value wins).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Request header naming a [`Fault`] for this request only, in kebab case
/// (`Sandbox-Fault: bad-signature`).
pub const FAULT_HEADER: &str = "Sandbox-Fault";
/// Request header choosing the [`SignMode`] of this request's answer
/// (`Sandbox-Sign-Mode: certificate`, `public-key` or `both`).
pub const SIGN_MODE_HEADER: &str = "Sandbox-Sign-Mode";

/// How long `slow-reply` waits.
pub const DEFAULT_SLOW_REPLY: Duration = Duration::from_secs(2);
/// How long after its answer `close-after-reply` closes the connection.
pub const DEFAULT_CLOSE_AFTER_REPLY: Duration = Duration::from_millis(100);

/// The `Wechatpay-Signature` sent under [`Fault::SignatureNotBase64`].
pub const NOT_BASE64_SIGNATURE: &str = "not base64!!";
/// The `Wechatpay-Serial` sent under [`Fault::UnknownSerial`] in [`SignMode::Certificate`].
pub const UNKNOWN_CERTIFICATE_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
/// The `Wechatpay-Serial` sent under [`Fault::UnknownSerial`] in [`SignMode::PublicKey`].
pub const UNKNOWN_PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";

/// Which platform key signs the APIv3 answers and callbacks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SignMode {
    /// The platform certificate's key; `Wechatpay-Serial` is the certificate serial.
    Certificate,
    /// The WeChat Pay public key's private half; `Wechatpay-Serial` is the `PUB_KEY_ID_...`
    /// (the default: WeChat Pay's mode for merchants onboarded since late 2024).
    #[default]
    PublicKey,
    /// Both, as WeChat Pay signs during a merchant's migration from certificates to the public
    /// key: an answer is signed with the key the request's `Wechatpay-Serial` header names (a
    /// `PUB_KEY_ID_...`: the public key; anything else or nothing: the newest unexpired
    /// platform certificate). Callbacks, which answer no request, are signed with the
    /// certificate.
    Both,
}

impl SignMode {
    /// `certificate`, `public-key` or `both`.
    pub fn name(self) -> &'static str {
        match self {
            SignMode::Certificate => "certificate",
            SignMode::PublicKey => "public-key",
            SignMode::Both => "both",
        }
    }

    /// The key that signs an answer to a request whose `Wechatpay-Serial` header is
    /// `wechatpay_serial`: [`Both`](SignMode::Both) becomes the mode that header names, the
    /// other modes stay as they are.
    pub(crate) fn for_request(self, wechatpay_serial: Option<&str>) -> SignMode {
        match (self, wechatpay_serial) {
            (SignMode::Both, Some(serial)) if serial.trim().starts_with("PUB_KEY_ID_") => {
                SignMode::PublicKey
            }
            (SignMode::Both, _) => SignMode::Certificate,
            (mode, _) => mode,
        }
    }
}

impl fmt::Display for SignMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SignMode {
    type Err = String;

    fn from_str(s: &str) -> Result<SignMode, String> {
        match s.trim() {
            "certificate" => Ok(SignMode::Certificate),
            "public-key" => Ok(SignMode::PublicKey),
            "both" => Ok(SignMode::Both),
            other => Err(format!(
                "unknown {SIGN_MODE_HEADER} {other:?}: expected certificate, public-key or both"
            )),
        }
    }
}

/// One of the four headers that carry a response signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureHeader {
    /// `Wechatpay-Timestamp`
    Timestamp,
    /// `Wechatpay-Nonce`
    Nonce,
    /// `Wechatpay-Signature`
    Signature,
    /// `Wechatpay-Serial`
    Serial,
}

impl SignatureHeader {
    /// All four, in the order WeChat Pay lists them.
    pub const ALL: [SignatureHeader; 4] = [
        SignatureHeader::Timestamp,
        SignatureHeader::Nonce,
        SignatureHeader::Signature,
        SignatureHeader::Serial,
    ];

    /// The header name, e.g. `Wechatpay-Timestamp`.
    pub fn name(self) -> &'static str {
        match self {
            SignatureHeader::Timestamp => "Wechatpay-Timestamp",
            SignatureHeader::Nonce => "Wechatpay-Nonce",
            SignatureHeader::Signature => "Wechatpay-Signature",
            SignatureHeader::Serial => "Wechatpay-Serial",
        }
    }

    fn short(self) -> &'static str {
        match self {
            SignatureHeader::Timestamp => "timestamp",
            SignatureHeader::Nonce => "nonce",
            SignatureHeader::Signature => "signature",
            SignatureHeader::Serial => "serial",
        }
    }
}

/// A deliberate defect in an answer.
///
/// The signature faults (`BadSignature` to `SignatureNotBase64`) affect signed APIv3 answers
/// (and the `sign` of APIv2 answers for `BadSignature`, `WrongKey` and `TamperedBody`); the
/// others affect every answer. Header names, in kebab case: `bad-signature`,
/// `stale-timestamp`, `future-timestamp`, `unknown-serial`, `wrong-key`, `missing-timestamp`,
/// `missing-nonce`, `missing-signature`, `missing-serial`, `tampered-body`,
/// `signature-not-base64`, `slow-reply` (2 s; `slow-reply-250ms` for another delay),
/// `connection-reset`, `server-error` (500; `server-error-503` for another 5xx status),
/// `close-after-reply` (100 ms; `close-after-reply-250ms` for another delay).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The signature is made over another message, so it does not verify.
    BadSignature,
    /// `Wechatpay-Timestamp` is 400 s in the past (and signed consistently).
    StaleTimestamp,
    /// `Wechatpay-Timestamp` is 400 s in the future (and signed consistently).
    FutureTimestamp,
    /// `Wechatpay-Serial` names a key the merchant does not have (the signature is right):
    /// [`UNKNOWN_CERTIFICATE_SERIAL`] or [`UNKNOWN_PUBLIC_KEY_ID`].
    UnknownSerial,
    /// The message is signed with the other platform key (the WeChat Pay public key's in
    /// certificate mode, the newest platform certificate's in public-key mode) under the right
    /// `Wechatpay-Serial`: a client must pick the key by serial. (An APIv2 answer is signed
    /// with another secret.)
    WrongKey,
    /// The header is left out.
    MissingHeader(SignatureHeader),
    /// The body is changed after signing.
    TamperedBody,
    /// `Wechatpay-Signature` is [`NOT_BASE64_SIGNATURE`], which does not decode.
    SignatureNotBase64,
    /// The answer is sent after this delay.
    SlowReply(Duration),
    /// The connection is closed without an answer.
    ConnectionReset,
    /// The answer is this 5xx status with a signed `SYSTEM_ERROR` JSON body.
    ServerError(u16),
    /// The answer is sound and the connection stays open (HTTP/1.1 keep-alive), but the
    /// sandbox closes it this long after the answer, as servers and load balancers close idle
    /// connections: a client must not send its next request on it. A request that arrives on
    /// the connection in the meantime is answered first (the connection closes when it is
    /// idle, at the earliest of the times asked for), and so is an answer still being sent.
    CloseAfterReply(Duration),
}

impl Fault {
    /// Every fault with its default parameters (for exhaustive tests).
    pub fn all() -> Vec<Fault> {
        let mut all = vec![
            Fault::BadSignature,
            Fault::StaleTimestamp,
            Fault::FutureTimestamp,
            Fault::UnknownSerial,
            Fault::WrongKey,
        ];
        all.extend(SignatureHeader::ALL.map(Fault::MissingHeader));
        all.extend([
            Fault::TamperedBody,
            Fault::SignatureNotBase64,
            Fault::SlowReply(DEFAULT_SLOW_REPLY),
            Fault::ConnectionReset,
            Fault::ServerError(500),
            Fault::CloseAfterReply(DEFAULT_CLOSE_AFTER_REPLY),
        ]);
        all
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::BadSignature => f.write_str("bad-signature"),
            Fault::StaleTimestamp => f.write_str("stale-timestamp"),
            Fault::FutureTimestamp => f.write_str("future-timestamp"),
            Fault::UnknownSerial => f.write_str("unknown-serial"),
            Fault::WrongKey => f.write_str("wrong-key"),
            Fault::MissingHeader(h) => write!(f, "missing-{}", h.short()),
            Fault::TamperedBody => f.write_str("tampered-body"),
            Fault::SignatureNotBase64 => f.write_str("signature-not-base64"),
            Fault::SlowReply(d) if *d == DEFAULT_SLOW_REPLY => f.write_str("slow-reply"),
            Fault::SlowReply(d) => write!(f, "slow-reply-{}ms", d.as_millis()),
            Fault::ConnectionReset => f.write_str("connection-reset"),
            Fault::ServerError(500) => f.write_str("server-error"),
            Fault::ServerError(status) => write!(f, "server-error-{status}"),
            Fault::CloseAfterReply(d) if *d == DEFAULT_CLOSE_AFTER_REPLY => {
                f.write_str("close-after-reply")
            }
            Fault::CloseAfterReply(d) => write!(f, "close-after-reply-{}ms", d.as_millis()),
        }
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Fault, String> {
        let s = s.trim();
        let fault = match s {
            "bad-signature" => Fault::BadSignature,
            "stale-timestamp" => Fault::StaleTimestamp,
            "future-timestamp" => Fault::FutureTimestamp,
            "unknown-serial" => Fault::UnknownSerial,
            "wrong-key" => Fault::WrongKey,
            "missing-timestamp" => Fault::MissingHeader(SignatureHeader::Timestamp),
            "missing-nonce" => Fault::MissingHeader(SignatureHeader::Nonce),
            "missing-signature" => Fault::MissingHeader(SignatureHeader::Signature),
            "missing-serial" => Fault::MissingHeader(SignatureHeader::Serial),
            "tampered-body" => Fault::TamperedBody,
            "signature-not-base64" => Fault::SignatureNotBase64,
            "slow-reply" => Fault::SlowReply(DEFAULT_SLOW_REPLY),
            "connection-reset" => Fault::ConnectionReset,
            "server-error" => Fault::ServerError(500),
            "close-after-reply" => Fault::CloseAfterReply(DEFAULT_CLOSE_AFTER_REPLY),
            other => {
                if let Some(delay) = millis_after(other, "slow-reply-") {
                    Fault::SlowReply(delay)
                } else if let Some(delay) = millis_after(other, "close-after-reply-") {
                    Fault::CloseAfterReply(delay)
                } else if let Some(status) = other
                    .strip_prefix("server-error-")
                    .and_then(|r| r.parse::<u16>().ok())
                    .filter(|s| (500..=599).contains(s))
                {
                    Fault::ServerError(status)
                } else {
                    return Err(format!("unknown {FAULT_HEADER} {other:?}"));
                }
            }
        };
        Ok(fault)
    }
}

/// The delay of a name `<prefix><1 to 6 digits>ms`.
fn millis_after(name: &str, prefix: &str) -> Option<Duration> {
    name.strip_prefix(prefix)
        .and_then(|r| r.strip_suffix("ms"))
        .filter(|ms| !ms.is_empty() && ms.len() <= 6 && ms.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|ms| ms.parse::<u64>().ok())
        .map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_has_its_own_name() {
        let all = Fault::all();
        assert_eq!(all.len(), 15);
        let names: std::collections::HashSet<String> = all.iter().map(Fault::to_string).collect();
        assert_eq!(names.len(), all.len());
        for (fault, name) in [
            (Fault::FutureTimestamp, "future-timestamp"),
            (Fault::WrongKey, "wrong-key"),
            (Fault::SignatureNotBase64, "signature-not-base64"),
            (
                Fault::CloseAfterReply(Duration::from_millis(100)),
                "close-after-reply",
            ),
            (
                Fault::CloseAfterReply(Duration::from_millis(250)),
                "close-after-reply-250ms",
            ),
            (
                Fault::CloseAfterReply(Duration::ZERO),
                "close-after-reply-0ms",
            ),
        ] {
            assert_eq!(fault.to_string(), name);
            assert_eq!(name.parse::<Fault>(), Ok(fault));
        }
        assert!(openssl::base64::decode_block(NOT_BASE64_SIGNATURE).is_err());
    }

    #[test]
    fn names_round_trip() {
        for fault in Fault::all().into_iter().chain([
            Fault::SlowReply(Duration::from_millis(250)),
            Fault::ServerError(503),
            Fault::CloseAfterReply(Duration::from_millis(250)),
            Fault::CloseAfterReply(Duration::from_millis(999_999)),
        ]) {
            assert_eq!(fault.to_string().parse::<Fault>(), Ok(fault));
        }
        for bad in [
            "",
            "bad",
            "server-error-404",
            "slow-reply-ms",
            "slow-reply-9999999ms",
            "slow-reply-+1ms",
            "close-after",
            "close-after-reply-",
            "close-after-reply-ms",
            "close-after-reply-250",
            "close-after-reply-1s",
            "close-after-reply-+1ms",
            "close-after-reply-1000000ms",
        ] {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
        assert_eq!("public-key".parse(), Ok(SignMode::PublicKey));
        assert_eq!("certificate".parse(), Ok(SignMode::Certificate));
        assert!("cert".parse::<SignMode>().is_err());
    }
}
