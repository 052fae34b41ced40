//! `wxpay bill download --bill-date D -o FILE`: request, stream, check the hash, rename.

use std::io::{IsTerminal, Write};
use std::time::Instant;

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
    let mut out = Progress::new(file);
    let outcome = client.download_bill(&bill, compression, &mut out);
    out.finish();
    let result = outcome.map_err(Fail::from).and_then(|written| {
        out.file
            .sync_all()
            .map_err(|e| usage(format!("cannot write `{}`: {e}", partial.display())))?;
        std::fs::rename(&partial, &args.output)
            .map_err(|e| usage(format!("cannot rename to `{}`: {e}", args.output.display())))?;
        Ok(written)
    });
    match result {
        Ok(written) => super::print_line(&format!(
            "{} bytes, SHA-1 {} checked -> {}",
            written,
            bill.hash_value,
            args.output.display()
        )),
        Err(fail) => {
            let _ = std::fs::remove_file(&partial);
            Err(fail)
        }
    }
}

/// Writes to the file and shows the bytes so far on a terminal's stderr.
struct Progress {
    file: std::fs::File,
    written: u64,
    shown: Instant,
    tty: bool,
}

impl Progress {
    fn new(file: std::fs::File) -> Progress {
        Progress {
            file,
            written: 0,
            shown: Instant::now(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn show(&self) {
        if self.tty {
            note_part!("\rdownloading: {:.1} KiB", self.written as f64 / 1024.0);
        }
    }

    fn finish(&self) {
        if self.tty {
            self.show();
            note!();
        }
    }
}

impl Write for Progress {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.shown.elapsed().as_millis() >= 100 {
            self.show();
            self.shown = Instant::now();
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}
