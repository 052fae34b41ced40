//! `write_profile`: the files, and a profile that points at them and at both ports.

use std::path::PathBuf;

use wechatpay_sandbox::Sandbox;

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_profile_names_both_ports_and_the_files() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = TempDir(std::env::temp_dir().join(format!(
        "wechatpay-sandbox-profile-{}-{nanos}",
        std::process::id()
    )));
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.identity();
    let profile = sandbox.write_profile(&dir.0).unwrap();
    let lines: Vec<&str> = profile.lines().collect();
    assert_eq!(lines[0], "[profile.sandbox]");
    assert!(lines.contains(&format!("mchid = \"{}\"", id.mchid).as_str()));
    assert!(lines.contains(&format!("base_uri = \"{}\"", sandbox.base_uri()).as_str()));
    // That port is plain http: the profile allows it, and says why.
    assert!(sandbox.base_uri().starts_with("http://127.0.0.1:"));
    let allow = lines
        .iter()
        .position(|l| *l == "allow_insecure_http = true")
        .unwrap_or_else(|| panic!("{profile}"));
    assert!(lines[allow - 1].contains("plain http"), "{profile}");
    let security = format!("security_base_uri = \"{}\"", id.tls_base_uri);
    let at = lines
        .iter()
        .position(|l| *l == security)
        .unwrap_or_else(|| panic!("{profile}"));
    assert!(id.tls_base_uri.starts_with("https://127.0.0.1:"));
    // The comment above it says what the port is for.
    let comment = lines[at - 1];
    assert!(comment.starts_with("# "), "{comment}");
    assert!(comment.contains("mutual-TLS"), "{comment}");
    assert!(comment.contains("APIv2 refunds"), "{comment}");
    // Every line is a TOML table header, a comment or a key.
    for line in &lines {
        assert!(
            line.starts_with('[') || line.starts_with("# ") || line.contains(" = "),
            "{line}"
        );
    }
    for file in [
        "apiclient_key.pem",
        "apiclient_cert.pem",
        "pub_key.pem",
        "apiv3_key.txt",
        "apiv2_secret.txt",
        "ca.pem",
    ] {
        assert!(dir.0.join(file).is_file(), "{file}");
        assert!(profile.contains(&file.to_string()), "{file}");
    }
    let platform = format!("wechatpay_{}.pem", id.platform_serial);
    assert_eq!(
        std::fs::read_to_string(dir.0.join(&platform)).unwrap(),
        id.platform_certificate_pem
    );
}
