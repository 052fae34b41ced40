//! Bills: `GET /v3/bill/tradebill?bill_date=..` (signed: the hash and a download URL) and
//! `GET /v3/billdownload/file?token=..` (the file itself, unsigned, gzip when asked).

use std::fmt::Write as _;
use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;

use super::Request;
use crate::reply::Reply;
use crate::state::State;
use crate::store::{BillFile, Order};
use crate::util::{Beijing, random_alnum, sha1_hex};

const HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,\
交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,\
充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
const SUMMARY: &str =
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";

fn internal(e: impl std::fmt::Display) -> Reply {
    Reply::error(500, "SYSTEM_ERROR", format!("系统错误: {e}"))
}

/// `YYYY-MM-DD` with a plausible month and day.
fn valid_date(date: &str) -> bool {
    let b = date.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !digits(0..4)
        || !digits(5..7)
        || !digits(8..10)
    {
        return false;
    }
    let month: u32 = date[5..7].parse().unwrap_or(0);
    let day: u32 = date[8..10].parse().unwrap_or(0);
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// The CSV bill of `orders`.
fn csv(mchid: &str, orders: &[&Order]) -> String {
    let mut out = String::new();
    out.push_str(HEADER);
    out.push_str("\r\n");
    let mut total = 0u64;
    for order in orders {
        let Some(paid) = order.success_time else {
            continue;
        };
        let fee = order.total.saturating_mul(6) / 1000;
        total = total.saturating_add(order.total);
        let _ = write!(
            out,
            "`{},`{},`{},`0,`,`{},`{},`{},`{},`SUCCESS,`OTHERS,`{},`{},`0.00,`0,`0,`0.00,`0.00,`,`,`{},`{},`{},`0.60%,`{},`0.00,`\r\n",
            Beijing::at(paid).plain(),
            order.appid,
            mchid,
            order.transaction_id.as_deref().unwrap_or_default(),
            order.out_trade_no,
            order.openid,
            order.trade_type,
            order.currency,
            yuan(order.total),
            order.description.replace([',', '`', '\r', '\n'], " "),
            order.attach.replace([',', '`', '\r', '\n'], " "),
            yuan(fee),
            yuan(order.total),
        );
    }
    out.push_str(SUMMARY);
    out.push_str("\r\n");
    let count = orders.iter().filter(|o| o.success_time.is_some()).count();
    let _ = write!(
        out,
        "`{count},`{},`0.00,`0.00,`{},`{},`0.00\r\n",
        yuan(total),
        yuan(total.saturating_mul(6) / 1000),
        yuan(total),
    );
    out
}

pub(super) fn tradebill(state: &State, request: &Request<'_>) -> Result<Reply, Reply> {
    let date = request
        .query_param("bill_date")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| Reply::required("bill_date"))?;
    if !valid_date(&date) {
        return Err(Reply::param_error("bill_date must be a date as YYYY-MM-DD"));
    }
    match request.query_param("bill_type").as_deref() {
        None | Some("ALL" | "SUCCESS" | "REFUND") => {}
        Some(_) => {
            return Err(Reply::param_error(
                "bill_type must be ALL, SUCCESS or REFUND",
            ));
        }
    }
    let gzip = match request.query_param("tar_type").as_deref() {
        None => false,
        Some("GZIP") => true,
        Some(_) => return Err(Reply::param_error("tar_type must be GZIP")),
    };
    let mut store = state.store();
    let mut orders: Vec<&Order> = store
        .orders
        .values()
        .filter(|o| {
            o.success_time
                .is_some_and(|t| Beijing::at(t).plain().starts_with(date.as_str()))
        })
        .collect();
    orders.sort_by_key(|o| o.success_time);
    let plain = csv(&state.keys.mchid, &orders);
    let hash = sha1_hex(plain.as_bytes()).map_err(internal)?;
    let bytes = if gzip {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(plain.as_bytes()).map_err(internal)?;
        encoder.finish().map_err(internal)?
    } else {
        plain.into_bytes()
    };
    let token = random_alnum(32).map_err(internal)?;
    store.bills.insert(token.clone(), BillFile { bytes, gzip });
    Ok(Reply::json(
        200,
        &json!({
            "hash_type": "SHA1",
            "hash_value": hash,
            "download_url": format!("{}v3/billdownload/file?token={token}", state.base_uri),
        }),
    ))
}

pub(super) fn download(state: &State, request: &Request<'_>) -> Result<Reply, Reply> {
    let token = request
        .query_param("token")
        .ok_or_else(|| Reply::required("token"))?;
    let store = state.store();
    let bill = store
        .bills
        .get(&token)
        .ok_or_else(|| Reply::error(404, "RESOURCE_NOT_EXISTS", "账单不存在或已过期"))?;
    let content_type = if bill.gzip {
        "application/x-gzip"
    } else {
        "text/csv; charset=utf-8"
    };
    Ok(Reply::unsigned(200, content_type, bill.bytes.clone()))
}
