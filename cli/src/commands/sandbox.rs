//! `wxpay sandbox`: the offline sandbox in the foreground, and the profile to use with it, until
//! Ctrl-C or SIGTERM.

use wechatpay_sandbox::Sandbox;

use crate::args::SandboxArgs;
use crate::fail::{Fail, usage};

pub fn run(args: SandboxArgs) -> Result<(), Fail> {
    let mut builder = Sandbox::builder();
    if let Some(dir) = &args.keys {
        builder = builder.keys_dir(dir);
    }
    if let Some(port) = args.port {
        builder = builder.port(port);
    }
    let sandbox = builder
        .start()
        .map_err(|e| usage(format!("cannot start the sandbox: {e}")))?;
    let dir = args.keys.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("wxpay-sandbox-{}", std::process::id()))
    });
    let profile = sandbox.write_profile(&dir).map_err(|e| {
        usage(format!(
            "cannot write the profile files to `{}`: {e}",
            dir.display()
        ))
    })?;
    let config = dir.join("wxpay.toml");
    std::fs::write(&config, &profile)
        .map_err(|e| usage(format!("cannot write `{}`: {e}", config.display())))?;
    // Printed with errors ignored: a closed stdout (a reader that went away) must not stop
    // the sandbox.
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "# WeChat Pay sandbox on {} (Ctrl-C to stop)",
        sandbox.base_uri()
    );
    let _ = writeln!(out, "# In another terminal:");
    let _ = writeln!(
        out,
        "#   wxpay --config {} --profile sandbox req POST v3.pay.transactions.native -d '{{...}}'",
        config.display()
    );
    let _ = writeln!(out, "{profile}");
    let _ = out.flush();
    let stopped = until_stopped();
    // The keys of a directory made for this run only are not left behind.
    if args.keys.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    drop(sandbox);
    stopped
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM.
fn until_stopped() -> Result<(), Fail> {
    let cannot = |e: std::io::Error| usage(format!("cannot wait for Ctrl-C: {e}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(cannot)?;
    runtime
        .block_on(async {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                let mut terminate = signal(SignalKind::terminate())?;
                tokio::select! {
                    stopped = tokio::signal::ctrl_c() => stopped,
                    _ = terminate.recv() => Ok(()),
                }
            }
            #[cfg(not(unix))]
            tokio::signal::ctrl_c().await
        })
        .map_err(cannot)
}
