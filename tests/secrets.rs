//! Private keys, the APIv3 key, the APIv2 secret, signatures and OAEP ciphertexts never appear
//! in `Debug`, `Display`, errors or logs.
//!
//! Each test builds real values holding secrets (mostly with the offline sandbox, so that a
//! real request signature, APIv2 `sign` and OAEP ciphertext exist), formats every public type
//! and error that holds one (`{:?}`, `{:#?}`, `Display` of errors and their sources), and
//! checks that no formatted text contains any secret. Secrets are matched by a 40-character
//! slice from the middle (of a PEM body line, a base64 signature or ciphertext), or whole for
//! short ones (the APIv3 key, the APIv2 secret, passphrases). Every leak of a test is listed
//! before it fails, so one leaking type does not hide another.
//!
//! Logs: a global `tracing` subscriber records every event and span field of this binary;
//! `logs_hide_every_secret` drives the code paths that log (automatic certificate downloads,
//! successful and failing) and checks everything recorded.

mod support;
use std::fmt::{Debug, Display, Write as _};
use std::sync::{Mutex, OnceLock};
use support::receiver;

use http::HeaderMap;
use serde_json::{Value, json};
use wechatpay::crypto::{Apiv3Key, Certificate, PrivateKey, PublicKey, base64_encode};
use wechatpay::notify::NotificationParser;
use wechatpay::v2::Secret;
use wechatpay::verifier::PlatformVerifier;
use wechatpay::{Client, ErrorKind, Method, Options};
use wechatpay_sandbox::{Answer, Event, Fault, Sandbox};

// ---------------------------------------------------------------------------------------------
// Log capture
// ---------------------------------------------------------------------------------------------

static LOG: Mutex<String> = Mutex::new(String::new());

/// Records every event and span field, at every level, into [`LOG`].
struct Capture;

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl Capture {
    fn push(&self, line: String) {
        let mut log = LOG.lock().unwrap_or_else(|e| e.into_inner());
        log.push_str(&line);
        log.push('\n');
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut fields = Fields(format!("span {}", span.metadata().name()));
        span.record(&mut fields);
        self.push(fields.0);
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut fields = Fields("span record".to_owned());
        values.record(&mut fields);
        self.push(fields.0);
    }

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let meta = event.metadata();
        let mut fields = Fields(format!("{} {}:", meta.level(), meta.target()));
        event.record(&mut fields);
        self.push(fields.0);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

fn install_log_capture() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(Capture)
            .expect("no other global tracing subscriber in this binary");
    });
}

// ---------------------------------------------------------------------------------------------
// The audit: formatted texts, secrets, and the check
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Audit {
    /// (what was formatted, the text).
    texts: Vec<(String, String)>,
    /// (which secret, the text that must not appear).
    secrets: Vec<(String, String)>,
}

impl Audit {
    fn new() -> Audit {
        install_log_capture();
        Audit::default()
    }

    /// A secret that must not appear verbatim.
    fn secret(&mut self, label: impl Into<String>, text: impl Into<String>) {
        let text = text.into();
        assert!(text.len() >= 8, "secret too short to look for: {text:?}");
        self.secrets.push((label.into(), text));
    }

    /// A short secret (a key, a passphrase): also looked for as the `Debug` of its bytes
    /// (`[49, 57, ...]`) and in hex, the forms a careless `Debug` of a byte array would take.
    fn short_secret(&mut self, label: &str, text: &str) {
        self.secret(label, text);
        self.secret(
            format!("{label} (as a byte array)"),
            format!("{:?}", text.as_bytes()),
        );
        self.secret(
            format!("{label} (hex)"),
            wechatpay::crypto::hex_lower(text.as_bytes()),
        );
    }

    /// A PEM key: a 40-character slice from the middle of a body line.
    fn pem_secret(&mut self, label: &str, pem: &str) {
        self.secret(label, pem_slice(pem));
    }

    /// A base64 value (signature, ciphertext): 40 characters from its middle.
    fn base64_secret(&mut self, label: &str, text: &str) {
        self.secret(label, middle(text));
        // As it appears in a URL (`+`, `/` and `=` percent-encoded, as the client encodes
        // query values and path variables).
        const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~');
        let encoded = percent_encoding::utf8_percent_encode(text, COMPONENT).to_string();
        if encoded != text {
            self.secret(format!("{label} (percent-encoded)"), middle(&encoded));
        }
    }

    fn text(&mut self, what: impl Into<String>, text: impl Into<String>) {
        self.texts.push((what.into(), text.into()));
    }

    /// `{:?}` and `{:#?}`.
    fn debug<T: Debug + ?Sized>(&mut self, what: &str, value: &T) {
        self.text(format!("{what} {{:?}}"), format!("{value:?}"));
        self.text(format!("{what} {{:#?}}"), format!("{value:#?}"));
    }

    /// `Display` and `{:#}`.
    fn display<T: Display + ?Sized>(&mut self, what: &str, value: &T) {
        self.text(format!("{what} Display"), format!("{value}"));
        self.text(format!("{what} {{:#}}"), format!("{value:#}"));
    }

    /// Every way an error shows itself: Debug, Display, the source chain, the response and
    /// the details it carries.
    fn error(&mut self, what: &str, e: &wechatpay::Error) {
        self.debug(what, e);
        self.display(what, e);
        let mut source = std::error::Error::source(e);
        let mut depth = 0;
        while let Some(s) = source {
            depth += 1;
            self.text(format!("{what} source #{depth} Display"), s.to_string());
            self.text(format!("{what} source #{depth} {{:?}}"), format!("{s:?}"));
            source = s.source();
        }
        if let Some(api) = e.api() {
            self.debug(&format!("{what} .api()"), api);
            self.display(&format!("{what} .api()"), api);
        }
        if let Some(failure) = e.verification() {
            self.debug(&format!("{what} .verification()"), failure);
            self.display(&format!("{what} .verification()"), failure);
        }
        if let Some(template) = e.template() {
            self.debug(&format!("{what} .template()"), template);
            self.display(&format!("{what} .template()"), template);
        }
        if let Some(response) = e.response() {
            self.debug(&format!("{what} .response()"), response);
        }
    }

    fn result<T: Debug>(&mut self, what: &str, result: &wechatpay::Result<T>) {
        match result {
            Ok(value) => self.debug(what, value),
            Err(e) => self.error(what, e),
        }
    }

    /// Fails listing every secret found in every text.
    fn finish(self) {
        assert!(!self.secrets.is_empty() && !self.texts.is_empty());
        let mut leaks = Vec::new();
        for (what, text) in &self.texts {
            for (label, secret) in &self.secrets {
                if let Some(at) = text.find(secret.as_str()) {
                    leaks.push(format!(
                        "- {what} shows the {label}: ...{}...",
                        excerpt(text, at, secret.len())
                    ));
                }
            }
        }
        assert!(
            leaks.is_empty(),
            "{} leak(s) in {} formatted texts:\n{}",
            leaks.len(),
            self.texts.len(),
            leaks.join("\n")
        );
    }
}

/// Up to 80 characters either side of `text[at..at + len]`.
fn excerpt(text: &str, at: usize, len: usize) -> String {
    let mut start = at.saturating_sub(80);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + len + 80).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    text[start..end].to_owned()
}

/// 40 characters from the middle of a body line of a PEM (lines of 64 base64 characters).
fn pem_slice(pem: &str) -> String {
    let lines: Vec<&str> = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----") && !l.contains(':'))
        .collect();
    let line = lines[lines.len() / 2];
    assert!(line.len() >= 52, "PEM body line too short: {line:?}");
    line[12..52].to_owned()
}

/// 40 characters from the middle of an ASCII text.
fn middle(text: &str) -> String {
    assert!(text.len() >= 40, "too short: {text:?}");
    let start = text.len() / 2 - 20;
    text[start..start + 40].to_owned()
}

/// The `signature="..."` of an APIv3 `Authorization` header.
fn authorization_signature(header: &str) -> String {
    let start = header.find("signature=\"").expect("a signature field") + "signature=\"".len();
    let end = header[start..].find('"').expect("closing quote") + start;
    header[start..end].to_owned()
}

/// The text of `<name>` in a small XML document.
fn xml_field(xml: &str, name: &str) -> Option<String> {
    wechatpay::v2::parse_xml(xml.as_bytes())
        .ok()?
        .get(name)?
        .as_str()
        .map(str::to_owned)
}

