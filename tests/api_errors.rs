//! Non-2xx answers become `Api` errors with WeChat Pay's code, message, detail and Request-ID.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::scripted::TestServer;
use wechatpay::{ErrorKind, StatusCode};
use wechatpay_sandbox::Answer;

#[test]
fn a_4xx_carries_code_message_detail_and_request_id() {
    let server = TestServer::start(|_| {
        Answer::json(400,
            &json!({
                "code": "PARAM_ERROR",
                "message": "参数错误",
                "detail": { "field": "/amount/total", "issue": "must be positive", "location": "body" },
            }),
        )
        .header("Request-ID", "08F78BB5AF0610D302F8D8A0E0A2D2DE4C0A")
    });
    let client = support::client(&server);
    let err = client
        .chain("v3/pay/transactions/native")
        .post(json!({ "json": { "amount": { "total": -1 } } }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    let api = err.api().unwrap();
    assert_eq!(api.status(), StatusCode::BAD_REQUEST);
    assert_eq!(api.code(), Some("PARAM_ERROR"));
    assert_eq!(api.message(), Some("参数错误"));
    assert_eq!(api.detail().unwrap()["field"], "/amount/total");
    assert_eq!(
        api.request_id(),
        Some("08F78BB5AF0610D302F8D8A0E0A2D2DE4C0A")
    );
    assert_eq!(
        err.to_string(),
        "WeChat Pay API error: HTTP 400 PARAM_ERROR: 参数错误 (Request-ID 08F78BB5AF0610D302F8D8A0E0A2D2DE4C0A)"
    );
    assert_eq!(err.response().unwrap().status(), StatusCode::BAD_REQUEST);
    assert!(err.verification().is_none());
}

#[tokio::test]
async fn a_5xx_carries_wechat_pays_code() {
    let server = TestServer::start(|_| Answer::error(500, "SYSTEM_ERROR", "系统错误"));
    let client = support::client(&server);
    let err = client
        .chain("v3/pay/transactions/native")
        .post_async(json!({ "json": {} }))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    let api = err.api().unwrap();
    assert_eq!(api.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(api.code(), Some("SYSTEM_ERROR"));
    assert_eq!(api.message(), Some("系统错误"));
    assert_eq!(api.request_id(), err.response().unwrap().request_id());
    assert!(api.request_id().is_some());
}

#[tokio::test]
async fn a_5xx_without_json_is_still_an_api_error() {
    let server = TestServer::start(|_| {
        Answer::bytes(502, "text/html", b"<html>Bad Gateway</html>".to_vec()).unsigned()
    });
    let client = support::client(&server);
    let err = client
        .chain("v3/certificates")
        .get_async(())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    let api = err.api().unwrap();
    assert_eq!(api.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(api.code(), None);
    assert_eq!(api.message(), None);
    assert_eq!(api.request_id().map(str::len), Some(32));
    assert_eq!(
        err.response().unwrap().text().unwrap(),
        "<html>Bad Gateway</html>"
    );
}

#[test]
fn the_servers_sign_error_reaches_the_caller() {
    // A signer that signs with the wrong key: the server's independent check refuses it.
    struct WrongKey(wechatpay::crypto::PrivateKey);
    impl wechatpay::signer::Signer for WrongKey {
        fn sign<'a>(&'a self, message: &'a [u8]) -> wechatpay::signer::SignFuture<'a> {
            Box::pin(async move { self.0.sign_sha256(message) })
        }
    }
    let other = openssl::rsa::Rsa::generate(2048)
        .unwrap()
        .private_key_to_pem()
        .unwrap();
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::builder(&server)
        .signer(WrongKey(
            wechatpay::crypto::PrivateKey::from_pem(other).unwrap(),
        ))
        .build()
        .unwrap();
    let err = client.chain("v3/x").get(()).unwrap_err();
    assert_eq!(err.api().unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(err.api().unwrap().code(), Some("SIGN_ERROR"));
    // The sandbox refuses it first, naming the message the signature had to cover: rebuilt
    // here from the request it logged.
    let request = server.last();
    let fields = support::judge::authorization_fields(&request.headers).unwrap();
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).unwrap().1.as_str();
    let signed = support::request_message(
        &request.method,
        &request.target,
        field("timestamp"),
        field("nonce_str"),
        &request.body,
    );
    assert_eq!(
        err.api().unwrap().message(),
        Some(
            format!(
                "signature verification failed (the signed message must be {:?})",
                String::from_utf8(signed).unwrap()
            )
            .as_str()
        )
    );
    assert_eq!(
        request.auth.as_ref().unwrap_err(),
        "signature verification failed"
    );
}

#[test]
fn redirects_are_not_followed() {
    let redirecting = TestServer::start(|_| {
        Answer::bytes(302, "", Vec::new()).header("Location", "http://127.0.0.1:9/x")
    });
    let client = support::client(&redirecting);
    let err = client.chain("v3/x").get(()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.status(), Some(StatusCode::FOUND));
    assert_eq!(redirecting.requests().len(), 1);
}

#[test]
fn a_connection_that_cannot_be_established_times_out() {
    // A listener whose accept queue (backlog 0) is full: the kernel drops further SYNs, so a
    // connect hangs, as it does towards a host that does not answer.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (listener, address) = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(0).unwrap();
        let address = listener.local_addr().unwrap();
        (listener, address)
    });
    let mut queued = Vec::new();
    while queued.len() < 8 {
        match std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200)) {
            Ok(stream) => queued.push(stream),
            Err(_) => break, // the queue is full
        }
    }
    assert!(queued.len() < 8, "the accept queue never filled");

    let client = support::identity()
        .base_uri(format!("http://{address}/"))
        .allow_insecure_http(true)
        .no_failover()
        .connect_timeout(Duration::from_millis(300))
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client.chain("v3/x").get(()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert!(err.is_connect(), "{err:?}");
    assert!(err.is_timeout(), "{err:?}");
    // The connect timeout ended it, not the 20 s one.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop((listener, queued));
}

#[test]
fn a_slow_answer_times_out() {
    let server = TestServer::start(|_| {
        std::thread::sleep(std::time::Duration::from_millis(800));
        Answer::no_content()
    });
    let client = support::builder(&server)
        .timeout(std::time::Duration::from_millis(200))
        .build()
        .unwrap();
    let err = client.chain("v3/x").get(()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(err.is_timeout(), "{err:?}");
    // The per-request option overrides the client's timeout.
    let patient = support::client(&server);
    let err = patient
        .chain("v3/x")
        .get(json!({ "timeout": 0.2 }))
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(
        patient
            .chain("v3/x")
            .get(json!({ "timeout": 5 }))
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
}
