//! An offline imitation of the WeChat Pay API on 127.0.0.1, for testing WeChat Pay clients.
//!
//! The sandbox checks every request with its own OpenSSL code, exactly as WeChat Pay does
//! (the APIv3 `Authorization` signature over the raw target and body, the APIv2 `sign`, the
//! client certificate of mutual-TLS calls), and signs its answers with a platform certificate
//! or a WeChat Pay public key it generated. It never calls the `wechatpay` crate's signing or
//! verification code, so it is an independent check of that client; it uses `wechatpay` only
//! to build the ready-made [`Sandbox::client`].
//!
//! ```no_run
//! use serde_json::json;
//! use wechatpay_sandbox::{Fault, Sandbox};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = Sandbox::start()?;
//! let client = sandbox.client();
//! let mchid = &sandbox.identity().mchid;
//! let answer = client["v3/pay/transactions/native"].post(json!({
//!     "json": {
//!         "appid": "wxd678efh567hg6787", "mchid": mchid, "description": "Image形象店-深圳腾大-QQ公仔",
//!         "out_trade_no": "1217752501201407033233368018", "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
//!         "amount": { "total": 100, "currency": "CNY" },
//!     },
//! }))?;
//! println!("{}", answer.json::<serde_json::Value>()?["code_url"]);
//!
//! // The next answers fail the client's checks:
//! sandbox.set_fault(Some(Fault::BadSignature));
//! # Ok(()) }
//! ```
//!
//! Routes, faults, the request log, callbacks and scripted answers: see [`Sandbox`], [`Fault`],
//! [`LoggedRequest`], [`Sandbox::pay`], [`Sandbox::deliveries`], [`Sandbox::notify`] and
//! [`Sandbox::script`]; the control API for other tools and languages: [`CONTROL_PREFIX`].

#![deny(missing_docs)]
#![deny(unsafe_code)]

mod answer;
mod auth;
mod closing;
mod control;
mod counters;
mod deliveries;
mod dispatch;
mod error;
mod faults;
mod identity;
mod log;
mod multipart;
mod notify;
mod profile;
mod reply;
mod routes;
mod script;
mod server;
mod sign;
mod state;
mod store;
mod tls;
mod util;
mod v2;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use tokio::sync::oneshot;

pub use answer::{Answer, V2SignType};
pub use auth::MAX_CLOCK_SKEW;
pub use control::CONTROL_PREFIX;
pub use counters::Counters;
pub use deliveries::{Delivery, DeliveryOutcome, MAX_LOGGED_DELIVERIES, RETRY_SCHEDULE};
pub use error::{Error, Result};
pub use faults::{
    DEFAULT_CLOSE_AFTER_REPLY, DEFAULT_SLOW_REPLY, FAULT_HEADER, Fault, NOT_BASE64_SIGNATURE,
    SIGN_MODE_HEADER, SignMode, SignatureHeader, UNKNOWN_CERTIFICATE_SERIAL, UNKNOWN_PUBLIC_KEY_ID,
};
pub use identity::{Identity, PlatformPrivateKeys};
pub use log::LoggedRequest;
pub use notify::{Event, NotifyVariant};
pub use sign::{SCHEME, request_message, response_message};

use identity::KeyMaterial;
use state::State;

/// How long a connection may wait for a request's headers unless
/// [`SandboxBuilder::header_read_timeout`] says otherwise: an idle keep-alive connection is
/// closed after that long.
pub const DEFAULT_HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Configures a [`Sandbox`] before it starts.
#[derive(Clone, Debug, Default)]
pub struct SandboxBuilder {
    keys_dir: Option<PathBuf>,
    port: Option<u16>,
    /// `None`: [`DEFAULT_HEADER_READ_TIMEOUT`].
    header_read_timeout: Option<Option<std::time::Duration>>,
    auto_pay: Option<std::time::Duration>,
    /// `None`: 1.
    callback_time_scale: Option<f64>,
}

