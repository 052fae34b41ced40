//! The APIv2 APIs the sandbox serves: `POST /pay/micropay` and `POST /pay/orderquery` on both
//! ports, `POST /secapi/pay/refund` on the mutual-TLS port. Answers are signed with the
//! request's sign type.

use bytes::Bytes;
use http::{Method, Response};
use http_body_util::Full;

use super::{Checked, Fields, fail_response, field, signed_xml, xml_response};
use crate::error::Result;
use crate::faults::Fault;
use crate::state::State;
use crate::store::{Order, Refund, TradeState};
use crate::util::{Beijing, now_unix, random_alnum, random_digits};

/// Whether `path` is one of the APIv2 APIs of this port.
pub(crate) fn serves(path: &str, tls: bool) -> bool {
    matches!(path, "/pay/micropay" | "/pay/orderquery") || (tls && path == "/secapi/pay/refund")
}

/// Answers a checked request to one of the APIv2 APIs of this port (`404` FAIL for a method
/// it does not take), or `None` when `path` is not one ([`serves`]).
pub(crate) fn handle(
    state: &State,
    method: &Method,
    path: &str,
    request: &Checked,
    tls: bool,
    faults: &[Fault],
) -> Option<Response<Full<Bytes>>> {
    if !serves(path, tls) {
        return None;
    }
    // Validated against the catalogue first, as every APIv2 operation is.
    if let Some(operation) = super::operations::find(method, path) {
        if let Some(refusal) = super::operations::refusal(operation, request, tls) {
            return Some(refusal);
        }
    }
    let fields = &request.fields;
    let business = match (method.as_str(), path) {
        ("POST", "/pay/micropay") => micropay(state, fields),
        ("POST", "/pay/orderquery") => orderquery(state, fields),
        ("POST", "/secapi/pay/refund") => refund(state, fields),
        _ => return Some(fail_response(404, "no such APIv2 API")),
    };
    let response = match business.unwrap_or_else(|b| b) {
        Business::Fail(message) => fail_response(200, &message),
        Business::Fields(business) => match signed_answer(state, request, business, faults) {
            Ok(xml) => xml_response(200, xml),
            Err(e) => fail_response(500, &format!("sandbox: cannot sign the answer: {e}")),
        },
    };
    Some(response)
}

/// `return_code` SUCCESS, the request's `appid` and `mch_id`, a nonce and the business
/// fields, signed with the request's sign type.
fn signed_answer(
    state: &State,
    request: &Checked,
    business: Vec<(&'static str, String)>,
    faults: &[Fault],
) -> Result<String> {
    let mut fields: Fields = vec![
        ("return_code".into(), "SUCCESS".into()),
        ("return_msg".into(), "OK".into()),
    ];
    for name in ["appid", "mch_id"] {
        if let Some(value) = field(&request.fields, name) {
            fields.push((name.into(), value.into()));
        }
    }
    fields.push(("nonce_str".into(), random_alnum(16)?));
    fields.extend(business.into_iter().map(|(k, v)| (k.to_owned(), v)));
    signed_xml(state, fields, request.sign_type, faults)
}

/// What a business handler answers.
enum Business {
    /// `return_code` FAIL (unsigned) with this message.
    Fail(String),
    /// `return_code` SUCCESS, signed, with these fields (including `result_code`).
    Fields(Vec<(&'static str, String)>),
}

fn business_error(code: &str, description: &str) -> Business {
    Business::Fields(vec![
        ("result_code", "FAIL".into()),
        ("err_code", code.into()),
        ("err_code_des", description.into()),
    ])
}

fn required<'f>(fields: &'f Fields, name: &str) -> Result<&'f str, Business> {
    field(fields, name).ok_or_else(|| Business::Fail(format!("{name} is required")))
}

fn amount(fields: &Fields, name: &str) -> Result<u64, Business> {
    required(fields, name)?
        .parse::<u64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| Business::Fail(format!("{name} must be a positive integer (fen)")))
}

fn check_mch_id(state: &State, fields: &Fields) -> Result<(), Business> {
    let mch_id = required(fields, "mch_id")?;
    if mch_id == state.keys.mchid {
        Ok(())
    } else {
        Err(Business::Fail(format!(
            "mch_id {mch_id:?} is not this merchant"
        )))
    }
}

fn internal(e: impl std::fmt::Display) -> Business {
    Business::Fail(format!("SYSTEMERROR: {e}"))
}

fn micropay(state: &State, fields: &Fields) -> Result<Business, Business> {
    let appid = required(fields, "appid")?;
    check_mch_id(state, fields)?;
    let body = required(fields, "body")?;
    let out_trade_no = required(fields, "out_trade_no")?;
    let total = amount(fields, "total_fee")?;
    required(fields, "spbill_create_ip")?;
    let auth_code = required(fields, "auth_code")?;
    let valid_code = auth_code.len() == 18
        && auth_code.bytes().all(|b| b.is_ascii_digit())
        && ("10".."16").contains(&auth_code.get(..2).unwrap_or_default());
    if !valid_code {
        return Ok(business_error(
            "AUTH_CODE_INVALID",
            "付款码无效，请重新扫码",
        ));
    }
    let mut store = state.store();
    if let Some(existing) = store.orders.get(out_trade_no) {
        if existing.state != TradeState::NotPay {
            return Ok(business_error("ORDERPAID", "订单已支付"));
        }
    }
    let openid = format!("o{}", random_alnum(27).map_err(internal)?);
    let mut order = Order {
        appid: appid.to_owned(),
        mchid: state.keys.mchid.clone(),
        out_trade_no: out_trade_no.to_owned(),
        description: body.to_owned(),
        attach: field(fields, "attach").unwrap_or_default().to_owned(),
        trade_type: "MICROPAY".into(),
        total,
        currency: field(fields, "fee_type").unwrap_or("CNY").to_owned(),
        openid,
        state: TradeState::NotPay,
        transaction_id: None,
        success_time: None,
        prepay: serde_json::Value::Null,
        refunded: 0,
        notify_url: None,
    };
    order.pay().map_err(internal)?;
    let answer = paid_fields(&order);
    store.orders.insert(out_trade_no.to_owned(), order);
    Ok(Business::Fields(answer))
}

