//! Real mutual TLS: the sandbox's mutual-TLS port, which requires a client certificate issued
//! by the sandbox CA. `security: true` presents the merchant certificate (the identity's, as a
//! PEM pair or PKCS#12); without it, or with a certificate from another CA, the handshake
//! fails.

mod support;

use serde_json::json;
use support::scripted::V2Server;
use support::{keys, sandbox_merchant, stranger};
use wechatpay::{Client, ClientBuilder, ErrorKind};
use wechatpay_sandbox::{Answer, V2SignType};

const MCH_ID: &str = "1900000109";

fn refund_server() -> V2Server {
    V2Server::start_mutual_tls(|request| {
        Answer::v2_signed(
            &[
                ("return_code", "SUCCESS"),
                ("result_code", "SUCCESS"),
                ("mch_id", MCH_ID),
                (
                    "out_refund_no",
                    request.field("out_refund_no").unwrap_or(""),
                ),
                ("refund_fee", "100"),
            ],
            V2SignType::Md5,
        )
    })
}

/// The sandbox's CA: it issued the mutual-TLS port's server certificate.
fn ca_pem() -> &'static str {
    &keys().identity.ca_certificate_pem
}

/// The sandbox's APIv2 secret: the one it checks and signs with.
fn secret() -> &'static str {
    &keys().apiv2_secret
}

fn builder(server: &V2Server) -> ClientBuilder {
    Client::builder()
        .mchid(MCH_ID)
        .secret(secret())
        .base_uri(server.base_uri())
        .add_root_certificate(ca_pem())
}

fn refund() -> serde_json::Value {
    json!({
        "appid": "wx2421b1c4370ec43b", "mch_id": MCH_ID, "out_trade_no": "1217752501201407033233368018",
        "out_refund_no": "1217752501201407033233368019", "total_fee": 100, "refund_fee": 100,
    })
}

#[test]
fn a_pem_pair_is_presented_with_security_true() {
    let server = refund_server();
    let m = sandbox_merchant();
    let client = builder(&server)
        .merchant_cert(m.cert_pem())
        .merchant_key(m.key_pem())
        .build()
        .unwrap();
    let answer = client["v2/secapi/pay/refund"]
        .post(json!({ "xml": refund(), "security": true }))
        .unwrap();
    assert!(answer.signature_verified());
    assert_eq!(
        answer.xml().unwrap()["out_refund_no"],
        "1217752501201407033233368019"
    );
    assert_eq!(server.last().target, "/secapi/pay/refund");
    assert_eq!(server.last().verdict, Ok("MD5"));

    // Async, and with the Rust-style option.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(
            client["v2/secapi/pay/refund"]
                .post_async(wechatpay::Options::new().xml(&refund()).security()),
        )
        .unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn pkcs12_is_presented_with_security_true() {
    let server = refund_server();
    let der = sandbox_merchant().pkcs12(MCH_ID);
    let client = builder(&server)
        .merchant_pkcs12(&der, MCH_ID)
        .build()
        .unwrap();
    client["v2/secapi/pay/refund"]
        .post(json!({ "xml": refund(), "security": true }))
        .unwrap();
    assert_eq!(server.requests().len(), 1);

    let err = builder(&server)
        .merchant_pkcs12(&der, "wrong")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("wrong passphrase"), "{err}");
    assert!(!err.to_string().contains(MCH_ID), "{err}");
    let err = builder(&server)
        .merchant_pkcs12(b"garbage", MCH_ID)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("expected DER PKCS#12"), "{err}");
    let err = builder(&server)
        .merchant_pkcs12(&der, "nul\0byte")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("NUL"), "{err}");
}

