//! Bill downloads: the signed first step, then the unsigned file streamed, gunzipped and
//! checked against the hash of the first step.

mod support;

use std::io::Write;

use serde_json::json;
use support::scripted::TestServer;
use wechatpay::bill::{BillDownload, Compression};
use wechatpay::{ErrorKind, VerificationFailure};
use wechatpay_sandbox::Answer;

fn csv(rows: usize) -> Vec<u8> {
    let mut out = "交易时间,公众账号ID,商户号,微信订单号,商户订单号,订单金额\n"
        .as_bytes()
        .to_vec();
    for i in 0..rows {
        writeln!(out, "`2024-06-01 10:{:02}:00,`wx8888888888888888,`1900012181,`42000000{i:012},`ORDER{i},`{}.00", i % 60, i % 1000).unwrap();
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn sha1_hex(data: &[u8]) -> String {
    openssl::hash::hash(openssl::hash::MessageDigest::sha1(), data)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Serves `v3/bill/tradebill` (signed JSON naming the file and `hash`) and the file itself
/// (unsigned, as WeChat Pay does).
fn bill_server(file: Vec<u8>, hash: String) -> TestServer {
    TestServer::start(move |r| {
        if r.path() == "/v3/bill/tradebill" {
            let host = r.header("host").unwrap();
            Answer::json(
                200,
                &json!({
                    "download_url": format!("http://{host}/v3/billdownload/file?token=6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2wMMR8cNXqaA_Cv_isgaUtBzp4QtiozLO"),
                    "hash_type": "SHA1",
                    "hash_value": hash,
                }),
            )
        } else {
            Answer::bytes(200, "application/octet-stream", file.clone()).unsigned()
        }
    })
}

/// The `.partial` files left in `dir`.
fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".partial"))
        .collect()
}

fn bill_info(client: &wechatpay::Client, tar_type: Option<&str>) -> BillDownload {
    client
        .chain("v3/bill/tradebill{?bill_date,tar_type}")
        .get(json!({ "bill_date": "2024-06-01", "tar_type": tar_type }))
        .unwrap()
        .json()
        .unwrap()
}

#[test]
fn a_plain_bill_is_streamed_and_hash_checked() {
    let bill = csv(2000);
    let server = bill_server(bill.clone(), sha1_hex(&bill).to_uppercase());
    let client = support::client(&server);
    let info = bill_info(&client, None);
    let mut out = Vec::new();
    let written = client
        .download_bill(&info, Compression::None, &mut out)
        .unwrap();
    assert_eq!(out, bill);
    assert_eq!(written, bill.len() as u64);

    // The download request was signed over the exact target of download_url.
    let r = server.last();
    assert_eq!(
        r.target,
        "/v3/billdownload/file?token=6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2wMMR8cNXqaA_Cv_isgaUtBzp4QtiozLO"
    );
    let auth = r.auth_ok();
    assert!(
        auth.message
            .starts_with(format!("GET\n{}\n", r.target).as_bytes())
    );
}

#[test]
fn a_gzip_bill_is_gunzipped_and_the_plain_text_hashed() {
    let bill = csv(5000);
    let server = bill_server(gzip(&bill), sha1_hex(&bill));
    let client = support::client(&server);
    let info = bill_info(&client, Some("GZIP"));
    let mut out = Vec::new();
    assert_eq!(
        client
            .download_bill(&info, Compression::Gzip, &mut out)
            .unwrap(),
        bill.len() as u64
    );
    assert_eq!(out, bill);
}

#[tokio::test]
async fn an_async_writer_works_too() {
    let bill = csv(1000);
    let server = bill_server(gzip(&bill), sha1_hex(&bill));
    let client = support::client(&server);
    let info: BillDownload = client
        .chain("v3/bill/tradebill")
        .get_async(())
        .await
        .unwrap()
        .json()
        .unwrap();
    let mut out: Vec<u8> = Vec::new();
    client
        .download_bill_async(&info, Compression::Gzip, &mut out)
        .await
        .unwrap();
    assert_eq!(out, bill);
}

#[test]
fn a_wrong_hash_fails_closed() {
    let bill = csv(100);
    let mut wrong = sha1_hex(&bill);
    wrong.replace_range(..1, if wrong.starts_with('0') { "1" } else { "0" });
    for (file, compression) in [
        (bill.clone(), Compression::None),
        (gzip(&bill), Compression::Gzip),
    ] {
        let server = bill_server(file, wrong.clone());
        let client = support::client(&server);
        let info = bill_info(&client, None);
        let err = client
            .download_bill(&info, compression, &mut Vec::new())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Verification);
        assert_eq!(
            err.verification(),
            Some(&VerificationFailure::DigestMismatch)
        );
        assert!(err.response().is_none());
        assert!(!err.to_string().contains("gzip"), "{err}");
    }
}

