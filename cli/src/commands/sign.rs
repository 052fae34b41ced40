//! `wxpay sign jsapi|app --appid X --prepay-id Y`: only the merchant private key (and, for
//! `app`, the merchant id) is needed.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use wechatpay::pay::{AppPayParams, JsapiPayParams};

use crate::args::{Global, Sign, SignKind};
use crate::config::settings;
use crate::fail::{Fail, usage};

pub fn run(global: &Global, args: Sign) -> Result<(), Fail> {
    let settings = settings(global)?;
    let value = match args.kind {
        SignKind::Jsapi => {
            let key = settings.require_private_key("`sign jsapi`")?;
            serde_json::to_value(ready(JsapiPayParams::sign(
                &key,
                &args.appid,
                &args.prepay_id,
            ))?)
        }
        SignKind::App => {
            let mchid = settings.require_mchid("`sign app`")?;
            let key = settings.require_private_key("`sign app`")?;
            serde_json::to_value(ready(AppPayParams::sign(
                &key,
                &mchid,
                &args.appid,
                &args.prepay_id,
            ))?)
        }
    };
    super::print_json(&value.unwrap_or_default())
}

/// The result of a signing future of the merchant private key, which is ready at once.
fn ready<T>(future: impl Future<Output = wechatpay::Result<T>>) -> Result<T, Fail> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => result.map_err(Fail::from),
        Poll::Pending => Err(usage("the merchant key did not sign".to_owned())),
    }
}
