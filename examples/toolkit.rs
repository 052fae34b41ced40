//! The merchant toolkit, offline: encrypt sensitive fields, upload an image, download and check
//! a gzip bill, and sign mini-program pay parameters, against a WeChat Pay stand-in on
//! 127.0.0.1: the sandbox (`wechatpay-sandbox`), which checks every signature with its own code,
//! answering from a script (tests/support).
//!
//! ```sh
//! cargo run --example toolkit
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Write;

use serde_json::{Value, json};
use support::multipart_parts;
use support::scripted::TestServer;
use wechatpay::bill::{BillDownload, Compression};
use wechatpay::{Media, Options};
use wechatpay_sandbox::Answer;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bill_csv =
        "交易时间,商户订单号,订单金额\n`2024-06-01 10:00:00,`ORDER1,`1.00\n".repeat(1000);
    let stand_in = stand_in(bill_csv.clone().into_bytes());
    let client = support::client(&stand_in);

    // 1. Sensitive fields: OAEP-encrypted under the preferred platform key before signing.
    client.chain("v3/applyment4sub/applyment/").post(json!({
        "json": { "business_code": "1900013511_10000",
                  "contact_info": { "contact_name": "张三", "contact_id_number": "110101199003071234" } },
        "encrypt": ["/contact_info/contact_name", "/contact_info/contact_id_number"],
    }))?;
    let sent = stand_in.last();
    println!(
        "1. encrypted fields sent (Wechatpay-Serial {}): contact_name = {}...",
        sent.header("wechatpay-serial").unwrap_or("-"),
        &sent.body_json()["contact_info"]["contact_name"]
            .as_str()
            .unwrap_or("")[..24]
    );

    // 2. Media upload: multipart, signed over the meta part.
    let media = Media::new("qrcode.png", b"\x89PNG\r\n\x1a\n(image bytes)".to_vec())?;
    let uploaded: Value = client
        .chain("v3/merchant/media/upload")
        .post(Options::new().multipart(media))?
        .json()?;
    println!("2. uploaded: media_id {}", uploaded["media_id"]);

    // 3. Bill: the signed answer names the file and its SHA-1; the file is streamed, gunzipped
    //    and checked.
    let bill: BillDownload = client
        .chain("v3/bill/tradebill{?bill_date,tar_type}")
        .get(json!({ "bill_date": "2024-06-01", "tar_type": "GZIP" }))?
        .json()?;
    let mut out = Vec::new();
    let written = client.download_bill(&bill, Compression::Gzip, &mut out)?;
    assert_eq!(out, bill_csv.as_bytes());
    println!(
        "3. bill: {written} bytes, SHA-1 {} checked",
        bill.hash_value
    );

    // 4. Pay parameters for wx.requestPayment.
    let params =
        client.jsapi_pay_params("wx8888888888888888", "wx201410272009395522657a690389285100")?;
    println!("4. pay parameters: {}", serde_json::to_string(&params)?);
    Ok(())
}

/// A sandbox scripted to answer the four endpoints the example calls.
fn stand_in(bill: Vec<u8>) -> TestServer {
    let sha1: String = openssl::hash::hash(openssl::hash::MessageDigest::sha1(), &bill)
        .expect("sha1")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bill).expect("gzip");
    let packed = gz.finish().expect("gzip");
    TestServer::start(move |r| match r.path() {
        "/v3/merchant/media/upload" => {
            let parts = multipart_parts(r.header("content-type").unwrap_or(""), &r.body);
            let ok = parts.is_ok_and(|p| p.len() == 2);
            Answer::json(
                200,
                &json!({ "media_id": if ok { "H1ihR9JUtVj-J7CJqBUY5ZOrG_Je75H-rKhQbrl6" } else { "?" } }),
            )
        }
        "/v3/bill/tradebill" => Answer::json(
            200,
            &json!({
                "download_url": format!("http://{}/v3/billdownload/file?token=xyz", r.header("host").unwrap_or("")),
                "hash_type": "SHA1",
                "hash_value": sha1,
            }),
        ),
        "/v3/billdownload/file" => {
            Answer::bytes(200, "application/octet-stream", packed.clone()).unsigned()
        }
        _ => Answer::json(200, &json!({ "applyment_id": 2000002124775691u64 })),
    })
}
