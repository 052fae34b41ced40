//! How a command fails: one line on stderr, a hint where one helps, and the exit code.
//!
//! Colour: the `wxpay:`, `hint:`, `note:` and `warning:` labels are coloured when stderr is a
//! terminal, never on a pipe or a file, and never when `NO_COLOR` is set (`anstream` decides,
//! as it does for clap's own messages; `CLICOLOR_FORCE=1` forces colour).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;

use anstyle::{AnsiColor, Style};

use wechatpay::ErrorKind;

/// 1: WeChat Pay answered with an error.
pub const API: u8 = 1;
/// 2: an answer, callback or download failed verification (or could not be decoded).
pub const VERIFICATION: u8 = 2;
/// 3: bad usage or configuration, or a local file or stdout that cannot be written.
pub const USAGE: u8 = 3;
/// 4: the request did not complete.
pub const TRANSPORT: u8 = 4;
/// 141 (128 + SIGPIPE): stdout is a pipe whose reader went away; nothing is printed, as for a
/// classic Unix tool killed by SIGPIPE.
pub const BROKEN_PIPE: u8 = 141;

/// Where each setting comes from, for the messages that ask for one.
pub const SET_MCHID: &str = "set --mchid, $WECHATPAY_MCHID or `mchid` in the profile";
pub const SET_SERIAL: &str = "set --serial, $WECHATPAY_SERIAL or `serial` in the profile";
pub const SET_PRIVATE_KEY: &str = "set --private-key-file, $WECHATPAY_PRIVATE_KEY_FILE, \
                                   $WECHATPAY_PRIVATE_KEY or `private_key_file` in the profile";
pub const SET_PLATFORM_KEY: &str = "set --platform-key ID=PATH, $WECHATPAY_PLATFORM_KEYS or \
                                    `platform_keys` in the profile";
pub const SET_APIV3_KEY: &str = "set --apiv3-key-file, $WECHATPAY_APIV3_KEY_FILE, \
                                 $WECHATPAY_APIV3_KEY or `apiv3_key_file` in the profile";
pub const SET_SECRET: &str = "set --secret-file, $WECHATPAY_SECRET_FILE, $WECHATPAY_SECRET or \
                              `secret_file` in the profile";
pub const SET_ALLOW_INSECURE_HTTP: &str = "--allow-insecure-http, \
                                           $WECHATPAY_ALLOW_INSECURE_HTTP=true or \
                                           `allow_insecure_http = true` in the profile";

const ERROR: Style = AnsiColor::Red.on_default().bold();
const HINT: Style = AnsiColor::Cyan.on_default().bold();
const NOTE: Style = AnsiColor::Yellow.on_default().bold();

/// The config file looked for and not found, when none was named (`--config`,
/// `$WECHATPAY_CONFIG`): a message asking for a setting says so.
pub static CONFIG_NOT_FOUND: OnceLock<PathBuf> = OnceLock::new();

/// Writes to stderr (a stderr that cannot be written is ignored), colouring a leading `note:`,
/// `warning:` or `wxpay:` label on a terminal.
pub fn note(text: std::fmt::Arguments<'_>) {
    let text = text.to_string();
    let mut err = anstream::stderr().lock();
    let label = ["wxpay: note:", "note:", "warning:", "wxpay:"]
        .into_iter()
        .find(|label| text.starts_with(label));
    let _ = match label {
        Some(label) => {
            let style = if label == "wxpay:" { ERROR } else { NOTE };
            write!(err, "{style}{label}{style:#}{}", &text[label.len()..])
        }
        None => err.write_all(text.as_bytes()),
    };
}

/// A failed command.
#[derive(Debug)]
pub struct Fail {
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
}

impl Fail {
    pub fn hint(mut self, hint: impl Into<String>) -> Fail {
        self.hint = Some(hint.into());
        self
    }

