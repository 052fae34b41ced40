//! Trade bills through the real client: the signed hash, then the unsigned (gzip) file,
//! checked by the client's `download_bill`.

use std::io::Read;

use serde_json::{Value, json};
use wechatpay::bill::{BillDownload, Compression};
use wechatpay_sandbox::Sandbox;

fn today(sandbox: &Sandbox) -> String {
    // A paid order makes today's bill non-empty; its success_time gives today's date.
    let client = sandbox.client();
    let mchid = &sandbox.identity().mchid;
    client["v3/pay/transactions/native"]
        .post(json!({ "json": {
            "appid": "wx1", "mchid": mchid, "description": "bill, with a comma", "out_trade_no": "BILL-1",
            "notify_url": "https://example.com/n", "amount": { "total": 123 },
        }}))
        .unwrap();
    sandbox.pay("BILL-1").unwrap();
    let order: Value = client["v3/pay/transactions/out-trade-no/{no}{?mchid}"]
        .get(json!({ "no": "BILL-1", "mchid": mchid }))
        .unwrap()
        .json()
        .unwrap();
    order["success_time"].as_str().unwrap()[..10].to_owned()
}

#[test]
fn gzip_and_plain_bills() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let date = today(&sandbox);

    let bill: BillDownload = client["v3/bill/tradebill{?bill_date,bill_type,tar_type}"]
        .get(json!({ "bill_date": date, "bill_type": "ALL", "tar_type": "GZIP" }))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(bill.hash_type, "SHA1");
    assert!(bill.download_url.starts_with(&format!(
        "{}v3/billdownload/file?token=",
        sandbox.base_uri()
    )));
    let mut csv = Vec::new();
    client
        .download_bill(&bill, Compression::Gzip, &mut csv)
        .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("交易时间,公众账号ID,商户号"), "{csv}");
    assert!(csv.contains("`BILL-1,"), "{csv}");
    assert!(csv.contains("`1.23,"), "{csv}");

    // The raw download is gzip and unsigned.
    let token = bill.download_url.split_once("token=").unwrap().1;
    let raw = client["v3/billdownload/file{?token}"]
        .get(json!({ "token": token }))
        .unwrap();
    assert!(!raw.signature_verified());
    assert!(
        raw.headers()
            .keys()
            .all(|k| !k.as_str().starts_with("wechatpay-"))
    );
    let mut gunzipped = String::new();
    flate2::read::GzDecoder::new(&raw.bytes()[..])
        .read_to_string(&mut gunzipped)
        .unwrap();
    assert_eq!(gunzipped, csv);

    // Without tar_type: plain text, same content.
    let plain: BillDownload = client["v3/bill/tradebill{?bill_date}"]
        .get(json!({ "bill_date": date }))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(plain.hash_value, bill.hash_value);
    let mut again = Vec::new();
    client
        .download_bill(&plain, Compression::None, &mut again)
        .unwrap();
    assert_eq!(again, csv.as_bytes());
}

#[test]
fn bad_bill_requests() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let message = |query: Value| {
        client["v3/bill/tradebill{?bill_date,tar_type}"]
            .get(query)
            .unwrap_err()
            .api()
            .unwrap()
            .message()
            .unwrap()
            .to_owned()
    };
    let missing = client["v3/bill/tradebill{?bill_date,tar_type}"]
        .get(json!({}))
        .unwrap_err();
    let api = missing.api().unwrap();
    assert_eq!(
        (api.status().as_u16(), api.code()),
        (400, Some("PARAM_ERROR"))
    );
    let detail = api.detail().unwrap();
    assert_eq!(
        (&detail["field"], &detail["location"]),
        (&json!("bill_date"), &json!("query"))
    );
    assert!(
        api.message().unwrap().contains("/query/bill_date"),
        "{missing}"
    );
    assert!(message(json!({ "bill_date": "2024-13-01" })).contains("YYYY-MM-DD"));
    assert!(message(json!({ "bill_date": "2024-06-01", "tar_type": "ZIP" })).contains("GZIP"));
    let error = client["v3/billdownload/file?token=nope"]
        .get(json!({}))
        .unwrap_err();
    assert_eq!(error.api().unwrap().status(), 404);
}

#[tokio::test]
async fn bill_async() {
    let sandbox = Sandbox::start_async().await.unwrap();
    let client = sandbox.client();
    let bill: BillDownload = client["v3/bill/tradebill{?bill_date,tar_type}"]
        .get_async(json!({ "bill_date": "2024-06-01", "tar_type": "GZIP" }))
        .await
        .unwrap()
        .json()
        .unwrap();
    let mut csv = Vec::new();
    client
        .download_bill_async(&bill, Compression::Gzip, &mut csv)
        .await
        .unwrap();
    assert!(String::from_utf8(csv).unwrap().contains("总交易单数"));
}

#[test]
fn huge_amounts_do_not_break_the_bill() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mchid = &sandbox.identity().mchid;
    client["v3/pay/transactions/native"]
        .post(json!({ "json": {
            "appid": "wx1", "mchid": mchid, "description": "x", "out_trade_no": "HUGE-1",
            "notify_url": "https://example.com/n", "amount": { "total": u64::MAX },
        }}))
        .unwrap();
    sandbox.pay("HUGE-1").unwrap();
    let order: Value = client["v3/pay/transactions/out-trade-no/{no}{?mchid}"]
        .get(json!({ "no": "HUGE-1", "mchid": mchid }))
        .unwrap()
        .json()
        .unwrap();
    let date = &order["success_time"].as_str().unwrap()[..10];
    let bill: BillDownload = client["v3/bill/tradebill{?bill_date}"]
        .get(json!({ "bill_date": date }))
        .unwrap()
        .json()
        .unwrap();
    let mut csv = Vec::new();
    client
        .download_bill(&bill, Compression::None, &mut csv)
        .unwrap();
}
