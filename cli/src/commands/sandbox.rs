//! `wxpay sandbox`: the offline sandbox in the foreground, and the profile to use with it, until
//! Ctrl-C or SIGTERM; `wxpay sandbox ACTION`: a running sandbox's control API
//! ([`sandbox_control`](super::sandbox_control)).

use wechatpay_sandbox::Sandbox;

use crate::args::{Global, SandboxArgs};
use crate::fail::{Fail, usage};

pub fn run(global: &Global, args: SandboxArgs) -> Result<(), Fail> {
    if let Some(action) = args.action {
        return super::sandbox_control::run(global, action);
    }
    let mut builder = Sandbox::builder();
    if let Some(delay) = args.auto_pay {
        builder = builder.auto_pay(delay);
    }
    if let Some(scale) = args.callback_time_scale {
        builder = builder.callback_time_scale(scale);
    }
    if let Some(dir) = &args.keys {
        builder = builder.keys_dir(dir);
    }
    if let Some(port) = args.port {
        builder = builder.port(port);
    }
    let sandbox = builder
        .start()
        .map_err(|e| usage(format!("cannot start the sandbox: {e}")))?;
    if let Some(mode) = args.sign_mode {
        sandbox.set_sign_mode(mode);
    }
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
    // Listening before the profile is printed: a reader may send the signal as soon as it
    // reads it, and a signal that came first would stop the process without clean-up.
    let stop = Stop::listen()?;
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
    let _ = writeln!(
        out,
        "#   wxpay --config {} --profile sandbox sandbox log --follow",
        config.display()
    );
    let _ = writeln!(
        out,
        "# Control API: {} (wxpay sandbox pay|notify|rotate|fault|log|reset|status, with \
         --sandbox {} or WECHATPAY_SANDBOX={} or this profile)",
        sandbox.control_uri(),
        sandbox.base_uri(),
        sandbox.base_uri()
    );
    let mut settings = Vec::new();
    if let Some(mode) = args.sign_mode {
        settings.push(format!("signed with the {mode} key"));
    }
    if let Some(delay) = args.auto_pay {
        settings.push(format!(
            "orders paid {} s after they are placed",
            delay.as_secs_f64()
        ));
    }
    if let Some(scale) = args.callback_time_scale {
        settings.push(format!("callback retry waits x{scale}"));
    }
    if !settings.is_empty() {
        let _ = writeln!(out, "# {}", settings.join("; "));
    }
    let _ = writeln!(out, "{profile}");
    let _ = out.flush();
    let stopped = stop.wait();
    // The keys of a directory made for this run only are not left behind.
    if args.keys.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    drop(sandbox);
    stopped
}

/// Ctrl-C (SIGINT) and, on Unix, SIGTERM, listened for from its creation on.
struct Stop {
    runtime: tokio::runtime::Runtime,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Stop {
    fn listen() -> Result<Stop, Fail> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(cannot_wait)?;
        #[cfg(unix)]
        let (interrupt, terminate) = {
            use tokio::signal::unix::{SignalKind, signal};
            let _entered = runtime.enter();
            (
                signal(SignalKind::interrupt()).map_err(cannot_wait)?,
                signal(SignalKind::terminate()).map_err(cannot_wait)?,
            )
        };
        Ok(Stop {
            runtime,
            #[cfg(unix)]
            interrupt,
            #[cfg(unix)]
            terminate,
        })
    }

    /// Waits for one of the signals (one that arrived since [`listen`](Self::listen) counts).
    fn wait(self) -> Result<(), Fail> {
        #[cfg(unix)]
        {
            let Stop {
                runtime,
                mut interrupt,
                mut terminate,
            } = self;
            runtime.block_on(async {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            });
            Ok(())
        }
        #[cfg(not(unix))]
        self.runtime
            .block_on(tokio::signal::ctrl_c())
            .map_err(cannot_wait)
    }
}

fn cannot_wait(e: std::io::Error) -> Fail {
    usage(format!("cannot wait for Ctrl-C: {e}"))
}
