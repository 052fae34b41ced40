//! `wxpay sign jsapi|app --appid X --prepay-id Y`.

use crate::args::{Global, Sign, SignKind};
use crate::config::settings;
use crate::fail::Fail;

pub fn run(global: &Global, args: Sign) -> Result<(), Fail> {
    let client = settings(global)?.client(None)?.client;
    let value = match args.kind {
        SignKind::Jsapi => serde_json::to_value(
            client
                .jsapi_pay_params(&args.appid, &args.prepay_id)
                .map_err(Fail::from)?,
        ),
        SignKind::App => serde_json::to_value(
            client
                .app_pay_params(&args.appid, &args.prepay_id)
                .map_err(Fail::from)?,
        ),
    };
    super::print_json(&value.unwrap_or_default());
    Ok(())
}
