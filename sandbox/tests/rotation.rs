//! Platform certificate rotation and route-scoped faults, checked with hand-made requests and
//! OpenSSL in the test (not the sandbox's code, not the client's).

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use openssl::symm::{Cipher, decrypt_aead};
use openssl::x509::X509;
use serde_json::{Value, json};
use support::{Raw, authorization, raw_request};
use wechatpay_sandbox::{Event, Fault, Sandbox, SignMode, SignatureHeader};

const COMPLAINT: &str = "/v3/merchant-service/complaints-v2/200201820200101080076610000/response";

/// A hand-signed request, with extra headers.
fn send(sandbox: &Sandbox, method: &str, target: &str, body: &[u8], extra: &[(&str, &str)]) -> Raw {
    let auth = authorization(sandbox.identity(), method, target, body);
    let mut headers = vec![
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    headers.extend_from_slice(extra);
    raw_request(sandbox.base_uri(), method, target, &headers, body)
}

fn certificates(sandbox: &Sandbox, extra: &[(&str, &str)]) -> Raw {
    let answer = send(sandbox, "GET", "/v3/certificates", b"", extra);
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer
}

fn complaint(sandbox: &Sandbox, extra: &[(&str, &str)]) -> Raw {
    let body = json!({ "complainted_mchid": sandbox.identity().mchid, "response_content": "ok" })
        .to_string();
    let answer = send(sandbox, "POST", COMPLAINT, body.as_bytes(), extra);
    assert_eq!(
        answer.status,
        204,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer
}

/// The listed `(serial_no, decrypted PEM)`, decrypted with OpenSSL directly.
fn listed(sandbox: &Sandbox, answer: &Raw) -> Vec<(String, String)> {
    let key = sandbox.identity().apiv3_key.as_bytes();
    answer.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let encrypted = &entry["encrypt_certificate"];
            assert_eq!(encrypted["algorithm"], "AEAD_AES_256_GCM");
            assert_eq!(encrypted["associated_data"], "certificate");
            let sealed =
                openssl::base64::decode_block(encrypted["ciphertext"].as_str().unwrap()).unwrap();
            let (ciphertext, tag) = sealed.split_at(sealed.len() - 16);
            let pem = decrypt_aead(
                Cipher::aes_256_gcm(),
                key,
                Some(encrypted["nonce"].as_str().unwrap().as_bytes()),
                b"certificate",
                ciphertext,
                tag,
            )
            .unwrap();
            let pem = String::from_utf8(pem).unwrap();
            let serial = entry["serial_no"].as_str().unwrap().to_owned();
            // The serial listed is the certificate's.
            let cert = X509::from_pem(pem.as_bytes()).unwrap();
            let hex = cert.serial_number().to_bn().unwrap().to_hex_str().unwrap();
            assert_eq!(serial, hex.to_string());
            for field in ["effective_time", "expire_time"] {
                assert!(entry[field].as_str().unwrap().ends_with("+08:00"));
            }
            (serial, pem)
        })
        .collect()
}

fn serials(list: &[(String, String)]) -> Vec<&str> {
    list.iter().map(|(serial, _)| serial.as_str()).collect()
}

/// The Unix time of an ASN.1 time, with OpenSSL.
fn unix(time: &openssl::asn1::Asn1TimeRef) -> i64 {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).unwrap();
    let diff = epoch.diff(time).unwrap();
    i64::from(diff.days) * 86_400 + i64::from(diff.secs)
}

/// A callback as received: its headers and body.
type Callback = (Vec<(String, String)>, Vec<u8>);

/// Receives one callback on a plain socket: its headers and body.
fn receive_one() -> (String, std::thread::JoinHandle<Callback>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        let (head_end, length) = loop {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "the callback ended early");
            data.extend_from_slice(&buf[..n]);
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(data[..end].to_vec()).unwrap();
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap();
                break (end + 4, length);
            }
        };
        while data.len() < head_end + length {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "the callback body ended early");
            data.extend_from_slice(&buf[..n]);
        }
        stream
            .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        let head = String::from_utf8(data[..head_end - 4].to_vec()).unwrap();
        let headers = head
            .split("\r\n")
            .skip(1)
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_owned(), v.trim().to_owned())
            })
            .collect();
        (headers, data[head_end..head_end + length].to_vec())
    });
    (url, handle)
}

