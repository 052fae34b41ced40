//! APIv2 callbacks: payment notifications (sign), refund notifications (req_info), replies.

mod support;

use support::judge_v2::{signed_xml, xml};
use wechatpay::crypto::{aes_256_ecb_encrypt, base64_encode, hex_lower, md5};
use wechatpay::v2::{Secret, decrypt_req_info, reply, verify_callback};
use wechatpay::{Client, ErrorKind, VerificationFailure};

/// The merchant's APIv2 secret: callbacks are signed (and refund details encrypted) with it.
/// They are checked locally, so it is this file's own, not the sandbox's.
const SECRET: &str = "192006250b4c09247ec02edce69f6a2d";

fn client() -> Client {
    Client::builder()
        .mchid("1900000109")
        .secret(SECRET)
        .build()
        .unwrap()
}

fn secret() -> Secret {
    Secret::new(SECRET).unwrap()
}

fn payment_notification(hmac: bool) -> Vec<u8> {
    let mut fields = vec![
        ("appid", "wx2421b1c4370ec43b"),
        ("bank_type", "CFT"),
        ("mch_id", "1900000109"),
        ("nonce_str", "5d2b6c2a8db53831f7eda20af46e531c"),
        ("openid", "oUpF8uMEb4qRXf22hE3X68TekukE"),
        ("out_trade_no", "1409811653"),
        ("result_code", "SUCCESS"),
        ("return_code", "SUCCESS"),
        ("total_fee", "1"),
        ("transaction_id", "1004400740201409030005092168"),
    ];
    if hmac {
        fields.push(("sign_type", "HMAC-SHA256"));
    }
    signed_xml(&fields, SECRET, hmac)
}

#[test]
fn payment_notifications_are_verified_md5_and_hmac() {
    for hmac in [false, true] {
        let body = payment_notification(hmac);
        let fields = verify_callback(&body, &secret()).unwrap();
        assert_eq!(fields["transaction_id"], "1004400740201409030005092168");
        assert_eq!(client().verify_v2_callback(&body).unwrap(), fields);
    }
}

#[test]
fn forged_unsigned_or_broken_notifications_are_refused() {
    let body = String::from_utf8(payment_notification(false)).unwrap();
    let forged = body.replace("<total_fee><![CDATA[1]]>", "<total_fee><![CDATA[100]]>");
    assert_ne!(forged, body);
    let err = verify_callback(forged.as_bytes(), &secret()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification);
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::BadSign("MD5"))
    );

    let unsigned = xml(&[("return_code", "SUCCESS"), ("out_trade_no", "1")]);
    assert_eq!(
        verify_callback(&unsigned, &secret())
            .unwrap_err()
            .verification(),
        Some(&VerificationFailure::MissingSign)
    );
    let other = Secret::new("00000000000000000000000000000000").unwrap();
    assert_eq!(
        verify_callback(body.as_bytes(), &other).unwrap_err().kind(),
        ErrorKind::Verification
    );
    for broken in [&b"{}"[..], b"<xml>", b"<!DOCTYPE x><xml/>"] {
        assert_eq!(
            verify_callback(broken, &secret()).unwrap_err().kind(),
            ErrorKind::Decode
        );
    }
}

fn refund_notification(plain: &str, key: &str) -> Vec<u8> {
    let key = hex_lower(&md5(key.as_bytes()).unwrap());
    let req_info = base64_encode(&aes_256_ecb_encrypt(key.as_bytes(), plain.as_bytes()).unwrap());
    xml(&[
        ("return_code", "SUCCESS"),
        ("appid", "wx2421b1c4370ec43b"),
        ("mch_id", "1900000109"),
        ("nonce_str", "TeqClE3i0mvn3DrK"),
        ("req_info", &req_info),
    ])
}

const REFUND: &str = "<root>\n<out_refund_no><![CDATA[131811191610442717309]]></out_refund_no>\n<out_trade_no><![CDATA[71106718111915575302817]]></out_trade_no>\n<refund_account><![CDATA[REFUND_SOURCE_RECHARGE_FUNDS]]></refund_account>\n<refund_fee><![CDATA[3960]]></refund_fee>\n<refund_status><![CDATA[SUCCESS]]></refund_status>\n<success_time><![CDATA[2018-11-19 16:24:13]]></success_time>\n</root>";

#[test]
fn refund_req_info_is_decrypted_with_the_md5_of_the_secret() {
    let body = refund_notification(REFUND, SECRET);
    let refund = client().decrypt_v2_refund_callback(&body).unwrap();
    assert_eq!(refund["out_refund_no"], "131811191610442717309");
    assert_eq!(refund["refund_fee"], "3960");
    assert_eq!(refund["refund_status"], "SUCCESS");

    // The key is md5(secret) as 32 lowercase hex characters: check it independently.
    let key = openssl::hash::hash(openssl::hash::MessageDigest::md5(), SECRET.as_bytes()).unwrap();
    let key: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let cipher = openssl::symm::encrypt(
        openssl::symm::Cipher::aes_256_ecb(),
        key.as_bytes(),
        None,
        REFUND.as_bytes(),
    )
    .unwrap();
    let refund = decrypt_req_info(&base64_encode(&cipher), &secret()).unwrap();
    assert_eq!(refund["out_trade_no"], "71106718111915575302817");
}

#[test]
fn refund_callbacks_that_do_not_decrypt_are_refused() {
    // Encrypted under another merchant's secret: bad padding (Crypto) or garbage (Decode).
    let body = refund_notification(REFUND, "ffffffffffffffffffffffffffffffff");
    let err = client().decrypt_v2_refund_callback(&body).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Crypto | ErrorKind::Decode),
        "{err}"
    );
    let err = decrypt_req_info("not base64!", &secret()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    let err = decrypt_req_info(&base64_encode(b"short"), &secret()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Crypto);

    let failed = xml(&[("return_code", "FAIL"), ("return_msg", "x")]);
    let err = client().decrypt_v2_refund_callback(&failed).unwrap_err();
    assert!(err.to_string().contains("return_code"), "{err}");
    let no_info = xml(&[("return_code", "SUCCESS")]);
    let err = client().decrypt_v2_refund_callback(&no_info).unwrap_err();
    assert!(err.to_string().contains("req_info"), "{err}");
}

#[test]
fn replies_are_what_wechat_pay_expects() {
    let ok = reply(Ok(()));
    assert_eq!(
        support::parse_flat_xml(&ok).unwrap(),
        vec![
            ("return_code".to_owned(), "SUCCESS".to_owned()),
            ("return_msg".to_owned(), "OK".to_owned())
        ]
    );
    let fail = reply(Err("bad ]]> <order>\u{1}"));
    assert_eq!(
        support::parse_flat_xml(&fail).unwrap(),
        vec![
            ("return_code".to_owned(), "FAIL".to_owned()),
            ("return_msg".to_owned(), "bad ]]> <order>".to_owned())
        ]
    );
}

#[test]
fn callbacks_need_the_secret() {
    let v3_only = support::identity().build().unwrap();
    let err = v3_only
        .verify_v2_callback(&payment_notification(false))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains(".secret("), "{err}");
}
