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
}

struct Override {
    /// `METHOD template`, exactly.
    operation: &'static str,
    change: Change,
    /// Why: what the dataset says, and what is true.
    why: &'static str,
}

/// The order queries' answers reuse the order-creation schema, so they "require" the fields
/// the merchant sent when ordering; production answers carry neither.
const ORDER_QUERY_NOT_REQUIRED: &[&str] = &["description", "notify_url"];

const OVERRIDES: &[Override] = &[
    Override {
        operation: "POST v3/offlinefacemch/organizations/{organization_id}/users/user-id/{user_id}/terminate-contract",
        change: Change::RenamePathParameter {
            from: "use_id",
            to: "user_id",
        },
        why: "the path parameter is declared as `use_id`, a typo of the template's `{user_id}`",
    },
    Override {
        operation: "GET v3/global/papay/transactions/out-trade-no/{out_trade_no}",
        change: Change::RenamePathParameter {
            from: "transaction_id",
            to: "out_trade_no",
        },
        why: "the path parameter is declared as `transaction_id` (described as the merchant's order number), the template says `{out_trade_no}`",
    },
    Override {
        operation: "GET v3/pay/transactions/id/{transaction_id}",
        change: Change::AnswerNotRequired(ORDER_QUERY_NOT_REQUIRED),
        why: "the query answer reuses the order-creation schema; production never returns description or notify_url",
    },
    Override {
        operation: "GET v3/pay/transactions/out-trade-no/{out_trade_no}",
        change: Change::AnswerNotRequired(ORDER_QUERY_NOT_REQUIRED),
        why: "the query answer reuses the order-creation schema; production never returns description or notify_url",
    },
    Override {
        operation: "GET v3/pay/partner/transactions/id/{transaction_id}",
        change: Change::AnswerNotRequired(ORDER_QUERY_NOT_REQUIRED),
        why: "the query answer reuses the order-creation schema; production never returns description or notify_url",
    },
    Override {
        operation: "GET v3/pay/partner/transactions/out-trade-no/{out_trade_no}",
        change: Change::AnswerNotRequired(ORDER_QUERY_NOT_REQUIRED),
        why: "the query answer reuses the order-creation schema; production never returns description or notify_url",
    },
];

/// Applies every override; an error names one that selected nothing or changed nothing.
pub fn apply(operations: &mut [Operation], report: &mut Report) -> Result<(), String> {
    for o in OVERRIDES {
        let Some(op) = operations
            .iter_mut()
            .find(|op| format!("{} {}", op.method, op.template) == o.operation)
        else {
            return Err(format!("override for `{}`: no such operation", o.operation));
        };
        let changed = match &o.change {
            Change::AnswerNotRequired(names) => match &mut op.answer.schema {
                Some(schema) => {
                    let before = schema.required.len();
                    schema.required.retain(|n| !names.contains(&n.as_str()));
                    schema.required.len() != before
                }
                None => false,
            },
            Change::RenamePathParameter { from, to } => {
                let is_path = |p: &crate::operations::Parameter, name: &str| {
                    p.location == "path" && p.name == name
                };
                match op.parameters.iter().position(|p| is_path(p, from)) {
                    Some(declared) => {
                        // The stand-in the generator declared for the placeholder goes.
                        let mut at = 0;
                        op.parameters.retain(|p| {
                            at += 1;
                            at - 1 == declared || !is_path(p, to)
                        });
                        let declared = op.parameters.iter().position(|p| is_path(p, from));
                        if let Some(declared) = declared {
                            op.parameters[declared].name = (*to).to_owned();
                        }
                        declared.is_some()
                    }
                    None => false,
                }
            }
        };
        if !changed {
            return Err(format!(
                "override for `{}` changed nothing: the dataset changed, look again ({})",
                o.operation, o.why
            ));
        }
        report.count("override", format!("{}: {}", o.operation, o.why));
    }
    Ok(())
}

/// The overrides, for the report.
pub fn listed() -> Vec<(&'static str, &'static str)> {
    OVERRIDES.iter().map(|o| (o.operation, o.why)).collect()
}
