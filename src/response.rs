//! [`Response`]: a fully buffered, already verified answer.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// A WeChat Pay response, fully read and (for 2xx answers of signed endpoints) verified before
/// you see it.
///
/// `Debug` shows the status, the headers and the body length, never the body.
#[derive(Clone)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    signature_verified: bool,
}

impl Response {
    pub(crate) fn new(status: StatusCode, headers: HeaderMap, body: Bytes) -> Response {
        Response {
            status,
            headers,
            body,
            signature_verified: false,
        }
    }

    pub(crate) fn mark_verified(&mut self) {
        self.signature_verified = true;
    }

    /// Refused after its signature verified (a replay): not to be trusted either.
    pub(crate) fn mark_refused(&mut self) {
        self.signature_verified = false;
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The `Request-ID` header WeChat Pay sets on every answer.
    pub fn request_id(&self) -> Option<&str> {
        self.headers.get("Request-ID").and_then(|v| v.to_str().ok())
    }

    /// True when the body's signature was checked. False only for answers WeChat Pay does not
    /// sign: the APIv3 downloads (bill files, statements, complaint images, ...), whose
    /// integrity the caller checks another way (a hash in the preceding signed response), and
    /// the APIv2 endpoints of [`v2::UNSIGNED_ANSWERS`](crate::v2::UNSIGNED_ANSWERS).
    pub fn signature_verified(&self) -> bool {
        self.signature_verified
    }

    /// The raw body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as UTF-8 text; a [`Decode`](crate::ErrorKind::Decode) error if it is not.
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.body).map_err(|e| {
            Error::decode(
                format!("response body is not UTF-8 (at byte {})", e.valid_up_to()),
                None,
                e,
            )
        })
    }

    /// Decodes the JSON body into `T`. On failure the [`Decode`](crate::ErrorKind::Decode) error
    /// names the path that failed ([`Error::json_path`]), such as `data[0].serial_no`.
    ///
    /// ```no_run
    /// # fn run(client: wechatpay::Client) -> wechatpay::Result<()> {
    /// #[derive(serde::Deserialize)]
    /// struct Order { trade_state: String }
    ///
    /// let order: Order = client
    ///     .chain("v3/pay/transactions/out-trade-no/{out_trade_no}")
    ///     .get(serde_json::json!({ "out_trade_no": "1217752501201407033233368018", "query": { "mchid": "1230000109" } }))?
    ///     .json()?;
    /// # Ok(()) }
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        let mut de = serde_json::Deserializer::from_slice(&self.body);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            Error::decode(
                format!("response JSON at `{path}`: {inner}"),
                Some(path),
                inner,
            )
        })?;
        // Nothing but whitespace may follow the document.
        de.end()
            .map_err(|e| Error::decode(format!("response JSON: {e}"), Some(".".to_owned()), e))?;
        Ok(value)
    }

    /// The fields of an APIv2 (XML) answer: leaves as strings, nested elements as objects,
    /// repeated names as arrays (see [`v2::parse_xml`](crate::v2::parse_xml)). A body that is
    /// not XML, or that the safe parser refuses (a DTD, an undefined entity, too deep), is a
    /// [`Decode`](crate::ErrorKind::Decode) error.
    ///
    /// ```no_run
    /// # fn run(client: wechatpay::Client) -> wechatpay::Result<()> {
    /// let answer = client["v2/pay/orderquery"].post(serde_json::json!({
    ///     "xml": { "appid": "wx2421b1c4370ec43b", "mch_id": "1900000109", "out_trade_no": "1415757673" },
    /// }))?;
    /// assert_eq!(answer.xml()?["trade_state"], "SUCCESS");
    /// # Ok(()) }
    /// ```
    pub fn xml(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        crate::v2::parse_xml(&self.body)
            .map_err(|e| Error::decode(format!("response XML: {e}"), None, e))
    }

    /// Decodes an APIv2 (XML) answer into `T`, numbers and all. The body must first pass the
    /// safe parser of [`xml`](Self::xml); on a type mismatch the error names the field
    /// ([`Error::json_path`]).
    ///
    /// ```no_run
    /// # fn run(client: wechatpay::Client) -> wechatpay::Result<()> {
    /// #[derive(serde::Deserialize)]
    /// struct Order { trade_state: String, total_fee: u64 }
    ///
    /// let order: Order = client["v2/pay/orderquery"]
    ///     .post(serde_json::json!({ "xml": { "appid": "wx2421b1c4370ec43b", "mch_id": "1900000109", "out_trade_no": "1415757673" } }))?
    ///     .xml_as()?;
    /// # Ok(()) }
    /// ```
    pub fn xml_as<T: DeserializeOwned>(&self) -> Result<T> {
        // Deserialise what the checks read (the parsed map), never a second parse of the raw
        // body: a character reference one parser drops and another keeps cannot slip in.
        let canonical = crate::v2::write_map(&self.xml()?).map_err(|name| {
            Error::decode(
                format!(
                    "response XML: element `{name}` is not a plain name (ASCII letters, digits, `_`, `-` and `.`, not starting with a digit, `-`, `.` or `xml`), which typed decoding could read under another name"
                ),
                Some(name),
                "not a plain element name".to_owned(),
            )
        })?;
        let mut de = quick_xml::de::Deserializer::from_str(&canonical);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            Error::decode(
                format!("response XML at `{path}`: {inner}"),
                Some(path),
                inner,
            )
        })
    }

    /// Splits into status, headers and body.
    pub fn into_parts(self) -> (StatusCode, HeaderMap, Bytes) {
        (self.status, self.headers, self.body)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("signature_verified", &self.signature_verified)
            .finish()
    }
}
