//! Every configuration error of `ClientBuilder::build`, each naming its problem, and none
//! quoting key material.

mod support;

use serde_json::json;
use support::{keys, mchid};
use wechatpay::{Client, ClientBuilder, ErrorKind};

fn complete() -> ClientBuilder {
    let k = keys();
    Client::builder()
        .mchid(mchid())
        .serial(&k.merchant_serial)
        .private_key(&k.merchant_key_pkcs8_pem)
        .platform_key(&k.pubkey_id, &k.pubkey_spki_pem)
}

fn config_error(builder: ClientBuilder) -> String {
    let err = builder.build().expect_err("the builder should refuse this");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    let text = err.to_string();
    let k = keys();
    // No line of any key ever appears in an error.
    for pem in [
        &k.merchant_key_pkcs8_pem,
        &k.merchant_key_pkcs1_pem,
        &k.pubkey_spki_pem,
    ] {
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!text.contains(line), "error quotes key material: {text}");
            assert!(
                !format!("{err:?}").contains(line),
                "Debug quotes key material"
            );
        }
    }
    text.strip_prefix("configuration error: ")
        .unwrap_or(&text)
        .to_owned()
}

#[test]
fn a_complete_configuration_builds() {
    let client = complete().build().unwrap();
    assert_eq!(client.mchid(), mchid());
    let debug = format!("{client:?}");
    assert!(
        debug.contains(mchid()) && !debug.contains("PRIVATE"),
        "{debug}"
    );
}

#[test]
fn missing_settings_are_named() {
    let k = keys();
    let no_mchid = Client::builder()
        .serial(&k.merchant_serial)
        .private_key(&k.merchant_key_pkcs8_pem)
        .platform_key(&k.pubkey_id, &k.pubkey_spki_pem);
    assert_eq!(
        config_error(no_mchid),
        "mchid is missing: call .mchid(..) with the merchant id"
    );

    let no_serial = Client::builder()
        .mchid(mchid())
        .private_key(&k.merchant_key_pkcs8_pem)
        .platform_key(&k.pubkey_id, &k.pubkey_spki_pem);
    assert_eq!(
        config_error(no_serial),
        "serial is missing: call .serial(..) with the merchant API certificate serial"
    );

    let no_key = Client::builder()
        .mchid(mchid())
        .serial(&k.merchant_serial)
        .platform_key(&k.pubkey_id, &k.pubkey_spki_pem);
    assert_eq!(
        config_error(no_key),
        "the merchant private key is missing: call .private_key(pem), .private_key_file(path) or .signer(..)"
    );

    let no_platform = Client::builder()
        .mchid(mchid())
        .serial(&k.merchant_serial)
        .private_key(&k.merchant_key_pkcs8_pem);
    assert!(
        config_error(no_platform).starts_with("no platform key: add the WeChat Pay public key")
    );

    assert_eq!(
        config_error(complete().mchid("")),
        "mchid is empty: it must be the merchant id"
    );
    assert_eq!(
        config_error(complete().mchid("19000\"1")),
        "mchid `19000\"1` must be ASCII letters and digits"
    );
    assert_eq!(
        config_error(complete().serial("AB CD")),
        // A value that cannot be an identifier is not echoed (it may be a misplaced secret).
        "serial (a value of 5 characters, not shown) must be the hex serial of the merchant API certificate"
    );
}

