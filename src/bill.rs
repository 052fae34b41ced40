//! Bill downloads: the second step of the two-step bill flow, streamed and hash-checked.
//!
//! `GET v3/bill/tradebill` (or `fundflowbill`, `sub-merchant-fundflowbill`, ...) answers, signed,
//! with `{download_url, hash_type, hash_value}`. The file at `download_url` is fetched with a
//! signed request whose answer WeChat Pay does not sign: its integrity is the SHA-1 in that
//! first, verified answer. [`Client::download_bill`] streams the file into any writer,
//! gunzipping it when the bill was requested with `tar_type=GZIP`, hashes what it writes and
//! fails if the hash differs. Memory stays flat whatever the size.
//!
//! The overseas statements (`GET v3/global/statements`) are streamed the same way by
//! [`Client::download_statement`]: their signature covers the SHA-1 header, checked before the
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

use crate::client::{Client, Shared};
use crate::error::{Error, Result, VerificationFailure};
use crate::options::Options;
use crate::pipeline::{
    PreparedRequest, authorize, finish_error, statement_document, statement_sha1, verify_refreshing,
};
use crate::transport::{next_chunk, send_streaming};

/// The hosts a `download_url` may point at, besides the client's base URI.
const WECHAT_PAY_HOSTS: [&str; 4] = [
    "api.mch.weixin.qq.com",
    "api2.mch.weixin.qq.com",
    "api2.wechatpay.cn",
    "apihk.mch.weixin.qq.com",
];

/// The overseas statements endpoint.
const STATEMENTS: &str = "v3/global/statements";

/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Compressed bytes decompressed at a time.
const INPUT_SLICE: usize = 1024;

/// How long a bill download may take in all (the client's timeout is for API calls).
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// The answer of a bill request: where to fetch the file and its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillDownload {
    /// The signed-request URL of the file.
    pub download_url: String,
    /// The hash algorithm: `SHA1`.
    pub hash_type: String,
    /// The hex hash of the (uncompressed) bill.
    pub hash_value: String,
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
trait Sink {
    async fn write(&mut self, data: &[u8]) -> std::io::Result<()>;
    async fn flush(&mut self) -> std::io::Result<()>;
}

struct SyncSink<'w, W: ?Sized>(&'w mut W);

impl<W: Write + ?Sized> Sink for SyncSink<'_, W> {
    async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.0.write_all(data)
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

struct AsyncSink<'w, W: ?Sized>(&'w mut W);

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
fn prepare(shared: &Shared, bill: &BillDownload) -> Result<PreparedRequest> {
    if !bill.hash_type.eq_ignore_ascii_case("SHA1") {
        return Err(Error::config(format!(
            "bill hash_type `{}` is not supported (WeChat Pay uses SHA1)",
            bill.hash_type
        )));
    }
    let url = Url::parse(&bill.download_url)
        .map_err(|e| Error::config(format!("bill download_url is not a URL: {e}")))?;
    let base = shared.base.url();
    let same_origin = url.origin() == base.origin();
    let wechat_pay = url.scheme() == "https"
        && url.port().is_none()
        && url
            .host_str()
            .is_some_and(|h| WECHAT_PAY_HOSTS.contains(&h));
    if !same_origin && !wechat_pay {
        return Err(Error::config(format!(
            "bill download_url points at `{}`, which is neither the client's base URI nor a \
             WeChat Pay host: the signed request is not sent there",
            url.origin().ascii_serialization()
        )));
    }
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    headers.insert(USER_AGENT, shared.user_agent.clone());
    Ok(PreparedRequest {
        method: Method::GET,
        api_offset: 0,
        url,
        headers,
        body: Bytes::new(),
        signed_body: None,
        timeout: Some(DOWNLOAD_TIMEOUT),
        protocol: crate::pipeline::Protocol::V3,
    })
}

async fn download(
    shared: &Shared,
    http: &reqwest::Client,
    bill: &BillDownload,
    compression: Compression,
    sink: &mut impl Sink,
) -> Result<u64> {
    let mut prepared = prepare(shared, bill)?;
    authorize(shared, shared.v3()?, &mut prepared).await?;
    let response = send_streaming(http, prepared).await?;
    if !response.status().is_success() {
        return Err(finish_error(response, shared.transport.max_response_size()).await);
    }
    stream_checked(response, compression, &bill.hash_value, sink).await
}

/// The overseas statement: its signature covers `{"sha1":"<Wechatpay-Statement-Sha1>"}`, so it
/// is checked from the headers before the body is read; the body must then hash to that SHA-1.
async fn statement(
    shared: &Shared,
    http: &reqwest::Client,
    mut prepared: PreparedRequest,
    sink: &mut impl Sink,
) -> Result<u64> {
    let v3 = shared.v3()?;
    crate::keyring::before_request(shared, http).await?;
    prepared.timeout.get_or_insert(DOWNLOAD_TIMEOUT);
    authorize(shared, v3, &mut prepared).await?;
    let response = send_streaming(http, prepared).await?;
    if !response.status().is_success() {
        return Err(finish_error(response, shared.transport.max_response_size()).await);
    }
    let sha1 = statement_sha1(response.headers())
        .map_err(Error::from_failure)?
        .to_owned();
    let document = statement_document(&sha1);
    verify_refreshing(shared, http, v3, response.headers(), document.as_bytes())
        .await
        .map_err(Error::from_failure)?;
    stream_checked(response, Compression::None, &sha1, sink).await
}

