//! `close-after-reply` (`Fault::CloseAfterReply`): the answer is sound and the connection kept
//! alive, then closed the given time after the answer, as load balancers close idle
//! connections. Checked on the wire, with raw keep-alive connections.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;
use support::authorization;
use wechatpay_sandbox::{Answer, Fault, Sandbox};

const DELAY: Duration = Duration::from_millis(300);

/// A keep-alive connection to the sandbox's plain port.
fn connect(sandbox: &Sandbox) -> TcpStream {
    let authority = sandbox.base_uri()["http://".len()..].trim_end_matches('/');
    let stream = TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Sends a signed `GET /v3/certificates` (with `headers`) on `stream` and reads its answer;
/// returns the status.
fn get(sandbox: &Sandbox, stream: &mut TcpStream, headers: &[(&str, &str)]) -> u16 {
    let target = "/v3/certificates";
    let auth = authorization(sandbox.identity(), "GET", target, b"");
    let mut request =
        format!("GET {target} HTTP/1.1\r\nHost: sandbox\r\nAuthorization: {auth}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    read_answer(stream)
}

/// Reads one answer (with a `Content-Length`) and no more; returns its status.
fn read_answer(stream: &mut TcpStream) -> u16 {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "the answer ended early");
        got.push(byte[0]);
    }
    let head = String::from_utf8(got).unwrap();
    assert!(
        !head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .expect("a Content-Length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    head[9..12].parse().unwrap()
}

/// Waits for the sandbox to close `stream`; how long after `since` it did.
fn closed_after(stream: &mut TcpStream, since: Instant) -> Duration {
    let mut buf = [0u8; 64];
    assert_eq!(
        stream.read(&mut buf).unwrap(),
        0,
        "more bytes after the answer"
    );
    since.elapsed()
}

fn assert_closed_in_time(elapsed: Duration, delay: Duration, how: &str) {
    assert!(
        elapsed >= delay && elapsed < delay + Duration::from_secs(3),
        "{how}: closed after {elapsed:?}, expected {delay:?}"
    );
}

#[test]
fn the_connection_closes_the_given_time_after_a_sound_answer() {
    let sandbox = Sandbox::start().unwrap();
    let fault = Fault::CloseAfterReply(DELAY);
    assert_eq!(fault.to_string(), "close-after-reply-300ms");
    let ways: [(&str, &dyn Fn(bool)); 4] = [
        ("a Sandbox-Fault header", &|_| {}),
        ("set_fault", &|on| sandbox.set_fault(on.then_some(fault))),
        ("set_route_fault", &|on| {
            sandbox.set_route_fault("/v3/certificates", on.then_some(fault))
        }),
        ("a script's answer", &|on| {
            if on {
                sandbox
                    .script(move |_| Some(Answer::json(200, &json!({ "data": [] })).fault(fault)))
            } else {
                sandbox.clear_script()
            }
        }),
    ];
    for (how, set) in ways {
        set(true);
        let header = fault.to_string();
        let headers: &[(&str, &str)] = if how.contains("header") {
            &[("Sandbox-Fault", header.as_str())]
        } else {
            &[]
        };
        let mut stream = connect(&sandbox);
        let sent = Instant::now();
        assert_eq!(get(&sandbox, &mut stream, headers), 200, "{how}");
        assert_closed_in_time(closed_after(&mut stream, sent), DELAY, how);
        set(false);
    }
    assert!(sandbox.requests().iter().all(|r| r.verdict.is_ok()));
}

#[test]
fn without_it_the_connection_stays_open() {
    let sandbox = Sandbox::start().unwrap();
    let mut stream = connect(&sandbox);
    assert_eq!(get(&sandbox, &mut stream, &[]), 200);
    stream
        .set_read_timeout(Some(DELAY + Duration::from_millis(400)))
        .unwrap();
    let error = stream.read(&mut [0u8; 64]).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{error:?}"
    );
    // And it still serves.
    assert_eq!(get(&sandbox, &mut stream, &[]), 200);
}

#[test]
fn a_request_in_the_meantime_is_answered_and_the_earliest_close_wins() {
    let sandbox = Sandbox::start().unwrap();
    let mut stream = connect(&sandbox);
    let sent = Instant::now();
    let first = Fault::CloseAfterReply(DELAY).to_string();
    assert_eq!(
        get(&sandbox, &mut stream, &[("Sandbox-Fault", &first)]),
        200
    );
    // Before the close: answered on the same connection, and asking for a later close
    // changes nothing.
    std::thread::sleep(DELAY / 3);
    let later = Fault::CloseAfterReply(DELAY * 10).to_string();
    assert_eq!(
        get(&sandbox, &mut stream, &[("Sandbox-Fault", &later)]),
        200
    );
    assert_eq!(get(&sandbox, &mut stream, &[]), 200);
    assert_closed_in_time(closed_after(&mut stream, sent), DELAY, "the first close");
    assert_eq!(sandbox.requests().len(), 3);
}
