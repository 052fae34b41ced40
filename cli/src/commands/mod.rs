//! One module per subcommand.

mod api;
mod bill;
mod completions;
mod crt;
mod crypt;
mod notify;
mod req;
mod sandbox;
mod sandbox_control;
mod sign;

use std::io::{IsTerminal, Write};

use crate::args::{Cli, Command};
use crate::fail::{Fail, stdout_error};

pub fn run(cli: Cli) -> Result<(), Fail> {
    let global = cli.global;
    match cli.command {
        Command::Req(args) => req::run(&global, args),
        Command::Crt(args) => crt::run(&global, args),
        Command::Notify(args) => notify::run(&global, args),
        Command::Sign(args) => sign::run(&global, args),
        Command::Encrypt(args) => crypt::encrypt(&global, args),
        Command::Decrypt(args) => crypt::decrypt(&global, args),
        Command::Bill(args) => bill::run(&global, args),
        Command::Sandbox(args) => sandbox::run(&global, args),
        Command::Api(args) => api::run(args),
        Command::Completions(args) => completions::run(args),
    }
}

/// Whether stdout is a terminal (rather than a pipe or a file).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Writes `bytes` to stdout and flushes: a failure is an error, never a panic.
pub fn write_stdout(bytes: &[u8]) -> Result<(), Fail> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// Writes one line of text to stdout.
pub fn print_line(text: &str) -> Result<(), Fail> {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    write_stdout(line.as_bytes())
}

/// Prints a JSON value: pretty on a terminal, compact when piped.
pub fn print_json(value: &serde_json::Value) -> Result<(), Fail> {
    if stdout_is_terminal() {
        print_line(&serde_json::to_string_pretty(value).unwrap_or_default())
    } else {
        print_line(&value.to_string())
    }
}
