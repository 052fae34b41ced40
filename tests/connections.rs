//! Connection handling: pooled connections that the server closes while idle, and the async
//! verbs polled outside Tokio.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use wechatpay::ErrorKind;

/// A signed `200 {}` answer, as raw HTTP/1.1 with keep-alive.
fn signed_answer() -> Vec<u8> {
    let k = support::keys();
    let ts = support::now_unix().to_string();
    let nonce = support::random_alnum(32);
    let signature = support::rsa_sha256_sign(
        &k.platform_private,
        &support::response_message(&ts, &nonce, b"{}"),
    );
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\
         Wechatpay-Timestamp: {ts}\r\nWechatpay-Nonce: {nonce}\r\nWechatpay-Signature: {signature}\r\n\
         Wechatpay-Serial: {}\r\n\r\n{{}}",
        k.platform_serial
    )
    .into_bytes()
}

/// Answers one request per connection, keeps the connection open (keep-alive), then closes it
/// 100 ms later, as servers and load balancers do with idle connections.
fn closing_server() -> String {
    let _ = support::keys();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let (mut buf, mut got) = ([0u8; 8192], Vec::new());
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                stream.write_all(&signed_answer()).unwrap();
                std::thread::sleep(Duration::from_millis(100));
            });
        }
    });
    format!("http://{addr}/")
}

#[test]
fn blocking_calls_survive_idle_connections_closed_by_the_server() {
    let client = support::identity()
        .base_uri(closing_server())
        .build()
        .unwrap();
    for i in 0..5 {
        let result = client.chain("v3/x").get(());
        assert!(result.is_ok(), "call {i}: {:?}", result.unwrap_err());
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn async_calls_survive_idle_connections_closed_by_the_server() {
    let client = support::identity()
        .base_uri(closing_server())
        .build()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for i in 0..5 {
        let result = rt.block_on(client.chain("v3/x").get_async(()));
        assert!(result.is_ok(), "call {i}: {:?}", result.unwrap_err());
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn an_async_verb_polled_outside_tokio_is_an_error_not_a_panic() {
    let client = support::identity()
        .base_uri("http://127.0.0.1:9/")
        .build()
        .unwrap();
    let mut future = std::pin::pin!(client.chain("v3/x").post_async(()));
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(Err(e)) => {
            assert_eq!(e.kind(), ErrorKind::Config);
            assert!(
                e.to_string().contains("`post_async` needs a Tokio runtime"),
                "{e}"
            );
        }
        other => panic!("expected an immediate error, got {other:?}"),
    }
}

#[test]
fn a_refused_connection_is_a_transport_error() {
    // A port nobody listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    let client = support::identity()
        .base_uri(format!("http://127.0.0.1:{port}/"))
        .build()
        .unwrap();
    let err = client.chain("v3/x").get(()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(err.is_connect(), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("transport error: cannot connect"),
        "{err}"
    );
}
