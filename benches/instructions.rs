//! Fixed workloads for callgrind, which counts instructions whatever else the machine does:
//! `benches/instructions.sh` runs each under callgrind with N calls and with none, and prints
//! the instructions per call (docs/performance.md, issue 16). Run alone it does the work and
//! prints nothing.
//!
//! `instructions <workload> <calls>`, workloads: `index` (a cached six-key chain),
//! `index_prepare` (a cached chain, a `GET` with a query prepared, its signing message),
//! `post_json` (the `json!` POST of the complaint reply, prepared, its signing message),
//! `chain_prepare` (`client.chain(path)` then the `GET`), `sign`, `verify` (200 bytes),
//! `execute` (a blocking `GET` through the whole orchestrator, its request and attempt spans
//! included, whose signer refuses: everything a call does but the RSA and the I/O; no
//! `tracing` subscriber, as in an application that installs none).

use std::hint::black_box;

use serde_json::json;
use wechatpay::{Client, Method};

const KEY: &str = include_str!("../tests/data/golden/merchant_key.pem");
const TS: i64 = 1554208460;
const NONCE: &str = "593BEC0C930BF1AFEB40B4A08C8FB242";

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_default();
    let calls: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    // A fixed key: the setup costs the same instructions in every run.
    let client = Client::builder()
        .mchid("1900000000")
        .serial("0A")
        .private_key(KEY)
        .verifier(wechatpay::verifier::PlatformVerifier::new())
        .build()
        .unwrap();
    // A signer that refuses at once: the call runs the orchestrator up to the signature.
    struct Refusing;
    impl wechatpay::signer::Signer for Refusing {
        fn sign<'a>(&'a self, _: &'a [u8]) -> wechatpay::signer::SignFuture<'a> {
            Box::pin(std::future::ready(
                wechatpay::crypto::base64_decode("!").map(|_| Vec::new()),
            ))
        }
    }
    let refusing = Client::builder()
        .mchid("1900000000")
        .serial("0A")
        .signer(Refusing)
        .verifier(wechatpay::verifier::PlatformVerifier::new())
        .build()
        .unwrap();
    let key = wechatpay::crypto::PrivateKey::load(KEY).unwrap();
    let public = key.public_key().unwrap();
    let message = vec![b'x'; 200];
    let signature = key.sign_sha256(&message).unwrap();
    let get =
        |id: usize| json!({ "transaction_id": id.to_string(), "query": { "mchid": "1230000109" } });
    let post = |id: usize| {
        json!({ "complaint_id": id.to_string(), "json": {
            "complainted_mchid": "1900012181", "response_content": "已与用户沟通解决" } })
    };
    let order = "v3/pay/transactions/id/{transaction_id}";
    // Warm: every cache filled, so that the calls measure the steady state.
    let _ = &client["v3"]["global"]["merchantService"]["complaints"]["_complaint_id_"]["response"];
    let _ = client.chain(order).prepare(Method::GET, get(0));
    let _ =
        client["v3"]["pay"]["transactions"]["id"]["_transaction_id_"].prepare(Method::GET, get(0));
    // The first blocking call starts the client's runtime thread.
    let _ = refusing[order].get(get(0)).unwrap_err();
    for i in 0..calls {
        match workload.as_str() {
            "index" => {
                black_box(
                    &client["v3"]["global"]["merchantService"]["complaints"]["_complaint_id_"]["response"],
                );
            }
            "index_prepare" => {
                let endpoint = &client["v3"]["pay"]["transactions"]["id"]["_transaction_id_"];
                let prepared = endpoint.prepare(Method::GET, get(i)).unwrap();
                black_box(prepared.signing_message(TS, NONCE));
            }
            "post_json" => {
                let endpoint = &client["v3"]["global"]["merchantService"]["complaints"]["_complaint_id_"]
                    ["response"];
                let prepared = endpoint.prepare(Method::POST, post(i)).unwrap();
                black_box(prepared.signing_message(TS, NONCE));
            }
            "chain_prepare" => {
                let prepared = client.chain(order).prepare(Method::GET, get(i)).unwrap();
                black_box(prepared.signing_message(TS, NONCE));
            }
            "execute" => {
                black_box(refusing[order].get(get(i)).unwrap_err());
            }
            "sign" => {
                black_box(key.sign_sha256(&message).unwrap());
            }
            "verify" => {
                black_box(public.verify_sha256(&message, &signature));
            }
            other => panic!("unknown workload `{other}`"),
        }
    }
}
