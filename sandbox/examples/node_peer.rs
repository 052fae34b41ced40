//! The Node reference SDK, wechatpay-axios-plugin, unchanged, against the sandbox: proof that
//! the sandbox speaks WeChat Pay, not just our client's dialect (`sandbox/node/peer.cjs`).
//!
//! ```sh
//! cargo run -p wechatpay-sandbox --example node_peer
//! ```
//!
//! Needs `node` and `npm` (it runs `npm install` in `sandbox/node` when the package is not
//! there yet); without them it says so and exits successfully (unless
//! `SANDBOX_PEERS_REQUIRED` is set: then it fails).

mod peer;

use std::path::Path;
use std::process::Command;

use wechatpay_sandbox::Sandbox;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if !peer::found("node") || !peer::found("npm") {
        return peer::skip("node_peer", "node and npm are not installed");
    }
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("node");
    if !project.join("node_modules/wechatpay-axios-plugin").exists() {
        let mut npm = Command::new("npm");
        npm.args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&project);
        peer::setup(npm, "npm install in sandbox/node")?;
    }

    let sandbox = Sandbox::start()?;
    let mut script = Command::new("node");
    script.arg("peer.cjs").current_dir(&project);
    peer::run(&sandbox, "node_peer", "wechatpay-axios-plugin", script)
}
