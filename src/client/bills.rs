//! Bill and statement downloads: streamed, hash-checked (see [`bill`](crate::bill)).

use std::io::Write;

use tokio::io::AsyncWrite;

use super::Client;
use crate::bill::{
    AsyncSink, BillDownload, Compression, SyncSink, download, statement, statement_request, to_file,
};
use crate::error::Result;
use crate::options::Options;
use crate::prepared::PreparedRequest;

impl Client {
    /// Streams a bill into `out` (blocking) and checks it: `out` receives the bytes before the
    /// check can end, so on any error discard what it got (or use
    /// [`download_bill_to_file`](Client::download_bill_to_file), which does).
    ///
    /// Returns the bytes written. The SHA-1 of what was written must equal `bill.hash_value`,
    /// or the call fails with a [`Verification`](crate::ErrorKind::Verification) error
    /// ([`DigestMismatch`](crate::VerificationFailure::DigestMismatch)). The download takes the
    /// client's failover and retry policies, like any call.
    pub fn download_bill<W: Write + ?Sized>(
        &self,
        bill: &BillDownload,
        compression: Compression,
        out: &mut W,
    ) -> Result<u64> {
        let ctx = self.context();
        let mut sink = SyncSink(out);
        ctx.transport.block_on("download_bill", |lane| {
            download(ctx, lane, bill, compression, &mut sink)
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
        let ctx = self.context();
        let http = ctx.transport.async_clients("download_bill")?;
        download(ctx, http.lane(), bill, compression, &mut AsyncSink(out)).await
    }

    /// Streams an overseas statement (`GET v3/global/statements`, with the `options` of any
    /// call, e.g. its `query`) into `out` (blocking), and returns the bytes written.
    ///
    /// The answer's signature covers `{"sha1":"<Wechatpay-Statement-Sha1>"}`; it is checked
    /// before the body is read, then the body is hashed as it is written and must match that
    /// SHA-1, or the call fails with a [`Verification`](crate::ErrorKind::Verification) error
    /// ([`DigestMismatch`](crate::VerificationFailure::DigestMismatch)). Memory stays flat
    /// whatever the size, and [`max_response_size`](crate::ClientBuilder::max_response_size)
    /// does not apply (`client.chain("v3/global/statements").get(..)` checks the same way, in
    /// memory). `out` receives the bytes before the check can end: on any error discard what
    /// it got, or use [`download_statement_to_file`](Client::download_statement_to_file).
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
        let prepared = statement_request(self.context(), options.into())?;
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
        let prepared = statement_request(self.context(), options.into())?;
        to_file(path.as_ref(), |file| self.statement_into(prepared, file))
    }

    /// [`download_statement`](Client::download_statement) into an async writer.
    pub async fn download_statement_async<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        options: impl Into<Options>,
        out: &mut W,
    ) -> Result<u64> {
        let ctx = self.context();
        let http = ctx.transport.async_clients("download_statement")?;
        let prepared = statement_request(ctx, options.into())?;
        statement(ctx, http.lane(), prepared, &mut AsyncSink(out)).await
    }

    /// The blocking download of a prepared statement request.
    fn statement_into<W: Write + ?Sized>(
        &self,
        prepared: PreparedRequest,
        out: &mut W,
    ) -> Result<u64> {
        let ctx = self.context();
        let mut sink = SyncSink(out);
        ctx.transport.block_on("download_statement", |lane| {
            statement(ctx, lane, prepared, &mut sink)
        })
    }
}