fn generated_pkcs8_pem() -> (openssl::pkey::PKey<openssl::pkey::Private>, String) {
    let pkey = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let pem = String::from_utf8(pkey.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (pkey, pem)
}

/// Adds the sandbox identity's secrets.
fn identity_secrets(audit: &mut Audit, sandbox: &Sandbox) {
    let id = sandbox.identity();
    audit.pem_secret("merchant private key PEM", &id.merchant_private_key_pem);
    audit.short_secret("APIv3 key", &id.apiv3_key);
    audit.short_secret("APIv2 secret", &id.apiv2_secret);
}

fn order(mchid: &str, out_trade_no: &str) -> Value {
    json!({
        "appid": "wxd678efh567hg6787", "mchid": mchid, "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": out_trade_no, "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
        "amount": { "total": 100, "currency": "CNY" },
    })
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// The audit itself: a planted secret, in each form it is looked for, is found.
#[test]
fn the_audit_finds_planted_secrets() {
    let (_, pem) = generated_pkcs8_pem();
    let signature = base64_encode(&[0xFB; 256]);
    const KEY: &str = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
    let plants: Vec<(&str, String)> = vec![
        ("PEM in a Debug string", format!("{:?}", Some(&pem))),
        ("PEM, escaped", pem.escape_default().to_string()),
        (
            "signature",
            format!("Authorization {{ signature: {signature:?} }}"),
        ),
        (
            "percent-encoded signature",
            format!(
                "url: http://h/x?s={}",
                signature
                    .replace('+', "%2B")
                    .replace('/', "%2F")
                    .replace('=', "%3D")
            ),
        ),
        ("key", format!("key={KEY}")),
        ("key bytes", format!("{:?}", KEY.as_bytes())),
        ("key hex", wechatpay::crypto::hex_lower(KEY.as_bytes())),
    ];
    for (what, text) in plants {
        let mut audit = Audit::new();
        audit.pem_secret("PEM", &pem);
        audit.base64_secret("signature", &signature);
        audit.short_secret("key", KEY);
        audit.text(what, text);
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| audit.finish()));
        assert!(found.is_err(), "the audit missed the {what}");
    }
}

/// The client, its builder, and every key type it is made of.
#[test]
fn clients_builders_and_keys_hide_every_secret() {
    let mut audit = Audit::new();
    let sandbox = Sandbox::start().unwrap();
    identity_secrets(&mut audit, &sandbox);
    let id = sandbox.identity().clone();
    let client = sandbox.client();

    audit.debug("Client (sandbox: every secret configured)", &client);
    audit.debug("Sandbox", &sandbox);
    audit.debug("Identity", &id);

    // A builder holding everything, before build.
    let builder = || {
        Client::builder()
            .mchid(&id.mchid)
            .serial(&id.merchant_serial)
            .private_key(&id.merchant_private_key_pem)
            .platform_key(&id.platform_serial, &id.platform_certificate_pem)
            .platform_key(&id.public_key_id, &id.public_key_pem)
            .apiv3_key(&id.apiv3_key)
            .secret(&id.apiv2_secret)
            .merchant_cert(&id.merchant_certificate_pem)
            .merchant_key(&id.merchant_private_key_pem)
            .add_root_certificate(&id.ca_certificate_pem)
            .base_uri(sandbox.base_uri())
            .allow_insecure_http(true)
    };
    audit.debug("ClientBuilder (everything set)", &builder());
    let built = builder().build().unwrap();
    audit.debug("Client (built from the builder)", &built);
    let auto = Client::builder()
        .mchid(&id.mchid)
        .serial(&id.merchant_serial)
        .private_key(&id.merchant_private_key_pem)
        .auto_certificates(&id.apiv3_key)
        .platform_key(&id.public_key_id, &id.public_key_pem)
        .secret(&id.apiv2_secret)
        .base_uri(sandbox.base_uri())
        .allow_insecure_http(true);
    audit.debug("ClientBuilder (auto_certificates)", &auto);
    let auto = auto.build().unwrap();
    audit.debug("Client (auto_certificates)", &auto);

    // Keys.
    let private = PrivateKey::load(&id.merchant_private_key_pem).unwrap();
    audit.debug("PrivateKey", &private);
    audit.debug("PrivateKey::as_openssl", private.as_openssl());
    let public = PublicKey::load(&id.public_key_pem).unwrap();
    audit.debug("PublicKey", &public);
    let cert = Certificate::load(&id.platform_certificate_pem).unwrap();
    audit.debug("Certificate", &cert);
    let apiv3 = Apiv3Key::new(&id.apiv3_key).unwrap();
    audit.debug("Apiv3Key", &apiv3);
    let secret = Secret::new(&id.apiv2_secret).unwrap();
    audit.debug("v2::Secret", &secret);

    // Callback parsers.
    let parser = client.notifications().unwrap();
    audit.debug("NotificationParser (client.notifications())", &parser);
    let mut verifier = PlatformVerifier::new();
    verifier.insert(&id.public_key_id, public.clone());
    audit.debug("PlatformVerifier", &verifier);
    let parser = NotificationParser::new(&id.apiv3_key, verifier).unwrap();
    audit.debug("NotificationParser::new", &parser);

    // Key rings.
    for (what, c) in [("sandbox client", &client), ("auto client", &auto)] {
        let ring = c.key_ring().expect("a key ring");
        audit.debug(&format!("KeyRing ({what})"), ring);
        audit.debug(&format!("KeyRing::entries ({what})"), &ring.entries());
    }
    auto.refresh_certificates().unwrap();
    audit.debug(
        "KeyRing (auto client, after a download)",
        auto.key_ring().unwrap(),
    );
    audit.debug(
        "KeyRing::entries (auto client, after a download)",
        &auto.key_ring().unwrap().entries(),
    );

    // Endpoints carry the client.
    let endpoint = &client["v3"]["pay"]["transactions"]["native"];
    audit.debug("Endpoint", endpoint);
    audit.display("Endpoint", endpoint);

    audit.finish();
}