#[test]
fn without_security_the_handshake_fails_with_a_transport_error() {
    let server = refund_server();
    let m = sandbox_merchant();
    let client = builder(&server)
        .merchant_cert(m.cert_pem())
        .merchant_key(m.key_pem())
        .build()
        .unwrap();
    let err = client["v2/secapi/pay/refund"]
        .post(json!({ "xml": refund() }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(server.requests().is_empty());

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let err = runtime
        .block_on(client["v2/secapi/pay/refund"].post_async(json!({ "xml": refund() })))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
}

#[test]
fn a_certificate_from_another_ca_is_refused_by_the_server() {
    let server = refund_server();
    let s = stranger();
    for client in [
        builder(&server)
            .merchant_cert(s.cert_pem())
            .merchant_key(s.key_pem())
            .build()
            .unwrap(),
        builder(&server)
            .merchant_pkcs12(s.pkcs12("x"), "x")
            .build()
            .unwrap(),
    ] {
        let err = client["v2/secapi/pay/refund"]
            .post(json!({ "xml": refund(), "security": true }))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    }
    assert!(server.requests().is_empty());
}

#[test]
fn the_server_certificate_must_be_trusted() {
    let server = refund_server();
    let m = sandbox_merchant();
    let client = Client::builder()
        .mchid(MCH_ID)
        .secret(secret())
        .base_uri(server.base_uri())
        .merchant_cert(m.cert_pem())
        .merchant_key(m.key_pem())
        .build()
        .unwrap();
    let err = client["v2/secapi/pay/refund"]
        .post(json!({ "xml": refund(), "security": true }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
}

#[test]
fn the_merchant_certificate_and_key_load_in_every_form() {
    use openssl::pkey::PKey;
    use openssl::symm::Cipher;
    use openssl::x509::X509;
    use wechatpay::crypto::base64_encode;

    let server = refund_server();
    let m = sandbox_merchant();
    let cert_der = X509::from_pem(&m.cert_pem()).unwrap().to_der().unwrap();
    let key = PKey::private_key_from_pem(&m.key_pem()).unwrap();
    let encrypted = key
        .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"s3cret")
        .unwrap();
    let pkcs8 = format!(
        "private.pkcs8://{}",
        base64_encode(&key.private_key_to_pkcs8().unwrap())
    );
    let dir = std::env::temp_dir().join(format!("wechatpay-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert_file = dir.join("apiclient_cert.der");
    std::fs::write(&cert_file, &cert_der).unwrap();
    let cert_url = format!("file://{}", cert_file.display());

    let forms: [(&str, ClientBuilder); 3] = [
        (
            "DER certificate, PKCS#8 DER key",
            builder(&server)
                .merchant_cert(&cert_der)
                .merchant_key(key.private_key_to_pkcs8().unwrap()),
        ),
        (
            "file:// certificate, private.pkcs8:// key",
            builder(&server)
                .merchant_cert(&cert_url)
                .merchant_key(&pkcs8),
        ),
        (
            "PEM certificate, passphrase-protected key",
            builder(&server)
                .merchant_cert(m.cert_pem())
                .merchant_key_with_passphrase(&encrypted, "s3cret"),
        ),
    ];
    for (n, (form, builder)) in forms.into_iter().enumerate() {
        let client = builder.build().unwrap_or_else(|e| panic!("{form}: {e}"));
        client["v2/secapi/pay/refund"]
            .post(json!({ "xml": refund(), "security": true }))
            .unwrap_or_else(|e| panic!("{form}: {e}"));
        assert_eq!(server.requests().len(), n + 1, "{form}");
    }

    // An encrypted key needs its passphrase, and the right one.
    let err = builder(&server)
        .merchant_cert(m.cert_pem())
        .merchant_key(&encrypted)
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("configuration error: merchant_key: private key: expected"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("`.merchant_key_with_passphrase(..)` (APIv2 mutual TLS)"),
        "{err}"
    );
    let err = builder(&server)
        .merchant_cert(m.cert_pem())
        .merchant_key_with_passphrase(&encrypted, "wrong")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("merchant_key: "), "{err}");
    // A key where the certificate belongs is named as such.
    let err = builder(&server)
        .merchant_cert(&pkcs8)
        .merchant_key(&pkcs8)
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("merchant_cert: expected an X.509 certificate"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn certificate_configuration_errors_are_named() {
    let server = refund_server();
    let m = sandbox_merchant();
    let s = stranger();
    let cases: [(ClientBuilder, &str); 6] = [
        (
            builder(&server).merchant_cert(m.cert_pem()),
            "merchant_cert needs its private key",
        ),
        (
            builder(&server).merchant_key(m.key_pem()),
            "merchant_key needs its certificate",
        ),
        (
            builder(&server)
                .merchant_cert(m.cert_pem())
                .merchant_key(s.key_pem()),
            "do not belong together",
        ),
        (
            builder(&server)
                .merchant_cert(b"-----BEGIN PRIVATE KEY-----\n")
                .merchant_key(m.key_pem()),
            "merchant_cert: expected a PEM `CERTIFICATE`",
        ),
        (
            builder(&server)
                .merchant_cert(m.cert_pem())
                .merchant_key(m.key_pem())
                .merchant_pkcs12(m.pkcs12("p"), "p"),
            "set twice",
        ),
        (
            builder(&server).add_root_certificate("not a certificate"),
            "add_root_certificate: expected a PEM `CERTIFICATE`",
        ),
    ];
    for (builder, expected) in cases {
        let err = builder.build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains(expected), "{err} / {expected}");
    }
}
