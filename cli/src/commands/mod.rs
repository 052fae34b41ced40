//! One module per subcommand.

mod bill;
mod crt;
mod crypt;
mod notify;
mod req;
mod sandbox;
mod sign;

use crate::args::{Cli, Command};
use crate::fail::Fail;

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
        Command::Sandbox(args) => sandbox::run(args),
    }
}

/// Prints a JSON value: pretty on a terminal, compact when piped.
pub fn print_json(value: &serde_json::Value) {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    } else {
        println!("{value}");
    }
}