/// Real calls: prepared requests, responses, every error a call can end in, and options.
#[test]
fn requests_responses_and_call_errors_hide_every_secret() {
    let mut audit = Audit::new();
    let sandbox = Sandbox::start().unwrap();
    identity_secrets(&mut audit, &sandbox);
    let id = sandbox.identity().clone();
    let client = sandbox.client();
    let platform = PublicKey::load(&id.public_key_pem).unwrap();

    // A successful APIv3 call, and an API error (404 ORDER_NOT_EXIST).
    let paid =
        client["v3/pay/transactions/native"].post(json!({ "json": order(&id.mchid, "SECRETS-1") }));
    assert!(paid.is_ok(), "{paid:?}");
    audit.result("Response (POST native)", &paid);
    let missing = client["v3/pay/transactions/out-trade-no/{no}"]
        .get(json!({ "no": "SECRETS-MISSING", "query": { "mchid": id.mchid } }));
    assert_eq!(missing.as_ref().unwrap_err().kind(), ErrorKind::Api);
    audit.result("Error (404 ORDER_NOT_EXIST)", &missing);

    // Sensitive fields: encrypted by the `encrypt` option (the client's own OAEP ciphertext)...
    let encrypted_options = || {
        json!({
            "json": { "name": "张三", "id_card": { "number": "110101199003070000" }, "plain": "x" },
            "encrypt": ["/name", "/id_card/number"],
        })
    };
    let prepared = client["v3/applyment4sub/applyment/"]
        .prepare(Method::POST, encrypted_options())
        .unwrap();
    let body: Value = serde_json::from_slice(prepared.body()).unwrap();
    for pointer in ["/name", "/id_card/number"] {
        let ciphertext = body.pointer(pointer).unwrap().as_str().unwrap();
        assert!(ciphertext.len() > 300, "{ciphertext}");
        audit.base64_secret(
            &format!("OAEP ciphertext ({pointer}, encrypt option)"),
            ciphertext,
        );
    }
    audit.debug("PreparedRequest (encrypt option)", &prepared);
    audit.debug(
        "PreparedRequest::headers (encrypt option)",
        prepared.headers(),
    );
    audit.debug("PreparedRequest::url (encrypt option)", prepared.url());
    // ... and sent (the sandbox answers 404 NOT_FOUND to this route).
    let sent = client["v3/applyment4sub/applyment/"].post(encrypted_options());
    audit.result("Error (encrypt option, sent)", &sent);
    // ... and made by hand with PublicKey::encrypt_oaep_base64, put in a body and a query.
    let by_hand = platform.encrypt_oaep_base64("110101199003070000").unwrap();
    audit.base64_secret("OAEP ciphertext (encrypt_oaep_base64)", &by_hand);
    let options = json!({
        "json": { "id_card_number": by_hand },
        "query": { "name": by_hand },
        "headers": { "X-Request-Tag": "not-secret" },
    });
    audit.debug(
        "Options (OAEP ciphertext in json and query)",
        &Options::from(options.clone()),
    );
    let prepared_by_hand = client["v3/applyment4sub/applyment/"]
        .prepare(Method::POST, options.clone())
        .unwrap();
    audit.debug(
        "PreparedRequest (OAEP ciphertext in json and query)",
        &prepared_by_hand,
    );
    let sent = client["v3/applyment4sub/applyment/"].post(options);
    audit.result("Error (OAEP ciphertext in json and query, sent)", &sent);

    // The request signatures the sandbox received.
    let requests = sandbox.requests();
    let mut signatures = 0;
    for request in &requests {
        if let Some(header) = request.header("authorization") {
            let signature = authorization_signature(header);
            audit.base64_secret("request signature (Authorization)", &signature);
            signatures += 1;
        }
        if request.path().starts_with("/v3/applyment4sub") {
            // The ciphertexts as they went over the wire.
            let sent: Value = serde_json::from_slice(&request.body).unwrap();
            for pointer in ["/name", "/id_card/number"] {
                if let Some(c) = sent.pointer(pointer).and_then(Value::as_str) {
                    if c.len() > 300 {
                        audit.base64_secret("OAEP ciphertext (as sent)", c);
                    }
                }
            }
        }
    }
    assert!(signatures >= 4, "{signatures} signed requests logged");

    // Decrypting: the merchant key cannot open a ciphertext made for the platform key.
    audit.result(
        "Error (client.decrypt, wrong key)",
        &client.decrypt(&by_hand),
    );
    let mut doc = json!({ "field": by_hand });
    audit.result(
        "Error (client.decrypt_fields, wrong key)",
        &client.decrypt_fields(&mut doc, &["/field"]),
    );
    let merchant = PrivateKey::load(&id.merchant_private_key_pem).unwrap();
    audit.result(
        "Error (decrypt_oaep_base64, wrong key)",
        &merchant.decrypt_oaep_base64(&by_hand),
    );
    let damaged = format!("{}!{}", &by_hand[..100], &by_hand[101..]);
    audit.result(
        "Error (decrypt_oaep_base64, damaged)",
        &merchant.decrypt_oaep_base64(&damaged),
    );
    audit.result(
        "Error (decrypt_oaep, truncated)",
        &merchant.decrypt_oaep(&wechatpay::crypto::base64_decode(&by_hand).unwrap()[..200]),
    );
    audit.result(
        "Error (encrypt_oaep, too long)",
        &platform.encrypt_oaep(&[b'x'; 300]),
    );
    let not_string = client["v3/x"].prepare(
        Method::POST,
        json!({ "json": { "a": 1, "b": by_hand }, "encrypt": ["/a"] }),
    );
    audit.result("Error (encrypt option, not a string)", &not_string);

    // Verification failures keep the unverified response.
    for fault in [
        Fault::BadSignature,
        Fault::TamperedBody,
        Fault::UnknownSerial,
        Fault::StaleTimestamp,
    ] {
        sandbox.set_fault(Some(fault));
        let result = client["v3/pay/transactions/native"]
            .post(json!({ "json": order(&id.mchid, &format!("SECRETS-{fault}")) }));
        assert_eq!(
            result.as_ref().unwrap_err().kind(),
            ErrorKind::Verification,
            "{fault}"
        );
        audit.result(&format!("Error (fault {fault})"), &result);
    }
    sandbox.set_fault(Some(Fault::ServerError(500)));
    let server_error = client["v3/pay/transactions/native"]
        .post(json!({ "json": order(&id.mchid, "SECRETS-500") }));
    audit.result("Error (fault server-error)", &server_error);
    sandbox.set_fault(Some(Fault::ConnectionReset));
    let reset = client["v3/pay/transactions/native"]
        .post(json!({ "json": order(&id.mchid, "SECRETS-RESET") }));
    assert_eq!(reset.as_ref().unwrap_err().kind(), ErrorKind::Transport);
    audit.result("Error (fault connection-reset)", &reset);
    sandbox.set_fault(None);

    // Transport: nothing listens on the offline client's port.
    let offline = support::offline_client();
    let refused =
        offline["v3/pay/transactions/native"].post(json!({ "json": order("1900000000", "X") }));
    assert_eq!(refused.as_ref().unwrap_err().kind(), ErrorKind::Transport);
    audit.result("Error (connection refused)", &refused);

    // Template and option errors.
    audit.result(
        "Error (missing template variable)",
        &client["v3/pay/transactions/id/{transaction_id}"].prepare(Method::GET, json!({})),
    );
    audit.result(
        "Error (dot segment)",
        &client["v3/pay/transactions/id/{transaction_id}"]
            .prepare(Method::GET, json!({ "transaction_id": ".." })),
    );
    let signature_like = format!(
        "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",signature=\"{}\"",
        id.mchid,
        base64_encode(&merchant.sign_sha256(b"replayed").unwrap())
    );
    audit.base64_secret(
        "signature (in an Authorization option)",
        &authorization_signature(&signature_like),
    );
    let with_authorization = json!({ "headers": { "Authorization": signature_like } });
    audit.debug(
        "Options (Authorization header, refused)",
        &Options::from(with_authorization.clone()),
    );
    audit.result(
        "Error (Authorization header option)",
        &client["v3/certificates"].prepare(Method::GET, with_authorization),
    );
    let typed = Options::new()
        .var("secret_var", id.apiv2_secret.as_str())
        .json(&json!({ "apiv3": id.apiv3_key, "key": id.merchant_private_key_pem }))
        .query("q", &id.apiv3_key)
        .header("Authorization", &signature_like);
    audit.debug("Options (typed, secrets in vars, json, query)", &typed);
    let typed_xml = Options::new()
        .xml(&json!({ "mch_id": id.mchid, "key": id.apiv2_secret }))
        .security();
    audit.debug("Options (typed, secret in xml)", &typed_xml);

    // Responses decoded the wrong way.
    let response = paid.unwrap();
    audit.result(
        "Error (Response::json, wrong type)",
        &response.json::<u64>(),
    );
    audit.result("Error (Response::xml, not XML)", &response.xml());

    // APIv2: the request carries a `sign`, the answer too.
    let v2_order = json!({ "xml": { "appid": "wx2421b1c4370ec43b", "mch_id": id.mchid, "out_trade_no": "SECRETS-1" } });
    let prepared_v2 = client["v2/pay/orderquery"]
        .prepare(Method::POST, v2_order.clone())
        .unwrap();
    let sign = xml_field(std::str::from_utf8(prepared_v2.body()).unwrap(), "sign").unwrap();
    audit.secret("APIv2 sign (prepared POST)", sign);
    audit.debug("PreparedRequest (APIv2 POST)", &prepared_v2);
    let prepared_get = client["v2/pay/orderquery"]
        .prepare(Method::GET, v2_order.clone())
        .unwrap();
    let query = prepared_get.url().query().unwrap().to_owned();
    let sign = query
        .split('&')
        .find_map(|p| p.strip_prefix("sign="))
        .unwrap();
    audit.secret("APIv2 sign (prepared GET)", sign);
    audit.debug("PreparedRequest (APIv2 GET)", &prepared_get);
    let answer = client["v2/pay/orderquery"].post(v2_order.clone());
    audit.result("APIv2 answer (orderquery)", &answer);
    let refund = client["v2/secapi/pay/refund"].post(json!({
        "base_uri": id.tls_base_uri,
        "security": true,
        "xml": {
            "appid": "wx2421b1c4370ec43b", "mch_id": id.mchid, "out_trade_no": "SECRETS-1",
            "out_refund_no": "SECRETS-R1", "total_fee": 100, "refund_fee": 100,
        },
    }));
    audit.result("APIv2 answer (mutual TLS refund)", &refund);
    let wrong_secret = Client::builder()
        .mchid(&id.mchid)
        .secret("00000000000000000000000000000000")
        .base_uri(sandbox.base_uri())
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let rejected = wrong_secret["v2/pay/orderquery"].post(v2_order.clone());
    audit.result("APIv2 answer (wrong secret)", &rejected);
    sandbox.set_fault(Some(Fault::BadSignature));
    let bad_sign = client["v2/pay/orderquery"].post(v2_order);
    audit.result("APIv2 answer (fault bad-signature)", &bad_sign);
    sandbox.set_fault(None);
    for request in sandbox.requests() {
        if let Some(sign) = xml_field(&request.body_text(), "sign") {
            audit.secret("APIv2 sign (as sent)", sign);
        }
    }

    audit.finish();
}

/// An OAEP ciphertext in the query (as `search-banks-by-bank-account` takes the account
/// number) or in a path variable, of a request that fails in transport (nothing listens on the
/// offline client's port): the error names the URL.
#[test]
fn transport_errors_hide_ciphertexts_in_the_url() {
    let mut audit = Audit::new();
    let offline = support::offline_client();
    let (_, pem) = generated_pkcs8_pem();
    let platform = PrivateKey::load(&pem).unwrap().public_key().unwrap();
    let ciphertext = platform.encrypt_oaep_base64("6225880137651234").unwrap();
    audit.base64_secret("OAEP ciphertext (encrypt_oaep_base64)", &ciphertext);

    let prepared = offline["v3/capital/capitallhh/banks/search-banks-by-bank-account"]
        .prepare(
            Method::GET,
            json!({ "query": { "account_number": ciphertext } }),
        )
        .unwrap();
    audit.debug("PreparedRequest (OAEP ciphertext in the query)", &prepared);
    let in_query = offline["v3/capital/capitallhh/banks/search-banks-by-bank-account"]
        .get(json!({ "query": { "account_number": ciphertext, "offset": 0, "limit": 10 } }));
    assert_eq!(in_query.as_ref().unwrap_err().kind(), ErrorKind::Transport);
    audit.result(
        "Error (connection refused, OAEP ciphertext in the query)",
        &in_query,
    );
    let in_path = offline["v3/x/{account}"].get(json!({ "account": ciphertext }));
    assert_eq!(in_path.as_ref().unwrap_err().kind(), ErrorKind::Transport);
    audit.result(
        "Error (connection refused, OAEP ciphertext in a path variable)",
        &in_path,
    );
    audit.finish();
}

