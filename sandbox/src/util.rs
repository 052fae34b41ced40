//! Small helpers: the clock, random strings, hex, base64, dates, digests.

use std::time::{SystemTime, UNIX_EPOCH};

use openssl::hash::{MessageDigest, hash};

use crate::error::Result;

/// Seconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `len` random characters from `[0-9A-Za-z]`, from OpenSSL's CSPRNG.
pub(crate) fn random_alnum(len: usize) -> Result<String> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    random_from(ALPHABET, len)
}

/// `len` random decimal digits.
pub(crate) fn random_digits(len: usize) -> Result<String> {
    random_from(b"0123456789", len)
}

fn random_from(alphabet: &[u8], len: usize) -> Result<String> {
    // Rejection sampling keeps the distribution uniform.
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        openssl::rand::rand_bytes(&mut buf)?;
        for &b in &buf {
            if usize::from(b) < limit && out.len() < len {
                out.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
            }
        }
    }
    Ok(out)
}

/// `n` random bytes.
pub(crate) fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    openssl::rand::rand_bytes(&mut buf)?;
    Ok(buf)
}

/// Uppercase hex.
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Lowercase hex.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 with padding.
pub(crate) fn base64(bytes: &[u8]) -> String {
    openssl::base64::encode_block(bytes)
}

/// Lowercase hex SHA-1.
pub(crate) fn sha1_hex(data: &[u8]) -> Result<String> {
    Ok(hex_lower(&hash(MessageDigest::sha1(), data)?))
}

/// Lowercase hex SHA-256.
pub(crate) fn sha256_hex(data: &[u8]) -> Result<String> {
    Ok(hex_lower(&hash(MessageDigest::sha256(), data)?))
}

/// Civil date and time (UTC+8, as WeChat Pay reports times) of a Unix timestamp.
pub(crate) struct Beijing {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
}

impl Beijing {
    /// The Beijing wall-clock time of `unix`.
    pub(crate) fn at(unix: i64) -> Beijing {
        let local = unix + 8 * 3600;
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Beijing {
            year,
            month: month as u32,
            day: day as u32,
            hour: (secs / 3600) as u32,
            minute: (secs % 3600 / 60) as u32,
            second: (secs % 60) as u32,
        }
    }

    /// `2024-06-01T12:34:56+08:00`
    pub(crate) fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+08:00",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `20240601123456` (APIv2's `time_end`).
    pub(crate) fn compact(&self) -> String {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `2024-06-01 12:34:56` (bill rows).
    pub(crate) fn plain(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Unix seconds of an ASN.1 time (a certificate's validity bound).
pub(crate) fn asn1_to_unix(time: &openssl::asn1::Asn1TimeRef) -> Option<i64> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(time).ok()?;
    Some(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

/// The current Beijing time as RFC 3339.
pub(crate) fn now_rfc3339() -> String {
    Beijing::at(now_unix()).rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_time() {
        // 2015-05-20T05:29:35Z
        let t = Beijing::at(1_432_099_775);
        assert_eq!(t.rfc3339(), "2015-05-20T13:29:35+08:00");
        assert_eq!(t.compact(), "20150520132935");
        assert_eq!(Beijing::at(0).plain(), "1970-01-01 08:00:00");
        // A leap day.
        assert_eq!(
            Beijing::at(1_709_164_800).rfc3339(),
            "2024-02-29T08:00:00+08:00"
        );
    }

    #[test]
    fn asn1_times() {
        let t = openssl::asn1::Asn1Time::from_unix(1_432_099_775).unwrap();
        assert_eq!(asn1_to_unix(&t), Some(1_432_099_775));
    }

    #[test]
    fn random_strings() {
        let s = random_alnum(32).unwrap();
        assert_eq!(s.len(), 32);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(
            random_digits(10)
                .unwrap()
                .bytes()
                .all(|b| b.is_ascii_digit())
        );
    }
}