/// The fields of a paid order in micropay and orderquery answers.
fn paid_fields(order: &Order) -> Vec<(&'static str, String)> {
    let time_end = order
        .success_time
        .map(|t| Beijing::at(t).compact())
        .unwrap_or_default();
    vec![
        ("result_code", "SUCCESS".into()),
        ("openid", order.openid.clone()),
        ("is_subscribe", "N".into()),
        ("trade_type", order.trade_type.clone()),
        ("bank_type", "OTHERS".into()),
        ("fee_type", order.currency.clone()),
        ("total_fee", order.total.to_string()),
        ("cash_fee_type", order.currency.clone()),
        ("cash_fee", order.total.to_string()),
        (
            "transaction_id",
            order.transaction_id.clone().unwrap_or_default(),
        ),
        ("out_trade_no", order.out_trade_no.clone()),
        ("attach", order.attach.clone()),
        ("time_end", time_end),
    ]
}

fn orderquery(state: &State, fields: &Fields) -> Result<Business, Business> {
    required(fields, "appid")?;
    check_mch_id(state, fields)?;
    let out_trade_no = field(fields, "out_trade_no");
    let transaction_id = field(fields, "transaction_id");
    if out_trade_no.is_none() && transaction_id.is_none() {
        return Err(Business::Fail(
            "transaction_id or out_trade_no is required".into(),
        ));
    }
    let mut store = state.store();
    let Some(order) = store.find_order(out_trade_no, transaction_id) else {
        return Ok(business_error("ORDERNOTEXIST", "此交易订单号不存在"));
    };
    let mut answer = if order.transaction_id.is_some() {
        paid_fields(order)
    } else {
        vec![
            ("result_code", "SUCCESS".into()),
            ("out_trade_no", order.out_trade_no.clone()),
            ("total_fee", order.total.to_string()),
        ]
    };
    answer.push(("trade_state", order.state.code().into()));
    answer.push(("trade_state_desc", order.state.description().into()));
    Ok(Business::Fields(answer))
}

fn refund_fields(refund: &Refund) -> Vec<(&'static str, String)> {
    vec![
        ("result_code", "SUCCESS".into()),
        ("transaction_id", refund.transaction_id.clone()),
        ("out_trade_no", refund.out_trade_no.clone()),
        ("out_refund_no", refund.out_refund_no.clone()),
        ("refund_id", refund.refund_id.clone()),
        ("refund_fee", refund.refund.to_string()),
        ("settlement_refund_fee", refund.refund.to_string()),
        ("total_fee", refund.total.to_string()),
        ("settlement_total_fee", refund.total.to_string()),
        ("fee_type", refund.currency.clone()),
        ("cash_fee", refund.total.to_string()),
        ("cash_refund_fee", refund.refund.to_string()),
    ]
}

fn refund(state: &State, fields: &Fields) -> Result<Business, Business> {
    required(fields, "appid")?;
    check_mch_id(state, fields)?;
    let out_refund_no = required(fields, "out_refund_no")?;
    let total = amount(fields, "total_fee")?;
    let refund_fee = amount(fields, "refund_fee")?;
    let out_trade_no = field(fields, "out_trade_no");
    let transaction_id = field(fields, "transaction_id");
    if out_trade_no.is_none() && transaction_id.is_none() {
        return Err(Business::Fail(
            "transaction_id or out_trade_no is required".into(),
        ));
    }
    let mut store = state.store();
    if let Some(existing) = store.refunds.get(out_refund_no) {
        return Ok(Business::Fields(refund_fields(existing)));
    }
    let Some(order) = store.find_order(out_trade_no, transaction_id) else {
        return Ok(business_error("ORDERNOTEXIST", "订单不存在"));
    };
    let Some(paid_id) = order.transaction_id.clone() else {
        return Ok(business_error("TRADE_STATE_ERROR", "订单状态错误"));
    };
    if total != order.total {
        return Ok(business_error("PARAM_ERROR", "total_fee与订单金额不符"));
    }
    if refund_fee > order.total - order.refunded {
        return Ok(business_error("NOTENOUGH", "余额不足"));
    }
    order.refunded += refund_fee;
    order.state = TradeState::Refund;
    let record = Refund {
        refund_id: format!("503{}", random_digits(26).map_err(internal)?),
        out_refund_no: out_refund_no.to_owned(),
        transaction_id: paid_id,
        out_trade_no: order.out_trade_no.clone(),
        refund: refund_fee,
        total,
        currency: order.currency.clone(),
        create_time: now_unix(),
        settled: false,
        notify_url: None,
    };
    let answer = refund_fields(&record);
    store.refunds.insert(out_refund_no.to_owned(), record);
    Ok(Business::Fields(answer))
}