#[test]
fn private_keys_that_do_not_parse_say_what_was_expected() {
    let expected = "expected a PKCS#1 (`-----BEGIN RSA PRIVATE KEY-----`) or PKCS#8 (`-----BEGIN PRIVATE KEY-----`) PEM RSA private key";
    assert_eq!(
        config_error(complete().private_key("garbage")),
        format!("private key: {expected}, found no `-----BEGIN` line")
    );
    assert_eq!(
        config_error(complete().private_key(&keys().pubkey_spki_pem)),
        format!("private key: {expected}, found a `-----BEGIN PUBLIC KEY-----` block")
    );
    let pem = &keys().merchant_key_pkcs8_pem;
    let truncated = format!("{}\n-----END PRIVATE KEY-----\n", &pem[..pem.len() / 2]);
    assert_eq!(
        config_error(complete().private_key(truncated)),
        "private key: the PKCS#8 PEM block is not a valid private key"
    );
    let pem = &keys().merchant_key_pkcs1_pem;
    let truncated = format!("{}\n-----END RSA PRIVATE KEY-----\n", &pem[..pem.len() / 2]);
    assert_eq!(
        config_error(complete().private_key(truncated)),
        "private key: the PKCS#1 PEM block is not a valid RSA private key"
    );

    // A BEGIN line without its closing dashes: the error must not quote what follows it.
    let malformed = keys().merchant_key_pkcs1_pem.replacen(
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY",
        1,
    );
    assert_eq!(
        config_error(complete().private_key(&malformed)),
        format!("private key: {expected}, found a malformed `-----BEGIN` line")
    );
    let malformed = keys().merchant_key_pkcs8_pem.replacen(
        "-----BEGIN PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY",
        1,
    );
    assert!(
        config_error(complete().platform_key("PUB_KEY_ID_3", &malformed))
            .ends_with("found a malformed `-----BEGIN` line")
    );

    let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
    let encrypted = openssl::pkey::PKey::from_rsa(rsa)
        .unwrap()
        .private_key_to_pem_pkcs8_passphrase(openssl::symm::Cipher::aes_256_cbc(), b"secret")
        .unwrap();
    assert!(
        config_error(complete().private_key(encrypted))
            .contains("found a passphrase-protected key")
    );

    let ec = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
    )
    .unwrap();
    let ec_pem = openssl::pkey::PKey::from_ec_key(ec)
        .unwrap()
        .private_key_to_pem_pkcs8()
        .unwrap();
    assert_eq!(
        config_error(complete().private_key(ec_pem)),
        "private key: expected an RSA key (WeChat Pay's are RSA-2048), found an EC (elliptic curve) key"
    );
}

