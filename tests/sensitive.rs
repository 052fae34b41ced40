//! Sensitive fields: the `encrypt` option (requests) and `decrypt_fields` (responses), checked
//! with independent OAEP code (openssl's RSA with PKCS1_OAEP padding: SHA-1, MGF1-SHA-1).

mod support;

use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Padding;
use serde_json::{Value, json};
use support::keys;
use support::scripted::TestServer;
use wechatpay::{ErrorKind, Options};
use wechatpay_sandbox::Answer;

fn oaep_decrypt(key: &PKey<Private>, b64: &str) -> String {
    let rsa = key.rsa().unwrap();
    let cipher = openssl::base64::decode_block(b64).unwrap();
    let mut out = vec![0; rsa.size() as usize];
    let n = rsa
        .private_decrypt(&cipher, &mut out, Padding::PKCS1_OAEP)
        .unwrap();
    String::from_utf8(out[..n].to_vec()).unwrap()
}

fn oaep_encrypt(key: &PKey<Public>, plain: &str) -> String {
    let rsa = key.rsa().unwrap();
    let mut out = vec![0; rsa.size() as usize];
    let n = rsa
        .public_encrypt(plain.as_bytes(), &mut out, Padding::PKCS1_OAEP)
        .unwrap();
    openssl::base64::encode_block(&out[..n])
}

fn applyment() -> Value {
    json!({
        "business_code": "1900013511_10000",
        "contact_info": { "contact_name": "张三", "contact_id_number": "110101199003071234", "mobile_phone": "13900000000" },
        "bank": [{ "account_name": "张三", "account_number": "6214830000000000" }],
    })
}

const POINTERS: [&str; 3] = [
    "/contact_info/contact_name",
    "/contact_info/contact_id_number",
    "/bank/0/account_name",
];

#[test]
fn fields_are_encrypted_under_the_preferred_public_key() {
    let server =
        TestServer::start(|_| Answer::json(200, &json!({ "applyment_id": 2000002124775691u64 })));
    let client = support::client(&server);
    client
        .chain("v3/applyment4sub/applyment/")
        .post(json!({ "json": applyment(), "encrypt": POINTERS }))
        .unwrap();
    let r = server.last();
    r.auth_ok(); // signed over the encrypted body
    assert_eq!(
        r.header("wechatpay-serial"),
        Some(keys().pubkey_id.as_str())
    );
    let sent = r.body_json();
    let original = applyment();
    for pointer in POINTERS {
        let cipher = sent.pointer(pointer).unwrap().as_str().unwrap();
        assert_ne!(cipher, original.pointer(pointer).unwrap().as_str().unwrap());
        assert_eq!(
            oaep_decrypt(&keys().pubkey_private, cipher),
            original.pointer(pointer).unwrap().as_str().unwrap()
        );
    }
    // Everything else is sent as it was.
    assert_eq!(sent["contact_info"]["mobile_phone"], "13900000000");
    assert_eq!(sent["bank"][0]["account_number"], "6214830000000000");
}

#[test]
fn the_preferred_key_can_be_a_certificate_and_typed_options_work() {
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::builder(&server)
        .preferred_platform_key(&keys().platform_serial)
        .build()
        .unwrap();
    client
        .chain("v3/x")
        .post(
            Options::new()
                .json(&applyment())
                .encrypt(["/contact_info/contact_id_number"]),
        )
        .unwrap();
    let r = server.last();
    assert_eq!(
        r.header("wechatpay-serial"),
        Some(keys().platform_serial.as_str())
    );
    let cipher = r.body_json()["contact_info"]["contact_id_number"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        oaep_decrypt(&keys().platform_private, &cipher),
        "110101199003071234"
    );
}

#[test]
fn pointer_problems_are_config_errors_naming_the_pointer() {
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::client(&server);
    for (opts, expected) in [
        (
            json!({ "json": applyment(), "encrypt": ["/contact_info/nope"] }),
            "option `encrypt`: `/contact_info/nope` matches nothing",
        ),
        (
            json!({ "json": applyment(), "encrypt": ["/contact_info"] }),
            "option `encrypt`: `/contact_info` points at an object, not a string",
        ),
        (
            json!({ "json": { "n": 1 }, "encrypt": ["/n"] }),
            "option `encrypt`: `/n` points at a number, not a string",
        ),
        (
            json!({ "json": applyment(), "encrypt": ["contact_info"] }),
            "option `encrypt`: `contact_info` is not a JSON Pointer (it must start with `/`)",
        ),
        (
            json!({ "encrypt": ["/a"] }),
            "option `encrypt` needs a `json` body",
        ),
        (
            json!({ "json": {}, "encrypt": "/a" }),
            "option `encrypt` must be an array of JSON Pointer strings, found a string",
        ),
    ] {
        let err = client.chain("v3/x").post(opts).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert_eq!(err.to_string(), format!("configuration error: {expected}"));
    }
    assert!(server.requests().is_empty());

    // A client without platform keys has nothing to encrypt with.
    struct Trusting;
    impl wechatpay::verifier::Verifier for Trusting {
        fn verify(
            &self,
            _: &http::HeaderMap,
            _: &[u8],
        ) -> Result<(), wechatpay::VerificationFailure> {
            Ok(())
        }
    }
    let k = keys();
    let bare = wechatpay::Client::builder()
        .mchid(support::mchid())
        .serial(&k.merchant_serial)
        .private_key(&k.merchant_key_pkcs8_pem)
        .verifier(Trusting)
        .base_uri(server.base_uri())
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let err = bare
        .chain("v3/x")
        .post(json!({ "json": applyment(), "encrypt": POINTERS }))
        .unwrap_err();
    assert!(err.to_string().contains("needs a platform key"), "{err}");
}

#[test]
fn response_fields_are_decrypted_with_the_merchant_key() {
    let merchant_public = keys().merchant_public.clone();
    let server = TestServer::start(move |_| {
        Answer::json(
            200,
            &json!({
                "account_validation": {
                    "account_name": oaep_encrypt(&merchant_public, "张三"),
                    "account_no": oaep_encrypt(&merchant_public, "6214830000000000"),
                    "pay_amount": 124,
                }
            }),
        )
    });
    let client = support::client(&server);
    let mut body: Value = client
        .chain("v3/applyment4sub/applyment/applyment_id/1")
        .get(())
        .unwrap()
        .json()
        .unwrap();
    client
        .decrypt_fields(
            &mut body,
            &[
                "/account_validation/account_name",
                "/account_validation/account_no",
            ],
        )
        .unwrap();
    assert_eq!(body["account_validation"]["account_name"], "张三");
    assert_eq!(body["account_validation"]["account_no"], "6214830000000000");

    let err = client
        .decrypt_fields(&mut body, &["/account_validation/pay_amount"])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "configuration error: decrypt_fields: `/account_validation/pay_amount` points at a number, not a string"
    );
    // Already plain text: not a ciphertext of this key.
    let err = client
        .decrypt_fields(&mut body, &["/account_validation/account_name"])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Crypto, "{err}");
    assert!(!err.to_string().contains("张三"), "{err}");
    assert_eq!(
        client
            .decrypt(&oaep_encrypt(&keys().merchant_public, "ok"))
            .unwrap(),
        "ok"
    );
}
