//! `wxpay completions bash|zsh|fish|powershell`: the shell completion script, with every API path of the
//! catalogue offered after `wxpay req METHOD` and `wxpay api show`.

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap_complete::Shell as Target;
use wechatpay::catalogue;

use crate::args::{Completions, Shell};
use crate::fail::Fail;

pub fn run(args: Completions) -> Result<(), Fail> {
    let target = match args.shell {
        Shell::Bash => Target::Bash,
        Shell::Zsh => Target::Zsh,
        Shell::Fish => Target::Fish,
        Shell::Powershell => Target::PowerShell,
    };
    let mut script = Vec::new();
    clap_complete::generate(target, &mut command(), "wxpay", &mut script);
    if let Shell::Fish = args.shell {
        // clap's fish script completes options and subcommands only: the methods and paths
        // are added here (fish keeps those that start with what is typed).
        let paths = templates().join(" ");
        script.extend_from_slice(
            format!(
                "complete -c wxpay -n \"__fish_wxpay_using_subcommand req\" -f -a \"GET POST PUT PATCH DELETE {paths}\"\n\
                 complete -c wxpay -n \"__fish_wxpay_using_subcommand api; and __fish_seen_subcommand_from show\" -f -a \"{paths}\"\n"
            )
            .as_bytes(),
        );
    }
    super::write_stdout(&script)
}

/// Every template of the catalogue, once, sorted.
fn templates() -> Vec<&'static str> {
    let mut templates: Vec<&'static str> = catalogue::get()
        .operations
        .iter()
        .map(|op| op.template.as_str())
        .collect();
    templates.sort_unstable();
    templates.dedup();
    templates
}

/// The command, with the API paths and methods as the values to complete (for the script
/// only: `wxpay req` itself accepts any path).
fn command() -> clap::Command {
    let templates = templates();
    let paths = || PossibleValuesParser::new(templates.iter().map(|t| PossibleValue::new(*t)));
    let methods = PossibleValuesParser::new(["GET", "POST", "PUT", "PATCH", "DELETE"]);
    crate::args::command()
        .mut_subcommand("req", |req| {
            req.mut_arg("method", |a| a.value_parser(methods))
                .mut_arg("uri", |a| a.value_parser(paths()))
        })
        .mut_subcommand("api", |api| {
            api.mut_subcommand("show", |show| {
                show.mut_arg("uri", |a| a.value_parser(paths()))
            })
        })
}
