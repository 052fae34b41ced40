//! Typed models (`wechatpay::api`) against the sandbox: the seed (complaint response), Native,
//! JSAPI, query, close, refund, bill and media calls, blocking and async; the typed call and
//! the dynamic call of one operation send the same bytes; the two forms convert into each
//! other; unknown enum values and answers that do not fit their model; a payment callback
//! decoded into the query's model.

#![cfg(all(
    feature = "api-pay",
    feature = "api-refund",
    feature = "api-bill",
    feature = "api-complaint",
    feature = "api-merchant",
    feature = "api-global"
))]

mod support;

use serde_json::{Value, json};
use wechatpay::api::v3::bill::tradebill;
use wechatpay::api::v3::merchant::media::upload;
use wechatpay::api::v3::merchant_service::complaints_v2::by_complaint_id::response;
use wechatpay::api::v3::pay::transactions::id::by_transaction_id;
use wechatpay::api::v3::pay::transactions::out_trade_no::by_out_trade_no as query;
use wechatpay::api::v3::pay::transactions::out_trade_no::by_out_trade_no::close;
use wechatpay::api::v3::pay::transactions::{jsapi, native};
use wechatpay::api::v3::refund::domestic::refunds;
use wechatpay::api::{Host, Request};
use wechatpay::bill::{BillDownload, Compression};
use wechatpay::{Client, ErrorKind, Media, Method};
use wechatpay_sandbox::{Answer, Sandbox};

const APPID: &str = "wxd678efh567hg6787";
const NOTIFY: &str = "https://www.weixin.qq.com/wxpay/pay.php";
const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

fn native_order(mchid: &str, no: &str, total: i64) -> native::Request {
    native::Request {
        appid: APPID.into(),
        mchid: mchid.into(),
        description: "Image形象店-深圳腾大-QQ公仔".into(),
        out_trade_no: no.into(),
        notify_url: NOTIFY.into(),
        amount: native::Amount {
            total,
            currency: Some("CNY".into()),
        },
        ..Default::default()
    }
}

