//! `wxpay encrypt TEXT` / `wxpay decrypt CIPHERTEXT`: OAEP for sensitive fields.

use wechatpay::crypto::PublicKey;

use crate::args::{Decrypt, Encrypt, Global};
use crate::config::settings;
use crate::fail::{Fail, usage};

pub fn encrypt(global: &Global, args: Encrypt) -> Result<(), Fail> {
    let settings = settings(global)?;
    let (id, path) = match &args.key {
        Some(id) => settings
            .platform_keys
            .iter()
            .find(|(k, _)| k == id)
            .ok_or_else(|| usage(format!("platform key `{id}` is not configured")))?,
        // The client's preferred key: the first public key id, else the first key.
        None => settings
            .platform_keys
            .iter()
            .find(|(k, _)| k.starts_with("PUB_KEY_ID_"))
            .or(settings.platform_keys.first())
            .ok_or_else(|| usage("no platform key: set --platform-key ID=PATH".to_owned()))?,
    };
    let key = PublicKey::from_file(path)
        .map_err(|e| usage(format!("platform key `{id}` ({}): {e}", path.display())))?;
    let ciphertext = key
        .encrypt_oaep_base64(&args.plaintext)
        .map_err(Fail::from)?;
    eprintln!("Wechatpay-Serial: {id}");
    println!("{ciphertext}");
    Ok(())
}

pub fn decrypt(global: &Global, args: Decrypt) -> Result<(), Fail> {
    let settings = settings(global)?;
    let key = settings.client(None)?.private_key.ok_or_else(|| {
        usage("decrypt needs the merchant private key (--private-key-file)".to_owned())
    })?;
    let plain = key
        .decrypt_oaep_base64(args.ciphertext.trim())
        .map_err(Fail::from)?;
    println!("{plain}");
    Ok(())
}