/// Loading keys and secrets: no error ever quotes its input.
#[test]
fn key_and_secret_errors_never_echo_their_input() {
    let mut audit = Audit::new();
    let (pkey, pkcs8) = generated_pkcs8_pem();
    let pkcs1 = String::from_utf8(pkey.rsa().unwrap().private_key_to_pem().unwrap()).unwrap();
    audit.pem_secret("private key PEM (PKCS#8)", &pkcs8);
    audit.pem_secret("private key PEM (PKCS#1)", &pkcs1);
    let der = pkey.private_key_to_pkcs8().unwrap();
    let der_b64 = base64_encode(&der);
    audit.base64_secret("private key DER (base64)", &der_b64);

    const PASSPHRASE: &str = "correct horse battery staple 42";
    const WRONG_PASSPHRASE: &str = "incorrect donkey battery staple";
    audit.short_secret("passphrase", PASSPHRASE);
    audit.short_secret("wrong passphrase", WRONG_PASSPHRASE);
    let encrypted = String::from_utf8(
        pkey.private_key_to_pem_pkcs8_passphrase(
            openssl::symm::Cipher::aes_256_cbc(),
            PASSPHRASE.as_bytes(),
        )
        .unwrap(),
    )
    .unwrap();
    audit.pem_secret("encrypted private key PEM", &encrypted);
    let legacy = String::from_utf8(
        pkey.rsa()
            .unwrap()
            .private_key_to_pem_passphrase(
                openssl::symm::Cipher::aes_128_cbc(),
                PASSPHRASE.as_bytes(),
            )
            .unwrap(),
    )
    .unwrap();
    audit.pem_secret("legacy encrypted private key PEM", &legacy);

    const WRONG_APIV3: &str = "ThisApiV3KeyIsOneByteTooLong-XYZ1";
    const SHORT_APIV3: &str = "ThisApiV3KeyIsTooShort";
    const BAD_SECRET: &str = "this APIv2 secret has spaces in it";
    audit.short_secret("rejected APIv3 key", WRONG_APIV3);
    audit.short_secret("rejected short APIv3 key", SHORT_APIV3);
    audit.short_secret("rejected APIv2 secret", BAD_SECRET);

    // Damaged, truncated and misfiled private keys.
    let lines: Vec<&str> = pkcs8.lines().collect();
    let mid = lines.len() / 2;
    let damaged = pkcs8.replacen(&lines[mid][..10], "!!!!!!!!!!", 1);
    let truncated: String = lines[..lines.len() - 1].join("\n");
    // Truncated: a flipped byte inside an INTEGER would still parse (OpenSSL does not check
    // the key's consistency when loading it).
    let corrupted_der = base64_encode(&der[..der.len() - 10]);
    let inputs: Vec<(&str, String)> = vec![
        ("damaged PKCS#8 PEM", damaged),
        ("truncated PKCS#8 PEM (no END line)", truncated),
        (
            "PKCS#8 PEM with its labels changed",
            pkcs8.replace("PRIVATE KEY", "PRIVATE KEYS"),
        ),
        (
            "PKCS#1 PEM labelled PKCS#8",
            pkcs1.replace("RSA PRIVATE KEY", "PRIVATE KEY"),
        ),
        ("bare base64 DER", der_b64.clone()),
        (
            "bare base64 DER with a line break",
            format!("{}\n{}", &der_b64[..64], &der_b64[64..]),
        ),
        (
            "private.pkcs1:// holding PKCS#8",
            format!("private.pkcs1://{der_b64}"),
        ),
        (
            "private.pkcs8:// with truncated DER",
            format!("private.pkcs8://{corrupted_der}"),
        ),
        (
            "private.pkcs8:// not base64",
            format!("private.pkcs8://{}!", &der_b64[..40]),
        ),
        ("unknown scheme", format!("secret://{der_b64}")),
        ("https scheme", format!("https://{der_b64}")),
        (
            "file:// of a missing file",
            "file:///nonexistent/wechatpay/key.pem".to_owned(),
        ),
        ("encrypted PKCS#8 without passphrase", encrypted.clone()),
        ("legacy encrypted PKCS#1 without passphrase", legacy.clone()),
        (
            "the body without any BEGIN line",
            lines[1..lines.len() - 1].join("\n"),
        ),
    ];
    for (what, input) in &inputs {
        let loaded = PrivateKey::load(input);
        assert!(loaded.is_err(), "{what} loads");
        audit.result(&format!("PrivateKey::load ({what})"), &loaded);
        audit.result(
            &format!("PublicKey::load ({what})"),
            &PublicKey::load(input),
        );
        audit.result(
            &format!("Certificate::load ({what})"),
            &Certificate::load(input),
        );
        let builder = Client::builder().mchid("1900000109").private_key(input);
        audit.debug(&format!("ClientBuilder ({what})"), &builder);
        audit.result(&format!("ClientBuilder::build ({what})"), &builder.build());
        let builder = Client::builder().mchid("1900000109").merchant_key(input);
        audit.debug(&format!("ClientBuilder merchant_key ({what})"), &builder);
        audit.result(
            &format!("ClientBuilder::build merchant_key ({what})"),
            &builder.build(),
        );
    }
    // A private key where a public key or certificate belongs.
    for (what, input) in [("PKCS#8", &pkcs8), ("PKCS#1", &pkcs1)] {
        audit.result(
            &format!("PublicKey::load (a {what} private key)"),
            &PublicKey::load(input),
        );
        audit.result(
            &format!("Certificate::load (a {what} private key)"),
            &Certificate::load(input),
        );
        let builder = Client::builder()
            .mchid("1900000109")
            .serial("0123456789ABCDEF")
            .private_key(&pkcs8)
            .platform_key("PUB_KEY_ID_0114232134912410000000000000", input);
        audit.debug(
            &format!("ClientBuilder platform_key ({what} private key)"),
            &builder,
        );
        audit.result(
            &format!("ClientBuilder::build platform_key ({what} private key)"),
            &builder.build(),
        );
        let builder = Client::builder()
            .mchid("1900000109")
            .merchant_cert(input)
            .merchant_key(input);
        audit.result(
            &format!("ClientBuilder::build merchant_cert ({what} private key)"),
            &builder.build(),
        );
        let builder = Client::builder().add_root_certificate(input);
        audit.debug(
            &format!("ClientBuilder add_root_certificate ({what} private key)"),
            &builder,
        );
    }
    let ring = wechatpay::keyring::KeyRing::new();
    audit.result(
        "KeyRing::add_public_key (private key)",
        &ring.add_public_key("PUB_KEY_ID_1", &pkcs8),
    );
    audit.result(
        "KeyRing::add_certificate (private key)",
        &ring.add_certificate(&pkcs8),
    );

    // Passphrases.
    for (what, pem) in [("PKCS#8", &encrypted), ("legacy PKCS#1", &legacy)] {
        let err = PrivateKey::load_with_passphrase(pem, WRONG_PASSPHRASE).unwrap_err();
        audit.error(
            &format!("load_with_passphrase ({what}, wrong passphrase)"),
            &err,
        );
        let builder = Client::builder().private_key_with_passphrase(pem, WRONG_PASSPHRASE);
        audit.debug(
            &format!("ClientBuilder ({what}, wrong passphrase)"),
            &builder,
        );
        audit.result(
            &format!("ClientBuilder::build ({what}, wrong passphrase)"),
            &builder.build(),
        );
        assert!(PrivateKey::load_with_passphrase(pem, PASSPHRASE).is_ok());
    }
    let long_passphrase = format!("{PASSPHRASE}{}", "x".repeat(1100));
    audit.result(
        "load_with_passphrase (passphrase too long)",
        &PrivateKey::load_with_passphrase(&encrypted, &long_passphrase),
    );
    let encrypted_der = pkey
        .private_key_to_pkcs8_passphrase(
            openssl::symm::Cipher::aes_256_cbc(),
            PASSPHRASE.as_bytes(),
        )
        .unwrap();
    audit.result(
        "load_with_passphrase (DER, wrong passphrase)",
        &PrivateKey::load_with_passphrase(&encrypted_der, WRONG_PASSPHRASE),
    );
    audit.result(
        "PrivateKey::load (encrypted DER)",
        &PrivateKey::load(&encrypted_der),
    );

    // PKCS#12 with a wrong passphrase.
    let cert = {
        let mut name = openssl::x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "merchant").unwrap();
        let name = name.build();
        let mut b = openssl::x509::X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&pkey).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&pkey, openssl::hash::MessageDigest::sha256())
            .unwrap();
        b.build()
    };
    let p12 = openssl::pkcs12::Pkcs12::builder()
        .name("merchant")
        .pkey(&pkey)
        .cert(&cert)
        .build2(PASSPHRASE)
        .unwrap()
        .to_der()
        .unwrap();
    let builder = Client::builder()
        .mchid("1900000109")
        .merchant_pkcs12(&p12, WRONG_PASSPHRASE);
    audit.debug("ClientBuilder (PKCS#12, wrong passphrase)", &builder);
    audit.result(
        "ClientBuilder::build (PKCS#12, wrong passphrase)",
        &builder.build(),
    );
    let builder = Client::builder()
        .mchid("1900000109")
        .merchant_pkcs12(&p12[..p12.len() / 2], PASSPHRASE);
    audit.result(
        "ClientBuilder::build (PKCS#12, truncated)",
        &builder.build(),
    );

    // APIv3 keys of the wrong length.
    for key in [WRONG_APIV3, SHORT_APIV3] {
        audit.result(
            &format!("Apiv3Key::new ({} bytes)", key.len()),
            &Apiv3Key::new(key),
        );
        let with_newline = format!("{key}\n");
        audit.result(
            "Apiv3Key::new (with a line break)",
            &Apiv3Key::new(&with_newline),
        );
        audit.result(
            "NotificationParser::new (wrong length)",
            &NotificationParser::new(key, PlatformVerifier::new()),
        );
        let builder = Client::builder().mchid("1900000109").apiv3_key(key);
        audit.debug("ClientBuilder (apiv3_key wrong length)", &builder);
        audit.result(
            "ClientBuilder::build (apiv3_key wrong length)",
            &builder.build(),
        );
        let builder = Client::builder().mchid("1900000109").auto_certificates(key);
        audit.result(
            "ClientBuilder::build (auto_certificates wrong length)",
            &builder.build(),
        );
        audit.result(
            "aes_256_gcm_encrypt (wrong key length)",
            &wechatpay::crypto::aes_256_gcm_encrypt(key.as_bytes(), b"0123456789ab", b"", b"x"),
        );
        audit.result(
            "aes_256_ecb_decrypt (wrong key length)",
            &wechatpay::crypto::aes_256_ecb_decrypt(key.as_bytes(), &[0; 16]),
        );
    }

    // APIv2 secrets.
    for bad in [
        BAD_SECRET,
        "non-ascii secret 密钥 value",
        "tab\tseparated\tsecret",
    ] {
        audit.result(&format!("v2::Secret::new ({bad:?})"), &Secret::new(bad));
        let builder = Client::builder().mchid("1900000109").secret(bad);
        audit.debug("ClientBuilder (bad APIv2 secret)", &builder);
        audit.result("ClientBuilder::build (bad APIv2 secret)", &builder.build());
    }
    audit.short_secret(
        "rejected APIv2 secret (non-ASCII)",
        "non-ascii secret 密钥 value",
    );
    audit.short_secret("rejected APIv2 secret (tabs)", "tab\tseparated\tsecret");

    // APIv2 sign failures.
    let secret = Secret::new("192006250b4c09247ec02edce69f6a2d").unwrap();
    audit.short_secret("APIv2 secret", "192006250b4c09247ec02edce69f6a2d");
    let fields = [
        ("return_code", "SUCCESS"),
        ("result_code", "SUCCESS"),
        ("out_trade_no", "1212321211201407033568112322"),
    ];
    let sign = wechatpay::v2::sign(fields, &secret, wechatpay::v2::SignType::HmacSha256).unwrap();
    audit.secret("APIv2 sign", sign.clone());
    let body = format!(
        "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code>\
         <out_trade_no>1212321211201407033568112323</out_trade_no><sign>{sign}</sign></xml>"
    );
    audit.result(
        "v2::verify_callback (forged)",
        &wechatpay::v2::verify_callback(body.as_bytes(), &secret),
    );
    let map = wechatpay::v2::parse_xml(body.as_bytes()).unwrap();
    if let Err(failure) = wechatpay::v2::verify(&map, &secret) {
        audit.debug("v2::verify failure (forged)", &failure);
        audit.display("v2::verify failure (forged)", &failure);
    }
    audit.result(
        "v2::verify_callback (not XML)",
        &wechatpay::v2::verify_callback(format!("<xml><sign>{sign}</sign>").as_bytes(), &secret),
    );
    audit.result(
        "v2::decrypt_req_info (garbage)",
        &wechatpay::v2::decrypt_req_info("AAAAAAAAAAAAAAAAAAAAAA==", &secret),
    );
    audit.result(
        "v2::decrypt_req_info (not base64)",
        &wechatpay::v2::decrypt_req_info(&format!("{sign}!"), &secret),
    );

    audit.finish();
}

