//! Builders of `wechatpay::Client`s for the test server's identity.

use wechatpay::{Client, ClientBuilder};

use super::keys::{MCHID, keys};
use super::server::TestServer;

/// A builder with the merchant identity and both platform keys (certificate and public key).
pub fn identity() -> ClientBuilder {
    let k = keys();
    Client::builder()
        .mchid(MCHID)
        .serial(&k.merchant_serial)
        .private_key(&k.merchant_key_pkcs8_pem)
        .platform_key(&k.platform_serial, &k.platform_cert_pem)
        .platform_key(&k.pubkey_id, &k.pubkey_spki_pem)
}

/// [`identity`] aimed at the server.
pub fn builder(server: &TestServer) -> ClientBuilder {
    identity().base_uri(server.base_uri())
}

/// [`builder`], built.
pub fn client(server: &TestServer) -> Client {
    builder(server).build().expect("test client builds")
}
