//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::platform_key_arg;

/// Call any WeChat Pay API from a shell: signed requests, verified answers, every helper, and an
/// offline sandbox.
///
/// Settings come from a TOML profile (`--config`, default `$XDG_CONFIG_HOME/wxpay/config.toml`,
/// else `~/.config/wxpay/config.toml` (macOS: `~/Library/Application Support/wxpay/`, Windows:
/// `%APPDATA%\wxpay\`); `[profile.NAME]`, `--profile`), then WECHATPAY_*
/// environment variables, then flags. Secrets are read from files or the environment only.
///
/// Exit codes: 0 success, 1 API error, 2 verification error, 3 usage, configuration or output
/// error, 4 transport error, 141 stdout's reader went away.
#[derive(Parser, Debug)]
#[command(name = "wxpay", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Merchant settings, given before or after the subcommand. Each subcommand offers only those
/// it uses, under their own heading ([`command`]).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Settings (also from the profile or WECHATPAY_*)")]
pub struct Global {
    /// The TOML file of profiles [env: WECHATPAY_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The profile to use: [profile.NAME] [env: WECHATPAY_PROFILE] [default: default]
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Merchant id [env: WECHATPAY_MCHID]
    #[arg(long)]
    pub mchid: Option<String>,
    /// Merchant API certificate serial [env: WECHATPAY_SERIAL]
    #[arg(long)]
    pub serial: Option<String>,
    /// Merchant private key file (apiclient_key.pem) [env: WECHATPAY_PRIVATE_KEY_FILE, or the PEM in WECHATPAY_PRIVATE_KEY; the passphrase of a protected key in WECHATPAY_PRIVATE_KEY_PASSPHRASE]
    #[arg(long, value_name = "FILE")]
    pub private_key_file: Option<PathBuf>,
    /// A platform certificate or WeChat Pay public key, ID=PATH (repeatable) [env: WECHATPAY_PLATFORM_KEYS, comma-separated]
    #[arg(long, value_name = "ID=PATH", value_parser = platform_key_arg)]
    pub platform_key: Vec<(String, PathBuf)>,
    /// APIv3 key file [env: WECHATPAY_APIV3_KEY_FILE, or the key in WECHATPAY_APIV3_KEY]
    #[arg(long, value_name = "FILE")]
    pub apiv3_key_file: Option<PathBuf>,
    /// APIv2 secret file [env: WECHATPAY_SECRET_FILE, or the secret in WECHATPAY_SECRET]
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Merchant certificate (apiclient_cert.pem) for APIv2 mutual TLS [env: WECHATPAY_MERCHANT_CERT_FILE]
    #[arg(long, value_name = "FILE")]
    pub merchant_cert_file: Option<PathBuf>,
    /// Base URI [env: WECHATPAY_BASE_URI] [default: https://api.mch.weixin.qq.com/]
    #[arg(long, value_name = "URI")]
    pub base_uri: Option<String>,
    /// An extra trusted root certificate for the server's TLS [env: WECHATPAY_ROOT_CERTIFICATE_FILE]
    #[arg(long, value_name = "FILE")]
    pub root_certificate_file: Option<PathBuf>,
    /// Accept a plain http base URI (a local test server such as `wxpay sandbox`): the signed Authorization header and the bodies then travel in clear [env: WECHATPAY_ALLOW_INSECURE_HTTP=true]
    #[arg(long)]
    pub allow_insecure_http: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Send a signed request and print the verified answer.
    Req(Req),
    /// Download the platform certificates and write wechatpay_<serial>.pem.
    Crt(Crt),
    /// Verify or decrypt a callback.
    Notify(Notify),
    /// Sign the pay parameters a mini-program, JSAPI page or app needs.
    Sign(Sign),
    /// OAEP-encrypt a sensitive field with a platform key.
    Encrypt(Encrypt),
    /// OAEP-decrypt a sensitive field with the merchant key.
    Decrypt(Decrypt),
    /// Download a bill.
    Bill(Bill),
    /// Run the offline sandbox in the foreground and print the profile to use with it; or pay, notify, rotate, fault, log, reset or status against a running one.
    Sandbox(SandboxArgs),
    /// Browse the WeChat Pay API: every operation, its parameters, fields and example.
    Api(Api),
    /// Print a shell completion script (API paths complete after `wxpay req METHOD`).
    Completions(Completions),
}

