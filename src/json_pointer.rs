//! Strings named by JSON Pointers, replaced all or nothing: how sensitive fields are encrypted
//! in requests (the `encrypt` option) and decrypted in responses
//! ([`Client::decrypt_fields`](crate::Client::decrypt_fields)).

use serde_json::Value;

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
