//! The benchmark's server: a sandbox on 127.0.0.1 (`support::BenchServer`) answering the
//! clients' GET with a static 200 answer, signed for each answer; every request's signature is checked by
//! the sandbox and then by the test suite's own code (`support::verify_request`), and counted.

use std::io::Read;
use std::path::Path;

use serde_json::{Value, json};

use crate::{TARGET, support};

/// A 200-byte query-order answer.
fn body() -> Vec<u8> {
    let mut body = json!({
        "appid": "wxd678efh567hg6787",
        "mchid": support::mchid(),
        "out_trade_no": "1217752501201407033233368018",
        "transaction_id": "4200000001",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "pad": "",
    });
    let len = serde_json::to_vec(&body).expect("json").len();
    body["pad"] = Value::String("x".repeat(200 - len));
    serde_json::to_vec(&body).expect("json")
}

/// Writes the identity into `dir`, serves until stdin closes, then reports.
pub fn serve(dir: &Path) -> Result<(), String> {
    let keys = support::keys();
    let server = support::BenchServer::start(TARGET, body())?;

    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))
    };
    write("merchant_key.pem", &keys.merchant_key_pkcs8_pem)?;
    write("platform_cert.pem", &keys.platform_cert_pem)?;
    let identity = json!({
        "base_uri": server.base_uri(),
        "mchid": support::mchid(),
        "merchant_serial": keys.merchant_serial,
        "platform_serial": keys.platform_serial,
    });
    // Written last, through a rename: its presence means the server is ready.
    write("identity.json.tmp", &identity.to_string())?;
    std::fs::rename(dir.join("identity.json.tmp"), dir.join("identity.json"))
        .map_err(|e| e.to_string())?;

    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    let counters = server.counters();
    eprintln!(
        "server: {} requests over {} connections, {} with a valid signature",
        counters.requests,
        counters.connections,
        server.passed()
    );
    server.check().map(drop)
}
