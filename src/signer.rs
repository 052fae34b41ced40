//! Who signs requests: the [`Signer`] trait and its default, the merchant [`PrivateKey`].

use std::future::Future;
use std::pin::Pin;

use crate::crypto::PrivateKey;
use crate::error::Result;

/// The future a [`Signer`] returns.
pub type SignFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>>> + Send + 'a>>;

/// Produces RSASSA-PKCS1-v1_5 / SHA-256 signatures with the merchant API key.
///
/// The client builds the message (see [`signature::request_message`](crate::signature::request_message))
/// and the `Authorization` header; a signer only signs. The default is the [`PrivateKey`] given
/// to [`ClientBuilder::private_key`](crate::ClientBuilder::private_key). Replace it with
/// [`ClientBuilder::signer`](crate::ClientBuilder::signer) to keep the key elsewhere, for
/// example in a remote KMS or an HSM: the method returns a future, so a remote call does not
/// block the async client (the blocking client drives the same future).
///
/// ```
/// use wechatpay::signer::{SignFuture, Signer};
///
/// /// Forwards to a key held elsewhere (here: an in-process key, to keep the example small).
/// struct Kms(wechatpay::crypto::PrivateKey);
///
/// impl Signer for Kms {
///     fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a> {
///         Box::pin(async move { self.0.sign_sha256(message) })
///     }
/// }
/// ```
pub trait Signer: Send + Sync + 'static {
    /// Signs `message`, returning the raw signature bytes.
    fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a>;
}

impl Signer for PrivateKey {
    fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a> {
        Box::pin(std::future::ready(self.sign_sha256(message)))
    }
}
