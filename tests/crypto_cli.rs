//! Cross-checks `wechatpay::crypto` against the `openssl` command line (Debian package
//! `openssl`): keys, certificates and ciphertexts the command line makes are read by us, and
//! what we make is read by the command line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use wechatpay::crypto::{Certificate, PrivateKey, PublicKey, aes_256_ecb_encrypt, hex_lower};

/// A unique scratch directory under the system temp dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("wechatpay-crypto-cli-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `openssl args...` in `dir`, with no terminal input; returns stdout. Panics with stderr
/// when it fails, and with a clear message when the binary is missing.
fn openssl(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run the `openssl` command line ({e}); install the Debian package `openssl`"
            )
        });
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

const OAEP: [&str; 6] = [
    "-pkeyopt",
    "rsa_padding_mode:oaep",
    "-pkeyopt",
    "rsa_oaep_md:sha1",
    "-pkeyopt",
    "rsa_mgf1_md:sha1",
];

/// A 2048-bit key made by the command line: (PKCS#8 PEM path, SPKI PEM path).
fn cli_key(dir: &Scratch) -> (PathBuf, PathBuf) {
    openssl(
        &dir.0,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "key.pem",
        ],
    );
    openssl(
        &dir.0,
        &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"],
    );
    (dir.path("key.pem"), dir.path("pub.pem"))
}

#[test]
fn openssl_verifies_our_signature_and_we_verify_its() {
    let dir = Scratch::new();
    let (key_path, pub_path) = cli_key(&dir);
    let key = PrivateKey::from_file(&key_path).unwrap();
    let message = b"1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{\"trade_state\":\"SUCCESS\"}\n";
    dir.write("message.txt", message);

    dir.write("ours.sig", &key.sign_sha256(message).unwrap());
    let out = openssl(
        &dir.0,
        &[
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            "-signature",
            "ours.sig",
            "message.txt",
        ],
    );
    assert_eq!(out.trim(), "Verified OK");

    openssl(
        &dir.0,
        &[
            "dgst",
            "-sha256",
            "-sign",
            "key.pem",
            "-out",
            "theirs.sig",
            "message.txt",
        ],
    );
    let public = PublicKey::from_file(&pub_path).unwrap();
    assert!(public.verify_sha256(message, &dir.read("theirs.sig")));
    assert!(!public.verify_sha256(b"another message", &dir.read("theirs.sig")));
}

#[test]
fn openssl_decrypts_our_oaep_and_we_decrypt_its() {
    let dir = Scratch::new();
    let (key_path, pub_path) = cli_key(&dir);
    let plaintext = "110101199003070000";

    let public = PublicKey::from_file(&pub_path).unwrap();
    dir.write(
        "ours.bin",
        &public.encrypt_oaep(plaintext.as_bytes()).unwrap(),
    );
    let mut args = vec![
        "pkeyutl", "-decrypt", "-inkey", "key.pem", "-in", "ours.bin", "-out", "ours.txt",
    ];
    args.extend(OAEP);
    openssl(&dir.0, &args);
    assert_eq!(dir.read("ours.txt"), plaintext.as_bytes());

    dir.write("plain.txt", "张三".as_bytes());
    let mut args = vec![
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-inkey",
        "pub.pem",
        "-in",
        "plain.txt",
        "-out",
        "theirs.bin",
    ];
    args.extend(OAEP);
    openssl(&dir.0, &args);
    let key = PrivateKey::from_file(&key_path).unwrap();
    assert_eq!(
        key.decrypt_oaep(&dir.read("theirs.bin")).unwrap(),
        "张三".as_bytes()
    );
    assert_eq!(
        key.decrypt_oaep_base64(&wechatpay::crypto::base64_encode(&dir.read("theirs.bin")))
            .unwrap(),
        "张三"
    );
}

