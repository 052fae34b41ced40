use crate::error::{Error, Result};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Returns 32 characters drawn uniformly from `[0-9A-Za-z]` with OpenSSL's CSPRNG.
///
/// Bytes of 248 or more are rejected so that every character is equally likely.
///
/// ```
/// let n = wechatpay::crypto::nonce().unwrap();
/// assert_eq!(n.len(), 32);
/// assert!(n.bytes().all(|b| b.is_ascii_alphanumeric()));
/// ```
pub fn nonce() -> Result<String> {
    let mut out = String::with_capacity(32);
    let mut buf = [0u8; 48];
    while out.len() < 32 {
        openssl::rand::rand_bytes(&mut buf)
            .map_err(|e| Error::crypto_from("the OpenSSL CSPRNG failed", e))?;
        for &b in &buf {
            if b < 248 && out.len() < 32 {
                out.push(ALPHABET[usize::from(b % 62)] as char);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_is_32_alphanumerics_and_varies() {
        let a = nonce().unwrap();
        let b = nonce().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn nonce_uses_the_whole_alphabet() {
        let mut seen = [false; 128];
        for _ in 0..200 {
            for c in nonce().unwrap().bytes() {
                seen[usize::from(c)] = true;
            }
        }
        assert!(ALPHABET.iter().all(|&c| seen[usize::from(c)]));
    }
}