#[test]
fn auto_takes_each_bill_as_it_comes() {
    let bill = csv(2_000);
    for (file, tar_type) in [(bill.clone(), None), (gzip(&bill), Some("GZIP"))] {
        let server = bill_server(file, sha1_hex(&bill));
        let client = support::client(&server);
        let info = bill_info(&client, tar_type);
        let mut out = Vec::new();
        let written = client
            .download_bill(&info, Compression::Auto, &mut out)
            .unwrap();
        assert_eq!(written, bill.len() as u64, "{tar_type:?}");
        assert!(out == bill, "{tar_type:?}");
    }
    // Short bodies: one byte, and none (whose SHA-1 is that of nothing).
    for file in [b"x".to_vec(), Vec::new()] {
        let server = bill_server(file.clone(), sha1_hex(&file));
        let client = support::client(&server);
        let info = bill_info(&client, None);
        let mut out = Vec::new();
        client
            .download_bill(&info, Compression::Auto, &mut out)
            .unwrap();
        assert_eq!(out, file);
    }
}

#[test]
fn a_gzip_bill_downloaded_as_plain_says_so() {
    let bill = csv(100);
    let server = bill_server(gzip(&bill), sha1_hex(&bill));
    let client = support::client(&server);
    let info = bill_info(&client, Some("GZIP"));
    let err = client
        .download_bill(&info, Compression::None, &mut Vec::new())
        .unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::DigestMismatch)
    );
    assert!(
        err.to_string().ends_with(
            "(the file is gzip-compressed: a bill requested with tar_type=GZIP is downloaded \
             with Compression::Gzip (or Compression::Auto))"
        ),
        "{err}"
    );
}

#[test]
fn a_corrupt_or_truncated_gzip_is_a_decode_error() {
    let bill = csv(3000);
    let packed = gzip(&bill);
    for file in [
        packed[..packed.len() / 2].to_vec(),
        b"not gzip at all".to_vec(),
    ] {
        let server = bill_server(file, sha1_hex(&bill));
        let client = support::client(&server);
        let info = bill_info(&client, Some("GZIP"));
        let err = client
            .download_bill(&info, Compression::Gzip, &mut Vec::new())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    }
}

#[test]
fn a_large_bill_is_streamed_not_buffered() {
    /// Counts and checks what arrives, keeping nothing.
    struct Counter {
        total: u64,
        largest_write: usize,
        hasher: openssl::hash::Hasher,
    }
    impl Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.total += buf.len() as u64;
            self.largest_write = self.largest_write.max(buf.len());
            self.hasher.update(buf).unwrap();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let bill = csv(300_000); // about 30 MB
    assert!(bill.len() > 25_000_000);
    let server = bill_server(gzip(&bill), sha1_hex(&bill));
    let client = support::client(&server);
    let info = bill_info(&client, Some("GZIP"));
    let mut counter = Counter {
        total: 0,
        largest_write: 0,
        hasher: openssl::hash::Hasher::new(openssl::hash::MessageDigest::sha1()).unwrap(),
    };
    client
        .download_bill(&info, Compression::Gzip, &mut counter)
        .unwrap();
    assert_eq!(counter.total, bill.len() as u64);
    assert_eq!(
        &counter.hasher.finish().unwrap()[..],
        &openssl::hash::hash(openssl::hash::MessageDigest::sha1(), &bill).unwrap()[..]
    );
    assert!(
        counter.largest_write < 1 << 20,
        "a write of {} bytes: the bill was buffered",
        counter.largest_write
    );
}

#[test]
fn a_download_url_elsewhere_is_refused_before_sending() {
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::client(&server);
    let info = BillDownload {
        download_url: "https://evil.example.com/v3/billdownload/file?token=x".into(),
        hash_type: "SHA1".into(),
        hash_value: "00".into(),
    };
    let err = client
        .download_bill(&info, Compression::None, &mut Vec::new())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.to_string().contains("https://evil.example.com"),
        "{err}"
    );
    let md5 = BillDownload {
        hash_type: "MD5".into(),
        ..info
    };
    assert!(
        client
            .download_bill(&md5, Compression::None, &mut Vec::new())
            .unwrap_err()
            .to_string()
            .contains("hash_type `MD5`")
    );
    assert!(server.requests().is_empty());
}

