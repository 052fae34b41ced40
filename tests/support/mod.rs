//! Test support for the `wechatpay` crate: key material and an in-process
//! HTTP server on 127.0.0.1 that plays WeChat Pay APIv3. The server verifies
//! every request's signature with its own code (openssl, not the crate under
//! test) and signs its replies with the platform keys.
#![allow(dead_code)]

mod callback;
mod client;
mod keys;
mod offline;
mod receiver;
mod server;
mod tls;
mod v2server;

// Test binaries use only part of these re-exports.
#[allow(unused_imports)]
pub use callback::{APIV3_KEY, Callback, CallbackSpec, payment_resource, seal, signed};
#[allow(unused_imports)]
pub use client::{builder, client, identity};
#[allow(unused_imports)]
pub use keys::{MCHID, PUB_KEY_ID, TestKeys, keys, now_unix, random_alnum, random_hex_upper};
#[allow(unused_imports)]
pub use offline::{OFFLINE_PUB_KEY_ID, certificate, offline_client};
#[allow(unused_imports)]
pub use receiver::receiver;
#[allow(unused_imports)]
pub use server::{
    AUTH_SCHEME, AuthInfo, BAD_SIGNATURE, Fault, MAX_CLOCK_SKEW_SECS, Part, Recorded, Reply,
    Signer, TestServer, UNKNOWN_SERIAL, multipart_parts, request_message, response_message,
    rsa_sha256_sign, rsa_sha256_verify, verify_request,
};
#[allow(unused_imports)]
pub use tls::{Pair, TlsMaterial, tls};
#[allow(unused_imports)]
pub use v2server::{SECRET, V2Recorded, V2Reply, V2Server, parse_flat_xml, sign_fields};
