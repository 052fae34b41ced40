//! `wxpay`: call any WeChat Pay API from a shell.

// The doc comments of `args` are the command's --help text, written for a terminal.
#![allow(rustdoc::bare_urls, rustdoc::invalid_html_tags)]

/// `eprintln!` that ignores a stderr that cannot be written instead of panicking.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!` that ignores a stderr that cannot be written instead of panicking.
macro_rules! note_part {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

mod args;
mod commands;
mod config;
mod fail;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 3.
            if e.use_stderr() {
                let _ = e.print();
                return ExitCode::from(fail::USAGE);
            }
            return match e.print() {
                Ok(()) => ExitCode::SUCCESS,
                Err(io) => fail::stdout_error(io).report(),
            };
        }
    };
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(fail) => fail.report(),
    }
}
