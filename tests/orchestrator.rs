//! What every kind of request gains from the one orchestrator, and what the blocking bridge
//! allows: bill downloads take the client's failover like any call; a streamed statement meets
//! the key ring's unknown-serial hook like any answer; a blocking call works
//! wherever its thread may block, borrows what its caller owns, and the client's runtime thread
//! ends with the client. Against the sandbox, which checks every signature with its own code.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use wechatpay::bill::{BillDownload, Compression};
use wechatpay::{Client, ClientBuilder};
use wechatpay_sandbox::{Answer, Sandbox, SignMode};

/// The sandbox's merchant, as a builder (the base URI left to the test).
fn merchant(sandbox: &Sandbox) -> ClientBuilder {
    let id = sandbox.identity();
    Client::builder()
        .mchid(&id.mchid)
        .serial(&id.merchant_serial)
        .private_key(&id.merchant_private_key_pem)
        .platform_key(&id.public_key_id, &id.public_key_pem)
        .platform_key(&id.platform_serial, &id.platform_certificate_pem)
}

/// A base URI on which nothing listens: connections are refused at once.
fn dead_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/")
}

/// A paid order, so that today's bill holds it; returns today's date (the order's).
fn paid_order(sandbox: &Sandbox, client: &Client, out_trade_no: &str) -> String {
    let mchid = &sandbox.identity().mchid;
    client["v3/pay/transactions/native"]
        .post(json!({ "json": {
            "appid": "wx1", "mchid": mchid, "description": "orchestrator", "out_trade_no": out_trade_no,
            "notify_url": "https://example.com/n", "amount": { "total": 321 },
        }}))
        .unwrap();
    sandbox.pay(out_trade_no).unwrap();
    let order: Value = client["v3/pay/transactions/out-trade-no/{no}{?mchid}"]
        .get(json!({ "no": out_trade_no, "mchid": mchid }))
        .unwrap()
        .json()
        .unwrap();
    order["success_time"].as_str().unwrap()[..10].to_owned()
}

#[test]
fn a_bill_download_fails_over_to_the_backup_host() {
    let sandbox = Sandbox::start().unwrap();
    let primary = dead_base();
    let client = merchant(&sandbox)
        .base_uri(&primary)
        .allow_insecure_http(true)
        .backup_base_uri(sandbox.base_uri())
        // Every request probes the primary again: the download itself meets the dead host.
        .failover_cooldown(Duration::ZERO)
        .build()
        .unwrap();
    let date = paid_order(&sandbox, &client, "ORCH-BILL-1");
    let mut bill: BillDownload = client["v3/bill/tradebill{?bill_date}"]
        .get(json!({ "bill_date": date }))
        .unwrap()
        .json()
        .unwrap();
    // In production the download URL names the primary host, as here.
    assert!(bill.download_url.starts_with(sandbox.base_uri()));
    bill.download_url = bill.download_url.replacen(sandbox.base_uri(), &primary, 1);

    let mut csv = Vec::new();
    let written = client
        .download_bill(&bill, Compression::None, &mut csv)
        .unwrap();
    assert_eq!(written, csv.len() as u64);
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.contains("`ORCH-BILL-1,"), "{csv}");
    let download = sandbox.requests().pop().unwrap();
    assert_eq!(download.path(), "/v3/billdownload/file");
    assert_eq!(download.verdict, Ok(()));
    assert!(
        download
            .header("user-agent")
            .unwrap()
            .ends_with(" failover"),
        "{:?}",
        download.header("user-agent")
    );
    // The async download too.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut out = Vec::new();
    rt.block_on(client.download_bill_async(&bill, Compression::Auto, &mut out))
        .unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), csv);
}

