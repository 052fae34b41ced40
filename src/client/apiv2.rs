//! APIv2 callbacks, checked with the client's APIv2 secret.

use serde_json::{Map, Value};

use super::Client;
use crate::error::{Error, Result};
use crate::v2::{decrypt_req_info, parse_xml, verify_callback};

impl Client {
    /// [`verify_callback`](crate::v2::verify_callback) with this client's APIv2 secret.
    pub fn verify_v2_callback(&self, body: &[u8]) -> Result<Map<String, Value>> {
        verify_callback(body, self.context().v2()?)
    }

    /// A refund callback: checks that `return_code` is `SUCCESS`, then decrypts `req_info`
    /// with this client's APIv2 secret ([`decrypt_req_info`](crate::v2::decrypt_req_info)) and returns its fields
    /// (`out_refund_no`, `refund_status`, ...).
    pub fn decrypt_v2_refund_callback(&self, body: &[u8]) -> Result<Map<String, Value>> {
        let secret = self.context().v2()?;
        let outer = parse_xml(body).map_err(|e| {
            Error::decode(
                format!("the APIv2 refund callback is not usable XML: {e}"),
                None,
                e,
            )
        })?;
        let field = |name: &str| outer.get(name).and_then(Value::as_str);
        if field("return_code") != Some("SUCCESS") {
            return Err(Error::decode(
                format!(
                    "the refund callback's return_code is {:?} ({:?}): it carries no refund",
                    field("return_code").unwrap_or("missing"),
                    field("return_msg").unwrap_or("")
                ),
                None,
                "return_code is not SUCCESS".to_owned(),
            ));
        }
        let req_info = field("req_info").ok_or_else(|| {
            Error::decode(
                "the refund callback has no `req_info`",
                None,
                "no req_info".to_owned(),
            )
        })?;
        decrypt_req_info(req_info, secret)
    }
}
