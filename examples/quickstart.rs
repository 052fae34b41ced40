//! The seed scenario end to end, offline, on the embedded sandbox: reply to a complaint (WeChat
//! Pay answers 204) in the four chain styles, blocking and async, then a Native prepay and a
//! query of that order.
//!
//! The sandbox (the `wechatpay-sandbox` crate of this workspace) checks every request's
//! signature with its own code and signs its answers; the client verifies them.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

use serde_json::json;
use wechatpay::chain;
use wechatpay_sandbox::{LoggedRequest, Sandbox};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Two sandboxes: one plays the production host, one the Hong Kong host the request's
    // `base_uri` option points at, as in the PHP example. They share one merchant identity.
    let production = Sandbox::start()?;
    let apihk = Sandbox::start()?;
    // The sandbox listens on plain http: `client()` is built with `.allow_insecure_http(true)`,
    // which a client for WeChat Pay itself never needs.
    let client = production.client();
    let mchid = production.identity().mchid.clone();

    let opts = json!({
        "base_uri": apihk.base_uri(),
        "complaint_id": "200201820200101080076610000",
        "json": {
            "complainted_mchid": mchid,
            "response_content": "已与用户沟通解决",
            "response_images": ["file23578_21798531.jpg"],
            "jump_url": "https://www.xxx.com/notify",
            "jump_url_text": "查看订单详情",
        },
    });

    // The four styles, each blocking (`post`) and async (`post_async`).
    let runtime = tokio::runtime::Runtime::new()?;
    let styles: [(&str, &wechatpay::Endpoint); 4] = [
        (
            "client.chain(..)",
            &client.chain("v3/global/merchant-service/complaints/{complaint_id}/response"),
        ),
        (
            "client[path]",
            &client["v3/global/merchant-service/complaints/{complaint_id}/response"],
        ),
        (
            "client[..][..]",
            &client["v3"]["global"]["merchantService"]["complaints"]["_complaint_id_"]["response"],
        ),
        (
            "chain!(..)",
            chain!(
                client
                    .v3
                    .global
                    .merchantService
                    .complaints
                    ._complaint_id_
                    .response
            ),
        ),
    ];
    for (style, endpoint) in styles {
        let response = endpoint.post(opts.clone())?;
        show(&format!("{style}.post"), &response, &apihk);
        let response = runtime.block_on(endpoint.post_async(opts.clone()))?;
        show(&format!("{style}.post_async"), &response, &apihk);
    }
    assert!(
        production.requests().is_empty(),
        "the base_uri option routes to apihk"
    );
    print_last(&apihk.requests().pop().ok_or("apihk received nothing")?);

    // A Native prepay, then a query of the order, on the production sandbox.
    let prepay = client["v3/pay/transactions/native"].post(json!({
        "json": {
            "appid": "wxd678efh567hg6787",
            "mchid": mchid,
            "description": "Image形象店-深圳腾大-QQ公仔",
            "out_trade_no": "1217752501201407033233368018",
            "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
            "amount": { "total": 100, "currency": "CNY" },
        },
    }))?;
    #[derive(serde::Deserialize)]
    struct Native {
        code_url: String,
    }
    let native: Native = prepay.json()?;
    println!(
        "\nNative prepay   -> {}, code_url {}",
        prepay.status(),
        native.code_url
    );

    #[derive(serde::Deserialize)]
    struct Order {
        out_trade_no: String,
        trade_state: String,
        trade_state_desc: String,
    }
    let order: Order = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({
            "out_trade_no": "1217752501201407033233368018",
            "query": { "mchid": mchid },
        }))?
        .json()?;
    println!(
        "Query the order -> {} is {} ({})",
        order.out_trade_no, order.trade_state, order.trade_state_desc
    );
    assert!(production.requests().iter().all(|r| r.verdict.is_ok()));
    println!(
        "\nEvery request signed by us and verified by the sandbox; every answer signed by the \
         sandbox and verified by us."
    );
    Ok(())
}

fn show(style: &str, response: &wechatpay::Response, sandbox: &Sandbox) {
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
    let last = sandbox.requests().pop();
    assert!(last.is_some_and(|r| r.verdict.is_ok()));
}

/// The last request as the sandbox received it, and the message its signature covers.
fn print_last(sent: &LoggedRequest) {
    println!("\nThe last request as the sandbox received it:");
    println!("  {} {}", sent.method, sent.target);
    let authorization = sent.header("authorization").unwrap_or_default();
    let field = |name: &str| {
        authorization
            .split(&format!("{name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_owned()
    };
    // Shortened: signatures are not for printing whole.
    let shown = authorization
        .find("signature=\"")
        .map_or(authorization.len(), |i| i + 19);
    println!("  Authorization: {}...", &authorization[..shown]);
    let message = wechatpay_sandbox::request_message(
        &sent.method,
        &sent.target,
        &field("timestamp"),
        &field("nonce_str"),
        &sent.body,
    );
    println!("  signed message (verified by the sandbox with the merchant certificate's key):");
    for line in String::from_utf8_lossy(&message).split_inclusive('\n') {
        println!("    {line:?}");
    }
}
