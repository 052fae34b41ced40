//! The project's own tasks.
//!
//! `cargo xtask catalogue --from ../shared/wechatpay-openapi [--check]` reads the WeChat Pay
//! API descriptions and writes the project's catalogue (`catalogue/catalogue.json`, read by
//! the library at build time) and the generator's report (`catalogue/REPORT.md`). Same input,
//! same bytes. `--check` writes nothing and fails when the committed files differ.

mod dataset;
mod models;
mod operations;
mod overrides;
mod report;
mod schema;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use crate::dataset::Dataset;
use crate::operations::Operation;
use crate::report::Report;

const USAGE: &str =
    "usage: cargo xtask catalogue --from DIR [--out DIR] [--models DIR] [--tests FILE] [--check]";

/// The catalogue file: where it comes from, then every operation.
#[derive(Serialize)]
struct Catalogue<'a> {
    /// What made it, for a reader of the file.
    generated_by: &'static str,
    /// The dataset's source and licence (its SNAPSHOT's first two lines).
    source: Vec<&'a str>,
    operations: &'a [Operation],
    /// What WeChat Pay sends the merchant (not operations the client calls).
    callbacks: &'a [Operation],
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let mut args = args.iter();
    match args.next().map(String::as_str) {
        Some("catalogue") => {}
        Some(other) => return Err(format!("unknown task `{other}`\n{USAGE}")),
        None => return Err(USAGE.to_owned()),
    }
    let mut from = None;
    let mut out = PathBuf::from("catalogue");
    let mut check = false;
    let mut models_dir = PathBuf::from("src/api");
    let mut tests_file = PathBuf::from("tests/models/all.rs");
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--from" => {
                from = Some(PathBuf::from(
                    args.next().ok_or("--from needs a directory")?,
                ))
            }
            "--out" => out = PathBuf::from(args.next().ok_or("--out needs a directory")?),
            "--check" => check = true,
            "--models" => {
                models_dir = PathBuf::from(args.next().ok_or("--models needs a directory")?)
            }
            "--tests" => tests_file = PathBuf::from(args.next().ok_or("--tests needs a file")?),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let from = from.ok_or_else(|| format!("--from is required\n{USAGE}"))?;
    let (catalogue, models) = generate(&from)?;
    let files: Vec<(PathBuf, String)> = catalogue
        .into_iter()
        .map(|(name, text)| (out.join(name), text))
        .chain(
            models
                .files
                .into_iter()
                .map(|(name, text)| (models_dir.join(name), text)),
        )
        .chain(std::iter::once((tests_file, models.tests)))
        .collect();
    features_declared(&models.features)?;
    if check {
        let mut stale = Vec::new();
        for (path, bytes) in &files {
            if std::fs::read(path).ok().as_deref() != Some(bytes.as_bytes()) {
                stale.push(path.display().to_string());
            }
        }
        for path in generated_on_disk(&models_dir) {
            if !files.iter().any(|(p, _)| *p == path) {
                stale.push(format!("{} (no longer generated)", path.display()));
            }
        }
        if !stale.is_empty() {
            return Err(format!(
                "the committed catalogue differs from what {} generates: {}\nrun `cargo xtask catalogue --from {}` and commit the result",
                from.display(),
                stale.join(", "),
                from.display()
            ));
        }
        println!("catalogue up to date ({} files)", files.len());
        return Ok(());
    }
    for path in generated_on_disk(&models_dir) {
        if !files.iter().any(|(p, _)| *p == path) {
            std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            println!("removed {}", path.display());
        }
    }
    let mut written = 0;
    for (path, bytes) in &files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        if std::fs::read(path).ok().as_deref() != Some(bytes.as_bytes()) {
            std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            written += 1;
        }
    }
    println!("{} files generated, {written} changed", files.len());
    Ok(())
}