fn jsapi_order(mchid: &str, no: &str) -> jsapi::Request {
    jsapi::Request {
        appid: APPID.into(),
        mchid: mchid.into(),
        description: "Image形象店-深圳腾大-QQ公仔".into(),
        out_trade_no: no.into(),
        notify_url: NOTIFY.into(),
        amount: jsapi::Amount {
            total: 1,
            ..Default::default()
        },
        payer: jsapi::Payer {
            openid: OPENID.into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn refund(no: &str, refund_no: &str, amount: i64, total: i64) -> refunds::Request {
    refunds::Request {
        out_trade_no: Some(no.into()),
        out_refund_no: refund_no.into(),
        reason: Some("商品已售完".into()),
        amount: refunds::Amount {
            refund: amount,
            total,
            currency: "CNY".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn complaint_response(mchid: &str) -> response::Request {
    response::Request {
        complaint_id: "200201820200101080076610000".into(),
        complainted_mchid: mchid.into(),
        response_content: "已与用户沟通解决".into(),
        ..Default::default()
    }
}

/// The requests the sandbox received as `METHOD target`.
fn sent(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.target))
        .collect()
}

/// RSA-OAEP (SHA-1, as WeChat Pay's sensitive fields) decryption with openssl directly.
fn oaep_decrypt(private_pem: &str, base64: &str) -> Vec<u8> {
    let key = openssl::rsa::Rsa::private_key_from_pem(private_pem.as_bytes()).unwrap();
    let ciphertext = openssl::base64::decode_block(base64).unwrap();
    let mut out = vec![0; key.size() as usize];
    let n = key
        .private_decrypt(&ciphertext, &mut out, openssl::rsa::Padding::PKCS1_OAEP)
        .unwrap();
    out.truncate(n);
    out
}

/// A parser of the callbacks the test support renders.
fn notification_parser() -> wechatpay::notify::NotificationParser {
    use wechatpay::crypto::PublicKey;
    let k = support::keys();
    let mut verifier = wechatpay::verifier::PlatformVerifier::new();
    verifier.insert(
        k.platform_serial.clone(),
        PublicKey::load(&k.platform_cert_pem).unwrap(),
    );
    verifier.insert(
        k.pubkey_id.clone(),
        PublicKey::load(&k.pubkey_spki_pem).unwrap(),
    );
    wechatpay::notify::NotificationParser::new(support::APIV3_KEY, verifier).unwrap()
}

/// Today in Beijing, as bills name their days.
fn bill_date(success_time: &str) -> String {
    success_time[..10].to_owned()
}

// ---------------------------------------------------------------------------------------------
// the same bytes as the dynamic call

#[test]
fn typed_and_dynamic_calls_prepare_the_same_request() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();
    let same = |typed: wechatpay::PreparedRequest, dynamic: wechatpay::PreparedRequest| {
        assert_eq!(typed.method(), dynamic.method());
        assert_eq!(typed.url(), dynamic.url());
        assert_eq!(
            typed.body(),
            dynamic.body(),
            "{}\n{}",
            String::from_utf8_lossy(typed.body()),
            String::from_utf8_lossy(dynamic.body())
        );
    };

    let typed = client
        .prepare_typed(native_order(&mchid, "T-NATIVE-1", 100))
        .unwrap();
    let dynamic = client
        .chain("v3/pay/transactions/native")
        .prepare(
            Method::POST,
            json!({ "json": {
                "appid": APPID, "mchid": mchid,
                "description": "Image形象店-深圳腾大-QQ公仔",
                "out_trade_no": "T-NATIVE-1",
                "amount": { "total": 100, "currency": "CNY" }, "notify_url": NOTIFY,
            }}),
        )
        .unwrap();
    assert_eq!(
        typed.body(),
        format!(
            r#"{{"appid":"{APPID}","mchid":"{mchid}","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"T-NATIVE-1","amount":{{"total":100,"currency":"CNY"}},"notify_url":"{NOTIFY}"}}"#
        )
        .as_bytes()
    );
    assert_eq!(typed.target(), "/v3/pay/transactions/native");
    same(typed, dynamic);

    let typed = client
        .prepare_typed(jsapi_order(&mchid, "T-JSAPI-1"))
        .unwrap();
    let dynamic = client
        .chain("v3/pay/transactions/jsapi")
        .prepare(
            Method::POST,
            json!({ "json": {
                "appid": APPID, "mchid": mchid,
                "description": "Image形象店-深圳腾大-QQ公仔",
                "out_trade_no": "T-JSAPI-1",
                "amount": { "total": 1 }, "notify_url": NOTIFY,
                "payer": { "openid": OPENID },
            }}),
        )
        .unwrap();
    same(typed, dynamic);

    let typed = client
        .prepare_typed(query::Request {
            out_trade_no: "T-1/2 3".into(),
            mchid: mchid.clone(),
        })
        .unwrap();
    // The placeholder is percent-encoded as the chain encodes it; the query follows.
    assert_eq!(
        typed.target(),
        format!("/v3/pay/transactions/out-trade-no/T-1%2F2%203?mchid={mchid}")
    );
    assert!(typed.body().is_empty());
    let dynamic = client
        .chain("v3/pay/transactions/out-trade-no/{out_trade_no}{?mchid}")
        .prepare(
            Method::GET,
            json!({ "out_trade_no": "T-1/2 3", "mchid": mchid }),
        )
        .unwrap();
    same(typed, dynamic);

    let typed = client
        .prepare_typed(close::Request {
            out_trade_no: "T-NATIVE-1".into(),
            mchid: mchid.clone(),
        })
        .unwrap();
    assert_eq!(typed.body(), format!(r#"{{"mchid":"{mchid}"}}"#).as_bytes());
    let dynamic = client
        .chain("v3/pay/transactions/out-trade-no/{out_trade_no}/close")
        .prepare(
            Method::POST,
            json!({ "out_trade_no": "T-NATIVE-1", "json": { "mchid": mchid } }),
        )
        .unwrap();
    same(typed, dynamic);

    let typed = client
        .prepare_typed(refund("T-NATIVE-1", "T-REFUND-1", 30, 100))
        .unwrap();
    let dynamic = client
        .chain("v3/refund/domestic/refunds")
        .prepare(
            Method::POST,
            json!({ "json": {
                "out_trade_no": "T-NATIVE-1", "out_refund_no": "T-REFUND-1",
                "reason": "商品已售完",
                "amount": { "refund": 30, "total": 100, "currency": "CNY" },
            }}),
        )
        .unwrap();
    same(typed, dynamic);

    let typed = client
        .prepare_typed(tradebill::Request {
            bill_date: "2024-06-01".into(),
            tar_type: Some(tradebill::TarType::Gzip),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        typed.target(),
        "/v3/bill/tradebill?bill_date=2024-06-01&tar_type=GZIP"
    );
    let dynamic = client
        .chain("v3/bill/tradebill")
        .prepare(
            Method::GET,
            json!({ "query": { "bill_date": "2024-06-01", "tar_type": "GZIP" } }),
        )
        .unwrap();
    same(typed, dynamic);

    let typed = client.prepare_typed(complaint_response(&mchid)).unwrap();
    let dynamic = client
        .chain("v3/merchant-service/complaints-v2/{complaint_id}/response")
        .prepare(
            Method::POST,
            json!({
                "complaint_id": "200201820200101080076610000",
                "json": { "complainted_mchid": mchid, "response_content": "已与用户沟通解决" },
            }),
        )
        .unwrap();
    same(typed, dynamic);

    // A media upload: the same signed meta (the multipart boundary is random).
    let media = Media::new("a.png", b"\x89PNG\r\n\x1a\n-typed".to_vec()).unwrap();
    let typed = client
        .prepare_typed(upload::Request {
            media: Some(media.clone()),
        })
        .unwrap();
    let dynamic = client
        .chain("v3/merchant/media/upload")
        .prepare(Method::POST, wechatpay::Options::new().multipart(media))
        .unwrap();
    assert_eq!(typed.signed_body(), dynamic.signed_body());
    assert_eq!(typed.url(), dynamic.url());
}

#[test]
fn sensitive_fields_are_encrypted_by_the_typed_request() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();
    let mut order = jsapi_order(&mchid, "T-IDENTITY-1");
    order.payer.identity = Some(jsapi::Identity {
        r#type: jsapi::Type::Idcard,
        number: "330821198809085211".into(),
        name: "张三".into(),
    });
    let prepared = client.prepare_typed(order.clone()).unwrap();
    let serial = prepared.headers()["Wechatpay-Serial"].to_str().unwrap();
    let keys = sandbox.platform_private_keys().unwrap();
    let private_pem = if serial == sandbox.identity().public_key_id {
        &keys.public_key_private_pem
    } else {
        assert_eq!(serial, sandbox.identity().platform_serial);
        &keys.certificate_key_pem
    };
    let body: Value = serde_json::from_slice(prepared.body()).unwrap();
    let identity = &body["payer"]["identity"];
    assert_eq!(identity["type"], "IDCARD");
    for (field, plain) in [("number", "330821198809085211"), ("name", "张三")] {
        let ciphertext = identity[field].as_str().unwrap();
        assert_ne!(ciphertext, plain);
        let decrypted = oaep_decrypt(private_pem, ciphertext);
        assert_eq!(decrypted, plain.as_bytes(), "{field}");
    }
    // And the sandbox takes the order.
    let answer = client.send(order).unwrap();
    assert!(answer.prepay_id.starts_with("wx"), "{}", answer.prepay_id);
}

// ---------------------------------------------------------------------------------------------
// against the sandbox, blocking and async

#[test]
fn the_payment_flow_typed_blocking() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();

    let answer = client.send(native_order(&mchid, "T-FLOW-1", 888)).unwrap();
    assert!(
        answer.code_url.starts_with("weixin://wxpay/bizpayurl?pr="),
        "{}",
        answer.code_url
    );
    let jsapi = client.send(jsapi_order(&mchid, "T-FLOW-2")).unwrap();
    assert!(jsapi.prepay_id.starts_with("wx"));

    let order = client
        .send(query::Request {
            out_trade_no: "T-FLOW-1".into(),
            mchid: mchid.clone(),
        })
        .unwrap();
    assert_eq!(order.trade_state, Some(query::TradeState::Notpay));
    assert_eq!(order.out_trade_no, "T-FLOW-1");
    assert_eq!(order.amount.total, 888);

    let transaction_id = sandbox.pay("T-FLOW-1").unwrap();
    let paid = client
        .send(by_transaction_id::Request {
            transaction_id: transaction_id.clone(),
            mchid: mchid.clone(),
        })
        .unwrap();
    assert_eq!(
        paid.trade_state,
        Some(by_transaction_id::TradeState::Success)
    );
    assert_eq!(paid.trade_type, Some(by_transaction_id::TradeType::Native));
    assert_eq!(
        paid.transaction_id.as_deref(),
        Some(transaction_id.as_str())
    );
    assert_eq!(paid.amount.total, 888);
    assert_eq!(paid.amount.payer_total, Some(888));
    let success_time = paid.success_time.clone().unwrap();

    // Close the JSAPI order: a 204, the unit answer.
    let () = client
        .send(close::Request {
            out_trade_no: "T-FLOW-2".into(),
            mchid: mchid.clone(),
        })
        .unwrap();
    let closed = client
        .send(query::Request {
            out_trade_no: "T-FLOW-2".into(),
            mchid: mchid.clone(),
        })
        .unwrap();
    assert_eq!(closed.trade_state, Some(query::TradeState::Closed));

    let created = client
        .send(refund("T-FLOW-1", "T-FLOW-R1", 300, 888))
        .unwrap();
    assert_eq!(created.out_refund_no, "T-FLOW-R1");
    assert_eq!(created.transaction_id, transaction_id);
    assert_eq!(created.amount.refund, 300);
    assert_eq!(created.status, "PROCESSING");
    let queried = client
        .send(refunds::by_out_refund_no::Request {
            out_refund_no: "T-FLOW-R1".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(queried.refund_id, created.refund_id);
    assert_eq!(queried.status, "SUCCESS");

    // A refund beyond the order: WeChat Pay's error, as the dynamic call gets it.
    let error = client
        .send(refund("T-FLOW-1", "T-FLOW-R2", 600, 888))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Api);
    assert_eq!(error.api().unwrap().code(), Some("NOT_ENOUGH"));

    // The bill of the day, then its file through the bill download.
    let bill = client
        .send(tradebill::Request {
            bill_date: bill_date(&success_time),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(bill.hash_type, "SHA1");
    let info = BillDownload {
        download_url: bill.download_url,
        hash_type: bill.hash_type,
        hash_value: bill.hash_value,
    };
    let mut file = Vec::new();
    client
        .download_bill(&info, Compression::None, &mut file)
        .unwrap();
    let text = String::from_utf8(file).unwrap();
    assert!(text.contains("T-FLOW-1"), "{text}");

    let media = Media::new("a.png", b"\x89PNG\r\n\x1a\n-typed".to_vec()).unwrap();
    let uploaded = client.send(upload::Request { media: Some(media) }).unwrap();
    assert_eq!(uploaded.media_id.len(), 64);

    let answered = client.send(complaint_response(&mchid)).unwrap();
    assert_eq!(answered, Value::Null);

    let paths: Vec<String> = sent(&sandbox)
        .into_iter()
        .filter(|line| !line.contains("/v3/certificates"))
        .map(|line| line.split('?').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        paths,
        [
            "POST /v3/pay/transactions/native".to_owned(),
            "POST /v3/pay/transactions/jsapi".to_owned(),
            "GET /v3/pay/transactions/out-trade-no/T-FLOW-1".to_owned(),
            format!("GET /v3/pay/transactions/id/{transaction_id}"),
            "POST /v3/pay/transactions/out-trade-no/T-FLOW-2/close".to_owned(),
            "GET /v3/pay/transactions/out-trade-no/T-FLOW-2".to_owned(),
            "POST /v3/refund/domestic/refunds".to_owned(),
            "GET /v3/refund/domestic/refunds/T-FLOW-R1".to_owned(),
            "POST /v3/refund/domestic/refunds".to_owned(),
            "GET /v3/bill/tradebill".to_owned(),
            "GET /v3/billdownload/file".to_owned(),
            "POST /v3/merchant/media/upload".to_owned(),
            "POST /v3/merchant-service/complaints-v2/200201820200101080076610000/response"
                .to_owned(),
        ]
    );
    assert!(sandbox.requests().iter().all(|r| r.verdict.is_ok()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payment_flow_typed_async() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();

    // The futures are Send + 'static: spawned on the runtime.
    let answer = tokio::spawn(client.send_async(native_order(&mchid, "T-ASYNC-1", 100)))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.code_url.starts_with("weixin://wxpay/bizpayurl?pr="));
    let jsapi = client
        .send_async(jsapi_order(&mchid, "T-ASYNC-2"))
        .await
        .unwrap();
    assert!(jsapi.prepay_id.starts_with("wx"));

    let transaction_id = sandbox.pay("T-ASYNC-1").unwrap();
    let paid = client
        .send_async(query::Request {
            out_trade_no: "T-ASYNC-1".into(),
            mchid: mchid.clone(),
        })
        .await
        .unwrap();
    assert_eq!(paid.trade_state, Some(query::TradeState::Success));
    assert_eq!(
        paid.transaction_id.as_deref(),
        Some(transaction_id.as_str())
    );

    client
        .send_async(close::Request {
            out_trade_no: "T-ASYNC-2".into(),
            mchid: mchid.clone(),
        })
        .await
        .unwrap();

    let created = client
        .send_async(refund("T-ASYNC-1", "T-ASYNC-R1", 100, 100))
        .await
        .unwrap();
    assert_eq!(created.amount.refund, 100);
    let queried = client
        .send_async(refunds::by_out_refund_no::Request {
            out_refund_no: "T-ASYNC-R1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(queried.status, "SUCCESS");

    let bill = client
        .send_async(tradebill::Request {
            bill_date: bill_date(paid.success_time.as_deref().unwrap()),
            bill_type: Some(tradebill::BillType::All),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(bill.download_url.contains("/v3/billdownload/file?token="));

    let media = Media::new("b.jpg", b"\xff\xd8\xff-typed-async".to_vec()).unwrap();
    let uploaded = client
        .send_async(upload::Request { media: Some(media) })
        .await
        .unwrap();
    assert_eq!(uploaded.media_id.len(), 64);

    let answered = client.send_async(complaint_response(&mchid)).await.unwrap();
    assert_eq!(answered, Value::Null);

    let error = client
        .send_async(query::Request {
            out_trade_no: "T-ASYNC-404".into(),
            mchid,
        })
        .await
        .unwrap_err();
    assert_eq!(error.api().unwrap().status(), 404);
    assert_eq!(error.api().unwrap().code(), Some("ORDER_NOT_EXIST"));
}

// ---------------------------------------------------------------------------------------------
// hosts

#[test]
fn overseas_operations_go_to_the_hong_kong_host_from_the_production_host() {
    use wechatpay::api::v3::global::merchant_service::complaints::by_complaint_id::response as global;
    assert_eq!(<global::Request as Request>::SPEC.host, Host::Global);
    let request = || global::Request {
        complaint_id: "200201820200101080076610000".into(),
        complainted_mchid: "1230000109".into(),
        response_content: "已与用户沟通解决".into(),
        ..Default::default()
    };
    // A client on the production host: the overseas operation goes to apihk.
    let production = support::identity().build().unwrap();
    let prepared = production.prepare_typed(request()).unwrap();
    assert_eq!(
        prepared.url().as_str(),
        "https://apihk.mch.weixin.qq.com/v3/global/merchant-service/complaints/200201820200101080076610000/response"
    );
    // A domestic one stays.
    let prepared = production
        .prepare_typed(native_order("1230000109", "T-HOST-1", 1))
        .unwrap();
    assert_eq!(prepared.url().host_str(), Some("api.mch.weixin.qq.com"));
    // A client on another base URI (a sandbox, a proxy) keeps it, and the call is answered.
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mut on_sandbox = request();
    on_sandbox.complainted_mchid = sandbox.identity().mchid.clone();
    let prepared = client.prepare_typed(on_sandbox.clone()).unwrap();
    assert!(
        prepared.url().as_str().starts_with(sandbox.base_uri()),
        "{}",
        prepared.url()
    );
    client.send(on_sandbox).unwrap();
    assert_eq!(
        sandbox.requests().last().unwrap().path(),
        "/v3/global/merchant-service/complaints/200201820200101080076610000/response"
    );
}

// ---------------------------------------------------------------------------------------------
// the two forms

#[test]
fn typed_requests_convert_into_options_and_back() {
    fn round_trip<R: Request + Clone + PartialEq + std::fmt::Debug>(request: R) {
        let options = request.clone().into_options();
        let back = R::from_options(&options).unwrap();
        assert_eq!(back, request);
    }
    round_trip(native_order("1230000109", "T-RT-1", 1));
    round_trip(jsapi_order("1230000109", "T-RT-2"));
    round_trip(query::Request {
        out_trade_no: "T-RT-1".into(),
        mchid: "1230000109".into(),
    });
    round_trip(close::Request {
        out_trade_no: "T-RT-1".into(),
        mchid: "1230000109".into(),
    });
    round_trip(refund("T-RT-1", "T-RT-R1", 1, 1));
    round_trip(tradebill::Request {
        bill_date: "2024-06-01".into(),
        sub_mchid: Some("1900000109".into()),
        bill_type: Some(tradebill::BillType::Unknown("NEW_KIND".into())),
        tar_type: Some(tradebill::TarType::Gzip),
    });
    round_trip(complaint_response("1230000109"));

    // Options a dynamic caller wrote become the typed request.
    let options: wechatpay::Options = json!({
        "out_trade_no": "T-DYN-1",
        "query": { "mchid": "1230000109" },
    })
    .into();
    let typed = query::Request::from_options(&options).unwrap();
    assert_eq!(typed.out_trade_no, "T-DYN-1");
    assert_eq!(typed.mchid, "1230000109");

    // What is missing or does not fit is named.
    let options: wechatpay::Options = json!({ "query": { "mchid": "1230000109" } }).into();
    let error = query::Request::from_options(&options).unwrap_err();
    assert!(error.to_string().contains("out_trade_no"), "{error}");
    let options: wechatpay::Options =
        json!({ "json": { "appid": APPID, "amount": { "total": "one" } } }).into();
    let error = native::Request::from_options(&options).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Decode);
    assert_eq!(error.json_path(), Some("amount.total"), "{error}");
    let error = native::Request::from_options(&wechatpay::Options::new()).unwrap_err();
    assert!(error.to_string().contains("no `json` body"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// forward compatibility

#[test]
fn unknown_enum_values_and_fields_decode() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();
    let answer = json!({
        "appid": APPID, "mchid": mchid, "out_trade_no": "T-NEW-1",
        "trade_state": "PARTIALLY_PAID", "trade_type": "NATIVE",
        "amount": { "total": 5, "payer_total": 5, "brand_new": true },
        "a_field_from_next_year": { "x": 1 },
    });
    sandbox.script(move |request| {
        request
            .path()
            .ends_with("/T-NEW-1")
            .then(|| Answer::json(200, &answer))
    });
    let order = client
        .send(query::Request {
            out_trade_no: "T-NEW-1".into(),
            mchid: mchid.clone(),
        })
        .unwrap();
    assert_eq!(
        order.trade_state,
        Some(query::TradeState::Unknown("PARTIALLY_PAID".into()))
    );
    assert_eq!(
        order.trade_state.as_ref().unwrap().as_str(),
        "PARTIALLY_PAID"
    );
    assert_eq!(order.trade_type, Some(query::TradeType::Native));
    assert_eq!(order.amount.total, 5);
    // An unknown value serialises back as it came.
    assert_eq!(
        serde_json::to_value(&order).unwrap()["trade_state"],
        "PARTIALLY_PAID"
    );
}

#[test]
fn an_answer_that_does_not_fit_keeps_its_verified_response() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();
    let answer = json!({
        "appid": APPID, "mchid": mchid, "out_trade_no": "T-ODD-1",
        "amount": { "total": "five", "payer_total": 5 },
    });
    let body = serde_json::to_vec(&answer).unwrap();
    sandbox.script(move |request| {
        request
            .path()
            .ends_with("/T-ODD-1")
            .then(|| Answer::json(200, &answer))
    });
    let error = client
        .send(query::Request {
            out_trade_no: "T-ODD-1".into(),
            mchid: mchid.clone(),
        })
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Decode);
    assert_eq!(error.json_path(), Some("amount.total"), "{error}");
    let response = error.response().expect("the verified response is kept");
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes(), body.as_slice());
    // A missing required field, likewise.
    sandbox.script(|request| {
        request
            .path()
            .ends_with("/T-ODD-2")
            .then(|| Answer::json(200, &json!({ "appid": APPID })))
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let error = rt
        .block_on(client.send_async(query::Request {
            out_trade_no: "T-ODD-2".into(),
            mchid,
        }))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Decode);
    assert!(error.to_string().contains("mchid"), "{error}");
    assert!(error.response().is_some());
}

// ---------------------------------------------------------------------------------------------
// callbacks

#[test]
fn a_payment_callback_decodes_into_the_query_model() {
    let spec = support::CallbackSpec::payment();
    let callback = spec.render();
    let notification = notification_parser()
        .parse(&callback.headers, &callback.body)
        .unwrap();
    let tx: query::Answer = notification.json().unwrap();
    assert_eq!(
        tx.transaction_id.as_deref(),
        Some("1217752501201407033233368018")
    );
    assert_eq!(tx.trade_state, Some(query::TradeState::Success));
    assert_eq!(tx.trade_type, Some(query::TradeType::Jsapi));
    assert_eq!(tx.payer.as_ref().unwrap().openid, OPENID);
    assert_eq!(tx.amount.total, 100);
    assert_eq!(tx.amount.currency.as_deref(), Some("CNY"));
    // The same model as the query by transaction id's, field for field.
    let by_id: by_transaction_id::Answer = notification.json().unwrap();
    assert_eq!(
        serde_json::to_value(&by_id).unwrap(),
        serde_json::to_value(&tx).unwrap()
    );
}

#[test]
fn typed_calls_use_the_same_client_as_dynamic_ones() {
    // One client serves both styles; a clone shares the key ring and connections.
    let sandbox = Sandbox::start().unwrap();
    let client: Client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();
    client.send(native_order(&mchid, "T-MIX-1", 10)).unwrap();
    let dynamic: Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({ "out_trade_no": "T-MIX-1", "query": { "mchid": mchid } }))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(dynamic["trade_state"], "NOTPAY");
    assert_eq!(sandbox.counters().connections, 1);
}
