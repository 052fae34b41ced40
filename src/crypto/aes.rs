use std::fmt;

use openssl::symm::{Cipher, Crypter, Mode};

use super::base64::base64_decode;
use crate::error::{Error, Result};

/// The AES-GCM tag length WeChat Pay uses, appended to every ciphertext.
pub(crate) const GCM_TAG_LEN: usize = 16;
/// The longest GCM nonce OpenSSL accepts, in bytes.
pub(crate) const GCM_MAX_NONCE_LEN: usize = 128;

fn check_key(key: &[u8], what: &str) -> Result<()> {
    if key.len() == 32 {
        Ok(())
    } else {
        Err(Error::crypto(format!(
            "{what}: the key must be exactly 32 bytes, found {}",
            key.len()
        )))
    }
}

fn check_nonce(nonce: &[u8]) -> Result<()> {
    if nonce.is_empty() || nonce.len() > GCM_MAX_NONCE_LEN {
        return Err(Error::crypto(format!(
            "AES-256-GCM: the nonce must be 1 to {GCM_MAX_NONCE_LEN} bytes, found {}",
            nonce.len()
        )));
    }
    Ok(())
}

/// AES-256-GCM encryption: the ciphertext with the 16-byte tag appended, as WeChat Pay sends
/// (base64-encoded) in callbacks and in `/v3/certificates`.
///
/// The key must be exactly 32 bytes and the nonce 1 to 128 bytes (WeChat Pay's are 12 ASCII
/// characters); `aad` may be empty. Either length wrong: a [`Crypto`](crate::ErrorKind::Crypto)
/// error.
///
/// ```
/// use wechatpay::crypto::{aes_256_gcm_encrypt, base64_encode};
///
/// let sealed = aes_256_gcm_encrypt(
///     b"0123456789abcdef0123456789abcdef",
///     b"0123456789ab",
///     b"certificate",
///     "hello wechatpay 你好 微信支付".as_bytes(),
/// )
/// .unwrap();
/// assert_eq!(base64_encode(&sealed), "8cyLVizq736WbULJw2UFB6Y7dCqydUqOmiErpmgeDQbOxP/z/JKqUOKnGFY/hwPRUEBg");
/// ```
pub fn aes_256_gcm_encrypt(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    check_key(key, "AES-256-GCM")?;
    check_nonce(nonce)?;
    let failed = |e| Error::crypto_from("AES-256-GCM encryption failed", e);
    let mut crypter =
        Crypter::new(Cipher::aes_256_gcm(), Mode::Encrypt, key, Some(nonce)).map_err(failed)?;
    if !aad.is_empty() {
        crypter.aad_update(aad).map_err(failed)?;
    }
    let mut out = vec![0; plaintext.len() + GCM_TAG_LEN];
    let mut n = crypter.update(plaintext, &mut out).map_err(failed)?;
    n += crypter.finalize(&mut out[n..]).map_err(failed)?;
    out.truncate(n);
    let mut tag = [0u8; GCM_TAG_LEN];
    crypter.get_tag(&mut tag).map_err(failed)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// AES-256-GCM decryption of `ciphertext || tag` (the tag being the last 16 bytes).
///
/// A wrong key, nonce or associated data, or any altered byte, is one
/// [`Crypto`](crate::ErrorKind::Crypto) error that says so; nothing of the plaintext is
/// returned unless the tag verifies.
///
/// ```
/// use wechatpay::crypto::{aes_256_gcm_decrypt, base64_decode};
///
/// let key = b"0123456789abcdef0123456789abcdef";
/// let sealed = base64_decode("8cyLVizq736WbULJw2UFB6Y7dCqydUqOmiErpmgeDQbOxP/z/JKqUOKnGFY/hwPRUEBg").unwrap();
/// let plain = aes_256_gcm_decrypt(key, b"0123456789ab", b"certificate", &sealed).unwrap();
/// assert_eq!(String::from_utf8(plain).unwrap(), "hello wechatpay 你好 微信支付");
/// assert!(aes_256_gcm_decrypt(key, b"0123456789ab", b"other aad", &sealed).is_err());
/// ```
pub fn aes_256_gcm_decrypt(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ciphertext_and_tag: &[u8],
) -> Result<Vec<u8>> {
    check_key(key, "AES-256-GCM")?;
    check_nonce(nonce)?;
    let Some(split) = ciphertext_and_tag.len().checked_sub(GCM_TAG_LEN) else {
        return Err(Error::crypto(format!(
            "AES-256-GCM: the input is {} bytes, shorter than its {GCM_TAG_LEN}-byte tag",
            ciphertext_and_tag.len()
        )));
    };
    let (ciphertext, tag) = ciphertext_and_tag.split_at(split);
    let failed = |e| Error::crypto_from("AES-256-GCM decryption failed", e);
    let mut crypter =
        Crypter::new(Cipher::aes_256_gcm(), Mode::Decrypt, key, Some(nonce)).map_err(failed)?;
    if !aad.is_empty() {
        crypter.aad_update(aad).map_err(failed)?;
    }
    crypter.set_tag(tag).map_err(failed)?;
    let mut out = vec![0; ciphertext.len() + GCM_TAG_LEN];
    let n = crypter.update(ciphertext, &mut out).map_err(failed)?;
    match crypter.finalize(&mut out[n..]) {
        Ok(m) => {
            out.truncate(n + m);
            Ok(out)
        }
        Err(_) => {
            // Unauthenticated plaintext never leaves this function.
            zeroize::Zeroize::zeroize(&mut out);
            Err(Error::crypto(
                "AES-256-GCM authentication failed: wrong key, nonce or associated data, or an \
                 altered ciphertext",
            ))
        }
    }
}

/// AES-256-ECB encryption with PKCS#7 padding (APIv2 refund callbacks' `req_info`).
///
/// ```
/// use wechatpay::crypto::{aes_256_ecb_encrypt, base64_encode};
///
/// let sealed = aes_256_ecb_encrypt(b"0123456789abcdef0123456789abcdef", b"hello").unwrap();
/// assert_eq!(base64_encode(&sealed), "pZwJZBLuy3mDACEQT4YTBw==");
/// ```
pub fn aes_256_ecb_encrypt(key: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    check_key(key, "AES-256-ECB")?;
    openssl::symm::encrypt(Cipher::aes_256_ecb(), key, None, plaintext)
        .map_err(|e| Error::crypto_from("AES-256-ECB encryption failed", e))
}

/// AES-256-ECB decryption with PKCS#7 padding. A length that is not a multiple of 16 or a bad
/// padding (wrong key, damaged data) is a [`Crypto`](crate::ErrorKind::Crypto) error.
///
/// ```
/// use wechatpay::crypto::{aes_256_ecb_decrypt, base64_decode};
///
/// let key = b"0123456789abcdef0123456789abcdef";
/// let sealed = base64_decode("pZwJZBLuy3mDACEQT4YTBw==").unwrap();
/// assert_eq!(aes_256_ecb_decrypt(key, &sealed).unwrap(), b"hello");
/// ```
pub fn aes_256_ecb_decrypt(key: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>> {
    check_key(key, "AES-256-ECB")?;
    if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(Error::crypto(format!(
            "AES-256-ECB: the ciphertext is {} bytes, not a positive multiple of 16",
            ciphertext.len()
        )));
    }
    openssl::symm::decrypt(Cipher::aes_256_ecb(), key, None, ciphertext).map_err(|_| {
        Error::crypto(
            "AES-256-ECB decryption failed: bad PKCS#7 padding (wrong key or damaged data)",
        )
    })
}

/// The 32-byte APIv3 key (`APIv3密钥`) a merchant sets in the WeChat Pay console: the AES-256-GCM
/// key of callbacks and of `/v3/certificates`.
///
/// Its bytes are used as they are (the key is 32 ASCII characters). `Debug` never shows it, and
/// the memory is overwritten (best effort) when it is dropped.
///
/// ```
/// use wechatpay::crypto::Apiv3Key;
///
/// let key = Apiv3Key::new("0123456789abcdef0123456789abcdef").unwrap();
/// assert_eq!(format!("{key:?}"), "Apiv3Key(..)");
/// let sealed = key.encrypt(b"0123456789ab", b"certificate", b"pem").unwrap();
/// assert_eq!(key.decrypt(b"0123456789ab", b"certificate", &sealed).unwrap(), b"pem");
///
/// let err = Apiv3Key::new("too short").unwrap_err();
/// assert_eq!(err.kind(), wechatpay::ErrorKind::Config);
/// assert_eq!(err.to_string(), "configuration error: the APIv3 key must be exactly 32 bytes, found 9");
/// ```
#[derive(Clone)]
pub struct Apiv3Key {
    /// On the heap, so that moving the key moves a pointer, not a copy of the bytes.
    bytes: Box<[u8; 32]>,
}

impl Apiv3Key {
    /// The key, exactly 32 bytes; any other length is a [`Config`](crate::ErrorKind::Config)
    /// error that gives the length (and never the key).
    pub fn new(key: impl AsRef<[u8]>) -> Result<Apiv3Key> {
        let key = key.as_ref();
        if key.len() != 32 {
            let hint = if key.last().is_some_and(u8::is_ascii_whitespace) {
                " (it ends with whitespace: a line break read from a file?)"
            } else {
                ""
            };
            return Err(Error::config(format!(
                "the APIv3 key must be exactly 32 bytes, found {}{hint}",
                key.len()
            )));
        }
        // Copied straight to the heap: no copy is left on the stack.
        let mut bytes = Box::new([0u8; 32]);
        bytes.copy_from_slice(key);
        Ok(Apiv3Key { bytes })
    }

    /// [`aes_256_gcm_encrypt`] with this key.
    pub fn encrypt(&self, nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        aes_256_gcm_encrypt(&self.bytes[..], nonce, aad, plaintext)
    }

    /// [`aes_256_gcm_decrypt`] with this key.
    pub fn decrypt(&self, nonce: &[u8], aad: &[u8], ciphertext_and_tag: &[u8]) -> Result<Vec<u8>> {
        aes_256_gcm_decrypt(&self.bytes[..], nonce, aad, ciphertext_and_tag)
    }

    /// Decrypts WeChat Pay's `{nonce, associated_data, ciphertext}` triple as it appears in a
    /// callback's `resource` or in `/v3/certificates`' `encrypt_certificate`: the nonce and
    /// associated data as text (their UTF-8 bytes are used), the ciphertext base64.
    pub fn decrypt_base64(
        &self,
        nonce: &str,
        associated_data: &str,
        ciphertext: &str,
    ) -> Result<Vec<u8>> {
        let sealed = base64_decode(ciphertext)?;
        self.decrypt(nonce.as_bytes(), associated_data.as_bytes(), &sealed)
    }
}

impl fmt::Debug for Apiv3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Apiv3Key(..)")
    }
}

impl Drop for Apiv3Key {
    fn drop(&mut self) {
        // Volatile writes: not optimised away.
        zeroize::Zeroize::zeroize(&mut self.bytes[..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_an_apiv3_key_moves_a_pointer_not_the_key() {
        assert_eq!(
            std::mem::size_of::<Apiv3Key>(),
            std::mem::size_of::<usize>()
        );
        let key = Apiv3Key::new("0123456789abcdef0123456789abcdef").unwrap();
        let moved = Box::new(key);
        let sealed = moved.encrypt(b"0123456789ab", b"", b"x").unwrap();
        assert_eq!(moved.decrypt(b"0123456789ab", b"", &sealed).unwrap(), b"x");
    }
}
