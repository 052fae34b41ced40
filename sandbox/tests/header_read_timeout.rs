//! How long an idle keep-alive connection stays open: `header_read_timeout` closes it after
//! the time given; without a limit it stays open and serves the next request.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use wechatpay_sandbox::Sandbox;

/// A connection to the sandbox's plain port.
fn connect(sandbox: &Sandbox) -> TcpStream {
    let authority = sandbox
        .base_uri()
        .trim_start_matches("http://")
        .trim_end_matches('/');
    TcpStream::connect(authority).unwrap()
}

/// Sends an APIv2 request with a wrong sign on a keep-alive connection and reads the answer
/// (its `Content-Length` body included), which the sandbox sends without closing.
fn exchange(stream: &mut TcpStream) -> String {
    let body = "<xml><out_trade_no>1</out_trade_no><sign>0</sign></xml>";
    write!(
        stream,
        "POST /pay/orderquery HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the answer was complete");
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .expect("a content-length")
                .parse()
                .unwrap();
            if rest.len() >= length {
                return text;
            }
        }
    }
}

#[test]
fn an_idle_connection_is_closed_after_the_header_read_timeout() {
    let sandbox = Sandbox::builder()
        .header_read_timeout(Some(Duration::from_millis(300)))
        .start()
        .unwrap();
    let mut stream = connect(&sandbox);
    assert!(exchange(&mut stream).contains("签名错误"));
    let idle = Instant::now();
    let mut buf = [0u8; 16];
    // The sandbox closes it: end of stream, well before the read timeout of 10 s.
    assert_eq!(stream.read(&mut buf).unwrap(), 0);
    let waited = idle.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[test]
fn without_a_limit_an_idle_connection_stays_open() {
    // `None` lifts the limit set before it (the last setting wins).
    let sandbox = Sandbox::builder()
        .header_read_timeout(Some(Duration::from_millis(300)))
        .header_read_timeout(None)
        .start()
        .unwrap();
    let mut stream = connect(&sandbox);
    assert!(exchange(&mut stream).contains("签名错误"));
    // Idle for five times that limit: nothing arrives, the connection is not closed.
    stream
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut buf = [0u8; 16];
    let error = stream
        .read(&mut buf)
        .expect_err("no data, no end of stream");
    assert!(
        matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{error}"
    );
    // The same connection serves the next request.
    assert!(exchange(&mut stream).contains("签名错误"));
    assert_eq!(sandbox.counters().connections, 1);
    assert_eq!(sandbox.counters().requests, 2);
}
