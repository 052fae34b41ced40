//! `wxpay`: call any WeChat Pay API from a shell.

// The doc comments of `args` are the command's --help text, written for a terminal.
#![allow(rustdoc::bare_urls, rustdoc::invalid_html_tags)]

/// `eprintln!` that ignores a stderr that cannot be written instead of panicking, and colours
/// a leading `note:` or `warning:` on a terminal ([`fail::note`]).
macro_rules! note {
    () => {
        $crate::fail::note(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::fail::note(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` that ignores a stderr that cannot be written instead of panicking.
macro_rules! note_part {
    ($($arg:tt)*) => {
        $crate::fail::note(format_args!($($arg)*))
    };
}

mod args;
mod commands;
mod config;
mod fail;
mod suggest;
mod time;

use std::process::ExitCode;

use clap::FromArgMatches;

fn main() -> ExitCode {
    let parsed = args::command().try_get_matches().and_then(|matches| {
        let mut cli = args::Cli::from_arg_matches(&matches)?;
        args::merge_settings(&mut cli.global, &matches);
        Ok(cli)
    });
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let e = suggest::closer_match(e);
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
