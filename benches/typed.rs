//! A typed request against the same dynamic call: building a Native order and preparing it
//! (template, options, URL, headers, JSON body), the typed way (`client.prepare_typed`) and the
//! dynamic way (`client.chain(..).prepare(POST, json!(..))`), each with its request built inside
//! the timed loop, as a caller builds it. Issue 18's target: the typed call costs at most 1 µs
//! more. Both are checked to prepare the same bytes first.
//!
//! Run with `cargo bench --bench typed --features api-pay`; see docs/performance.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use support::scripted::TestServer;
use wechatpay::Method;
use wechatpay::api::v3::pay::transactions::native;
use wechatpay_sandbox::Answer;

const TEMPLATE: &str = "v3/pay/transactions/native";
const APPID: &str = "wxd678efh567hg6787";
const MCHID: &str = "1230000109";
const DESCRIPTION: &str = "Image形象店-深圳腾大-QQ公仔";
const OUT_TRADE_NO: &str = "1217752501201407033233368018";
const NOTIFY_URL: &str = "https://www.weixin.qq.com/wxpay/pay.php";

fn typed_request() -> native::Request {
    native::Request {
        appid: black_box(APPID).into(),
        mchid: black_box(MCHID).into(),
        description: black_box(DESCRIPTION).into(),
        out_trade_no: black_box(OUT_TRADE_NO).into(),
        notify_url: black_box(NOTIFY_URL).into(),
        amount: native::Amount {
            total: black_box(1),
            currency: Some(black_box("CNY").into()),
        },
        ..Default::default()
    }
}

fn dynamic_options() -> serde_json::Value {
    json!({ "json": {
        "appid": black_box(APPID),
        "mchid": black_box(MCHID),
        "description": black_box(DESCRIPTION),
        "out_trade_no": black_box(OUT_TRADE_NO),
        "amount": { "total": black_box(1), "currency": black_box("CNY") },
        "notify_url": black_box(NOTIFY_URL),
    }})
}

fn native_order(c: &mut Criterion) {
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::client(&server);
    let typed = client.prepare_typed(typed_request()).unwrap();
    let dynamic = client
        .chain(TEMPLATE)
        .prepare(Method::POST, dynamic_options())
        .unwrap();
    assert_eq!(typed.url(), dynamic.url());
    assert_eq!(typed.body(), dynamic.body());
    let client = &client;

    let mut g = c.benchmark_group("typed_native");
    g.bench_function("typed", |b| {
        b.iter(|| black_box(client).prepare_typed(typed_request()).unwrap())
    });
    g.bench_function("dynamic", |b| {
        b.iter(|| {
            black_box(client)
                .chain(black_box(TEMPLATE))
                .prepare(Method::POST, dynamic_options())
                .unwrap()
        })
    });
    // The parts: the typed request into options, and the same from `json!`.
    g.bench_function("typed_into_options", |b| {
        b.iter(|| wechatpay::api::Request::into_options(typed_request()))
    });
    g.bench_function("dynamic_into_options", |b| {
        b.iter(|| wechatpay::Options::from(dynamic_options()))
    });
    g.finish();
}

criterion_group!(benches, native_order);
criterion_main!(benches);
