//! Wall-time benchmarks of the merchant toolkit's crypto: RSA-OAEP of a sensitive field,
//! AES-256-GCM decryption of a typical callback resource, and a whole callback (verify +
//! decrypt), each next to the bare OpenSSL operation it wraps.
//!
//! Run with `cargo bench --bench notify`; see docs/performance.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use openssl::rsa::Padding;
use openssl::symm::Cipher;
use serde::Deserialize;
use support::{APIV3_KEY, CallbackSpec, keys};
use wechatpay::crypto::{Apiv3Key, PrivateKey, PublicKey, base64_decode};
use wechatpay::notify::NotificationParser;
use wechatpay::verifier::PlatformVerifier;
use wechatpay_sandbox::SignMode;

/// An 18-character ID-card-like number, the typical sensitive field.
const ID_CARD: &str = "110101199003070000";

fn oaep(c: &mut Criterion) {
    let k = keys();
    let public = PublicKey::load(&k.pubkey_spki_pem).unwrap();
    let private = PrivateKey::load(k.pubkey_private.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let sealed = public.encrypt_oaep(ID_CARD.as_bytes()).unwrap();
    let sealed_b64 = public.encrypt_oaep_base64(ID_CARD).unwrap();
    let rsa = k.pubkey_private.rsa().unwrap();

    let mut g = c.benchmark_group("oaep");
    g.bench_function("encrypt_base64", |b| {
        b.iter(|| public.encrypt_oaep_base64(black_box(ID_CARD)).unwrap())
    });
    g.bench_function("encrypt", |b| {
        b.iter(|| public.encrypt_oaep(black_box(ID_CARD.as_bytes())).unwrap())
    });
    g.bench_function("bare_openssl_encrypt", |b| {
        let mut out = vec![0u8; 256];
        b.iter(|| {
            rsa.public_encrypt(black_box(ID_CARD.as_bytes()), &mut out, Padding::PKCS1_OAEP)
                .unwrap()
        })
    });
    g.bench_function("decrypt_base64", |b| {
        b.iter(|| private.decrypt_oaep_base64(black_box(&sealed_b64)).unwrap())
    });
    g.bench_function("decrypt", |b| {
        b.iter(|| private.decrypt_oaep(black_box(&sealed)).unwrap())
    });
    g.bench_function("bare_openssl_decrypt", |b| {
        let mut out = vec![0u8; 256];
        b.iter(|| {
            rsa.private_decrypt(black_box(&sealed), &mut out, Padding::PKCS1_OAEP)
                .unwrap()
        })
    });
    g.finish();
}

fn gcm(c: &mut Criterion) {
    let spec = CallbackSpec::payment();
    let envelope = spec.envelope();
    let resource = &envelope["resource"];
    let nonce = resource["nonce"].as_str().unwrap().to_owned();
    let aad = resource["associated_data"].as_str().unwrap().to_owned();
    let ciphertext = resource["ciphertext"].as_str().unwrap().to_owned();
    eprintln!(
        "gcm: resource plaintext {} bytes, ciphertext {} base64 characters",
        spec.plaintext.len(),
        ciphertext.len()
    );
    let key = Apiv3Key::new(APIV3_KEY).unwrap();
    let raw = base64_decode(&ciphertext).unwrap();
    let (body, tag) = raw.split_at(raw.len() - 16);

    let mut g = c.benchmark_group("gcm");
    g.bench_function("decrypt_resource_base64", |b| {
        b.iter(|| {
            key.decrypt_base64(black_box(&nonce), black_box(&aad), black_box(&ciphertext))
                .unwrap()
        })
    });
    g.bench_function("decrypt_resource", |b| {
        b.iter(|| {
            key.decrypt(nonce.as_bytes(), aad.as_bytes(), black_box(&raw))
                .unwrap()
        })
    });
    g.bench_function("bare_openssl_decrypt", |b| {
        b.iter(|| {
            openssl::symm::decrypt_aead(
                Cipher::aes_256_gcm(),
                APIV3_KEY.as_bytes(),
                Some(nonce.as_bytes()),
                aad.as_bytes(),
                black_box(body),
                tag,
            )
            .unwrap()
        })
    });
    g.finish();
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Transaction {
    out_trade_no: String,
    transaction_id: String,
    trade_state: String,
    amount: Amount,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Amount {
    total: u64,
    currency: String,
}

fn callback(c: &mut Criterion) {
    let k = keys();
    let mut verifier = PlatformVerifier::new();
    verifier.insert(
        k.platform_serial.clone(),
        PublicKey::load(&k.platform_cert_pem).unwrap(),
    );
    verifier.insert(
        k.pubkey_id.clone(),
        PublicKey::load(&k.pubkey_spki_pem).unwrap(),
    );
    let parser = NotificationParser::new(APIV3_KEY, verifier).unwrap();
    // Signed now: the group runs well inside the 300 s window.
    let callback = CallbackSpec::payment().signer(SignMode::PublicKey).render();
    eprintln!("callback: body {} bytes", callback.body.len());
    parser.parse(&callback.headers, &callback.body).unwrap();

    let mut g = c.benchmark_group("callback");
    g.bench_function("verify", |b| {
        b.iter(|| {
            parser
                .verify(black_box(&callback.headers), black_box(&callback.body))
                .unwrap()
        })
    });
    g.bench_function("verify+decrypt", |b| {
        b.iter(|| {
            parser
                .parse(black_box(&callback.headers), black_box(&callback.body))
                .unwrap()
        })
    });
    g.bench_function("verify+decrypt+json", |b| {
        b.iter(|| {
            parser
                .parse(black_box(&callback.headers), black_box(&callback.body))
                .unwrap()
                .json::<Transaction>()
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, oaep, gcm, callback);
criterion_main!(benches);
