//! Bill downloads: the second step of the two-step bill flow, streamed and hash-checked.
//!
//! `GET v3/bill/tradebill` (or `fundflowbill`, `sub-merchant-fundflowbill`, ...) answers, signed,
//! with `{download_url, hash_type, hash_value}`. The file at `download_url` is fetched with a
//! signed request whose answer WeChat Pay does not sign: its integrity is the SHA-1 in that
//! first, verified answer. [`Client::download_bill`](crate::Client::download_bill) streams the file into any writer,
//! gunzipping it when the bill was requested with `tar_type=GZIP`, hashes what it writes and
//! fails if the hash differs. Memory stays flat whatever the size.
//!
//! The overseas statements (`GET v3/global/statements`) are streamed the same way by
//! [`Client::download_statement`](crate::Client::download_statement): their signature covers the SHA-1 header, checked before the
//! body is read, and the body must hash to it.
//!
//! A failed download may already have written part of the file: discard the output on error.
//!
//! ```no_run
//! # fn run(client: wechatpay::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use wechatpay::bill::{BillDownload, Compression};
//!
//! let bill: BillDownload = client
//!     .chain("v3/bill/tradebill{?bill_date,bill_type,tar_type}")
//!     .get(serde_json::json!({ "bill_date": "2024-06-01", "tar_type": "GZIP" }))?
//!     .json()?;
//! let mut file = std::fs::File::create("tradebill-2024-06-01.csv")?;
//! let written = client.download_bill(&bill, Compression::Gzip, &mut file)?;
//! # let _ = written; Ok(()) }
//! ```

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use flate2::write::GzDecoder;
use http::header::{ACCEPT, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method};
use openssl::hash::{Hasher, MessageDigest};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use url::Url;

use std::sync::Arc;

use crate::context::Context;
use crate::error::{Error, Result, VerificationFailure};
use crate::options::Options;
use crate::pipeline::{Policy, Request, Streamed, execute, prepare, statement_sha1};
use crate::prepared::{PreparedRequest, Protocol};
use crate::transport::{Lane, Limit, next_chunk};

/// The hosts a `download_url` may point at, besides the client's base URI.
const WECHAT_PAY_HOSTS: [&str; 4] = [
    "api.mch.weixin.qq.com",
    "api2.mch.weixin.qq.com",
    "api2.wechatpay.cn",
    "apihk.mch.weixin.qq.com",
];

/// The overseas statements endpoint.
pub(crate) const STATEMENTS: &str = "v3/global/statements";

/// What a bill file's request span shows as its template: the whole URL is the
/// `download_url` an earlier answer gave (its query holds a token, never recorded).
const BILL_FILE: &str = "{+download_url}";

/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Compressed bytes decompressed at a time.
const INPUT_SLICE: usize = 1024;

/// How long a bill download may take in all (the client's timeout is for API calls).
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// The answer of a bill request: where to fetch the file and its hash.
///
/// `Debug` shows the URL without its query (the download token).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillDownload {
    /// The signed-request URL of the file.
    pub download_url: String,
    /// The hash algorithm: `SHA1`.
    pub hash_type: String,
    /// The hex hash of the (uncompressed) bill.
    pub hash_value: String,
}

impl std::fmt::Debug for BillDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillDownload")
            .field("download_url", &crate::redact::DebugUrl(&self.download_url))
            .field("hash_type", &self.hash_type)
            .field("hash_value", &self.hash_value)
            .finish()
    }
}

/// How the bill file is encoded: the `tar_type` the bill was requested with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain text (no `tar_type`).
    None,
    /// `tar_type=GZIP`: gunzipped while streaming; the hash is of the uncompressed bill.
    Gzip,
    /// Whichever the file is: gunzipped when it starts with gzip's magic bytes (`1f 8b`, which
    /// no bill's text starts with), else taken as plain text. The hash decides either way.
    Auto,
}

/// Where the uncompressed bill goes.
pub(crate) trait Sink {
    async fn write(&mut self, data: &[u8]) -> std::io::Result<()>;
    async fn flush(&mut self) -> std::io::Result<()>;
}

pub(crate) struct SyncSink<'w, W: ?Sized>(pub(crate) &'w mut W);

impl<W: Write + ?Sized> Sink for SyncSink<'_, W> {
    async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.0.write_all(data)
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

pub(crate) struct AsyncSink<'w, W: ?Sized>(pub(crate) &'w mut W);

impl<W: AsyncWrite + Unpin + ?Sized> Sink for AsyncSink<'_, W> {
    async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.0.write_all(data).await
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().await
    }
}

/// Decompresses (or not) and hashes, chunk by chunk.
struct Decoder {
    gzip: Option<GzDecoder<Vec<u8>>>,
    sha1: Hasher,
    written: u64,
}

impl Decoder {
    fn new(compression: Compression) -> Result<Decoder> {
        Ok(Decoder {
            gzip: (compression == Compression::Gzip).then(|| GzDecoder::new(Vec::new())),
            sha1: Hasher::new(MessageDigest::sha1())
                .map_err(|e| Error::crypto_from("SHA-1 unavailable", e))?,
            written: 0,
        })
    }

