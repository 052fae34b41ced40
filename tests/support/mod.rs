//! Test support for the `wechatpay` crate: the process's key material (the sandbox's
//! identity), the judge (an independent check of what the client sends and of what the
//! sandbox answers), and the test servers, which are the sandbox with the test's answers
//! scripted in ([`scripted`], [`BenchServer`]): the one imitation of WeChat Pay.
#![allow(dead_code)]

mod bench_server;
mod callback;
mod client;
pub mod judge;
pub mod judge_v2;
mod keys;
mod middle;
mod offline;
mod receiver;
mod redis_server;
pub mod scripted;
mod tls;

// Test binaries use only part of these re-exports.
#[allow(unused_imports)]
pub use bench_server::BenchServer;
#[allow(unused_imports)]
pub use callback::{APIV3_KEY, Callback, CallbackSpec, payment_resource, seal, signed};
#[allow(unused_imports)]
pub use client::{Server, builder, client, identity, merchant_of};
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
pub use middle::{intercept, replayed};
#[allow(unused_imports)]
pub use offline::{OFFLINE_PUB_KEY_ID, certificate, offline_client};
#[allow(unused_imports)]
pub use receiver::receiver;
#[allow(unused_imports)]
pub use redis_server::RedisServer;
#[allow(unused_imports)]
pub use scripted::{Recorded, TestServer, V2Recorded, V2Server};
#[allow(unused_imports)]
pub use tls::{Pair, sandbox_merchant, stranger, untrusted_server};
