//! The parameters a JSAPI page, a mini-program or an APP needs to start paying for a prepay
//! order, signed with the merchant key.
//!
//! After `v3/pay/transactions/jsapi` (or `.../app`) returns a `prepay_id`, the front end calls
//! `wx.requestPayment` (JSAPI, mini-program) or the APP SDK with these fields. The signature is
//! RSA-SHA256 over `appId\ntimeStamp\nnonceStr\npackage\n` (JSAPI) or
//! `appid\ntimestamp\nnoncestr\nprepayid\n` (APP), base64.
//!
//! ```
//! # let key = openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap();
//! # let client = wechatpay::Client::builder().mchid("1900000000").serial("0A").private_key(key)
//! #     .verifier(wechatpay::verifier::PlatformVerifier::new()).build().unwrap();
//! let params = client.jsapi_pay_params("wx8888888888888888", "wx201410272009395522657a690389285100")?;
//! assert_eq!(params.package, "prepay_id=wx201410272009395522657a690389285100");
//! assert_eq!(params.sign_type, "RSA");
//! // Serialises with the field names wx.requestPayment takes.
//! let json = serde_json::to_value(&params).unwrap();
//! assert_eq!(json["appId"], "wx8888888888888888");
//! assert!(json["paySign"].is_string());
//! # Ok::<(), wechatpay::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::clock::unix_now;
use crate::crypto::{base64_encode, nonce};
use crate::error::{Error, Result};
use crate::signer::Signer;

/// `wx.requestPayment` / `WeixinJSBridge` parameters for JSAPI pages and mini-programs.
///
/// `Debug` hides the signature (serialise it to hand it to the page).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsapiPayParams {
    /// The AppID the order was made for.
    pub app_id: String,
    /// Unix seconds, as a string.
    pub time_stamp: String,
    /// 32 random characters.
    pub nonce_str: String,
    /// `prepay_id=<prepay id>`.
    pub package: String,
    /// Always `RSA`.
    pub sign_type: String,
    /// base64 RSA-SHA256 signature.
    pub pay_sign: String,
}

/// Parameters for the APP SDK's payment request (`PayReq`).
///
/// `Debug` hides the signature (serialise it to hand it to the app).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppPayParams {
    /// The AppID the order was made for.
    pub appid: String,
    /// The merchant id.
    pub partnerid: String,
    /// The prepay id.
    pub prepayid: String,
    /// Always `Sign=WXPay`.
    pub package: String,
    /// 32 random characters.
    pub noncestr: String,
    /// Unix seconds, as a string.
    pub timestamp: String,
    /// base64 RSA-SHA256 signature.
    pub sign: String,
}

impl std::fmt::Debug for JsapiPayParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsapiPayParams")
            .field("app_id", &self.app_id)
            .field("time_stamp", &self.time_stamp)
            .field("nonce_str", &self.nonce_str)
            .field("package", &self.package)
            .field("sign_type", &self.sign_type)
            .field(
                "pay_sign",
                &format_args!("<{} characters>", self.pay_sign.len()),
            )
            .finish()
    }
}

impl std::fmt::Debug for AppPayParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppPayParams")
            .field("appid", &self.appid)
            .field("partnerid", &self.partnerid)
            .field("prepayid", &self.prepayid)
            .field("package", &self.package)
            .field("noncestr", &self.noncestr)
            .field("timestamp", &self.timestamp)
            .field("sign", &format_args!("<{} characters>", self.sign.len()))
            .finish()
    }
}

/// The four signed lines, each ending in `\n`.
fn message(lines: [&str; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

fn check(app_id: &str, prepay_id: &str) -> Result<()> {
    for (name, value) in [("app_id", app_id), ("prepay_id", prepay_id)] {
        if value.is_empty() || value.contains(['\n', '\r']) {
            return Err(Error::config(format!(
                "{name} must be non-empty and on one line"
            )));
        }
    }
    Ok(())
}

impl JsapiPayParams {
    /// Signs JSAPI parameters with any [`Signer`] (a KMS included), now, with a fresh nonce.
    pub async fn sign(
        signer: &dyn Signer,
        app_id: &str,
        prepay_id: &str,
    ) -> Result<JsapiPayParams> {
        check(app_id, prepay_id)?;
        let time_stamp = unix_now().to_string();
        let nonce_str = nonce()?;
        let package = format!("prepay_id={prepay_id}");
        let signature = signer
            .sign(&message([app_id, &time_stamp, &nonce_str, &package]))
            .await?;
        Ok(JsapiPayParams {
            app_id: app_id.to_owned(),
            time_stamp,
            nonce_str,
            package,
            sign_type: "RSA".to_owned(),
            pay_sign: base64_encode(&signature),
        })
    }

    /// The message `pay_sign` covers.
    pub fn signed_message(&self) -> Vec<u8> {
        message([
            &self.app_id,
            &self.time_stamp,
            &self.nonce_str,
            &self.package,
        ])
    }
}

impl AppPayParams {
    /// Signs APP parameters with any [`Signer`] (a KMS included), now, with a fresh nonce.
    pub async fn sign(
        signer: &dyn Signer,
        mchid: &str,
        app_id: &str,
        prepay_id: &str,
    ) -> Result<AppPayParams> {
        check(app_id, prepay_id)?;
        let timestamp = unix_now().to_string();
        let noncestr = nonce()?;
        let signature = signer
            .sign(&message([app_id, &timestamp, &noncestr, prepay_id]))
            .await?;
        Ok(AppPayParams {
            appid: app_id.to_owned(),
            partnerid: mchid.to_owned(),
            prepayid: prepay_id.to_owned(),
            package: "Sign=WXPay".to_owned(),
            noncestr,
            timestamp,
            sign: base64_encode(&signature),
        })
    }

    /// The message `sign` covers.
    pub fn signed_message(&self) -> Vec<u8> {
        message([&self.appid, &self.timestamp, &self.noncestr, &self.prepayid])
    }
}

/// Runs a signing future of the built-in [`PrivateKey`](crate::crypto::PrivateKey) signer, which
/// is ready at once, without a runtime.
pub(crate) fn ready<T>(future: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => Err(Error::crypto("the merchant key signer did not complete")),
    }
}
