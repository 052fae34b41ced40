//! The seed scenario end to end, offline: reply to a complaint (WeChat Pay answers 204) in the
//! four styles, blocking and async, against a WeChat Pay stand-in on 127.0.0.1.
//!
//! The stand-in (tests/support) checks every request's signature with its own code and signs
//! its answers with a platform certificate generated at start; the client verifies them.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use serde_json::json;
use support::{Reply, TestServer};
use wechatpay::{Client, chain};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Two local servers: one plays the production host, one the Hong Kong host the request's
    // `base_uri` option points at, as in the PHP example.
    let production = TestServer::start(|_| Reply::error(500, "WRONG_HOST", "expected apihk"));
    let apihk = TestServer::start(|_| Reply::no_content());
    let keys = support::keys();

    let client = Client::builder()
        .mchid(support::MCHID)
        .serial(&keys.merchant_serial)
        .private_key(&keys.merchant_key_pkcs8_pem)
        .platform_key(&keys.platform_serial, &keys.platform_cert_pem)
        .platform_key(&keys.pubkey_id, &keys.pubkey_spki_pem)
        .base_uri(production.base_uri())
        .build()?;

    let opts = json!({
        "base_uri": apihk.base_uri(),
        "complaint_id": "200201820200101080076610000",
        "json": {
            "complainted_mchid": "1900012181",
            "response_content": "已与用户沟通解决",
            "response_images": ["file23578_21798531.jpg"],
            "jump_url": "https://www.xxx.com/notify",
            "jump_url_text": "查看订单详情",
        },
    });

    // 1. chain(), blocking
    let response = client
        .chain("v3/global/merchant-service/complaints/{complaint_id}/response")
        .post(opts.clone())?;
    show("chain(..).post", &response, &apihk);

    // 2. index with the whole path, blocking
    let response = client["v3/global/merchant-service/complaints/{complaint_id}/response"]
        .post(opts.clone())?;
    show("client[path].post", &response, &apihk);

    // 3 and 4: segment pushes and the macro, async
    let runtime = tokio::runtime::Runtime::new()?;
    let response = runtime.block_on(
        client["v3"]["global"]["merchantService"]["complaints"]["_complaint_id_"]["response"]
            .post_async(opts.clone()),
    )?;
    show("client[..][..].post_async", &response, &apihk);
    let response = runtime.block_on(
        chain!(
            client
                .v3
                .global
                .merchantService
                .complaints
                ._complaint_id_
                .response
        )
        .post_async(opts),
    )?;
    show("chain!(..).post_async", &response, &apihk);

    let sent = apihk.last();
    let auth = sent.auth_ok();
    println!("\nThe last request as the stand-in received it:");
    println!("  {} {}", sent.method, sent.target);
    let authorization = sent.header("authorization").unwrap_or_default();
    // Shortened: signatures are not for printing whole.
    let shown = authorization
        .find("signature=\"")
        .map_or(authorization.len(), |i| i + 19);
    println!("  Authorization: {}...", &authorization[..shown]);
    println!("  signed message (verified by the stand-in with the merchant public key):");
    for line in String::from_utf8_lossy(&auth.message).split_inclusive('\n') {
        println!("    {:?}", line);
    }
    assert!(
        production.requests().is_empty(),
        "base_uri option routes to apihk"
    );
    println!(
        "\nAll four styles: 204, signed by us, verified by the stand-in; answers verified by us."
    );
    Ok(())
}

fn show(style: &str, response: &wechatpay::Response, server: &TestServer) {
    let serial = response
        .headers()
        .get("Wechatpay-Serial")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    println!(
        "{style:<28} -> {} {}, signature verified: {} (Wechatpay-Serial {serial}), Request-ID {}",
        response.status().as_u16(),
        response.status().canonical_reason().unwrap_or(""),
        response.signature_verified(),
        response.request_id().unwrap_or("-"),
    );
    assert!(server.last().auth.is_ok());
}