/// `wxpay api list [PATTERN]`, `wxpay api show TEMPLATE|PATH`
#[derive(Args, Debug)]
pub struct Api {
    #[command(subcommand)]
    pub action: ApiAction,
}

#[derive(Subcommand, Debug)]
pub enum ApiAction {
    /// One line per operation: METHOD TEMPLATE  title (PATTERN: a part of the template or title)
    List {
        /// Show only the operations whose template or title contains it (case-insensitive)
        pattern: Option<String>,
    },
    /// An operation's parameters, body and answer fields (type, required), and its example body
    Show {
        /// A template (`v3/pay/transactions/id/{transaction_id}`), a concrete path, or the dotted form
        uri: String,
        /// Only this method's operation (default: every method at the path)
        #[arg(short = 'X', long, value_name = "METHOD")]
        method: Option<String>,
    },
}

/// `wxpay completions bash > /etc/bash_completion.d/wxpay`
#[derive(Args, Debug)]
pub struct Completions {
    /// The shell
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Shell {
    /// Bash
    Bash,
    /// Zsh
    Zsh,
    /// Fish
    Fish,
    /// PowerShell
    Powershell,
}

/// `wxpay req POST v3.pay.transactions.native -d @order.json`
#[derive(Args, Debug)]
pub struct Req {
    /// GET, POST, PUT, PATCH or DELETE
    pub method: String,
    /// The URI, slash or dotted form: `v3/pay/transactions/id/{transaction_id}` or `v3.pay.transactions.native`
    pub uri: String,
    /// The body: JSON text, `@file` or `-` (stdin); for a `v2/` path, the `xml` payload as a JSON object
    #[arg(short = 'd', long = "data", value_name = "JSON|@FILE|-")]
    pub data: Option<String>,
    /// A query parameter k=v (repeatable)
    #[arg(short = 'p', long = "param", value_name = "K=V")]
    pub params: Vec<String>,
    /// A request header 'K: V' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "K: V")]
    pub headers: Vec<String>,
    /// A template variable k=v (repeatable; not a request option such as base_uri or query)
    #[arg(long = "var", value_name = "K=V")]
    pub vars: Vec<String>,
    /// APIv2: send over mutual TLS with the merchant certificate
    #[arg(long)]
    pub security: bool,
    /// Send the body even if it does not match the catalogue (missing field, wrong type, unknown enum value)
    #[arg(long)]
    pub no_check: bool,
    /// Print the operation's example body instead of sending (edit it, then send it with -d @FILE); needs no profile
    #[arg(long, conflicts_with = "data")]
    pub example: bool,
    /// Show the signed message and the request and response headers (signature masked)
    #[arg(short, long)]
    pub verbose: bool,
}

/// `wxpay crt -o DIR`
#[derive(Args, Debug)]
pub struct Crt {
    /// A key to verify the download with, ID=PATH; a certificate's ID is its serial (default:
    /// the platform keys of the profile; with none, a downloaded certificate valid now, with a
    /// warning)
    #[arg(long, value_name = "ID=PATH", value_parser = platform_key_arg)]
    pub trust: Vec<(String, PathBuf)>,
    /// Where to write wechatpay_<serial>.pem
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub output: PathBuf,
}

#[derive(Args, Debug)]
pub struct Notify {
    #[arg(value_enum)]
    pub action: NotifyAction,
    /// The callback's headers, one `Name: value` per line
    #[arg(long, value_name = "FILE")]
    pub headers: PathBuf,
    /// The callback's raw body
    #[arg(long, value_name = "FILE")]
    pub body: PathBuf,
    /// Check the timestamp as if now were TIME (Unix seconds or RFC 3339, e.g.
    /// 2026-12-07T10:00:00+08:00): for a callback captured earlier
    #[arg(long, value_name = "TIME", value_parser = time_arg)]
    pub at: Option<i64>,
    /// Accept a callback signed up to SECONDS before now (or before --at) [default: 300, as
    /// the client does]
    #[arg(long, value_name = "SECONDS")]
    pub max_age: Option<u32>,
}

/// `--at`: Unix seconds, or an RFC 3339 date and time.
fn time_arg(value: &str) -> Result<i64, String> {
    if let Ok(seconds) = value.parse::<i64>() {
        return Ok(seconds);
    }
    crate::time::parse_rfc3339(value).ok_or_else(|| {
        format!(
            "`{value}` is neither Unix seconds nor an RFC 3339 time (2026-12-07T10:00:00+08:00)"
        )
    })
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum NotifyAction {
    /// Check the signature only
    Verify,
    /// Check the signature and print the decrypted resource
    Decrypt,
}

#[derive(Args, Debug)]
pub struct Sign {
    #[arg(value_enum)]
    pub kind: SignKind,
    /// The AppID
    #[arg(long)]
    pub appid: String,
    /// The prepay_id
    #[arg(long)]
    pub prepay_id: String,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum SignKind {
    /// JSAPI / mini-program (wx.requestPayment)
    Jsapi,
    /// APP
    App,
}

#[derive(Args, Debug)]
pub struct Encrypt {
    /// The text to encrypt, or `-` to read it from stdin (kept out of the shell history; one
    /// trailing line break is dropped)
    pub plaintext: String,
    /// The platform key id to encrypt with (default: the preferred one)
    #[arg(long, value_name = "ID")]
    pub key: Option<String>,
}

#[derive(Args, Debug)]
pub struct Decrypt {
    /// The base64 ciphertext
    pub ciphertext: String,
}

#[derive(Args, Debug)]
pub struct Bill {
    #[command(subcommand)]
    pub action: BillAction,
}

#[derive(Subcommand, Debug)]
pub enum BillAction {
    /// Request a trade bill, download it and check its hash
    Download(BillDownload),
}

#[derive(Args, Debug)]
pub struct BillDownload {
    /// The bill date, YYYY-MM-DD
    #[arg(long)]
    pub bill_date: String,
    /// ALL, SUCCESS or REFUND
    #[arg(long, default_value = "ALL")]
    pub bill_type: String,
    /// Download it gzip-compressed (it is decompressed as it arrives, to check its hash)
    #[arg(long)]
    pub gzip: bool,
    /// The file to write: a name ending in `.gz` is written gzip-compressed, any other as
    /// plain text
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

/// `wxpay sandbox [OPTIONS]` runs the sandbox in the foreground; `wxpay sandbox ACTION` talks
/// to a running one through its control API (`/sandbox/...` on its port).
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub action: Option<SandboxAction>,
    /// The port to listen on (default: a free one)
    #[arg(long)]
    pub port: Option<u16>,
    /// Load the keys from DIR, or generate them there (reproducible runs)
    #[arg(long, visible_alias = "keys-dir", value_name = "DIR")]
    pub keys: Option<PathBuf>,
    /// Sign answers and callbacks with the platform certificate (certificate) or the WeChat Pay public key (public-key, the default)
    #[arg(long, value_name = "MODE", value_parser = sign_mode_arg)]
    pub sign_mode: Option<wechatpay_sandbox::SignMode>,
    /// Pay every order SECONDS after it is placed (e.g. 2 or 0.5), then send its callback to its notify_url
    #[arg(long, value_name = "SECONDS", value_parser = seconds_arg, allow_negative_numbers = true)]
    pub auto_pay: Option<std::time::Duration>,
    /// Multiply the waits between callback retries (WeChat Pay's, 24 h 4 min in all) by F: 0.001 runs them in 87 s
    #[arg(long, value_name = "F", value_parser = scale_arg, allow_negative_numbers = true)]
    pub callback_time_scale: Option<f64>,
}

fn sign_mode_arg(value: &str) -> Result<wechatpay_sandbox::SignMode, String> {
    value.parse()
}

fn seconds_arg(value: &str) -> Result<std::time::Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("`{value}` is not a number of seconds, 0 or more"))
}

fn scale_arg(value: &str) -> Result<f64, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && *f > 0.0)
        .ok_or_else(|| format!("`{value}` is not a number above 0"))
}