#[test]
fn a_streamed_statement_from_a_new_certificate_refreshes_the_ring_and_verifies() {
    // WeChat Pay switched to a new platform certificate: the statement's signature (over its
    // SHA-1 header, checked before the body is read) names a serial the ring lacks. The ring's
    // refresh policy downloads the list (signed with the certificate the client has), and the
    // same answer is checked again.
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_sign_mode(SignMode::Certificate);
    let body = b"date,amount\n2024-06-01,1.00\n".to_vec();
    let sha1 = wechatpay::crypto::hex_lower(&wechatpay::crypto::sha1(&body).unwrap());
    let document = format!(r#"{{"sha1":"{sha1}"}}"#);
    let (script_body, script_sha1) = (body.clone(), sha1.clone());
    sandbox.script(move |request| {
        (request.path() == "/v3/global/statements").then(|| {
            Answer::bytes(200, "text/csv", script_body.clone())
                .sign_over(document.clone())
                .header("Wechatpay-Statement-Sha1", &script_sha1)
        })
    });
    let id = sandbox.identity();
    let client = Client::builder()
        .mchid(&id.mchid)
        .serial(&id.merchant_serial)
        .private_key(&id.merchant_private_key_pem)
        .platform_key(&id.platform_serial, &id.platform_certificate_pem)
        .auto_certificates(&id.apiv3_key)
        .base_uri(sandbox.base_uri())
        .allow_insecure_http(true)
        .build()
        .unwrap();
    // A fresh refresh: no lazy one will come before the statement.
    client.refresh_certificates().unwrap();
    let newest = sandbox
        .rotate_platform_certificate(Duration::from_secs(86_400))
        .unwrap();
    assert!(!client.key_ring().unwrap().contains(&newest));
    sandbox.clear_requests();
    let mut out = Vec::new();
    let written = client
        .download_statement(json!({ "query": { "date": "2024-06-01" } }), &mut out)
        .unwrap();
    assert_eq!((written, out), (body.len() as u64, body));
    assert!(client.key_ring().unwrap().contains(&newest));
    let paths: Vec<String> = sandbox
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(
        paths,
        ["/v3/global/statements", "/v3/certificates"],
        "one statement request, one download, and the same answer checked again"
    );
}

/// A writer that cannot leave its thread (`Rc`): the blocking download borrows it.
struct ThreadLocalWriter(Rc<RefCell<Vec<u8>>>);

impl Write for ThreadLocalWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_blocking_download_streams_into_a_writer_that_is_not_send() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let date = paid_order(&sandbox, &client, "ORCH-BILL-3");
    let bill: BillDownload = client["v3/bill/tradebill{?bill_date,tar_type}"]
        .get(json!({ "bill_date": date, "tar_type": "GZIP" }))
        .unwrap()
        .json()
        .unwrap();
    let shared = Rc::new(RefCell::new(Vec::new()));
    let mut writer = ThreadLocalWriter(shared.clone());
    client
        .download_bill(&bill, Compression::Gzip, &mut writer)
        .unwrap();
    let csv = String::from_utf8(shared.borrow().clone()).unwrap();
    assert!(csv.contains("`ORCH-BILL-3,"), "{csv}");
}

#[test]
fn a_blocking_call_inside_unconstrained_on_a_current_thread_runtime_completes() {
    // Before the client had a runtime thread of its own, Tokio panicked here ("Cannot start a
    // runtime from within a runtime"): the budget check cannot see an unconstrained task, and
    // the call drove a runtime of its own on this thread.
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(tokio::task::unconstrained(async {
        client
            .chain("v3/pay/transactions/out-trade-no/{no}{?mchid}")
            .get(json!({ "no": "NONE", "mchid": sandbox.identity().mchid }))
            .unwrap_err()
            .status()
    }));
    assert_eq!(status, Some(wechatpay::StatusCode::NOT_FOUND));
}

/// The threads of this process named `wechatpay-blocking` (Linux shows 15 characters).
#[cfg(target_os = "linux")]
fn blocking_threads() -> Vec<String> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let task = task.unwrap().path();
        if let Ok(name) = std::fs::read_to_string(task.join("comm")) {
            if name.trim_end() == "wechatpay-block" {
                found.push(task.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    found
}

#[cfg(target_os = "linux")]
#[test]
fn the_runtime_thread_starts_with_the_first_blocking_call_and_ends_with_the_client() {
    // The other tests of this binary start clients too: this one looks at its own thread only,
    // one test at a time.
    static ALONE: Mutex<()> = Mutex::new(());
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let sandbox = Sandbox::start().unwrap();
    let client = merchant(&sandbox)
        .base_uri(sandbox.base_uri())
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let before = blocking_threads();
    // The async verbs need no thread of the client's.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(client.chain("v3/certificates").get_async(()))
        .unwrap();
    let new = |now: Vec<String>| -> Vec<String> {
        now.into_iter().filter(|t| !before.contains(t)).collect()
    };
    assert_eq!(new(blocking_threads()), Vec::<String>::new());
    client.chain("v3/certificates").get(()).unwrap();
    client.chain("v3/certificates").get(()).unwrap();
    let ours = new(blocking_threads());
    assert_eq!(
        ours.len(),
        1,
        "one thread for the client, whatever the calls"
    );
    // An endpoint keeps the client's context (and its thread) alive; dropping both ends it.
    let endpoint = client.chain("v3/certificates");
    drop(client);
    endpoint.get(()).unwrap();
    drop(endpoint);
    let mut gone = false;
    for _ in 0..100 {
        if !blocking_threads().contains(&ours[0]) {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(gone, "the client's runtime thread outlived it");
    drop(rt);
}
