//! `GET /v3/certificates` through the real client; the certificate decrypts (with the client's
//! toolkit and with OpenSSL directly) to the platform certificate.

use openssl::symm::{Cipher, decrypt_aead};
use serde_json::{Value, json};
use wechatpay::crypto::{Apiv3Key, Certificate};
use wechatpay_sandbox::{Sandbox, SignMode};

fn check(sandbox: &Sandbox, answer: &Value) {
    let id = sandbox.identity();
    let entry = &answer["data"][0];
    assert_eq!(entry["serial_no"], id.platform_serial.as_str());
    let encrypted = &entry["encrypt_certificate"];
    assert_eq!(encrypted["algorithm"], "AEAD_AES_256_GCM");
    assert_eq!(encrypted["associated_data"], "certificate");
    let nonce = encrypted["nonce"].as_str().unwrap();
    let ciphertext = encrypted["ciphertext"].as_str().unwrap();

    let pem = Apiv3Key::new(&id.apiv3_key)
        .unwrap()
        .decrypt_base64(nonce, "certificate", ciphertext)
        .unwrap();
    assert_eq!(pem, id.platform_certificate_pem.as_bytes());
    let cert = Certificate::load(&pem).unwrap();
    assert_eq!(cert.serial(), id.platform_serial);

    // Independently.
    let sealed = openssl::base64::decode_block(ciphertext).unwrap();
    let (body, tag) = sealed.split_at(sealed.len() - 16);
    let plain = decrypt_aead(
        Cipher::aes_256_gcm(),
        id.apiv3_key.as_bytes(),
        Some(nonce.as_bytes()),
        b"certificate",
        body,
        tag,
    )
    .unwrap();
    assert_eq!(plain, pem);
    for field in ["effective_time", "expire_time"] {
        assert!(entry[field].as_str().unwrap().ends_with("+08:00"));
    }
}

#[test]
fn certificates_blocking_both_modes() {
    let sandbox = Sandbox::start().unwrap();
    for mode in [SignMode::Certificate, SignMode::PublicKey] {
        sandbox.set_sign_mode(mode);
        let answer: Value = sandbox.client()["v3/certificates"]
            .get(json!({}))
            .unwrap()
            .json()
            .unwrap();
        check(&sandbox, &answer);
    }
}

#[tokio::test]
async fn certificates_async() {
    let sandbox = Sandbox::start_async().await.unwrap();
    let answer: Value = sandbox.client()["v3/certificates"]
        .get_async(json!({}))
        .await
        .unwrap()
        .json()
        .unwrap();
    check(&sandbox, &answer);
}
