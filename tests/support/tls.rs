//! TLS material for mutual-TLS tests. Against the sandbox's mutual-TLS port
//! (`Identity::tls_base_uri`, which trusts the sandbox CA `Identity::ca_certificate_pem`):
//! [`sandbox_merchant`], the identity's merchant certificate and key (PEM, or PKCS#12 through
//! [`Pair::pkcs12`]), and [`stranger`], a client certificate from another CA. For a TLS server
//! the client must refuse (no HTTP behind it): [`untrusted_server`].

use std::sync::OnceLock;

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509, X509NameBuilder};

use super::keys::{keys, now_unix};

pub struct Pair {
    pub cert: X509,
    pub key: PKey<Private>,
}

impl Pair {
    pub fn cert_pem(&self) -> Vec<u8> {
        self.cert.to_pem().expect("cert pem")
    }
    pub fn key_pem(&self) -> Vec<u8> {
        self.key.private_key_to_pem_pkcs8().expect("key pem")
    }
    /// PKCS#12 (openssl's default algorithms) protected by `passphrase`.
    pub fn pkcs12(&self, passphrase: &str) -> Vec<u8> {
        Pkcs12::builder()
            .name("merchant")
            .pkey(&self.key)
            .cert(&self.cert)
            .build2(passphrase)
            .expect("pkcs12")
            .to_der()
            .expect("pkcs12 der")
    }
}

/// The sandbox identity's merchant certificate (issued by the sandbox CA) and its private key:
/// the client certificate the sandbox's mutual-TLS port accepts.
pub fn sandbox_merchant() -> &'static Pair {
    static MERCHANT: OnceLock<Pair> = OnceLock::new();
    MERCHANT.get_or_init(|| {
        let identity = &keys().identity;
        Pair {
            cert: X509::from_pem(identity.merchant_certificate_pem.as_bytes())
                .expect("the sandbox's merchant certificate"),
            key: PKey::private_key_from_pem(identity.merchant_private_key_pem.as_bytes())
                .expect("the sandbox's merchant key"),
        }
    })
}

/// A client certificate (CN `1900000109`) issued by a CA of its own, which neither the sandbox
/// nor the tests' servers trust.
pub fn stranger() -> &'static Pair {
    static STRANGER: OnceLock<Pair> = OnceLock::new();
    STRANGER.get_or_init(|| {
        let other_ca = certificate("another CA", None, Kind::Ca);
        certificate("1900000109", Some(&other_ca), Kind::Client)
    })
}

/// A server certificate for 127.0.0.1 issued by a CA of its own, which no client of the tests
/// trusts: a TLS server with it fails every handshake before a byte of a request is sent.
pub fn untrusted_server() -> &'static Pair {
    static SERVER: OnceLock<Pair> = OnceLock::new();
    SERVER.get_or_init(|| {
        let ca = certificate("an untrusted CA", None, Kind::Ca);
        certificate("127.0.0.1", Some(&ca), Kind::Server)
    })
}

enum Kind {
    Ca,
    Server,
    Client,
}

fn certificate(common_name: &str, issuer: Option<&Pair>, kind: Kind) -> Pair {
    let key = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("pkey");
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", common_name).expect("CN");
    let name = name.build();
    let mut serial = BigNum::new().expect("bn");
    serial
        .rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false)
        .expect("rand");
    let now = now_unix();
    let mut b = X509::builder().expect("builder");
    b.set_version(2).expect("v3");
    b.set_serial_number(&Asn1Integer::from_bn(&serial).expect("serial"))
        .expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(issuer.map_or(&name, |i| i.cert.subject_name()))
        .expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::from_unix(now - 3600).expect("nb"))
        .expect("nb");
    b.set_not_after(&Asn1Time::from_unix(now + 86_400).expect("na"))
        .expect("na");
    match kind {
        Kind::Ca => {
            b.append_extension(BasicConstraints::new().critical().ca().build().expect("bc"))
                .expect("bc");
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()
                    .expect("ku"),
            )
            .expect("ku");
        }
        Kind::Server | Kind::Client => {
            b.append_extension(BasicConstraints::new().build().expect("bc"))
                .expect("bc");
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .key_encipherment()
                    .build()
                    .expect("ku"),
            )
            .expect("ku");
            let eku = match kind {
                Kind::Server => ExtendedKeyUsage::new().server_auth().build(),
                _ => ExtendedKeyUsage::new().client_auth().build(),
            };
            b.append_extension(eku.expect("eku")).expect("eku");
            if let Kind::Server = kind {
                let san = SubjectAlternativeName::new()
                    .ip("127.0.0.1")
                    .dns("localhost")
                    .build(&b.x509v3_context(issuer.map(|i| &*i.cert), None))
                    .expect("san");
                b.append_extension(san).expect("san");
            }
        }
    }
    let signing_key = issuer.map_or(&key, |i| &i.key);
    b.sign(signing_key, MessageDigest::sha256()).expect("sign");
    Pair {
        cert: b.build(),
        key,
    }
}
