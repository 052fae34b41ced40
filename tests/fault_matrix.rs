//! The fault matrix: every way an answer can go wrong, blocking and async. Each gives the
//! right `ErrorKind`: never a panic, never a success.

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::json;
use support::scripted::TestServer;
use wechatpay::{Client, ErrorKind, VerificationFailure};
use wechatpay_sandbox::{Answer, Fault, SignatureHeader};

/// What a case expects of the call (and, for a 2xx that verified, of `json()`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// The call fails with this kind.
    Call(ErrorKind),
    /// The call succeeds (verified); `json::<Value>()` fails with this kind.
    Json(ErrorKind),
    /// The call succeeds (verified) and the body is this many bytes.
    Body(usize),
}

fn call(client: &Client, run_async: bool) -> wechatpay::Result<wechatpay::Response> {
    let endpoint = &client["v3/pay/transactions/id/{id}"];
    let options = json!({ "id": "4200000001", "query": { "mchid": support::mchid() } });
    if run_async {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(endpoint.get_async(options))
    } else {
        endpoint.get(options)
    }
}

fn check(name: &str, outcome: wechatpay::Result<wechatpay::Response>, expect: Expect) {
    match (outcome, expect) {
        (Err(e), Expect::Call(kind)) => assert_eq!(e.kind(), kind, "{name}: {e}"),
        (Ok(response), Expect::Json(kind)) => {
            assert!(response.signature_verified(), "{name}");
            let err = response.json::<serde_json::Value>().unwrap_err();
            assert_eq!(err.kind(), kind, "{name}: {err}");
        }
        (Ok(response), Expect::Body(len)) => {
            assert!(response.signature_verified(), "{name}");
            assert_eq!(response.bytes().len(), len, "{name}");
        }
        (Ok(response), expect) => {
            panic!("{name}: a success ({response:?}) where {expect:?} was due")
        }
        (Err(e), expect) => panic!("{name}: {e} where {expect:?} was due"),
    }
}

#[test]
fn signed_answers_that_fail_their_checks() {
    let ok = || Answer::json(200, &json!({ "trade_state": "SUCCESS" }));
    let cases: Vec<(&str, Answer, Expect)> = vec![
        (
            "bad signature (wrong key)",
            ok().fault(Fault::WrongKey),
            Expect::Call(ErrorKind::Verification),
        ),
        (
            "signature not base64",
            ok().fault(Fault::SignatureNotBase64),
            Expect::Call(ErrorKind::Verification),
        ),
        (
            "stale timestamp",
            ok().fault(Fault::StaleTimestamp),
            Expect::Call(ErrorKind::Verification),
        ),
        (
            "future timestamp",
            ok().fault(Fault::FutureTimestamp),
            Expect::Call(ErrorKind::Verification),
        ),
        (
            "unknown serial",
            ok().fault(Fault::UnknownSerial),
            Expect::Call(ErrorKind::Verification),
        ),
        (
            "missing timestamp",
            ok().fault(Fault::MissingHeader(SignatureHeader::Timestamp)),
            Expect::Call(ErrorKind::Verification),
        ),
        (
            "missing nonce",
            ok().fault(Fault::MissingHeader(SignatureHeader::Nonce)),
            Expect::Call(ErrorKind::Verification),
        ),
        (
            "missing signature",
            ok().fault(Fault::MissingHeader(SignatureHeader::Signature)),
            Expect::Call(ErrorKind::Verification),
        ),
        (
            "missing serial",
            ok().fault(Fault::MissingHeader(SignatureHeader::Serial)),
            Expect::Call(ErrorKind::Verification),
        ),
        (
            "unsigned",
            ok().unsigned(),
            Expect::Call(ErrorKind::Verification),
        ),
        (
            "tampered body",
            ok().fault(Fault::TamperedBody),
            Expect::Call(ErrorKind::Verification),
        ),
        (
            "5xx with a JSON body",
            Answer::error(500, "SYSTEM_ERROR", "系统错误"),
            Expect::Call(ErrorKind::Api),
        ),
        (
            "5xx without a body",
            Answer::bytes(502, "text/html", b"<html>Bad Gateway</html>".to_vec()),
            Expect::Call(ErrorKind::Api),
        ),
        (
            "200 with a non-JSON body",
            Answer::bytes(200, "text/plain", b"not json".to_vec()),
            Expect::Json(ErrorKind::Decode),
        ),
        (
            "200 with a 10 MB body",
            Answer::bytes(200, "application/json", vec![b' '; 10 << 20]),
            Expect::Body(10 << 20),
        ),
    ];
    for (name, reply, expect) in cases {
        let server = TestServer::start(move |_| reply.clone());
        let client = support::client(&server);
        for run_async in [false, true] {
            let outcome = call(&client, run_async);
            if let (Err(e), Expect::Call(ErrorKind::Verification)) = (&outcome, expect) {
                // A failed check keeps the answer for inspection, never hands it out as a success.
                assert!(e.verification().is_some(), "{name}");
                assert!(!e.response().unwrap().signature_verified(), "{name}");
            }
            check(&format!("{name} (async: {run_async})"), outcome, expect);
        }
    }
}

/// Closes with a TCP RST (SO_LINGER 0), as a crashed or reset peer does.
fn reset(stream: &mut std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// How a raw server answers a request.
type RawAnswer = fn(&mut std::net::TcpStream);

/// A raw server: reads one request per connection and answers with `answer` (which may close
/// early, sleep or send garbage).
fn raw_server(answer: RawAnswer) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                answer(&mut stream);
            });
        }
    });
    uri
}

