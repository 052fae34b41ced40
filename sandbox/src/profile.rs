//! The identity as files, and the `wxpay` profile that points at them.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::identity::Identity;

fn write_file(dir: &Path, name: &str, content: &str, secret: bool) -> Result<PathBuf> {
    let path = dir.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    use std::io::Write;
    options.open(&path)?.write_all(content.as_bytes())?;
    Ok(path)
}

/// TOML basic string: quotes and backslashes escaped.
fn quoted(path: &Path) -> String {
    let text = path.display().to_string();
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

pub(crate) fn write(identity: &Identity, base_uri: &str, dir: &Path) -> Result<String> {
    std::fs::create_dir_all(dir)?;
    let key = write_file(
        dir,
        "apiclient_key.pem",
        &identity.merchant_private_key_pem,
        true,
    )?;
    let cert = write_file(
        dir,
        "apiclient_cert.pem",
        &identity.merchant_certificate_pem,
        false,
    )?;
    let platform = write_file(
        dir,
        &format!("wechatpay_{}.pem", identity.platform_serial),
        &identity.platform_certificate_pem,
        false,
    )?;
    let public = write_file(dir, "pub_key.pem", &identity.public_key_pem, false)?;
    let apiv3 = write_file(dir, "apiv3_key.txt", &identity.apiv3_key, true)?;
    let secret = write_file(dir, "apiv2_secret.txt", &identity.apiv2_secret, true)?;
    let ca = write_file(dir, "ca.pem", &identity.ca_certificate_pem, false)?;
    let key_entry = |id: &str, path: &Path| {
        let text = format!("{id}={}", path.display());
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    };
    Ok(format!(
        "[profile.sandbox]\n\
         mchid = \"{}\"\n\
         serial = \"{}\"\n\
         private_key_file = {}\n\
         platform_keys = [{}, {}]\n\
         apiv3_key_file = {}\n\
         secret_file = {}\n\
         merchant_cert_file = {}\n\
         root_certificate_file = {}\n\
         base_uri = \"{}\"\n\
         # The sandbox listens on plain http, which wxpay refuses without this.\n\
         allow_insecure_http = true\n\
         # The mutual-TLS port, for APIv2 refunds (secapi/pay/refund): used by --security requests.\n\
         security_base_uri = \"{}\"\n",
        identity.mchid,
        identity.merchant_serial,
        quoted(&key),
        key_entry(&identity.public_key_id, &public),
        key_entry(&identity.platform_serial, &platform),
        quoted(&apiv3),
        quoted(&secret),
        quoted(&cert),
        quoted(&ca),
        base_uri,
        identity.tls_base_uri,
    ))
}
