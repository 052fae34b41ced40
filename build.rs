//! Builds the `User-Agent` header: crate version, target OS and architecture, compiler version.

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_else(|_| "unknown".to_owned());
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "unknown".to_owned());
    let crate_version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!(
        "cargo:rustc-env=WECHATPAY_USER_AGENT=wechatpay-rs/{crate_version} ({os}/{arch}) rust/{version}"
    );
    println!("cargo:rerun-if-env-changed=RUSTC");
    println!("cargo:rerun-if-changed=build.rs");
    guides();
}

/// The guides of `docs/` that `wechatpay::guide` renders, as (file stem, module name).
const GUIDES: [(&str, &str); 13] = [
    ("pay", "pay"),
    ("callbacks", "callbacks"),
    ("sensitive-fields", "sensitive_fields"),
    ("media", "media"),
    ("bills", "bills"),
    ("keyring", "keyring"),
    ("apiv2", "apiv2"),
    ("api", "api"),
    ("crypto", "crypto"),
    ("architecture", "architecture"),
    ("reliability", "reliability"),
    ("observability", "observability"),
    ("deployment", "deployment"),
];

/// Where the repository's other files are read, from docs.rs and anywhere else.
const REPOSITORY: &str = "https://github.com/wechatpay-rs/wechatpay-rs/blob/main/";

/// Copies each guide to `OUT_DIR/guide/`, its links rewritten for rustdoc: a link to another
/// guide becomes an intra-doc link to its module (`keyring.md#trust` ->
/// `crate::guide::keyring#trust`), a link to any other file of the repository a link to it on
/// GitHub, so that nothing is dead on docs.rs.
fn guides() {
    let Ok(out) = std::env::var("OUT_DIR") else {
        return;
    };
    let dir = std::path::Path::new(&out).join("guide");
    let _ = std::fs::create_dir_all(&dir);
    for (stem, _) in GUIDES {
        let source = format!("docs/{stem}.md");
        println!("cargo:rerun-if-changed={source}");
        let text = std::fs::read_to_string(&source).unwrap_or_else(|e| {
            format!("# {stem}\n\n(`{source}` could not be read when this crate was built: {e}.)\n")
        });
        let _ = std::fs::write(dir.join(format!("{stem}.md")), rewrite_links(&text));
    }
}

/// `](target)` links rewritten as [`guides`] says; other links unchanged.
fn rewrite_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let (before, after) = rest.split_at(at + 2);
        out.push_str(before);
        let end = after.find(')').unwrap_or(after.len());
        let (target, tail) = after.split_at(end);
        out.push_str(&rewrite_target(target));
        rest = tail;
    }
    out.push_str(rest);
    out
}

fn rewrite_target(target: &str) -> String {
    if target.contains("://") || target.starts_with('#') || target.starts_with("crate::") {
        return target.to_owned();
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, format!("#{anchor}")),
        None => (target, String::new()),
    };
    if let Some(stem) = path.strip_suffix(".md").filter(|p| !p.contains('/')) {
        if let Some((_, module)) = GUIDES.iter().find(|(s, _)| *s == stem) {
            return format!("crate::guide::{module}{anchor}");
        }
        return format!("{REPOSITORY}docs/{path}{anchor}");
    }
    // Relative to docs/: `../src/signer.rs` is the repository's `src/signer.rs`.
    match path.strip_prefix("../") {
        Some(from_root) => format!("{REPOSITORY}{from_root}{anchor}"),
        None => format!("{REPOSITORY}docs/{path}{anchor}"),
    }
}
