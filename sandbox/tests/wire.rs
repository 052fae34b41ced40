//! Production on the wire: what the sandbox's answers look like byte for byte, and the requests
//! it accepts as WeChat Pay accepts them. Requests are made and answers checked by hand (raw
//! sockets, OpenSSL), independently of both the sandbox and the client.

mod support;

use openssl::hash::{MessageDigest, hash};
use openssl::symm::{Cipher, decrypt_aead};
use openssl::x509::X509;
use serde_json::{Value, json};
use support::{authorization, raw_request};
use wechatpay_sandbox::{Identity, Sandbox, SignMode};

const SIGNATURE_TYPE: &str = "WECHATPAY2-SHA256-RSA2048";

fn complaint_target() -> &'static str {
    "/v3/merchant-service/complaints-v2/200201820200101080076610000/response"
}

fn complaint_body(identity: &Identity) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "complainted_mchid": identity.mchid,
        "response_content": "已与用户沟通解决",
    }))
    .unwrap()
}

/// A request signed by hand, with more headers.
fn signed(
    sandbox: &Sandbox,
    method: &str,
    target: &str,
    body: &[u8],
    more: &[(&str, &str)],
) -> support::Raw {
    let auth = authorization(sandbox.identity(), method, target, body);
    let mut headers = vec![
        ("Authorization", auth.as_str()),
        ("Accept", "application/json"),
        ("Content-Type", "application/json"),
    ];
    headers.extend_from_slice(more);
    raw_request(sandbox.base_uri(), method, target, &headers, body)
}

#[test]
fn every_signed_answer_carries_the_signature_type_204s_and_errors_included() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    let body = complaint_body(id);
    let answers = [
        (
            204,
            signed(&sandbox, "POST", complaint_target(), &body, &[]),
        ),
        (200, signed(&sandbox, "GET", "/v3/certificates", b"", &[])),
        (404, signed(&sandbox, "GET", "/v3/no/such/api", b"", &[])),
        // A signature that fails: 401 SIGN_ERROR, signed all the same.
        (
            401,
            raw_request(
                sandbox.base_uri(),
                "GET",
                "/v3/certificates",
                &[("Authorization", "WECHATPAY2-SHA256-RSA2048 mchid=\"1\"")],
                b"",
            ),
        ),
    ];
    for (status, answer) in &answers {
        assert_eq!(answer.status, *status, "{answer:?}");
        assert_eq!(
            answer.header("Wechatpay-Signature-Type"),
            Some(SIGNATURE_TYPE),
            "{status}: {answer:?}"
        );
        answer.verify(id).unwrap();
    }
    // In certificate mode too.
    sandbox.set_sign_mode(SignMode::Certificate);
    let answer = signed(&sandbox, "POST", complaint_target(), &body, &[]);
    assert_eq!(answer.status, 204);
    assert_eq!(
        answer.header("Wechatpay-Signature-Type"),
        Some(SIGNATURE_TYPE)
    );
    assert_eq!(
        answer.header("Wechatpay-Serial"),
        Some(id.platform_serial.as_str())
    );
    answer.verify(id).unwrap();
}

#[test]
fn header_names_and_content_type_are_spelled_as_wechat_pay_spells_them() {
    let sandbox = Sandbox::start().unwrap();
    let answer = signed(&sandbox, "GET", "/v3/certificates", b"", &[]);
    assert_eq!(answer.status, 200);
    let names: Vec<&str> = answer.headers.iter().map(|(k, _)| k.as_str()).collect();
    for name in [
        "Request-Id",
        "Content-Type",
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
        "Wechatpay-Signature",
        "Wechatpay-Serial",
        "Wechatpay-Signature-Type",
    ] {
        assert!(names.contains(&name), "{name} not among {names:?}");
    }
    assert_eq!(
        answer.header("Content-Type"),
        Some("application/json; charset=utf-8")
    );
    // An error is JSON the same way.
    let error = signed(&sandbox, "GET", "/v3/no/such/api", b"", &[]);
    assert_eq!(
        error.header("Content-Type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(error.json()["code"], "NOT_FOUND");
}

#[test]
fn the_merchant_serial_is_compared_whatever_its_case() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    let body = complaint_body(id);
    let lower = authorization(id, "POST", complaint_target(), &body).replace(
        &id.merchant_serial,
        &id.merchant_serial.to_ascii_lowercase(),
    );
    assert_ne!(id.merchant_serial, id.merchant_serial.to_ascii_lowercase());
    let answer = raw_request(
        sandbox.base_uri(),
        "POST",
        complaint_target(),
        &[
            ("Authorization", &lower),
            ("Content-Type", "application/json"),
        ],
        &body,
    );
    assert_eq!(
        answer.status,
        204,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    // Another serial is still refused, named.
    let other = authorization(id, "POST", complaint_target(), &body).replace(
        &id.merchant_serial,
        "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
    );
    let answer = raw_request(
        sandbox.base_uri(),
        "POST",
        complaint_target(),
        &[
            ("Authorization", &other),
            ("Content-Type", "application/json"),
        ],
        &body,
    );
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json()["code"], "SIGN_ERROR");
    let message = answer.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("5157F09EFDC096DE15EBE81A47057A7232F1B8E1"),
        "{message}"
    );
}

