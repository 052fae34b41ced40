//! `POST /v3/merchant-service/complaints-v2/{id}/response` and
//! `POST /v3/global/merchant-service/complaints/{id}/response`: the merchant's reply to a
//! complaint, answered 204.

use super::{Request, req_str};
use crate::reply::Reply;
use crate::state::State;

pub(super) fn respond(state: &State, request: &Request<'_>, id: &str) -> Result<Reply, Reply> {
    if id.is_empty() {
        return Err(Reply::required("complaint_id"));
    }
    let body = request.json()?;
    let mchid = req_str(&body, "complainted_mchid")?;
    if mchid != state.keys.mchid {
        return Err(Reply::param_error(format!(
            "complainted_mchid {mchid:?} is not this merchant"
        )));
    }
    req_str(&body, "response_content")?;
    Ok(Reply::no_content())
}
