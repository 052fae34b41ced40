//! The APIv2 XML reader on hostile and broken input: typed errors, no panic, no expansion.

mod support;

use serde_json::json;
use support::keys;
use support::scripted::V2Server;
use wechatpay::v2::{MAX_DEPTH, XmlError, parse_xml};
use wechatpay::{Client, ErrorKind};
use wechatpay_sandbox::{Answer, V2SignType};

const XXE: &str = r#"<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><return_code>SUCCESS</return_code><data>&xxe;</data></xml>"#;

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<xml><a>&lol9;</a></xml>"#;

#[test]
fn dtds_are_refused_so_nothing_is_ever_expanded() {
    assert_eq!(parse_xml(XXE.as_bytes()), Err(XmlError::Dtd));
    assert_eq!(parse_xml(BILLION_LAUGHS.as_bytes()), Err(XmlError::Dtd));
    // An entity used without any DTD is undefined, not looked up anywhere.
    assert_eq!(
        parse_xml(b"<xml><a>&xxe;</a></xml>"),
        Err(XmlError::UndefinedEntity("xxe".into()))
    );
    // A DOCTYPE after the root is refused too.
    assert!(parse_xml(b"<xml/><!DOCTYPE x>").is_err());
}

#[test]
fn broken_documents_are_typed_errors() {
    assert_eq!(parse_xml(b""), Err(XmlError::Empty));
    assert_eq!(parse_xml(b"   \n"), Err(XmlError::Empty));
    assert_eq!(parse_xml(b"<!-- only a comment -->"), Err(XmlError::Empty));
    assert_eq!(parse_xml(b"not xml"), Err(XmlError::OutsideRoot));
    assert_eq!(
        parse_xml(b"<xml><return_code>SUCCESS</return_code>"),
        Err(XmlError::Truncated("xml".into()))
    );
    assert_eq!(
        parse_xml(b"<xml><a>1</a></xml><xml/>"),
        Err(XmlError::OutsideRoot)
    );
    assert_eq!(parse_xml(b"<xml>text</xml>"), Err(XmlError::TextRoot));
    assert_eq!(parse_xml(b"<xml>\xff</xml>"), Err(XmlError::NotUtf8(5)));
    for malformed in [
        &b"<xml><a>1</b></xml>"[..],
        b"<xml><a",
        b"<xml><![CDATA[x</xml>",
        b"<xml>&#xD800;</xml>",
    ] {
        match parse_xml(malformed) {
            Err(XmlError::Malformed { .. } | XmlError::Truncated(_)) => {}
            other => panic!("{}: {other:?}", String::from_utf8_lossy(malformed)),
        }
    }
}

#[test]
fn nesting_is_bounded_without_recursion() {
    let deep = |levels: usize| {
        let mut doc = String::new();
        for _ in 0..levels {
            doc.push_str("<a>");
        }
        for _ in 0..levels {
            doc.push_str("</a>");
        }
        doc
    };
    assert!(parse_xml(deep(MAX_DEPTH).as_bytes()).is_ok());
    assert_eq!(
        parse_xml(deep(MAX_DEPTH + 1).as_bytes()),
        Err(XmlError::TooDeep)
    );
    // A million levels: refused at level MAX_DEPTH + 1, in constant stack.
    assert_eq!(
        parse_xml(deep(1_000_000).as_bytes()),
        Err(XmlError::TooDeep)
    );
}

#[test]
fn large_flat_documents_parse_in_proportion() {
    let mut doc = String::from("<xml>");
    for i in 0..100_000 {
        doc.push_str(&format!("<f{i}>{i}</f{i}>"));
    }
    doc.push_str("</xml>");
    let map = parse_xml(doc.as_bytes()).unwrap();
    assert_eq!(map.len(), 100_000);
    assert_eq!(map["f99999"], "99999");
}

#[test]
fn php_compatible_cleanup() {
    // A UTF-8 BOM, an XML declaration, white space, comments and attributes are tolerated;
    // characters XML forbids are stripped, as wechatpay-php's sanitize does.
    let doc = "\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xml>\n <a id=\"1\">x\u{0}y\u{B}z</a>\n <!-- c -->\n <b>&amp;&#38;&#x26;&quot;&apos;</b>\n</xml>";
    let map = parse_xml(doc.as_bytes()).unwrap();
    assert_eq!(
        serde_json::Value::Object(map),
        json!({ "a": "xyz", "b": "&&&\"'" })
    );
}

#[test]
fn hostile_answers_over_http_are_decode_errors() {
    for body in [XXE, BILLION_LAUGHS, "<xml><return_code>SUCC"] {
        let server = V2Server::start(move |_| Answer::raw(200, "text/xml", body.as_bytes()));
        let client = Client::builder()
            .mchid("1900000109")
            .secret(&keys().apiv2_secret)
            .base_uri(server.base_uri())
            .allow_insecure_http(true)
            .build()
            .unwrap();
        let err = client["v2/pay/orderquery"]
            .post(json!({ "xml": { "mch_id": "1900000109", "out_trade_no": "1" } }))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
        // Unsigned endpoints return unparseable bodies as they are, never expanded.
        let answer = client["v2/pay/downloadbill"]
            .post(json!({ "xml": { "mch_id": "1900000109" } }))
            .unwrap();
        assert_eq!(answer.bytes().as_ref(), body.as_bytes());
        assert_eq!(answer.xml().unwrap_err().kind(), ErrorKind::Decode);
        assert_eq!(
            answer.xml_as::<serde_json::Value>().unwrap_err().kind(),
            ErrorKind::Decode
        );
    }
}

#[test]
fn xml_as_names_the_field_that_does_not_fit() {
    let server = V2Server::start(|_| {
        Answer::v2_signed(
            &[
                ("return_code", "SUCCESS"),
                ("result_code", "SUCCESS"),
                ("total_fee", "abc"),
            ],
            V2SignType::Md5,
        )
    });
    let client = Client::builder()
        .mchid("1900000109")
        .secret(&keys().apiv2_secret)
        .base_uri(server.base_uri())
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let answer = client["v2/pay/orderquery"]
        .post(json!({ "xml": { "mch_id": "1900000109" } }))
        .unwrap();
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Order {
        total_fee: u64,
    }
    let err = answer.xml_as::<Order>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(err.json_path(), Some("total_fee"), "{err}");
}
