//! The response-header checks: `PlatformVerifier::verify_at(&headers, body, now)` (the four
//! `Wechatpay-*` headers, the clock window, the serial, the RSA-SHA256 signature), and the
//! `Verifier` trait's `verify` on the system clock.
//!
//! Input: a header block, an empty line, the body (see `src/lib.rs`). `@now: <i64>` sets the
//! clock (default 1700000000); `@now` as a header value is that clock; `@sign` a valid
//! signature over the resolved timestamp, nonce and body.
//!
//! Checked, besides "never panics":
//! - nothing without `@sign` is accepted (no forged signature);
//! - an accepted response has a plain decimal `Wechatpay-Timestamp` within 300 s of `now`, and a
//!   `Wechatpay-Serial` the verifier knows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wechatpay::verifier::{CLOCK_WINDOW_SECS, PlatformVerifier, SERIAL, TIMESTAMP, Verifier};
use wechatpay_fuzz::{HeaderBlock, debug, split, verifier};

const DEFAULT_NOW: i64 = 1_700_000_000;

fn platform() -> &'static PlatformVerifier {
    static VERIFIER: std::sync::OnceLock<PlatformVerifier> = std::sync::OnceLock::new();
    VERIFIER.get_or_init(verifier)
}

fuzz_target!(|data: &[u8]| {
    let (block, body) = split(data);
    let block = HeaderBlock::parse(block);
    let now = block.now().unwrap_or(DEFAULT_NOW);
    let headers = block.headers(now, body);
    let verifier = platform();

    let result = verifier.verify_at(&headers, body, now);
    if debug() {
        eprintln!("headers: now={now} result={result:?}");
    }
    match &result {
        Ok(()) => {
            assert!(block.wants_signature(), "accepted an unsigned response");
            let ts = headers[TIMESTAMP].to_str().unwrap();
            assert!(
                !ts.is_empty() && ts.bytes().all(|b| b.is_ascii_digit()),
                "{ts:?}"
            );
            let ts: i64 = ts.parse().unwrap();
            assert!(
                (i128::from(now) - i128::from(ts)).abs() <= i128::from(CLOCK_WINDOW_SECS),
                "accepted timestamp {ts} at now={now}"
            );
            assert!(verifier.contains(headers[SERIAL].to_str().unwrap()));
        }
        Err(e) => {
            let _ = (e.to_string(), format!("{e:?}"));
        }
    }
    // The trait method, on the real clock: must not panic either.
    let _ = Verifier::verify(verifier, &headers, body);
});
