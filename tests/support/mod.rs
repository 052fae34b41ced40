//! Test support for the `wechatpay` crate: the process's key material (the sandbox's
//! identity), the judge (an independent check of what the client sends), the sandbox-backed
//! test servers ([`scripted`]), and the older in-process servers still used by the tests not
//! yet moved to the sandbox ([`server`], [`v2server`]).
#![allow(dead_code)]

mod callback;
mod client;
pub mod judge;
pub mod judge_v2;
mod keys;
mod offline;
mod presigned;
mod receiver;
pub mod scripted;
mod server;
mod tls;
mod v2server;

// Test binaries use only part of these re-exports.
#[allow(unused_imports)]
pub use callback::{APIV3_KEY, Callback, CallbackSpec, payment_resource, seal, signed};
#[allow(unused_imports)]
pub use client::{Server, builder, client, identity};
#[allow(unused_imports)]
pub use judge::{
    AUTH_SCHEME, AuthInfo, MAX_CLOCK_SKEW_SECS, Part, multipart_parts, request_message,
    response_message, rsa_sha256_sign, rsa_sha256_verify, verify_request,
};
#[allow(unused_imports)]
pub use judge_v2::parse_flat_xml;
#[allow(unused_imports)]
pub use keys::{TestKeys, keys, mchid, now_unix, random_alnum, random_hex_upper};
#[allow(unused_imports)]
pub use offline::{OFFLINE_PUB_KEY_ID, certificate, offline_client};
#[allow(unused_imports)]
pub use presigned::PresignedServer;
#[allow(unused_imports)]
pub use receiver::receiver;
#[allow(unused_imports)]
pub use server::{BAD_SIGNATURE, Fault, Recorded, Reply, Signer, TestServer, UNKNOWN_SERIAL};
#[allow(unused_imports)]
pub use tls::{Pair, TlsMaterial, sandbox_merchant, stranger, tls};
#[allow(unused_imports)]
pub use v2server::{SECRET, V2Recorded, V2Reply, V2Server, sign_fields};