impl SandboxBuilder {
    /// Keep the keys in `dir`: loaded from it when it holds a `sandbox.json`, else generated
    /// and written there (private keys with mode 0600), so that later runs have the same
    /// identity. Without it, keys are generated once per process and shared by every sandbox
    /// of the process.
    pub fn keys_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.keys_dir = Some(dir.into());
        self
    }

    /// Listens for APIv3 and plain APIv2 on this port of 127.0.0.1 (default: a free one). The
    /// mutual-TLS port is always a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// How long a connection may wait for the headers of its next request, on either port
    /// (default [`DEFAULT_HEADER_READ_TIMEOUT`], 30 seconds): the time a keep-alive connection
    /// may stay idle between requests, and the time a client has to send a request's headers.
    /// Past it the sandbox closes the connection, as servers do. `None`: no limit, connections
    /// stay open until the client closes them (a benchmark whose pooled connections idle for
    /// a while, say).
    pub fn header_read_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
        self.header_read_timeout = Some(timeout);
        self
    }

    /// Pays every order placed through `POST /v3/pay/transactions/{jsapi,native,app}` this
    /// long after it was placed (unless it was closed or paid meanwhile), then sends its
    /// `TRANSACTION.SUCCESS` callback to its `notify_url`, as a payer who pays at once would
    /// make WeChat Pay do. Default: orders stay `NOTPAY` until [`Sandbox::pay`]. See also
    /// [`Sandbox::set_auto_pay`].
    pub fn auto_pay(mut self, delay: std::time::Duration) -> Self {
        self.auto_pay = Some(delay);
        self
    }

    /// Multiplies the waits between callback retries ([`RETRY_SCHEDULE`], 24 h 4 min in all)
    /// by `scale`: with `0.001` the whole schedule takes about 87 s. Default 1, production's
    /// schedule. A finite number above 0, else [`start`](Self::start) returns an
    /// [`Error::InvalidArgument`]. See also [`Sandbox::set_callback_time_scale`].
    pub fn callback_time_scale(mut self, scale: f64) -> Self {
        self.callback_time_scale = Some(scale);
        self
    }

    /// Starts the sandbox: its own thread and Tokio runtime, two free ports on 127.0.0.1.
    /// Usable from anywhere, including async code (it does not block on a runtime), though
    /// [`start_async`](Self::start_async) keeps key generation off the async threads.
    pub fn start(self) -> Result<Sandbox> {
        let time_scale = self
            .callback_time_scale
            .map(deliveries::check_time_scale)
            .transpose()?;
        let keys = match &self.keys_dir {
            Some(dir) => Arc::new(KeyMaterial::load_or_generate(dir)?),
            None => KeyMaterial::shared()?,
        };
        let header_read_timeout = self
            .header_read_timeout
            .unwrap_or(Some(DEFAULT_HEADER_READ_TIMEOUT));
        let sandbox = Sandbox::launch(keys, self.port.unwrap_or(0), header_read_timeout)?;
        if let Some(scale) = time_scale {
            sandbox.state.callbacks.set_time_scale(scale)?;
        }
        sandbox.state.callbacks.set_auto_pay(self.auto_pay);
        Ok(sandbox)
    }

    /// [`start`](Self::start) on a blocking thread of the caller's Tokio runtime.
    pub async fn start_async(self) -> Result<Sandbox> {
        tokio::task::spawn_blocking(move || self.start())
            .await
            .map_err(|e| Error::Runtime(format!("starting the sandbox failed: {e}")))?
    }
}

