//! APIv2 (the legacy XML API): the signing, XML and callback helpers behind `v2/...` paths.
//!
//! Any path that starts with `v2/` (any case) after template expansion is an APIv2 call:
//! `client.chain("v2/pay/micropay").post(..)` posts to `<base_uri>pay/micropay`. The `xml`
//! option is the payload; `nonce_str` (unless `nonceless`) and `sign` (MD5, or HMAC-SHA256 when
//! `sign_type` says so) are added; `security: true` sends it over mutual TLS with the merchant
//! certificate. The answer is parsed without DTDs or entities, `return_code` and `result_code`
//! are checked, and its `sign` is verified, except for the [`UNSIGNED_ANSWERS`] endpoints.
//! See `docs/apiv2.md` for the common calls.
//!
//! ```no_run
//! use serde_json::json;
//! use wechatpay::Client;
//!
//! # fn main() -> wechatpay::Result<()> {
//! let client = Client::builder()
//!     .mchid("1900000109")
//!     .secret("192006250b4c09247ec02edce69f6a2d")
//!     .build()?;
//! let answer = client["v2/pay/orderquery"].post(json!({
//!     "xml": { "appid": "wx2421b1c4370ec43b", "mch_id": "1900000109", "out_trade_no": "1415757673" },
//! }))?;
//! let order = answer.xml()?;
//! println!("{}", order["trade_state"]);
//! # Ok(()) }
//! ```

mod callback;
pub(crate) mod identity;
mod sign;
mod xml;

pub use callback::{decrypt_req_info, reply, verify_callback};
pub use sign::{Secret, SignType, sign, verify};
pub use xml::{MAX_DEPTH, XmlError, parse as parse_xml, sanitize};
pub(crate) use xml::{is_element_name, is_xml_text, write as write_xml, write_map};

/// The unsigned endpoints whose answer may be something other than XML (a CSV or gzip bill, an
/// HTML page): such a body is returned as it is. Every other endpoint must answer XML with a
/// `return_code`.
pub const RAW_ANSWERS: [&str; 7] = [
    "/pay/downloadbill",
    "/pay/downloadfundflow",
    "/sandboxnew/pay/downloadbill",
    "/papay/entrustweb",
    "/papay/h5entrustweb",
    "/papay/partner/entrustweb",
    "/papay/partner/h5entrustweb",
];

/// The paths whose answers WeChat Pay does not sign: wechatpay-php's list (its 24, plus the two
/// sandbox paths it added later). Their answers must still be XML with a `return_code`, and
/// `return_code` and `result_code` are checked; only the [`RAW_ANSWERS`] endpoints may answer
/// something else (a CSV bill, a gzip file), which is returned as it is.
/// [`Response::signature_verified`](crate::Response::signature_verified) is false for all of
/// them.
pub const UNSIGNED_ANSWERS: [&str; 26] = [
    "/mchrisk/querymchrisk",
    "/mchrisk/setmchriskcallback",
    "/mchrisk/syncmchriskresult",
    "/mmpaymkttransfers/gethbinfo",
    "/mmpaymkttransfers/gettransferinfo",
    "/mmpaymkttransfers/pay_bank",
    "/mmpaymkttransfers/promotion/paywwsptrans2pocket",
    "/mmpaymkttransfers/promotion/querywwsptrans2pocket",
    "/mmpaymkttransfers/promotion/transfers",
    "/mmpaymkttransfers/query_bank",
    "/mmpaymkttransfers/sendgroupredpack",
    "/mmpaymkttransfers/sendminiprogramhb",
    "/mmpaymkttransfers/sendredpack",
    "/papay/entrustweb",
    "/papay/h5entrustweb",
    "/papay/partner/entrustweb",
    "/papay/partner/h5entrustweb",
    "/pay/downloadbill",
    "/pay/downloadfundflow",
    "/payitil/report",
    "/risk/getpublickey",
    "/risk/getviolation",
    "/sandboxnew/pay/downloadbill",
    "/sandboxnew/pay/getsignkey",
    "/secapi/mch/submchmanage",
    "/xdc/apiv2getsignkey/sign/getsignkey",
];
