//! Where the dataset contradicts itself or WeChat Pay's wire facts: explicit, commented
//! overrides, each applied by name and counted in the report. An override that no longer
//! matches anything fails the generation (the dataset changed: look again).

use crate::operations::Operation;
use crate::report::Report;

/// What an override does to the operations it selects.
enum Change {
    /// Drops names from the answer's top-level `required`.
    AnswerNotRequired(&'static [&'static str]),
    /// Renames a declared path parameter that the template spells differently (the template
    /// is what WeChat Pay serves); the placeholder's stand-in declaration gives way to it.
    RenamePathParameter {
        from: &'static str,
        to: &'static str,
    },
    /// The body "requires" every one of these names where WeChat Pay needs any one of them
    /// (the documentation's 二选一, 四选一): they leave `required` for a `required_any` group.
    Alternatives(&'static [&'static str]),
    /// The answer is the one of another operation (`METHOD template`), as it is in production.
    SameAnswerAs(&'static str),
}

struct Override {
    /// `METHOD template`, exactly: each must exist.
    operations: &'static [&'static str],
    change: Change,
    /// Why: what the dataset says, and what is true.
    why: &'static str,
}

/// The order queries' answers reuse the order-creation schema, so they "require" the fields
/// the merchant sent when ordering; production answers carry neither. And an order not paid
/// yet (`NOTPAY`, `CLOSED`) has no payer amount: production leaves out `amount.payer_total`.
const ORDER_QUERY_NOT_REQUIRED: &[&str] = &["description", "notify_url", "amount.payer_total"];

/// An order is named by WeChat Pay's id or the merchant's: either will do.
const ORDER_ID: &[&str] = &["transaction_id", "out_trade_no"];
/// A refund query names the order (by either id) or the refund (by either id).
const REFUND_ID: &[&str] = &[
    "transaction_id",
    "out_trade_no",
    "out_refund_no",
    "refund_id",
];
const ORDER_ID_WHY: &str = "the body lists both transaction_id and out_trade_no as required; WeChat Pay needs either one (二选一)";
const REFUND_ID_WHY: &str = "the body lists transaction_id, out_trade_no, out_refund_no and refund_id as required; WeChat Pay needs any one (四选一)";

const OVERRIDES: &[Override] = &[
    Override {
        operations: &[
            "POST v2/deposit/consume",
            "POST v2/deposit/orderquery",
            "POST v2/deposit/refund",
            "POST v2/pay/facepayquery",
            "POST v2/pay/orderquery",
            "POST v2/pay/paporderquery",
            "POST v2/pay/partner/paporderquery",
            "POST v2/sandboxnew/pay/orderquery",
            "POST v2/sandboxnew/pay/refund",
            "POST v2/secapi/pay/refund",
            "POST v2/secapi/pay/refundv2",
            "POST v2/transit/partnerpay/queryorder",
            "POST v2/transit/queryorder",
            "POST v2/xdc/apiv2sandbox/pay/orderquery",
        ],
        change: Change::Alternatives(ORDER_ID),
        why: ORDER_ID_WHY,
    },
    Override {
        operations: &[
            "POST v2/deposit/refundquery",
            "POST v2/pay/refundquery",
            "POST v2/pay/refundqueryv2",
            "POST v2/sandboxnew/pay/refundquery",
        ],
        change: Change::Alternatives(REFUND_ID),
        why: REFUND_ID_WHY,
    },
    Override {
        operations: &[
            "POST v3/offlinefacemch/organizations/{organization_id}/users/user-id/{user_id}/terminate-contract",
        ],
        change: Change::RenamePathParameter {
            from: "use_id",
            to: "user_id",
        },
        why: "the path parameter is declared as `use_id`, a typo of the template's `{user_id}`",
    },
    Override {
        operations: &["GET v3/global/papay/transactions/out-trade-no/{out_trade_no}"],
        change: Change::RenamePathParameter {
            from: "transaction_id",
            to: "out_trade_no",
        },
        why: "the path parameter is declared as `transaction_id` (described as the merchant's order number), the template says `{out_trade_no}`",
    },
    Override {
        operations: &["GET v3/pay/transactions/id/{transaction_id}"],
        change: Change::AnswerNotRequired(ORDER_QUERY_NOT_REQUIRED),
        why: "the query answer reuses the order-creation schema; production never returns description or notify_url, and an unpaid order has no amount.payer_total",
    },
    Override {
        operations: &["GET v3/pay/transactions/out-trade-no/{out_trade_no}"],
        change: Change::AnswerNotRequired(ORDER_QUERY_NOT_REQUIRED),
        why: "the query answer reuses the order-creation schema; production never returns description or notify_url, and an unpaid order has no amount.payer_total",
    },
    Override {
        operations: &["GET v3/pay/partner/transactions/id/{transaction_id}"],
        change: Change::AnswerNotRequired(ORDER_QUERY_NOT_REQUIRED),
        why: "the query answer reuses the order-creation schema; production never returns description or notify_url, and an unpaid order has no amount.payer_total",
    },
    Override {
        operations: &["GET v3/pay/partner/transactions/out-trade-no/{out_trade_no}"],
        change: Change::AnswerNotRequired(ORDER_QUERY_NOT_REQUIRED),
        why: "the query answer reuses the order-creation schema; production never returns description or notify_url, and an unpaid order has no amount.payer_total",
    },
    // After the two above: the answer copied is the corrected one.
    Override {
        operations: &["GET v3/pay/transactions/id/{transaction_id}"],
        change: Change::SameAnswerAs("GET v3/pay/transactions/out-trade-no/{out_trade_no}"),
        why: "both queries answer the same transaction; the by-id answer lacks `payer`, `amount.payer_total` and `installment_info`, which the by-number answer and the payment callback's transaction carry",
    },
    Override {
        operations: &["GET v3/pay/partner/transactions/id/{transaction_id}"],
        change: Change::SameAnswerAs("GET v3/pay/partner/transactions/out-trade-no/{out_trade_no}"),
        why: "both queries answer the same transaction; the by-id answer lacks `installment_info`, which the by-number answer carries",
    },
];

