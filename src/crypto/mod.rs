//! Cryptographic building blocks, all on OpenSSL.
//!
//! - Keys: [`PrivateKey`] (the merchant API key: RSA-SHA256 signing, RSA-OAEP decryption),
//!   [`PublicKey`] (a platform certificate's key or a WeChat Pay public key: verification,
//!   RSA-OAEP encryption) and [`Certificate`] (serial, validity, public key). Each loads from
//!   every form wechatpay-php accepts: PKCS#1 / PKCS#8 / SPKI / X.509 PEM, DER,
//!   `private.pkcs1://`, `private.pkcs8://`, `public.pkcs1://`, `public.spki://` bare base64,
//!   `file://` paths, and passphrase-protected private keys
//!   ([`PrivateKey::load_with_passphrase`]). OpenSSL never prompts on a terminal.
//! - AES-256-GCM ([`aes_256_gcm_encrypt`], [`aes_256_gcm_decrypt`], [`Apiv3Key`]) for callbacks
//!   and platform certificates; AES-256-ECB with PKCS#7 ([`aes_256_ecb_encrypt`],
//!   [`aes_256_ecb_decrypt`]) for APIv2 refund callbacks.
//! - Digests: [`md5`], [`sha1`], [`sha256`], [`hmac_sha256`], [`hex_lower`], [`hex_upper`],
//!   and [`constant_time_eq`] to compare MACs.
//! - [`nonce`]: 32 random `[0-9A-Za-z]` characters from OpenSSL's CSPRNG.
//! - [`base64_encode`] / [`base64_decode`]: standard base64 with padding.
//!
//! Errors: unusable key material is a [`Config`](crate::ErrorKind::Config) error that says what
//! was expected and what was found; an operation that fails (wrong tag, wrong key length, bad
//! padding) is a [`Crypto`](crate::ErrorKind::Crypto) error. No error, and no `Debug` output,
//! ever shows a key, the APIv3 key or a decrypted plaintext.
//!
//! PKCS#1 v1.5 *decryption* is deliberately absent (Bleichenbacher / Marvin).
//!
//! ```
//! use wechatpay::crypto::{PrivateKey, base64_decode, base64_encode};
//!
//! # let pem = openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap();
//! let merchant = PrivateKey::load(&pem)?;              // or "file:///path/apiclient_key.pem"
//! let public = merchant.public_key()?;
//!
//! // A sensitive field, encrypted for its owner and decrypted by it.
//! let field = public.encrypt_oaep_base64("110101199003070000")?;
//! assert_eq!(merchant.decrypt_oaep_base64(&field)?, "110101199003070000");
//!
//! // A signature, as WeChat Pay checks it.
//! let signature = merchant.sign_sha256(b"GET\n/v3/certificates\n1554208460\nNONCE\n\n")?;
//! assert!(public.verify_sha256(b"GET\n/v3/certificates\n1554208460\nNONCE\n\n", &signature));
//! # let _ = (base64_decode, base64_encode);
//! # Ok::<(), wechatpay::Error>(())
//! ```

mod aes;
mod base64;
mod cert;
mod contexts;
mod der;
mod digest;
pub(crate) mod load;

pub(crate) use load::read_key_file;
mod nonce;
mod pem;
pub(crate) mod rsa;

pub use aes::{
    Apiv3Key, aes_256_ecb_decrypt, aes_256_ecb_encrypt, aes_256_gcm_decrypt, aes_256_gcm_encrypt,
};
pub use base64::{base64_decode, base64_encode};
pub use cert::Certificate;
pub use digest::{constant_time_eq, hex_lower, hex_upper, hmac_sha256, md5, sha1, sha256};
pub use nonce::nonce;
pub use rsa::{PrivateKey, PublicKey};