/// What to ask a running sandbox.
#[derive(Subcommand, Debug)]
pub enum SandboxAction {
    /// Pay an order, as its payer would: its TRANSACTION.SUCCESS callback goes to its notify_url
    Pay {
        /// The order's out_trade_no
        out_trade_no: String,
        #[command(flatten)]
        to: SandboxTarget,
    },
    /// Send a callback: an order's or a refund's again (same notification id), or any event to a URL
    Notify(SandboxNotify),
    /// Rotate the platform certificate: issue a new one, which signs from now on in certificate mode
    Rotate {
        /// How long the new certificate is valid, in seconds [default: 5 years]
        #[arg(long, value_name = "SECONDS")]
        valid_for: Option<u64>,
        #[command(flatten)]
        to: SandboxTarget,
    },
    /// Set the fault of every answer, or of one path's answers (`none` clears it)
    Fault {
        /// bad-signature, stale-timestamp, future-timestamp, unknown-serial, wrong-key, missing-timestamp, missing-nonce, missing-signature, missing-serial, tampered-body, signature-not-base64, slow-reply[-250ms], connection-reset, server-error[-503], close-after-reply[-250ms], or none
        #[arg(value_parser = fault_arg)]
        fault: FaultArg,
        /// Only the answers to this path (e.g. /v3/certificates)
        #[arg(long)]
        path: Option<String>,
        #[command(flatten)]
        to: SandboxTarget,
    },
    /// Print the requests the sandbox received, with its verdict on each, and its callback deliveries
    Log {
        /// Keep printing what comes next, until Ctrl-C or the sandbox stops
        #[arg(short, long)]
        follow: bool,
        /// Only the entries numbered above N (each JSON line has its `seq`)
        #[arg(long, value_name = "N", default_value_t = 0)]
        since: u64,
        /// Print the entries as JSON lines, as the control API gives them
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        to: SandboxTarget,
    },
    /// Forget every order, refund, log and fault, and cancel pending callback retries
    Reset {
        #[command(flatten)]
        to: SandboxTarget,
    },
    /// Print the sandbox's settings and counters
    Status {
        #[command(flatten)]
        to: SandboxTarget,
    },
}

