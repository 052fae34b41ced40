//! Blocking verbs and runtimes: they work from plain threads and `spawn_blocking` threads,
//! refuse (with an error, never a panic) in async code on a runtime, and the async futures are
//! `Send + 'static`.

mod support;

use std::future::Future;

use serde_json::json;
use support::scripted::TestServer;
use wechatpay::ErrorKind;
use wechatpay_sandbox::Answer;

fn assert_send_static<F: Future + Send + 'static>(f: F) -> F {
    f
}

fn assert_refused(err: wechatpay::Error, verb: &str) {
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(
        err.to_string(),
        format!(
            "configuration error: `{verb}` is blocking and was called from async code running on \
             a Tokio runtime, where it would stall the executor: use `{verb}_async(..).await` \
             instead, or move the call off the executor with `tokio::task::spawn_blocking`"
        )
    );
}

#[tokio::test]
async fn blocking_inside_a_current_thread_runtime_is_an_error() {
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::client(&server);
    assert_refused(client.chain("v3/x").post(json!({})).unwrap_err(), "post");
    assert_refused(client.chain("v3/x").get(()).unwrap_err(), "get");
    let c = client.clone();
    let err = tokio::spawn(async move { c.chain("v3/x").patch(json!({})).unwrap_err() })
        .await
        .unwrap();
    assert_refused(err, "patch");
    assert!(server.requests().is_empty());
    // The async form works on the same runtime, and so does what the error suggests.
    client.chain("v3/x").post_async(json!({})).await.unwrap();
    let c = client.clone();
    let status = tokio::task::spawn_blocking(move || c.chain("v3/x").put(()).unwrap().status())
        .await
        .unwrap();
    assert_eq!(status, 204);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_inside_a_multi_thread_runtime_is_an_error() {
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::client(&server);
    assert_refused(client.chain("v3/x").get(()).unwrap_err(), "get");
    let c = client.clone();
    let err = tokio::spawn(async move { c.chain("v3/x").delete(()).unwrap_err() })
        .await
        .unwrap();
    assert_refused(err, "delete");
    // Even with its budget nearly spent, a task is recognised (the unit test in transport.rs
    // checks that it keeps exactly what it had left).
    let c = client.clone();
    let err = tokio::spawn(async move {
        for _ in 0..120 {
            tokio::task::consume_budget().await;
        }
        c.chain("v3/x").delete(()).unwrap_err()
    })
    .await
    .unwrap();
    assert_refused(err, "delete");
    assert!(server.requests().is_empty());

    // What the error suggests works: spawn_blocking threads carry the runtime's context but
    // poll nothing.
    let c = client.clone();
    let status = tokio::task::spawn_blocking(move || c.chain("v3/x").put(()).unwrap().status())
        .await
        .unwrap();
    assert_eq!(status, 204);
    // So does a plain thread started from async code.
    let c = client.clone();
    let status = std::thread::spawn(move || c.chain("v3/x").put(()).unwrap().status())
        .join()
        .unwrap();
    assert_eq!(status, 204);
    // Inside `unconstrained` the check cannot see the task; the call runs through
    // `block_in_place` instead of panicking.
    let c = client.clone();
    let status = tokio::spawn(tokio::task::unconstrained(async move {
        c.chain("v3/x").get(()).unwrap().status()
    }))
    .await
    .unwrap();
    assert_eq!(status, 204);
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn a_thread_that_entered_a_runtime_may_block() {
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::client(&server);
    for runtime in [
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        tokio::runtime::Runtime::new().unwrap(),
    ] {
        let _entered = runtime.enter();
        assert_eq!(client.chain("v3/x").get(()).unwrap().status(), 204);
    }
}

#[test]
fn blocking_from_plain_threads_concurrently() {
    let server = TestServer::start(|_| Answer::json(200, &json!({ "ok": true })));
    let client = support::client(&server);
    std::thread::scope(|scope| {
        for i in 0..8 {
            let client = &client;
            scope.spawn(move || {
                for j in 0..5 {
                    let r = client["v3/items/{id}"]
                        .get(json!({ "id": format!("{i}-{j}") }))
                        .unwrap();
                    assert!(r.signature_verified());
                }
            });
        }
    });
    assert_eq!(server.requests().len(), 40);
}

#[test]
fn a_client_used_blocking_can_be_dropped_inside_async_code() {
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::client(&server);
    client.chain("v3/x").get(()).unwrap(); // starts the private blocking runtime
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        client.chain("v3/x").get_async(()).await.unwrap();
        drop(client); // must not panic ("cannot drop a runtime in an async context")
    });
}

#[test]
fn async_futures_are_send_and_static() {
    let server = TestServer::start(|_| Answer::no_content());
    let client = support::client(&server);
    // The future outlives the endpoint and the client handle it came from.
    let future = {
        let endpoint = client.chain("v3/x");
        assert_send_static(endpoint.get_async(()))
    };
    drop(client);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let response = rt
        .block_on(async { tokio::spawn(future).await.unwrap() })
        .unwrap();
    assert_eq!(response.status(), 204);
}

#[test]
fn a_kms_style_async_signer_serves_both_forms() {
    struct RemoteSigner(wechatpay::crypto::PrivateKey);
    impl wechatpay::signer::Signer for RemoteSigner {
        fn sign<'a>(&'a self, message: &'a [u8]) -> wechatpay::signer::SignFuture<'a> {
            Box::pin(async move {
                // Stands in for a network round trip to the KMS.
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                self.0.sign_sha256(message)
            })
        }
    }
    let server = TestServer::start(|_| Answer::no_content());
    let key =
        wechatpay::crypto::PrivateKey::from_pem(&support::keys().merchant_key_pkcs8_pem).unwrap();
    let client = support::builder(&server)
        .signer(RemoteSigner(key))
        .build()
        .unwrap();
    client
        .chain("v3/x")
        .post(json!({ "json": { "a": 1 } }))
        .unwrap();
    server.last().auth_ok();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(
        client
            .chain("v3/x")
            .post_async(json!({ "json": { "a": 2 } })),
    )
    .unwrap();
    server.last().auth_ok();
}
