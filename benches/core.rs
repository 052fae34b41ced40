//! Wall-time micro-benchmarks of the pure parts of a call: reaching an endpoint (chain),
//! expanding its URI template, building the request, the `Authorization` header and the
//! response check, each next to the bare OpenSSL operation it wraps where there is one.
//!
//! Run with `cargo bench --bench core`; see docs/performance.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue};
use openssl::hash::MessageDigest;
use serde_json::{Map, Value, json};
use support::scripted::TestServer;
use wechatpay::Method;
use wechatpay::crypto::{PrivateKey, PublicKey, base64_decode, nonce};
use wechatpay::signature::{authorization_header, response_message};
use wechatpay::signer::Signer;
use wechatpay::template::UriTemplate;
use wechatpay::verifier::PlatformVerifier;
use wechatpay_sandbox::Answer;

const TEMPLATE: &str = "v3/global/merchant-service/complaints/{complaint_id}/response";
const COMPLAINT_ID: &str = "200201820200101080076610000";
const GET_TEMPLATE: &str = "v3/pay/transactions/id/{transaction_id}";
const TRANSACTION_ID: &str = "4200000001";
const MCHID: &str = "1230000109";
/// A fixed timestamp and nonce for the parts that do not draw their own.
const TS: i64 = 1_554_208_460;
const NONCE: &str = "593BEC0C930BF1AFEB40B4A08C8FB242";

/// The seed call's options, built as a caller builds them (inside the timed loop).
fn seed_options() -> Value {
    json!({
        "complaint_id": COMPLAINT_ID,
        "json": { "complainted_mchid": "1900012181", "response_content": "已与用户沟通解决" },
    })
}

/// The seed call's body as a Rust caller writes it: a typed struct.
#[derive(serde::Serialize)]
struct ComplaintResponse<'a> {
    complainted_mchid: &'a str,
    response_content: &'a str,
}

/// The seed call's options built with the typed builder (what a Rust caller writes).
fn seed_options_typed() -> wechatpay::Options {
    wechatpay::Options::new()
        .var("complaint_id", COMPLAINT_ID)
        .json(&ComplaintResponse {
            complainted_mchid: "1900012181",
            response_content: "已与用户沟通解决",
        })
}

/// The query-order GET's options with the typed builder.
fn get_options_typed() -> wechatpay::Options {
    wechatpay::Options::new()
        .var("transaction_id", TRANSACTION_ID)
        .query("mchid", MCHID)
}

/// The query-order GET's options, built as a caller builds them.
fn get_options() -> Value {
    json!({ "transaction_id": TRANSACTION_ID, "query": { "mchid": MCHID } })
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Polls a future that is ready at once (the default signer's), as the client's executor would.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the default signer's future is always ready"),
    }
}

/// A 200-byte JSON body like a query-order answer.
fn response_body() -> Vec<u8> {
    let mut body = serde_json::to_vec(&json!({
        "appid": "wxd678efh567hg6787",
        "mchid": "1230000109",
        "out_trade_no": "1217752501201407033233368018",
        "transaction_id": "4200000001",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "pad": "",
    }))
    .unwrap();
    // Pad to exactly 200 bytes inside the last string.
    let pad = 200 - body.len();
    let at = body.len() - 2;
    body.splice(at..at, std::iter::repeat_n(b'x', pad));
    assert_eq!(body.len(), 200);
    serde_json::from_slice::<Value>(&body).expect("padded body is still JSON");
    body
}

/// The positive count the environment variable `name` holds, if any.
fn env_count(name: &str) -> Option<usize> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
}

