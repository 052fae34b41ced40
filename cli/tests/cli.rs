//! The real `wxpay` binary against the sandbox: every subcommand, its failures and exit codes.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use wechatpay_sandbox::{Fault, NotifyVariant, SignMode};

mod common;
use common::*;

fn native_order(mchid: &str, out_trade_no: &str) -> String {
    json!({
        "appid": "wxd678efh567hg6787", "mchid": mchid, "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": out_trade_no, "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
        "amount": { "total": 1, "currency": "CNY" },
    })
    .to_string()
}

#[test]
fn req_posts_a_signed_body_and_prints_the_verified_answer() {
    let s = setup();
    let out = s.run(&[
        "req",
        "POST",
        "v3.pay.transactions.native",
        "-d",
        &native_order(&s.mchid(), "CLI1"),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let body: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert!(
        body["code_url"]
            .as_str()
            .unwrap()
            .starts_with("weixin://wxpay/bizpayurl")
    );
    assert!(stderr(&out).contains("HTTP 200 OK"), "{}", stderr(&out));
    assert!(stderr(&out).contains("Request-ID: "));
    let request = s.sandbox.requests().pop().unwrap();
    assert_eq!(request.target, "/v3/pay/transactions/native");
    assert!(request.verdict.is_ok(), "{:?}", request.verdict);

    // @file and stdin bodies, a slash template with --var and -p.
    let file = s.dir.path("order.json");
    std::fs::write(&file, native_order(&s.mchid(), "CLI2")).unwrap();
    let out = s.run(&[
        "req",
        "post",
        "v3/pay/transactions/native",
        "-d",
        &format!("@{}", file.display()),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut child = wxpay()
        .arg("--config")
        .arg(&s.config)
        .args([
            "--profile",
            "sandbox",
            "req",
            "POST",
            "v3/pay/transactions/native",
            "-d",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(native_order(&s.mchid(), "CLI3").as_bytes())
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let out = s.run(&[
        "req",
        "GET",
        "v3/pay/transactions/out-trade-no/{out_trade_no}",
        "--var",
        "out_trade_no=CLI3",
        "-p",
        &format!("mchid={}", s.mchid()),
        "-H",
        "Accept-Language: zh-CN",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let order: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(order["out_trade_no"], "CLI3");
    let request = s.sandbox.requests().pop().unwrap();
    assert_eq!(
        request.target,
        format!("/v3/pay/transactions/out-trade-no/CLI3?mchid={}", s.mchid())
    );
    assert_eq!(request.header("accept-language"), Some("zh-CN"));

    // The dotted form reads placeholders and camelCase as the chain! macro does.
    let out = s.run(&[
        "req",
        "POST",
        "v3.merchantService.complaintsV2._complaint_id_.response",
        "--var",
        "complaint_id=200201820200101080076610000",
        "-d",
        &json!({ "complainted_mchid": s.mchid(), "response_content": "已与用户沟通解决" })
            .to_string(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("HTTP 204"), "{}", stderr(&out));
    assert_eq!(
        s.sandbox.requests().pop().unwrap().target,
        "/v3/merchant-service/complaints-v2/200201820200101080076610000/response"
    );
}

#[test]
fn verbose_shows_the_signed_message_and_masks_the_signature() {
    let s = setup();
    let out = s.run(&["req", "GET", "v3/certificates", "-v"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(">   GET\\n"), "{err}");
    assert!(err.contains(">   /v3/certificates\\n"), "{err}");
    assert!(err.contains("signature=\"<masked>\""), "{err}");
    assert!(err.contains("< wechatpay-signature: <masked>"), "{err}");
    // The real signatures (request and answer) appear nowhere.
    let request = s.sandbox.requests().pop().unwrap();
    let authorization = request.header("authorization").unwrap();
    let sent = authorization
        .split("signature=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(!err.contains(sent) && !stdout(&out).contains(sent));
    assert!(err.contains(&format!("mchid=\"{}\"", s.mchid())), "{err}");
}

#[test]
fn exit_codes_tell_api_verification_usage_and_transport_apart() {
    let s = setup();
    // 1: WeChat Pay answered with an error.
    let mchid = format!("mchid={}", s.mchid());
    let out = s.run(&[
        "req",
        "GET",
        "v3/pay/transactions/id/{id}",
        "--var",
        "id=4200000000000000000000000000",
        "-p",
        &mchid,
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("ORDER_NOT_EXIST"), "{}", stderr(&out));
    assert_eq!(
        stderr(&out)
            .lines()
            .filter(|l| l.starts_with("wxpay:"))
            .count(),
        1
    );

    // 2: the answer does not verify.
    s.sandbox.set_fault(Some(Fault::BadSignature));
    let out = s.run(&["req", "GET", "v3/certificates"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("hint:"));
    s.sandbox.set_fault(None);

    // 3: usage and configuration.
    for args in [
        &["req", "FETCH", "v3/certificates"][..],
        &[
            "req",
            "POST",
            "v3/pay/transactions/native",
            "-d",
            "{not json",
        ],
        &["req", "GET", "v3/certificates", "-p", "novalue"],
        &["req", "GET", "v3/certificates", "-H", "NoColon"],
        &["req"],
        &["frobnicate"],
        // Secrets are never taken from argument values: there is no such flag.
        &[
            "req",
            "GET",
            "v3/certificates",
            "--private-key",
            "-----BEGIN PRIVATE KEY-----",
        ],
    ] {
        let out = s.run(args);
        assert_eq!(code(&out), 3, "{args:?}: {}", stderr(&out));
    }
    let out = wxpay()
        .args(["req", "GET", "v3/certificates"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("no merchant id"), "{}", stderr(&out));
    let out = wxpay()
        .arg("--config")
        .arg(&s.config)
        .args(["--profile", "nope", "req", "GET", "v3/certificates"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).contains("no [profile.nope]"),
        "{}",
        stderr(&out)
    );

    // 4: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = s.run(&[
        "--base-uri",
        &format!("http://127.0.0.1:{port}/"),
        "req",
        "GET",
        "v3/certificates",
    ]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
}

#[test]
fn flags_override_the_environment_which_overrides_the_profile() {
    let s = setup();
    let run = |env_mchid: Option<&str>, flag_mchid: Option<&str>| {
        let mut cmd = wxpay();
        cmd.arg("--config")
            .arg(&s.config)
            .args(["--profile", "sandbox"]);
        if let Some(m) = env_mchid {
            cmd.env("WECHATPAY_MCHID", m);
        }
        if let Some(m) = flag_mchid {
            cmd.args(["--mchid", m]);
        }
        cmd.args(["req", "GET", "v3/certificates"])
            .output()
            .unwrap()
    };
    assert_eq!(code(&run(None, None)), 0);
    // The environment's (wrong) merchant id wins over the profile's: the sandbox refuses it.
    let out = run(Some("1900000000"), None);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("SIGN_ERROR"), "{}", stderr(&out));
    // The flag wins over the environment.
    assert_eq!(code(&run(Some("1900000000"), Some(&s.mchid()))), 0);

    // A profile from the environment only (no config file at all).
    let id = s.sandbox.identity();
    let out = wxpay()
        .env("WECHATPAY_MCHID", &id.mchid)
        .env("WECHATPAY_SERIAL", &id.merchant_serial)
        .env("WECHATPAY_PRIVATE_KEY", &id.merchant_private_key_pem)
        .env(
            "WECHATPAY_PLATFORM_KEYS",
            format!(
                "{}={}",
                id.public_key_id,
                s.dir.path("pub_key.pem").display()
            ),
        )
        .env("WECHATPAY_BASE_URI", s.sandbox.base_uri())
        .env("WECHATPAY_ALLOW_INSECURE_HTTP", "true")
        .args(["req", "GET", "v3/certificates"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn apiv2_calls_print_the_answer_fields() {
    let s = setup();
    let out = s.run(&[
        "req", "POST", "v2/pay/micropay", "-d",
        &json!({
            "appid": "wxd678efh567hg6787", "mch_id": s.mchid(), "body": "micropay", "out_trade_no": "V2CLI",
            "total_fee": 1, "spbill_create_ip": "127.0.0.1", "auth_code": "134567890123456789",
        })
        .to_string(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let answer: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(answer["return_code"], "SUCCESS");
    assert_eq!(answer["out_trade_no"], "V2CLI");

    // A refund over mutual TLS: the profile's security_base_uri and merchant certificate.
    let refund = json!({
        "appid": "wxd678efh567hg6787", "mch_id": s.mchid(), "out_trade_no": "V2CLI",
        "out_refund_no": "V2CLI-R1", "total_fee": 1, "refund_fee": 1,
    })
    .to_string();
    let out = s.run(&[
        "req",
        "POST",
        "v2/secapi/pay/refund",
        "--security",
        "-d",
        &refund,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let answer: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(answer["out_refund_no"], "V2CLI-R1");
    let request = s.sandbox.requests().pop().unwrap();
    assert!(request.tls, "the refund went over the mutual-TLS port");
    // Without --security it goes to the plain port, where it does not exist.
    let out = s.run(&["req", "POST", "v2/secapi/pay/refund", "-d", &refund]);
    assert_ne!(code(&out), 0, "{}", stdout(&out));
}

#[test]
fn the_merchant_certificate_is_read_only_for_security_requests() {
    let s = setup();
    let missing = s.dir.path("missing_apiclient_cert.pem");
    let flag = ["--merchant-cert-file", missing.to_str().unwrap()];
    // An APIv3 call never presents the merchant certificate: a missing one does not matter.
    let out = s.run(&[&flag[..], &["req", "GET", "v3/certificates"]].concat());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let sent = s.sandbox.requests().len();
    // A --security request reads it, and names the file it could not read.
    let out = s.run(
        &[
            &flag[..],
            &[
                "req",
                "POST",
                "v2/secapi/pay/refund",
                "--security",
                "--no-check",
                "-d",
                "{}",
            ],
        ]
        .concat(),
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "cannot read the merchant certificate `{}`",
            missing.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.sandbox.requests().len(), sent, "nothing more was sent");
}

#[test]
fn literal_segments_are_sent_as_typed() {
    let s = setup();
    let out = s.run(&[
        "req",
        "POST",
        "v3.pay.transactions.native",
        "-d",
        &native_order(&s.mchid(), "Upper-Case-1"),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = s.run(&[
        "req",
        "GET",
        "v3/pay/transactions/out-trade-no/Upper-Case-1",
        "-p",
        &format!("mchid={}", s.mchid()),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        s.sandbox.requests().pop().unwrap().path(),
        "/v3/pay/transactions/out-trade-no/Upper-Case-1"
    );
}

#[test]
fn crt_downloads_decrypts_verifies_and_writes_the_certificates() {
    let s = setup();
    let out_dir = s.dir.path("certs");
    let id = s.sandbox.identity();
    let out_dir_s = out_dir.display().to_string();

    // Verified with the profile's platform keys.
    let out = s.run(&["crt", "-o", &out_dir_s]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let written = out_dir.join(format!("wechatpay_{}.pem", id.platform_serial));
    assert_eq!(
        std::fs::read_to_string(&written).unwrap(),
        id.platform_certificate_pem
    );
    assert!(stdout(&out).contains(&id.platform_serial));
    assert!(stdout(&out).contains(" valid 20"), "{}", stdout(&out));
    // Written again whatever the directory holds: it is neither trusted nor skipped.
    std::fs::write(&written, "stale").unwrap();
    let out = s.run(&["crt", "-o", &out_dir_s]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&written).unwrap(),
        id.platform_certificate_pem
    );

    // With no trusted key at all (a merchant in certificate mode): verified with the download
    // itself, and a warning.
    s.sandbox.set_sign_mode(SignMode::Certificate);
    let out = wxpay()
        .env("WECHATPAY_MCHID", &id.mchid)
        .env("WECHATPAY_SERIAL", &id.merchant_serial)
        .env("WECHATPAY_PRIVATE_KEY", &id.merchant_private_key_pem)
        .env("WECHATPAY_APIV3_KEY", &id.apiv3_key)
        .env("WECHATPAY_BASE_URI", s.sandbox.base_uri())
        .env("WECHATPAY_ALLOW_INSECURE_HTTP", "true")
        .args(["crt", "-o", &out_dir_s])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("warning"), "{}", stderr(&out));

    // A trusted key that did not sign the download: exit 2, nothing new written.
    let stranger = s.dir.path("stranger.pem");
    let other = openssl_key_pem();
    std::fs::write(&stranger, other).unwrap();
    std::fs::remove_file(&written).unwrap();
    let out = s.run(&[
        "crt",
        "-o",
        &out_dir_s,
        "--trust",
        &format!("{}={}", id.public_key_id, stranger.display()),
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(!written.exists());

    // A public-key-only merchant gets told what to do.
    s.sandbox.set_public_key_only(true);
    let out = s.run(&["crt", "-o", &out_dir_s]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("public key"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("RESOURCE_NOT_EXISTS"),
        "{}",
        stderr(&out)
    );
    // Trusting a certificate only (no public key to carry on with): WeChat Pay's own answer,
    // with its Request-ID, and the same hint.
    let platform_cert = s.dir.path(&format!("wechatpay_{}.pem", id.platform_serial));
    let out = s.run(&[
        "crt",
        "-o",
        &out_dir_s,
        "--trust",
        &format!("{}={}", id.platform_serial, platform_cert.display()),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("RESOURCE_NOT_EXISTS"), "{err}");
    assert!(err.contains("Request-ID"), "{err}");
    assert!(
        err.contains("hint: this merchant uses WeChat Pay public key mode"),
        "{err}"
    );
}

/// `wxpay crt` with the sandbox's merchant settings from the environment and no platform key
/// (a first download), plus `args`.
fn crt_without_keys(s: &Setup, args: &[&str]) -> Output {
    let id = s.sandbox.identity();
    wxpay()
        .env("WECHATPAY_MCHID", &id.mchid)
        .env("WECHATPAY_SERIAL", &id.merchant_serial)
        .env("WECHATPAY_PRIVATE_KEY", &id.merchant_private_key_pem)
        .env("WECHATPAY_APIV3_KEY", &id.apiv3_key)
        .env("WECHATPAY_BASE_URI", s.sandbox.base_uri())
        .env("WECHATPAY_ALLOW_INSECURE_HTTP", "true")
        .arg("crt")
        .args(args)
        .output()
        .unwrap()
}

/// The files in `dir` (none when it does not exist), sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn crt_refuses_a_first_download_signed_by_an_expired_certificate() {
    let s = setup();
    let id = s.sandbox.identity();
    s.sandbox.set_sign_mode(SignMode::Certificate);
    let day = std::time::Duration::from_secs(86_400);
    let now = std::time::SystemTime::now();
    let expired = s
        .sandbox
        .issue_platform_certificate(now - 31 * day, now - day)
        .unwrap();
    // The list carries the expired certificate and is signed with it.
    s.sandbox
        .sign_certificate_list_with(Some(&expired))
        .unwrap();
    let out_dir = s.dir.path("certs");
    let out_dir_s = out_dir.display().to_string();
    let out = crt_without_keys(&s, &["-o", &out_dir_s]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains(&expired), "{}", stderr(&out));
    assert!(stderr(&out).contains("valid now"), "{}", stderr(&out));
    assert_eq!(files(&out_dir), Vec::<String>::new(), "nothing is written");

    // The same list signed by its certificate that is valid: taken, and only that one
    // written (the expired one is no longer listed).
    s.sandbox.sign_certificate_list_with(None).unwrap();
    let out = crt_without_keys(&s, &["-o", &out_dir_s]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        files(&out_dir),
        [format!("wechatpay_{}.pem", id.platform_serial)]
    );
}

#[test]
fn crt_trust_refuses_a_certificate_whose_serial_is_not_its_id() {
    let s = setup();
    let id = s.sandbox.identity();
    s.sandbox.set_sign_mode(SignMode::Certificate);
    let cert = s.dir.path("platform_cert.pem");
    std::fs::write(&cert, &id.platform_certificate_pem).unwrap();
    let out_dir = s.dir.path("certs");
    let out_dir_s = out_dir.display().to_string();
    let wrong_id = if id.platform_serial.starts_with("0ABC") {
        "0ABD"
    } else {
        "0ABC"
    };
    let out = s.run(&[
        "crt",
        "-o",
        &out_dir_s,
        "--trust",
        &format!("{wrong_id}={}", cert.display()),
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(wrong_id), "{err}");
    assert!(err.contains(&id.platform_serial), "{err}");
    assert!(err.contains(&cert.display().to_string()), "{err}");
    assert_eq!(files(&out_dir), Vec::<String>::new(), "nothing is written");

    // Under its own serial (any case), the certificate anchors the download, and the
    // download's copy of it is written too.
    let out = s.run(&[
        "crt",
        "-o",
        &out_dir_s,
        "--trust",
        &format!("{}={}", id.platform_serial.to_lowercase(), cert.display()),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let written = out_dir.join(format!("wechatpay_{}.pem", id.platform_serial));
    assert_eq!(
        std::fs::read_to_string(&written).unwrap(),
        id.platform_certificate_pem
    );
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

fn openssl_key_pem() -> Vec<u8> {
    let key = wechatpay::crypto::PrivateKey::load(generate_pkcs8()).unwrap();
    key.public_key()
        .unwrap()
        .as_openssl()
        .public_key_to_pem()
        .unwrap()
}

fn generate_pkcs8() -> Vec<u8> {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => o.stdout,
        _ => panic!("the openssl command line is needed (apt-get install openssl)"),
    }
}

#[test]
fn notify_verifies_and_decrypts_callbacks() {
    let s = setup();
    let (headers, body) = deliver(&s, NotifyVariant::Valid);
    let (h, b) = (headers.display().to_string(), body.display().to_string());
    let out = s.run(&["notify", "verify", "--headers", &h, "--body", &b]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = s.run(&["notify", "decrypt", "--headers", &h, "--body", &b]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let resource: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(resource["out_trade_no"], "NOTIFY1");
    assert!(
        stderr(&out).contains("TRANSACTION.SUCCESS"),
        "{}",
        stderr(&out)
    );

    for variant in [NotifyVariant::BadSignature, NotifyVariant::StaleTimestamp] {
        let (headers, body) = deliver(&s, variant);
        let out = s.run(&[
            "notify",
            "decrypt",
            "--headers",
            &headers.display().to_string(),
            "--body",
            &body.display().to_string(),
        ]);
        assert_eq!(code(&out), 2, "{variant:?}: {}", stderr(&out));
    }
    let out = s.run(&[
        "notify",
        "verify",
        "--headers",
        "/nonexistent",
        "--body",
        &b,
    ]);
    assert_eq!(code(&out), 3);
}

#[test]
fn sign_encrypt_and_decrypt() {
    let s = setup();
    let id = s.sandbox.identity();
    let out = s.run(&[
        "sign",
        "jsapi",
        "--appid",
        "wxd678efh567hg6787",
        "--prepay-id",
        "wx201410272009395522657a690389285100",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let params: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(
        params["package"],
        "prepay_id=wx201410272009395522657a690389285100"
    );
    assert_eq!(params["signType"], "RSA");
    // paySign verifies with the merchant certificate's key over the documented message.
    let message = format!(
        "{}\n{}\n{}\n{}\n",
        params["appId"].as_str().unwrap(),
        params["timeStamp"].as_str().unwrap(),
        params["nonceStr"].as_str().unwrap(),
        params["package"].as_str().unwrap()
    );
    let cert = wechatpay::crypto::Certificate::load(&id.merchant_certificate_pem).unwrap();
    let signature = wechatpay::crypto::base64_decode(params["paySign"].as_str().unwrap()).unwrap();
    assert!(
        cert.public_key()
            .verify_sha256(message.as_bytes(), &signature)
    );
    let out = s.run(&[
        "sign",
        "app",
        "--appid",
        "wxd678efh567hg6787",
        "--prepay-id",
        "wx2014",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("\"partnerid\""), "{}", stdout(&out));

    // encrypt: the preferred platform key (the public key id), named on stderr.
    let out = s.run(&["encrypt", "330821199001011234"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains(&id.public_key_id));
    let ciphertext = stdout(&out).trim().to_owned();
    assert_eq!(
        wechatpay::crypto::base64_decode(&ciphertext).unwrap().len(),
        256
    );
    let out = s.run(&["encrypt", "x", "--key", "PUB_KEY_ID_0000"]);
    assert_eq!(code(&out), 3);

    // decrypt: with the merchant key.
    let sealed = cert.public_key().encrypt_oaep_base64("张三").unwrap();
    let out = s.run(&["decrypt", &sealed]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "张三");
    let out = s.run(&["decrypt", &ciphertext]);
    assert_eq!(
        code(&out),
        2,
        "a ciphertext for another key: {}",
        stderr(&out)
    );
}

#[test]
fn bill_download_streams_checks_and_renames() {
    let s = setup();
    for gzip in [false, true] {
        let file = s.dir.path(if gzip { "bill-gz.csv" } else { "bill.csv" });
        let mut args = vec!["bill", "download", "--bill-date", "2026-11-26"];
        let f = file.display().to_string();
        args.extend(["-o", &f]);
        if gzip {
            args.push("--gzip");
        }
        let out = s.run(&args);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let csv = std::fs::read(&file).unwrap();
        let sha1 = wechatpay::crypto::hex_lower(&wechatpay::crypto::sha1(&csv).unwrap());
        assert!(stdout(&out).contains(&sha1), "{}", stdout(&out));
        assert_eq!(partial_files(file.parent().unwrap()), Vec::<String>::new());
    }
    // A tampered transfer: exit 2, no file.
    s.sandbox.set_fault(Some(Fault::TamperedBody));
    let file = s.dir.path("tampered.csv");
    let out = s.run(&[
        "bill",
        "download",
        "--bill-date",
        "2026-11-26",
        "-o",
        &file.display().to_string(),
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(!file.exists());
    assert_eq!(partial_files(file.parent().unwrap()), Vec::<String>::new());
}

/// The `.partial` files left in `dir`.
fn partial_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".partial"))
        .collect()
}

/// Runs `wxpay sandbox` until it has printed its profile; returns the child and what it printed.
fn start_sandbox(args: &[&str]) -> (std::process::Child, String) {
    let mut child = wxpay()
        .arg("sandbox")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut printed = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("base_uri") {
            break;
        }
    }
    (child, printed)
}

fn profile_value(printed: &str, key: &str) -> String {
    printed
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in {printed}"))
        .trim_matches('"')
        .to_owned()
}

#[test]
fn the_sandbox_subcommand_serves_and_prints_a_working_profile() {
    let dir = Scratch::new();
    let keys = dir.0.display().to_string();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let (mut child, printed) = start_sandbox(&["--keys", &keys, "--port", &port.to_string()]);
    assert!(printed.contains("[profile.sandbox]"), "{printed}");
    assert_eq!(
        profile_value(&printed, "base_uri"),
        format!("http://127.0.0.1:{port}/")
    );
    let out = wxpay()
        .arg("--config")
        .arg(dir.path("wxpay.toml"))
        .args(["--profile", "sandbox", "req", "GET", "v3/certificates"])
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // The keys persist: a second run from the same directory has the same identity.
    let (mut again, reprinted) = start_sandbox(&["--keys", &keys]);
    let _ = again.kill();
    let _ = again.wait();
    for key in ["mchid", "serial"] {
        assert_eq!(
            profile_value(&printed, key),
            profile_value(&reprinted, key),
            "{key}"
        );
    }
}

/// A fresh RSA key pair: (private key PKCS#8 PEM, public key SPKI PEM).
fn key_pair() -> (Vec<u8>, Vec<u8>) {
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    (
        key.private_key_to_pem_pkcs8().unwrap(),
        key.public_key_to_pem().unwrap(),
    )
}

/// A self-signed certificate with this hex serial, valid from `from_days` to `to_days` days from
/// now: (private key PKCS#8 PEM, certificate PEM).
fn certificate(serial_hex: &str, from_days: i64, to_days: i64) -> (Vec<u8>, Vec<u8>) {
    use openssl::asn1::{Asn1Integer, Asn1Time};
    use openssl::bn::BigNum;
    use openssl::x509::{X509, X509NameBuilder};
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "wxpay test").unwrap();
    let name = name.build();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut builder = X509::builder().unwrap();
    builder.set_version(2).unwrap();
    let serial = BigNum::from_hex_str(serial_hex).unwrap();
    builder
        .set_serial_number(&Asn1Integer::from_bn(&serial).unwrap())
        .unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder
        .set_not_before(&Asn1Time::from_unix(now + from_days * 86_400).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::from_unix(now + to_days * 86_400).unwrap())
        .unwrap();
    builder
        .sign(&key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    (
        key.private_key_to_pem_pkcs8().unwrap(),
        builder.build().to_pem().unwrap(),
    )
}

/// `wxpay` with `stdin` written to it and closed.
fn run_with_stdin(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn decrypt_with(private_pem: &[u8], ciphertext: &str) -> String {
    wechatpay::crypto::PrivateKey::load(private_pem)
        .unwrap()
        .decrypt_oaep_base64(ciphertext.trim())
        .unwrap()
}

#[test]
fn encrypt_dash_reads_the_text_from_stdin() {
    let dir = Scratch::new();
    let (private, public) = key_pair();
    std::fs::write(dir.path("pub.pem"), public).unwrap();
    let key = format!("PUB_KEY_ID_0001={}", dir.path("pub.pem").display());
    // One trailing line break (LF or CRLF) is dropped, as `echo` adds it; the rest is kept.
    for (input, text) in [
        ("secret\n", "secret"),
        ("secret", "secret"),
        ("secret\r\n", "secret"),
        ("two lines\nsecond\n\n", "two lines\nsecond\n"),
        ("-\n", "-"),
    ] {
        let out = run_with_stdin(
            wxpay().args(["--platform-key", &key, "encrypt", "-"]),
            input.as_bytes(),
        );
        assert_eq!(code(&out), 0, "{input:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "Wechatpay-Serial: PUB_KEY_ID_0001\n");
        assert_eq!(decrypt_with(&private, &stdout(&out)), text, "{input:?}");
    }
    // Nothing to encrypt.
    for input in ["", "\n"] {
        let out = run_with_stdin(
            wxpay().args(["--platform-key", &key, "encrypt", "-"]),
            input.as_bytes(),
        );
        assert_eq!(code(&out), 3, "{input:?}");
        assert_eq!(stdout(&out), "");
        assert_eq!(
            stderr(&out),
            "wxpay: nothing to encrypt: the text is empty\n"
        );
    }
    let out = run_with_stdin(
        wxpay().args(["--platform-key", &key, "encrypt", "-"]),
        b"\xff\xfe\n",
    );
    assert_eq!(code(&out), 3);
    assert_eq!(stderr(&out), "wxpay: stdin is not UTF-8\n");
}

#[test]
fn output_that_cannot_be_written_is_an_error_not_a_panic() {
    let s = setup();
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let message = "wxpay: cannot write to stdout: No space left on device (os error 28)\n";
    let dir = Scratch::new();
    let (_, public) = key_pair();
    std::fs::write(dir.path("pub.pem"), public).unwrap();
    let key = format!("PUB_KEY_ID_0001={}", dir.path("pub.pem").display());

    // A line of text (encrypt), JSON (sign), a raw answer (req) and --help.
    let out = wxpay()
        .args(["--platform-key", &key, "encrypt", "x"])
        .stdout(full())
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        format!("Wechatpay-Serial: PUB_KEY_ID_0001\n{message}")
    );
    let out = wxpay()
        .arg("--config")
        .arg(&s.config)
        .args(["--profile", "sandbox", "sign", "jsapi"])
        .args(["--appid", "wxd678efh567hg6787", "--prepay-id", "wx2014"])
        .stdout(full())
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    assert_eq!(stderr(&out), message);
    let out = wxpay()
        .arg("--config")
        .arg(&s.config)
        .args(["--profile", "sandbox", "req", "GET", "v3/certificates"])
        .stdout(full())
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).starts_with("HTTP 200 OK"), "{}", stderr(&out));
    assert!(stderr(&out).ends_with(message), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 2, "{}", stderr(&out));
    let out = wxpay().arg("--help").stdout(full()).output().unwrap();
    assert_eq!(code(&out), 3);
    assert_eq!(stderr(&out), message);

    // A reader that went away: exit 141 and nothing more on stderr. The stdout pipe is closed
    // before wxpay gets its input on stdin, so its write always finds it closed.
    let spawn = |cmd: &mut Command, input: &[u8]| {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = spawn(
        wxpay().args(["--platform-key", &key, "encrypt", "-"]),
        b"secret\n",
    );
    assert_eq!(code(&out), 141, "{}", stderr(&out));
    assert_eq!(stderr(&out), "Wechatpay-Serial: PUB_KEY_ID_0001\n");
    let out = spawn(
        wxpay()
            .arg("--config")
            .arg(&s.config)
            .args(["--profile", "sandbox"])
            .args(["req", "POST", "v3/pay/transactions/native", "-d", "-"]),
        native_order(&s.mchid(), "PIPE1").as_bytes(),
    );
    assert_eq!(code(&out), 141, "{}", stderr(&out));
    assert!(stderr(&out).starts_with("HTTP 200 OK"), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));

    // A stderr that cannot be written loses the messages, not the outcome.
    let out = wxpay()
        .args(["--platform-key", &key, "encrypt", "x"])
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0);
    assert!(!stdout(&out).is_empty());
    let out = wxpay()
        .args(["decrypt", "x"])
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
}

#[test]
fn a_var_cannot_set_a_request_option() {
    let s = setup();
    let sent = s.sandbox.requests().len();
    for (var, message) in [
        (
            "base_uri=http://127.0.0.1:1/",
            "wxpay: --var base_uri: `base_uri` is a request option, not a template variable: \
             use --base-uri URI\n",
        ),
        (
            "body=T1",
            "wxpay: --var body: `body` is a request option, not a template variable: give the \
             body with -d\n",
        ),
        (
            "json={}",
            "wxpay: --var json: `json` is a request option, not a template variable: give the \
             body with -d\n",
        ),
        (
            "query=a=b",
            "wxpay: --var query: `query` is a request option, not a template variable: give \
             query parameters with -p K=V\n",
        ),
        (
            "headers=x",
            "wxpay: --var headers: `headers` is a request option, not a template variable: give \
             headers with -H 'K: V'\n",
        ),
        (
            "security=true",
            "wxpay: --var security: `security` is a request option, not a template variable: \
             use --security\n",
        ),
        (
            "timeout=1",
            "wxpay: --var timeout: `timeout` is a request option, not a template variable: \
             wxpay has no flag for it\n",
        ),
    ] {
        let out = s.run(&["req", "GET", "v3/certificates", "--var", var]);
        assert_eq!(code(&out), 3, "{var}: {}", stderr(&out));
        assert_eq!(stderr(&out), message, "{var}");
        assert_eq!(stdout(&out), "");
    }
    // Every reserved key is refused.
    for key in wechatpay::RESERVED_KEYS {
        let out = s.run(&[
            "req",
            "GET",
            "v3/certificates",
            "--var",
            &format!("{key}=1"),
        ]);
        assert_eq!(code(&out), 3, "{key}");
    }
    assert_eq!(s.sandbox.requests().len(), sent, "nothing was sent");
}

#[test]
fn each_command_asks_only_for_what_it_uses() {
    let s = setup();
    let id = s.sandbox.identity();
    let merchant = wechatpay::crypto::Certificate::load(&id.merchant_certificate_pem).unwrap();

    // decrypt: the private key alone.
    let sealed = merchant.public_key().encrypt_oaep_base64("张三").unwrap();
    let out = wxpay()
        .env("WECHATPAY_PRIVATE_KEY", &id.merchant_private_key_pem)
        .args(["decrypt", &sealed])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "张三\n");
    let out = wxpay().args(["decrypt", &sealed]).output().unwrap();
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        "wxpay: `decrypt` needs the merchant private key: set --private-key-file, \
         $WECHATPAY_PRIVATE_KEY_FILE, $WECHATPAY_PRIVATE_KEY or `private_key_file` in the profile\n"
            .to_owned()
            + &no_config_note()
    );

    // sign jsapi: the private key alone; sign app: and the merchant id (its partnerid).
    let sign = |kind: &str, mchid: Option<&str>| {
        let mut cmd = wxpay();
        cmd.env("WECHATPAY_PRIVATE_KEY", &id.merchant_private_key_pem);
        if let Some(mchid) = mchid {
            cmd.args(["--mchid", mchid]);
        }
        cmd.args([
            "sign",
            kind,
            "--appid",
            "wxd678efh567hg6787",
            "--prepay-id",
            "wx2014",
        ])
        .output()
        .unwrap()
    };
    let out = sign("jsapi", None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let params: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let signature = wechatpay::crypto::base64_decode(params["paySign"].as_str().unwrap()).unwrap();
    let message = format!(
        "wxd678efh567hg6787\n{}\n{}\nprepay_id=wx2014\n",
        params["timeStamp"].as_str().unwrap(),
        params["nonceStr"].as_str().unwrap()
    );
    assert!(
        merchant
            .public_key()
            .verify_sha256(message.as_bytes(), &signature)
    );
    let out = sign("app", None);
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        "wxpay: `sign app` needs the merchant id: set --mchid, $WECHATPAY_MCHID or `mchid` in \
         the profile\n"
            .to_owned()
            + &no_config_note()
    );
    let out = sign("app", Some("1900000109"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let params: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(params["partnerid"], "1900000109");

    // encrypt: a platform key alone.
    let pub_key = format!(
        "{}={}",
        id.public_key_id,
        s.dir.path("pub_key.pem").display()
    );
    let out = wxpay()
        .args(["--platform-key", &pub_key, "encrypt", "x"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = wxpay().args(["encrypt", "x"]).output().unwrap();
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        "wxpay: no platform key: set --platform-key ID=PATH, $WECHATPAY_PLATFORM_KEYS or \
         `platform_keys` in the profile\n"
            .to_owned()
            + &no_config_note()
    );

    // notify: a platform key and the APIv3 key, no merchant id, serial or private key.
    let (headers, body) = deliver(&s, NotifyVariant::Valid);
    let (h, b) = (headers.display().to_string(), body.display().to_string());
    for action in ["verify", "decrypt"] {
        let out = wxpay()
            .env("WECHATPAY_APIV3_KEY", &id.apiv3_key)
            .args(["--platform-key", &pub_key, "notify", action])
            .args(["--headers", &h, "--body", &b])
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{action}: {}", stderr(&out));
        let out = wxpay()
            .args(["--platform-key", &pub_key, "notify", action])
            .args(["--headers", &h, "--body", &b])
            .output()
            .unwrap();
        assert_eq!(code(&out), 3, "{action}");
        assert_eq!(
            stderr(&out),
            "wxpay: `notify` needs the APIv3 key: set --apiv3-key-file, \
             $WECHATPAY_APIV3_KEY_FILE, $WECHATPAY_APIV3_KEY or `apiv3_key_file` in the profile\n"
                .to_owned()
                + &no_config_note()
        );
    }
    let out = wxpay()
        .env("WECHATPAY_APIV3_KEY", &id.apiv3_key)
        .args(["notify", "decrypt", "--headers", &h, "--body", &b])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        "wxpay: no platform key: set --platform-key ID=PATH, $WECHATPAY_PLATFORM_KEYS or \
         `platform_keys` in the profile\n"
            .to_owned()
            + &no_config_note()
    );
}

#[test]
fn configuration_errors_name_flags_not_library_methods() {
    let dir = Scratch::new();
    let (private, public) = key_pair();
    let key_file = dir.path("apiclient_key.pem");
    std::fs::write(&key_file, &private).unwrap();
    std::fs::write(dir.path("pub.pem"), &public).unwrap();
    let key_file_s = key_file.display().to_string();
    let pub_key = format!("PUB_KEY_ID_0001={}", dir.path("pub.pem").display());
    let run = |args: &[&str], secret: bool| {
        let mut cmd = wxpay();
        if secret {
            cmd.env("WECHATPAY_SECRET", "0123456789abcdef0123456789abcdef");
        }
        cmd.args(["--mchid", "1900000109"])
            .args(args)
            .output()
            .unwrap()
    };
    let serial = "7132D72A03E93CDDF8C03BBD1F37EEDF2C3C5C2B";
    for (args, secret, message) in [
        (
            &[
                "--private-key-file",
                &key_file_s,
                "--platform-key",
                &pub_key,
            ][..],
            false,
            "no merchant API certificate serial: set --serial, $WECHATPAY_SERIAL or `serial` in \
             the profile",
        ),
        (
            &["--serial", serial, "--platform-key", &pub_key][..],
            false,
            "no merchant private key: set --private-key-file, $WECHATPAY_PRIVATE_KEY_FILE, \
             $WECHATPAY_PRIVATE_KEY or `private_key_file` in the profile",
        ),
        (
            &["--serial", serial, "--private-key-file", &key_file_s][..],
            false,
            "no platform key: set --platform-key ID=PATH, $WECHATPAY_PLATFORM_KEYS or \
             `platform_keys` in the profile",
        ),
        (
            &[][..],
            true,
            "APIv3 calls need the merchant API certificate serial (--serial), the merchant \
             private key (--private-key-file) and a platform key (--platform-key ID=PATH); this \
             profile has only APIv2 settings",
        ),
    ] {
        let out = run(&[args, &["req", "GET", "v3/certificates"]].concat(), secret);
        assert_eq!(code(&out), 3, "{args:?}: {}", stderr(&out));
        let note = if message.contains("set --") {
            no_config_note()
        } else {
            String::new()
        };
        assert_eq!(
            stderr(&out),
            format!("wxpay: {message}\n{note}"),
            "{args:?}"
        );
    }
    let out = run(
        &[
            "--serial",
            serial,
            "--private-key-file",
            &key_file_s,
            "--platform-key",
            &pub_key,
            "req",
            "GET",
            "v2/pay/orderquery",
            "--no-check",
        ],
        false,
    );
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        "wxpay: `v2/...` calls need the APIv2 secret: set --secret-file, $WECHATPAY_SECRET_FILE, \
         $WECHATPAY_SECRET or `secret_file` in the profile\n"
            .to_owned()
            + &no_config_note()
    );

    // A passphrase-protected key: its passphrase from $WECHATPAY_PRIVATE_KEY_PASSPHRASE.
    let passphrase = "correct horse battery staple ";
    let encrypted = openssl::pkey::PKey::private_key_from_pem(&private)
        .unwrap()
        .private_key_to_pem_pkcs8_passphrase(
            openssl::symm::Cipher::aes_256_cbc(),
            passphrase.as_bytes(),
        )
        .unwrap();
    let encrypted_file = dir.path("encrypted_key.pem");
    std::fs::write(&encrypted_file, encrypted).unwrap();
    let sealed = wechatpay::crypto::PublicKey::load(&public)
        .unwrap()
        .encrypt_oaep_base64("张三")
        .unwrap();
    let decrypt = |passphrase: Option<&str>| {
        let mut cmd = wxpay();
        if let Some(p) = passphrase {
            cmd.env("WECHATPAY_PRIVATE_KEY_PASSPHRASE", p);
        }
        cmd.arg("--private-key-file")
            .arg(&encrypted_file)
            .args(["decrypt", &sealed])
            .output()
            .unwrap()
    };
    let out = decrypt(None);
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        format!(
            "wxpay: private key (file {}) is passphrase-protected: set its passphrase in \
             $WECHATPAY_PRIVATE_KEY_PASSPHRASE\n",
            encrypted_file.display()
        )
    );
    let out = decrypt(Some("wrong"));
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).starts_with(&format!(
            "wxpay: private key (file {}): the passphrase does not decrypt",
            encrypted_file.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(stderr(&out).lines().count(), 1);
    assert!(!stderr(&out).contains("wrong"), "{}", stderr(&out));
    // Taken exactly as it is: the trailing space belongs to it.
    let out = decrypt(Some(passphrase.trim_end()));
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let out = decrypt(Some(passphrase));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "张三\n");
    // No method names, and never the key.
    let pem = String::from_utf8(private).unwrap();
    let body = pem.lines().nth(1).unwrap();
    let out = wxpay()
        .env(
            "WECHATPAY_PRIVATE_KEY",
            "-----BEGIN PRIVATE KEY-----\nnot a key\n",
        )
        .args(["decrypt", &sealed])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).starts_with("wxpay: private key ($WECHATPAY_PRIVATE_KEY): "),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("not a key") && !stderr(&out).contains(body));
}

#[test]
fn bad_input_to_encrypt_and_decrypt_is_a_usage_error() {
    let s = setup();
    let out = s.run(&["decrypt", "!!!"]);
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        "wxpay: the ciphertext is not standard padded base64\n"
    );
    let out = s.run(&["encrypt", &"x".repeat(300)]);
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        "wxpay: the text is too long: RSA-OAEP plaintext is 300 bytes; a 2048-bit key takes at \
         most 214\n"
    );
    let out = s.run(&["encrypt", &"x".repeat(214)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = s.run(&["encrypt", ""]);
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        "wxpay: nothing to encrypt: the text is empty\n"
    );
    // Well-formed base64 that does not decrypt with this key: exit 2.
    let out = s.run(&["decrypt", "AAAA"]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        "wxpay: cryptographic error: RSA-OAEP ciphertext is 3 bytes; this 2048-bit key's are \
         256\n"
    );
}

#[test]
fn encrypt_uses_the_key_the_library_prefers_and_names_it() {
    let dir = Scratch::new();
    let write = |name: &str, pem: &[u8]| {
        let path = dir.path(name);
        std::fs::write(&path, pem).unwrap();
        path.display().to_string()
    };
    // What a client built with these keys prefers.
    let library_choice = |keys: &[(&str, &str)]| {
        let mut builder = wechatpay::Client::builder()
            .mchid("1900000109")
            .serial("7132D72A03E93CDDF8C03BBD1F37EEDF2C3C5C2B")
            .private_key(key_pair().0);
        for (id, path) in keys {
            builder = builder.platform_key_file(*id, path);
        }
        builder
            .build()
            .unwrap()
            .key_ring()
            .unwrap()
            .preferred()
            .unwrap()
    };
    let encrypt = |keys: &[(&str, &str)], extra: &[&str]| {
        let list: Vec<String> = keys
            .iter()
            .map(|(id, path)| format!("{id}={path}"))
            .collect();
        wxpay()
            .env("WECHATPAY_PLATFORM_KEYS", list.join(","))
            .args(["encrypt", "330821199001011234"])
            .args(extra)
            .output()
            .unwrap()
    };

    // Public keys, listed out of order, and a certificate first: the smallest public key id.
    let (private_1, public_1) = key_pair();
    let (_, public_2) = key_pair();
    let (_, cert) = certificate("5157F09EFDC096DE15EBE81A47057A7232F1B8E1", -1, 300);
    let keys = [
        (
            "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
            write("cert.pem", &cert),
        ),
        (
            "PUB_KEY_ID_0000000000000000000002",
            write("pub2.pem", &public_2),
        ),
        (
            "PUB_KEY_ID_0000000000000000000001",
            write("pub1.pem", &public_1),
        ),
    ];
    let keys: Vec<(&str, &str)> = keys.iter().map(|(i, p)| (*i, p.as_str())).collect();
    assert_eq!(library_choice(&keys), "PUB_KEY_ID_0000000000000000000001");
    let out = encrypt(&keys, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "Wechatpay-Serial: PUB_KEY_ID_0000000000000000000001\n"
    );
    assert_eq!(
        decrypt_with(&private_1, &stdout(&out)),
        "330821199001011234"
    );

    // Certificates only: the newest usable one, whatever the order (an expired one first).
    let (_, expired) = certificate("1A", -400, -1);
    let (_, older) = certificate("2B", -30, 300);
    let (private_newer, newer) = certificate("3C", -1, 300);
    let certs = [
        ("1A", write("expired.pem", &expired)),
        ("3C", write("newer.pem", &newer)),
        ("2B", write("older.pem", &older)),
    ];
    let certs: Vec<(&str, &str)> = certs.iter().map(|(i, p)| (*i, p.as_str())).collect();
    assert_eq!(library_choice(&certs), "3C");
    for order in [[0, 1, 2], [0, 2, 1], [2, 0, 1]] {
        let listed: Vec<(&str, &str)> = order.iter().map(|&i| certs[i]).collect();
        let out = encrypt(&listed, &[]);
        assert_eq!(code(&out), 0, "{order:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "Wechatpay-Serial: 3C\n", "{order:?}");
        assert_eq!(
            decrypt_with(&private_newer, &stdout(&out)),
            "330821199001011234"
        );
    }
    // Only expired certificates: nothing to prefer.
    let out = encrypt(&certs[..1], &[]);
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        "wxpay: no usable platform key: every configured certificate has expired or is not yet \
         valid; add the WeChat Pay public key with --platform-key PUB_KEY_ID_...=PATH\n"
    );
    // --key picks one; an unknown id is refused.
    let out = encrypt(&certs, &["--key", "2B"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "Wechatpay-Serial: 2B\n");
    let out = encrypt(&certs, &["--key", "PUB_KEY_ID_0000"]);
    assert_eq!(code(&out), 3);
    // The message lists the ids there are.
    assert_eq!(
        stderr(&out),
        "wxpay: --key `PUB_KEY_ID_0000` is not a configured platform key; configured: `1A`, \
         `2B`, `3C`\n"
    );
    // A certificate filed under another id is refused, as the client refuses it.
    let out = encrypt(&[("4D", certs[1].1)], &[]);
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        format!(
            "wxpay: platform key `4D`: the certificate's serial is 3C; the id of a \
             certificate must be its serial (`{}`)\n",
            certs[1].1
        )
    );
}

#[test]
fn verbose_prints_the_authorization_header_as_sent() {
    let s = setup();
    let out = s.run(&["req", "GET", "v3/certificates", "-v"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let sent = s.sandbox.requests().pop().unwrap();
    let sent = sent.header("authorization").unwrap();
    let (head, signature) = sent.split_once("signature=\"").unwrap();
    let rest = &signature[signature.find('"').unwrap()..];
    let masked = format!("{head}signature=\"<masked>{rest}");
    let err = stderr(&out);
    let shown: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("> authorization: "))
        .collect();
    assert_eq!(shown, [format!("> authorization: {masked}")]);
}

#[test]
fn req_prints_the_raw_body_when_piped() {
    let s = setup();
    let out = s.run(&[
        "req",
        "POST",
        "v3.pay.transactions.native",
        "-d",
        &native_order(&s.mchid(), "RAW1"),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let expected = s
        .sandbox
        .client()
        .chain("v3/pay/transactions/out-trade-no/{out_trade_no}")
        .get(json!({ "out_trade_no": "RAW1", "query": { "mchid": s.mchid() } }))
        .unwrap();
    let mchid = format!("mchid={}", s.mchid());
    let out = s.run(&[
        "req",
        "GET",
        "v3/pay/transactions/out-trade-no/RAW1",
        "-p",
        &mchid,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, expected.bytes().as_ref());
}

#[test]
fn config_and_uri_mistakes_are_one_line_errors() {
    let dir = Scratch::new();
    let config = dir.path("wxpay.toml");
    let run = |text: &str| {
        std::fs::write(&config, text).unwrap();
        wxpay()
            .arg("--config")
            .arg(&config)
            .args(["encrypt", "x"])
            .output()
            .unwrap()
    };
    let out = run("[profile.default]\nmchd = \"1900000109\"\n");
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        format!(
            "wxpay: config file `{}`: line 2, column 1: unknown field `mchd`, expected one of \
             `mchid`, `serial`, `private_key_file`, `platform_keys`, `apiv3_key_file`, \
             `secret_file`, `merchant_cert_file`, `base_uri`, `security_base_uri`, \
             `root_certificate_file`, `allow_insecure_http`\n",
            config.display()
        )
    );
    let out = run("[profile.default]\nmchid = \"1900000109\nserial = \"x\"\n");
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).starts_with(&format!(
            "wxpay: config file `{}`: line 2, column ",
            config.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));

    // The default config path, in --help.
    let out = wxpay().arg("--help").output().unwrap();
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out).contains(
            "default `$XDG_CONFIG_HOME/wxpay/config.toml`, else `~/.config/wxpay/config.toml`"
        ),
        "{}",
        stdout(&out)
    );

    // A full URL and an empty URI; a placeholder without a value.
    let s = setup();
    let sent = s.sandbox.requests().len();
    let out = s.run(&[
        "req",
        "GET",
        "https://api.mch.weixin.qq.com/v3/certificates",
    ]);
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        "wxpay: the URI `https://api.mch.weixin.qq.com/v3/certificates` is a full URL: give the \
         path under the base URI (such as v3/certificates), and the host with --base-uri\n"
    );
    for uri in ["", "/", " "] {
        let out = s.run(&["req", "GET", uri]);
        assert_eq!(code(&out), 3, "{uri:?}");
        assert_eq!(
            stderr(&out),
            "wxpay: the URI is empty: give an API path such as v3/certificates\n"
        );
    }
    let out = s.run(&["req", "GET", "v3/pay/transactions/id/{transaction_id}"]);
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        "wxpay: URI template error: template variable `transaction_id` has no value\n\
         hint: give it with --var transaction_id=VALUE\n"
    );
    assert_eq!(s.sandbox.requests().len(), sent, "nothing was sent");
}

/// Sends `signal` (`INT`, `TERM`) to `child` and waits (at most 10 s) for it to exit.
fn stop(child: &mut std::process::Child, signal: &str) -> std::process::ExitStatus {
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success());
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("wxpay sandbox did not stop on SIG{signal}");
}

#[test]
fn the_sandbox_stops_on_ctrl_c_and_removes_only_the_keys_it_made_for_the_run() {
    // Without --keys: a directory of its own, removed on Ctrl-C.
    let (mut child, printed) = start_sandbox(&[]);
    let config = printed
        .lines()
        .find_map(|l| l.strip_prefix("#   wxpay --config "))
        .and_then(|rest| rest.split(" --profile").next())
        .unwrap_or_else(|| panic!("no config path in {printed}"))
        .to_owned();
    let dir = Path::new(&config).parent().unwrap().to_owned();
    assert!(dir.join("wxpay.toml").exists(), "{}", dir.display());
    let status = stop(&mut child, "INT");
    assert!(status.success(), "{status:?}");
    assert!(!dir.exists(), "{} is left behind", dir.display());

    // With --keys: the caller's directory stays, on SIGTERM too.
    let keys = Scratch::new();
    let (mut child, _) = start_sandbox(&["--keys", &keys.0.display().to_string()]);
    let status = stop(&mut child, "TERM");
    assert!(status.success(), "{status:?}");
    assert!(keys.path("wxpay.toml").exists());
}

/// A plain `http` base URI is refused unless the profile, the environment or a flag allows it;
/// the refusal says why, and names the three ways.
#[test]
fn a_plain_http_base_uri_needs_allow_insecure_http() {
    let s = setup();
    let id = s.sandbox.identity();
    let run = |allow: Option<&str>, flag: bool| {
        let mut cmd = wxpay();
        cmd.env("WECHATPAY_MCHID", &id.mchid)
            .env("WECHATPAY_SERIAL", &id.merchant_serial)
            .env("WECHATPAY_PRIVATE_KEY", &id.merchant_private_key_pem)
            .env(
                "WECHATPAY_PLATFORM_KEYS",
                format!(
                    "{}={}",
                    id.public_key_id,
                    s.dir.path("pub_key.pem").display()
                ),
            )
            .env("WECHATPAY_BASE_URI", s.sandbox.base_uri());
        if let Some(value) = allow {
            cmd.env("WECHATPAY_ALLOW_INSECURE_HTTP", value);
        }
        if flag {
            cmd.arg("--allow-insecure-http");
        }
        cmd.args(["req", "GET", "v3/certificates"])
            .output()
            .unwrap()
    };
    let out = run(None, false);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    for part in [
        "base_uri: ",
        "uses plain http",
        "`Authorization` header",
        "--allow-insecure-http, $WECHATPAY_ALLOW_INSECURE_HTTP=true or `allow_insecure_http = true` in the profile",
    ] {
        assert!(stderr(&out).contains(part), "{part}: {}", stderr(&out));
    }
    assert!(s.sandbox.requests().is_empty(), "nothing is sent");
    let out = run(Some("false"), false);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let out = run(Some("maybe"), false);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("$WECHATPAY_ALLOW_INSECURE_HTTP must be `true` or `false`"),
        "{}",
        stderr(&out)
    );
    for (allow, flag) in [(Some("true"), false), (Some("1"), false), (None, true)] {
        let out = run(allow, flag);
        assert_eq!(code(&out), 0, "{allow:?} {flag}: {}", stderr(&out));
    }
    // The profile `wxpay sandbox` writes allows it.
    assert_eq!(code(&s.run(&["req", "GET", "v3/certificates"])), 0);
}

#[test]
fn api_list_prints_every_operation_of_the_dataset() {
    let out = wxpay().args(["api", "list"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let c = wechatpay::catalogue::get();
    // The dataset's 1,154 operations: 1,153 to call and the callback.
    assert_eq!(lines.len(), 1154);
    assert_eq!(lines.len(), c.operations.len() + c.callbacks.len());
    for (line, op) in lines.iter().zip(&c.operations) {
        let expected = format!("{:<6} {}  {}", op.method.as_str(), op.template, op.title);
        assert!(line.starts_with(&expected), "{line:?} for {}", op.id());
    }
    assert!(lines[1153].starts_with("POST   v3/webhooks  "));
    assert!(lines[1153].ends_with("[callback: WeChat Pay sends it to your notify_url]"));
    assert!(
        lines.contains(
            &"GET    v3/certificates  获取平台证书列表  [apihk.mch.weixin.qq.com, Hong Kong wallet]"
        ) || lines
            .iter()
            .any(|l| l.starts_with("GET    v3/certificates  ") && l.ends_with("Hong Kong wallet]")),
    );

    let out = wxpay()
        .args(["api", "list", "transactions/native"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l == "POST   v3/pay/transactions/native  Native下单API")
    );
    assert!(
        stdout(&out)
            .lines()
            .all(|l| l.contains("transactions/native"))
    );

    let out = wxpay()
        .args(["api", "list", "no-such-api"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        "wxpay: no operation matches `no-such-api`\nhint: `wxpay api list` prints them all\n"
    );
}

#[test]
fn api_show_describes_an_operation_from_its_template_or_a_path() {
    let out = wxpay()
        .args(["api", "show", "v3/pay/transactions/native"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("POST v3/pay/transactions/native  Native下单API\n  host: https://api.mch.weixin.qq.com/\n"), "{text}");
    let row = |cells: &[&str]| {
        text.lines().any(|l| {
            l.split("  ")
                .filter(|c| !c.trim().is_empty())
                .map(str::trim)
                .eq(cells.iter().copied())
        })
    };
    assert!(
        row(&["amount.total", "integer", "required", "总金额"]),
        "{text}"
    );
    assert!(row(&["attach", "string", "附加数据"]), "{text}");
    assert!(
        row(&[
            "detail.goods_detail[].quantity",
            "integer",
            "required",
            "商品数量"
        ]),
        "{text}"
    );
    assert!(
        row(&["code_url", "string", "required", "二维码链接"]),
        "{text}"
    );
    // The example body closes the description, as JSON.
    let example = text.split("example body:\n").nth(1).unwrap();
    let example: Value = serde_json::from_str(example).unwrap();
    assert_eq!(example["amount"]["total"], 100);

    // A concrete path with a query, every method at it.
    let out = wxpay()
        .args([
            "api",
            "show",
            "/v3/pay/transactions/out-trade-no/T1?mchid=1",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).starts_with("GET v3/pay/transactions/out-trade-no/{out_trade_no}  "));
    assert!(stdout(&out).contains("  query mchid"));

    // The dotted form, and one method.
    let out = wxpay()
        .args([
            "api",
            "show",
            "-X",
            "get",
            "v3.pay.transactions.id._transaction_id_",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).starts_with("GET v3/pay/transactions/id/{transaction_id}  "));

    // A misspelt path: exit 3, and what was meant.
    let out = wxpay()
        .args(["api", "show", "v3/pay/transaction/native"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        "wxpay: `v3/pay/transaction/native` is not in the catalogue\nhint: did you mean `POST v3/pay/transactions/native`?\n"
    );
    let out = wxpay()
        .args(["api", "show", "-X", "DELETE", "v3/pay/transactions/native"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out)
            .starts_with("wxpay: `DELETE v3/pay/transactions/native` is not in the catalogue\n")
    );
}

#[test]
fn req_example_prints_the_example_body_without_a_profile() {
    let out = wxpay()
        .args(["req", "POST", "v3/pay/transactions/native", "--example"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let printed: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let op = wechatpay::catalogue::get()
        .find(&wechatpay::Method::POST, "v3/pay/transactions/native")
        .unwrap();
    assert_eq!(printed, op.example_body().unwrap());
    assert_eq!(op.check_body(&printed), []);
    let out = wxpay()
        .args(["req", "GET", "v3/certificates", "--example"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    assert_eq!(stderr(&out), "wxpay: `GET v3/certificates` takes no body\n");
}

#[test]
fn req_checks_the_body_against_the_catalogue_before_sending() {
    let s = setup();
    let sent = || s.sandbox.requests().len();
    let before = sent();
    // A missing required field and a wrong type: both named by their JSON path; nothing sent.
    let mut order: Value = serde_json::from_str(&native_order(&s.mchid(), "CHECK1")).unwrap();
    order.as_object_mut().unwrap().remove("notify_url");
    order["amount"]["total"] = json!("1");
    let out = s.run(&[
        "req",
        "POST",
        "v3/pay/transactions/native",
        "-d",
        &order.to_string(),
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "wxpay: the body does not match `POST v3/pay/transactions/native`: /notify_url: a required \
         field is missing; /amount/total: expected an integer, found a string\n\
         hint: `wxpay api show` lists its fields; --no-check sends it anyway\n"
    );
    // An unknown enum value.
    let mut order: Value = serde_json::from_str(&native_order(&s.mchid(), "CHECK2")).unwrap();
    order["limit_pay"] = json!(["no_cash"]);
    let out = s.run(&[
        "req",
        "POST",
        "v3/pay/transactions/native",
        "-d",
        &order.to_string(),
    ]);
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).contains("/limit_pay/0: \"no_cash\" is not one of \"no_balance\""),
        "{}",
        stderr(&out)
    );
    // No body where one is required.
    let out = s.run(&["req", "POST", "v3/pay/transactions/native"]);
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).starts_with(
        "wxpay: `POST v3/pay/transactions/native` takes a body (required: appid, mchid, description, out_trade_no, amount, notify_url); none given\n"
    ), "{}", stderr(&out));
    assert_eq!(sent(), before, "nothing was sent");

    // --no-check sends it as given: the sandbox (as WeChat Pay) refuses the wrong type.
    let mut order: Value = serde_json::from_str(&native_order(&s.mchid(), "CHECK3")).unwrap();
    order["amount"]["total"] = json!("1");
    let out = s.run(&[
        "req",
        "POST",
        "v3/pay/transactions/native",
        "--no-check",
        "-d",
        &order.to_string(),
    ]);
    assert_eq!(sent(), before + 1, "{}", stderr(&out));
    let request = s.sandbox.requests().pop().unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&request.body).unwrap(),
        order
    );

    // A good body passes the check and is sent.
    let out = s.run(&[
        "req",
        "POST",
        "v3/pay/transactions/native",
        "-d",
        &native_order(&s.mchid(), "CHECK4"),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sent(), before + 2);

    // A path the catalogue does not know is sent as given, with a note naming the nearest.
    let out = s.run(&[
        "req",
        "POST",
        "v3/pay/transaction/native",
        "-d",
        &native_order(&s.mchid(), "CHECK5"),
    ]);
    assert!(stderr(&out).starts_with(
        "note: `POST v3/pay/transaction/native` is not in the catalogue (nearest: `POST v3/pay/transactions/native`); sending it as given\n"
    ), "{}", stderr(&out));
    assert_eq!(sent(), before + 3);
}

#[test]
fn completions_offer_the_api_paths() {
    for shell in ["bash", "zsh", "fish"] {
        let out = wxpay().args(["completions", shell]).output().unwrap();
        assert_eq!(code(&out), 0, "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(script.contains("v3/pay/transactions/native"), "{shell}");
        assert!(
            script.contains("v3/pay/transactions/out-trade-no/{out_trade_no}"),
            "{shell}"
        );
    }
    // Bash, for real: the script sourced, the completion function asked as bash asks it.
    let out = wxpay().args(["completions", "bash"]).output().unwrap();
    let dir = Scratch::new();
    let script = dir.path("wxpay.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "source {}; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT={}; _wxpay wxpay '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1,
            line.len(),
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let out = Command::new("bash")
            .args(["-c", &program])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).lines().map(str::to_owned).collect::<Vec<_>>()
    };
    let mut found = complete("wxpay req POST v3/pay/transactions/n");
    found.sort();
    assert_eq!(found, ["v3/pay/transactions/native"]);
    let found = complete("wxpay req GET v3/pay/transactions/out-trade-no/");
    assert!(
        found.contains(&"v3/pay/transactions/out-trade-no/{out_trade_no}".to_owned()),
        "{found:?}"
    );
    assert_eq!(complete("wxpay req P"), ["POST", "PUT", "PATCH"]);

    // Fish, for real, where it is installed (CI installs it); zsh's script parses.
    if Command::new("fish").arg("--version").output().is_ok() {
        let out = wxpay().args(["completions", "fish"]).output().unwrap();
        let script = dir.path("wxpay.fish");
        std::fs::write(&script, &out.stdout).unwrap();
        let complete = |line: &str| {
            let program = format!("source {}; complete -C '{line}'", script.display());
            let out = Command::new("fish")
                .args(["-c", &program])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            stdout(&out)
                .lines()
                .map(|l| l.split('\t').next().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            complete("wxpay req POST v3/pay/transactions/n"),
            ["v3/pay/transactions/native"]
        );
        assert!(
            complete("wxpay req GET v3/pay/transactions/out-trade-no/")
                .contains(&"v3/pay/transactions/out-trade-no/{out_trade_no}".to_owned())
        );
        assert!(
            complete("wxpay api show v3/refund/domestic/refunds")
                .contains(&"v3/refund/domestic/refunds/{out_refund_no}".to_owned())
        );
    } else {
        eprintln!("fish is not installed: its completion is checked for content only");
    }
    if Command::new("zsh").arg("--version").output().is_ok() {
        let out = wxpay().args(["completions", "zsh"]).output().unwrap();
        let script = dir.path("_wxpay");
        std::fs::write(&script, &out.stdout).unwrap();
        let out = Command::new("zsh").arg("-n").arg(&script).output().unwrap();
        assert!(out.status.success(), "zsh -n: {}", stderr(&out));
    }
}

/// A `wxpay sandbox` process of a test, with its keys directory; killed on drop.
struct Running {
    child: std::process::Child,
    printed: String,
    base: String,
    keys: Scratch,
}

impl Running {
    /// `wxpay sandbox --keys DIR ARGS...`, once it has printed its profile.
    fn start(args: &[&str]) -> Running {
        let keys = Scratch::new();
        let dir = keys.0.display().to_string();
        let mut all = vec!["--keys", dir.as_str()];
        all.extend_from_slice(args);
        let (child, printed) = start_sandbox(&all);
        let base = profile_value(&printed, "base_uri");
        Running {
            child,
            printed,
            base,
            keys,
        }
    }

    fn config(&self) -> PathBuf {
        self.keys.path("wxpay.toml")
    }

    /// `wxpay --config DIR/wxpay.toml --profile sandbox ARGS...`
    fn wxpay(&self, args: &[&str]) -> Output {
        wxpay()
            .arg("--config")
            .arg(self.config())
            .args(["--profile", "sandbox"])
            .args(args)
            .output()
            .unwrap()
    }

    /// `wxpay sandbox ACTION --sandbox BASE ARGS...`
    fn control(&self, action: &str, args: &[&str]) -> Output {
        wxpay()
            .args(["sandbox", action, "--sandbox", &self.base])
            .args(args)
            .output()
            .unwrap()
    }

    fn mchid(&self) -> String {
        profile_value(&self.printed, "mchid")
    }

    /// Places a native order with this notify_url through `wxpay req`.
    fn place(&self, out_trade_no: &str, notify_url: &str) {
        let body = json!({
            "appid": "wxd678efh567hg6787", "mchid": self.mchid(), "description": "QQ公仔",
            "out_trade_no": out_trade_no, "notify_url": notify_url,
            "amount": { "total": 9, "currency": "CNY" },
        })
        .to_string();
        let out = self.wxpay(&["req", "POST", "v3/pay/transactions/native", "-d", &body]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A callback as it arrived: its headers (names in lower case) and body.
type Hit = (Vec<(String, String)>, Vec<u8>);

/// A bare callback receiver: records each POST (headers, body) and answers 200.
struct Hook {
    url: String,
    hits: std::sync::Arc<std::sync::Mutex<Vec<Hit>>>,
}

impl Hook {
    fn start() -> Hook {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/notify", listener.local_addr().unwrap());
        let hits = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = std::sync::Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut data = Vec::new();
                let mut buf = [0u8; 8192];
                let head_end = loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break None,
                        Ok(n) => data.extend_from_slice(&buf[..n]),
                    }
                    if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                        break Some(end);
                    }
                };
                let Some(head_end) = head_end else { continue };
                let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
                let headers: Vec<(String, String)> = head
                    .split("\r\n")
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let length: usize = headers
                    .iter()
                    .find(|(k, _)| k == "content-length")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut body = data[head_end + 4..].to_vec();
                while body.len() < length {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => body.extend_from_slice(&buf[..n]),
                    }
                }
                log.lock().unwrap().push((headers, body));
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Hook { url, hits }
    }

    /// Waits (at most 10 s) for `n` callbacks.
    fn wait_for(&self, n: usize) -> Vec<Hit> {
        for _ in 0..1000 {
            let hits = self.hits.lock().unwrap().clone();
            if hits.len() >= n {
                return hits;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("fewer than {n} callbacks after 10 s");
    }
}

fn hit_header<'h>(hit: &'h Hit, name: &str) -> &'h str {
    hit.0
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name}"))
}

/// Checks a callback's signature with OpenSSL and the key in `pem` (a public key or a
/// certificate).
fn verify_callback(hit: &Hit, pem: &[u8]) {
    let key = match openssl::x509::X509::from_pem(pem) {
        Ok(cert) => cert.public_key().unwrap(),
        Err(_) => openssl::pkey::PKey::public_key_from_pem(pem).unwrap(),
    };
    let mut message = format!(
        "{}\n{}\n",
        hit_header(hit, "Wechatpay-Timestamp"),
        hit_header(hit, "Wechatpay-Nonce")
    )
    .into_bytes();
    message.extend_from_slice(&hit.1);
    message.push(b'\n');
    let signature = openssl::base64::decode_block(hit_header(hit, "Wechatpay-Signature")).unwrap();
    let mut verifier =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    verifier.update(&message).unwrap();
    assert!(
        verifier.verify(&signature).unwrap(),
        "the callback's signature"
    );
}

#[test]
fn sandbox_pay_and_notify_send_the_order_callback_to_its_notify_url() {
    let running = Running::start(&[]);
    let hook = Hook::start();
    running.place("CLI-PAY-1", &hook.url);

    // The address from the profile `wxpay sandbox` wrote.
    let out = running.wxpay(&["sandbox", "pay", "CLI-PAY-1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let paid: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let transaction_id = paid["transaction_id"].as_str().unwrap().to_owned();
    assert_eq!(
        paid,
        json!({
            "out_trade_no": "CLI-PAY-1", "transaction_id": transaction_id, "newly_paid": true,
            "notify_url": hook.url, "callback": true,
        })
    );
    let hits = hook.wait_for(1);
    let envelope: Value = serde_json::from_slice(&hits[0].1).unwrap();
    assert_eq!(envelope["event_type"], "TRANSACTION.SUCCESS");
    let public_key = std::fs::read(running.keys.path("pub_key.pem")).unwrap();
    verify_callback(&hits[0], &public_key);

    // notify: the order's callback again, same id, from the address in the environment.
    let out = wxpay()
        .env("WECHATPAY_SANDBOX", &running.base)
        .args(["sandbox", "notify", "--out-trade-no", "CLI-PAY-1"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let delivery: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(delivery["notification_id"], envelope["id"]);
    assert_eq!(delivery["status"], 200);
    assert_eq!(delivery["acknowledged"], true);
    let hits = hook.wait_for(2);
    assert_eq!(hits[1].1, hits[0].1);

    // Any event, spoiled, one attempt: the note on stderr says what came of it.
    let nowhere = {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        format!("http://127.0.0.1:{port}/n")
    };
    let out = running.control(
        "notify",
        &[
            "--event-type",
            "COMPLAINT.CREATE",
            "--resource",
            r#"{"complaint_id":"200201820200101080076610000"}"#,
            "--url",
            &nowhere,
            "--variant",
            "bad-signature",
            "--no-retry",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let delivery: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(delivery["event_type"], "COMPLAINT.CREATE");
    assert_eq!(delivery["outcome"], "failed");
    assert!(
        stderr(&out).starts_with("wxpay: note: no answer: cannot connect to 127.0.0.1:"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).ends_with(", no more attempts\n"),
        "{}",
        stderr(&out)
    );

    // Mistakes: the sandbox's own words (exit 1), or clap's (exit 3).
    let out = running.control("pay", &["NOPE"]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        stderr(&out),
        "wxpay: the sandbox refused: ORDER_NOT_EXIST: no order has the out_trade_no \"NOPE\"\n"
    );
    let out = running.control(
        "notify",
        &["--out-trade-no", "CLI-PAY-1", "--variant", "loud"],
    );
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).contains("unknown notification variant \"loud\""),
        "{}",
        stderr(&out)
    );
    let out = running.control("notify", &["--url", &hook.url]);
    assert_eq!(code(&out), 3, "one of the three is required");
    let out = running.control(
        "notify",
        &[
            "--event-type",
            "X.Y",
            "--resource",
            "[1]",
            "--url",
            &hook.url,
        ],
    );
    assert_eq!(code(&out), 3);
    assert_eq!(stderr(&out), "wxpay: --resource must be a JSON object\n");
}

#[test]
fn sandbox_log_follow_prints_each_request_with_its_verdict_and_each_callback() {
    let running = Running::start(&["--callback-time-scale", "0.01"]);
    let mut follower = wxpay()
        .env("WECHATPAY_SANDBOX", &running.base)
        .args(["sandbox", "log", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = follower.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_line = || {
        rx.recv_timeout(std::time::Duration::from_secs(15))
            .expect("a log line")
    };

    let out = running.wxpay(&["req", "GET", "v3/certificates"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let line = next_line();
    assert!(line.starts_with("[1] "), "{line}");
    assert!(line.ends_with(" GET /v3/certificates: ok"), "{line}");

    // Signed by hand over another body: the verdict says what had to be signed.
    let key = std::fs::read(running.keys.path("apiclient_key.pem")).unwrap();
    let key = openssl::pkey::PKey::private_key_from_pem(&key).unwrap();
    let serial = profile_value(&running.printed, "serial");
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS";
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    signer
        .update(format!("GET\n/v3/certificates\n{timestamp}\n{nonce}\nnot the body\n").as_bytes())
        .unwrap();
    let signature = openssl::base64::encode_block(&signer.sign_to_vec().unwrap());
    let authority = running
        .base
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    write!(
        stream,
        "GET /v3/certificates HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\
         Authorization: WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",\
         signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{serial}\"\r\n\r\n",
        running.mchid()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let line = next_line();
    assert!(line.starts_with("[2] "), "{line}");
    assert!(
        line.ends_with(&format!(
            " GET /v3/certificates: refused: signature verification failed (the signed \
             message must be \"GET\\n/v3/certificates\\n{timestamp}\\n{nonce}\\n\\n\")"
        )),
        "{line}"
    );

    // A callback that is not acknowledged, then its retry.
    let nowhere = {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        format!("http://127.0.0.1:{port}/n")
    };
    running.place("CLI-LOG-1", &nowhere);
    let line = next_line();
    assert!(
        line.starts_with("[3] ") && line.ends_with(" POST /v3/pay/transactions/native: ok"),
        "{line}"
    );
    let out = running.control("pay", &["CLI-LOG-1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let first = next_line();
    let second = next_line();
    for (line, n, wait) in [(&first, 1, "150 ms"), (&second, 2, "150 ms")] {
        assert!(line.contains(" callback TRANSACTION.SUCCESS EV-"), "{line}");
        assert!(
            line.contains(&format!(
                " attempt {n} to {nowhere}: no answer: cannot connect to "
            )),
            "{line}"
        );
        assert!(
            line.ends_with(&format!(", next attempt in {wait}")),
            "{line}"
        );
    }
    let id = |line: &str| line.split(' ').nth(4).unwrap().to_owned();
    assert_eq!(id(&first), id(&second), "a retry carries the same id");

    // The sandbox stops: so does the follower, with exit 0.
    drop(running);
    let mut status = None;
    for _ in 0..100 {
        status = follower.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let status = status.unwrap_or_else(|| {
        let _ = follower.kill();
        panic!("the follower did not stop")
    });
    assert!(status.success(), "{status:?}");
    let mut err = String::new();
    follower
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        err.starts_with("wxpay: the sandbox at http://127.0.0.1:"),
        "{err}"
    );
    assert!(err.ends_with(" stopped\n"), "{err}");
}

#[test]
fn sandbox_log_json_rotate_fault_reset_and_status() {
    let running = Running::start(&[]);
    let out = running.wxpay(&["req", "GET", "v3/certificates"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let out = running.control("log", &["--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[0]["kind"], "request");
    assert_eq!(lines[0]["target"], "/v3/certificates");
    assert_eq!(lines[0]["verdict"], "ok");
    let out = running.control("log", &["--since", "1"]);
    assert_eq!((code(&out), stdout(&out)), (0, String::new()));

    // rotate: the sandbox has two platform certificates.
    let out = running.control("rotate", &["--valid-for", "3600"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rotated: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let serial = rotated["serial"].as_str().unwrap();
    assert_eq!(serial.len(), 40);
    let first = profile_value(&running.printed, "platform_keys");
    assert!(first.contains("wechatpay_"), "{first}");
    assert_eq!(
        rotated["platform_certificates"].as_array().unwrap().len(),
        2
    );
    assert_eq!(rotated["platform_certificates"][1], serial);

    // fault: every answer, then one path, then none.
    let out = running.control("fault", &["bad-signature"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        r#"{"fault":"bad-signature","path":null}"#
    );
    let out = running.wxpay(&["req", "GET", "v3/certificates"]);
    assert_eq!(code(&out), 2, "verification fails: {}", stderr(&out));
    running.control("fault", &["none"]);
    let out = running.control("fault", &["server-error-503", "--path", "/v3/certificates"]);
    assert_eq!(
        stdout(&out).trim(),
        r#"{"fault":"server-error-503","path":"/v3/certificates"}"#
    );
    let out = running.wxpay(&["req", "GET", "v3/certificates"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    running.control("fault", &["none", "--path", "/v3/certificates"]);
    let out = running.wxpay(&["req", "GET", "v3/certificates"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = running.control("fault", &["loud"]);
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("\"loud\""), "{}", stderr(&out));

    // status, reset.
    running.place("CLI-RESET-1", "https://example.com/notify");
    let out = running.control("status", &[]);
    let status: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(status["orders"], 1);
    assert_eq!(status["base_uri"], running.base.as_str());
    let out = running.control("reset", &[]);
    assert_eq!((code(&out), stdout(&out).trim()), (0, r#"{"reset":true}"#));
    let status: Value = serde_json::from_str(&stdout(&running.control("status", &[]))).unwrap();
    assert_eq!(status["orders"], 0);
    assert_eq!(status["fault"], Value::Null);
    assert_eq!(stdout(&running.control("log", &[])), "");
}

#[test]
fn sandbox_sign_mode_and_auto_pay_options() {
    let running = Running::start(&["--sign-mode", "certificate", "--auto-pay", "0.2"]);
    assert!(
        running.printed.contains(
            "# signed with the certificate key; orders paid 0.2 s after they are placed\n"
        ),
        "{}",
        running.printed
    );
    assert!(
        running.printed.contains(&format!(
            "# Control API: {}sandbox/ (wxpay sandbox pay|notify|rotate|fault|log|reset|status",
            running.base
        )),
        "{}",
        running.printed
    );
    let hook = Hook::start();
    running.place("CLI-AUTO-1", &hook.url);
    let hits = hook.wait_for(1);
    // Signed with the platform certificate the profile names.
    let serial = hit_header(&hits[0], "Wechatpay-Serial").to_owned();
    let certificate = std::fs::read(running.keys.path(&format!("wechatpay_{serial}.pem")))
        .unwrap_or_else(|e| panic!("wechatpay_{serial}.pem: {e}"));
    verify_callback(&hits[0], &certificate);
    let envelope: Value = serde_json::from_slice(&hits[0].1).unwrap();
    assert_eq!(envelope["event_type"], "TRANSACTION.SUCCESS");
    let status: Value = serde_json::from_str(&stdout(&running.control("status", &[]))).unwrap();
    assert_eq!(status["sign_mode"], "certificate");
    assert_eq!(status["auto_pay_seconds"], 0.2);
}

#[test]
fn sandbox_options_and_subcommands_refuse_bad_input() {
    for (args, message) in [
        (
            &["sandbox", "--sign-mode", "loud"][..],
            "unknown Sandbox-Sign-Mode \"loud\"",
        ),
        (
            &["sandbox", "--auto-pay", "-1"][..],
            "`-1` is not a number of seconds, 0 or more",
        ),
        (
            &["sandbox", "--callback-time-scale", "0"][..],
            "`0` is not a number above 0",
        ),
        (
            &["sandbox", "--port", "1", "pay", "X"][..],
            "cannot be used with",
        ),
    ] {
        let out = wxpay().args(args).output().unwrap();
        assert_eq!(code(&out), 3, "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }

    // Which sandbox? Nothing says: a usage error that says how to say it.
    let home = Scratch::new();
    let out = wxpay()
        .env("HOME", &home.0)
        .args(["sandbox", "status"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        "wxpay: which sandbox? no --sandbox, $WECHATPAY_SANDBOX or base_uri\nhint: give the \
         address `wxpay sandbox` printed (--sandbox http://127.0.0.1:PORT/ or \
         WECHATPAY_SANDBOX=...), or use the profile it wrote: wxpay --config DIR/wxpay.toml \
         --profile sandbox sandbox ...\n"
    );
    let out = wxpay()
        .args([
            "sandbox",
            "status",
            "--sandbox",
            "https://api.mch.weixin.qq.com/",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        "wxpay: --sandbox `https://api.mch.weixin.qq.com/` is not a sandbox's address: it is \
         http://HOST:PORT/ (the control API is plain http)\n"
    );
    // Nothing listens there: a transport error.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = wxpay()
        .env("WECHATPAY_SANDBOX", format!("127.0.0.1:{port}"))
        .args(["sandbox", "reset"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 4);
    assert!(
        stderr(&out).starts_with(&format!(
            "wxpay: cannot reach the sandbox at http://127.0.0.1:{port}/: "
        )),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("hint: is `wxpay sandbox` running there?"),
        "{}",
        stderr(&out)
    );
}
