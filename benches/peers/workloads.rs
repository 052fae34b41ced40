//! What the benchmark measures: each workload makes `n` calls when asked, and owns what it
//! needs (client, runtime, keys, socket).

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::header::{AUTHORIZATION, HeaderValue};
use wechatpay::Client;
use wechatpay::crypto::{PrivateKey, PublicKey, base64_decode};
use wechatpay::signature::{authorization_header, request_message, response_message};

use crate::{Identity, TARGET, TEMPLATE, check, options, support};

/// Makes `n` calls.
pub type Workload = Box<dyn FnMut(usize) -> Result<(), String>>;

fn text(e: impl ToString) -> String {
    e.to_string()
}

/// This SDK's blocking verb: `client.chain(TEMPLATE).get(options)`.
pub fn blocking(identity: &Identity) -> Result<Workload, String> {
    let client = identity.client()?;
    Ok(Box::new(move |n| {
        (0..n).try_for_each(|_| check(client.chain(TEMPLATE).get(options())))
    }))
}

/// This SDK's async verb on the runtime `#[tokio::main]` builds, `in_flight` calls at a time.
pub fn asynchronous(identity: &Identity, in_flight: usize) -> Result<Workload, String> {
    let client = identity.client()?;
    let runtime = tokio::runtime::Runtime::new().map_err(text)?;
    Ok(Box::new(move |n| {
        runtime.block_on(run_async(&client, n, in_flight))
    }))
}

/// Signs on Tokio's blocking-thread pool (`spawn_blocking`) instead of the executor thread.
struct Offloaded(PrivateKey);

impl wechatpay::signer::Signer for Offloaded {
    fn sign<'a>(&'a self, message: &'a [u8]) -> wechatpay::signer::SignFuture<'a> {
        let key = self.0.clone();
        let message = message.to_vec();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || key.sign_sha256(&message))
                .await
                .expect("the signing task panicked")
        })
    }
}

/// As [`asynchronous`], with the signing done by [`Offloaded`], and a probe: a task that asks
/// to wake every millisecond, whose worst lateness is printed (how long the executor stalls).
pub fn probed(identity: &Identity, in_flight: usize, offload: bool) -> Result<Workload, String> {
    let mut builder = Client::builder()
        .mchid(&identity.mchid)
        .serial(&identity.merchant_serial)
        .platform_key(
            &identity.platform_serial,
            std::fs::read(&identity.platform_cert).map_err(text)?,
        )
        .base_uri(&identity.base_uri)
        .allow_insecure_http(true);
    let pem = std::fs::read(&identity.merchant_key).map_err(text)?;
    builder = if offload {
        builder.signer(Offloaded(PrivateKey::load(pem).map_err(text)?))
    } else {
        builder.private_key(pem)
    };
    let client = builder.build().map_err(text)?;
    let runtime = tokio::runtime::Runtime::new().map_err(text)?;
    Ok(Box::new(move |n| {
        let worst_us = Arc::new(AtomicU64::new(0));
        let result = runtime.block_on(async {
            let worst = Arc::clone(&worst_us);
            let probe = tokio::spawn(async move {
                loop {
                    let asked = tokio::time::Instant::now() + std::time::Duration::from_millis(1);
                    tokio::time::sleep_until(asked).await;
                    let late = asked.elapsed().as_micros() as u64;
                    worst.fetch_max(late, Ordering::Relaxed);
                }
            });
            let result = run_async(&client, n, in_flight).await;
            probe.abort();
            result
        });
        eprintln!(
            "probe: a 1 ms timer woke up to {} µs late",
            worst_us.load(Ordering::Relaxed)
        );
        result
    }))
}

/// `n` GETs, `in_flight` at a time: `in_flight` tasks take them from a shared counter.
pub async fn run_async(client: &Client, n: usize, in_flight: usize) -> Result<(), String> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..in_flight.max(1) {
        let client = client.clone();
        let next = Arc::clone(&next);
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n as u64 {
                check(client.chain(TEMPLATE).get_async(options()).await)?;
            }
            Ok::<_, String>(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(text)??;
    }
    Ok(())
}

/// The RSA keys of a call and messages the size of a call's.
struct Keys {
    merchant: PrivateKey,
    platform: PublicKey,
}

impl Keys {
    fn read(identity: &Identity) -> Result<Keys, String> {
        let pem = std::fs::read(&identity.merchant_key).map_err(text)?;
        let cert = std::fs::read(&identity.platform_cert).map_err(text)?;
        Ok(Keys {
            merchant: PrivateKey::load(pem).map_err(text)?,
            platform: PublicKey::load(cert).map_err(text)?,
        })
    }
}

