//! `POST /v3/merchant/media/upload` (and `video_upload`): a multipart body whose `meta`
//! `{filename, sha256}` must describe its `file` part.

use serde_json::{Value, json};

use super::{Request, req_str};
use crate::multipart;
use crate::reply::Reply;
use crate::state::State;
use crate::util::{random_alnum, sha256_hex};

const MAX_IMAGE: usize = 2 * 1024 * 1024;
const MAX_VIDEO: usize = 5 * 1024 * 1024;

pub(super) fn upload(state: &State, request: &Request<'_>, kind: &str) -> Result<Reply, Reply> {
    let content_type = request
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return Err(Reply::param_error("a multipart/form-data body is required"));
    }
    let parts = multipart::parse(content_type, request.body).map_err(Reply::param_error)?;
    let meta = parts
        .iter()
        .find(|p| p.name == "meta")
        .ok_or_else(|| Reply::required("meta"))?;
    let file = parts
        .iter()
        .find(|p| p.name == "file")
        .ok_or_else(|| Reply::required("file"))?;
    let meta: Value = serde_json::from_slice(meta.data)
        .map_err(|e| Reply::param_error(format!("meta is not valid JSON: {e}")))?;
    let filename = req_str(&meta, "filename")?;
    let sha256 = req_str(&meta, "sha256")?;
    if file.filename.as_deref() != Some(filename) {
        return Err(Reply::param_error(format!(
            "meta.filename {filename:?} is not the file part's filename {:?}",
            file.filename.as_deref().unwrap_or_default()
        )));
    }
    let actual =
        sha256_hex(file.data).map_err(|e| Reply::error(500, "SYSTEM_ERROR", e.to_string()))?;
    if !sha256.eq_ignore_ascii_case(&actual) {
        return Err(Reply::param_error(format!(
            "meta.sha256 {sha256:?} is not the SHA-256 of the file ({actual})"
        )));
    }
    let limit = if kind == "video_upload" {
        MAX_VIDEO
    } else {
        MAX_IMAGE
    };
    if file.data.is_empty() || file.data.len() > limit {
        return Err(Reply::param_error(format!(
            "the file must hold 1 to {limit} bytes"
        )));
    }
    let media_id =
        random_alnum(64).map_err(|e| Reply::error(500, "SYSTEM_ERROR", e.to_string()))?;
    state
        .store()
        .media
        .insert(media_id.clone(), file.data.to_vec());
    Ok(Reply::json(200, &json!({ "media_id": media_id })))
}