/// A callback from the sandbox: the parser, the notification and every way parsing fails.
#[test]
fn notifications_hide_the_key_and_the_resource() {
    let mut audit = Audit::new();
    let sandbox = Sandbox::start().unwrap();
    identity_secrets(&mut audit, &sandbox);
    let id = sandbox.identity().clone();
    let client = sandbox.client();
    // Business data of the decrypted resource: documented as never shown by `Debug`.
    const MARKER: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o-secret-openid";
    audit.secret("decrypted resource (business data)", MARKER);

    let (url, received) = receiver();
    let status = sandbox
        .notify(
            &url,
            Event::custom(
                "TRANSACTION.SUCCESS",
                "支付成功",
                "transaction",
                json!({ "out_trade_no": "SECRETS-CB", "payer": { "openid": MARKER } }),
            ),
        )
        .unwrap();
    assert_eq!(status, 204);
    let (headers, body) = received.recv().unwrap();

    let parser = client.notifications().unwrap();
    audit.debug("NotificationParser", &parser);
    let notification = parser.parse(&headers, &body).unwrap();
    assert!(notification.text().unwrap().contains(MARKER));
    audit.debug("Notification", &notification);

    // Every way a callback fails.
    let wrong_key = Apiv3Key::new("0123456789abcdef0123456789abcdef").unwrap();
    let verifier = PlatformVerifier::new();
    let wrong = NotificationParser::from_key(wrong_key, std::sync::Arc::new(verifier));
    audit.result("parse (unknown serial)", &wrong.parse(&headers, &body));
    let mut client_verifier = PlatformVerifier::new();
    client_verifier.insert(
        &id.public_key_id,
        PublicKey::load(&id.public_key_pem).unwrap(),
    );
    client_verifier.insert(
        &id.platform_serial,
        PublicKey::load(&id.platform_certificate_pem).unwrap(),
    );
    let wrong =
        NotificationParser::new("0123456789abcdef0123456789abcdef", client_verifier).unwrap();
    let err = wrong.parse(&headers, &body).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Crypto);
    audit.error("parse (wrong APIv3 key)", &err);
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("SECRETS", "SECRETZ");
    audit.result(
        "parse (tampered body)",
        &parser.parse(&headers, tampered.as_bytes()),
    );
    let mut bad_type = headers.clone();
    bad_type.insert("Wechatpay-Signature-Type", "SM2-WITH-SM3".parse().unwrap());
    audit.result("parse (signature type)", &parser.parse(&bad_type, &body));
    audit.result(
        "parse (no headers)",
        &parser.parse(&HeaderMap::new(), &body),
    );
    let signature = headers
        .get("Wechatpay-Signature")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let mut bad_signature = headers.clone();
    bad_signature.insert(
        "Wechatpay-Signature",
        format!("{signature}!").parse().unwrap(),
    );
    audit.result(
        "parse (signature not base64)",
        &parser.parse(&bad_signature, &body),
    );
    audit.result(
        "verify (tampered body)",
        &parser.verify(&headers, tampered.as_bytes()),
    );
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        payer: u64,
    }
    audit.result(
        "Notification::json (wrong type)",
        &notification.json::<Wrong>(),
    );
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct WrongInner {
        payer: std::collections::HashMap<String, u64>,
    }
    audit.result(
        "Notification::json (wrong inner type)",
        &notification.json::<WrongInner>(),
    );
    let answer = wechatpay::notify::failure_for(&err);
    audit.debug("notify::failure_for (wrong APIv3 key)", &answer);
    audit.text(
        "notify::failure_for body",
        String::from_utf8_lossy(answer.body()).into_owned(),
    );

    audit.finish();
}

/// Everything the crate logs while managing platform certificates, successfully or not.
#[test]
fn logs_hide_every_secret() {
    let mut audit = Audit::new();
    let sandbox = Sandbox::start().unwrap();
    identity_secrets(&mut audit, &sandbox);
    let id = sandbox.identity().clone();
    const WRONG_APIV3: &str = "WrongApiV3KeyWrongApiV3KeyWrong1";
    audit.short_secret("wrong APIv3 key", WRONG_APIV3);

    let auto = |apiv3: &str, anchored: bool| {
        let mut b = Client::builder()
            .mchid(&id.mchid)
            .serial(&id.merchant_serial)
            .private_key(&id.merchant_private_key_pem)
            .auto_certificates(apiv3)
            .secret(&id.apiv2_secret)
            .base_uri(sandbox.base_uri())
            .allow_insecure_http(true);
        if anchored {
            b = b
                .platform_key(&id.public_key_id, &id.public_key_pem)
                .platform_key(&id.platform_serial, &id.platform_certificate_pem);
        }
        b.build().unwrap()
    };
    // A first, unanchored download (logged as a warning), then a use of the keys.
    sandbox.set_sign_mode(wechatpay_sandbox::SignMode::Certificate);
    let first = auto(&id.apiv3_key, false);
    audit.result(
        "refresh_certificates (unanchored)",
        &first.refresh_certificates(),
    );
    let paid = first["v3/pay/transactions/native"]
        .post(json!({ "json": order(&id.mchid, "SECRETS-LOG-1") }));
    audit.result("Response (auto client)", &paid);
    // A download that cannot be decrypted.
    let wrong = auto(WRONG_APIV3, true);
    let err = wrong.refresh_certificates().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Crypto, "{err}");
    audit.error("refresh_certificates (wrong APIv3 key)", &err);
    // A download whose signature fails, and a public-key-only merchant.
    sandbox.set_route_fault("/v3/certificates", Some(Fault::BadSignature));
    let anchored = auto(&id.apiv3_key, true);
    audit.result(
        "refresh_certificates (bad signature)",
        &anchored.refresh_certificates(),
    );
    sandbox.set_route_fault("/v3/certificates", None);
    sandbox.set_public_key_only(true);
    let pk_only = auto(&id.apiv3_key, true);
    audit.result(
        "refresh_certificates (public key only)",
        &pk_only.refresh_certificates(),
    );
    sandbox.set_public_key_only(false);
    // A callback signed with a serial the ring does not know (a refresh it triggers).
    let (url, received) = receiver();
    sandbox
        .notify(&url, Event::payment("SECRETS-LOG-CB"))
        .unwrap();
    let (headers, body) = received.recv().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let parsed = rt.block_on(async { pk_only.notifications().unwrap().parse(&headers, &body) });
    audit.result("parse (callback via auto client)", &parsed);
    drop(rt);

    // The request signatures of all these calls.
    for request in sandbox.requests() {
        if let Some(header) = request.header("authorization") {
            audit.base64_secret(
                "request signature (Authorization)",
                &authorization_signature(header),
            );
        }
    }

    let log = LOG.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(
        log.lines()
            .any(|l| l.starts_with("WARN wechatpay::refresh") && l.contains("error=")),
        "the refresh warnings were not captured:\n{log}"
    );
    audit.text("tracing log", log);
    audit.finish();
}

