//! Builders of `wechatpay::Client`s for the test identity ([`super::keys`]).

use wechatpay::{Client, ClientBuilder};

use super::keys::{keys, mchid};

/// A server the client can be aimed at.
pub trait Server {
    /// `http://127.0.0.1:<port>/`
    fn base_uri(&self) -> String;
}

impl Server for super::scripted::TestServer {
    fn base_uri(&self) -> String {
        self.base_uri()
    }
}

impl Server for super::scripted::V2Server {
    fn base_uri(&self) -> String {
        self.base_uri()
    }
}

/// A builder with the merchant identity and both platform keys (certificate and public key).
pub fn identity() -> ClientBuilder {
    let k = keys();
    Client::builder()
        .mchid(mchid())
        .serial(&k.merchant_serial)
        .private_key(&k.merchant_key_pkcs8_pem)
        .platform_key(&k.platform_serial, &k.platform_cert_pem)
        .platform_key(&k.pubkey_id, &k.pubkey_spki_pem)
}

/// [`identity`] aimed at the server.
pub fn builder(server: &impl Server) -> ClientBuilder {
    identity()
        .base_uri(server.base_uri())
        .allow_insecure_http(true)
}

/// The sandbox's merchant (id, serial, private key), aimed at `sandbox` over plain HTTP, with
/// no platform key: each test adds the keys it trusts.
pub fn merchant_of(sandbox: &wechatpay_sandbox::Sandbox) -> ClientBuilder {
    let id = sandbox.identity();
    Client::builder()
        .mchid(&id.mchid)
        .serial(&id.merchant_serial)
        .private_key(&id.merchant_private_key_pem)
        .base_uri(sandbox.base_uri())
        .allow_insecure_http(true)
}

/// [`builder`], built.
pub fn client(server: &impl Server) -> Client {
    builder(server).build().expect("test client builds")
}
