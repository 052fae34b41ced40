//! How a command fails: one line on stderr, a hint where one helps, and the exit code.

use std::process::ExitCode;

use wechatpay::ErrorKind;

/// 1: WeChat Pay answered with an error.
pub const API: u8 = 1;
/// 2: an answer, callback or download failed verification (or could not be decoded).
pub const VERIFICATION: u8 = 2;
/// 3: bad usage or configuration.
pub const USAGE: u8 = 3;
/// 4: the request did not complete.
pub const TRANSPORT: u8 = 4;

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

    /// Prints to stderr and gives the exit code.
    pub fn report(&self) -> ExitCode {
        eprintln!("wxpay: {}", self.message);
        if let Some(hint) = &self.hint {
            eprintln!("hint: {hint}");
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