/// With `WECHATPAY_BENCH_SPLIT=N` set: after the criterion benchmarks of a pair, runs `a` and
/// `b` alternately N times each and prints their mean wall times and ratio. Both see the same
/// load, so the ratio holds up better on a shared machine than two criterion runs made one
/// after the other.
fn interleaved<A, B>(
    name_a: &str,
    mut a: impl FnMut() -> A,
    name_b: &str,
    mut b: impl FnMut() -> B,
) {
    let Some(n) = env_count("WECHATPAY_BENCH_SPLIT") else {
        return;
    };
    let (mut time_a, mut time_b) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..n {
        let t = Instant::now();
        black_box(a());
        time_a += t.elapsed();
        let t = Instant::now();
        black_box(b());
        time_b += t.elapsed();
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    eprintln!(
        "interleaved, {n} rounds: {name_a} {:.2} us, {name_b} {:.2} us, ratio {:.4}",
        us(time_a),
        us(time_b),
        time_a.as_secs_f64() / time_b.as_secs_f64()
    );
}

/// With `WECHATPAY_BENCH_MIN=N` set: runs the `calls` in turn, N batches of 500 calls each,
/// and prints each one's fastest and median batch (mean per call). On a shared machine the
/// fastest batch is the one no other work interrupted: a steadier figure than criterion's
/// mean, which moves by 20 % or more with the load here.
fn fastest_batches(calls: &[(&str, &dyn Fn() -> Vec<u8>)]) {
    let Some(n) = env_count("WECHATPAY_BENCH_MIN") else {
        return;
    };
    const BATCH: u32 = 500;
    let mut batches = vec![Vec::with_capacity(n); calls.len()];
    for _ in 0..n {
        for ((_, call), times) in calls.iter().zip(&mut batches) {
            let t = Instant::now();
            for _ in 0..BATCH {
                black_box(call());
            }
            times.push(t.elapsed() / BATCH);
        }
    }
    for ((name, _), times) in calls.iter().zip(&mut batches) {
        times.sort();
        eprintln!(
            "{n} batches of {BATCH}: {name} fastest {:.2?}, median {:.2?} per call",
            times[0],
            times[n / 2]
        );
    }
}

fn chain(c: &mut Criterion) {
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::client(&server);
    // The first access creates and caches every level; the benchmark measures the lookups.
    let warm =
        &client["v3"]["global"]["merchantService"]["complaints"]["_complaint_id_"]["response"];
    assert_eq!(warm.template(), TEMPLATE);
    let client = &client;

    let mut g = c.benchmark_group("chain");
    g.bench_function("cached_index", |b| {
        b.iter(|| {
            black_box(
                &black_box(client)["v3"]["global"]["merchantService"]["complaints"]
                    ["_complaint_id_"]["response"],
            )
        })
    });
    g.bench_function("macro", |b| {
        b.iter(|| {
            let client = black_box(client);
            black_box(wechatpay::chain!(
                client
                    .v3
                    .global
                    .merchantService
                    .complaints
                    ._complaint_id_
                    .response
            ))
        })
    });
    g.bench_function("owned", |b| {
        b.iter(|| black_box(client).chain(black_box(TEMPLATE)))
    });
    g.finish();
}

fn template(c: &mut Criterion) {
    let template = UriTemplate::parse(TEMPLATE).unwrap();
    let Value::Object(vars) = seed_options() else {
        unreachable!()
    };
    assert_eq!(
        template.expand_strict(&vars).unwrap(),
        format!("v3/global/merchant-service/complaints/{COMPLAINT_ID}/response")
    );
    c.bench_function("template/expand", |b| {
        b.iter(|| {
            black_box(&template)
                .expand_strict(black_box(&vars))
                .unwrap()
        })
    });
}

fn chain_template(c: &mut Criterion) {
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::client(&server);
    let endpoint =
        &client["v3"]["global"]["merchantService"]["complaints"]["_complaint_id_"]["response"];
    let prepared = endpoint.prepare(Method::POST, seed_options()).unwrap();
    assert_eq!(
        prepared.target(),
        format!("/v3/global/merchant-service/complaints/{COMPLAINT_ID}/response")
    );
    assert_eq!(
        prepared.signing_message(TS, NONCE),
        format!(
            "POST\n/v3/global/merchant-service/complaints/{COMPLAINT_ID}/response\n{TS}\n{NONCE}\n{}\n",
            serde_json::to_string(&seed_options()["json"]).unwrap()
        )
        .into_bytes()
    );
    let get = &client["v3"]["pay"]["transactions"]["id"]["_transaction_id_"];
    assert_eq!(get.template(), GET_TEMPLATE);
    assert_eq!(
        get.prepare(Method::GET, get_options())
            .unwrap()
            .signing_message(TS, NONCE),
        format!("GET\n/v3/pay/transactions/id/{TRANSACTION_ID}?mchid={MCHID}\n{TS}\n{NONCE}\n\n")
            .into_bytes()
    );
    // The typed builder makes the very same requests.
    assert_eq!(
        endpoint
            .prepare(Method::POST, seed_options_typed())
            .unwrap()
            .signing_message(TS, NONCE),
        prepared.signing_message(TS, NONCE)
    );
    assert_eq!(
        get.prepare(Method::GET, get_options_typed())
            .unwrap()
            .signing_message(TS, NONCE),
        get.prepare(Method::GET, get_options())
            .unwrap()
            .signing_message(TS, NONCE)
    );
    let client = &client;
    // The endpoint's own parsed template is private; an identical one stands in for it.
    let template = UriTemplate::parse(TEMPLATE).unwrap();
    let vars: Map<String, Value> = match seed_options() {
        Value::Object(map) => map,
        _ => unreachable!(),
    };

    let mut g = c.benchmark_group("chain+template");
    // Chain and template alone: the cached endpoint, then its template expanded.
    g.bench_function("index+expand", |b| {
        b.iter(|| {
            let e = &black_box(client)["v3"]["global"]["merchantService"]["complaints"]
                ["_complaint_id_"]["response"];
            black_box(e);
            black_box(&template).expand_strict(black_box(&vars)).unwrap()
        })
    });
    // Chain + template + options (from a `json!` object) + request construction.
    g.bench_function("prepare", |b| {
        b.iter(|| {
            let e = &black_box(client)["v3"]["global"]["merchantService"]["complaints"]
                ["_complaint_id_"]["response"];
            e.prepare(Method::POST, seed_options()).unwrap()
        })
    });
    // ... + the message the signature covers.
    g.bench_function("prepare+signing_message", |b| {
        b.iter(|| {
            let e = &black_box(client)["v3"]["global"]["merchantService"]["complaints"]
                ["_complaint_id_"]["response"];
            let prepared = e.prepare(Method::POST, seed_options()).unwrap();
            prepared.signing_message(black_box(TS), black_box(NONCE))
        })
    });
    // Issue 8's target, for the two shapes of call: the cached chain, `prepare` with the
    // options built inside the loop, and the signing message. The seed complaint response
    // (POST with a JSON body) and a query-order GET with a query and no body; each with
    // PHP-style `json!` options and with the typed `Options` builder (a `Serialize` struct,
    // no `serde_json::Value` tree built and dropped).
    let complaint = || {
        &black_box(client)["v3"]["global"]["merchantService"]["complaints"]["_complaint_id_"]["response"]
    };
    let order = || &black_box(client)["v3"]["pay"]["transactions"]["id"]["_transaction_id_"];
    let sign_message = |prepared: wechatpay::PreparedRequest| {
        prepared.signing_message(black_box(TS), black_box(NONCE))
    };
    let full: [(&str, &dyn Fn() -> Vec<u8>); 5] = [
        ("issue8_full/post_json", &|| {
            sign_message(complaint().prepare(Method::POST, seed_options()).unwrap())
        }),
        ("issue8_full/get_query", &|| {
            sign_message(order().prepare(Method::GET, get_options()).unwrap())
        }),
        ("issue8_full/post_typed", &|| {
            sign_message(
                complaint()
                    .prepare(Method::POST, seed_options_typed())
                    .unwrap(),
            )
        }),
        ("issue8_full/get_typed", &|| {
            sign_message(order().prepare(Method::GET, get_options_typed()).unwrap())
        }),
        // wechatpay-php's `chain(path)` style: a new endpoint per call (its template parsed
        // once per client, in the client's template cache).
        ("issue8_full/post_json_chain", &|| {
            let endpoint = black_box(client).chain(TEMPLATE);
            sign_message(endpoint.prepare(Method::POST, seed_options()).unwrap())
        }),
    ];
    for (name, call) in full {
        g.bench_function(name, |b| b.iter(call));
    }
    g.finish();
    fastest_batches(&full);

    // Parts of `prepare` that belong to the caller: building the `json!` value, and turning it
    // into `Options` (reserved keys read, template variables kept).
    let mut g = c.benchmark_group("options");
    g.bench_function("json_macro", |b| b.iter(seed_options));
    g.bench_function("json_macro_get", |b| b.iter(get_options));
    g.bench_function("from_json", |b| {
        b.iter(|| wechatpay::Options::from(seed_options()))
    });
    g.finish();
}

fn sign(c: &mut Criterion) {
    let keys = support::keys();
    let key = PrivateKey::from_pem(&keys.merchant_key_pkcs8_pem).unwrap();
    // Its own copy of the key: OpenSSL refreshes a key's RSA blinding every 32 private-key
    // operations (a costly step), and with one shared key object the interleaved comparison
    // below would charge every refresh to the same side of the pair.
    let pkey =
        openssl::pkey::PKey::private_key_from_pem(keys.merchant_key_pkcs8_pem.as_bytes()).unwrap();
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::client(&server);
    let prepared = client[TEMPLATE]
        .prepare(Method::POST, seed_options())
        .unwrap();
    let mchid = support::mchid();
    let serial = keys.merchant_serial.as_str();
    // The same message shape (a fresh nonce per call does not change its length).
    let message = prepared.signing_message(TS, NONCE);
    let public = key.public_key().unwrap();

    // What `pipeline::sign::authorize` does per request with the default signer.
    let authorization = || {
        let timestamp = unix_now();
        let nonce = nonce().unwrap();
        let message = prepared.signing_message(timestamp, &nonce);
        let signer: &dyn Signer = &key;
        let signature = ready(signer.sign(&message)).unwrap();
        authorization_header(mchid, serial, timestamp, &nonce, &signature).unwrap()
    };
    {
        // The header carries a signature that verifies over the message it names.
        let header = authorization();
        let text = header.to_str().unwrap();
        let field = |name: &str| {
            let start = text.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            &text[start..start + text[start..].find('"').unwrap()]
        };
        let signed =
            prepared.signing_message(field("timestamp").parse().unwrap(), field("nonce_str"));
        let raw = base64_decode(field("signature")).unwrap();
        assert!(public.verify_sha256(&signed, &raw));
    }

    let mut g = c.benchmark_group("sign");
    let bare = || {
        let mut signer =
            openssl::sign::Signer::new(MessageDigest::sha256(), black_box(&pkey)).unwrap();
        signer.sign_oneshot_to_vec(black_box(&message)).unwrap()
    };
    g.bench_function("authorization", |b| b.iter(authorization));
    g.bench_function("bare_openssl", |b| b.iter(bare));
    // The crate's wrapper alone, and everything in `authorization` except the RSA operation:
    // these two split the Authorization/bare ratio into its parts with less noise.
    g.bench_function("private_key_sign_sha256", |b| {
        b.iter(|| black_box(&key).sign_sha256(black_box(&message)).unwrap())
    });
    let fixed_signature = key.sign_sha256(&message).unwrap();
    g.bench_function("authorization_without_rsa", |b| {
        b.iter(|| {
            let timestamp = unix_now();
            let nonce = nonce().unwrap();
            let message = prepared.signing_message(timestamp, &nonce);
            black_box(&message);
            authorization_header(
                mchid,
                serial,
                timestamp,
                &nonce,
                black_box(&fixed_signature),
            )
            .unwrap()
        })
    });
    g.finish();
    interleaved(
        "sign/authorization",
        authorization,
        "sign/bare_openssl",
        bare,
    );
}

fn verify(c: &mut Criterion) {
    let keys = support::keys();
    let body = response_body();
    let timestamp = unix_now().to_string();
    let nonce = support::random_alnum(32);
    let message = response_message(&timestamp, &nonce, &body);
    let signature_b64 = support::rsa_sha256_sign(&keys.platform_private, &message);
    let signature = base64_decode(&signature_b64).unwrap();

    let platform = PublicKey::from_pem(&keys.platform_cert_pem).unwrap();
    let pkey = platform.as_openssl().clone();
    let mut verifier = PlatformVerifier::new();
    verifier.insert(keys.platform_serial.clone(), platform);
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("Request-ID", "08F78BB5AF0610D6C5A3F8F5018A5DF600"),
        ("Content-Type", "application/json"),
        ("Wechatpay-Nonce", nonce.as_str()),
        ("Wechatpay-Signature", signature_b64.as_str()),
        ("Wechatpay-Timestamp", timestamp.as_str()),
        ("Wechatpay-Serial", keys.platform_serial.as_str()),
        ("Wechatpay-Signature-Type", support::AUTH_SCHEME),
    ] {
        headers.insert(name, HeaderValue::from_str(value).unwrap());
    }
    let now: i64 = timestamp.parse().unwrap();
    assert_eq!(verifier.verify_at(&headers, &body, now), Ok(()));

    let response = || {
        black_box(&verifier)
            .verify_at(black_box(&headers), black_box(&body), now)
            .unwrap()
    };
    let bare = || {
        let mut v =
            openssl::sign::Verifier::new(MessageDigest::sha256(), black_box(&pkey)).unwrap();
        assert!(
            v.verify_oneshot(black_box(&signature), black_box(&message))
                .unwrap()
        );
    };
    let mut g = c.benchmark_group("verify");
    g.bench_function("response", |b| b.iter(response));
    g.bench_function("bare_openssl", |b| b.iter(bare));
    g.finish();
    interleaved("verify/response", response, "verify/bare_openssl", bare);
}

/// Building a client: PEM parsing of the keys and the HTTP client (reqwest with native-tls,
/// which loads the system's root certificates). Once per client, not per request.
fn client(c: &mut Criterion) {
    let server = TestServer::start(|_| Answer::no_content());
    let mut g = c.benchmark_group("client");
    g.sample_size(10);
    g.bench_function("build", |b| b.iter(|| support::client(&server)));
    // What a blocking program (the CLI, a script) pays before its first answer: the client,
    // the blocking verbs' runtime and HTTP client, and one signed and verified call.
    g.bench_function("build+first_blocking_call", |b| {
        b.iter(|| {
            let client = support::client(&server);
            client.chain("v3/ping").get(json!({})).expect("204, signed")
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    chain,
    template,
    chain_template,
    sign,
    verify,
    client
);
criterion_main!(benches);