/// A fault, or `none`.
#[derive(Clone, Debug)]
pub struct FaultArg(pub Option<wechatpay_sandbox::Fault>);

fn fault_arg(value: &str) -> Result<FaultArg, String> {
    match value {
        "none" => Ok(FaultArg(None)),
        name => name.parse().map(|f| FaultArg(Some(f))),
    }
}

/// Which running sandbox.
#[derive(Args, Debug, Clone)]
pub struct SandboxTarget {
    /// The running sandbox, http://127.0.0.1:PORT/ as `wxpay sandbox` prints it [env: WECHATPAY_SANDBOX] [default: the base_uri of the profile]
    #[arg(long, value_name = "URL")]
    pub sandbox: Option<String>,
}

/// `wxpay sandbox notify`
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("event").required(true).args(["out_trade_no", "out_refund_no", "event_type"])))]
pub struct SandboxNotify {
    /// The order whose TRANSACTION.SUCCESS to send (paid first if need be)
    #[arg(long, value_name = "NO")]
    pub out_trade_no: Option<String>,
    /// The refund whose REFUND.SUCCESS to send
    #[arg(long, value_name = "NO")]
    pub out_refund_no: Option<String>,
    /// Any event type, e.g. COMPLAINT.CREATE (with --resource and --url)
    #[arg(long, value_name = "TYPE", requires = "resource")]
    pub event_type: Option<String>,
    /// The event's resource, a JSON object, encrypted as it is
    #[arg(long, value_name = "JSON", requires = "event_type")]
    pub resource: Option<String>,
    /// The event's summary [default: the event type]
    #[arg(long, requires = "event_type")]
    pub summary: Option<String>,
    /// The resource's original_type and associated_data [default: the event type's first part, lower case]
    #[arg(long, value_name = "TYPE", requires = "event_type")]
    pub original_type: Option<String>,
    /// Where to send it [default: the order's or refund's notify_url]
    #[arg(long)]
    pub url: Option<String>,
    /// valid, bad-signature, stale-timestamp or duplicate-id (the id of the last valid notification)
    #[arg(long, value_parser = variant_arg)]
    pub variant: Option<wechatpay_sandbox::NotifyVariant>,
    /// One attempt: no retries when the receiver does not answer 200 or 204
    #[arg(long)]
    pub no_retry: bool,
    #[command(flatten)]
    pub to: SandboxTarget,
}

fn variant_arg(value: &str) -> Result<wechatpay_sandbox::NotifyVariant, String> {
    value.parse()
}

