//! The seed scenario and ordinary calls, end to end against the sandbox, which checks every
//! signature with its own code (and the judge again) and signs every answer.

mod support;

use serde_json::{Value, json};
use support::scripted::TestServer;
use support::{keys, mchid};
use wechatpay::{Client, StatusCode, chain};
use wechatpay_sandbox::{Answer, Fault, SignMode};

const SEED_PATH: &str =
    "/v3/global/merchant-service/complaints/200201820200101080076610000/response";

fn seed_json() -> Value {
    json!({
        "complainted_mchid": "1900012181",
        "response_content": "已与用户沟通解决",
        "response_images": ["file23578_21798531.jpg"],
        "jump_url": "https://www.xxx.com/notify",
        "jump_url_text": "查看订单详情",
    })
}

/// The PHP example's options, with `apihk` standing in as a second local server.
fn seed_options(apihk: &TestServer) -> Value {
    json!({
        "base_uri": apihk.base_uri(),
        "complaint_id": "200201820200101080076610000",
        "json": seed_json(),
    })
}

/// The production stand-in must see nothing; `apihk` must see exactly `count` correct requests.
fn assert_seed_requests(production: &TestServer, apihk: &TestServer, count: usize) {
    assert!(
        production.requests().is_empty(),
        "per-request base_uri was ignored"
    );
    let requests = apihk.requests();
    assert_eq!(requests.len(), count);
    for r in requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.target, SEED_PATH);
        assert_eq!(r.body_json(), seed_json());
        let auth = r.auth_ok();
        assert_eq!(auth.mchid, mchid());
        assert_eq!(auth.serial_no, keys().merchant_serial);
        assert_eq!(
            auth.field_order,
            ["mchid", "serial_no", "timestamp", "nonce_str", "signature"]
        );
        // The signed message covers the exact target and body bytes that arrived.
        let mut expected = format!(
            "POST\n{SEED_PATH}\n{}\n{}\n",
            auth.timestamp, auth.nonce_str
        )
        .into_bytes();
        expected.extend_from_slice(&r.body);
        expected.push(b'\n');
        assert_eq!(auth.message, expected);
        assert_eq!(r.header("accept"), Some("application/json"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("user-agent"), Some(wechatpay::USER_AGENT));
        assert_eq!(r.header("wechatpay-serial"), None, "off by default");
    }
}

fn servers() -> (TestServer, TestServer) {
    let production =
        TestServer::start(|_| Answer::error(500, "WRONG_HOST", "production was called"));
    let apihk = TestServer::start(|_| Answer::no_content());
    (production, apihk)
}

