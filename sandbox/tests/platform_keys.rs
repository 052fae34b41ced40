//! The platform's private keys, for tests that sign as WeChat Pay themselves.

use openssl::pkey::PKey;
use openssl::x509::X509;
use wechatpay_sandbox::Sandbox;

#[test]
fn the_private_keys_are_those_of_the_identity_and_never_shown() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    let keys = sandbox.platform_private_keys().unwrap();
    let certificate_key = PKey::private_key_from_pem(keys.certificate_key_pem.as_bytes()).unwrap();
    let certificate = X509::from_pem(id.platform_certificate_pem.as_bytes()).unwrap();
    assert!(
        certificate
            .public_key()
            .unwrap()
            .public_eq(&certificate_key)
    );
    let public_key_private =
        PKey::private_key_from_pem(keys.public_key_private_pem.as_bytes()).unwrap();
    let public_key = PKey::public_key_from_pem(id.public_key_pem.as_bytes()).unwrap();
    assert!(public_key.public_eq(&public_key_private));
    assert!(!certificate_key.public_eq(&public_key_private));
    let shown = format!("{keys:?}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
    // The same process-wide keys for every sandbox without a keys directory.
    let other = Sandbox::start().unwrap();
    assert_eq!(
        other.platform_private_keys().unwrap().certificate_key_pem,
        keys.certificate_key_pem
    );
}
