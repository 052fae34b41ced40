//! Orders: `POST /v3/pay/transactions/{jsapi,native,app}`, the two queries and `close`.

use serde_json::json;

use super::{Request, check_mchid, opt_str, req_str, req_u64};
use crate::reply::Reply;
use crate::state::State;
use crate::store::{Order, TradeState};
use crate::util::{Beijing, hex_lower, now_unix, random_alnum, random_bytes};

/// How a query names the order.
pub(super) enum Key<'a> {
    TransactionId(&'a str),
    OutTradeNo(&'a str),
}

fn internal(e: impl std::fmt::Display) -> Reply {
    Reply::error(500, "SYSTEM_ERROR", format!("系统错误: {e}"))
}

/// Places an order; the same `out_trade_no` placed again with the same type and amount gets
/// the same answer, as WeChat Pay does.
pub(super) fn place(state: &State, request: &Request<'_>, kind: &str) -> Result<Reply, Reply> {
    let body = request.json()?;
    let appid = req_str(&body, "appid")?;
    let mchid = req_str(&body, "mchid")?;
    let description = req_str(&body, "description")?;
    let out_trade_no = req_str(&body, "out_trade_no")?;
    let notify_url = req_str(&body, "notify_url")?;
    let total = req_u64(&body, "amount.total")?;
    let openid = if kind == "jsapi" {
        req_str(&body, "payer.openid")?
    } else {
        opt_str(&body, "payer.openid")?.unwrap_or_default()
    };
    check_mchid(state, mchid)?;
    if total == 0 {
        return Err(Reply::param_error("amount.total must be at least 1"));
    }
    if out_trade_no.len() > 32 {
        return Err(Reply::param_error(
            "out_trade_no must be at most 32 characters",
        ));
    }
    let currency = opt_str(&body, "amount.currency")?.unwrap_or("CNY");
    let trade_type = kind.to_ascii_uppercase();

    let mut store = state.store();
    if let Some(existing) = store.orders.get(out_trade_no) {
        return match existing.state {
            TradeState::NotPay if existing.trade_type == trade_type && existing.total == total => {
                Ok(Reply::json(200, &existing.prepay))
            }
            TradeState::NotPay => Err(Reply::error(
                403,
                "OUT_TRADE_NO_USED",
                "商户订单号重复: out_trade_no was used with other parameters",
            )),
            TradeState::Closed => Err(Reply::error(400, "ORDER_CLOSED", "订单已关闭")),
            TradeState::Success | TradeState::Refund => {
                Err(Reply::error(400, "ORDERPAID", "该订单已支付"))
            }
        };
    }
    let prepay = if kind == "native" {
        json!({ "code_url": format!("weixin://wxpay/bizpayurl?pr={}", random_alnum(7).map_err(internal)?) })
    } else {
        let tail = hex_lower(&random_bytes(10).map_err(internal)?);
        json!({ "prepay_id": format!("wx{}{tail}", Beijing::at(now_unix()).compact()) })
    };
    let order = Order {
        appid: appid.to_owned(),
        mchid: mchid.to_owned(),
        out_trade_no: out_trade_no.to_owned(),
        description: description.to_owned(),
        attach: opt_str(&body, "attach")?.unwrap_or_default().to_owned(),
        trade_type,
        total,
        currency: currency.to_owned(),
        openid: openid.to_owned(),
        state: TradeState::NotPay,
        transaction_id: None,
        success_time: None,
        prepay: prepay.clone(),
        refunded: 0,
        notify_url: Some(notify_url.to_owned()),
    };
    store.orders.insert(out_trade_no.to_owned(), order);
    drop(store);
    // Paid (and notified) after the auto-pay delay, if one is set.
    state.callbacks.order_placed(out_trade_no);
    Ok(Reply::json(200, &prepay))
}

/// `GET .../id/{transaction_id}?mchid=..` and `GET .../out-trade-no/{out_trade_no}?mchid=..`.
pub(super) fn query(state: &State, request: &Request<'_>, key: Key<'_>) -> Result<Reply, Reply> {
    let mchid = request
        .query_param("mchid")
        .ok_or_else(|| Reply::required("mchid"))?;
    check_mchid(state, &mchid)?;
    let mut store = state.store();
    let order = match key {
        Key::TransactionId(id) => store.order_by_transaction(id),
        Key::OutTradeNo(no) => store.orders.get_mut(no),
    };
    match order {
        Some(order) => Ok(Reply::json(200, &order.v3_json())),
        None => Err(Reply::error(404, "ORDER_NOT_EXIST", "订单不存在")),
    }
}

/// `POST .../out-trade-no/{out_trade_no}/close` with `{"mchid"}`: 204.
pub(super) fn close(state: &State, request: &Request<'_>, no: &str) -> Result<Reply, Reply> {
    let body = request.json()?;
    check_mchid(state, req_str(&body, "mchid")?)?;
    let mut store = state.store();
    let order = store
        .orders
        .get_mut(no)
        .ok_or_else(|| Reply::error(404, "ORDER_NOT_EXIST", "订单不存在"))?;
    match order.state {
        TradeState::Success | TradeState::Refund => {
            Err(Reply::error(400, "ORDERPAID", "该订单已支付"))
        }
        TradeState::NotPay | TradeState::Closed => {
            order.state = TradeState::Closed;
            Ok(Reply::no_content())
        }
    }
}