#[test]
fn a_rotated_certificate_signs_and_the_list_is_signed_with_the_old_one() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity().clone();
    let old = id.platform_serial.clone();
    assert_eq!(
        sandbox.platform_certificates(),
        [(old.clone(), id.platform_certificate_pem.clone())]
    );

    let before = support::now();
    let new = sandbox
        .rotate_platform_certificate(Duration::from_secs(3600))
        .unwrap();
    let after = support::now();
    assert_ne!(new, old);
    assert_eq!(new.len(), 40);
    assert!(
        new.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    );
    let all = sandbox.platform_certificates();
    assert_eq!(serials(&all), [old.as_str(), new.as_str()]);
    assert_eq!(all[0].1, id.platform_certificate_pem);
    let new_pem = all[1].1.clone();

    // Issued like the first one: same subject, by the sandbox CA, a new key, valid from a
    // minute ago for `valid_for`.
    let first = X509::from_pem(id.platform_certificate_pem.as_bytes()).unwrap();
    let cert = X509::from_pem(new_pem.as_bytes()).unwrap();
    let ca = X509::from_pem(id.ca_certificate_pem.as_bytes()).unwrap();
    assert!(cert.verify(&ca.public_key().unwrap()).unwrap());
    assert_eq!(
        ca.issued(&cert),
        openssl::x509::X509VerifyResult::OK,
        "issued by the sandbox CA"
    );
    let names = |c: &X509| -> Vec<String> {
        c.subject_name()
            .entries()
            .map(|e| String::from_utf8(e.data().as_slice().to_vec()).unwrap())
            .collect()
    };
    assert_eq!(names(&cert), names(&first));
    assert!(
        !cert
            .public_key()
            .unwrap()
            .public_eq(&first.public_key().unwrap())
    );
    let not_before = unix(cert.not_before());
    let not_after = unix(cert.not_after());
    assert!(
        (before - 60..=after - 60).contains(&not_before),
        "{not_before}"
    );
    assert!(
        (before + 3600..=after + 3600).contains(&not_after),
        "{not_after}"
    );

    // Public-key mode (the default) is unchanged.
    let answer = complaint(&sandbox, &[]);
    assert_eq!(
        answer.header("Wechatpay-Serial"),
        Some(id.public_key_id.as_str())
    );
    answer.verify(&id).unwrap();
    // The certificate list is signed with the oldest certificate in every mode.
    let list = certificates(&sandbox, &[]);
    assert_eq!(list.header("Wechatpay-Serial"), Some(old.as_str()));
    list.verify(&id).unwrap();
    assert_eq!(
        serials(&listed(&sandbox, &list)),
        [old.as_str(), new.as_str()]
    );

    // Certificate mode, per request and globally: the answers carry the new serial and verify
    // with the new certificate only.
    let per_request = complaint(&sandbox, &[("Sandbox-Sign-Mode", "certificate")]);
    sandbox.set_sign_mode(SignMode::Certificate);
    let global = complaint(&sandbox, &[]);
    for answer in [per_request, global] {
        assert_eq!(answer.header("Wechatpay-Serial"), Some(new.as_str()));
        answer.verify_with_certificate(&new_pem).unwrap();
        assert!(
            answer
                .verify_with_certificate(&id.platform_certificate_pem)
                .is_err()
        );
    }
    // Errors too.
    let missing = send(&sandbox, "POST", COMPLAINT, b"{}", &[]);
    assert_eq!(missing.status, 400);
    assert_eq!(missing.header("Wechatpay-Serial"), Some(new.as_str()));
    missing.verify_with_certificate(&new_pem).unwrap();

    // The list holds both, decrypted to the certificates, and is signed with the old one.
    let list = certificates(&sandbox, &[]);
    assert_eq!(list.header("Wechatpay-Serial"), Some(old.as_str()));
    list.verify(&id).unwrap();
    list.verify_with_certificate(&id.platform_certificate_pem)
        .unwrap();
    assert!(list.verify_with_certificate(&new_pem).is_err());
    assert_eq!(listed(&sandbox, &list), all);

    // A client that knows only the old certificate verifies the list.
    let answer: Value = sandbox.client()["v3/certificates"]
        .get(json!({}))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(answer["data"].as_array().unwrap().len(), 2);

    // Callbacks are signed with the new one.
    let (url, received) = receive_one();
    assert_eq!(sandbox.notify(&url, Event::payment("ROT-1")).unwrap(), 204);
    let (headers, body) = received.join().unwrap();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("Wechatpay-Serial").as_deref(), Some(new.as_str()));
    let new_key = cert.public_key().unwrap();
    support::verify_signature(&new_key, header, &body).unwrap();

    // A second rotation: the newest signs, the oldest still signs the list.
    let third = sandbox
        .rotate_platform_certificate(Duration::from_secs(7200))
        .unwrap();
    assert_eq!(
        complaint(&sandbox, &[]).header("Wechatpay-Serial"),
        Some(third.as_str())
    );
    let list = certificates(&sandbox, &[]);
    assert_eq!(list.header("Wechatpay-Serial"), Some(old.as_str()));
    assert_eq!(
        serials(&listed(&sandbox, &list)),
        [old.as_str(), new.as_str(), third.as_str()]
    );
    // Each sandbox has its own certificates.
    let other = Sandbox::start().unwrap();
    assert_eq!(other.platform_certificates().len(), 1);
}