#[test]
fn key_files_are_read_and_missing_files_named() {
    let dir = std::env::temp_dir().join(format!("wechatpay-builder-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_path = dir.join("apiclient_key.pem");
    let pub_path = dir.join("pub_key.pem");
    std::fs::write(&key_path, &keys().merchant_key_pkcs1_pem).unwrap();
    std::fs::write(&pub_path, &keys().pubkey_pkcs1_pem).unwrap();
    Client::builder()
        .mchid(mchid())
        .serial(&keys().merchant_serial)
        .private_key_file(&key_path)
        .platform_key_file(&keys().pubkey_id, &pub_path)
        .build()
        .unwrap();

    let missing = dir.join("nope.pem");
    let text = config_error(complete().private_key_file(&missing));
    assert!(
        text.starts_with(&format!(
            "private key file `{}` cannot be read: ",
            missing.display()
        )),
        "{text}"
    );
    let text = config_error(complete().platform_key_file("PUB_KEY_ID_1", &missing));
    assert!(
        text.starts_with(&format!(
            "platform key `PUB_KEY_ID_1`: file `{}` cannot be read",
            missing.display()
        )),
        "{text}"
    );
    // A key file holds a key, not another `file://` path.
    std::fs::write(&key_path, format!("file://{}", pub_path.display())).unwrap();
    assert!(
        wechatpay::crypto::PrivateKey::from_file(&key_path)
            .unwrap_err()
            .to_string()
            .contains("a file is not followed twice")
    );
    std::fs::write(&key_path, "not a key").unwrap();
    let text = config_error(complete().private_key_file(&key_path));
    assert!(
        text.starts_with(&format!(
            "private key file `{}`: expected a PKCS#1",
            key_path.display()
        )),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn platform_keys_that_do_not_parse_or_do_not_match_are_named() {
    let k = keys();
    let expected = "expected an X.509 certificate (`-----BEGIN CERTIFICATE-----`), an SPKI public key (`-----BEGIN PUBLIC KEY-----`) or a PKCS#1 public key (`-----BEGIN RSA PUBLIC KEY-----`) in PEM";
    assert_eq!(
        config_error(complete().platform_key("PUB_KEY_ID_2", "garbage")),
        format!("platform key `PUB_KEY_ID_2`: {expected}, found no `-----BEGIN` line")
    );
    // A private key handed over as a platform key is refused without being quoted.
    assert_eq!(
        config_error(complete().platform_key("PUB_KEY_ID_2", &k.merchant_key_pkcs8_pem)),
        format!(
            "platform key `PUB_KEY_ID_2`: {expected}, found a `-----BEGIN PRIVATE KEY-----` block"
        )
    );
    let cert = &k.platform_cert_pem;
    let truncated = format!("{}\n-----END CERTIFICATE-----\n", &cert[..cert.len() / 2]);
    assert_eq!(
        config_error(complete().platform_key(&k.platform_serial, truncated)),
        format!(
            "platform key `{}`: the CERTIFICATE PEM block is not a valid X.509 certificate",
            k.platform_serial
        )
    );
    assert_eq!(
        config_error(complete().platform_key("ABCDEF", &k.platform_cert_pem)),
        format!(
            "platform key `ABCDEF`: the certificate's serial is {}; the id of a certificate must be its serial",
            k.platform_serial
        )
    );
    assert_eq!(
        config_error(complete().platform_key(&k.pubkey_id, &k.pubkey_pkcs1_pem)),
        format!("platform key `{}` is configured twice", k.pubkey_id)
    );
    // An id that is no key id is not echoed: it may be a secret in the wrong place.
    for bad in ["PUB KEY", "PUB_KEY_ID_", "PUB_KEY_ID_12a", "XYZ", ""] {
        assert_eq!(
            config_error(complete().platform_key(bad, &k.pubkey_pkcs1_pem)),
            format!(
                "platform key id ({} characters, not shown) must be a certificate serial (hex) \
                 or `PUB_KEY_ID_` followed by digits",
                bad.len()
            )
        );
    }
    assert_eq!(
        config_error(complete().platform_key("PUB_KEY_ID_77", &k.platform_cert_pem)),
        "platform key `PUB_KEY_ID_77` is a certificate: its id must be its serial, not a public key id"
    );
    // A public key may also be filed under a certificate serial (its certificate's key).
    complete()
        .platform_key(&k.platform_serial, &k.pubkey_spki_pem)
        .build()
        .unwrap();
    // A lowercase certificate serial is accepted and keyed as WeChat Pay sends it.
    complete()
        .platform_key(k.platform_serial.to_lowercase(), &k.platform_cert_pem)
        .build()
        .unwrap();
}

#[test]
fn a_certificate_is_keyed_by_its_own_serial() {
    // Serial 0x0ABC prints as `0ABC`, as WeChat Pay names it; an id written `abc` still finds it.
    let pem = support::certificate(&[0x0A, 0xBC], 2 * 86_400);
    let client = Client::builder()
        .mchid(mchid())
        .serial(&keys().merchant_serial)
        .private_key(&keys().merchant_key_pkcs8_pem)
        .platform_key("abc", &pem)
        .send_wechatpay_serial(true)
        .build()
        .unwrap();
    let prepared = client
        .chain("v3/x")
        .prepare(wechatpay::Method::GET, ())
        .unwrap();
    assert_eq!(prepared.headers()["wechatpay-serial"], "0ABC");
}

#[test]
fn the_merchant_serial_cannot_be_a_platform_key() {
    let k = keys();
    // Leading zeros do not hide it either.
    let padded = format!("00{}", k.merchant_serial);
    assert!(
        config_error(complete().platform_key(&padded, &k.pubkey_pkcs1_pem))
            .contains("is the merchant API certificate serial")
    );
    assert_eq!(
        config_error(
            complete().platform_key(k.merchant_serial.to_lowercase(), &k.pubkey_pkcs1_pem)
        ),
        format!(
            "platform key `{}` is the merchant API certificate serial: platform keys are WeChat Pay's certificates or public keys, not the merchant's",
            k.merchant_serial.to_lowercase()
        )
    );
}

#[test]
fn unusable_base_uris_are_named() {
    assert!(
        config_error(complete().base_uri("api.mch.weixin.qq.com"))
            .starts_with("base_uri: (a value of 21 characters, not shown) is not an absolute URI")
    );
    assert_eq!(
        config_error(complete().base_uri("ftp://x/")),
        "base_uri: `ftp://x/` must use http or https, not `ftp`"
    );
    assert_eq!(
        config_error(complete().base_uri("https://x/?a=1")),
        "base_uri: `https://x/?***` must not have a query or a fragment (not shown)"
    );
    assert_eq!(
        config_error(complete().base_uri("https://u:p@x/")),
        "base_uri: the base URI of host `x` must not carry credentials (not shown)"
    );
}

#[test]
fn the_preferred_platform_key_must_exist() {
    assert_eq!(
        config_error(
            complete()
                .send_wechatpay_serial(true)
                .preferred_platform_key("PUB_KEY_ID_9")
        ),
        "preferred platform key `PUB_KEY_ID_9` is not among the configured platform keys"
    );
}

#[test]
fn the_first_problem_is_reported() {
    let text = config_error(
        complete()
            .private_key("garbage")
            .base_uri("ftp://x/")
            .mchid(""),
    );
    assert!(text.starts_with("private key: "), "{text}");
}

#[test]
fn clones_share_one_client() {
    let a = complete().build().unwrap();
    let b = a.clone();
    assert!(std::ptr::eq(&a["v3"]["pay"], &b["v3"]["pay"]));
}

#[test]
fn the_default_base_uri_is_the_production_host() {
    let client = support::identity().build().unwrap();
    let prepared = client
        .chain("v3/pay/transactions/id/{id}")
        .prepare(wechatpay::Method::GET, json!({ "id": "4200000001" }))
        .unwrap();
    assert_eq!(
        prepared.url().as_str(),
        "https://api.mch.weixin.qq.com/v3/pay/transactions/id/4200000001"
    );
    assert_eq!(
        wechatpay::DEFAULT_BASE_URI,
        "https://api.mch.weixin.qq.com/"
    );
    // A per-request base_uri replaces it, as in PHP's example.
    let prepared = client
        .chain("v3/pay/transactions/id/{id}")
        .prepare(
            wechatpay::Method::GET,
            json!({ "id": "1", "base_uri": "https://apihk.mch.weixin.qq.com/" }),
        )
        .unwrap();
    assert_eq!(
        prepared.url().as_str(),
        "https://apihk.mch.weixin.qq.com/v3/pay/transactions/id/1"
    );
}

/// Plain `http` would carry the signed `Authorization` header and the bodies in clear: it is
/// refused for the base URI, the backup, the per-request `base_uri` option and a bill's
/// `download_url`, each with a `Config` error that names the setting, says why and names
/// `allow_insecure_http`; with `.allow_insecure_http(true)` the same URIs are accepted.
#[test]
fn plain_http_needs_allow_insecure_http() {
    fn says_why(text: &str, setting: &str) {
        for part in [
            setting,
            "plain http",
            "`Authorization` header",
            "in clear",
            ".allow_insecure_http(true)",
        ] {
            assert!(text.contains(part), "`{part}` missing from: {text}");
        }
    }
    let text = config_error(complete().base_uri("http://127.0.0.1:9/"));
    says_why(&text, "base_uri: `http://127.0.0.1:9/`");
    let text = config_error(
        complete()
            .base_uri("https://127.0.0.1:9/")
            .backup_base_uri("http://127.0.0.1:10/"),
    );
    says_why(&text, "backup_base_uri: `http://127.0.0.1:10/`");
    // The default host's backup is https.
    assert!(complete().build().is_ok());

    // A client on https: the per-request option and a bill's `download_url` at a WeChat Pay
    // host, over http, are refused before anything is sent.
    let client = complete().base_uri("https://127.0.0.1:9/").build().unwrap();
    let err = client["v3/certificates"]
        .prepare(
            wechatpay::Method::GET,
            json!({ "base_uri": "http://127.0.0.1:9/" }),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    says_why(&err.to_string(), "option `base_uri`: `http://127.0.0.1:9/`");
    let bill = wechatpay::bill::BillDownload {
        download_url: "http://api.mch.weixin.qq.com/v3/billdownload/file?token=x".into(),
        hash_type: "SHA1".into(),
        hash_value: "00".into(),
    };
    let err = client
        .download_bill(&bill, wechatpay::bill::Compression::None, &mut Vec::new())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    says_why(
        &err.to_string(),
        "bill download_url: `http://api.mch.weixin.qq.com`",
    );

    // Allowed: the client, its backup, the option, and a bill at the client's own origin.
    let client = complete()
        .base_uri("http://127.0.0.1:9/")
        .backup_base_uri("http://127.0.0.1:10/")
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let prepared = client["v3/certificates"]
        .prepare(
            wechatpay::Method::GET,
            json!({ "base_uri": "http://127.0.0.1:11/" }),
        )
        .unwrap();
    assert_eq!(
        prepared.url().as_str(),
        "http://127.0.0.1:11/v3/certificates"
    );
    let bill = wechatpay::bill::BillDownload {
        download_url: "http://127.0.0.1:9/v3/billdownload/file?token=x".into(),
        ..bill
    };
    let err = client
        .download_bill(&bill, wechatpay::bill::Compression::None, &mut Vec::new())
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Transport,
        "sent (nothing listens): {err}"
    );
    // Still refused at another origin, even a WeChat Pay host.
    let elsewhere = wechatpay::bill::BillDownload {
        download_url: "http://api.mch.weixin.qq.com/v3/billdownload/file?token=x".into(),
        ..bill
    };
    let err = client
        .download_bill(
            &elsewhere,
            wechatpay::bill::Compression::None,
            &mut Vec::new(),
        )
        .unwrap_err();
    says_why(&err.to_string(), "bill download_url");
}
