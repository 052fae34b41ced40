//! A one-shot HTTP receiver for callbacks (the sandbox's `notify`).

/// A one-shot HTTP receiver: its URL, and the headers and body of what it receives.
pub fn receiver() -> (
    String,
    std::sync::mpsc::Receiver<(http::HeaderMap, Vec<u8>)>,
) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut headers = http::HeaderMap::new();
        let mut length = 0;
        let mut first = true;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if first {
                first = false;
                continue;
            }
            let (name, value) = line.split_once(':').unwrap();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
            headers.append(
                http::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
                value.trim().parse().unwrap(),
            );
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let _ = reader
            .get_mut()
            .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        let _ = tx.send((headers, body));
    });
    (url, rx)
}