#[test]
fn an_expired_certificate_is_no_longer_listed_nor_used() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let old = sandbox.identity().platform_serial.clone();
    let lasting = sandbox
        .rotate_platform_certificate(Duration::from_secs(3600))
        .unwrap();
    let brief = sandbox
        .rotate_platform_certificate(Duration::from_secs(2))
        .unwrap();
    let list = certificates(&sandbox, &[]);
    assert_eq!(
        serials(&listed(&sandbox, &list)),
        [old.as_str(), lasting.as_str(), brief.as_str()]
    );
    assert_eq!(
        complaint(&sandbox, &[]).header("Wechatpay-Serial"),
        Some(brief.as_str())
    );

    std::thread::sleep(Duration::from_secs(3));

    let list = certificates(&sandbox, &[]);
    assert_eq!(
        serials(&listed(&sandbox, &list)),
        [old.as_str(), lasting.as_str()]
    );
    assert_eq!(list.header("Wechatpay-Serial"), Some(old.as_str()));
    // The newest unexpired one signs.
    let answer = complaint(&sandbox, &[]);
    assert_eq!(answer.header("Wechatpay-Serial"), Some(lasting.as_str()));
    let pems = sandbox.platform_certificates();
    answer.verify_with_certificate(&pems[1].1).unwrap();
    // Still known to platform_certificates.
    assert_eq!(
        serials(&pems),
        [old.as_str(), lasting.as_str(), brief.as_str()]
    );
}

#[test]
fn a_certificate_of_any_validity_can_be_issued_and_made_to_sign_the_list() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let old = sandbox.identity().platform_serial.clone();
    let day = Duration::from_secs(86_400);
    let now = std::time::SystemTime::now();
    let expired = sandbox
        .issue_platform_certificate(now - 31 * day, now - day)
        .unwrap();
    assert_ne!(expired, old);
    let pems = sandbox.platform_certificates();
    assert_eq!(serials(&pems), [old.as_str(), expired.as_str()]);
    // The window asked for, read with OpenSSL.
    let cert = X509::from_pem(pems[1].1.as_bytes()).unwrap();
    let now_unix = support::now();
    let not_before = unix(cert.not_before());
    let not_after = unix(cert.not_after());
    assert!((now_unix - 31 * 86_400 - 2..=now_unix - 31 * 86_400).contains(&not_before));
    assert!((now_unix - 86_400 - 2..=now_unix - 86_400).contains(&not_after));

    // Expired: neither listed nor used, by default.
    let list = certificates(&sandbox, &[]);
    assert_eq!(serials(&listed(&sandbox, &list)), [old.as_str()]);
    assert_eq!(list.header("Wechatpay-Serial"), Some(old.as_str()));
    assert_eq!(
        complaint(&sandbox, &[]).header("Wechatpay-Serial"),
        Some(old.as_str())
    );

    // Named: listed and signing the list, expired as it is; answers unchanged.
    sandbox.sign_certificate_list_with(Some(&expired)).unwrap();
    let list = certificates(&sandbox, &[]);
    assert_eq!(
        serials(&listed(&sandbox, &list)),
        [old.as_str(), expired.as_str()]
    );
    assert_eq!(list.header("Wechatpay-Serial"), Some(expired.as_str()));
    list.verify_with_certificate(&pems[1].1).unwrap();
    assert!(list.verify_with_certificate(&pems[0].1).is_err());
    assert_eq!(
        complaint(&sandbox, &[]).header("Wechatpay-Serial"),
        Some(old.as_str())
    );
    // It wins over sign_certificate_list_with_newest.
    sandbox.sign_certificate_list_with_newest(true);
    let list = certificates(&sandbox, &[]);
    assert_eq!(list.header("Wechatpay-Serial"), Some(expired.as_str()));
    sandbox.sign_certificate_list_with_newest(false);

    // Back to the default.
    sandbox.sign_certificate_list_with(None).unwrap();
    let list = certificates(&sandbox, &[]);
    assert_eq!(serials(&listed(&sandbox, &list)), [old.as_str()]);
    assert_eq!(list.header("Wechatpay-Serial"), Some(old.as_str()));

    // Arguments it cannot use.
    let unknown = sandbox.sign_certificate_list_with(Some("0123ABCD"));
    assert!(
        matches!(&unknown, Err(wechatpay_sandbox::Error::InvalidArgument(m)) if m.contains("0123ABCD")),
        "{unknown:?}"
    );
    let backwards = sandbox.issue_platform_certificate(now, now - day);
    assert!(
        matches!(backwards, Err(wechatpay_sandbox::Error::InvalidArgument(_))),
        "{backwards:?}"
    );
    assert_eq!(sandbox.platform_certificates().len(), 2);
}