/// `signature::Authorization` holds a request signature; its `Display` is the header value by
/// design, but its `Debug` should not show it. The header value itself is marked sensitive.
#[test]
fn authorization_debug_hides_the_signature() {
    let mut audit = Audit::new();
    let (_, pem) = generated_pkcs8_pem();
    let key = PrivateKey::load(&pem).unwrap();
    let signature = key
        .sign_sha256(b"GET\n/v3/certificates\n1554208460\nNONCE\n\n")
        .unwrap();
    let encoded = base64_encode(&signature);
    audit.base64_secret("request signature", &encoded);
    let header = wechatpay::signature::Authorization {
        mchid: "1900009191",
        serial_no: "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",
        timestamp: 1554208460,
        nonce_str: "593BEC0C930BF1AFEB40B4A08C8FB242",
        signature: &encoded,
    };
    audit.debug("signature::Authorization", &header);
    let value = wechatpay::signature::authorization_header(
        "1900009191",
        "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",
        1554208460,
        "593BEC0C930BF1AFEB40B4A08C8FB242",
        &signature,
    )
    .unwrap();
    audit.debug("signature::authorization_header (HeaderValue)", &value);
    let mut headers = HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, value);
    audit.debug("HeaderMap with the Authorization header", &headers);
    audit.finish();
}

/// JSAPI and APP pay parameters hold an RSA signature made with the merchant key.
#[test]
fn pay_params_debug_hides_the_signature() {
    let mut audit = Audit::new();
    let client = support::offline_client();
    let jsapi = client
        .jsapi_pay_params("wx8888888888888888", "wx201410272009395522657a690389285100")
        .unwrap();
    audit.base64_secret("pay signature (JSAPI paySign)", &jsapi.pay_sign);
    audit.debug("pay::JsapiPayParams", &jsapi);
    let app = client
        .app_pay_params("wx8888888888888888", "wx201410272009395522657a690389285100")
        .unwrap();
    audit.base64_secret("pay signature (APP sign)", &app.sign);
    audit.debug("pay::AppPayParams", &app);
    audit.finish();
}

/// A secret handed to the wrong setter (the key PEM as the serial, the APIv3 key as a platform
/// key id) is reported without being echoed.
#[test]
fn misplaced_secrets_are_not_echoed() {
    let mut audit = Audit::new();
    let (_, pem) = generated_pkcs8_pem();
    audit.pem_secret("private key PEM", &pem);
    const APIV3: &str = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
    audit.short_secret("APIv3 key", APIV3);
    let public_pem = String::from_utf8(
        PrivateKey::load(&pem)
            .unwrap()
            .as_openssl()
            .public_key_to_pem()
            .unwrap(),
    )
    .unwrap();

    // The private key where the serial belongs (and the serial where the key belongs).
    let builder = Client::builder()
        .mchid("1900000109")
        .serial(&pem)
        .private_key("3775B6A45ACD588826D15E583A95F5DD01234567")
        .platform_key("PUB_KEY_ID_0114232134912410000000000000", &public_pem);
    audit.debug("ClientBuilder (private key PEM as serial)", &builder);
    audit.result(
        "ClientBuilder::build (private key PEM as serial)",
        &builder.build(),
    );
    let builder = Client::builder()
        .mchid("1900000109")
        .serial(&pem)
        .private_key(&pem)
        .platform_key("PUB_KEY_ID_0114232134912410000000000000", &public_pem);
    audit.result(
        "ClientBuilder::build (private key PEM as serial, key set)",
        &builder.build(),
    );
    // The APIv3 key as a platform key id, and as the preferred key.
    let builder = Client::builder()
        .mchid("1900000109")
        .serial("3775B6A45ACD588826D15E583A95F5DD01234567")
        .private_key(&pem)
        .platform_key(APIV3, &public_pem);
    audit.debug("ClientBuilder (APIv3 key as platform key id)", &builder);
    audit.result(
        "ClientBuilder::build (APIv3 key as platform key id)",
        &builder.build(),
    );
    let builder = Client::builder()
        .mchid("1900000109")
        .serial("3775B6A45ACD588826D15E583A95F5DD01234567")
        .private_key(&pem)
        .platform_key("PUB_KEY_ID_0114232134912410000000000000", &public_pem)
        .preferred_platform_key(APIV3);
    audit.result(
        "ClientBuilder::build (APIv3 key as preferred key)",
        &builder.build(),
    );
    // The private key where the merchant id belongs.
    let builder = Client::builder().mchid(&pem).secret(APIV3);
    audit.result(
        "ClientBuilder::build (private key PEM as mchid)",
        &builder.build(),
    );
    // A secret sent in a custom header: `Options` hides header values; does a prepared request?
    let client = support::offline_client();
    let options = json!({ "headers": { "X-Gateway-Key": APIV3 } });
    audit.debug(
        "Options (secret in a custom header)",
        &Options::from(options.clone()),
    );
    let prepared = client["v3/certificates"]
        .prepare(Method::GET, options)
        .unwrap();
    audit.debug("PreparedRequest (secret in a custom header)", &prepared);
    audit.finish();
}

/// Text that comes from an answer or a callback (an unsigned error answer's `code` and
/// `message`, a `Wechatpay-Serial` header) reaches the log only escaped: a line break, a
/// carriage return, a tab or a terminal escape in it can neither start a forged log line nor
/// drive a terminal. Each injected control character comes right before [`FORGED`], so that
/// every place the marker appears in the log says how it was written.
#[test]
fn answers_and_callbacks_cannot_forge_log_lines() {
    const FORGED: &str = "FORGED-LOG-LINE";
    install_log_capture();
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity().clone();
    let auto = || {
        Client::builder()
            .mchid(&id.mchid)
            .serial(&id.merchant_serial)
            .private_key(&id.merchant_private_key_pem)
            .auto_certificates(&id.apiv3_key)
            .platform_key(&id.public_key_id, &id.public_key_pem)
            .platform_key(&id.platform_serial, &id.platform_certificate_pem)
            .base_uri(sandbox.base_uri())
            .allow_insecure_http(true)
            .build()
            .unwrap()
    };

    // An unsigned 500 for `/v3/certificates`: the refresh fails, and its warning quotes the
    // answer's code and message.
    sandbox.script(|request| {
        (request.path() == "/v3/certificates").then(|| {
            Answer::json(
                500,
                &json!({
                    "code": format!("SYSTEM_ERROR\n{FORGED}-code-500 INFO wechatpay: all fine"),
                    "message": format!(
                        "busy\r\n{FORGED}-message-500 \u{1b}[2J\u{1b}{FORGED}-escape-500"
                    ),
                }),
            )
            .unsigned()
        })
    });
    let failed = auto().refresh_certificates().unwrap_err();
    assert_eq!(failed.kind(), ErrorKind::Api, "{failed}");

    // An unsigned 404 for a merchant with a public key: public-key mode, logged with the code.
    sandbox.script(|request| {
        (request.path() == "/v3/certificates").then(|| {
            Answer::json(
                404,
                &json!({ "code": format!("NOT_FOUND\n{FORGED}-code-404"), "message": "none" }),
            )
            .unsigned()
        })
    });
    let client = auto();
    client.refresh_certificates().unwrap();

    // Answers signed under a `Wechatpay-Serial` holding a tab (the only control character a
    // header value may carry): warned about by the key ring, then a refresh for it,
    // rate-limited the second time.
    sandbox.script(|request| {
        (request.path() == "/v3/pay/transactions/id/4200000001").then(|| {
            Answer::json(200, &json!({ "trade_state": "SUCCESS" })).header(
                "Wechatpay-Serial",
                &format!("5157F09E\t{FORGED}-serial-answer"),
            )
        })
    });
    for _ in 0..2 {
        let unknown = client["v3/pay/transactions/id/{id}"]
            .get(json!({ "id": "4200000001", "query": { "mchid": id.mchid } }));
        assert_eq!(
            unknown.unwrap_err().kind(),
            ErrorKind::Verification,
            "an unknown serial"
        );
    }

    // A callback naming such a serial (outside a runtime: the refresh is left to the next
    // request, and logged).
    let mut headers = HeaderMap::new();
    let now = support::now_unix().to_string();
    headers.insert("Wechatpay-Timestamp", now.parse().unwrap());
    headers.insert(
        "Wechatpay-Nonce",
        "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".parse().unwrap(),
    );
    headers.insert("Wechatpay-Signature", "AAAA".parse().unwrap());
    headers.insert(
        "Wechatpay-Serial",
        format!("5157F09E\t{FORGED}-serial-callback")
            .parse()
            .unwrap(),
    );
    let parsed = client.notifications().unwrap().parse(&headers, b"{}");
    assert_eq!(parsed.unwrap_err().kind(), ErrorKind::Verification);
    sandbox.clear_script();

    let log = LOG.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut forged = Vec::new();
    for (at, _) in log.match_indices(FORGED) {
        let before = log[..at].chars().next_back();
        if before.is_none_or(char::is_control) {
            forged.push(format!(
                "- {before:?} raw before: {}",
                excerpt(&log, at, 40)
            ));
        }
    }
    for line in log.lines().filter(|line| line.contains(FORGED)) {
        if !["TRACE ", "DEBUG ", "INFO ", "WARN ", "ERROR ", "span "]
            .iter()
            .any(|level| line.starts_with(level))
        {
            forged.push(format!("- a line of its own: {line:?}"));
        }
        if line.chars().any(char::is_control) {
            forged.push(format!("- a raw control character: {line:?}"));
        }
    }
    assert!(
        forged.is_empty(),
        "answer text reached the log raw:\n{}",
        forged.join("\n")
    );
    for (label, level) in [
        ("code-500", "WARN wechatpay::refresh"),
        ("message-500", "WARN wechatpay::refresh"),
        ("escape-500", "WARN wechatpay::refresh"),
        ("code-404", "INFO wechatpay::refresh"),
        ("serial-answer", "WARN wechatpay::keyring"),
        ("serial-answer", "INFO wechatpay::refresh"),
        ("serial-callback", "INFO wechatpay::refresh"),
    ] {
        let marker = format!("{FORGED}-{label}");
        assert!(
            log.lines()
                .any(|line| line.starts_with(level) && line.contains(&marker)),
            "no `{level}` line logged the answer's {label}: the test did not reach the log \
             line it is about"
        );
    }
}

