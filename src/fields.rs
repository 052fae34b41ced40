//! Sensitive fields: strings named by JSON Pointers, encrypted in requests (the `encrypt`
//! option) and decrypted in responses ([`Client::decrypt_fields`]).

use serde_json::Value;

use crate::client::Client;
use crate::error::{Error, Result};

/// Replaces each string that `pointers` (RFC 6901) name in `json` by `f(string)`, all or
/// nothing: on any error `json` is left as it was. A pointer that is malformed, repeated,
/// matches nothing or names something other than a string is a `Config` error that names it,
/// prefixed by `context`.
pub(crate) fn map_strings<P: AsRef<str>>(
    json: &mut Value,
    pointers: &[P],
    context: &str,
    mut f: impl FnMut(&str) -> Result<String>,
) -> Result<()> {
    let mut replaced = Vec::with_capacity(pointers.len());
    for (i, pointer) in pointers.iter().enumerate() {
        let pointer = pointer.as_ref();
        if !(pointer.is_empty() || pointer.starts_with('/')) {
            return Err(Error::config(format!(
                "{context}: `{pointer}` is not a JSON Pointer (it must start with `/`)"
            )));
        }
        if pointers[..i].iter().any(|p| p.as_ref() == pointer) {
            return Err(Error::config(format!(
                "{context}: `{pointer}` is listed twice"
            )));
        }
        let target = json
            .pointer(pointer)
            .ok_or_else(|| Error::config(format!("{context}: `{pointer}` matches nothing")))?;
        let Value::String(text) = target else {
            let found = match target {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::Array(_) => "an array",
                Value::Object(_) => "an object",
                Value::String(_) => "a string",
            };
            return Err(Error::config(format!(
                "{context}: `{pointer}` points at {found}, not a string"
            )));
        };
        replaced.push((pointer, f(text)?));
    }
    // Every pointer was checked above, and distinct pointers to strings cannot overlap.
    for (pointer, value) in replaced {
        if let Some(target) = json.pointer_mut(pointer) {
            *target = Value::String(value);
        }
    }
    Ok(())
}

impl Client {
    /// Decrypts one sensitive field of a response (base64 RSA-OAEP ciphertext, SHA-1/MGF1-SHA-1)
    /// with the merchant private key.
    pub fn decrypt(&self, ciphertext: &str) -> Result<String> {
        self.merchant_private_key("decrypt", "PrivateKey::decrypt_oaep_base64 with your key")?
            .decrypt_oaep_base64(ciphertext)
    }

    /// Decrypts, in place, the sensitive fields of a response body named by JSON Pointers
    /// (RFC 6901).
    ///
    /// ```no_run
    /// # fn run(client: wechatpay::Client) -> wechatpay::Result<()> {
    /// let mut applyment: serde_json::Value = client
    ///     .chain("v3/applyment4sub/applyment/applyment_id/{applyment_id}")
    ///     .get(serde_json::json!({ "applyment_id": 2000002124775691u64 }))?
    ///     .json()?;
    /// client.decrypt_fields(&mut applyment, &["/account_validation/account_name"])?;
    /// # Ok(()) }
    /// ```
    pub fn decrypt_fields<P: AsRef<str>>(&self, json: &mut Value, pointers: &[P]) -> Result<()> {
        let key = self.merchant_private_key(
            "decrypt_fields",
            "PrivateKey::decrypt_oaep_base64 with your key",
        )?;
        map_strings(json, pointers, "decrypt_fields", |c| {
            key.decrypt_oaep_base64(c)
        })
    }
}