/// The generated model files now on disk: every `.rs` under DIR that starts with the
/// generator's header (the hand-written `mod.rs`, `spec.rs` and `support.rs` do not).
fn generated_on_disk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && is_generated(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn is_generated(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .is_ok_and(|text| text.starts_with("// Generated by `cargo xtask catalogue`"))
}

/// Every area's feature is declared in the library's Cargo.toml, and `api-all` has them all.
fn features_declared(features: &[(&str, &str, usize)]) -> Result<(), String> {
    let manifest = std::fs::read_to_string("Cargo.toml").map_err(|e| format!("Cargo.toml: {e}"))?;
    let names: Vec<&str> = features.iter().map(|(f, _, _)| *f).collect();
    let mut expected = String::new();
    for (feature, what, count) in features {
        expected.push_str(&format!("# {what} ({count} operations)\n{feature} = []\n"));
    }
    expected.push_str(&format!(
        "api-all = [{}]\n",
        names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if !manifest.contains(&expected) {
        return Err(format!(
            "Cargo.toml's [features] must hold the model areas exactly as generated:\n{expected}"
        ));
    }
    Ok(())
}

/// Generated files: each name with its text.
type Files = Vec<(&'static str, String)>;

/// The generated catalogue files by name, and the models.
fn generate(from: &Path) -> Result<(Files, models::Output), String> {
    let dataset = Dataset::open(from)?;
    let snapshot = std::fs::read_to_string(from.join("SNAPSHOT"))
        .map_err(|e| format!("{}: {e}", from.join("SNAPSHOT").display()))?;
    let mut report = Report::default();
    let (operations, callbacks) = operations::read(&dataset, &mut report)?;
    let catalogue = Catalogue {
        generated_by: "cargo xtask catalogue (xtask/src/main.rs); do not edit",
        source: snapshot.lines().take(2).collect(),
        operations: &operations,
        callbacks: &callbacks,
    };
    let mut json = serde_json::to_string(&catalogue).map_err(|e| e.to_string())?;
    json.push('\n');
    let header = format!(
        "# The catalogue generator's report\n\nGenerated by `cargo xtask catalogue` from the wechatpay-openapi dataset ({}). {} operations ({} APIv3, {} APIv2) and {} callback. Each kind below is something the dataset does that the generator handles on purpose; the overrides are listed in `xtask/src/overrides.rs`, each with its reason.\n",
        snapshot.lines().nth(1).unwrap_or("").trim_end_matches('.'),
        operations.len(),
        operations.iter().filter(|o| o.api == "v3").count(),
        operations.iter().filter(|o| o.api == "v2").count(),
        callbacks.len(),
    );
    let mut markdown = report.markdown(&header);
    markdown.push_str("\n## Overrides\n\n");
    for (operation, why) in overrides::listed() {
        markdown.push_str(&format!("- `{operation}`: {why}\n"));
    }
    let models = models::generate(&operations)?;
    markdown.push_str("\n## Model areas (Cargo features)\n\n| feature | operations | what |\n| --- | ---: | --- |\n");
    for (feature, what, count) in &models.features {
        markdown.push_str(&format!("| `{feature}` | {count} | {what} |\n"));
    }
    // Every template, for `chain!`'s compile-time check (feature `checked-chain`).
    let mut templates: Vec<&str> = operations.iter().map(|o| o.template.as_str()).collect();
    templates.sort_unstable();
    templates.dedup();
    let mut list = String::from(
        "// Generated by `cargo xtask catalogue` (xtask/src/main.rs); do not edit.\n// Every operation's path template, for `chain!`'s compile-time check (src/chain_check.rs).\n&[\n",
    );
    for t in templates {
        list.push_str(&format!("    {:?},\n", t));
    }
    list.push_str("]\n");
    // The dataset's licence travels with what is derived from it (the catalogue, the models).
    let licence = std::fs::read_to_string(from.join("LICENSE"))
        .map_err(|e| format!("{}: {e}", from.join("LICENSE").display()))?;
    Ok((
        vec![
            ("catalogue.json", json),
            ("REPORT.md", markdown),
            ("LICENSE", licence),
            ("templates.rs", list),
        ],
        models,
    ))
}
