//! The rough edges a new user met, each fixed and held here: APIv2 messages, captured
//! callbacks, `encrypt --key`, compressed bills, did-you-mean, grouped help, PowerShell
//! completions, the progress bar and colour (on a real terminal, through `script`).

use std::process::{Command, Output};

use serde_json::json;
use wechatpay_sandbox::NotifyVariant;

mod common;
use common::*;

/// The profile of `s` without the lines whose key is in `drop`, written to a new file.
fn profile_without(s: &Setup, name: &str, drop: &[&str]) -> String {
    let text = std::fs::read_to_string(&s.config).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| !drop.iter().any(|key| line.starts_with(&format!("{key} ="))))
        .collect();
    let path = s.dir.path(name);
    std::fs::write(&path, kept.join("\n")).unwrap();
    path.display().to_string()
}

fn run_with(config: &str, args: &[&str]) -> Output {
    wxpay()
        .args(["--config", config, "--profile", "sandbox"])
        .args(args)
        .output()
        .unwrap()
}

fn orderquery(mchid: &str) -> String {
    json!({ "appid": "wxd678efh567hg6787", "mch_id": mchid, "out_trade_no": "NONE-1" }).to_string()
}

#[test]
fn apiv2_calls_ask_for_the_secret_and_nothing_of_apiv3() {
    let s = setup();
    let mchid = s.mchid();
    let body = orderquery(&mchid);

    // No secret: the message names it, whatever APIv3 settings are there or not.
    for (name, drop) in [
        ("no-secret.toml", &["secret_file"][..]),
        (
            "nothing-but-mchid.toml",
            &["secret_file", "serial", "platform_keys", "apiv3_key_file"][..],
        ),
    ] {
        let config = profile_without(&s, name, drop);
        let out = run_with(&config, &["req", "POST", "v2/pay/orderquery", "-d", &body]);
        assert_eq!(code(&out), 3, "{name}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            "wxpay: `v2/...` calls need the APIv2 secret: set --secret-file, \
             $WECHATPAY_SECRET_FILE, $WECHATPAY_SECRET or `secret_file` in the profile\n",
            "{name}"
        );
    }

    // A profile with APIv2 settings only (no serial, platform key or APIv3 key): the call is
    // signed, sent and its signed answer verified (the order does not exist: exit 1).
    let config = profile_without(
        &s,
        "apiv2-only.toml",
        &["serial", "platform_keys", "apiv3_key_file"],
    );
    let out = run_with(&config, &["req", "POST", "v2/pay/orderquery", "-d", &body]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("wxpay: WeChat Pay API error: HTTP 200 ORDERNOTEXIST"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn apiv2_errors_name_the_flag_and_quote_what_came_back() {
    let s = setup();
    let mchid = s.mchid();
    let refund = json!({
        "appid": "wxd678efh567hg6787", "mch_id": mchid, "out_trade_no": "NONE-1",
        "out_refund_no": "NONE-1-R", "total_fee": 1, "refund_fee": 1,
    })
    .to_string();

    // An operation that takes the merchant certificate, without --security: refused before
    // anything is sent, naming the flag (not a Rust API).
    let before = s.sandbox.requests().len();
    let out = s.run(&["req", "POST", "v2/secapi/pay/refund", "-d", &refund]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "wxpay: `POST v2/secapi/pay/refund` takes the merchant certificate (mutual TLS): add \
         --security\nhint: --security sends it with --merchant-cert-file and the private key \
         (--private-key-file); --no-check sends without it\n"
    );
    assert_eq!(s.sandbox.requests().len(), before, "nothing is sent");
    // With it, the refund reaches the mutual-TLS port (and is refused there for the unknown
    // order: a verified API error).
    let out = s.run(&[
        "req",
        "--security",
        "POST",
        "v2/secapi/pay/refund",
        "-d",
        &refund,
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(!stderr(&out).contains("证书错误"), "{}", stderr(&out));

    // A path WeChat Pay does not have: the answer is quoted, not just its status.
    let out = s.run(&[
        "req",
        "POST",
        "v2/pay/nothere",
        "-d",
        &json!({ "appid": "wxd678efh567hg6787", "mch_id": mchid }).to_string(),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "note: `POST v2/pay/nothere` is not in the catalogue (nearest: `POST v2/pay/closeorder`); \
         sending it as given\nwxpay: WeChat Pay API error: HTTP 404: the answer: \
         {\"code\":\"NOT_FOUND\",\"message\":\"no such API: POST /pay/nothere\"}\nhint: `POST \
         v2/pay/nothere` is not in the catalogue: `wxpay api list v2/` lists the operations\n"
    );
}

/// The `Wechatpay-Timestamp` of a captured callback.
fn signed_at(headers: &std::path::Path) -> i64 {
    std::fs::read_to_string(headers)
        .unwrap()
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("wechatpay-timestamp")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap()
}

#[test]
fn a_captured_callback_is_checked_at_its_time() {
    let s = setup();
    let (headers, body) = deliver(&s, NotifyVariant::Valid);
    let (h, b) = (headers.display().to_string(), body.display().to_string());
    let ts = signed_at(&headers);
    let verify = |extra: &[&str]| {
        let mut args = vec!["notify", "verify", "--headers", &h, "--body", &b];
        args.extend_from_slice(extra);
        s.run(&args)
    };

    // 400 s later, the client's 300 s window has passed: refused, saying how to check it.
    let later = (ts + 400).to_string();
    let out = verify(&["--at", &later]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("400 s before --at")
            && err.contains("--max-age SECONDS or --at TIME (Unix seconds or RFC 3339)"),
        "{err}"
    );
    // With a longer age, or at a time it was fresh, it verifies.
    for extra in [
        &["--at", &later, "--max-age", "600"][..],
        &["--at", &(ts + 100).to_string()],
    ] {
        let out = verify(extra);
        assert_eq!(code(&out), 0, "{extra:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "verified\n");
    }
    // RFC 3339 with an offset, as `date --iso-8601=seconds` prints it in Beijing.
    let date = Command::new("date")
        .env("TZ", "Asia/Shanghai")
        .args(["--iso-8601=seconds", "-d", &format!("@{}", ts + 400)])
        .output()
        .unwrap();
    let rfc3339 = String::from_utf8(date.stdout).unwrap().trim().to_owned();
    assert!(rfc3339.ends_with("+08:00"), "{rfc3339}");
    let out = verify(&["--at", &rfc3339, "--max-age", "401"]);
    assert_eq!(code(&out), 0, "{rfc3339}: {}", stderr(&out));
    let out = verify(&["--at", &rfc3339, "--max-age", "399"]);
    assert_eq!(code(&out), 2, "{rfc3339}: {}", stderr(&out));
    // A --max-age shorter than the window is stricter than the client.
    let out = verify(&["--at", &(ts + 60).to_string(), "--max-age", "30"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    // Before it was signed (beyond the window): the clock is named.
    let out = verify(&["--at", &(ts - 400).to_string()]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("check the clock"), "{}", stderr(&out));
    // Not a time: a usage error naming both forms.
    let out = verify(&["--at", "yesterday"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`yesterday` is neither Unix seconds nor an RFC 3339 time"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_line_break_added_to_the_body_file_is_not_the_signature_s() {
    let s = setup();
    let (headers, body) = deliver(&s, NotifyVariant::Valid);
    let h = headers.display().to_string();
    let original = std::fs::read(&body).unwrap();
    for ending in ["\n", "\r\n"] {
        let saved = s.dir.path("saved.json");
        std::fs::write(&saved, [&original[..], ending.as_bytes()].concat()).unwrap();
        let b = saved.display().to_string();
        let out = s.run(&["notify", "decrypt", "--headers", &h, "--body", &b]);
        assert_eq!(code(&out), 0, "{ending:?}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with(&format!(
                "note: `{b}` ends with a line break the signature does not cover (an editor or \
                 `echo` added it): checked without it\nverified: "
            )),
            "{}",
            stderr(&out)
        );
        assert!(
            stdout(&out).contains("\"out_trade_no\""),
            "{}",
            stdout(&out)
        );
    }
    // Any other change is a bad signature, and the hint says what the body must be.
    let changed = s.dir.path("changed.json");
    std::fs::write(&changed, [&b" "[..], &original[..]].concat()).unwrap();
    let b = changed.display().to_string();
    let out = s.run(&["notify", "verify", "--headers", &h, "--body", &b]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "hint: the body must be byte for byte what WeChat Pay sent (`{b}`: not reformatted, \
             no added line break)"
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bill_named_gz_is_written_compressed() {
    let s = setup();
    for transfer in [&["--gzip"][..], &[]] {
        let file = s.dir.path(&format!("bill{}.csv.gz", transfer.len()));
        let f = file.display().to_string();
        let mut args = vec!["bill", "download", "--bill-date", "2026-11-26", "-o", &f];
        args.extend_from_slice(transfer);
        let out = s.run(&args);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let written = std::fs::read(&file).unwrap();
        assert_eq!(written[..2], [0x1f, 0x8b], "{transfer:?}: a gzip file");
        let mut csv = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&written[..]), &mut csv)
            .unwrap();
        assert!(csv.starts_with("交易时间".as_bytes()));
        // The hash checked is the bill's, the text inside.
        let sha1 = wechatpay::crypto::hex_lower(&wechatpay::crypto::sha1(&csv).unwrap());
        assert_eq!(
            stdout(&out),
            format!("{} bytes, SHA-1 {sha1} checked -> {f} (gzip)\n", csv.len())
        );
    }
}

#[test]
fn typos_get_a_did_you_mean() {
    for (args, tip) in [
        (&["rq"][..], "tip: a similar subcommand exists: 'req'"),
        (&["crtt"], "tip: a similar subcommand exists: 'crt'"),
        (
            &["sandbox", "stauts"],
            "tip: some similar subcommands exist: 'fault', 'status'",
        ),
        (&["api", "lst"], "tip: a similar subcommand exists: 'list'"),
        (
            &["req", "GET", "v3/certificates", "--serail", "1"],
            "tip: a similar argument exists: '--serial'",
        ),
        (
            &["req", "GET", "v3/certificates", "--verbos"],
            "tip: a similar argument exists: '--verbose'",
        ),
    ] {
        let out = wxpay().args(args).output().unwrap();
        assert_eq!(code(&out), 3, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(tip), "{args:?}: {}", stderr(&out));
    }
    // Only names of the command the mistake was made in: `show` is `api show`'s, `--output`
    // `bill download`'s.
    for (args, not) in [
        (&["shw"][..], "'show'"),
        (
            &["req", "GET", "v3/certificates", "--outptu", "x"],
            "'--output'",
        ),
    ] {
        let out = wxpay().args(args).output().unwrap();
        assert_eq!(code(&out), 3, "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains(not), "{args:?}: {}", stderr(&out));
    }
    let out = wxpay().args(["api", "shw"]).output().unwrap();
    assert!(
        stderr(&out).contains("tip: a similar subcommand exists: 'show'"),
        "{}",
        stderr(&out)
    );
}

/// The long options in a help text, after the line `heading` (to the next heading or the end).
fn options_under(help: &str, heading: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| *line != heading)
        .skip(1)
        .take_while(|line| line.is_empty() || line.starts_with(' '))
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("-h, ").unwrap_or(line);
            line.starts_with("--")
                .then(|| line.split([' ', '=']).next().unwrap().to_owned())
        })
        .collect()
}

const SETTINGS: &str = "Settings (also from the profile or WECHATPAY_*):";

#[test]
fn help_groups_the_settings_and_offers_only_those_a_command_uses() {
    let help = |args: &[&str]| {
        let out = wxpay().args(args).arg("--help").output().unwrap();
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let all = [
        "--config",
        "--profile",
        "--mchid",
        "--serial",
        "--private-key-file",
        "--platform-key",
        "--apiv3-key-file",
        "--secret-file",
        "--merchant-cert-file",
        "--base-uri",
        "--root-certificate-file",
        "--allow-insecure-http",
    ];
    assert_eq!(options_under(&help(&[]), SETTINGS), all);
    assert_eq!(options_under(&help(&["req"]), SETTINGS), all);
    // The command's own options come first, under Options.
    assert_eq!(
        options_under(&help(&["notify"]), "Options:"),
        ["--headers", "--body", "--at", "--max-age", "--help"]
    );
    for (command, uses) in [
        (
            &["notify"][..],
            &[
                "--config",
                "--profile",
                "--platform-key",
                "--apiv3-key-file",
            ][..],
        ),
        (&["encrypt"], &["--config", "--profile", "--platform-key"]),
        (
            &["decrypt"],
            &["--config", "--profile", "--private-key-file"],
        ),
        (
            &["sign"],
            &["--config", "--profile", "--mchid", "--private-key-file"],
        ),
        (
            &["sandbox", "pay"],
            &["--config", "--profile", "--base-uri"],
        ),
        (&["sandbox"], &[]),
        (&["api", "show"], &[]),
        (&["completions"], &[]),
    ] {
        let text = help(command);
        assert_eq!(options_under(&text, SETTINGS), uses, "{command:?}");
        if uses.is_empty() {
            assert!(!text.contains("--config"), "{command:?}: {text}");
        }
    }
    // A setting is taken before or after the subcommand; after wins.
    let s = setup();
    let config = s.config.display().to_string();
    let out = wxpay()
        .args([
            "--mchid",
            "1",
            "req",
            "GET",
            "v3/certificates",
            "--config",
            &config,
        ])
        .args(["--profile", "sandbox", "--mchid", &s.mchid()])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // One a command does not use is not taken there.
    let out = wxpay()
        .args([
            "notify",
            "verify",
            "--headers",
            "h",
            "--body",
            "b",
            "--mchid",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).contains("unexpected argument '--mchid' found"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn powershell_completions_offer_each_command_its_own_options() {
    let out = wxpay()
        .args(["completions", "powershell"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let script = stdout(&out);
    assert!(
        script.contains("Register-ArgumentCompleter -Native -CommandName 'wxpay'"),
        "{script}"
    );
    // Each command's block: the completions offered after `wxpay COMMAND`.
    let block = |context: &str| {
        let start = script
            .find(&format!("'{context}' {{"))
            .unwrap_or_else(|| panic!("no block for {context}"));
        let rest = &script[start..];
        rest[..rest.find("break").unwrap()].to_owned()
    };
    let req = block("wxpay;req");
    for option in ["'--secret-file'", "'--serial'", "'--security'", "'--data'"] {
        assert!(req.contains(option), "req: {option}");
    }
    let notify = block("wxpay;notify");
    assert!(notify.contains("'--platform-key'") && notify.contains("'--max-age'"));
    for option in ["'--secret-file'", "'--serial'", "'--mchid'"] {
        assert!(!notify.contains(option), "notify offers {option}");
    }
    assert!(block("wxpay").contains("'req'") && block("wxpay").contains("'completions'"));
}

/// Runs `wxpay ARGS` on a real terminal (a pseudo-terminal from util-linux's `script`) and
/// gives what the terminal showed.
fn on_terminal(envs: &[(&str, &str)], args: &[&str]) -> String {
    let binary = env!("CARGO_BIN_EXE_wxpay");
    let mut line = format!("'{binary}'");
    for arg in args {
        line.push_str(&format!(" '{arg}'"));
    }
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .env("HOME", std::env::temp_dir())
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR");
    for (name, value) in envs {
        cmd.env(name, value);
    }
    let out = cmd
        .output()
        .expect("util-linux's `script` (Debian's bsdutils) runs the terminal tests");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_progress_bar_on_a_terminal_and_nothing_on_a_pipe() {
    let s = setup();
    let config = s.config.display().to_string();
    let file = s.dir.path("bill.csv").display().to_string();
    let args = [
        "--config",
        &config,
        "--profile",
        "sandbox",
        "bill",
        "download",
        "--bill-date",
        "2026-11-26",
        "-o",
        &file,
    ];
    let shown = on_terminal(&[], &args);
    assert!(shown.contains(" downloading "), "{shown:?}");
    assert!(shown.contains("B/s)"), "{shown:?}");
    // The bar is cleared before the result line.
    assert!(shown.contains("\x1b[2K"), "{shown:?}");
    assert!(shown.contains(&format!("checked -> {file}")), "{shown:?}");

    std::fs::remove_file(&file).unwrap();
    let out = wxpay().args(args).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "nothing on a pipe");
}

#[test]
fn colour_on_a_terminal_only_and_never_with_no_color() {
    const RED_BOLD: &str = "\x1b[1m\x1b[31mwxpay:\x1b[0m";
    let args = ["encrypt", "x", "--platform-key", "NOPE=/nonexistent"];
    let shown = on_terminal(&[], &args);
    assert!(shown.contains(RED_BOLD), "{shown:?}");
    // clap's help too.
    assert!(on_terminal(&[], &["--help"]).contains("\x1b["));

    for envs in [
        &[("NO_COLOR", "1")][..],
        &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")],
    ] {
        let shown = on_terminal(envs, &args);
        assert!(shown.contains("wxpay: "), "{shown:?}");
        assert!(!shown.contains('\x1b'), "{envs:?}: {shown:?}");
        assert!(!on_terminal(envs, &["--help"]).contains('\x1b'), "{envs:?}");
    }
    // On a pipe: plain.
    let out = wxpay().args(args).output().unwrap();
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).starts_with("wxpay: "), "{}", stderr(&out));
    assert!(!stderr(&out).contains('\x1b'));
}
