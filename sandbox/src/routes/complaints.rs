//! Complaints: the merchant's reply (`POST .../complaints-v2/{id}/response`, and the overseas
//! `POST /v3/global/merchant-service/complaints/{id}/response`) and its completion
//! (`POST .../complete`), both 204, kept: the complaint's detail
//! (`GET .../complaints-v2/{id}`) then shows its state, and its negotiation history
//! (`GET .../complaints-v2/{id}/negotiation-historys`) the replies, as WeChat Pay shows them.

use serde_json::{Value, json};

use super::operations::Found;
use super::{Request, req_str};
use crate::reply::Reply;
use crate::state::State;
use crate::store::{Complaint, ComplaintEvent};
use crate::util::{now_rfc3339, random_digits};

/// The complaint is the merchant's: `complainted_mchid` must be its id.
fn check_mchid(state: &State, body: &Value) -> Result<(), Reply> {
    let mchid = req_str(body, "complainted_mchid")?;
    if mchid != state.keys.mchid {
        return Err(Reply::param_error(format!(
            "complainted_mchid {mchid:?} is not this merchant"
        )));
    }
    Ok(())
}

/// Adds an entry to the history of complaint `id` (created `PENDING`, opened by the payer, on
/// first sight) and moves it to `new_state`.
fn record(
    state: &State,
    id: &str,
    operate_type: &'static str,
    details: String,
    new_state: &'static str,
) {
    let log_id =
        |store_len: usize| format!("{}{:03}", random_digits(24).unwrap_or_default(), store_len);
    let mut store = state.store();
    let complaint = store
        .complaints
        .entry(id.to_owned())
        .or_insert_with(|| Complaint {
            state: "PENDING",
            history: vec![ComplaintEvent {
                log_id: log_id(0),
                operator: "投诉人",
                operate_time: now_rfc3339(),
                operate_type: "USER_CREATE_COMPLAINT",
                operate_details: String::new(),
            }],
        });
    let n = complaint.history.len();
    complaint.history.push(ComplaintEvent {
        log_id: log_id(n),
        operator: "商户",
        operate_time: now_rfc3339(),
        operate_type,
        operate_details: details,
    });
    complaint.state = new_state;
}

pub(super) fn respond(state: &State, request: &Request<'_>, id: &str) -> Result<Reply, Reply> {
    if id.is_empty() {
        return Err(Reply::required("complaint_id"));
    }
    let body = request.json()?;
    check_mchid(state, &body)?;
    let content = req_str(&body, "response_content")?.to_owned();
    record(state, id, "MERCHANT_RESPONSE", content, "PROCESSING");
    Ok(Reply::no_content())
}

pub(super) fn complete(state: &State, request: &Request<'_>, id: &str) -> Result<Reply, Reply> {
    let body = request.json()?;
    check_mchid(state, &body)?;
    record(
        state,
        id,
        "MERCHANT_CONFIRM_COMPLETE",
        String::new(),
        "PROCESSED",
    );
    Ok(Reply::no_content())
}

/// The detail of a complaint: the catalogue's example, its id, and its state when the
/// merchant acted on it.
pub(super) fn detail(state: &State, found: &Found, request: &Request<'_>, id: &str) -> Reply {
    let reply = super::operations::answer(state, found, request);
    let known = state.store().complaints.get(id).map(|c| c.state);
    match (known, serde_json::from_slice::<Value>(&reply.body)) {
        (Some(complaint_state), Ok(mut answer)) if reply.status == 200 => {
            answer["complaint_id"] = json!(id);
            answer["complaint_state"] = json!(complaint_state);
            Reply::json(200, &answer)
        }
        _ => reply,
    }
}

/// The negotiation history of a complaint the merchant acted on (`limit`, `offset` from the
/// query); the catalogue's example for any other.
pub(super) fn history(state: &State, found: &Found, request: &Request<'_>, id: &str) -> Reply {
    let Some(complaint) = state.store().complaints.get(id).cloned() else {
        return super::operations::answer(state, found, request);
    };
    let number = |name: &str, default: usize| {
        request
            .query_param(name)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let (limit, offset) = (number("limit", 100), number("offset", 0));
    let data: Vec<Value> = complaint
        .history
        .iter()
        .skip(offset)
        .take(limit)
        .map(|event| {
            json!({
                "log_id": event.log_id,
                "operator": event.operator,
                "operate_time": event.operate_time,
                "operate_type": event.operate_type,
                "operate_details": event.operate_details,
            })
        })
        .collect();
    Reply::json(
        200,
        &json!({
            "data": data,
            "limit": limit,
            "offset": offset,
            "total_count": complaint.history.len(),
        }),
    )
}