/// A media upload as Python's `wechatpayv3` sends it: `Content-Type: multipart/form-data` with
/// no boundary parameter.
#[test]
fn a_multipart_upload_without_a_boundary_parameter_is_read_from_the_body() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    let file = b"\x89PNG\r\n\x1a\n a picture";
    let digest = hash(MessageDigest::sha256(), file).unwrap();
    let sha256: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let meta = format!(r#"{{"filename":"a.png","sha256":"{sha256}"}}"#);
    let boundary = "1c9b2a7e0f3d4b5a";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{meta}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let target = "/v3/merchant/media/upload";
    let auth = authorization(id, "POST", target, meta.as_bytes());
    let answer = raw_request(
        sandbox.base_uri(),
        "POST",
        target,
        &[
            ("Authorization", &auth),
            ("Content-Type", "multipart/form-data"),
        ],
        &body,
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(
        answer.json()["media_id"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    answer.verify(id).unwrap();

    // A body that is not multipart at all, with a signature over what would be its meta: the
    // request is wrong, not its signature.
    let answer = raw_request(
        sandbox.base_uri(),
        "POST",
        target,
        &[
            (
                "Authorization",
                &authorization(id, "POST", target, meta.as_bytes()),
            ),
            ("Content-Type", "multipart/form-data"),
        ],
        meta.as_bytes(),
    );
    assert_eq!(
        answer.status,
        400,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["code"], "PARAM_ERROR");
    answer.verify(id).unwrap();
}

#[test]
fn the_platform_certificate_is_shaped_like_wechat_pays_and_issued_by_the_root_handed_out() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    let platform = X509::from_pem(id.platform_certificate_pem.as_bytes()).unwrap();
    let root = X509::from_pem(id.ca_certificate_pem.as_bytes()).unwrap();
    let entries = |name: &openssl::x509::X509NameRef| -> Vec<(String, String)> {
        name.entries()
            .map(|e| {
                (
                    e.object().nid().short_name().unwrap().to_owned(),
                    e.data().to_string().unwrap(),
                )
            })
            .collect()
    };
    let subject = entries(platform.subject_name());
    assert!(
        subject.contains(&("CN".to_owned(), "Tenpay.com sign".to_owned())),
        "{subject:?}"
    );
    assert!(
        subject.contains(&("C".to_owned(), "CN".to_owned())),
        "{subject:?}"
    );
    assert_eq!(
        entries(platform.issuer_name()),
        entries(root.subject_name())
    );
    assert!(platform.verify(&root.public_key().unwrap()).unwrap());
    // The root is handed out with the profile.
    let dir = std::env::temp_dir().join(format!("sandbox-wire-{}", std::process::id()));
    sandbox.write_profile(&dir).unwrap();
    let written = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(written, id.ca_certificate_pem);
}

/// What wechatpay-php's `CertificateDownloader.php` and the other certificate-mode downloaders
/// do: decrypt the list, then verify the answer with a certificate from it.
#[test]
fn in_public_key_mode_the_certificate_list_verifies_with_a_certificate_it_lists() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    sandbox.set_sign_mode(SignMode::PublicKey);
    let answer = signed(&sandbox, "GET", "/v3/certificates", b"", &[]);
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("Wechatpay-Serial"),
        Some(id.platform_serial.as_str())
    );
    let list: Value = answer.json();
    let entry = &list["data"][0];
    assert_eq!(entry["serial_no"], id.platform_serial.as_str());
    let encrypted = &entry["encrypt_certificate"];
    let sealed = openssl::base64::decode_block(encrypted["ciphertext"].as_str().unwrap()).unwrap();
    let (ciphertext, tag) = sealed.split_at(sealed.len() - 16);
    let pem = decrypt_aead(
        Cipher::aes_256_gcm(),
        id.apiv3_key.as_bytes(),
        Some(encrypted["nonce"].as_str().unwrap().as_bytes()),
        encrypted["associated_data"].as_str().unwrap().as_bytes(),
        ciphertext,
        tag,
    )
    .unwrap();
    let pem = String::from_utf8(pem).unwrap();
    answer.verify_with_certificate(&pem).unwrap();
    // A merchant with the public key only gets the documented 404.
    sandbox.set_public_key_only(true);
    let answer = signed(&sandbox, "GET", "/v3/certificates", b"", &[]);
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json()["code"], "RESOURCE_NOT_EXISTS");
    assert_eq!(
        answer.header("Wechatpay-Serial"),
        Some(id.public_key_id.as_str())
    );
    answer.verify(id).unwrap();
}

#[test]
fn in_both_mode_the_request_serial_chooses_the_signing_key() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    sandbox.set_sign_mode(SignMode::Both);
    let body = complaint_body(id);
    let cases = [
        (Some(id.public_key_id.as_str()), id.public_key_id.as_str()),
        (
            Some(id.platform_serial.as_str()),
            id.platform_serial.as_str(),
        ),
        (None, id.platform_serial.as_str()),
    ];
    for (sent, expected) in cases {
        let more: Vec<(&str, &str)> = sent.map(|s| ("Wechatpay-Serial", s)).into_iter().collect();
        let answer = signed(&sandbox, "POST", complaint_target(), &body, &more);
        assert_eq!(answer.status, 204);
        assert_eq!(
            answer.header("Wechatpay-Serial"),
            Some(expected),
            "{sent:?}"
        );
        answer.verify(id).unwrap();
    }
    assert_eq!("both".parse::<SignMode>(), Ok(SignMode::Both));
}