#[test]
fn an_error_answer_is_an_api_error() {
    let server = TestServer::start(|_| Answer::error(400, "INVALID_REQUEST", "token expired"));
    let client = support::client(&server);
    let info = BillDownload {
        download_url: format!("{}v3/billdownload/file?token=old", server.base_uri()),
        hash_type: "SHA1".into(),
        hash_value: "00".into(),
    };
    let err = client
        .download_bill(&info, Compression::None, &mut Vec::new())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.api().unwrap().code(), Some("INVALID_REQUEST"));
}

#[test]
fn a_failing_writer_is_an_io_error() {
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "disk full",
            ))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let bill = csv(10);
    let server = bill_server(bill.clone(), sha1_hex(&bill));
    let client = support::client(&server);
    let info = bill_info(&client, None);
    let err = client
        .download_bill(&info, Compression::None, &mut Full)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
}

#[test]
fn a_bill_file_appears_only_when_checked() {
    let dir = std::env::temp_dir().join(format!("wechatpay-bill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bill = csv(500);
    let good = bill_server(gzip(&bill), sha1_hex(&bill));
    let client = support::client(&good);
    let path = dir.join("tradebill.csv");
    let info = bill_info(&client, Some("GZIP"));
    client
        .download_bill_to_file(&info, Compression::Gzip, &path)
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bill);
    assert_eq!(leftovers(&dir), Vec::<String>::new());

    // Two downloads to the same path at once each write their own partial file.
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                client
                    .download_bill_to_file(&info, Compression::Gzip, &path)
                    .unwrap()
            });
        }
    });
    assert!(std::fs::read(&path).unwrap() == bill);
    assert_eq!(leftovers(&dir), Vec::<String>::new());

    let bad = bill_server(gzip(&bill), "00".repeat(20));
    let client = support::client(&bad);
    let path = dir.join("forged.csv");
    let info = bill_info(&client, Some("GZIP"));
    let err = client
        .download_bill_to_file(&info, Compression::Gzip, &path)
        .unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::DigestMismatch)
    );
    assert!(!path.exists());
    assert_eq!(leftovers(&dir), Vec::<String>::new());
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Overseas statements: signed over {"sha1":"<Wechatpay-Statement-Sha1>"}, streamed.

