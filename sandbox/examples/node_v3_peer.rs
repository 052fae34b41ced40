//! The Node SDK wechatpay-node-v3 (npm, 2.2.1), unchanged, against the sandbox: a complaint
//! reply, the platform certificates, a Native order paid with its callback verified and
//! decrypted by the SDK, a refund and an image upload (`sandbox/node-v3/peer.cjs`).
//!
//! ```sh
//! cargo run -p wechatpay-sandbox --example node_v3_peer
//! ```
//!
//! Needs `node` and `npm` (it runs `npm ci` in `sandbox/node-v3` when the package is not there
//! yet); without them it says so and exits successfully (unless `SANDBOX_PEERS_REQUIRED` is
//! set, as in CI: then it fails).

mod peer;

use std::path::Path;
use std::process::Command;

use wechatpay_sandbox::{Sandbox, SignMode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if !peer::found("node") || !peer::found("npm") {
        return peer::skip("node_v3_peer", "node and npm are not installed");
    }
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("node-v3");
    if !project.join("node_modules/wechatpay-node-v3").exists() {
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&project);
        peer::setup(npm, "npm ci in sandbox/node-v3")?;
    }

    let sandbox = Sandbox::start()?;
    // wechatpay-node-v3 knows platform certificates only: `verifySign` looks the answer's
    // `Wechatpay-Serial` up among the certificates it downloaded, and has no WeChat Pay public
    // key. So the sandbox plays a merchant that has platform certificates.
    sandbox.set_sign_mode(SignMode::Certificate);
    let mut script = Command::new("node");
    script.arg("peer.cjs").current_dir(&project);
    peer::run(&sandbox, "node_v3_peer", "wechatpay-node-v3", script)
}
