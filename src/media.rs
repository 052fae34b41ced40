//! Media upload: a file and its `meta` JSON, sent as `multipart/form-data`, signed over the meta.
//!
//! WeChat Pay's upload endpoints (`v3/merchant/media/upload`, `v3/merchant/media/video_upload`,
//! `v3/marketing/favor/media/image-upload`, `v3/merchant-service/images/upload`, ...) take two
//! parts: `meta`, a JSON document (`{"filename":"a.png","sha256":"<hex>"}` by default), and
//! `file`. The request signature covers the meta JSON only; the client signs exactly the bytes
//! it sends as the `meta` part.
//!
//! ```no_run
//! # fn run(client: wechatpay::Client) -> wechatpay::Result<()> {
//! use wechatpay::{Media, Options};
//!
//! let media = Media::from_path("qrcode.png")?;
//! let response = client.chain("v3/merchant/media/upload").post(Options::new().multipart(media))?;
//! let media_id: String = response.json::<serde_json::Value>()?["media_id"].as_str().unwrap_or_default().into();
//! # Ok(()) }
//! ```

use std::fmt;
use std::path::Path;

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::Value;

use crate::crypto::{hex_lower, sha256};
use crate::error::{Error, Result};

/// A file to upload, with its `meta` JSON.
///
/// ```
/// use wechatpay::Media;
///
/// let media = Media::new("logo.png", b"\x89PNG...".to_vec()).unwrap();
/// assert_eq!(media.content_type(), "image/png");
/// let meta: serde_json::Value = serde_json::from_slice(media.meta()).unwrap();
/// assert_eq!(meta["filename"], "logo.png");
/// assert_eq!(meta["sha256"], media.sha256_hex());
/// ```
#[derive(Clone)]
pub struct Media {
    filename: String,
    content_type: String,
    data: Bytes,
    sha256: String,
    meta: Bytes,
}

impl Media {
    /// A file from its name and contents. The content type is guessed from the extension and
    /// the meta is `{"filename": <filename>, "sha256": <lowercase hex of the contents>}`.
    ///
    /// The filename must be non-empty, without `"`, `\`, control characters or a path.
    pub fn new(filename: impl Into<String>, data: impl Into<Bytes>) -> Result<Media> {
        let filename = filename.into();
        check_filename(&filename)?;
        let data = data.into();
        let sha256 = hex_lower(&sha256(&data)?);
        let meta = serde_json::to_vec(&serde_json::json!({
            "filename": filename,
            "sha256": sha256,
        }))
        .map_err(|e| Error::config(format!("media meta cannot be serialised: {e}")))?;
        Ok(Media {
            content_type: guess_content_type(&filename).to_owned(),
            filename,
            data,
            sha256,
            meta: meta.into(),
        })
    }

    /// Reads a file; its name (without directories) is the filename.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Media> {
        let path = path.as_ref();
        let filename = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                Error::config(format!(
                    "media file `{}` has no UTF-8 file name",
                    path.display()
                ))
            })?
            .to_owned();
        let data = std::fs::read(path).map_err(|e| {
            Error::config(format!(
                "media file `{}` cannot be read: {e}",
                path.display()
            ))
        })?;
        Media::new(filename, data)
    }

    /// Replaces the meta with a custom JSON document (some endpoints want more fields, such as
    /// `bank_type`). It is serialised once and sent and signed byte for byte.
    pub fn with_meta(mut self, meta: &Value) -> Result<Media> {
        if !meta.is_object() {
            return Err(Error::config("media meta must be a JSON object"));
        }
        self.meta = serde_json::to_vec(meta)
            .map_err(|e| Error::config(format!("media meta cannot be serialised: {e}")))?
            .into();
        Ok(self)
    }

    /// Overrides the guessed content type of the `file` part.
    pub fn with_content_type(mut self, content_type: &str) -> Result<Media> {
        if content_type.is_empty()
            || !content_type
                .bytes()
                .all(|b| (0x21..0x7f).contains(&b) || b == b' ')
        {
            return Err(Error::config(format!(
                "media content type `{}` must be visible ASCII",
                content_type.escape_default()
            )));
        }
        self.content_type = content_type.to_owned();
        Ok(self)
    }

    /// The filename of the `file` part.
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The content type of the `file` part.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The meta JSON, exactly as sent and signed.
    pub fn meta(&self) -> &[u8] {
        &self.meta
    }

    /// The file contents.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Lowercase hex SHA-256 of the contents (what the default meta carries).
    pub fn sha256_hex(&self) -> &str {
        &self.sha256
    }

    /// The multipart body for `boundary`: the `meta` part, then the `file` part.
    pub(crate) fn multipart_body(&self, boundary: &str) -> Bytes {
        let mut body = BytesMut::with_capacity(self.meta.len() + self.data.len() + 320);
        let mut put = |s: &str| body.put_slice(s.as_bytes());
        put(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\n\
             Content-Type: application/json\r\n\r\n"
        ));
        body.put_slice(&self.meta);
        body.put_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                self.filename, self.content_type
            )
            .as_bytes(),
        );
        body.put_slice(&self.data);
        body.put_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        body.freeze()
    }
}

impl fmt::Debug for Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Media")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.data.len())
            .finish()
    }
}

fn check_filename(filename: &str) -> Result<()> {
    let bad = filename.is_empty()
        || filename
            .chars()
            .any(|c| c.is_control() || matches!(c, '"' | '\\' | '/'));
    if bad {
        return Err(Error::config(format!(
            "media filename `{}` must be a non-empty file name without `\"`, `\\`, `/` or control characters",
            filename.escape_default()
        )));
    }
    Ok(())
}

/// The content type WeChat Pay's upload endpoints expect for a file extension.
fn guess_content_type(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "bmp" => "image/bmp",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "tif" | "tiff" => "image/tiff",
        "heic" => "image/heic",
        "pdf" => "application/pdf",
        "mp4" => "video/mp4",
        "avi" => "video/x-msvideo",
        "wmv" => "video/x-ms-wmv",
        "mpg" | "mpeg" => "video/mpeg",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "flv" => "video/x-flv",
        "f4v" => "video/x-f4v",
        "m4v" => "video/x-m4v",
        "rmvb" => "application/vnd.rn-realmedia-vbr",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_meta_is_filename_and_sha256() {
        let m = Media::new("a.png", b"abc".to_vec()).unwrap();
        assert_eq!(
            m.meta(),
            br#"{"filename":"a.png","sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}"#
        );
        assert_eq!(m.content_type(), "image/png");
    }

    #[test]
    fn content_types_by_extension() {
        for (name, ct) in [
            ("A.JPG", "image/jpeg"),
            ("v.mp4", "video/mp4"),
            ("x.bin", "application/octet-stream"),
            ("noext", "application/octet-stream"),
        ] {
            assert_eq!(guess_content_type(name), ct, "{name}");
        }
    }

    #[test]
    fn bad_filenames_are_refused() {
        for name in ["", "a\"b.png", "a\r\nX: y.png", "dir/a.png", "a\\b.png"] {
            let err = Media::new(name, Vec::new()).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Config, "{name:?}");
        }
        assert!(Media::new("已与.png", Vec::new()).is_ok());
    }

    #[test]
    fn multipart_layout() {
        let m = Media::new("a.png", b"PNG".to_vec()).unwrap();
        let body = m.multipart_body("XyZ");
        let expected = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{}\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNG\r\n--XyZ--\r\n",
            std::str::from_utf8(m.meta()).unwrap()
        );
        assert_eq!(body, expected.as_bytes());
    }
}