#[test]
fn route_faults_apply_only_to_their_path() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity().clone();

    // A tampered certificate list; other answers are fine.
    sandbox.set_route_fault("/v3/certificates", Some(Fault::TamperedBody));
    let list = send(&sandbox, "GET", "/v3/certificates", b"", &[]);
    assert_eq!(list.status, 200);
    assert!(list.verify(&id).is_err());
    complaint(&sandbox, &[]).verify(&id).unwrap();
    // With a query, the path alone is compared.
    let no = "/v3/pay/transactions/out-trade-no/R-1";
    sandbox.set_route_fault(no, Some(Fault::ServerError(503)));
    let target = format!("{no}?mchid={}", id.mchid);
    assert_eq!(send(&sandbox, "GET", &target, b"", &[]).status, 503);
    let other = format!("/v3/pay/transactions/out-trade-no/R-2?mchid={}", id.mchid);
    assert_eq!(send(&sandbox, "GET", &other, b"", &[]).status, 404);
    sandbox.set_route_fault(no, None);
    assert_eq!(send(&sandbox, "GET", &target, b"", &[]).status, 404);

    // The route's fault overrides the global one; the request header wins over both.
    sandbox.set_fault(Some(Fault::BadSignature));
    sandbox.set_route_fault(
        "/v3/certificates",
        Some(Fault::MissingHeader(SignatureHeader::Serial)),
    );
    let list = send(&sandbox, "GET", "/v3/certificates", b"", &[]);
    assert_eq!(list.header("Wechatpay-Serial"), None);
    assert!(list.header("Wechatpay-Signature").is_some());
    let answer = complaint(&sandbox, &[]);
    assert_eq!(answer.verify(&id), Err("bad signature".into()));
    let list = send(
        &sandbox,
        "GET",
        "/v3/certificates",
        b"",
        &[("Sandbox-Fault", "missing-nonce")],
    );
    assert!(list.header("Wechatpay-Serial").is_some());
    assert_eq!(list.header("Wechatpay-Nonce"), None);
    // Removing the route's fault: the global one applies again.
    sandbox.set_route_fault("/v3/certificates", None);
    let list = send(&sandbox, "GET", "/v3/certificates", b"", &[]);
    assert!(list.header("Wechatpay-Serial").is_some());
    assert_eq!(list.verify(&id), Err("bad signature".into()));
    sandbox.set_fault(None);

    // A slow certificate list (the path may be given without its leading '/').
    sandbox.set_route_fault(
        "v3/certificates",
        Some(Fault::SlowReply(Duration::from_millis(1500))),
    );
    let started = Instant::now();
    certificates(&sandbox, &[]).verify(&id).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1500));
    let started = Instant::now();
    complaint(&sandbox, &[]).verify(&id).unwrap();
    assert!(started.elapsed() < Duration::from_millis(1500));

    // APIv2 and unknown paths too.
    sandbox.set_route_fault("/pay/micropay", Some(Fault::ServerError(502)));
    let client = sandbox.client();
    let xml = json!({ "xml": {
        "appid": "wx2421b1c4370ec43b", "mch_id": id.mchid, "body": "QQ公仔",
        "out_trade_no": "R-V2", "total_fee": 1, "spbill_create_ip": "8.8.8.8",
        "auth_code": "120061098828009406",
    }});
    let error = client["v2/pay/micropay"].post(xml).unwrap_err();
    assert_eq!(error.kind(), wechatpay::ErrorKind::Api, "{error}");
    assert_eq!(sandbox.requests().pop().unwrap().path(), "/pay/micropay");
    let error = client["v2/pay/orderquery"]
        .post(json!({ "xml": { "appid": "wx1", "mch_id": id.mchid, "out_trade_no": "NOPE" } }))
        .unwrap_err();
    assert_eq!(error.api().unwrap().err_code(), Some("ORDERNOTEXIST"));
    sandbox.set_route_fault("/nowhere", Some(Fault::ServerError(504)));
    assert_eq!(
        raw_request(sandbox.base_uri(), "GET", "/nowhere", &[], b"").status,
        504
    );
    assert_eq!(
        raw_request(sandbox.base_uri(), "GET", "/elsewhere", &[], b"").status,
        404
    );
}