/// A running imitation of WeChat Pay. Dropping it stops its server.
///
/// APIv3 on [`base_uri`](Self::base_uri) (every answer signed, except bill downloads):
///
/// | route | answer |
/// |---|---|
/// | `POST /v3/merchant-service/complaints-v2/{id}/response`, `POST /v3/global/merchant-service/complaints/{id}/response` | 204 |
/// | `POST /v3/pay/transactions/{jsapi,native,app}` | `{"prepay_id"}` / `{"code_url"}` |
/// | `GET /v3/pay/transactions/id/{transaction_id}?mchid=`, `GET /v3/pay/transactions/out-trade-no/{no}?mchid=` | the order, or 404 `ORDER_NOT_EXIST` |
/// | `POST /v3/pay/transactions/out-trade-no/{no}/close` | 204 |
/// | `POST /v3/refund/domestic/refunds`, `GET /v3/refund/domestic/refunds/{out_refund_no}` | the refund |
/// | `GET /v3/certificates` | every unexpired platform certificate, encrypted with the APIv3 key (see [`Sandbox::rotate_platform_certificate`]; [`Sandbox::sign_certificate_list_with`] adds and signs with a certificate of any validity) |
/// | `POST /v3/merchant/media/upload` (multipart) | `{"media_id"}` |
/// | `GET /v3/bill/tradebill?bill_date=` then `GET /v3/billdownload/file?token=` | the bill's hash and URL, then the CSV (gzip with `tar_type=GZIP`), unsigned |
///
/// Paying an order sends its `TRANSACTION.SUCCESS` callback to its `notify_url` ([`pay`](Self::pay),
/// [`SandboxBuilder::auto_pay`]), a refund with a `notify_url` its `REFUND.SUCCESS`, retried
/// on WeChat Pay's schedule ([`RETRY_SCHEDULE`]) and logged ([`deliveries`](Self::deliveries)).
/// `/sandbox/...` is the control API ([`control_uri`](Self::control_uri)).
///
/// Those are the routes that keep state. **Every other operation of the WeChat Pay catalogue**
/// (`wechatpay::catalogue`: 1,017 APIv3 and 136 APIv2 operations) answers too: validated as
/// WeChat Pay validates it, then answered with its documented status and the catalogue's
/// example answer, the request's own identifiers echoed (see the crate's README, "Every
/// operation").
///
/// A request whose signature fails gets 401 `SIGN_ERROR`; a missing field, a wrong type, an
/// unknown enum value, a malformed parameter, a field that does not decrypt 400 `PARAM_ERROR`
/// with `detail {field, location, value, issue}`; a path the catalogue does not have, under
/// `/v3` or not, a signed 404 `NOT_FOUND`. APIv2 (XML): `POST /pay/micropay` and
/// `/pay/orderquery` keep state on both ports, `POST /secapi/pay/refund` on the mutual-TLS
/// port ([`Identity::tls_base_uri`]), and every other APIv2 operation answers from the
/// catalogue. A test can answer requests itself, after the sandbox's checks:
/// [`script`](Self::script).
pub struct Sandbox {
    state: Arc<State>,
    identity: Identity,
    /// Built on first use: it costs more than the rest of a start.
    client: OnceLock<wechatpay::Client>,
    runtime: tokio::runtime::Handle,
    shutdown: Option<oneshot::Sender<()>>,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Sandbox>();
    assert_send_sync::<Identity>();
    assert_send_sync::<LoggedRequest>();
};

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_uri", &self.state.base_uri)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// A builder, for [`keys_dir`](SandboxBuilder::keys_dir).
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// Starts a sandbox with the process's generated keys ([`SandboxBuilder::start`]).
    pub fn start() -> Result<Sandbox> {
        SandboxBuilder::default().start()
    }

    /// Starts a sandbox from async code ([`SandboxBuilder::start_async`]).
    pub async fn start_async() -> Result<Sandbox> {
        SandboxBuilder::default().start_async().await
    }

    fn launch(
        keys: Arc<KeyMaterial>,
        port: u16,
        header_read_timeout: Option<std::time::Duration>,
    ) -> Result<Sandbox> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listen = |address: String| {
            std::net::TcpListener::bind(&address)
                .map_err(|source| Error::Listen { address, source })
        };
        let plain = listen(format!("127.0.0.1:{port}"))?;
        let tls = listen("127.0.0.1:0".to_owned())?;
        plain.set_nonblocking(true)?;
        tls.set_nonblocking(true)?;
        let base_uri = format!("http://{}/", plain.local_addr()?);
        let tls_base_uri = format!("https://{}/", tls.local_addr()?);
        let (plain, tls) = {
            let _entered = runtime.enter();
            (
                tokio::net::TcpListener::from_std(plain)?,
                tokio::net::TcpListener::from_std(tls)?,
            )
        };
        // The WeChat Pay catalogue every request is checked against, read now rather than by
        // the first request (docs/performance.md: its share of the start-up and the memory).
        let _ = wechatpay::catalogue::get();
        let acceptor = tls::acceptor(&keys)?;
        let identity = keys.identity(tls_base_uri)?;
        let mut state = State::new(keys, base_uri)?;
        state.header_read_timeout = header_read_timeout;
        let state = Arc::new(state);
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let handle = runtime.handle().clone();
        state.callbacks.attach(&state, handle.clone());
        let task_state = Arc::clone(&state);
        std::thread::Builder::new()
            .name("wechatpay-sandbox".into())
            .spawn(move || {
                runtime.block_on(server::run(plain, tls, acceptor, task_state, shutdown_rx));
                // Dropping the runtime here ends every connection.
                drop(runtime);
            })?;
        Ok(Sandbox {
            state,
            identity,
            client: OnceLock::new(),
            runtime: handle,
            shutdown: Some(shutdown_tx),
        })
    }

    /// `http://127.0.0.1:PORT/`: the APIv3 and plain APIv2 port.
    pub fn base_uri(&self) -> &str {
        &self.state.base_uri
    }

    /// `http://127.0.0.1:PORT/sandbox/`: the control API, unsigned JSON on the same port
    /// (pay an order, send a callback, rotate the platform certificate, set faults, follow
    /// the log, reset): see the README's Control API section and [`CONTROL_PREFIX`].
    pub fn control_uri(&self) -> String {
        format!("{}{}", self.state.base_uri, &CONTROL_PREFIX[1..])
    }

    /// The merchant's and the platform's keys, the APIv3 and APIv2 keys, the CA.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// A `wechatpay` client configured with all of the identity: merchant id, certificate
    /// serial and private key, the platform certificate and the public key, the APIv3 key, the
    /// APIv2 secret, the merchant certificate for mutual TLS, the sandbox CA as a trusted root,
    /// and [`base_uri`](Self::base_uri), which is plain `http`: the client is built with
    /// `.allow_insecure_http(true)`, as a client of your own aimed at the sandbox must be. (A
    /// clone: cheap, shares the connection pool.) It is built on the first call, which takes a
    /// moment (a TLS configuration with the sandbox CA).
    ///
    /// # Panics
    ///
    /// If `wechatpay` refuses the identity (a [`keys_dir`](SandboxBuilder::keys_dir) holding
    /// keys it does not accept).
    pub fn client(&self) -> wechatpay::Client {
        self.client
            .get_or_init(|| {
                build_client(&self.identity, self.base_uri())
                    .unwrap_or_else(|e| panic!("the sandbox's wechatpay client: {e}"))
            })
            .clone()
    }

    /// Writes the identity's keys and certificates to `dir` (as WeChat Pay hands them out:
    /// `apiclient_key.pem`, `apiclient_cert.pem`, `pub_key.pem`, `wechatpay_<serial>.pem`, plus
    /// `apiv3_key.txt`, `apiv2_secret.txt` and the CA's `ca.pem`) and returns a `wxpay` profile
    /// (`[profile.sandbox]`, TOML) that uses them with this sandbox: `base_uri` is
    /// [`base_uri`](Self::base_uri), with `allow_insecure_http = true` (it is plain `http`), and
    /// `security_base_uri` the mutual-TLS port ([`Identity::tls_base_uri`], for APIv2 refunds).
    /// The platform certificate written is the identity's (not one added by
    /// [`rotate_platform_certificate`](Self::rotate_platform_certificate)).
    pub fn write_profile(&self, dir: &std::path::Path) -> Result<String> {
        profile::write(&self.identity, self.base_uri(), dir)
    }

    /// The requests received so far, oldest first, with the sandbox's verdict on each. The log
    /// keeps the last 1000 requests: older ones are dropped as new ones arrive.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.requests()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.state.clear_requests();
    }

    /// How many connections and requests (and refused requests) this sandbox served since it
    /// started: unlike [`requests`](Self::requests), for runs of any length, and never
    /// cleared. A benchmark's server, say, checks at the end that every request passed.
    ///
    /// ```no_run
    /// use serde_json::json;
    /// use wechatpay_sandbox::Sandbox;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sandbox = Sandbox::start()?;
    /// let client = sandbox.client();
    /// for _ in 0..3 {
    ///     client["v3/certificates"].get(json!({}))?;
    /// }
    /// let counters = sandbox.counters();
    /// assert_eq!((counters.requests, counters.refused), (3, 0));
    /// assert_eq!(counters.connections, 1); // one keep-alive connection
    /// # Ok(()) }
    /// ```
    pub fn counters(&self) -> Counters {
        self.state.counters.snapshot()
    }

    /// Lets `script` choose the answers from now on (replacing any previous script): it is
    /// called with every request that passes the sandbox's own checks, before the routes, and
    /// its [`Answer`] is sent; `None` leaves the request to the routes, as without a script.
    ///
    /// A request that fails the checks never reaches it and is answered as always (401
    /// `SIGN_ERROR` for a bad APIv3 signature, `return_code` FAIL `签名错误` for a bad APIv2
    /// sign); every request is logged with its verdict ([`requests`](Self::requests)), the one
    /// the script sees included. With a script, every path can reach it, not only the
    /// sandbox's routes: a path outside `/v3` is checked as APIv3 when it carries an
    /// `Authorization` header (a base URI with a path prefix) and as APIv2 otherwise, on either
    /// port; a `GET` without a body carries its APIv2 fields in the query. A path the script
    /// leaves to the sandbox and that the sandbox does not serve gets the signed 404
    /// `NOT_FOUND` (verdict `no such API: ..`).
    ///
    /// The faults of the request ([`set_fault`](Self::set_fault),
    /// [`set_route_fault`](Self::set_route_fault), `Sandbox-Fault`) apply to the script's
    /// answer on top of its own ([`Answer::fault`]), and a `server-error` fault answers before
    /// the script. A script that panics gets its request a signed APIv3 500 `SCRIPT_PANICKED`
    /// (an APIv2 request: a 500 `return_code` FAIL) naming the panic.
    ///
    /// The script runs on the sandbox's thread, one request at a time: it must not wait for
    /// another request to this sandbox.
    ///
    /// ```no_run
    /// use serde_json::json;
    /// use wechatpay_sandbox::{Answer, Fault, Sandbox};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sandbox = Sandbox::start()?;
    /// sandbox.script(|request| {
    ///     (request.path() == "/v3/pay/transactions/id/42").then(|| {
    ///         Answer::json(200, &json!({ "trade_state": "SUCCESS" })).fault(Fault::WrongKey)
    ///     })
    /// });
    /// let error = sandbox.client()["v3/pay/transactions/id/42"].get(json!({}));
    /// assert!(error.is_err());
    /// sandbox.clear_script();
    /// # Ok(()) }
    /// ```
    pub fn script<F>(&self, script: F)
    where
        F: Fn(&LoggedRequest) -> Option<Answer> + Send + Sync + 'static,
    {
        self.state.set_script(Some(Arc::new(script)));
    }

    /// Removes the script: the routes answer everything again.
    pub fn clear_script(&self) {
        self.state.set_script(None);
    }

    /// The private keys the sandbox signs with as WeChat Pay, for tests that play WeChat Pay
    /// themselves (a callback signed by hand, say): the first platform certificate's and the
    /// WeChat Pay public key's. (Like the identity, they are shared by the sandboxes of the
    /// process unless a [`keys_dir`](SandboxBuilder::keys_dir) is used.)
    pub fn platform_private_keys(&self) -> Result<PlatformPrivateKeys> {
        self.state.keys.platform_private_keys()
    }

    /// Applies `fault` to every answer from now on (`None`: no fault). A fault set for the
    /// request's path with [`set_route_fault`](Self::set_route_fault) overrides it, and a
    /// `Sandbox-Fault` request header overrides both for that request.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.state.set_fault(fault);
    }

    /// Applies `fault` to the answers to requests whose path (without the query) is `path`,
    /// e.g. `"/v3/certificates"` (a path without the leading `/` gets one), whatever the
    /// global fault ([`set_fault`](Self::set_fault)); `None` removes the route's fault, so that
    /// the global one applies again. The path is compared as received, byte for byte (percent
    /// escapes and all). A `Sandbox-Fault` request header still wins.
    ///
    /// For example, to tamper only with the certificate list, or to make only it slow:
    /// `sandbox.set_route_fault("/v3/certificates", Some(Fault::SlowReply(Duration::from_secs(3))))`.
    pub fn set_route_fault(&self, path: &str, fault: Option<Fault>) {
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        self.state.set_route_fault(path, fault);
    }

    /// Signs answers and callbacks with this key from now on (default
    /// [`SignMode::PublicKey`]; [`SignMode::Both`] signs each answer with the key the request's
    /// `Wechatpay-Serial` names). A `Sandbox-Sign-Mode` request header overrides it for that
    /// request. `GET /v3/certificates` is signed with a platform certificate in every mode.
    pub fn set_sign_mode(&self, mode: SignMode) {
        self.state.set_sign_mode(mode);
    }

    /// Makes `/v3/certificates` answer 404 `RESOURCE_NOT_EXISTS`, as WeChat Pay does for a
    /// merchant that only has a WeChat Pay public key (`true`), or list the platform
    /// certificates again (`false`, the default).
    pub fn set_public_key_only(&self, on: bool) {
        self.state.set_public_key_only(on);
    }

    /// Signs `GET /v3/certificates` (in [`SignMode::Certificate`]) with the newest unexpired
    /// certificate (`true`), as WeChat Pay does once it has switched to a new certificate, or
    /// with the oldest (`false`, the default; see
    /// [`rotate_platform_certificate`](Self::rotate_platform_certificate)). A client that
    /// slept through the overlap then meets a list signed by a certificate it does not have.
    pub fn sign_certificate_list_with_newest(&self, on: bool) {
        self.state.set_list_signed_by_newest(on);
    }

    /// Issues a new platform certificate, as WeChat Pay does before the current one expires,
    /// and returns its serial (40 uppercase hex digits). It has a new RSA key, is issued by
    /// the sandbox CA like the first one, and is valid from a minute ago until `valid_for`
    /// from now.
    ///
    /// From then on, in [`SignMode::Certificate`], answers and callbacks are signed with the
    /// newest unexpired platform certificate, and `GET /v3/certificates` lists every unexpired
    /// one (oldest first), each encrypted under the APIv3 key. The list itself is signed with
    /// the *oldest* unexpired certificate: trust continuity, so that a client that only knows
    /// the previous certificate can verify the list that introduces the new one, then verify
    /// the answers signed with the new one. An expired certificate (the clock past its
    /// `notAfter`) is no longer listed and never signs. In [`SignMode::PublicKey`] everything
    /// is still signed with the WeChat Pay public key (the certificate list with a certificate).
    ///
    /// [`identity`](Self::identity) and [`client`](Self::client) keep the first certificate
    /// only (a client has to fetch the new one); see
    /// [`platform_certificates`](Self::platform_certificates). Rotated certificates live in
    /// this sandbox's memory only (not in a [`keys_dir`](SandboxBuilder::keys_dir)).
    /// Generating the RSA key takes a moment: from async code, consider
    /// `tokio::task::spawn_blocking`.
    pub fn rotate_platform_certificate(&self, valid_for: std::time::Duration) -> Result<String> {
        control::rotate(&self.state, valid_for)
    }

    /// Issues a platform certificate valid from `not_before` to `not_after`, which may both
    /// be in the past (a certificate that has expired) or in the future, and returns its
    /// serial. Otherwise as [`rotate_platform_certificate`](Self::rotate_platform_certificate):
    /// a new RSA key, issued by the sandbox CA, kept in memory; until its `notAfter` it is
    /// listed and, as the newest, signs in [`SignMode::Certificate`] (whatever its
    /// `notBefore`); once expired (or issued expired) it is neither listed nor used, unless
    /// [`sign_certificate_list_with`](Self::sign_certificate_list_with) names it.
    ///
    /// An [`Error::InvalidArgument`] when `not_after` is before `not_before` or either is
    /// before 1970.
    pub fn issue_platform_certificate(
        &self,
        not_before: std::time::SystemTime,
        not_after: std::time::SystemTime,
    ) -> Result<String> {
        let unix = |time: std::time::SystemTime, name: &str| {
            time.duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .map_err(|_| Error::InvalidArgument(format!("{name} is before 1970")))
        };
        let (from, until) = (
            unix(not_before, "not_before")?,
            unix(not_after, "not_after")?,
        );
        if until < from {
            return Err(Error::InvalidArgument(
                "not_after is before not_before".to_owned(),
            ));
        }
        let (serial, cert, key) = self.state.keys.issue_platform_certificate(from, until)?;
        self.state
            .add_platform_certificate(state::PlatformCertificate::new(serial.clone(), cert, key)?);
        Ok(serial)
    }

    /// Signs `GET /v3/certificates` (in [`SignMode::Certificate`]) with the platform
    /// certificate `serial` from now on, and lists that certificate whatever its validity:
    /// what no WeChat Pay server does with an expired certificate, but what a client must be
    /// ready for (a server that kept using a certificate past its `notAfter`, or someone who
    /// got hold of an old certificate's key and the list). It takes precedence over
    /// [`sign_certificate_list_with_newest`](Self::sign_certificate_list_with_newest);
    /// answers and callbacks are still signed with the newest unexpired certificate. `None`
    /// goes back to the default signer. An [`Error::InvalidArgument`] for a serial this
    /// sandbox has not issued (see [`platform_certificates`](Self::platform_certificates)).
    ///
    /// ```no_run
    /// use std::time::{Duration, SystemTime};
    /// use wechatpay_sandbox::{Sandbox, SignMode};
    ///
    /// # fn main() -> wechatpay_sandbox::Result<()> {
    /// let sandbox = Sandbox::start()?;
    /// sandbox.set_sign_mode(SignMode::Certificate);
    /// let day = Duration::from_secs(86_400);
    /// let now = SystemTime::now();
    /// // Valid for a month, expired yesterday.
    /// let expired = sandbox.issue_platform_certificate(now - 31 * day, now - day)?;
    /// sandbox.sign_certificate_list_with(Some(&expired))?;
    /// // A client must refuse the list: it is signed by a certificate that is no longer valid.
    /// # Ok(()) }
    /// ```
    pub fn sign_certificate_list_with(&self, serial: Option<&str>) -> Result<()> {
        self.state.set_list_signer(serial)
    }

    /// `(serial, PEM)` of every platform certificate, oldest first: the identity's, then those
    /// of [`rotate_platform_certificate`](Self::rotate_platform_certificate), expired ones
    /// included.
    pub fn platform_certificates(&self) -> Vec<(String, String)> {
        self.state
            .platform_certificates()
            .into_iter()
            .map(|c| (c.serial, c.pem))
            .collect()
    }

    /// Marks the order `out_trade_no` paid, as if the payer had paid; its transaction id, or
    /// `None` for an unknown order. Paying a paid order again changes nothing and returns the
    /// same id.
    ///
    /// When the order was placed through APIv3 (with a `notify_url`) and was not paid yet,
    /// its `TRANSACTION.SUCCESS` callback is then sent to that `notify_url`, in the
    /// background, with WeChat Pay's retries ([`RETRY_SCHEDULE`]) until the receiver
    /// answers 200 or 204. Every attempt shows in [`deliveries`](Self::deliveries), which is
    /// how a test waits for it. Only an `http://` URL is delivered; any other is logged as
    /// [`DeliveryOutcome::NotSent`].
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use serde_json::json;
    /// use wechatpay_sandbox::{DeliveryOutcome, Sandbox};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sandbox = Sandbox::start()?;
    /// sandbox.client()["v3/pay/transactions/native"].post(json!({ "json": {
    ///     "appid": "wxd678efh567hg6787", "mchid": sandbox.identity().mchid,
    ///     "description": "QQ公仔", "out_trade_no": "N-1",
    ///     "notify_url": "http://127.0.0.1:8080/wechatpay/notify", "amount": { "total": 1 },
    /// }}))?;
    /// let transaction_id = sandbox.pay("N-1").expect("the order exists");
    /// while sandbox.deliveries().is_empty() {
    ///     std::thread::sleep(Duration::from_millis(10));
    /// }
    /// let first = &sandbox.deliveries()[0];
    /// assert_eq!(first.event_type, "TRANSACTION.SUCCESS");
    /// println!("{transaction_id}: {}", first.outcome); // e.g. HTTP 200
    /// # Ok(()) }
    /// ```
    pub fn pay(&self, out_trade_no: &str) -> Option<String> {
        let (id, newly) = deliveries::pay_order(&self.state, out_trade_no)?;
        if newly {
            self.state.callbacks.order_paid(out_trade_no);
        }
        Some(id)
    }

    /// Pays every order placed from now on `delay` after it was placed, then sends its
    /// callback ([`SandboxBuilder::auto_pay`]); `None` turns it off (orders placed before keep
    /// their schedule, unless [`reset`](Self::reset)).
    pub fn set_auto_pay(&self, delay: Option<std::time::Duration>) {
        self.state.callbacks.set_auto_pay(delay);
    }

    /// Scales the waits between callback retries from now on
    /// ([`SandboxBuilder::callback_time_scale`]); an [`Error::InvalidArgument`] unless `scale`
    /// is finite and above 0. A wait under way keeps its length.
    pub fn set_callback_time_scale(&self, scale: f64) -> Result<()> {
        self.state.callbacks.set_time_scale(scale)
    }

    /// Every callback delivery attempt so far, oldest first: the order and refund callbacks
    /// with their retries, and the one-off [`notify`](Self::notify) deliveries. The log keeps
    /// the last [`MAX_LOGGED_DELIVERIES`] attempts.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.callbacks.deliveries()
    }

    /// Forgets the delivery attempts so far (retries under way go on, and are logged).
    pub fn clear_deliveries(&self) {
        self.state.callbacks.clear_log();
    }

    /// Back to a fresh start, for the next test on the same sandbox: forgets every order,
    /// refund, bill and upload, the request and delivery logs, the global and route faults,
    /// and cancels the pending auto-payments and callback retries. The identity, the platform
    /// certificates, the sign mode, the script, the auto-pay delay and the time scale stay.
    pub fn reset(&self) {
        control::reset(&self.state);
    }

    /// POSTs a callback for `event` to `url` (`http://` only), signed with the current
    /// [`SignMode`] and spoiled as the event's [`NotifyVariant`] says; returns the receiver's
    /// HTTP status. Blocks: from async code use [`notify_async`](Self::notify_async) (this
    /// returns [`Error::BlockingInRuntime`] on a Tokio runtime thread).
    pub fn notify(&self, url: &str, event: Event) -> Result<u16> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::BlockingInRuntime("Sandbox::notify"));
        }
        let (tx, rx) = oneshot::channel();
        self.runtime.spawn(self.one_off(url, event, tx));
        rx.blocking_recv()
            .map_err(|_| Error::Runtime("the sandbox stopped during the delivery".into()))?
    }

    /// [`notify`](Self::notify) for async code.
    pub async fn notify_async(&self, url: &str, event: Event) -> Result<u16> {
        let (tx, rx) = oneshot::channel();
        self.runtime.spawn(self.one_off(url, event, tx));
        rx.await
            .map_err(|_| Error::Runtime("the sandbox stopped during the delivery".into()))?
    }

    /// The task of a [`notify`](Self::notify): one attempt, logged.
    fn one_off(
        &self,
        url: &str,
        event: Event,
        tx: oneshot::Sender<Result<u16>>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let state = Arc::clone(&self.state);
        let url = url.to_owned();
        async move {
            let at = std::time::SystemTime::now();
            let mode = state.settings().sign_mode;
            let (notification, prepared) = match notify::prepare(&state, &url, &event, mode) {
                Ok(pair) => pair,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let result = notify::deliver(prepared).await;
            let outcome = match &result {
                Ok(status) => DeliveryOutcome::Status(*status),
                Err(Error::Notify(reason)) => DeliveryOutcome::Failed(reason.clone()),
                Err(other) => DeliveryOutcome::Failed(other.to_string()),
            };
            state
                .callbacks
                .record_one_off(&state, url, &notification, at, outcome);
            let _ = tx.send(result);
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn build_client(identity: &Identity, base_uri: &str) -> Result<wechatpay::Client> {
    Ok(wechatpay::Client::builder()
        .mchid(&identity.mchid)
        .serial(&identity.merchant_serial)
        .private_key(&identity.merchant_private_key_pem)
        .platform_key(
            &identity.platform_serial,
            &identity.platform_certificate_pem,
        )
        .platform_key(&identity.public_key_id, &identity.public_key_pem)
        .apiv3_key(&identity.apiv3_key)
        .secret(&identity.apiv2_secret)
        .merchant_cert(&identity.merchant_certificate_pem)
        .merchant_key(&identity.merchant_private_key_pem)
        .add_root_certificate(&identity.ca_certificate_pem)
        .base_uri(base_uri)
        .allow_insecure_http(true)
        .build()?)
}

/// The README's example, compiled as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
