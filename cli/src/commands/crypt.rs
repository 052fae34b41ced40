//! `wxpay encrypt TEXT` / `wxpay decrypt CIPHERTEXT`: OAEP for sensitive fields.

use std::io::Read;

use wechatpay::ErrorKind;
use wechatpay::crypto::base64_decode;

use crate::args::{Decrypt, Encrypt, Global};
use crate::config::{settings, shown_id};
use crate::fail::{Fail, usage};

/// `wxpay encrypt TEXT|-`: only the platform keys are needed.
pub fn encrypt(global: &Global, args: Encrypt) -> Result<(), Fail> {
    let settings = settings(global)?;
    let keys = settings.platform_ring()?;
    let id = match &args.key {
        // The id as configured, or as the ring files it (a certificate's own serial).
        Some(wanted) => keys
            .ids
            .iter()
            .find(|(configured, filed)| configured == wanted || filed == wanted)
            .map(|(_, filed)| filed.clone())
            .ok_or_else(|| not_configured(wanted, &keys.ids))?,
        // The client's choice: the smallest public key id, else the newest usable certificate.
        None => keys.ring.preferred().ok_or_else(|| {
            usage(
                "no usable platform key: every configured certificate has expired or is not yet \
                 valid; add the WeChat Pay public key with --platform-key PUB_KEY_ID_...=PATH"
                    .to_owned(),
            )
        })?,
    };
    let entry = keys
        .ring
        .entries()
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(|| usage(format!("platform key {} is not configured", shown_id(&id))))?;
    let plaintext = if args.plaintext == "-" {
        read_stdin_text()?
    } else {
        args.plaintext
    };
    if plaintext.is_empty() {
        return Err(usage("nothing to encrypt: the text is empty".to_owned()));
    }
    // The only input that makes encryption fail is a text too long for the key.
    let ciphertext = entry
        .public_key()
        .encrypt_oaep_base64(&plaintext)
        .map_err(|e| match e.kind() {
            ErrorKind::Crypto => usage(format!(
                "the text is too long: {}",
                crate::fail::bare_message(&e)
            )),
            _ => Fail::from(e),
        })?;
    note!("Wechatpay-Serial: {id}");
    super::print_line(&ciphertext)
}

/// `--key ID` names no configured key: the message quotes it (typed on the command line, it is
/// no secret kept from the shell's history) and lists the ids there are, as `--key` takes them.
fn not_configured(wanted: &str, ids: &[(String, String)]) -> Fail {
    let shown: String = wanted
        .chars()
        .take(64)
        .flat_map(char::escape_debug)
        .collect();
    let mut known: Vec<String> = ids
        .iter()
        .map(|(configured, filed)| {
            if configured == filed {
                shown_id(filed)
            } else {
                // A certificate configured under another id is filed under its serial.
                format!(
                    "{} (configured as {})",
                    shown_id(filed),
                    shown_id(configured)
                )
            }
        })
        .collect();
    known.sort();
    usage(format!(
        "--key `{shown}` is not a configured platform key; configured: {}",
        known.join(", ")
    ))
}

/// stdin as UTF-8 text, without the one line ending `echo` or a here-string adds.
fn read_stdin_text() -> Result<String, Fail> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| usage(format!("cannot read stdin: {e}")))?;
    let mut text = String::from_utf8(bytes).map_err(|_| usage("stdin is not UTF-8".to_owned()))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

/// `wxpay decrypt CIPHERTEXT`: only the merchant private key is needed.
pub fn decrypt(global: &Global, args: Decrypt) -> Result<(), Fail> {
    let settings = settings(global)?;
    let key = settings.require_private_key("`decrypt`")?;
    let ciphertext = args.ciphertext.trim();
    // Not base64 is not a ciphertext at all (exit 3); base64 that does not decrypt (wrong key,
    // wrong size, damaged) or decrypts to no text is an exit 2.
    base64_decode(ciphertext)
        .map_err(|_| usage("the ciphertext is not standard padded base64".to_owned()))?;
    let plain = key.decrypt_oaep_base64(ciphertext).map_err(Fail::from)?;
    super::print_line(&plain)
}
