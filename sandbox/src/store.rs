//! What the sandbox remembers: orders, refunds, bills ready for download, uploaded media.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::error::Result;
use crate::util::{Beijing, now_unix, random_digits};

/// The state of an order (`trade_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TradeState {
    NotPay,
    Success,
    Closed,
    Refund,
}

impl TradeState {
    pub(crate) fn code(self) -> &'static str {
        match self {
            TradeState::NotPay => "NOTPAY",
            TradeState::Success => "SUCCESS",
            TradeState::Closed => "CLOSED",
            TradeState::Refund => "REFUND",
        }
    }

    pub(crate) fn description(self) -> &'static str {
        match self {
            TradeState::NotPay => "未支付",
            TradeState::Success => "支付成功",
            TradeState::Closed => "已关闭",
            TradeState::Refund => "转入退款",
        }
    }
}

/// An order placed through APIv3 (`jsapi`, `native`, `app`) or APIv2 (`micropay`).
#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub(crate) appid: String,
    pub(crate) mchid: String,
    pub(crate) out_trade_no: String,
    pub(crate) description: String,
    pub(crate) attach: String,
    /// `JSAPI`, `NATIVE`, `APP`, `MICROPAY`.
    pub(crate) trade_type: String,
    pub(crate) total: u64,
    pub(crate) currency: String,
    pub(crate) openid: String,
    pub(crate) state: TradeState,
    /// Assigned when paid.
    pub(crate) transaction_id: Option<String>,
    pub(crate) success_time: Option<i64>,
    /// What the `jsapi` / `app` call answered (`prepay_id`) or `native` (`code_url`).
    pub(crate) prepay: Value,
    pub(crate) refunded: u64,
    /// Where its payment callback goes: the `notify_url` it was placed with (APIv3 orders).
    pub(crate) notify_url: Option<String>,
}

impl Order {
    /// The APIv3 order JSON (query answers and the payment callback's resource).
    pub(crate) fn v3_json(&self) -> Value {
        let mut order = Map::new();
        order.insert("appid".into(), json!(self.appid));
        order.insert("mchid".into(), json!(self.mchid));
        order.insert("out_trade_no".into(), json!(self.out_trade_no));
        if let Some(id) = &self.transaction_id {
            order.insert("transaction_id".into(), json!(id));
        }
        order.insert("trade_type".into(), json!(self.trade_type));
        order.insert("trade_state".into(), json!(self.state.code()));
        order.insert("trade_state_desc".into(), json!(self.state.description()));
        let paid = self.transaction_id.is_some();
        if paid {
            order.insert("bank_type".into(), json!("OTHERS"));
        }
        order.insert("attach".into(), json!(self.attach));
        if let Some(t) = self.success_time {
            order.insert("success_time".into(), json!(Beijing::at(t).rfc3339()));
        }
        order.insert("payer".into(), json!({ "openid": self.openid }));
        let amount = if paid {
            json!({
                "total": self.total,
                "payer_total": self.total,
                "currency": self.currency,
                "payer_currency": self.currency,
            })
        } else {
            json!({ "total": self.total, "currency": self.currency })
        };
        order.insert("amount".into(), amount);
        Value::Object(order)
    }

    /// Marks the order paid now (idempotent); returns its transaction id.
    pub(crate) fn pay(&mut self) -> Result<String> {
        if let Some(id) = &self.transaction_id {
            return Ok(id.clone());
        }
        let id = format!("4200{}", random_digits(24)?);
        self.transaction_id = Some(id.clone());
        self.state = TradeState::Success;
        self.success_time = Some(now_unix());
        Ok(id)
    }
}

/// A refund (APIv3 or APIv2).
#[derive(Clone, Debug)]
pub(crate) struct Refund {
    pub(crate) refund_id: String,
    pub(crate) out_refund_no: String,
    pub(crate) transaction_id: String,
    pub(crate) out_trade_no: String,
    pub(crate) refund: u64,
    pub(crate) total: u64,
    pub(crate) currency: String,
    pub(crate) create_time: i64,
    /// Queried or notified once at least: the sandbox then reports it `SUCCESS`.
    pub(crate) settled: bool,
    /// Where its `REFUND.SUCCESS` callback goes, if the request named one.
    pub(crate) notify_url: Option<String>,
}