/// The merchant settings (the ids of [`Global`]'s options) each subcommand uses: its `--help`
/// and the completion scripts offer only those ([`command`]).
const USES: &[(&str, &[&str])] = &[
    ("req", &ALL),
    (
        "crt",
        &[
            "config",
            "profile",
            "mchid",
            "serial",
            "private_key_file",
            "platform_key",
            "apiv3_key_file",
            "base_uri",
            "root_certificate_file",
            "allow_insecure_http",
        ],
    ),
    (
        "notify",
        &["config", "profile", "platform_key", "apiv3_key_file"],
    ),
    ("sign", &["config", "profile", "mchid", "private_key_file"]),
    ("encrypt", &["config", "profile", "platform_key"]),
    ("decrypt", &["config", "profile", "private_key_file"]),
    (
        "bill",
        &[
            "config",
            "profile",
            "mchid",
            "serial",
            "private_key_file",
            "platform_key",
            "apiv3_key_file",
            "base_uri",
            "root_certificate_file",
            "allow_insecure_http",
        ],
    ),
    // The foreground sandbox uses none; its actions find a running one from the profile's
    // base URI.
    ("sandbox", &["config", "profile", "base_uri"]),
    ("api", &[]),
    ("completions", &[]),
];

/// Every option of [`Global`].
const ALL: [&str; 12] = [
    "config",
    "profile",
    "mchid",
    "serial",
    "private_key_file",
    "platform_key",
    "apiv3_key_file",
    "secret_file",
    "merchant_cert_file",
    "base_uri",
    "root_certificate_file",
    "allow_insecure_http",
];

/// The command line. The settings of [`Global`] are options of `wxpay` itself (before the
/// subcommand) and, copied, of each subcommand that uses them (see [`USES`]), whose `--help`
/// and completions offer no other. [`merge_settings`] reads them back from wherever they were
/// given.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut command = Cli::command();
    let settings: Vec<clap::Arg> = command
        .get_arguments()
        .filter(|arg| ALL.contains(&arg.get_id().as_str()))
        .cloned()
        .collect();
    for (name, uses) in USES {
        let offered: Vec<clap::Arg> = settings
            .iter()
            .filter(|arg| uses.contains(&arg.get_id().as_str()))
            .cloned()
            .collect();
        command = command.mut_subcommand(*name, |sub| {
            // `wxpay sandbox` itself (the foreground sandbox) uses none: its actions do.
            let here = *name != "sandbox";
            offer(sub, &offered, here)
        });
    }
    command
}

/// `command` with the `settings` (on itself when `here`) and on each of its subcommands.
fn offer(mut command: clap::Command, settings: &[clap::Arg], here: bool) -> clap::Command {
    if here {
        command = command.args(settings.iter().cloned());
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        command = command.mut_subcommand(name, |sub| offer(sub, settings, true));
    }
    command
}

/// The settings given after a subcommand (at any depth) override those given before it.
pub fn merge_settings(global: &mut Global, matches: &clap::ArgMatches) {
    let mut level = matches.subcommand();
    while let Some((_, sub)) = level {
        let given = |id: &str| {
            matches!(
                sub.try_contains_id(id)
                    .ok()
                    .and_then(|_| sub.value_source(id)),
                Some(clap::parser::ValueSource::CommandLine)
            )
        };
        let path = |id: &str| {
            given(id)
                .then(|| sub.get_one::<PathBuf>(id).cloned())
                .flatten()
        };
        let text = |id: &str| {
            given(id)
                .then(|| sub.get_one::<String>(id).cloned())
                .flatten()
        };
        if let Some(v) = path("config") {
            global.config = Some(v);
        }
        if let Some(v) = text("profile") {
            global.profile = Some(v);
        }
        if let Some(v) = text("mchid") {
            global.mchid = Some(v);
        }
        if let Some(v) = text("serial") {
            global.serial = Some(v);
        }
        if let Some(v) = path("private_key_file") {
            global.private_key_file = Some(v);
        }
        if given("platform_key") {
            if let Some(keys) = sub.get_many::<(String, PathBuf)>("platform_key") {
                global.platform_key = keys.cloned().collect();
            }
        }
        if let Some(v) = path("apiv3_key_file") {
            global.apiv3_key_file = Some(v);
        }
        if let Some(v) = path("secret_file") {
            global.secret_file = Some(v);
        }
        if let Some(v) = path("merchant_cert_file") {
            global.merchant_cert_file = Some(v);
        }
        if let Some(v) = text("base_uri") {
            global.base_uri = Some(v);
        }
        if let Some(v) = path("root_certificate_file") {
            global.root_certificate_file = Some(v);
        }
        if given("allow_insecure_http") {
            global.allow_insecure_http = true;
        }
        level = sub.subcommand();
    }
}
