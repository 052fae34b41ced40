//! What the examples that run another language's SDK against the sandbox share: the identity
//! in the script's environment, its output relayed, and the payer's part played for it.
//!
//! The script prints `ok   <step>` or `FAIL <step>: <why>` per step and exits non-zero when a
//! step failed. To be paid, it prints `PAY <out_trade_no> <callback_url>` and reads one line:
//! the example marks the order paid (`Sandbox::pay`), sends the `TRANSACTION.SUCCESS` callback
//! to the URL (`Sandbox::notify`) and answers `PAID <the receiver's HTTP status>`, or
//! `PAID error <why>` when the callback could not be delivered.

use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use wechatpay_sandbox::{Event, Sandbox};

/// Says why the peer cannot run here and lets the example exit successfully, or fails when
/// `SANDBOX_PEERS_REQUIRED` is set (CI sets it: there a peer must run, not skip).
pub fn skip(peer: &str, why: &str) -> Result<(), Box<dyn Error>> {
    if std::env::var_os("SANDBOX_PEERS_REQUIRED").is_some_and(|v| !v.is_empty()) {
        return Err(format!("{peer} cannot run ({why}), and SANDBOX_PEERS_REQUIRED is set").into());
    }
    println!("{peer}: skipped: {why}");
    Ok(())
}

/// Whether `program --version` runs and succeeds.
pub fn found(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `command` and waits for it to succeed.
pub fn setup(mut command: Command, what: &str) -> Result<(), Box<dyn Error>> {
    let status = command
        .status()
        .map_err(|e| format!("{what} did not start: {e}"))?;
    if !status.success() {
        return Err(format!("{what} failed ({status})").into());
    }
    Ok(())
}

/// Runs the script `command` against `sandbox`: the identity in its environment (the files
/// of `Sandbox::write_profile` in a temporary directory), its standard output relayed, its
/// `PAY` lines answered. Fails when the script fails or when the sandbox refused one of its
/// requests (every refused request is listed with the sandbox's reason).
pub fn run(
    sandbox: &Sandbox,
    peer: &str,
    sdk: &str,
    mut command: Command,
) -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("wechatpay-{peer}-{}", std::process::id()));
    sandbox.write_profile(&dir)?;
    let result = drive(sandbox, peer, &dir, &mut command);
    let _ = std::fs::remove_dir_all(&dir);
    let status = result?;

    let requests = sandbox.requests();
    let refused: Vec<_> = requests.iter().filter(|r| r.verdict.is_err()).collect();
    for request in &refused {
        if let Err(reason) = &request.verdict {
            eprintln!(
                "{peer}: the sandbox refused {} {}: {reason}",
                request.method, request.target
            );
        }
    }
    if !status.success() {
        return Err(format!("{sdk} failed against the sandbox ({status})").into());
    }
    if !refused.is_empty() {
        return Err(format!("the sandbox refused {} of {sdk}'s requests", refused.len()).into());
    }
    println!(
        "{peer}: {sdk} made {} requests; the sandbox verified every one, and every step passed",
        requests.len()
    );
    Ok(())
}

fn drive(
    sandbox: &Sandbox,
    peer: &str,
    dir: &Path,
    command: &mut Command,
) -> Result<std::process::ExitStatus, Box<dyn Error>> {
    let id = sandbox.identity();
    let mut child = command
        .env("SANDBOX_BASE_URI", sandbox.base_uri())
        .env("SANDBOX_MCHID", &id.mchid)
        .env("SANDBOX_SERIAL", &id.merchant_serial)
        .env("SANDBOX_PRIVATE_KEY_FILE", dir.join("apiclient_key.pem"))
        .env("SANDBOX_MERCHANT_CERT_FILE", dir.join("apiclient_cert.pem"))
        .env("SANDBOX_PUBLIC_KEY_ID", &id.public_key_id)
        .env("SANDBOX_PUBLIC_KEY_FILE", dir.join("pub_key.pem"))
        .env("SANDBOX_PLATFORM_SERIAL", &id.platform_serial)
        .env(
            "SANDBOX_PLATFORM_CERT_FILE",
            dir.join(format!("wechatpay_{}.pem", id.platform_serial)),
        )
        .env("SANDBOX_APIV3_KEY", &id.apiv3_key)
        .env("SANDBOX_APIV2_SECRET", &id.apiv2_secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{peer}: the script did not start: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    for line in stdout.lines() {
        let line = line?;
        let Some(request) = line.strip_prefix("PAY ") else {
            println!("{line}");
            continue;
        };
        let answer = match request.split_once(' ') {
            Some((out_trade_no, url)) => {
                if sandbox.pay(out_trade_no).is_none() {
                    println!(
                        "{peer}: the sandbox has no order {out_trade_no:?}; the callback creates \
                         it"
                    );
                }
                match sandbox.notify(url, Event::payment(out_trade_no)) {
                    Ok(status) => status.to_string(),
                    Err(e) => format!("error {e}"),
                }
            }
            None => format!("error malformed line {line:?}"),
        };
        // The script may have died meanwhile: its exit status says so.
        let _ = writeln!(stdin, "PAID {answer}").and_then(|()| stdin.flush());
    }
    drop(stdin);
    Ok(child.wait()?)
}
