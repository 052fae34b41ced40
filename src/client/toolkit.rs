//! What a client does with the merchant private key besides signing requests: pay parameters
//! for the front end, and the decryption of sensitive fields.

use serde_json::Value;

use super::Client;
use crate::crypto::PrivateKey;
use crate::error::{Error, Result};
use crate::json_pointer::map_strings;
use crate::pay::{AppPayParams, JsapiPayParams, ready};

impl Client {
    /// JSAPI / mini-program pay parameters for `prepay_id`, signed with the merchant private
    /// key. With a custom [`Signer`](crate::signer::Signer), use [`JsapiPayParams::sign`].
    pub fn jsapi_pay_params(&self, app_id: &str, prepay_id: &str) -> Result<JsapiPayParams> {
        let key = self.merchant_private_key("jsapi_pay_params", "JsapiPayParams::sign")?;
        ready(JsapiPayParams::sign(key, app_id, prepay_id))
    }

    /// APP pay parameters for `prepay_id`, signed with the merchant private key. With a custom
    /// [`Signer`](crate::signer::Signer), use [`AppPayParams::sign`].
    pub fn app_pay_params(&self, app_id: &str, prepay_id: &str) -> Result<AppPayParams> {
        let key = self.merchant_private_key("app_pay_params", "AppPayParams::sign")?;
        ready(AppPayParams::sign(key, self.mchid(), app_id, prepay_id))
    }

    /// Decrypts one sensitive field of a response (base64 RSA-OAEP ciphertext, SHA-1/MGF1-SHA-1)
    /// with the merchant private key.
    pub fn decrypt(&self, ciphertext: &str) -> Result<String> {
        self.merchant_private_key("decrypt", "PrivateKey::decrypt_oaep_base64 with your key")?
            .decrypt_oaep_base64(ciphertext)
    }

    /// Decrypts, in place, the sensitive fields of a response body named by JSON Pointers
    /// (RFC 6901): all or nothing, and a pointer that is malformed, repeated, matches nothing or
    /// names something other than a string is a `Config` error that names it.
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

    /// The merchant private key, or a `Config` error naming `what` needed it and the
    /// `alternative` that works with a custom signer.
    fn merchant_private_key(&self, what: &str, alternative: &str) -> Result<&PrivateKey> {
        self.context().v3()?.private_key.as_ref().ok_or_else(|| {
            Error::config(format!(
                "`{what}` needs the merchant private key, and this client signs with a custom \
                 signer: use `{alternative}`"
            ))
        })
    }
}
