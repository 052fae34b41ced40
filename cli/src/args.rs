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

/// Merchant settings, available on every subcommand.
#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// The TOML file of profiles [env: WECHATPAY_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The profile to use: [profile.NAME] [env: WECHATPAY_PROFILE] [default: default]
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Merchant id [env: WECHATPAY_MCHID]
    #[arg(long, global = true)]
    pub mchid: Option<String>,
    /// Merchant API certificate serial [env: WECHATPAY_SERIAL]
    #[arg(long, global = true)]
    pub serial: Option<String>,
    /// Merchant private key file (apiclient_key.pem) [env: WECHATPAY_PRIVATE_KEY_FILE, or the PEM in WECHATPAY_PRIVATE_KEY; the passphrase of a protected key in WECHATPAY_PRIVATE_KEY_PASSPHRASE]
    #[arg(long, global = true, value_name = "FILE")]
    pub private_key_file: Option<PathBuf>,
    /// A platform certificate or WeChat Pay public key, ID=PATH (repeatable) [env: WECHATPAY_PLATFORM_KEYS, comma-separated]
    #[arg(long, global = true, value_name = "ID=PATH", value_parser = platform_key_arg)]
    pub platform_key: Vec<(String, PathBuf)>,
    /// APIv3 key file [env: WECHATPAY_APIV3_KEY_FILE, or the key in WECHATPAY_APIV3_KEY]
    #[arg(long, global = true, value_name = "FILE")]
    pub apiv3_key_file: Option<PathBuf>,
    /// APIv2 secret file [env: WECHATPAY_SECRET_FILE, or the secret in WECHATPAY_SECRET]
    #[arg(long, global = true, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Merchant certificate (apiclient_cert.pem) for APIv2 mutual TLS [env: WECHATPAY_MERCHANT_CERT_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    pub merchant_cert_file: Option<PathBuf>,
    /// Base URI [env: WECHATPAY_BASE_URI] [default: https://api.mch.weixin.qq.com/]
    #[arg(long, global = true, value_name = "URI")]
    pub base_uri: Option<String>,
    /// An extra trusted root certificate for the server's TLS [env: WECHATPAY_ROOT_CERTIFICATE_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    pub root_certificate_file: Option<PathBuf>,
    /// Accept a plain http base URI (a local test server such as `wxpay sandbox`): the signed Authorization header and the bodies then travel in clear [env: WECHATPAY_ALLOW_INSECURE_HTTP=true]
    #[arg(long, global = true)]
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
    /// Run the offline sandbox in the foreground and print the profile to use with it.
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
    /// Ask for the gzip-compressed file (it is decompressed as it arrives)
    #[arg(long)]
    pub gzip: bool,
    /// The file to write
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Args, Debug)]
pub struct SandboxArgs {
    /// The port to listen on (default: a free one)
    #[arg(long)]
    pub port: Option<u16>,
    /// Load the keys from DIR, or generate them there (reproducible runs)
    #[arg(long, value_name = "DIR")]
    pub keys: Option<PathBuf>,
}
