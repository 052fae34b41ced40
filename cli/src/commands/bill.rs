//! `wxpay bill download --bill-date D -o FILE`: request, stream, check the hash, rename.

use std::io::{IsTerminal, Write};
use std::path::Path;

use flate2::write::GzEncoder;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use wechatpay::bill::{BillDownload, Compression};

use crate::args::{Bill, BillAction, Global};
use crate::config::settings;
use crate::fail::{Fail, usage};

pub fn run(global: &Global, args: Bill) -> Result<(), Fail> {
    let BillAction::Download(args) = args.action;
    let client = settings(global)?.client(None, false)?.client;
    let mut query = serde_json::json!({ "bill_date": args.bill_date, "bill_type": args.bill_type });
    if args.gzip {
        query["tar_type"] = "GZIP".into();
    }
    let bill: BillDownload = client["v3/bill/tradebill"]
        .get(serde_json::json!({ "query": query }))
        .and_then(|r| r.json())
        .map_err(Fail::from)?;
    let compression = if args.gzip {
        Compression::Gzip
    } else {
        Compression::None
    };

    // A new file of this process's own: another download to the same path cannot share it.
    let mut partial = args.output.clone().into_os_string();
    partial.push(format!(".{}.partial", std::process::id()));
    let partial = std::path::PathBuf::from(partial);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .map_err(|e| usage(format!("cannot create `{}`: {e}", partial.display())))?;
    // The file's name decides its format: `bill.csv.gz` is written gzip-compressed (whether
    // or not it travelled compressed, `--gzip`), anything else as plain text. The hash is
    // checked on the text either way.
    let gzip_file = is_gz(&args.output);
    let mut out = Progress::new(if gzip_file {
        Output::Gzip(GzEncoder::new(file, flate2::Compression::default()))
    } else {
        Output::Plain(file)
    });
    let outcome = client.download_bill(&bill, compression, &mut out);
    out.bar.finish_and_clear();
    let result = outcome.map_err(Fail::from).and_then(|written| {
        out.output
            .finish()
            .map_err(|e| usage(format!("cannot write `{}`: {e}", partial.display())))?;
        std::fs::rename(&partial, &args.output)
            .map_err(|e| usage(format!("cannot rename to `{}`: {e}", args.output.display())))?;
        Ok(written)
    });
    match result {
        Ok(written) => super::print_line(&format!(
            "{} bytes, SHA-1 {} checked -> {}{}",
            written,
            bill.hash_value,
            args.output.display(),
            if gzip_file { " (gzip)" } else { "" }
        )),
        Err(fail) => {
            let _ = std::fs::remove_file(&partial);
            Err(fail)
        }
    }
}

/// Whether the name ends with `.gz` (any case).
fn is_gz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("gz"))
}

/// The file the bill goes to, compressed or not.
enum Output {
    Plain(std::fs::File),
    Gzip(GzEncoder<std::fs::File>),
}

impl Output {
    /// Ends the gzip stream (if any) and syncs the file.
    fn finish(&mut self) -> std::io::Result<()> {
        match self {
            Output::Plain(file) => file.sync_all(),
            Output::Gzip(encoder) => encoder
                .try_finish()
                .and_then(|()| encoder.get_ref().sync_all()),
        }
    }
}

/// Writes the bill and shows a progress bar (bytes, rate) on stderr when both stdout and
/// stderr are terminals; nothing when either is a pipe or a file.
struct Progress {
    output: Output,
    bar: ProgressBar,
}

impl Progress {
    fn new(output: Output) -> Progress {
        let bar = if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} downloading {bytes} ({bytes_per_sec})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.tick();
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress { output, bar }
    }
}

impl Write for Progress {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = match &mut self.output {
            Output::Plain(file) => file.write(buf)?,
            Output::Gzip(encoder) => encoder.write(buf)?,
        };
        self.bar.inc(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.output {
            Output::Plain(file) => file.flush(),
            Output::Gzip(encoder) => encoder.flush(),
        }
    }
}
