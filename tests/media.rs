//! Media upload: multipart with `meta` and `file`, signed over the meta part the server
//! actually received.

mod support;

use serde_json::json;
use support::multipart_parts;
use support::scripted::TestServer;
use wechatpay::{ErrorKind, Media, Options};
use wechatpay_sandbox::Answer;

fn upload_server() -> TestServer {
    TestServer::start(|r| {
        let parts = multipart_parts(r.header("content-type").unwrap_or(""), &r.body).unwrap();
        let meta: serde_json::Value = serde_json::from_slice(&parts[0].data).unwrap();
        Answer::json(
            200,
            &json!({ "media_id": format!("media-{}", meta["filename"].as_str().unwrap()) }),
        )
    })
}

#[test]
fn an_image_upload_is_signed_over_the_meta_part_received() {
    let server = upload_server();
    let client = support::client(&server);
    let png = b"\x89PNG\r\n\x1a\n fake image bytes".to_vec();
    let media = Media::new("qrcode.png", png.clone()).unwrap();
    let response = client
        .chain("v3/merchant/media/upload")
        .post(Options::new().multipart(media.clone()))
        .unwrap();
    assert!(response.signature_verified());
    assert_eq!(
        response.json::<serde_json::Value>().unwrap()["media_id"],
        "media-qrcode.png"
    );

    let r = server.last();
    assert_eq!(r.target, "/v3/merchant/media/upload");
    let content_type = r.header("content-type").unwrap().to_owned();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let parts = multipart_parts(&content_type, &r.body).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].name, "meta");
    assert_eq!(parts[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(parts[0].data, media.meta());
    assert_eq!(parts[1].name, "file");
    assert_eq!(parts[1].filename.as_deref(), Some("qrcode.png"));
    assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
    assert_eq!(parts[1].data, png);

    // The server verified the signature over the meta part it received, byte for byte.
    let auth = r.auth_ok();
    let mut tail = parts[0].data.clone();
    tail.push(b'\n');
    assert!(auth.message.ends_with(&tail));
    let meta: serde_json::Value = serde_json::from_slice(&parts[0].data).unwrap();
    assert_eq!(
        meta,
        json!({ "filename": "qrcode.png", "sha256": media.sha256_hex() })
    );
    let sha = openssl::hash::hash(openssl::hash::MessageDigest::sha256(), &png).unwrap();
    assert_eq!(
        media.sha256_hex(),
        sha.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
}

#[tokio::test]
async fn a_video_upload_from_a_file_with_custom_meta_async() {
    let server = upload_server();
    let client = support::client(&server);
    let path = std::env::temp_dir().join(format!("wechatpay-media-{}.mp4", std::process::id()));
    std::fs::write(&path, vec![7u8; 100_000]).unwrap();
    let media = Media::from_path(&path).unwrap();
    let filename = media.filename().to_owned();
    let meta = json!({ "filename": filename, "sha256": media.sha256_hex(), "bank_type": "CMB" });
    let media = media.with_meta(&meta).unwrap();
    client
        .chain("v3/merchant/media/video_upload")
        .post_async(Options::new().multipart(media))
        .await
        .unwrap();
    std::fs::remove_file(&path).unwrap();

    let r = server.last();
    let parts = multipart_parts(r.header("content-type").unwrap(), &r.body).unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&parts[0].data).unwrap(),
        meta
    );
    assert_eq!(parts[1].content_type.as_deref(), Some("video/mp4"));
    assert_eq!(parts[1].data.len(), 100_000);
    r.auth_ok();
}

#[test]
fn a_prepared_upload_signs_the_meta_and_sends_the_multipart() {
    let client = support::identity().build().unwrap();
    let media = Media::new("a.jpg", b"JPEG".to_vec()).unwrap();
    let prepared = client
        .chain("v3/merchant/media/upload")
        .prepare(
            wechatpay::Method::POST,
            Options::new().multipart(media.clone()),
        )
        .unwrap();
    assert_eq!(prepared.signed_body(), media.meta());
    assert!(prepared.body().len() > media.meta().len() + 4);
    let message = prepared.signing_message(1, "n");
    let mut expected = b"POST\n/v3/merchant/media/upload\n1\nn\n".to_vec();
    expected.extend_from_slice(media.meta());
    expected.push(b'\n');
    assert_eq!(message, expected);
}

#[test]
fn bad_media_input_is_a_config_error() {
    let missing = Media::from_path("/nonexistent/dir/a.png").unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::Config);
    assert!(
        missing.to_string().contains("/nonexistent/dir/a.png"),
        "{missing}"
    );
    let media = Media::new("a.png", Vec::new()).unwrap();
    assert_eq!(
        media.clone().with_meta(&json!([1])).unwrap_err().kind(),
        ErrorKind::Config
    );
    let client = support::identity().build().unwrap();
    let err = client
        .chain("v3/merchant/media/upload")
        .prepare(
            wechatpay::Method::POST,
            Options::new().json(&json!({})).multipart(media),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "configuration error: options `json`, `body` and `multipart` are mutually exclusive"
    );
}
