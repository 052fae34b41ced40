//! Refunds: `POST /v3/refund/domestic/refunds` and `GET /v3/refund/domestic/refunds/{no}`.

use super::{Request, opt_str, req_str, req_u64};
use crate::reply::Reply;
use crate::state::State;
use crate::store::{Refund, TradeState};
use crate::util::{now_unix, random_digits};

/// Refunds part or all of a paid order. The same `out_refund_no` again gets the same refund.
pub(super) fn create(state: &State, request: &Request<'_>) -> Result<Reply, Reply> {
    let body = request.json()?;
    let out_refund_no = req_str(&body, "out_refund_no")?;
    let refund = req_u64(&body, "amount.refund")?;
    let total = req_u64(&body, "amount.total")?;
    let currency = req_str(&body, "amount.currency")?;
    let transaction_id = opt_str(&body, "transaction_id")?;
    let out_trade_no = opt_str(&body, "out_trade_no")?;
    let notify_url = opt_str(&body, "notify_url")?;
    if transaction_id.is_none() && out_trade_no.is_none() {
        return Err(Reply::required("transaction_id or out_trade_no"));
    }
    if refund == 0 {
        return Err(Reply::param_error("amount.refund must be at least 1"));
    }
    let mut store = state.store();
    if let Some(existing) = store.refunds.get(out_refund_no) {
        return Ok(Reply::json(200, &existing.v3_json()));
    }
    let order = store
        .find_order(out_trade_no, transaction_id)
        .ok_or_else(|| Reply::error(404, "RESOURCE_NOT_EXISTS", "订单不存在"))?;
    let Some(paid_id) = order.transaction_id.clone() else {
        return Err(Reply::error(
            403,
            "TRADE_STATE_ERROR",
            "订单状态错误: the order is not paid",
        ));
    };
    if total != order.total {
        return Err(Reply::param_error(format!(
            "amount.total {total} is not the order total {}",
            order.total
        )));
    }
    if currency != order.currency {
        return Err(Reply::param_error(format!(
            "amount.currency {currency:?} is not the order currency"
        )));
    }
    if refund > order.total - order.refunded {
        return Err(Reply::error(403, "NOT_ENOUGH", "可退款余额不足"));
    }
    order.refunded += refund;
    order.state = TradeState::Refund;
    let record = Refund {
        refund_id: format!(
            "503{}",
            random_digits(26).map_err(|e| Reply::error(500, "SYSTEM_ERROR", e.to_string()))?
        ),
        out_refund_no: out_refund_no.to_owned(),
        transaction_id: paid_id,
        out_trade_no: order.out_trade_no.clone(),
        refund,
        total,
        currency: currency.to_owned(),
        create_time: now_unix(),
        settled: false,
        notify_url: notify_url.map(str::to_owned),
    };
    let json = record.v3_json();
    store.refunds.insert(out_refund_no.to_owned(), record);
    drop(store);
    if notify_url.is_some() {
        // `REFUND.SUCCESS` to the refund's notify_url, once this answer is on its way.
        state.callbacks.refund_created(out_refund_no);
    }
    Ok(Reply::json(200, &json))
}

/// A refund by `out_refund_no`; from its first query on it is `SUCCESS`.
pub(super) fn query(state: &State, no: &str) -> Result<Reply, Reply> {
    let mut store = state.store();
    let refund = store
        .refunds
        .get_mut(no)
        .ok_or_else(|| Reply::error(404, "RESOURCE_NOT_EXISTS", "退款单不存在"))?;
    refund.settled = true;
    Ok(Reply::json(200, &refund.v3_json()))
}