    /// Prints to stderr (unless stdout's reader went away) and gives the exit code. A stderr
    /// that cannot be written changes nothing but the lost message.
    pub fn report(&self) -> ExitCode {
        if self.code != BROKEN_PIPE {
            let mut err = anstream::stderr().lock();
            let _ = writeln!(err, "{ERROR}wxpay:{ERROR:#} {}", self.message);
            if let Some(hint) = &self.hint {
                let _ = writeln!(err, "{HINT}hint:{HINT:#} {hint}");
            }
            // A setting is missing (each such message says where to set it) and the default
            // config file was not there: say where it was looked for.
            if self.code == USAGE && self.message.contains("set --") {
                if let Some(path) = CONFIG_NOT_FOUND.get() {
                    let _ = writeln!(
                        err,
                        "{NOTE}note:{NOTE:#} no config file at `{}` (the default; --config FILE \
                         or $WECHATPAY_CONFIG names another; `wxpay sandbox` prints a profile)",
                        path.display()
                    );
                }
            }
        }
        ExitCode::from(self.code)
    }
}

/// A usage or configuration problem (exit 3).
pub fn usage(message: impl Into<String>) -> Fail {
    Fail {
        code: USAGE,
        message: message.into(),
        hint: None,
    }
}

/// stdout could not be written: quiet exit 141 for a reader that went away, else exit 3.
pub fn stdout_error(e: std::io::Error) -> Fail {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Fail {
            code: BROKEN_PIPE,
            message: String::new(),
            hint: None,
        }
    } else {
        usage(format!("cannot write to stdout: {e}"))
    }
}

/// The library's message without its kind (`configuration error: `).
pub fn bare_message(e: &wechatpay::Error) -> String {
    let text = e.to_string();
    match text.strip_prefix(&format!("{}: ", e.kind())) {
        Some(rest) => rest.to_owned(),
        None => text,
    }
}

/// The library's configuration messages that name its builder methods, in the command line's
/// words: the flag, variable or profile key to set.
fn cli_wording(e: &wechatpay::Error) -> Option<String> {
    if e.kind() != ErrorKind::Config {
        return None;
    }
    let message = bare_message(e);
    let wording = if message.starts_with("serial is missing") {
        format!("no merchant API certificate serial: {SET_SERIAL}")
    } else if message.starts_with("the merchant private key is missing") {
        format!("no merchant private key: {SET_PRIVATE_KEY}")
    } else if message.starts_with("no platform key") {
        format!("no platform key: {SET_PLATFORM_KEY}")
    } else if message.starts_with("this client is configured for APIv2 only") {
        "APIv3 calls need the merchant API certificate serial (--serial), the merchant private \
         key (--private-key-file) and a platform key (--platform-key ID=PATH); this profile has \
         only APIv2 settings"
            .to_owned()
    } else if message.starts_with("this client is not configured for APIv2") {
        format!("`v2/...` calls need the APIv2 secret: {SET_SECRET}")
    } else if let Some(refusal) =
        message.strip_suffix(".allow_insecure_http(true) on the client builder")
    {
        format!("{refusal}{SET_ALLOW_INSECURE_HTTP}")
    } else {
        return None;
    };
    Some(wording)
}

impl From<wechatpay::Error> for Fail {
    fn from(e: wechatpay::Error) -> Fail {
        let (code, hint) = match e.kind() {
            ErrorKind::Api => (API, None),
            ErrorKind::Verification => (
                VERIFICATION,
                Some("check the platform keys (--platform-key ID=PATH) and the clock".to_owned()),
            ),
            ErrorKind::Decode | ErrorKind::Crypto => (VERIFICATION, None),
            ErrorKind::Transport => (
                TRANSPORT,
                Some("check the base URI and the network (or start `wxpay sandbox`)".to_owned()),
            ),
            _ => (USAGE, None),
        };
        if let Some(message) = cli_wording(&e) {
            return Fail {
                code,
                message,
                hint,
            };
        }
        let mut message = e.to_string();
        if let Some(api) = e.api() {
            if let Some(id) = api.request_id() {
                if !message.contains(id) {
                    message.push_str(&format!(" (Request-ID {id})"));
                }
            }
        }
        Fail {
            code,
            message,
            hint,
        }
    }
}