#[test]
fn every_key_form_the_command_line_writes_loads() {
    let dir = Scratch::new();
    let (_, _) = cli_key(&dir);
    let run = |args: &[&str]| openssl(&dir.0, args);
    run(&["rsa", "-in", "key.pem", "-traditional", "-out", "pkcs1.pem"]);
    run(&[
        "pkey",
        "-in",
        "key.pem",
        "-outform",
        "DER",
        "-out",
        "pkcs8.der",
    ]);
    run(&[
        "rsa",
        "-in",
        "key.pem",
        "-traditional",
        "-outform",
        "DER",
        "-out",
        "pkcs1.der",
    ]);
    run(&[
        "pkcs8",
        "-topk8",
        "-in",
        "key.pem",
        "-v2",
        "aes-256-cbc",
        "-passout",
        "pass:s3cret",
        "-out",
        "encrypted.pem",
    ]);
    run(&[
        "pkcs8",
        "-topk8",
        "-in",
        "key.pem",
        "-v2",
        "aes-256-cbc",
        "-passout",
        "pass:s3cret",
        "-outform",
        "DER",
        "-out",
        "encrypted.der",
    ]);
    run(&[
        "rsa",
        "-in",
        "key.pem",
        "-traditional",
        "-aes128",
        "-passout",
        "pass:s3cret",
        "-out",
        "encrypted-pkcs1.pem",
    ]);
    run(&[
        "pkey", "-in", "key.pem", "-pubout", "-outform", "DER", "-out", "spki.der",
    ]);
    run(&[
        "rsa",
        "-in",
        "key.pem",
        "-RSAPublicKey_out",
        "-out",
        "pkcs1-pub.pem",
    ]);
    run(&[
        "rsa",
        "-in",
        "key.pem",
        "-RSAPublicKey_out",
        "-outform",
        "DER",
        "-out",
        "pkcs1-pub.der",
    ]);
    run(&[
        "req",
        "-x509",
        "-key",
        "key.pem",
        "-subj",
        "/CN=wechatpay test",
        "-days",
        "1",
        "-out",
        "cert.pem",
    ]);
    run(&[
        "x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der",
    ]);

    let reference = PrivateKey::from_file(dir.path("key.pem")).unwrap();
    let signature = reference.sign_sha256(b"m").unwrap();
    for name in ["key.pem", "pkcs1.pem", "pkcs8.der", "pkcs1.der"] {
        let key = PrivateKey::from_file(dir.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(key.sign_sha256(b"m").unwrap(), signature, "{name}");
        let url = format!("file://{}", dir.path(name).display());
        assert_eq!(
            PrivateKey::load(url).unwrap().sign_sha256(b"m").unwrap(),
            signature
        );
    }
    for name in ["encrypted.pem", "encrypted.der", "encrypted-pkcs1.pem"] {
        let input = dir.read(name);
        let key = PrivateKey::load_with_passphrase(&input, "s3cret")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(key.sign_sha256(b"m").unwrap(), signature, "{name}");
        let err = PrivateKey::load(&input).unwrap_err();
        assert!(
            err.to_string().contains("passphrase-protected"),
            "{name}: {err}"
        );
    }
    for name in [
        "pub.pem",
        "spki.der",
        "pkcs1-pub.pem",
        "pkcs1-pub.der",
        "cert.pem",
        "cert.der",
    ] {
        let key = PublicKey::from_file(dir.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(key.verify_sha256(b"m", &signature), "{name}");
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-26 23:59:59Z` (OpenSSL's `-dateopt iso_8601`) as Unix seconds.
fn iso_unix(text: &str) -> i64 {
    let num = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap();
    days_from_civil(num(0..4), num(5..7), num(8..10)) * 86_400
        + num(11..13) * 3600
        + num(14..16) * 60
        + num(17..19)
}

#[test]
fn certificate_serials_and_dates_match_the_command_line() {
    let dir = Scratch::new();
    let (_, _) = cli_key(&dir);
    // Leading zero nibble, high bit set (DER pads it with 00), one byte, long, and a serial
    // given with leading zero bytes.
    for serial in [
        "0x0ABCDEF0",
        "0x80",
        "0xFF00FF00FF00FF00FF00FF00FF00FF00FF00FF00",
        "0x01",
        "0x00000012",
        "0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        "0x0F",
    ] {
        openssl(
            &dir.0,
            &[
                "req",
                "-x509",
                "-key",
                "key.pem",
                "-subj",
                "/CN=serial",
                "-days",
                "30",
                "-set_serial",
                serial,
                "-out",
                "cert.pem",
            ],
        );
        let printed = openssl(&dir.0, &["x509", "-in", "cert.pem", "-noout", "-serial"]);
        let expected = printed.trim().strip_prefix("serial=").unwrap();
        let cert = Certificate::from_file(dir.path("cert.pem")).unwrap();
        assert_eq!(cert.serial(), expected, "serial {serial}");

        let dates = openssl(
            &dir.0,
            &[
                "x509", "-in", "cert.pem", "-noout", "-dates", "-dateopt", "iso_8601",
            ],
        );
        let field = |name: &str| {
            dates
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap()
                .to_owned()
        };
        assert_eq!(cert.not_before_unix(), iso_unix(&field("notBefore=")));
        assert_eq!(cert.not_after_unix(), iso_unix(&field("notAfter=")));
        assert_eq!(cert.not_after_unix() - cert.not_before_unix(), 30 * 86_400);
    }
}

#[test]
fn openssl_enc_agrees_with_our_ecb() {
    let dir = Scratch::new();
    let key = b"0123456789abcdef0123456789abcdef";
    for plaintext in [&b"hello"[..], b"", &[b'x'; 16], &[7u8; 100]] {
        dir.write("plain.bin", plaintext);
        openssl(
            &dir.0,
            &[
                "enc",
                "-aes-256-ecb",
                "-K",
                &hex_lower(key),
                "-nosalt",
                "-in",
                "plain.bin",
                "-out",
                "sealed.bin",
            ],
        );
        assert_eq!(
            dir.read("sealed.bin"),
            aes_256_ecb_encrypt(key, plaintext).unwrap()
        );
    }
}

#[test]
fn a_legacy_rc2_pkcs12_as_wechat_pay_issues_it_opens() {
    // WeChat Pay's apiclient_cert.p12 uses 40-bit RC2 (OpenSSL 3's legacy provider), with the
    // merchant id as passphrase.
    let dir = Scratch::new();
    openssl(
        &dir.0,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-subj",
            "/CN=1900000109",
            "-days",
            "1",
        ],
    );
    openssl(
        &dir.0,
        &[
            "pkcs12",
            "-export",
            "-legacy",
            "-in",
            "cert.pem",
            "-inkey",
            "key.pem",
            "-out",
            "apiclient_cert.p12",
            "-passout",
            "pass:1900000109",
        ],
    );
    let der = dir.read("apiclient_cert.p12");
    wechatpay::Client::builder()
        .mchid("1900000109")
        .secret("192006250b4c09247ec02edce69f6a2d")
        .merchant_pkcs12(&der, "1900000109")
        .build()
        .expect("a legacy PKCS#12 opens");
    let err = wechatpay::Client::builder()
        .mchid("1900000109")
        .secret("192006250b4c09247ec02edce69f6a2d")
        .merchant_pkcs12(&der, "1900000108")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("wrong passphrase"), "{err}");
}