#[test]
fn seed_scenario_blocking_in_all_four_styles() {
    let (production, apihk) = servers();
    let client = support::client(&production);
    let opts = seed_options(&apihk);
    let template = "v3/global/merchant-service/complaints/{complaint_id}/response";

    let responses = [
        client.chain(template).post(opts.clone()).unwrap(),
        client[template].post(opts.clone()).unwrap(),
        client["v3"]["global"]["merchantService"]["complaints"]["_complaint_id_"]["response"]
            .post(opts.clone())
            .unwrap(),
        chain!(
            client
                .v3
                .global
                .merchantService
                .complaints
                ._complaint_id_
                .response
        )
        .post(opts)
        .unwrap(),
    ];
    for r in &responses {
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert!(r.signature_verified());
        assert!(r.bytes().is_empty());
        assert_eq!(r.request_id().map(str::len), Some(32));
    }
    assert_seed_requests(&production, &apihk, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_scenario_async_in_all_four_styles() {
    let (production, apihk) = servers();
    let client = support::client(&production);
    let opts = seed_options(&apihk);
    let template = "v3/global/merchant-service/complaints/{complaint_id}/response";

    let a = client
        .chain(template)
        .post_async(opts.clone())
        .await
        .unwrap();
    let b = client[template].post_async(opts.clone()).await.unwrap();
    let c = client["v3"]["global"]["merchantService"]["complaints"]["_complaint_id_"]["response"]
        .post_async(opts.clone())
        .await
        .unwrap();
    // The future is 'static + Send: it can be spawned.
    let d = tokio::spawn(
        chain!(
            client
                .v3
                .global
                .merchantService
                .complaints
                ._complaint_id_
                .response
        )
        .post_async(opts),
    )
    .await
    .unwrap()
    .unwrap();
    for r in [a, b, c, d] {
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert!(r.signature_verified());
    }
    assert_seed_requests(&production, &apihk, 4);
}

#[test]
fn get_with_query_sends_and_signs_the_exact_target() {
    let server = TestServer::start(|_| Answer::json(200, &json!({ "trade_state": "SUCCESS" })));
    let client = support::client(&server);
    let response = client
        .chain("v3/pay/transactions/out-trade-no/{out_trade_no}")
        .get(json!({
            "out_trade_no": "1217752501201407033233368018",
            "query": { "mchid": "1230000109" },
        }))
        .unwrap();
    let r = server.last();
    assert_eq!(r.method, "GET");
    assert_eq!(
        r.target,
        "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109"
    );
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-type"), None, "no body, no content type");
    let auth = r.auth_ok();
    assert_eq!(
        auth.message,
        format!(
            "GET\n{}\n{}\n{}\n\n",
            r.target, auth.timestamp, auth.nonce_str
        )
        .into_bytes()
    );

    #[derive(serde::Deserialize)]
    struct Order {
        trade_state: String,
    }
    assert_eq!(response.json::<Order>().unwrap().trade_state, "SUCCESS");
}

#[test]
fn template_query_and_option_query_are_both_sent() {
    let server = TestServer::start(|_| Answer::json(200, &json!({})));
    let client = support::client(&server);
    client
        .chain("v3/merchant-service/complaints-v2{?limit,offset}")
        .get(json!({ "limit": 10, "offset": 0, "query": { "begin_date": "2019-01-01" } }))
        .unwrap();
    assert_eq!(
        server.last().target,
        "/v3/merchant-service/complaints-v2?limit=10&offset=0&begin_date=2019-01-01"
    );
}

#[test]
fn json_200_is_decoded_and_typed_options_work() {
    let server = TestServer::start(|r| {
        Answer::json(
            200,
            &json!({ "code_url": "weixin://wxpay/bizpayurl?pr=p4lpSuKzz", "echo": r.body_json() }),
        )
    });
    let client = support::client(&server);
    let body =
        json!({ "appid": "wxd678efh567hg6787", "amount": { "total": 100, "currency": "CNY" } });
    let response = client["v3/pay/transactions/native"]
        .post(
            wechatpay::Options::new()
                .json(&body)
                .header("X-Trace", "abc"),
        )
        .unwrap();
    let v: Value = response.json().unwrap();
    assert_eq!(v["code_url"], "weixin://wxpay/bizpayurl?pr=p4lpSuKzz");
    assert_eq!(v["echo"], body);
    let r = server.last();
    assert_eq!(r.target, "/v3/pay/transactions/native");
    assert_eq!(r.header("x-trace"), Some("abc"));
    // The body sent is the serialisation, field order kept.
    assert_eq!(
        r.body_str(),
        r#"{"appid":"wxd678efh567hg6787","amount":{"total":100,"currency":"CNY"}}"#
    );
}

#[test]
fn raw_body_is_sent_byte_for_byte() {
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::client(&server);
    let raw = "{ \"spaced\" :  true }";
    client.chain("v3/x").post(json!({ "body": raw })).unwrap();
    let r = server.last();
    assert_eq!(r.body, raw.as_bytes());
    assert!(r.auth_ok().message.ends_with(format!("{raw}\n").as_bytes()));
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[test]
fn certificate_mode_and_public_key_mode_both_verify() {
    let server = TestServer::start(|r| {
        let mode = if r.path().ends_with("pubkey") {
            SignMode::PublicKey
        } else {
            SignMode::Certificate
        };
        Answer::json(200, &json!({ "ok": true })).sign_mode(mode)
    });
    let k = keys();
    // Each mode alone, then both at once (the migration).
    let cert_only = Client::builder()
        .mchid(mchid())
        .serial(&k.merchant_serial)
        .private_key(&k.merchant_key_pkcs1_pem)
        .platform_key(&k.platform_serial, &k.platform_cert_pem)
        .base_uri(server.base_uri())
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let pubkey_only = Client::builder()
        .mchid(mchid())
        .serial(&k.merchant_serial)
        .private_key(&k.merchant_key_pkcs8_pem)
        .platform_key(&k.pubkey_id, &k.pubkey_pkcs1_pem)
        .base_uri(server.base_uri())
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let both = support::client(&server);

    assert!(
        cert_only
            .chain("v3/cert")
            .get(())
            .unwrap()
            .signature_verified()
    );
    assert!(
        pubkey_only
            .chain("v3/pubkey")
            .get(())
            .unwrap()
            .signature_verified()
    );
    assert!(both.chain("v3/cert").get(()).unwrap().signature_verified());
    assert!(
        both.chain("v3/pubkey")
            .get(())
            .unwrap()
            .signature_verified()
    );

    // A client without the key that signed rejects the answer.
    let err = cert_only.chain("v3/pubkey").get(()).unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&wechatpay::VerificationFailure::UnknownSerial(
            k.pubkey_id.clone()
        ))
    );
}

#[test]
fn wechatpay_serial_header_is_sent_when_switched_on() {
    let server = TestServer::start(|_| Answer::no_content());
    let k = keys();
    let default_preferred = support::builder(&server)
        .send_wechatpay_serial(true)
        .build()
        .unwrap();
    default_preferred
        .chain("v3/a")
        .post(json!({ "json": {} }))
        .unwrap();
    assert_eq!(
        server.last().header("wechatpay-serial"),
        Some(k.pubkey_id.as_str())
    );

    let chosen = support::builder(&server)
        .send_wechatpay_serial(true)
        .preferred_platform_key(&k.platform_serial)
        .build()
        .unwrap();
    chosen.chain("v3/a").get(()).unwrap();
    assert_eq!(
        server.last().header("wechatpay-serial"),
        Some(k.platform_serial.as_str())
    );
}

#[test]
fn every_verb_blocking_and_async() {
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::client(&server);
    let e = &client["v3/items/{id}"];
    let opts = json!({ "id": "7" });
    e.get(opts.clone()).unwrap();
    e.post(opts.clone()).unwrap();
    e.put(opts.clone()).unwrap();
    e.patch(opts.clone()).unwrap();
    e.delete(opts.clone()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        e.get_async(opts.clone()).await.unwrap();
        e.post_async(opts.clone()).await.unwrap();
        e.put_async(opts.clone()).await.unwrap();
        e.patch_async(opts.clone()).await.unwrap();
        e.delete_async(opts.clone()).await.unwrap();
    });
    let methods: Vec<String> = server
        .requests()
        .into_iter()
        .map(|r| {
            assert_eq!(r.target, "/v3/items/7");
            r.auth_ok();
            r.method.clone()
        })
        .collect();
    assert_eq!(
        methods,
        [
            "GET", "POST", "PUT", "PATCH", "DELETE", "GET", "POST", "PUT", "PATCH", "DELETE"
        ]
    );
}