#[test]
fn broken_connections_and_slow_servers() {
    let cases: [(&str, RawAnswer, ErrorKind); 4] = [
        (
            "connection reset before the headers",
            |s| {
                reset(s);
            },
            ErrorKind::Transport,
        ),
        (
            "connection reset after the headers (truncated body)",
            |s| {
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"trade",
                );
                reset(s);
            },
            ErrorKind::Transport,
        ),
        (
            "garbage instead of HTTP",
            |s| {
                let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n");
            },
            ErrorKind::Transport,
        ),
        (
            "slow server past the timeout",
            |_| std::thread::sleep(Duration::from_secs(3)),
            ErrorKind::Transport,
        ),
    ];
    for (name, answer, kind) in cases {
        let uri = raw_server(answer);
        let client = support::identity()
            .base_uri(uri)
            .allow_insecure_http(true)
            .timeout(Duration::from_millis(700))
            .build()
            .unwrap();
        for run_async in [false, true] {
            let outcome = call(&client, run_async);
            let err = outcome.expect_err(name);
            assert_eq!(err.kind(), kind, "{name} (async: {run_async}): {err}");
            if name.starts_with("slow") {
                assert!(err.is_timeout(), "{name}: {err}");
            }
        }
    }
    // A per-request timeout overrides the client's.
    let uri = raw_server(|_| std::thread::sleep(Duration::from_secs(3)));
    let client = support::identity()
        .base_uri(uri)
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = client["v3/x"].get(json!({ "timeout": 0.3 })).unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_verification_failure_names_what_failed() {
    let server = TestServer::start(|_| {
        Answer::json(200, &json!({})).fault(Fault::MissingHeader(SignatureHeader::Nonce))
    });
    let err = call(&support::client(&server), false).unwrap_err();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::MissingHeader("Wechatpay-Nonce"))
    );
}

#[test]
fn a_body_past_the_size_limit_is_refused_before_it_is_all_read() {
    const LIMIT: usize = 1 << 20;
    let limited = |uri: String| {
        support::identity()
            .base_uri(uri)
            .allow_insecure_http(true)
            .max_response_size(LIMIT)
            .build()
            .unwrap()
    };
    let message = format!(
        "transport error: the response body is larger than {LIMIT} bytes, the client's max_response_size"
    );
    // Signed answers of exactly the limit and one byte more, with `Content-Length`.
    for (len, fits) in [(LIMIT, true), (LIMIT + 1, false)] {
        let server =
            TestServer::start(move |_| Answer::bytes(200, "application/json", vec![b' '; len]));
        let client = limited(server.base_uri());
        for run_async in [false, true] {
            let outcome = call(&client, run_async);
            if fits {
                check("a body of the limit", outcome, Expect::Body(LIMIT));
            } else {
                let err = outcome.expect_err("one byte past the limit");
                assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
                // The status and Request-ID of the answer, for its support.
                let text = err.to_string();
                assert!(
                    text.starts_with(&format!("{message} (answer: HTTP 200 OK, Request-ID ")),
                    "{text}"
                );
            }
        }
    }
    // An announced length past the limit: refused without reading (the server sends no body
    // and keeps the connection open, which would otherwise wait for the timeout).
    let announced = raw_server(|s| {
        let _ = s.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1073741824\r\n\r\n",
        );
        std::thread::sleep(Duration::from_secs(5));
    });
    // No length (chunked): refused once the chunks pass the limit.
    let chunked = raw_server(|s| {
        let _ = s.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        );
        let chunk = [b' '; 64 << 10];
        for _ in 0..(LIMIT / chunk.len()) + 1 {
            let _ = s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
            let _ = s.write_all(&chunk);
            let _ = s.write_all(b"\r\n");
        }
        std::thread::sleep(Duration::from_secs(5));
    });
    // Chunked, exactly the limit: read whole (then refused as unsigned, which shows it was).
    let chunked_limit = raw_server(|s| {
        let _ = s.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        );
        let chunk = [b' '; 64 << 10];
        for _ in 0..LIMIT / chunk.len() {
            let _ = s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
            let _ = s.write_all(&chunk);
            let _ = s.write_all(b"\r\n");
        }
        let _ = s.write_all(b"0\r\n\r\n");
        std::thread::sleep(Duration::from_secs(5));
    });
    let client = limited(chunked_limit);
    for run_async in [false, true] {
        let err = call(&client, run_async).expect_err("unsigned");
        assert_eq!(err.kind(), ErrorKind::Verification, "{err}");
        assert_eq!(err.response().unwrap().bytes().len(), LIMIT);
    }
    for uri in [announced, chunked] {
        let client = limited(uri);
        for run_async in [false, true] {
            let started = std::time::Instant::now();
            let err = call(&client, run_async).expect_err("past the limit");
            assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
            assert_eq!(err.to_string(), format!("{message} (answer: HTTP 200 OK)"));
            assert!(!err.is_timeout());
            assert!(started.elapsed() < Duration::from_secs(4));
        }
    }
    // Zero allows nothing: a configuration error.
    let err = support::identity()
        .max_response_size(0)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.to_string()
            .ends_with("max_response_size is 0: it must allow at least one byte"),
        "{err}"
    );
    assert_eq!(wechatpay::DEFAULT_MAX_RESPONSE_SIZE, 64 << 20);
}
