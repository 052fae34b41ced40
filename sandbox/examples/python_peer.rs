//! The Python SDK wechatpayv3 (PyPI, 2.0.4), unchanged, against the sandbox: a complaint
//! reply, the platform certificates, a Native order paid with its callback verified and
//! decrypted by the SDK, a refund and an image upload (`sandbox/python/peer.py`).
//!
//! ```sh
//! cargo run -p wechatpay-sandbox --example python_peer
//! ```
//!
//! Needs `python3` with its `venv` module (Debian: `apt-get install python3-venv`). The first
//! run makes a virtual environment in `sandbox/python/.venv` and installs
//! `sandbox/python/requirements.txt` there (pinned, hash-checked; from PyPI), again whenever
//! that file changes. Without Python it says so and exits successfully (unless
//! `SANDBOX_PEERS_REQUIRED` is set, as in CI: then it fails).

mod peer;

use std::path::Path;
use std::process::Command;

use wechatpay_sandbox::Sandbox;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if !peer::found("python3") {
        return peer::skip("python_peer", "python3 is not installed");
    }
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("python");
    let venv = project.join(".venv");
    let (bin, exe) = if cfg!(windows) {
        (venv.join("Scripts"), ".exe")
    } else {
        (venv.join("bin"), "")
    };
    let python = bin.join(format!("python{exe}"));
    if !bin.join(format!("pip{exe}")).exists() {
        // Without ensurepip (Debian's python3 without python3-venv) this fails and leaves a
        // venv without pip behind.
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .output()?;
        if !made.status.success() {
            let _ = std::fs::remove_dir_all(&venv);
            let why = format!(
                "`python3 -m venv` does not work here (Debian and Ubuntu: apt-get install \
                 python3-venv): {}",
                String::from_utf8_lossy(&made.stderr).trim()
            );
            return peer::skip("python_peer", &why);
        }
    }
    let requirements = std::fs::read(project.join("requirements.txt"))?;
    let stamp = venv.join("installed-requirements.txt");
    if std::fs::read(&stamp).ok().as_ref() != Some(&requirements) {
        let mut pip = Command::new(&python);
        pip.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--require-hashes", "--no-deps", "-r", "requirements.txt"])
        .current_dir(&project);
        peer::setup(pip, "pip install -r sandbox/python/requirements.txt")?;
        std::fs::write(&stamp, &requirements)?;
    }

    let sandbox = Sandbox::start()?;
    let mut script = Command::new(&python);
    script.args(["-u", "peer.py"]).current_dir(&project);
    peer::run(&sandbox, "python_peer", "wechatpayv3", script)
}