/// A proxy's user name and password, in the user-info of the URLs the sweep gives.
const PROXY_USER: &str = "gateway-user-3f9a";
const PROXY_PASSWORD: &str = "Pr0xyPa55w0rd-7c1e9b";

/// URLs holding [`PROXY_USER`] and [`PROXY_PASSWORD`] (or the password in a query), each
/// refused for another reason: credentials, a port out of range, a scheme, a query, no host,
/// no scheme.
fn credential_urls() -> Vec<String> {
    let info = format!("{PROXY_USER}:{PROXY_PASSWORD}");
    vec![
        format!("https://{info}@proxy.example.com/wechat/"),
        format!("https://{info}@proxy.example.com:99999/"),
        format!("ftp://{info}@proxy.example.com/"),
        format!("http://{info}@proxy.example.com/"),
        format!("https://{info}@proxy.example.com/?token={PROXY_PASSWORD}"),
        format!("https://proxy.example.com/wechat/?key={PROXY_PASSWORD}"),
        format!("https://proxy.example.com/wechat/#{PROXY_PASSWORD}"),
        format!("https://{info}@/"),
        format!("https://{info}@[::1/"),
        format!("{info}@proxy.example.com"),
    ]
}

/// The `pub fn`s of `impl <type_name> {` blocks of a source file of the library.
fn public_methods(file: &str, type_name: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let source = std::fs::read_to_string(&path).unwrap();
    let mut methods = Vec::new();
    let mut inside = false;
    for line in source.lines() {
        if line.starts_with("impl ") {
            inside = line == format!("impl {type_name} {{");
        } else if line == "}" {
            inside = false;
        } else if let Some(rest) = line.strip_prefix("    pub fn ").filter(|_| inside) {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            methods.push(name);
        }
    }
    assert!(methods.len() > 5, "no methods found in {file}");
    methods
}

