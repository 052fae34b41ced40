//! `POST /v3/merchant/media/upload` through the real client: the signature covers the meta
//! part, and the meta must describe the file.

use serde_json::{Value, json};
use wechatpay::{ErrorKind, Media, Options};
use wechatpay_sandbox::Sandbox;

fn png() -> Vec<u8> {
    let mut data = b"\x89PNG\r\n\x1a\n".to_vec();
    data.extend((0..2000u32).map(|i| (i * 7 % 251) as u8));
    data
}

#[test]
fn upload_blocking() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let media = Media::new("qrcode.png", png()).unwrap();
    let answer: Value = client["v3/merchant/media/upload"]
        .post(Options::new().multipart(media))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(answer["media_id"].as_str().unwrap().len(), 64);
    let logged = sandbox.requests().pop().unwrap();
    assert!(logged.verdict.is_ok());
    assert!(
        logged
            .header("content-type")
            .unwrap()
            .starts_with("multipart/form-data")
    );
}

#[test]
fn meta_must_match_the_file() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let wrong_hash = Media::new("a.png", png())
        .unwrap()
        .with_meta(&json!({ "filename": "a.png", "sha256": "00".repeat(32) }))
        .unwrap();
    let error = client["v3/merchant/media/upload"]
        .post(Options::new().multipart(wrong_hash))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Api);
    assert!(error.api().unwrap().message().unwrap().contains("sha256"));

    let wrong_name = Media::new("a.png", png())
        .unwrap()
        .with_meta(&json!({ "filename": "b.png", "sha256": Media::new("a.png", png()).unwrap().sha256_hex() }))
        .unwrap();
    let error = client["v3/merchant/media/upload"]
        .post(Options::new().multipart(wrong_name))
        .unwrap_err();
    assert!(error.api().unwrap().message().unwrap().contains("filename"));

    let no_hash = Media::new("a.png", png())
        .unwrap()
        .with_meta(&json!({ "filename": "a.png" }))
        .unwrap();
    let error = client["v3/merchant/media/upload"]
        .post(Options::new().multipart(no_hash))
        .unwrap_err();
    assert_eq!(error.api().unwrap().message(), Some("sha256 is required"));
}

#[tokio::test]
async fn upload_async() {
    let sandbox = Sandbox::start_async().await.unwrap();
    let media = Media::new("photo.jpg", vec![0xFFu8; 4096]).unwrap();
    let answer = sandbox.client()["v3/merchant/media/upload"]
        .post_async(Options::new().multipart(media))
        .await
        .unwrap();
    assert!(answer.json::<Value>().unwrap()["media_id"].is_string());
}
