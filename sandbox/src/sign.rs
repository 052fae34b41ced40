//! The sandbox's own cryptography (OpenSSL directly, nothing from `wechatpay`): RSA-SHA256
//! signatures, the signed response message, AES-256-GCM under the APIv3 key.

use openssl::hash::MessageDigest;
use openssl::pkey::{HasPrivate, HasPublic, PKeyRef};
use openssl::sign::{Signer, Verifier};
use openssl::symm::{Cipher, encrypt_aead};

use crate::error::Result;
use crate::util::base64;

/// The only authorization and signature scheme of APIv3.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// `TIMESTAMP\nNONCE\nBODY\n`: what a response or callback signature covers.
pub fn response_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(nonce.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(body);
    message.push(b'\n');
    message
}

/// `METHOD\nTARGET\nTIMESTAMP\nNONCE\nBODY\n`: what a request signature covers.
pub fn request_message(
    method: &str,
    target: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut message = Vec::with_capacity(method.len() + target.len() + body.len() + 64);
    for line in [method, target, timestamp, nonce] {
        message.extend_from_slice(line.as_bytes());
        message.push(b'\n');
    }
    message.extend_from_slice(body);
    message.push(b'\n');
    message
}

/// Base64 of RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
pub(crate) fn rsa_sign<T: HasPrivate>(key: &PKeyRef<T>, message: &[u8]) -> Result<String> {
    let mut signer = Signer::new(MessageDigest::sha256(), key)?;
    signer.update(message)?;
    Ok(base64(&signer.sign_to_vec()?))
}

/// Checks a base64 RSASSA-PKCS1-v1_5 / SHA-256 signature; `Err` says why it fails.
pub(crate) fn rsa_verify<T: HasPublic>(
    key: &PKeyRef<T>,
    message: &[u8],
    signature_b64: &str,
) -> Result<(), String> {
    let raw = openssl::base64::decode_block(signature_b64)
        .map_err(|_| "signature is not valid base64".to_owned())?;
    let mut verifier = Verifier::new(MessageDigest::sha256(), key)
        .map_err(|e| format!("cannot create a verifier: {e}"))?;
    verifier
        .update(message)
        .map_err(|e| format!("verifier update failed: {e}"))?;
    match verifier.verify(&raw) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err("signature verification failed".to_owned()),
    }
}

/// AES-256-GCM under the APIv3 key: base64 of ciphertext || 16-byte tag.
pub(crate) fn aead_encrypt(
    apiv3_key: &str,
    nonce: &str,
    associated_data: &str,
    plaintext: &[u8],
) -> Result<String> {
    let mut tag = [0u8; 16];
    let mut ciphertext = encrypt_aead(
        Cipher::aes_256_gcm(),
        apiv3_key.as_bytes(),
        Some(nonce.as_bytes()),
        associated_data.as_bytes(),
        plaintext,
        &mut tag,
    )?;
    ciphertext.extend_from_slice(&tag);
    Ok(base64(&ciphertext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_gcm_vector() {
        let out = aead_encrypt(
            "0123456789abcdef0123456789abcdef",
            "0123456789ab",
            "certificate",
            "hello wechatpay 你好 微信支付".as_bytes(),
        )
        .unwrap();
        assert_eq!(
            out,
            "8cyLVizq736WbULJw2UFB6Y7dCqydUqOmiErpmgeDQbOxP/z/JKqUOKnGFY/hwPRUEBg"
        );
    }

    #[test]
    fn messages() {
        assert_eq!(response_message("1", "n", b"{}"), b"1\nn\n{}\n");
        assert_eq!(
            request_message("GET", "/v3/x?a=1", "1", "n", b""),
            b"GET\n/v3/x?a=1\n1\nn\n\n"
        );
    }
}
