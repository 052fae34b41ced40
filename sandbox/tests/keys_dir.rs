//! `keys_dir`: keys generated and written on the first run, loaded on the next; bad
//! directories are errors; `Debug` hides the secrets.

use std::path::PathBuf;

use serde_json::json;
use wechatpay_sandbox::{Error, Sandbox};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "wechatpay-sandbox-{name}-{}-{nanos}",
            std::process::id()
        ));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn keys_round_trip_through_the_directory() {
    let dir = TempDir::new("round-trip");
    let first = Sandbox::builder().keys_dir(&dir.0).start().unwrap();
    let a = first.identity().clone();
    drop(first);
    for file in [
        "sandbox.json",
        "apiclient_key.pem",
        "apiclient_cert.pem",
        "pub_key.pem",
        "ca_cert.pem",
    ] {
        assert!(dir.0.join(file).is_file(), "{file}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.0.join("apiclient_key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "private keys are not readable by others");
    }

    let second = Sandbox::builder().keys_dir(&dir.0).start().unwrap();
    let b = second.identity();
    assert_eq!(a.mchid, b.mchid);
    assert_eq!(a.merchant_serial, b.merchant_serial);
    assert_eq!(a.merchant_private_key_pem, b.merchant_private_key_pem);
    assert_eq!(a.merchant_certificate_pem, b.merchant_certificate_pem);
    assert_eq!(a.platform_serial, b.platform_serial);
    assert_eq!(a.platform_certificate_pem, b.platform_certificate_pem);
    assert_eq!(a.public_key_id, b.public_key_id);
    assert_eq!(a.public_key_pem, b.public_key_pem);
    assert_eq!(a.apiv3_key, b.apiv3_key);
    assert_eq!(a.apiv2_secret, b.apiv2_secret);
    assert_eq!(a.ca_certificate_pem, b.ca_certificate_pem);
    assert!(b.public_key_id.starts_with("PUB_KEY_ID_"));
    assert_eq!(b.merchant_serial.len(), 40);
    assert_eq!(b.apiv3_key.len(), 32);
    assert_eq!(b.apiv2_secret.len(), 32);

    // A client built from the first run's identity works against the second run.
    let old_client = wechatpay::Client::builder()
        .mchid(&a.mchid)
        .serial(&a.merchant_serial)
        .private_key(&a.merchant_private_key_pem)
        .platform_key(&a.public_key_id, &a.public_key_pem)
        .base_uri(second.base_uri())
        .allow_insecure_http(true)
        .build()
        .unwrap();
    // (Not the certificate list: it is signed with the platform certificate in every sign
    // mode, and this client knows only the public key.)
    let response = old_client["v3/merchant-service/complaints-v2/{id}/response"]
        .post(json!({
            "id": "200201820200101080076610000",
            "json": { "complainted_mchid": a.mchid, "response_content": "ok" },
        }))
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(response.signature_verified());
}

#[test]
fn bad_directories_are_errors() {
    let dir = TempDir::new("bad");
    Sandbox::builder().keys_dir(&dir.0).start().unwrap();
    // A certificate that does not belong to its key.
    let other = std::fs::read(dir.0.join("platform_cert.pem")).unwrap();
    let original = std::fs::read(dir.0.join("apiclient_cert.pem")).unwrap();
    std::fs::write(dir.0.join("apiclient_cert.pem"), &other).unwrap();
    let error = Sandbox::builder().keys_dir(&dir.0).start().unwrap_err();
    assert!(matches!(error, Error::KeysDir { .. }), "{error}");
    assert!(error.to_string().contains("apiclient_cert.pem"), "{error}");
    std::fs::write(dir.0.join("apiclient_cert.pem"), original).unwrap();
    // A missing file.
    std::fs::remove_file(dir.0.join("ca_key.pem")).unwrap();
    let error = Sandbox::builder().keys_dir(&dir.0).start().unwrap_err();
    assert!(error.to_string().contains("ca_key.pem"), "{error}");
    // Broken settings.
    std::fs::write(dir.0.join("sandbox.json"), b"{}").unwrap();
    assert!(matches!(
        Sandbox::builder().keys_dir(&dir.0).start(),
        Err(Error::KeysDir { .. })
    ));
}

#[test]
fn debug_hides_keys_and_secrets() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    for shown in [format!("{id:?}"), format!("{sandbox:?}")] {
        assert!(shown.contains(&id.mchid));
        assert!(shown.contains(&id.public_key_id));
        assert!(!shown.contains(&id.apiv3_key), "{shown}");
        assert!(!shown.contains(&id.apiv2_secret), "{shown}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    }
    assert!(sandbox.base_uri().starts_with("http://127.0.0.1:"));
    assert!(id.tls_base_uri.starts_with("https://127.0.0.1:"));
}