/// The floor as this process sees it: what a call costs in RSA (sign a request's message with
/// the merchant key, verify a 200-byte answer's signature with the platform key), through the
/// crate's own key types, in a hot loop.
pub fn floor(identity: &Identity) -> Result<Workload, String> {
    let keys = Keys::read(identity)?;
    let request = request_message("GET", TARGET, 1_700_000_000, &"N".repeat(32), b"");
    let answer = response_message("1700000000", &"N".repeat(32), &[b'x'; 200]);
    // Any 256-byte signature costs the same to check: this one fails, as the check must run
    // to the end.
    let signature = keys.merchant.sign_sha256(&answer).map_err(text)?;
    Ok(Box::new(move |n| {
        for _ in 0..n {
            let signed = keys.merchant.sign_sha256(std::hint::black_box(&request));
            let ok = keys
                .platform
                .verify_sha256(std::hint::black_box(&answer), &signature);
            std::hint::black_box((signed.map_err(text)?, ok));
        }
        Ok(())
    }))
}

/// One `Authorization`, signed now and sent with every call of the bare workloads (the server
/// does not refuse a repeated nonce).
fn static_authorization(identity: &Identity, keys: &Keys) -> Result<HeaderValue, String> {
    let now = support::now_unix();
    let nonce = support::random_alnum(32);
    let message = request_message("GET", TARGET, now, &nonce, b"");
    let signature = keys.merchant.sign_sha256(&message).map_err(text)?;
    authorization_header(
        &identity.mchid,
        &identity.merchant_serial,
        now,
        &nonce,
        &signature,
    )
    .map_err(text)
}

/// The kernel's part of a call: the same request bytes over one blocking `TcpStream`, the
/// answer read up to its `Content-Length`; no HTTP library, no RSA.
pub fn bare_tcp(identity: &Identity) -> Result<Workload, String> {
    let keys = Keys::read(identity)?;
    let authorization = static_authorization(identity, &keys)?;
    let host = identity
        .base_uri
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&host).map_err(text)?;
    stream.set_nodelay(true).map_err(text)?;
    let request = format!(
        "GET {TARGET} HTTP/1.1\r\nhost: {host}\r\naccept: application/json\r\n\
         authorization: {}\r\n\r\n",
        authorization.to_str().map_err(text)?
    );
    let mut buffer = vec![0u8; 4096];
    Ok(Box::new(move |n| {
        for _ in 0..n {
            stream.write_all(request.as_bytes()).map_err(text)?;
            let mut filled = 0;
            loop {
                let read = stream.read(&mut buffer[filled..]).map_err(text)?;
                if read == 0 {
                    return Err("the server closed the connection".to_owned());
                }
                filled += read;
                let Some(end) = buffer[..filled].windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .ok_or("an answer without content-length")?;
                if filled >= end + 4 + length {
                    break;
                }
            }
        }
        Ok(())
    }))
}

/// A bare `reqwest::Client` on a current-thread runtime (as the blocking verbs use), sending
/// the same GET with a static `Authorization`; with `rsa`, it also signs a fresh message and
/// verifies the answer's signature by hand: the least any client on reqwest and OpenSSL can
/// spend.
pub fn bare_http(identity: &Identity, rsa: bool) -> Result<Workload, String> {
    let keys = Keys::read(identity)?;
    let authorization = static_authorization(identity, &keys)?;
    let url = format!("{}{}", identity.base_uri.trim_end_matches('/'), TARGET);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(text)?;
    let message = request_message("GET", TARGET, 1_700_000_000, &"N".repeat(32), b"");
    let bare = Bare {
        http: reqwest::Client::new(),
        url,
        authorization,
        keys,
        message,
        rsa,
    };
    Ok(Box::new(move |n| {
        runtime.block_on(async {
            for _ in 0..n {
                bare.call().await?;
            }
            Ok(())
        })
    }))
}

struct Bare {
    http: reqwest::Client,
    url: String,
    authorization: HeaderValue,
    keys: Keys,
    message: Vec<u8>,
    rsa: bool,
}

impl Bare {
    async fn call(&self) -> Result<(), String> {
        if self.rsa {
            std::hint::black_box(
                self.keys
                    .merchant
                    .sign_sha256(&self.message)
                    .map_err(text)?,
            );
        }
        let response = self
            .http
            .get(&self.url)
            .header(AUTHORIZATION, self.authorization.clone())
            .send()
            .await
            .map_err(text)?;
        if response.status() != 200 {
            return Err(format!("status {}", response.status()));
        }
        let header = |name: &str| -> Result<String, String> {
            let value = response.headers().get(name).ok_or(name.to_owned())?;
            value.to_str().map(str::to_owned).map_err(text)
        };
        let (timestamp, nonce) = (header("Wechatpay-Timestamp")?, header("Wechatpay-Nonce")?);
        let signature = header("Wechatpay-Signature")?;
        let body = response.bytes().await.map_err(text)?;
        if self.rsa {
            let signed = response_message(&timestamp, &nonce, &body);
            let signature = base64_decode(&signature).map_err(text)?;
            if !self.keys.platform.verify_sha256(&signed, &signature) {
                return Err("the answer's signature does not verify".to_owned());
            }
        }
        Ok(())
    }
}
