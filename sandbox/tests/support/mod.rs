//! Helpers shared by the sandbox tests: raw HTTP requests signed by hand (OpenSSL, not the
//! client), an independent check of the sandbox's answer signatures, a callback receiver.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::{Signer, Verifier};
use wechatpay_sandbox::{Identity, request_message, response_message};

pub mod hook;
pub mod receiver;

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A 32-character nonce.
pub fn nonce() -> String {
    let mut bytes = [0u8; 16];
    openssl::rand::rand_bytes(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Base64 RSA-SHA256 by the merchant key of `identity`.
pub fn merchant_sign(identity: &Identity, message: &[u8]) -> String {
    let key = PKey::private_key_from_pem(identity.merchant_private_key_pem.as_bytes()).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(message).unwrap();
    openssl::base64::encode_block(&signer.sign_to_vec().unwrap())
}

/// A correct `Authorization` header for this request, made by hand.
pub fn authorization(identity: &Identity, method: &str, target: &str, body: &[u8]) -> String {
    authorization_at(identity, method, target, body, now())
}

/// The same with a chosen timestamp.
pub fn authorization_at(
    identity: &Identity,
    method: &str,
    target: &str,
    body: &[u8],
    timestamp: i64,
) -> String {
    let nonce = nonce();
    let timestamp = timestamp.to_string();
    let signature = merchant_sign(
        identity,
        &request_message(method, target, &timestamp, &nonce, body),
    );
    format!(
        "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{}\"",
        identity.mchid, identity.merchant_serial
    )
}

/// A correct `Authorization` header for this request, with a chosen `nonce_str`.
pub fn authorization_with_nonce(
    identity: &Identity,
    method: &str,
    target: &str,
    body: &[u8],
    nonce: &str,
) -> String {
    let timestamp = now().to_string();
    let signature = merchant_sign(
        identity,
        &request_message(method, target, &timestamp, nonce, body),
    );
    format!(
        "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{}\"",
        identity.mchid, identity.merchant_serial
    )
}

/// Checks a response or callback signature over `body` with `key`, independently of both the
/// sandbox and the client.
pub fn verify_signature<T: openssl::pkey::HasPublic>(
    key: &openssl::pkey::PKeyRef<T>,
    headers: impl Fn(&str) -> Option<String>,
    body: &[u8],
) -> Result<(), String> {
    let timestamp = headers("Wechatpay-Timestamp").ok_or("no timestamp")?;
    let nonce = headers("Wechatpay-Nonce").ok_or("no nonce")?;
    let signature = headers("Wechatpay-Signature").ok_or("no signature")?;
    let signature = openssl::base64::decode_block(&signature).map_err(|e| e.to_string())?;
    let mut verifier = Verifier::new(MessageDigest::sha256(), key).unwrap();
    verifier
        .update(&response_message(&timestamp, &nonce, body))
        .unwrap();
    if verifier.verify(&signature).unwrap_or(false) {
        Ok(())
    } else {
        Err("bad signature".into())
    }
}

/// An answer read off the wire.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// The signature, checked with the public key of the certificate `pem`.
    pub fn verify_with_certificate(&self, pem: &str) -> Result<(), String> {
        let key = openssl::x509::X509::from_pem(pem.as_bytes())
            .unwrap()
            .public_key()
            .unwrap();
        verify_signature(
            &key,
            |name| self.header(name).map(str::to_owned),
            &self.body,
        )
    }

    /// The sandbox's signature, checked independently of both the sandbox and the client.
    pub fn verify(&self, identity: &Identity) -> Result<(), String> {
        let serial = self.header("Wechatpay-Serial").ok_or("no serial")?;
        let key = if serial == identity.public_key_id {
            PKey::public_key_from_pem(identity.public_key_pem.as_bytes()).unwrap()
        } else if serial == identity.platform_serial {
            openssl::x509::X509::from_pem(identity.platform_certificate_pem.as_bytes())
                .unwrap()
                .public_key()
                .unwrap()
        } else {
            return Err(format!("unknown serial {serial}"));
        };
        let timestamp = self.header("Wechatpay-Timestamp").ok_or("no timestamp")?;
        let nonce = self.header("Wechatpay-Nonce").ok_or("no nonce")?;
        let signature = self.header("Wechatpay-Signature").ok_or("no signature")?;
        let signature = openssl::base64::decode_block(signature).map_err(|e| e.to_string())?;
        let mut verifier = Verifier::new(MessageDigest::sha256(), &key).unwrap();
        verifier
            .update(&response_message(timestamp, nonce, &self.body))
            .unwrap();
        if verifier.verify(&signature).unwrap() {
            Ok(())
        } else {
            Err("bad signature".into())
        }
    }
}

/// Sends one HTTP/1.1 request with `Connection: close` and reads the answer.
pub fn raw_request(
    base_uri: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Raw {
    let authority = base_uri
        .strip_prefix("http://")
        .unwrap()
        .trim_end_matches('/');
    let mut stream = TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete answer head");
    let head = String::from_utf8(answer[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    Raw {
        status,
        headers,
        body: answer[split + 4..].to_vec(),
    }
}
