//! A client for the WeChat Pay APIs, with the chainable URI API of the PHP SDK
//! `wechatpay-php`.
//!
//! Every request is signed (`Authorization: WECHATPAY2-SHA256-RSA2048 ...`) and every response
//! verified (platform certificate or WeChat Pay public key, by `Wechatpay-Serial`) before you
//! see it, in blocking and async forms that share one pipeline:
//!
//! ```text
//! chain / index / chain! -> Endpoint (URI template)
//!   -> expand over the options (RFC 6570) -> prepare URL, headers, body   (pure)
//!   -> sign (Signer)                                                      (pure by default)
//!   -> send (reqwest; the only I/O)
//!   -> verify (Verifier) -> Response
//! ```
//!
//! One orchestrator runs that sequence for every request (calls, streamed bills, the key
//! ring's certificate downloads), with a policy for each kind; the [architecture guide](crate::guide::architecture) shows the
//! layers.
//!
//! # Four ways to the same endpoint
//!
//! ```no_run
//! use serde_json::json;
//! use wechatpay::{chain, Client};
//!
//! # async fn run() -> wechatpay::Result<()> {
//! let client = Client::builder()
//!     .mchid("1900012181")
//!     .serial("3775B6A45ACD588826D15E583A95F5DD********")
//!     .private_key_file("apiclient_key.pem")
//!     .platform_key_file("PUB_KEY_ID_0114232134912410000000000000", "pub_key.pem")
//!     .build()?;
//!
//! let opts = json!({
//!     "base_uri": "https://apihk.mch.weixin.qq.com/",
//!     "complaint_id": "200201820200101080076610000",
//!     "json": { "complainted_mchid": "1900012181", "response_content": "已与用户沟通解决" },
//! });
//!
//! // blocking (from code that is not async)
//! client.chain("v3/global/merchant-service/complaints/{complaint_id}/response").post(opts.clone())?;
//! client["v3/global/merchant-service/complaints/{complaint_id}/response"].post(opts.clone())?;
//! // async
//! client["v3"]["global"]["merchantService"]["complaints"]["_complaint_id_"]["response"]
//!     .post_async(opts.clone())
//!     .await?;
//! chain!(client.v3.global.merchantService.complaints._complaint_id_.response)
//!     .post_async(opts)
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Placeholders (`{complaint_id}`) are filled from the options by RFC 6570 (levels 1-4); a
//! missing path value is an error naming it, and values are percent-encoded exactly once, so
//! no value can change the path. See [`Options`] for the reserved option keys, [`Error`] for
//! what can go wrong.
//!
//! # Install
//!
//! ```sh
//! cargo add wechatpay-rs                                # the package; the library is `wechatpay`
//! cargo add wechatpay-rs --features api-pay,api-refund  # with the typed models of two areas
//! cargo add --dev wechatpay-sandbox                     # an offline WeChat Pay for your tests
//! ```
//!
//! # Typed or dynamic
//!
//! The chain reaches any path with any JSON; the typed models (`wechatpay::api`, one feature
//! per business area: `api-pay`, `api-refund`, ..., `api-all`) name every field of every
//! operation and decode the answer. Both send the same bytes through the same pipeline:
//!
//! ```no_run
//! # #[cfg(feature = "api-pay")]
//! # fn run(client: wechatpay::Client) -> wechatpay::Result<()> {
//! use serde_json::json;
//! use wechatpay::api::v3::pay::transactions::out_trade_no::by_out_trade_no as query;
//!
//! // Dynamic: JSON in, a verified response out.
//! let order: serde_json::Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
//!     .get(json!({ "out_trade_no": "1217752501201407033233368018", "query": { "mchid": "1230000109" } }))?
//!     .json()?;
//! // Typed: the request's fields checked by the compiler, the answer decoded.
//! let order = client.send(query::Request {
//!     out_trade_no: "1217752501201407033233368018".into(),
//!     mchid: "1230000109".into(),
//! })?;
//! println!("{:?}", order.trade_state);
//! # Ok(()) }
//! ```
//!
//! # Where to go next
//!
//! - [`guide`]: the guides (payments, callbacks, sensitive fields, media, bills, the key ring,
//!   APIv2, the typed models, crypto, the architecture, reliability), their examples compiled.
//! - [`Client`], [`ClientBuilder`], [`Endpoint`], [`Options`], [`Response`], [`Error`]: the
//!   core; [`notify`] for callbacks, [`keyring`] for platform keys, [`v2`] for APIv2,
//!   `wechatpay::catalogue` (feature `catalogue`) for the list of every operation.
//! - Features: `catalogue`, `checked-chain` (a misspelt `chain!` does not compile), and the
//!   typed models' `api-*`.
//! - The `wechatpay-sandbox` crate (an offline WeChat Pay that answers every operation) and the
//!   `wxpay` command line (`wechatpay-cli`).

#![deny(missing_docs)]
#![deny(unsafe_code)]
// docs.rs (`--cfg docsrs`, nightly) marks each item with the features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod api;
mod base_uri;
pub mod bill;
mod blocking;
mod bounded_cache;
#[cfg(feature = "catalogue")]
pub mod catalogue;
#[cfg(feature = "checked-chain")]
mod chain_check;
mod children;
mod client;
mod clock;
mod context;
pub mod crypto;
mod endpoint;
mod error;
mod failover;
pub mod guide;
mod json_pointer;
pub mod keyring;
mod macros;
mod media;
pub mod notify;
mod options;
pub mod pay;
mod per_runtime;
mod pipeline;
mod prepared;
mod redact;
mod refresh;
pub mod replay;
mod response;
mod retry;
#[cfg(feature = "redis")]
pub mod shared;
pub mod signature;
pub mod signer;
pub mod template;
mod template_cache;
mod transport;
mod user_agent;
pub mod v2;
mod verbs;
pub mod verifier;

pub use client::builder::ClientBuilder;
pub use client::{Client, DEFAULT_BASE_URI};
pub use endpoint::{Endpoint, normalize};
pub use error::{ApiError, Error, ErrorKind, Result, VerificationFailure};
pub use failover::{DEFAULT_BACKUP_BASE_URI, DEFAULT_COOLDOWN};
pub use media::Media;
pub use options::{Options, RESERVED_KEYS};
pub use prepared::PreparedRequest;
pub use response::Response;
pub use retry::RetryPolicy;
pub use transport::{DEFAULT_MAX_DOWNLOAD_SIZE, DEFAULT_MAX_RESPONSE_SIZE};
pub use user_agent::USER_AGENT;

pub use http::{Method, StatusCode};

#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "checked-chain")]
    pub use crate::chain_check::known_chain;

    /// `r#use` -> `use`, for [`chain!`](crate::chain!).
    pub fn strip_raw(ident: &'static str) -> &'static str {
        ident.strip_prefix("r#").unwrap_or(ident)
    }
}

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

// The guides of docs/ are rendered (and their examples run as doctests) by `guide`.