impl Refund {
    /// The APIv3 refund JSON.
    pub(crate) fn v3_json(&self) -> Value {
        let mut refund = Map::new();
        refund.insert("refund_id".into(), json!(self.refund_id));
        refund.insert("out_refund_no".into(), json!(self.out_refund_no));
        refund.insert("transaction_id".into(), json!(self.transaction_id));
        refund.insert("out_trade_no".into(), json!(self.out_trade_no));
        refund.insert("channel".into(), json!("ORIGINAL"));
        refund.insert("user_received_account".into(), json!("支付用户零钱"));
        if self.settled {
            let done = Beijing::at(self.create_time + 1).rfc3339();
            refund.insert("success_time".into(), json!(done));
        }
        let created = Beijing::at(self.create_time).rfc3339();
        refund.insert("create_time".into(), json!(created));
        let status = if self.settled {
            "SUCCESS"
        } else {
            "PROCESSING"
        };
        refund.insert("status".into(), json!(status));
        refund.insert("funds_account".into(), json!("AVAILABLE"));
        refund.insert(
            "amount".into(),
            json!({
                "total": self.total,
                "refund": self.refund,
                "payer_total": self.total,
                "payer_refund": self.refund,
                "settlement_refund": self.refund,
                "settlement_total": self.total,
                "discount_refund": 0,
                "currency": self.currency,
                "refund_fee": 0,
            }),
        );
        Value::Object(refund)
    }
}

/// A bill waiting for its download.
#[derive(Clone, Debug)]
pub(crate) struct BillFile {
    pub(crate) bytes: Vec<u8>,
    pub(crate) gzip: bool,
}

/// Everything the sandbox remembers between requests.
#[derive(Debug, Default)]
pub(crate) struct Store {
    /// By `out_trade_no`.
    pub(crate) orders: HashMap<String, Order>,
    /// By `out_refund_no`.
    pub(crate) refunds: HashMap<String, Refund>,
    /// By download token.
    pub(crate) bills: HashMap<String, BillFile>,
    /// Media ids handed out.
    pub(crate) media: HashMap<String, Vec<u8>>,
    /// The id of the last notification sent (for duplicate deliveries).
    pub(crate) last_notification_id: Option<String>,
    /// The callback sent for an order (`transaction:{out_trade_no}`) or a refund
    /// (`refund:{out_refund_no}`): re-sent as it was, as WeChat Pay's duplicates are.
    pub(crate) callbacks: HashMap<String, crate::notify::Notification>,
    /// By complaint id: the complaints the merchant replied to or completed.
    pub(crate) complaints: HashMap<String, Complaint>,
}

/// A complaint the merchant acted on: its state and its negotiation history.
#[derive(Clone, Debug, Default)]
pub(crate) struct Complaint {
    /// `PENDING`, `PROCESSING` (replied to), `PROCESSED` (completed).
    pub(crate) state: &'static str,
    /// What happened, oldest first.
    pub(crate) history: Vec<ComplaintEvent>,
}

/// One entry of a complaint's negotiation history.
#[derive(Clone, Debug)]
pub(crate) struct ComplaintEvent {
    pub(crate) log_id: String,
    pub(crate) operator: &'static str,
    pub(crate) operate_time: String,
    pub(crate) operate_type: &'static str,
    pub(crate) operate_details: String,
}

impl Store {
    /// The order with this transaction id.
    pub(crate) fn order_by_transaction(&mut self, transaction_id: &str) -> Option<&mut Order> {
        self.orders
            .values_mut()
            .find(|o| o.transaction_id.as_deref() == Some(transaction_id))
    }

    /// The order named by `out_trade_no`, else by `transaction_id`.
    pub(crate) fn find_order(
        &mut self,
        out_trade_no: Option<&str>,
        transaction_id: Option<&str>,
    ) -> Option<&mut Order> {
        match (out_trade_no, transaction_id) {
            (Some(no), _) => self.orders.get_mut(no),
            (None, Some(id)) => self.order_by_transaction(id),
            (None, None) => None,
        }
    }
}