    /// The uncompressed bytes `chunk` yields (possibly none yet).
    fn feed(&mut self, chunk: &[u8]) -> Result<Bytes> {
        let plain = match &mut self.gzip {
            None => Bytes::copy_from_slice(chunk),
            Some(gz) => {
                gz.write_all(chunk).map_err(gzip_error)?;
                Bytes::from(std::mem::take(gz.get_mut()))
            }
        };
        self.account(&plain)?;
        Ok(plain)
    }

    /// The last uncompressed bytes; fails on a truncated gzip stream.
    fn finish(&mut self) -> Result<Bytes> {
        let plain = match self.gzip.take() {
            None => Bytes::new(),
            Some(gz) => Bytes::from(gz.finish().map_err(gzip_error)?),
        };
        self.account(&plain)?;
        Ok(plain)
    }

    fn account(&mut self, plain: &[u8]) -> Result<()> {
        self.written += plain.len() as u64;
        self.sha1
            .update(plain)
            .map_err(|e| Error::crypto_from("SHA-1 failed", e))
    }

    fn sha1_hex(&mut self) -> Result<String> {
        let digest = self
            .sha1
            .finish()
            .map_err(|e| Error::crypto_from("SHA-1 failed", e))?;
        Ok(crate::crypto::hex_lower(&digest))
    }
}

fn gzip_error(e: std::io::Error) -> Error {
    Error::decode(format!("the bill is not a valid gzip stream: {e}"), None, e)
}

/// The signed GET of `download_url`, without a template: the URL comes from a verified answer.
fn bill_request(ctx: &Context, bill: &BillDownload) -> Result<PreparedRequest> {
    if !bill.hash_type.eq_ignore_ascii_case("SHA1") {
        return Err(Error::config(format!(
            "bill hash_type `{}` is not supported (WeChat Pay uses SHA1)",
            bill.hash_type
        )));
    }
    let url = Url::parse(&bill.download_url)
        .map_err(|e| Error::config(format!("bill download_url is not a URL: {e}")))?;
    let base = ctx.base.url();
    let same_origin = url.origin() == base.origin();
    let wechat_pay = url.scheme() == "https"
        && url.port().is_none()
        && url
            .host_str()
            .is_some_and(|h| WECHAT_PAY_HOSTS.contains(&h));
    if url.scheme() == "http" && !(same_origin && ctx.allow_insecure_http) {
        return Err(Error::config(format!(
            "bill download_url: {}",
            crate::base_uri::insecure_http(&format!("`{}`", url.origin().ascii_serialization()))
        )));
    }
    if !same_origin && !wechat_pay {
        return Err(Error::config(format!(
            "bill download_url points at `{}`, which is neither the client's base URI nor a \
             WeChat Pay host: the signed request is not sent there",
            url.origin().ascii_serialization()
        )));
    }
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    headers.insert(USER_AGENT, ctx.user_agent.clone());
    Ok(PreparedRequest {
        method: Method::GET,
        api_offset: 0,
        url,
        headers,
        body: Bytes::new(),
        signed_body: None,
        timeout: Some(DOWNLOAD_TIMEOUT),
        protocol: Protocol::V3,
    })
}

/// Streams the bill at `bill.download_url` into `sink`, checked against its hash.
pub(crate) async fn download(
    ctx: &Arc<Context>,
    lane: Lane<'_>,
    bill: &BillDownload,
    compression: Compression,
    sink: &mut impl Sink,
) -> Result<u64> {
    let prepared = bill_request(ctx, bill)?;
    let answer = execute::<Streamed>(
        ctx,
        lane,
        Request::Ready(prepared),
        Policy::bill_file(ctx),
        BILL_FILE,
    )
    .await?;
    let limit = ctx.transport.download_limit();
    stream_checked(answer, compression, &bill.hash_value, limit, sink).await
}

/// The overseas statement request for `options` (its query), with the download's timeout
/// unless the options set one.
pub(crate) fn statement_request(ctx: &Context, options: Options) -> Result<PreparedRequest> {
    let template = ctx
        .templates
        .parse(STATEMENTS)
        .map_err(Error::from_template)?;
    let mut prepared = prepare(ctx, &template, Method::GET, options)?;
    prepared.timeout.get_or_insert(DOWNLOAD_TIMEOUT);
    Ok(prepared)
}

/// The overseas statement: its signature covers `{"sha1":"<Wechatpay-Statement-Sha1>"}`, so it
/// is checked from the headers before the body is read; the body must then hash to that SHA-1.
pub(crate) async fn statement(
    ctx: &Arc<Context>,
    lane: Lane<'_>,
    prepared: PreparedRequest,
    sink: &mut impl Sink,
) -> Result<u64> {
    let answer = execute::<Streamed>(
        ctx,
        lane,
        Request::Ready(prepared),
        Policy::call(ctx),
        STATEMENTS,
    )
    .await?;
    let sha1 = statement_sha1(answer.headers())
        .map_err(Error::from_failure)?
        .to_owned();
    let limit = ctx.transport.download_limit();
    stream_checked(answer, Compression::None, &sha1, limit, sink).await
}