/// Every setter of `ClientBuilder` and every option (each `Options` method and each reserved
/// key), given secret-looking values: the merchant key, a passphrase, and above all URLs whose
/// user-info (or query) holds a proxy's password, for `base_uri`, `backup_base_uri` and the
/// per-request `base_uri` option. The builder's `Debug` (before `build`), the built client's
/// `Debug` or `build`'s error, the options' `Debug`, and what preparing and sending a request
/// with them gives, are audited. A setter or an option added later without a case here fails
/// the test.
#[test]
fn every_setting_and_option_hides_secret_looking_values() {
    type Setter = Box<dyn Fn(wechatpay::ClientBuilder) -> wechatpay::ClientBuilder>;
    let mut audit = Audit::new();
    let sandbox = Sandbox::start().unwrap();
    identity_secrets(&mut audit, &sandbox);
    let id = sandbox.identity().clone();
    audit.short_secret("proxy password", PROXY_PASSWORD);
    audit.short_secret("proxy user", PROXY_USER);
    const PASSPHRASE: &str = "correct horse battery staple 42";
    audit.short_secret("passphrase", PASSPHRASE);
    let pem = id.merchant_private_key_pem.clone();
    // Secret-looking text for a setting that takes text: the private key, a passphrase, a URL
    // with user-info.
    let texts: Vec<String> = vec![
        pem.clone(),
        PASSPHRASE.to_owned(),
        credential_urls()[0].clone(),
        // Short enough (under 64 characters) to pass for an identifier, but for its `@`.
        format!("https://{PROXY_USER}:{PROXY_PASSWORD}@p.cn/"),
    ];

    let dir = std::env::temp_dir().join(format!("wechatpay-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret_file = dir.join("not-a-key.pem");
    std::fs::write(
        &secret_file,
        format!("{PASSPHRASE}\n{}", credential_urls()[0]),
    )
    .unwrap();
    let missing_file = dir.join("missing.pem");

    // (setter, case, what it does to a complete builder).
    let mut cases: Vec<(&str, String, Setter)> = Vec::new();
    for (n, text) in texts.iter().enumerate() {
        let t = text.clone();
        let each: Vec<(&str, Setter)> = vec![
            (
                "mchid",
                Box::new({
                    let t = t.clone();
                    move |b| b.mchid(&t)
                }),
            ),
            (
                "serial",
                Box::new({
                    let t = t.clone();
                    move |b| b.serial(&t)
                }),
            ),
            (
                "private_key",
                Box::new({
                    let t = t.clone();
                    move |b| b.private_key(&t)
                }),
            ),
            (
                "apiv3_key",
                Box::new({
                    let t = t.clone();
                    move |b| b.apiv3_key(&t)
                }),
            ),
            (
                "auto_certificates",
                Box::new({
                    let t = t.clone();
                    move |b| b.auto_certificates(&t)
                }),
            ),
            (
                "secret",
                Box::new({
                    let t = t.clone();
                    move |b| b.secret(&t)
                }),
            ),
            (
                "merchant_cert",
                Box::new({
                    let t = t.clone();
                    move |b| b.merchant_cert(&t)
                }),
            ),
            (
                "merchant_key",
                Box::new({
                    let t = t.clone();
                    move |b| b.merchant_key(&t)
                }),
            ),
            (
                "add_root_certificate",
                Box::new({
                    let t = t.clone();
                    move |b| b.add_root_certificate(&t)
                }),
            ),
            (
                "preferred_platform_key",
                Box::new({
                    let t = t.clone();
                    move |b| b.preferred_platform_key(&t)
                }),
            ),
            (
                "platform_key",
                Box::new({
                    let t = t.clone();
                    move |b| b.platform_key(&t, "-----BEGIN PUBLIC KEY-----")
                }),
            ),
            (
                "platform_key_file",
                Box::new({
                    let t = t.clone();
                    let f = missing_file.clone();
                    move |b| b.platform_key_file(&t, &f)
                }),
            ),
            (
                "private_key_with_passphrase",
                Box::new({
                    let t = t.clone();
                    let p = pem.clone();
                    move |b| b.private_key_with_passphrase(&p, &t)
                }),
            ),
            (
                "merchant_key_with_passphrase",
                Box::new({
                    let t = t.clone();
                    let p = pem.clone();
                    move |b| b.merchant_key_with_passphrase(&p, &t)
                }),
            ),
            (
                "merchant_pkcs12",
                Box::new({
                    let t = t.clone();
                    move |b| b.merchant_pkcs12(t.as_bytes(), &t)
                }),
            ),
            (
                "base_uri",
                Box::new({
                    let t = t.clone();
                    move |b| b.base_uri(&t)
                }),
            ),
            (
                "backup_base_uri",
                Box::new({
                    let t = t.clone();
                    move |b| b.backup_base_uri(&t)
                }),
            ),
        ];
        for (setter, apply) in each {
            cases.push((setter, format!("secret text #{n}"), apply));
        }
    }
    for (n, url) in credential_urls().into_iter().enumerate() {
        for setter in ["base_uri", "backup_base_uri"] {
            let url = url.clone();
            let apply: Setter = match setter {
                "base_uri" => Box::new(move |b| b.base_uri(&url)),
                _ => Box::new(move |b| b.backup_base_uri(&url)),
            };
            cases.push((setter, format!("credential URL #{n}"), apply));
        }
    }
    let platform_pem = id.public_key_pem.clone();
    let public_key_id = id.public_key_id.clone();
    #[allow(unused_mut)]
    let mut file_cases: Vec<(&str, Setter)> = vec![
        (
            "private_key_file",
            Box::new({
                let f = secret_file.clone();
                move |b| b.private_key_file(&f)
            }),
        ),
        (
            "platform_key_file",
            Box::new({
                let f = secret_file.clone();
                let i = public_key_id.clone();
                move |b| b.platform_key_file(&i, &f)
            }),
        ),
        (
            "certificate_dir",
            Box::new({
                let d = dir.clone();
                move |b| b.certificate_dir(&d)
            }),
        ),
        (
            "certificate_store",
            Box::new({
                let d = dir.clone();
                move |b| b.certificate_store(wechatpay::keyring::DirectoryStore::new(&d))
            }),
        ),
        (
            "signer",
            Box::new({
                let p = pem.clone();
                move |b| b.signer(PrivateKey::load(&p).unwrap())
            }),
        ),
        (
            "verifier",
            Box::new({
                let p = platform_pem.clone();
                let i = public_key_id.clone();
                move |b| {
                    let mut v = PlatformVerifier::new();
                    v.insert(&i, PublicKey::load(&p).unwrap());
                    b.verifier(v)
                }
            }),
        ),
        (
            "send_wechatpay_serial",
            Box::new(|b| b.send_wechatpay_serial(true)),
        ),
        (
            "refresh_interval",
            Box::new(|b| b.refresh_interval(std::time::Duration::from_secs(1))),
        ),
        ("no_failover", Box::new(|b| b.no_failover())),
        (
            "failover_cooldown",
            Box::new(|b| b.failover_cooldown(std::time::Duration::from_secs(1))),
        ),
        (
            "retry",
            Box::new(|b| b.retry(wechatpay::RetryPolicy::default())),
        ),
        (
            "timeout",
            Box::new(|b| b.timeout(std::time::Duration::from_secs(1))),
        ),
        (
            "connect_timeout",
            Box::new(|b| b.connect_timeout(std::time::Duration::from_secs(1))),
        ),
        ("max_response_size", Box::new(|b| b.max_response_size(0))),
        ("max_download_size", Box::new(|b| b.max_download_size(0))),
        (
            "replay_memory",
            Box::new(|b| b.replay_memory(wechatpay::replay::InMemory::new(1))),
        ),
        (
            "allow_insecure_http",
            Box::new(|b| b.allow_insecure_http(false)),
        ),
        ("trace_paths", Box::new(|b| b.trace_paths(true))),
    ];
    #[cfg(feature = "catalogue")]
    file_cases.push(("strict_paths", Box::new(|b| b.strict_paths(true))));
    for (setter, apply) in file_cases {
        cases.push((setter, "its own kind of value".to_owned(), apply));
    }

    // A complete builder aimed at the sandbox: what a setting changes is all that goes wrong.
    let complete = || {
        Client::builder()
            .mchid(&id.mchid)
            .serial(&id.merchant_serial)
            .private_key(&id.merchant_private_key_pem)
            .platform_key(&id.public_key_id, &id.public_key_pem)
            .apiv3_key(&id.apiv3_key)
            .secret(&id.apiv2_secret)
            .base_uri(sandbox.base_uri())
            .allow_insecure_http(true)
    };
    for (setter, case, apply) in &cases {
        let what = format!("ClientBuilder::{setter} ({case})");
        let builder = apply(complete());
        audit.debug(&what, &builder);
        audit.result(&format!("{what} built"), &builder.build());
        // Alone, before the other settings.
        let builder = apply(Client::builder());
        audit.debug(&format!("{what}, alone"), &builder);
        audit.result(&format!("{what}, alone, built"), &builder.build());
    }

    // Options: every method and every reserved key, on a client that works.
    let client = complete().build().unwrap();
    audit.debug("Client", &client);
    let v3 = "v3/pay/transactions/native";
    let v2 = "v2/pay/orderquery";
    let secret = |n: usize| texts[n % texts.len()].clone();
    let mut options: Vec<(&str, String, &str, Options)> = Vec::new();
    for n in 0..texts.len() {
        let s = secret(n);
        let case = format!("secret text #{n}");
        options.extend([
            ("new", case.clone(), v3, Options::new()),
            (
                "var",
                case.clone(),
                v3,
                Options::new().var("note", s.as_str()),
            ),
            (
                "json",
                case.clone(),
                v3,
                Options::new().json(&json!({ "note": s })),
            ),
            ("body", case.clone(), v3, Options::new().body(s.clone())),
            (
                "encrypt",
                case.clone(),
                v3,
                Options::new()
                    .json(&json!({ "note": s }))
                    .encrypt(["/note"]),
            ),
            (
                "multipart",
                case.clone(),
                "v3/merchant/media/upload",
                Options::new()
                    .multipart(wechatpay::Media::new("scan.jpg", s.clone().into_bytes()).unwrap()),
            ),
            (
                "xml",
                case.clone(),
                v2,
                Options::new().xml(&json!({ "mch_id": id.mchid, "note": s })),
            ),
            (
                "nonceless",
                case.clone(),
                v2,
                Options::new().xml(&json!({ "note": s })).nonceless(),
            ),
            (
                "security",
                case.clone(),
                v2,
                Options::new().xml(&json!({ "note": s })).security(),
            ),
            ("query", case.clone(), v3, Options::new().query("note", &s)),
            ("raw_query", case.clone(), v3, Options::new().raw_query(&s)),
            (
                "header",
                case.clone(),
                v3,
                Options::new().header("X-Note", &s),
            ),
            (
                "header",
                format!("{case} as the name"),
                v3,
                Options::new().header(&s, "x"),
            ),
            (
                "base_uri",
                case.clone(),
                v3,
                Options::new().base_uri(s.clone()),
            ),
            (
                "timeout",
                case.clone(),
                v3,
                Options::new()
                    .timeout(std::time::Duration::from_secs(5))
                    .var("note", s.as_str()),
            ),
        ]);
        // The same through JSON, every reserved key with a value of its type, then of another.
        let mut keyed = vec![
            ("base_uri", json!({ "base_uri": s })),
            ("json", json!({ "json": { "note": s } })),
            ("query", json!({ "query": { "note": s } })),
            ("query", json!({ "query": s })),
            ("query", json!({ "query": { s.clone(): { "nested": s } } })),
            ("headers", json!({ "headers": { "X-Note": s } })),
            ("headers", json!({ "headers": { s.clone(): "x" } })),
            ("headers", json!({ "headers": { s.clone(): 1 } })),
            ("body", json!({ "body": s })),
            ("timeout", json!({ "timeout": s })),
            (
                "encrypt",
                json!({ "json": { "note": s }, "encrypt": ["/note"] }),
            ),
            ("encrypt", json!({ "encrypt": s })),
            ("xml", json!({ "xml": { "note": s } })),
            ("xml", json!({ "xml": s })),
            ("nonceless", json!({ "nonceless": s })),
            ("security", json!({ "security": s })),
        ];
        for (key, value) in keyed.drain(..) {
            let path = if ["xml", "nonceless", "security"].contains(&key) {
                v2
            } else {
                v3
            };
            options.push((key, format!("{case}, JSON"), path, Options::from(value)));
        }
    }
    for (n, url) in credential_urls().into_iter().enumerate() {
        options.push((
            "base_uri",
            format!("credential URL #{n}"),
            v3,
            Options::new().base_uri(url.clone()),
        ));
        options.push((
            "base_uri",
            format!("credential URL #{n}, JSON"),
            v3,
            Options::from(json!({ "base_uri": url })),
        ));
    }
    for (method, case, path, opts) in &options {
        let what = format!("Options::{method} ({case}) for {path}");
        audit.debug(&what, opts);
        let method = if path.starts_with("v3/pay/transactions") {
            Method::GET
        } else {
            Method::POST
        };
        audit.result(
            &format!("{what}: prepare"),
            &client.chain(path).prepare(method.clone(), opts.clone()),
        );
        let sent = if method == Method::GET {
            client.chain(path).get(opts.clone())
        } else {
            client.chain(path).post(opts.clone())
        };
        audit.result(&format!("{what}: sent"), &sent);
    }

    // Nothing left out: every setter, every option method and every reserved key has a case.
    let swept: std::collections::BTreeSet<&str> = cases.iter().map(|(s, _, _)| *s).collect();
    for setter in public_methods("src/client/builder.rs", "ClientBuilder") {
        // `strict_paths` exists with the `catalogue` feature only.
        if setter != "build" && (cfg!(feature = "catalogue") || setter != "strict_paths") {
            assert!(
                swept.contains(setter.as_str()),
                "ClientBuilder::{setter} is not swept"
            );
        }
    }
    let swept: std::collections::BTreeSet<&str> = options.iter().map(|(m, _, _, _)| *m).collect();
    for method in public_methods("src/options.rs", "Options") {
        // `vars` gives the caller's own map back.
        if method != "vars" {
            assert!(
                swept.contains(method.as_str()),
                "Options::{method} is not swept"
            );
        }
    }
    for key in wechatpay::RESERVED_KEYS {
        assert!(swept.contains(key), "option `{key}` is not swept");
    }

    let _ = std::fs::remove_dir_all(&dir);
    audit.finish();
}
