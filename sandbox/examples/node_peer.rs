//! The Node reference SDK, wechatpay-axios-plugin, unchanged, against the sandbox: proof that
//! the sandbox speaks WeChat Pay, not just our client's dialect.
//!
//! ```sh
//! cargo run -p wechatpay-sandbox --example node_peer
//! ```
//!
//! Needs `node` and `npm` (it runs `npm install` in `sandbox/node` when the package is not
//! there yet); without them it says so and exits successfully.

use std::path::Path;
use std::process::Command;

use wechatpay_sandbox::Sandbox;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let found = |program: &str| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !found("node") || !found("npm") {
        println!("node_peer: skipped: node and npm are not installed");
        return Ok(());
    }
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("node");
    if !project.join("node_modules/wechatpay-axios-plugin").exists() {
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&project)
            .status()?;
        if !status.success() {
            return Err("npm install failed".into());
        }
    }

    let sandbox = Sandbox::start()?;
    let dir = std::env::temp_dir().join(format!("wechatpay-node-peer-{}", std::process::id()));
    sandbox.write_profile(&dir)?;
    let id = sandbox.identity();
    let status = Command::new("node")
        .arg("peer.cjs")
        .current_dir(&project)
        .env("SANDBOX_BASE_URI", sandbox.base_uri())
        .env("SANDBOX_MCHID", &id.mchid)
        .env("SANDBOX_SERIAL", &id.merchant_serial)
        .env("SANDBOX_PRIVATE_KEY_FILE", dir.join("apiclient_key.pem"))
        .env("SANDBOX_PUBLIC_KEY_ID", &id.public_key_id)
        .env("SANDBOX_PUBLIC_KEY_FILE", dir.join("pub_key.pem"))
        .env("SANDBOX_PLATFORM_SERIAL", &id.platform_serial)
        .env(
            "SANDBOX_PLATFORM_CERT_FILE",
            dir.join(format!("wechatpay_{}.pem", id.platform_serial)),
        )
        .env("SANDBOX_APIV2_SECRET", &id.apiv2_secret)
        .status()?;
    let _ = std::fs::remove_dir_all(&dir);
    if !status.success() {
        return Err(format!("the Node SDK failed against the sandbox ({status})").into());
    }
    let requests = sandbox.requests();
    for request in &requests {
        if let Err(reason) = &request.verdict {
            return Err(format!("{} {}: {reason}", request.method, request.target).into());
        }
    }
    println!(
        "node_peer: wechatpay-axios-plugin made {} requests; the sandbox verified every one, and \
         the SDK verified every answer",
        requests.len()
    );
    Ok(())
}
