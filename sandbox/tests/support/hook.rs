//! A bare callback receiver on 127.0.0.1 (std `TcpListener`, one thread): it records every
//! POST it gets, with its arrival time, and answers each with the next status of its script
//! (the last one repeated). No client code is involved: tests check the signature with OpenSSL
//! and decrypt the resource themselves.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::sign::Verifier;
use openssl::symm::{Cipher, decrypt_aead};
use serde_json::Value;

/// One callback as it arrived.
#[derive(Clone, Debug)]
pub struct Hit {
    pub at: Instant,
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Hit {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The envelope.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Checks `Wechatpay-Signature` over `timestamp\nnonce\nbody\n` with `key`, by hand.
    pub fn verify(&self, key: &PKey<Public>) -> Result<(), String> {
        let timestamp = self.header("Wechatpay-Timestamp").ok_or("no timestamp")?;
        let nonce = self.header("Wechatpay-Nonce").ok_or("no nonce")?;
        let signature = self.header("Wechatpay-Signature").ok_or("no signature")?;
        let signature = openssl::base64::decode_block(signature).map_err(|e| e.to_string())?;
        let mut message = format!("{timestamp}\n{nonce}\n").into_bytes();
        message.extend_from_slice(&self.body);
        message.push(b'\n');
        let mut verifier = Verifier::new(MessageDigest::sha256(), key).unwrap();
        verifier.update(&message).unwrap();
        if verifier.verify(&signature).unwrap_or(false) {
            Ok(())
        } else {
            Err("the signature does not verify".into())
        }
    }

    /// The decrypted `resource` (AES-256-GCM under `apiv3_key`, by hand).
    pub fn resource(&self, apiv3_key: &str) -> Value {
        let envelope = self.json();
        let resource = &envelope["resource"];
        let sealed =
            openssl::base64::decode_block(resource["ciphertext"].as_str().unwrap()).unwrap();
        let (ciphertext, tag) = sealed.split_at(sealed.len() - 16);
        let plain = decrypt_aead(
            Cipher::aes_256_gcm(),
            apiv3_key.as_bytes(),
            Some(resource["nonce"].as_str().unwrap().as_bytes()),
            resource["associated_data"].as_str().unwrap().as_bytes(),
            ciphertext,
            tag,
        )
        .unwrap();
        serde_json::from_slice(&plain).unwrap()
    }
}

pub struct Hook {
    pub url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Hook {
    /// Answers the n-th callback with `statuses[n]` (the last one for every later callback).
    pub fn start(statuses: &[u16]) -> Hook {
        assert!(!statuses.is_empty());
        let statuses = statuses.to_vec();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/wechatpay/notify?from=sandbox",
            listener.local_addr().unwrap()
        );
        let hits = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                serve(stream, &log, &statuses);
            }
        });
        Hook { url, hits }
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Waits (at most `timeout`) until `n` callbacks have arrived; all of them.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + timeout;
        loop {
            let hits = self.hits();
            if hits.len() >= n {
                return hits;
            }
            assert!(
                Instant::now() < deadline,
                "{} callbacks after {timeout:?}, expected {n}",
                hits.len()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Reads one request, records it and answers the status of its turn, closing the connection.
fn serve(mut stream: TcpStream, log: &Mutex<Vec<Hit>>, statuses: &[u16]) -> Option<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let (head_end, at) = loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break (end, Instant::now());
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&buf[..n]);
    }
    // Recorded before the answer: once the sandbox logs its attempt, the hit is here.
    let status = {
        let mut log = log.lock().unwrap();
        let status = statuses[log.len().min(statuses.len() - 1)];
        log.push(Hit {
            at,
            method,
            target,
            headers,
            body,
        });
        status
    };
    let answer =
        format!("HTTP/1.1 {status} Whatever\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(answer.as_bytes());
    Some(())
}