/// Applies every override; an error names one that selected nothing or changed nothing.
pub fn apply(operations: &mut [Operation], report: &mut Report) -> Result<(), String> {
    for o in OVERRIDES {
        for id in o.operations {
            let source = match o.change {
                Change::SameAnswerAs(other) => Some(
                    operations
                        .iter()
                        .find(|op| format!("{} {}", op.method, op.template) == other)
                        .ok_or_else(|| format!("override for `{id}`: no operation `{other}`"))?
                        .answer
                        .clone(),
                ),
                _ => None,
            };
            let Some(op) = operations
                .iter_mut()
                .find(|op| format!("{} {}", op.method, op.template) == *id)
            else {
                return Err(format!("override for `{id}`: no such operation"));
            };
            let changed = match source {
                Some(answer) if answer != op.answer => {
                    op.answer = answer;
                    true
                }
                Some(_) => false,
                None => change(op, &o.change),
            };
            if !changed {
                return Err(format!(
                    "override for `{id}` changed nothing: the dataset changed, look again ({})",
                    o.why
                ));
            }
            report.count("override", format!("{id}: {}", o.why));
        }
    }
    Ok(())
}

/// Applies one change; whether it changed anything.
fn change(op: &mut Operation, change: &Change) -> bool {
    match change {
        Change::AnswerNotRequired(names) => match &mut op.answer.schema {
            Some(schema) => drop_required(schema, names) > 0,
            None => false,
        },
        Change::Alternatives(names) => match &mut op.body {
            Some(body) if names.iter().all(|n| body.required.iter().any(|r| r == n)) => {
                drop_required(body, names);
                body.required_any
                    .push(names.iter().map(|n| (*n).to_owned()).collect());
                true
            }
            _ => false,
        },
        Change::SameAnswerAs(_) => false,
        Change::RenamePathParameter { from, to } => {
            let is_path = |p: &crate::operations::Parameter, name: &str| {
                p.location == "path" && p.name == name
            };
            let Some(declared) = op.parameters.iter().position(|p| is_path(p, from)) else {
                return false;
            };
            // The stand-in the generator declared for the placeholder goes.
            let mut at = 0;
            op.parameters.retain(|p| {
                at += 1;
                at - 1 == declared || !is_path(p, to)
            });
            match op.parameters.iter_mut().find(|p| is_path(p, from)) {
                Some(p) => {
                    p.name = (*to).to_owned();
                    true
                }
                None => false,
            }
        }
    }
}

/// Drops `names` from `required` (and their places); how many went. A dotted name
/// (`amount.payer_total`) is dropped from the nested object's `required`.
fn drop_required(schema: &mut crate::schema::Schema, names: &[&str]) -> usize {
    let mut nested = 0;
    for name in names {
        if let Some((field, rest)) = name.split_once('.') {
            if let Some(inner) = schema.properties.get_mut(field) {
                nested += drop_required(inner, &[rest]);
            }
        }
    }
    let before = schema.required.len();
    let kept: Vec<(String, String)> = std::mem::take(&mut schema.required)
        .into_iter()
        .zip(std::mem::take(&mut schema.required_at))
        .filter(|(n, _)| !names.contains(&n.as_str()))
        .collect();
    (schema.required, schema.required_at) = kept.into_iter().unzip();
    nested + before - schema.required.len()
}

/// The overrides, for the report.
pub fn listed() -> Vec<(String, &'static str)> {
    OVERRIDES
        .iter()
        .map(|o| (o.operations.join("`, `"), o.why))
        .collect()
}