/// Streams the body into `sink`, decompressed as `compression` says; the SHA-1 of what was
/// written must be `expected` (hex, any case).
async fn stream_checked(
    mut response: reqwest::Response,
    compression: Compression,
    expected: &str,
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
    let mut next = Some(head);
    loop {
        let chunk = match next.take() {
            Some(chunk) => chunk,
            None => match next_chunk(&mut response).await? {
                Some(chunk) => chunk,
                None => break,
            },
        };
        // Compressed input goes in by the KiB: deflate expands at most about 1000 times, so no
        // write (and no buffer) exceeds about a MiB, whatever arrives in one chunk.
        let slice = if compression == Compression::Gzip {
            INPUT_SLICE
        } else {
            chunk.len().max(1)
        };
        for piece in chunk.chunks(slice) {
            let plain = decoder.feed(piece)?;
            if !plain.is_empty() {
                sink.write(&plain).await.map_err(write_error)?;
            }
        }
    }
    let plain = decoder.finish()?;
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
fn to_file(
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

impl Client {
    /// Streams a bill into `out` (blocking) and checks it: `out` receives the bytes before the
    /// check can end, so on any error discard what it got (or use
    /// [`download_bill_to_file`](Client::download_bill_to_file), which does).
    ///
    /// Returns the bytes written. The SHA-1 of what was written must equal `bill.hash_value`,
    /// or the call fails with a [`Verification`](crate::ErrorKind::Verification) error
    /// ([`DigestMismatch`](VerificationFailure::DigestMismatch)).
    pub fn download_bill<W: Write + ?Sized>(
        &self,
        bill: &BillDownload,
        compression: Compression,
        out: &mut W,
    ) -> Result<u64> {
        let shared = self.shared();
        let mut sink = SyncSink(out);
        shared.transport.block_on("download_bill", |http| {
            download(shared, &http.plain, bill, compression, &mut sink)
        })
    }

    /// [`download_bill`](Client::download_bill) into a file that appears only when the bill is
    /// complete and its hash checked: the bill is written to a new `.partial` file beside
    /// `path`, renamed to `path` on success and removed on any error.
    pub fn download_bill_to_file(
        &self,
        bill: &BillDownload,
        compression: Compression,
        path: impl AsRef<std::path::Path>,
    ) -> Result<u64> {
        to_file(path.as_ref(), |file| {
            self.download_bill(bill, compression, file)
        })
    }

    /// [`download_bill`](Client::download_bill) into an async writer.
    pub async fn download_bill_async<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        bill: &BillDownload,
        compression: Compression,
        out: &mut W,
    ) -> Result<u64> {
        crate::transport::require_runtime("download_bill")?;
        let shared = self.shared();
        download(
            shared,
            &shared.transport.async_http().plain,
            bill,
            compression,
            &mut AsyncSink(out),
        )
        .await
    }

    /// Streams an overseas statement (`GET v3/global/statements`, with the `options` of any
    /// call, e.g. its `query`) into `out` (blocking), and returns the bytes written.
    ///
    /// The answer's signature covers `{"sha1":"<Wechatpay-Statement-Sha1>"}`; it is checked
    /// before the body is read, then the body is hashed as it is written and must match that
    /// SHA-1, or the call fails with a [`Verification`](crate::ErrorKind::Verification) error
    /// ([`DigestMismatch`](VerificationFailure::DigestMismatch)). Memory stays flat whatever
    /// the size, and [`max_response_size`](crate::ClientBuilder::max_response_size) does not
    /// apply (`client.chain("v3/global/statements").get(..)` checks the same way, in memory).
    /// `out` receives the bytes before the check can end: on any error discard what it got, or
    /// use [`download_statement_to_file`](Client::download_statement_to_file).
    ///
    /// ```no_run
    /// # fn run(client: wechatpay::Client) -> wechatpay::Result<()> {
    /// use serde_json::json;
    ///
    /// let mut csv = Vec::new();
    /// let query = json!({ "query": { "date": "2024-06-01", "mchid": "1900000100" } });
    /// let written = client.download_statement(query, &mut csv)?;
    /// # let _ = written; Ok(()) }
    /// ```
    pub fn download_statement<W: Write + ?Sized>(
        &self,
        options: impl Into<Options>,
        out: &mut W,
    ) -> Result<u64> {
        let prepared = self.statement_request(options)?;
        self.statement_into(prepared, out)
    }

    /// [`download_statement`](Client::download_statement) into a file that appears only when
    /// the statement is complete and checked (written to a new `.partial` file beside it,
    /// then renamed).
    pub fn download_statement_to_file(
        &self,
        options: impl Into<Options>,
        path: impl AsRef<std::path::Path>,
    ) -> Result<u64> {
        let prepared = self.statement_request(options)?;
        to_file(path.as_ref(), |file| self.statement_into(prepared, file))
    }

    /// [`download_statement`](Client::download_statement) into an async writer.
    pub async fn download_statement_async<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        options: impl Into<Options>,
        out: &mut W,
    ) -> Result<u64> {
        crate::transport::require_runtime("download_statement")?;
        let prepared = self.statement_request(options)?;
        let shared = self.shared();
        let http = &shared.transport.async_http().plain;
        statement(shared, http, prepared, &mut AsyncSink(out)).await
    }

    fn statement_request(&self, options: impl Into<Options>) -> Result<PreparedRequest> {
        self.chain(STATEMENTS).prepare(Method::GET, options)
    }

    /// The blocking download of a prepared statement request.
    fn statement_into<W: Write + ?Sized>(
        &self,
        prepared: PreparedRequest,
        out: &mut W,
    ) -> Result<u64> {
        let shared = self.shared();
        let mut sink = SyncSink(out);
        shared.transport.block_on("download_statement", |http| {
            statement(shared, &http.plain, prepared, &mut sink)
        })
    }
}
