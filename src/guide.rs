//! The guides: how to do each thing with this crate, from a payment to a callback, with
//! examples that are compiled (and most run) as this crate's tests.
//!
//! | guide | what it covers |
//! |---|---|
//! | [`pay`] | the parameters `wx.requestPayment` and the APP SDK need, signed |
//! | [`callbacks`] | WeChat Pay's notifications: verify, decrypt, de-duplicate, answer |
//! | [`sensitive_fields`] | encrypting fields for WeChat Pay, decrypting its fields |
//! | [`media`] | image and video uploads |
//! | [`bills`] | trade and fund-flow bills, statements: streamed, gunzipped, digests checked |
//! | [`keyring`] | platform keys that manage themselves: download, rotation, trust |
//! | [`apiv2`] | the legacy XML API: signing, mutual TLS, answers bound to their request |
//! | [`api`] | the catalogue of every operation and the typed models |
//! | [`crypto`] | the keys, certificates and ciphers underneath |
//! | [`architecture`] | the layers, and the one direction of the data |
//! | [`reliability`] | failover, retries, limits, replays: what the client guarantees |
//! | [`observability`] | the `tracing` spans of requests and callbacks, to logs and OpenTelemetry |
//! | [`deployment`] | one node or many: the state that crosses nodes, shared through Redis |
//!
//! The command line (`wxpay`), the sandbox and the benchmarks have their own pages in the
//! repository: [docs/cli.md], [sandbox/README.md], [docs/performance.md].
//!
//! [docs/cli.md]: https://github.com/wechatpay-rs/wechatpay-rs/blob/main/docs/cli.md
//! [sandbox/README.md]: https://github.com/wechatpay-rs/wechatpay-rs/blob/main/sandbox/README.md
//! [docs/performance.md]: https://github.com/wechatpay-rs/wechatpay-rs/blob/main/docs/performance.md

/// The guide's page, its links made rustdoc's by the build script.
macro_rules! guide {
    ($module:ident, $file:literal) => {
        #[doc = include_str!(concat!(env!("OUT_DIR"), "/guide/", $file))]
        pub mod $module {}
    };
}

guide!(pay, "pay.md");
guide!(callbacks, "callbacks.md");
guide!(sensitive_fields, "sensitive-fields.md");
guide!(media, "media.md");
guide!(bills, "bills.md");
guide!(keyring, "keyring.md");
guide!(apiv2, "apiv2.md");
guide!(api, "api.md");
guide!(crypto, "crypto.md");
guide!(architecture, "architecture.md");
guide!(reliability, "reliability.md");
guide!(observability, "observability.md");
guide!(deployment, "deployment.md");
