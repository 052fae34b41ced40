//! A client and certificates that never reach a server: for tests that only build requests,
//! load keys or fill a key ring.

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::x509::{X509, X509NameBuilder};
use wechatpay::Client;

use super::keys::now_unix;

/// The public key id [`offline_client`] trusts (and encrypts sensitive fields with).
pub const OFFLINE_PUB_KEY_ID: &str = "PUB_KEY_ID_0000000000000000000000000000";

/// A client with throwaway keys, aimed at a port nothing listens on (`127.0.0.1:9`): it
/// prepares requests and encrypts fields under [`OFFLINE_PUB_KEY_ID`].
pub fn offline_client() -> Client {
    let key = openssl::rsa::Rsa::generate(2048)
        .and_then(|k| k.private_key_to_pem())
        .expect("openssl can generate a key");
    let public = openssl::rsa::Rsa::private_key_from_pem(&key)
        .and_then(|k| k.public_key_to_pem())
        .expect("a fresh key has a public half");
    Client::builder()
        .mchid("1900000000")
        .serial("0000000000000000000000000000000000000000")
        .private_key(key)
        .platform_key(OFFLINE_PUB_KEY_ID, public)
        .base_uri("http://127.0.0.1:9/")
        .allow_insecure_http(true)
        .build()
        .expect("the offline client builds")
}

/// A self-signed certificate with this serial, valid from a day ago for `valid_secs`, as PEM.
pub fn certificate(serial: &[u8], valid_secs: i64) -> Vec<u8> {
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "wechatpay test").unwrap();
    let name = name.build();
    let now = now_unix();
    let mut builder = X509::builder().unwrap();
    builder.set_version(2).unwrap();
    let serial = Asn1Integer::from_bn(&BigNum::from_slice(serial).unwrap()).unwrap();
    builder.set_serial_number(&serial).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    let not_before = Asn1Time::from_unix(now - 86_400).unwrap();
    let not_after = Asn1Time::from_unix(now - 86_400 + valid_secs).unwrap();
    builder.set_not_before(&not_before).unwrap();
    builder.set_not_after(&not_after).unwrap();
    builder
        .sign(&key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    builder.build().to_pem().unwrap()
}