/// Streams the body into `sink`, decompressed as `compression` says; the SHA-1 of what was
/// written must be `expected` (hex, any case).
async fn stream_checked(
    mut response: reqwest::Response,
    compression: Compression,
    expected: &str,
    limit: Limit,
    sink: &mut impl Sink,
) -> Result<u64> {
    // The first two bytes (fewer only in a shorter body) say whether the file is gzip.
    let mut head = next_chunk(&mut response).await?.unwrap_or_default();
    while head.len() < 2 {
        let Some(more) = next_chunk(&mut response).await? else {
            break;
        };
        let mut joined = bytes::BytesMut::from(&head[..]);
        joined.extend_from_slice(&more);
        head = joined.freeze();
    }
    let gzip_file = head.starts_with(&GZIP_MAGIC);
    let compression = match compression {
        Compression::Auto if gzip_file => Compression::Gzip,
        Compression::Auto => Compression::None,
        given => given,
    };

    let mut decoder = Decoder::new(compression)?;
    let write_error = |e| Error::io("writing the download failed", e);
    // What came and what it decompresses to are both counted: a gzip bomb stops at the limit,
    // and what it would write past it is never written.
    let mut received = 0u64;
    let past_limit = |bytes: u64| bytes > limit.bytes;
    let mut next = Some(head);
    loop {
        let chunk = match next.take() {
            Some(chunk) => chunk,
            None => match next_chunk(&mut response).await? {
                Some(chunk) => chunk,
                None => break,
            },
        };
        received += chunk.len() as u64;
        if past_limit(received) {
            return Err(limit.exceeded("the download"));
        }
        // Compressed input goes in by the KiB: deflate expands at most about 1000 times, so no
        // write (and no buffer) exceeds about a MiB, whatever arrives in one chunk.
        let slice = if compression == Compression::Gzip {
            INPUT_SLICE
        } else {
            chunk.len().max(1)
        };
        for piece in chunk.chunks(slice) {
            let plain = decoder.feed(piece)?;
            if past_limit(decoder.written) {
                return Err(limit.exceeded("the decompressed download"));
            }
            if !plain.is_empty() {
                sink.write(&plain).await.map_err(write_error)?;
            }
        }
    }
    let plain = decoder.finish()?;
    if past_limit(decoder.written) {
        return Err(limit.exceeded("the decompressed download"));
    }
    if !plain.is_empty() {
        sink.write(&plain).await.map_err(write_error)?;
    }
    sink.flush().await.map_err(write_error)?;
    if !decoder.sha1_hex()?.eq_ignore_ascii_case(expected) {
        let error = Error::from_failure(VerificationFailure::DigestMismatch);
        return Err(if compression == Compression::None && gzip_file {
            error.noting(
                "the file is gzip-compressed: a bill requested with tar_type=GZIP is \
                 downloaded with Compression::Gzip (or Compression::Auto)",
            )
        } else {
            error
        });
    }
    Ok(decoder.written)
}

/// Runs `download` into a new `<path>.<pid>.<n>.partial` file beside `path`, renamed to `path`
/// when it succeeds and removed when it fails: the file appears only complete and checked. The
/// partial file is created new (never truncated), so two downloads to the same path cannot
/// write into each other's.
pub(crate) fn to_file(
    path: &std::path::Path,
    download: impl FnOnce(&mut std::fs::File) -> Result<u64>,
) -> Result<u64> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".{}.{n}.partial", std::process::id()));
    let partial = std::path::PathBuf::from(partial);
    let io = |what: &str, e| Error::io(format!("{what} `{}`", partial.display()), e);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .map_err(|e| io("cannot create", e))?;
    let outcome = download(&mut file).and_then(|written| {
        file.sync_all().map_err(|e| io("cannot sync", e))?;
        Ok(written)
    });
    drop(file);
    let outcome = outcome.and_then(|written| match std::fs::rename(&partial, path) {
        Ok(()) => Ok(written),
        Err(e) => Err(io("cannot rename", e)),
    });
    if outcome.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::BillDownload;

    #[test]
    fn debug_leaves_out_the_download_token() {
        let bill = BillDownload {
            download_url: "https://api.mch.weixin.qq.com/v3/billdownload/file?token=6XIv5TUP"
                .into(),
            hash_type: "SHA1".into(),
            hash_value: "79bb0f45fc4c42234a918000b2668d689e2bde04".into(),
        };
        let shown = format!("{bill:?}");
        assert!(!shown.contains("6XIv5TUP"), "{shown}");
        assert!(
            shown.contains("https://api.mch.weixin.qq.com/v3/billdownload/file?***"),
            "{shown}"
        );
    }
}
