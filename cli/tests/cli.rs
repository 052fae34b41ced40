//! The real `wxpay` binary against the sandbox: every subcommand, its failures and exit codes.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use wechatpay_sandbox::{Event, Fault, NotifyVariant, Sandbox, SignMode};

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wxpay-cli-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A sandbox and a config file with its `[profile.sandbox]`.
struct Setup {
    sandbox: Sandbox,
    dir: Scratch,
    config: PathBuf,
}

fn setup() -> Setup {
    let sandbox = Sandbox::start().unwrap();
    let dir = Scratch::new();
    let profile = sandbox.write_profile(&dir.0).unwrap();
    let config = dir.path("wxpay.toml");
    std::fs::write(&config, profile).unwrap();
    Setup {
        sandbox,
        dir,
        config,
    }
}

fn wxpay() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wxpay"));
    // Nothing from the environment of whoever runs the tests.
    for (name, _) in std::env::vars() {
        if name.starts_with("WECHATPAY_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("HOME", std::env::temp_dir())
        .env_remove("XDG_CONFIG_HOME");
    cmd.stdin(Stdio::null());
    cmd
}

impl Setup {
    fn run(&self, args: &[&str]) -> Output {
        wxpay()
            .arg("--config")
            .arg(&self.config)
            .args(["--profile", "sandbox"])
            .args(args)
            .output()
            .unwrap()
    }
    fn mchid(&self) -> String {
        self.sandbox.identity().mchid.clone()
    }
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

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

    // With no trusted key at all (a merchant in certificate mode): verified with the download
    // itself, and a warning.
    s.sandbox.set_sign_mode(SignMode::Certificate);
    let out = wxpay()
        .env("WECHATPAY_MCHID", &id.mchid)
        .env("WECHATPAY_SERIAL", &id.merchant_serial)
        .env("WECHATPAY_PRIVATE_KEY", &id.merchant_private_key_pem)
        .env("WECHATPAY_APIV3_KEY", &id.apiv3_key)
        .env("WECHATPAY_BASE_URI", s.sandbox.base_uri())
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
    // A throwaway key, through the documentation helper's generator.
    let client = wechatpay::Client::offline_for_docs();
    drop(client);
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

/// Accepts one HTTP request, answers 200 and returns its headers (as `Name: value` lines) and
/// body.
fn capture_one(listener: std::net::TcpListener) -> std::thread::JoinHandle<(String, Vec<u8>)> {
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .unwrap();
        (head, body)
    })
}

fn deliver(s: &Setup, variant: NotifyVariant) -> (PathBuf, PathBuf) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let captured = capture_one(listener);
    s.sandbox
        .notify(&url, Event::payment("NOTIFY1").variant(variant))
        .unwrap();
    let (head, body) = captured.join().unwrap();
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let headers = s.dir.path(&format!("headers{n}.txt"));
    let body_file = s.dir.path(&format!("body{n}.json"));
    std::fs::write(&headers, head).unwrap();
    std::fs::write(&body_file, body).unwrap();
    (headers, body_file)
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
        assert!(
            !s.dir
                .path(&format!(
                    "{}.partial",
                    file.file_name().unwrap().to_string_lossy()
                ))
                .exists()
        );
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
    assert!(!Path::new(&format!("{}.partial", file.display())).exists());
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