#[test]
fn base_uri_path_prefix_is_kept_and_signed() {
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::builder(&server)
        .base_uri(format!("{}proxy/wechat", server.base_uri()))
        .allow_insecure_http(true)
        .build()
        .unwrap();
    client.chain("v3/certificates").get(()).unwrap();
    let r = server.last();
    assert_eq!(r.target, "/proxy/wechat/v3/certificates");
    let prepared = client
        .chain("v3/billdownload/file")
        .prepare(wechatpay::Method::GET, ())
        .unwrap();
    assert_eq!(prepared.target(), "/proxy/wechat/v3/billdownload/file");
    assert_eq!(prepared.api_path(), "/v3/billdownload/file");
    r.auth_ok();
}

#[test]
fn responses_are_signed_by_the_server_over_what_we_read() {
    // Unsigned 2xx answers of signed endpoints are never returned as a success.
    let server = TestServer::start(|_| Answer::json(200, &json!({})).unsigned());
    let client = support::client(&server);
    let err = client.chain("v3/x").get(()).unwrap_err();
    assert_eq!(err.kind(), wechatpay::ErrorKind::Verification);

    // Sanity: a tampered body is caught too (the full matrix is in verification.rs).
    let server =
        TestServer::start(|_| Answer::json(200, &json!({"a": 1})).fault(Fault::TamperedBody));
    let client = support::client(&server);
    assert_eq!(
        client.chain("v3/x").get(()).unwrap_err().kind(),
        wechatpay::ErrorKind::Verification
    );
}