/// Serves `v3/global/statements` with `body`, announcing `sha1` (signed over unless `signed`
/// is false).
fn statement_server(body: Vec<u8>, sha1: Option<String>, signed: bool) -> TestServer {
    TestServer::start(move |_| {
        let mut reply = Answer::bytes(200, "text/csv", body.clone());
        if let Some(sha1) = &sha1 {
            reply = reply.header("Wechatpay-Statement-Sha1", sha1);
            if signed {
                reply = reply.sign_over(format!(r#"{{"sha1":"{sha1}"}}"#).into_bytes());
            }
        }
        reply
    })
}

fn statement_query() -> serde_json::Value {
    json!({ "query": { "date": "2024-06-01", "mchid": "1900012181" } })
}

#[test]
fn a_large_statement_is_streamed_past_the_response_size_limit() {
    let statement = csv(200_000); // about 20 MB
    let server = statement_server(statement.clone(), Some(sha1_hex(&statement)), true);
    let client = support::builder(&server)
        .max_response_size(1 << 20)
        .build()
        .unwrap();
    let mut out = Vec::new();
    let written = client
        .download_statement(statement_query(), &mut out)
        .unwrap();
    assert_eq!(written, statement.len() as u64);
    assert!(out == statement, "the statement arrived altered");
    let request = server.last();
    request.auth_ok();
    assert_eq!(
        request.target,
        "/v3/global/statements?date=2024-06-01&mchid=1900012181"
    );
    // The in-memory call checks the same way, and is bound by max_response_size.
    let err = client
        .chain("v3/global/statements")
        .get(statement_query())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
}

#[tokio::test]
async fn a_statement_streams_into_an_async_writer_and_a_file() {
    let statement = csv(1_000);
    let server = statement_server(statement.clone(), Some(sha1_hex(&statement)), true);
    let client = support::client(&server);
    let mut out = Vec::new();
    client
        .download_statement_async(statement_query(), &mut out)
        .await
        .unwrap();
    assert!(out == statement);

    let dir = std::env::temp_dir().join(format!("wechatpay-statement-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("statement.csv");
    let c = client.clone();
    let p = path.clone();
    tokio::task::spawn_blocking(move || c.download_statement_to_file(statement_query(), &p))
        .await
        .unwrap()
        .unwrap();
    assert!(std::fs::read(&path).unwrap() == statement);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_statement_that_fails_a_check_fails_closed() {
    let statement = csv(1_000);
    let sha1 = sha1_hex(&statement);
    let dir = std::env::temp_dir().join(format!("wechatpay-statement-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // A body that does not hash to the signed SHA-1: written, then refused; the file never
    // appears.
    let swapped = statement_server(b"forged".to_vec(), Some(sha1.clone()), true);
    let client = support::client(&swapped);
    let err = client
        .download_statement(statement_query(), &mut Vec::new())
        .unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::DigestMismatch)
    );
    let path = dir.join("forged.csv");
    let err = client
        .download_statement_to_file(statement_query(), &path)
        .unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::DigestMismatch)
    );
    assert!(!path.exists());
    assert_eq!(leftovers(&dir), Vec::<String>::new());

    // A SHA-1 the signature does not cover, or none: refused before a byte is written.
    let unsigned = statement_server(statement.clone(), Some(sha1), false);
    let mut out = Vec::new();
    let err = support::client(&unsigned)
        .download_statement(statement_query(), &mut out)
        .unwrap_err();
    assert!(
        matches!(
            err.verification(),
            Some(VerificationFailure::BadSignature { .. })
        ),
        "{err}"
    );
    assert!(out.is_empty());
    let bare = statement_server(statement, None, true);
    let err = support::client(&bare)
        .download_statement(statement_query(), &mut out)
        .unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::MissingHeader(
            "Wechatpay-Statement-Sha1"
        ))
    );
    assert!(out.is_empty());
    // A header that is no SHA-1, even one the signature covers: refused before a byte is written.
    let quoted = statement_server(
        b"x".to_vec(),
        Some(r#"0000000000000000000000000000000000000","x":""#.to_owned()),
        true,
    );
    let err = support::client(&quoted)
        .download_statement(statement_query(), &mut out)
        .unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::InvalidHeader {
            name: "Wechatpay-Statement-Sha1",
            reason: "not a SHA-1 in hex (40 hex digits)"
        })
    );
    assert!(out.is_empty());

    // An error answer is an Api error naming WeChat's code.
    let refusing = TestServer::start(|_| {
        Answer::json(
            400,
            &json!({ "code": "PARAM_ERROR", "message": "date is invalid" }),
        )
    });
    let err = support::client(&refusing)
        .download_statement(statement_query(), &mut out)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.api().unwrap().code(), Some("PARAM_ERROR"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_gzip_bomb_stops_at_the_download_limit_and_leaves_no_file() {
    // 64 MiB of zeros: about 64 KiB of gzip, a thousandfold expansion.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 128 << 10, "{}", bomb.len());
    let server = bill_server(bomb, "0".repeat(40));
    let client = support::builder(&server)
        .max_download_size(1 << 20)
        .build()
        .unwrap();
    let bill = bill_info(&client, Some("GZIP"));

    // Into a writer: nothing past the limit is written, and the error names the setting.
    let mut out = Vec::new();
    let err = client
        .download_bill(&bill, Compression::Gzip, &mut out)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(err.to_string().contains("max_download_size"), "{err}");
    assert!(out.len() <= 1 << 20, "{} bytes written", out.len());

    // Into a file: none is left, finished or partial.
    let dir = std::env::temp_dir().join(format!("wechatpay-bomb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bill.csv");
    let err = client
        .download_bill_to_file(&bill, Compression::Auto, &path)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(!path.exists());
    assert_eq!(leftovers(&dir), Vec::<String>::new());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_plain_download_past_the_limit_stops_there_and_a_statement_too() {
    let bill = csv(20_000); // about 2 MB
    let server = bill_server(bill.clone(), sha1_hex(&bill));
    let client = support::builder(&server)
        .max_download_size(1 << 20)
        .build()
        .unwrap();
    let info = bill_info(&client, None);
    let mut out = Vec::new();
    let err = client
        .download_bill(&info, Compression::None, &mut out)
        .unwrap_err();
    assert!(err.to_string().contains("max_download_size"), "{err}");
    assert!(out.len() <= 1 << 20, "{} bytes written", out.len());
    // The limit itself is allowed.
    let exact = support::builder(&server)
        .max_download_size(bill.len() as u64)
        .build()
        .unwrap();
    let mut out = Vec::new();
    exact
        .download_bill(&info, Compression::None, &mut out)
        .unwrap();
    assert!(out == bill);

    let statements = statement_server(bill.clone(), Some(sha1_hex(&bill)), true);
    let client = support::builder(&statements)
        .max_download_size(1 << 20)
        .build()
        .unwrap();
    let err = client
        .download_statement(statement_query(), &mut Vec::new())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(err.to_string().contains("max_download_size"), "{err}");
}
