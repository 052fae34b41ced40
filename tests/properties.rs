//! Property tests (proptest) of the invariants the crate promises:
//!
//! 1. no simple-expansion (`{var}`) value can change the path structure or leave its segment,
//!    in the template processor and in a prepared request;
//! 2. `normalize` is idempotent on its own output;
//! 3. RSA-SHA256 sign -> verify round trips, and any one flipped bit fails it;
//! 4. any one flipped bit in an AES-256-GCM callback (ciphertext, tag, nonce, associated data)
//!    is refused with a `Crypto` error, directly and through `NotificationParser::parse`;
//! 5. APIv2 payloads written as XML (or as a GET query) parse back to the same fields, and
//!    their `sign` verifies;
//! 6. an APIv2 answer regrouped so that its `sign` still matches (`result_code` folded into the
//!    value before it, or a field under a name that is not letters, digits and `_`) is refused,
//!    and no regrouping of a signed failure's signing string verifies as a success.
//!
//! RSA keys are generated once per binary. Failures are not persisted to disk (no
//! `proptest-regressions/` files): proptest prints the minimal counterexample instead.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use http::{HeaderMap, HeaderValue};
use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::{Map, Value, json};
use wechatpay::crypto::{
    Apiv3Key, PrivateKey, PublicKey, aes_256_gcm_decrypt, aes_256_gcm_encrypt, base64_encode,
};
use wechatpay::notify::NotificationParser;
use wechatpay::template::{TemplateError, UriTemplate};
use wechatpay::verifier::PlatformVerifier;
use wechatpay::{Client, ErrorKind, Method, normalize};

// ---------------------------------------------------------------------------------------------
// Shared fixtures
// ---------------------------------------------------------------------------------------------

/// `cases` cases, no failure files written next to the sources.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

struct Keys {
    private: PrivateKey,
    public: PublicKey,
    /// An unrelated key pair's public half.
    other_public: PublicKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let generate = || {
            let pem = openssl::rsa::Rsa::generate(2048)
                .and_then(|k| k.private_key_to_pem())
                .expect("generate RSA-2048");
            PrivateKey::load(pem).expect("fresh key loads")
        };
        let private = generate();
        let public = private.public_key().expect("public half");
        let other_public = generate().public_key().expect("public half");
        Keys {
            private,
            public,
            other_public,
        }
    })
}

/// AES-256-GCM's tag, as WeChat Pay uses it: 16 bytes after the ciphertext.
const GCM_TAG_LEN: usize = 16;

/// The offline client (throwaway keys, base URI `http://127.0.0.1:9/`), built once.
fn offline_client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(support::offline_client)
}

const V2_MCHID: &str = "1900000109";
const V2_SECRET: &str = "192006250b4c09247ec02edce69f6a2d";

/// An APIv2-only client (nothing is ever sent: only `prepare` is used).
fn v2_client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        Client::builder()
            .mchid(V2_MCHID)
            .secret(V2_SECRET)
            .build()
            .expect("APIv2 client builds")
    })
}

fn flip(bytes: &mut [u8], index: &Index, bit: u8) {
    let i = index.index(bytes.len());
    bytes[i] ^= 1 << (bit % 8);
}

// ---------------------------------------------------------------------------------------------
// 1. Template values cannot change the path
// ---------------------------------------------------------------------------------------------

/// Strings that try hard to escape a path segment, mixed with arbitrary Unicode.
fn nasty_string() -> impl Strategy<Value = String> {
    let specials = prop::sample::select(vec![
        ".", "..", "...", "./", "../", "/..", "/.", "a/../b", "%2e", "%2E%2e", ".%2e", "?", "#",
        "%", "%25", "%zz", "%2F", "/", "//", " ", "+", "\u{0}", "\r\n", "\\", "已与", "🙂", "v2",
        "V2", "v2/", "{x}", "=", "&", ";",
    ])
    .prop_map(String::from);
    let pieces = prop::collection::vec(
        prop::sample::select(vec![
            ".", "/", "%", "?", "#", "2e", "2F", "a", "é", "\\", "~", "-", "_",
        ]),
        0..8,
    )
    .prop_map(|v| v.concat());
    prop_oneof![
        3 => any::<String>(),
        2 => specials,
        2 => pieces,
        1 => "[./?#%a-zA-Z0-9 ~_\\-:@!$&'()*+,;=\\[\\]]{0,12}",
    ]
}

/// One `/`-separated segment of a test template: literal text, or `prefix{var}suffix`.
#[derive(Debug)]
enum Segment<'t> {
    Literal(&'t str),
    Var {
        prefix: &'t str,
        name: &'t str,
        suffix: &'t str,
    },
}

fn segments(template: &str) -> Vec<Segment<'_>> {
    template
        .split('/')
        .map(|s| match (s.find('{'), s.find('}')) {
            (Some(open), Some(close)) => Segment::Var {
                prefix: &s[..open],
                name: &s[open + 1..close],
                suffix: &s[close + 1..],
            },
            _ => Segment::Literal(s),
        })
        .collect()
}

/// Checks `expanded` (a path, no leading `/`) against the template's segments: same count,
/// literals unchanged, every value in its own segment, made only of unreserved characters and
/// `%XX` triplets (upper-case hex), and decoding back to the value.
fn check_segments(
    template: &str,
    vars: &Map<String, Value>,
    expanded: &str,
) -> Result<(), TestCaseError> {
    let want = segments(template);
    let got: Vec<&str> = expanded.split('/').collect();
    prop_assert_eq!(
        got.len(),
        want.len(),
        "segment count of {:?} (template {:?})",
        expanded,
        template
    );
    for (segment, got) in want.iter().zip(&got) {
        match segment {
            Segment::Literal(text) => prop_assert_eq!(got, text),
            Segment::Var {
                prefix,
                name,
                suffix,
            } => {
                let value = vars[*name].as_str().expect("string values");
                prop_assert!(
                    got.starts_with(prefix) && got.ends_with(suffix),
                    "{:?}",
                    got
                );
                let encoded = &got[prefix.len()..got.len() - suffix.len()];
                prop_assert!(!encoded.contains(['/', '?', '#']), "{:?}", encoded);
                let bytes = encoded.as_bytes();
                let mut i = 0;
                while i < bytes.len() {
                    let b = bytes[i];
                    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                        i += 1;
                    } else {
                        prop_assert_eq!(b, b'%', "unencoded byte in {:?}", encoded);
                        let hex = &bytes[i + 1..i + 3];
                        prop_assert!(
                            hex.iter()
                                .all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(h)),
                            "bad triplet in {:?}",
                            encoded
                        );
                        i += 3;
                    }
                }
                let decoded = percent_decode_str(encoded).decode_utf8();
                prop_assert!(decoded.is_ok(), "{:?} does not decode", encoded);
                let decoded = decoded.unwrap();
                prop_assert_eq!(decoded.as_ref(), value);
            }
        }
    }
    Ok(())
}

const TEMPLATES: [&str; 6] = [
    "v3/pay/transactions/id/{id}/x",
    "{id}",
    "v3/{id}",
    "{id}/tail",
    "v3/files/{id}.json/{other}",
    "v3/a/{id}/b/{other}/c",
];

fn is_dot_segment(segment: &str) -> bool {
    segment == "." || segment == ".."
}

proptest! {
    #![proptest_config(config(512))]

    /// The template processor alone: any string values, simple expansion.
    #[test]
    fn simple_expansion_keeps_every_value_in_its_segment(
        which in 0..TEMPLATES.len(),
        id in nasty_string(),
        other in nasty_string(),
    ) {
        let source = TEMPLATES[which];
        let template = UriTemplate::parse(source).unwrap();
        let vars = json!({ "id": id, "other": other });
        let vars = vars.as_object().unwrap();
        let expanded = template.expand(vars).unwrap();
        check_segments(source, vars, &expanded)?;

        // Strict expansion: the same text, or `Empty` for an empty value.
        match template.expand_strict(vars) {
            Ok(strict) => prop_assert_eq!(strict, expanded),
            Err(TemplateError::Empty { name }) => {
                prop_assert!(vars[name.as_str()] == "", "{}", name);
            }
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    /// The same through a client: `prepare` either refuses a dot segment (or an empty value)
    /// with a `Template` error, or sends exactly the expanded path, with no query or fragment.
    #[test]
    fn prepared_url_keeps_every_value_in_its_segment(
        which in 0..TEMPLATES.len(),
        id in nasty_string(),
        other in nasty_string(),
    ) {
        let source = TEMPLATES[which];
        let vars = json!({ "id": id, "other": other });
        let vars_map = vars.as_object().unwrap().clone();
        let expanded = UriTemplate::parse(source).unwrap().expand(&vars_map).unwrap();
        let endpoint = offline_client().chain(source);
        let result = endpoint.prepare(Method::GET, vars);

        let empty = id.is_empty() || (source.contains("{other}") && other.is_empty());
        let dot = expanded.split('/').any(is_dot_segment);
        // Documented: a path that starts with `v2/` (any case) after expansion is APIv2, which
        // the offline client is not configured for.
        let apiv2 = expanded.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("v2/"));
        match result {
            Err(e) if empty || dot => {
                prop_assert_eq!(e.kind(), ErrorKind::Template, "{}", e);
                if !empty {
                    let is_dot_error = matches!(e.template(), Some(TemplateError::DotSegment { .. }));
                    prop_assert!(is_dot_error, "{:?}", e);
                }
            }
            Err(e) if apiv2 => prop_assert_eq!(e.kind(), ErrorKind::Config, "{}", e),
            Err(e) => prop_assert!(false, "{:?} refused: {}", expanded, e),
            Ok(prepared) => {
                prop_assert!(!empty && !dot && !apiv2, "accepted {:?}", expanded);
                let url = prepared.url();
                prop_assert_eq!(url.query(), None);
                prop_assert_eq!(url.fragment(), None);
                prop_assert_eq!(prepared.target(), format!("/{expanded}"));
                let path = url.path().strip_prefix('/').unwrap();
                check_segments(source, &vars_map, path)?;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. normalize
// ---------------------------------------------------------------------------------------------

fn key_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z_][A-Za-z0-9_]{0,20}",
        "_[A-Za-z0-9_]{0,12}_",
        "[A-Za-z0-9_/{}\\-]{0,24}",
        any::<String>(),
        // Non-ASCII capitals (untouched: only ASCII capitals are rules 1 and 2).
        "[ÀÉÖΣДa-zA-Z_]{0,10}",
    ]
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn normalize_is_idempotent(key in key_like()) {
        let once = normalize(&key);
        prop_assert_eq!(normalize(&once), once.clone(), "key {:?}", key);
        // Its output has no ASCII capital, and a key with none that is not `_x_` is unchanged.
        prop_assert!(!once.bytes().any(|b| b.is_ascii_uppercase()), "{:?}", once);
        let placeholder = key.len() >= 2 && key.starts_with('_') && key.ends_with('_');
        if !key.bytes().any(|b| b.is_ascii_uppercase()) && !placeholder {
            prop_assert_eq!(once, key);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. RSA-SHA256 sign -> verify
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn rsa_sha256_round_trips_and_any_flipped_bit_fails(
        message in prop::collection::vec(any::<u8>(), 0..2048),
        message_index in any::<Index>(),
        signature_index in any::<Index>(),
        bit in 0u8..8,
    ) {
        let keys = keys();
        let signature = keys.private.sign_sha256(&message).unwrap();
        prop_assert_eq!(signature.len(), 256);
        prop_assert!(keys.public.verify_sha256(&message, &signature));
        prop_assert!(!keys.other_public.verify_sha256(&message, &signature));

        let mut bad_signature = signature.clone();
        flip(&mut bad_signature, &signature_index, bit);
        prop_assert!(!keys.public.verify_sha256(&message, &bad_signature));

        if !message.is_empty() {
            let mut bad_message = message.clone();
            flip(&mut bad_message, &message_index, bit);
            prop_assert!(!keys.public.verify_sha256(&bad_message, &signature));
        }
        // Truncated or extended signatures fail too.
        prop_assert!(!keys.public.verify_sha256(&message, &signature[..255]));
        let mut longer = signature.clone();
        longer.push(0);
        prop_assert!(!keys.public.verify_sha256(&message, &longer));
    }
}

// ---------------------------------------------------------------------------------------------
// 4. AES-256-GCM callbacks: any flipped bit is refused
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Part {
    /// Anywhere in `ciphertext || tag`.
    Sealed,
    /// In the 16-byte tag.
    Tag,
    Nonce,
    Aad,
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        Just(Part::Sealed),
        Just(Part::Tag),
        Just(Part::Nonce),
        Just(Part::Aad)
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn gcm_refuses_any_flipped_bit(
        key in any::<[u8; 32]>(),
        nonce in prop::collection::vec(any::<u8>(), 1..=32),
        aad in prop::collection::vec(any::<u8>(), 1..64),
        plaintext in prop::collection::vec(any::<u8>(), 0..256),
        target in part(),
        index in any::<Index>(),
        bit in 0u8..8,
    ) {
        let apiv3 = Apiv3Key::new(key).unwrap();
        let sealed = apiv3.encrypt(&nonce, &aad, &plaintext).unwrap();
        prop_assert_eq!(sealed.len(), plaintext.len() + GCM_TAG_LEN);
        prop_assert_eq!(&aes_256_gcm_encrypt(&key, &nonce, &aad, &plaintext).unwrap(), &sealed);
        prop_assert_eq!(&apiv3.decrypt(&nonce, &aad, &sealed).unwrap(), &plaintext);

        let (mut sealed2, mut nonce2, mut aad2) = (sealed.clone(), nonce.clone(), aad.clone());
        match target {
            Part::Sealed => flip(&mut sealed2, &index, bit),
            Part::Tag => {
                let tag_start = sealed2.len() - GCM_TAG_LEN;
                flip(&mut sealed2[tag_start..], &index, bit);
            }
            Part::Nonce => flip(&mut nonce2, &index, bit),
            Part::Aad => flip(&mut aad2, &index, bit),
        }
        let err = apiv3.decrypt(&nonce2, &aad2, &sealed2).unwrap_err();
        prop_assert_eq!(err.kind(), ErrorKind::Crypto, "{}", err);
        let err = aes_256_gcm_decrypt(&key, &nonce2, &aad2, &sealed2).unwrap_err();
        prop_assert_eq!(err.kind(), ErrorKind::Crypto, "{}", err);
    }
}

const PLATFORM_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";
const APIV3_KEY: &str = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";

fn notification_parser() -> &'static NotificationParser {
    static PARSER: OnceLock<NotificationParser> = OnceLock::new();
    PARSER.get_or_init(|| {
        let mut verifier = PlatformVerifier::new();
        verifier.insert(PLATFORM_ID, keys().public.clone());
        NotificationParser::with_shared_verifier(APIV3_KEY, Arc::new(verifier)).unwrap()
    })
}

/// A callback envelope carrying `sealed` under `nonce`/`aad`, correctly signed (by the key
/// the parser's verifier holds) over whatever it carries.
fn signed_callback(nonce: &str, aad: Option<&str>, sealed: &[u8]) -> (HeaderMap, Vec<u8>) {
    let mut resource = json!({
        "original_type": "transaction",
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64_encode(sealed),
        "nonce": nonce,
    });
    if let Some(aad) = aad {
        resource["associated_data"] = json!(aad);
    }
    let body = serde_json::to_vec(&json!({
        "id": "EV-2018022511223320873",
        "create_time": "2015-05-20T13:29:35+08:00",
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": resource,
    }))
    .unwrap();
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let header_nonce = wechatpay::crypto::nonce().unwrap();
    let message = wechatpay::signature::response_message(&timestamp, &header_nonce, &body);
    let signature = base64_encode(&keys().private.sign_sha256(&message).unwrap());
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        headers.insert(name, HeaderValue::from_str(value).unwrap());
    };
    set("Wechatpay-Timestamp", &timestamp);
    set("Wechatpay-Nonce", &header_nonce);
    set("Wechatpay-Signature", &signature);
    set("Wechatpay-Serial", PLATFORM_ID);
    set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048");
    (headers, body)
}

/// Flips one of the low 7 bits of an ASCII string (so it stays ASCII, and valid JSON text).
fn flip_ascii(text: &str, index: &Index, bit: u8) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let i = index.index(bytes.len());
    bytes[i] ^= 1 << (bit % 7);
    String::from_utf8(bytes).expect("still ASCII")
}

proptest! {
    #![proptest_config(config(128))]

    /// Through `NotificationParser::parse`, with an envelope re-signed after the change: the
    /// signature checks pass and only the AEAD can catch it.
    #[test]
    fn notification_parser_refuses_any_flipped_bit(
        nonce in "[ -~]{1,32}",
        aad in prop::option::of("[ -~]{1,24}"),
        resource in prop::collection::vec(any::<u8>(), 0..200),
        target in part(),
        index in any::<Index>(),
        bit in 0u8..8,
    ) {
        let parser = notification_parser();
        let aad_bytes = aad.as_deref().unwrap_or("").as_bytes().to_vec();
        let sealed = Apiv3Key::new(APIV3_KEY)
            .unwrap()
            .encrypt(nonce.as_bytes(), &aad_bytes, &resource)
            .unwrap();

        // Untouched: parsed, and the resource is the plaintext.
        let (headers, body) = signed_callback(&nonce, aad.as_deref(), &sealed);
        let notification = parser.parse(&headers, &body).unwrap();
        prop_assert_eq!(notification.resource(), &resource[..]);
        prop_assert_eq!(notification.associated_data(), aad.as_deref().unwrap_or(""));

        let (mut sealed2, mut nonce2, mut aad2) = (sealed.clone(), nonce.clone(), aad.clone());
        match target {
            Part::Sealed => flip(&mut sealed2, &index, bit),
            Part::Tag => {
                let tag_start = sealed2.len() - GCM_TAG_LEN;
                flip(&mut sealed2[tag_start..], &index, bit);
            }
            Part::Nonce => nonce2 = flip_ascii(&nonce, &index, bit),
            Part::Aad => {
                // No associated data to flip: add one byte instead (absent = empty AAD).
                aad2 = Some(match &aad {
                    Some(a) => flip_ascii(a, &index, bit),
                    None => "x".to_owned(),
                });
            }
        }
        let (headers, body) = signed_callback(&nonce2, aad2.as_deref(), &sealed2);
        prop_assert!(parser.verify(&headers, &body).is_ok(), "re-signed envelope verifies");
        let err = parser.parse(&headers, &body).unwrap_err();
        prop_assert_eq!(err.kind(), ErrorKind::Crypto, "{}", err);
    }
}

// ---------------------------------------------------------------------------------------------
// 5. APIv2 XML round trips
// ---------------------------------------------------------------------------------------------

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Text of XML-legal characters without `\r`, heavy on what XML writers get wrong.
fn xml_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => any::<char>().prop_map(String::from),
        3 => prop::sample::select(vec![
            "<", ">", "&", "\"", "'", "]]>", "]]", "]", "<![CDATA[", "\n", "\t", " ", "  ", "&amp;",
            "&#x1;", "&lt;", "<a>", "</xml>", "<!--", "-->", "<?x?>", "\u{FFFD}", "\u{10FFFF}",
            "\u{85}", "\u{2028}", "\u{FEFF}", "已与用户沟通解决",
        ])
        .prop_map(String::from),
        2 => "[a-zA-Z0-9]{1,6}",
    ];
    prop::collection::vec(piece, 0..10).prop_map(|pieces| {
        pieces
            .concat()
            .chars()
            .filter(|&c| is_xml_char(c))
            .collect()
    })
}

/// Names the client checks or fills itself, which the payload strategy leaves out.
const SPECIAL_NAMES: [&str; 6] = [
    "sign",
    "sign_type",
    "nonce_str",
    "mch_id",
    "mchid",
    "combine_mch_id",
];

fn field_name() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,15}".prop_filter("not xml*, not a field the client manages", |n| {
        !n.starts_with("xml") && !SPECIAL_NAMES.contains(&n.as_str())
    })
}

fn payload() -> impl Strategy<
    Value = (
        BTreeMap<String, String>,
        Option<&'static str>,
        Option<String>,
    ),
> {
    (
        prop::collection::btree_map(field_name(), xml_text(), 0..8),
        prop::option::of(prop::sample::select(vec!["MD5", "HMAC-SHA256"])),
        prop::option::of("[A-Za-z0-9]{0,32}"),
    )
}

/// The payload as the `xml` option, and the fields expected back except `nonce_str`/`sign`.
fn xml_option(
    fields: &BTreeMap<String, String>,
    sign_type: Option<&str>,
    nonce_str: Option<&str>,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut xml = Map::new();
    for (k, v) in fields {
        xml.insert(k.clone(), Value::from(v.as_str()));
    }
    xml.insert("mch_id".into(), V2_MCHID.into());
    if let Some(t) = sign_type {
        xml.insert("sign_type".into(), t.into());
    }
    let expected = xml.clone();
    if let Some(n) = nonce_str {
        xml.insert("nonce_str".into(), n.into());
    }
    (xml, expected)
}

/// Parsed fields = expected + `nonce_str` (the given one, or a fresh 32-character one) +
/// a `sign` of the right length that verifies with the secret.
fn check_parsed(
    parsed: &Map<String, Value>,
    expected: &Map<String, Value>,
    sign_type: Option<&str>,
    nonce_str: Option<&str>,
) -> Result<(), TestCaseError> {
    for (k, v) in expected {
        prop_assert_eq!(parsed.get(k), Some(v), "field {}", k);
    }
    prop_assert_eq!(
        parsed.len(),
        expected.len() + 2,
        "{:?}",
        parsed.keys().collect::<Vec<_>>()
    );
    let nonce = parsed["nonce_str"].as_str().unwrap();
    match nonce_str.filter(|n| !n.is_empty()) {
        Some(given) => prop_assert_eq!(nonce, given),
        None => prop_assert!(
            nonce.len() == 32 && nonce.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{:?}",
            nonce
        ),
    }
    let sign = parsed["sign"].as_str().unwrap();
    let want_len = if sign_type == Some("HMAC-SHA256") {
        64
    } else {
        32
    };
    prop_assert_eq!(sign.len(), want_len, "{:?}", sign);
    let secret = wechatpay::v2::Secret::new(V2_SECRET).unwrap();
    let verified = wechatpay::v2::verify(parsed, &secret);
    prop_assert!(verified.is_ok(), "{:?}", verified);
    let wrong = wechatpay::v2::Secret::new("192006250b4c09247ec02edce69f6a2e").unwrap();
    prop_assert!(wechatpay::v2::verify(parsed, &wrong).is_err());
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn apiv2_xml_body_round_trips((fields, sign_type, nonce_str) in payload()) {
        let (xml, expected) = xml_option(&fields, sign_type, nonce_str.as_deref());
        let prepared = v2_client()["v2/pay/orderquery"]
            .prepare(Method::POST, json!({ "xml": xml }))
            .unwrap();
        prop_assert!(prepared.is_apiv2());
        let parsed = wechatpay::v2::parse_xml(prepared.body());
        prop_assert!(
            parsed.is_ok(),
            "{:?} on {:?}",
            parsed,
            String::from_utf8_lossy(prepared.body())
        );
        let parsed = parsed.unwrap();
        check_parsed(&parsed, &expected, sign_type, nonce_str.as_deref())
            .map_err(|e| TestCaseError::fail(format!("{e} in {:?}", String::from_utf8_lossy(prepared.body()))))?;
        // What the client verifies on the way back in accepts it too.
        let secret = wechatpay::v2::Secret::new(V2_SECRET).unwrap();
        prop_assert!(wechatpay::v2::verify_callback(prepared.body(), &secret).is_ok());
    }

    /// The same payload as the query of a GET: percent-decoded, the same fields.
    #[test]
    fn apiv2_get_query_round_trips((fields, sign_type, nonce_str) in payload()) {
        let (xml, expected) = xml_option(&fields, sign_type, nonce_str.as_deref());
        let prepared = v2_client()["v2/pay/orderquery"]
            .prepare(Method::GET, json!({ "xml": xml }))
            .unwrap();
        prop_assert!(prepared.body().is_empty());
        let query = prepared.url().query().unwrap_or("");
        let mut parsed = Map::new();
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap();
            let decode = |s: &str| percent_decode_str(s).decode_utf8().unwrap().into_owned();
            prop_assert!(parsed.insert(decode(k), Value::from(decode(v))).is_none());
        }
        check_parsed(&parsed, &expected, sign_type, nonce_str.as_deref())?;
    }

    /// `v2::reply` writes any message so that it parses back unchanged.
    #[test]
    fn apiv2_reply_round_trips(message in xml_text()) {
        let ok = wechatpay::v2::parse_xml(wechatpay::v2::reply(Ok(())).as_bytes()).unwrap();
        prop_assert_eq!(&ok["return_code"], "SUCCESS");
        let body = wechatpay::v2::reply(Err(&message));
        let parsed = wechatpay::v2::parse_xml(body.as_bytes());
        prop_assert!(parsed.is_ok(), "{:?} on {:?}", parsed, body);
        let parsed = parsed.unwrap();
        prop_assert_eq!(&parsed["return_code"], "FAIL");
        prop_assert_eq!(parsed["return_msg"].as_str(), Some(message.as_str()), "{:?}", body);
        prop_assert_eq!(parsed.len(), 2);
    }
}

/// The signed fields with their `sign`, as `v2::verify` takes them.
fn signed_map(fields: &BTreeMap<String, String>, sign: &str) -> Map<String, Value> {
    let mut map: Map<String, Value> = fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    map.insert("sign".into(), sign.into());
    map
}

fn sign_of(fields: &BTreeMap<String, String>, hmac: bool) -> String {
    let secret = wechatpay::v2::Secret::new(V2_SECRET).unwrap();
    let sign_type = if hmac {
        wechatpay::v2::SignType::HmacSha256
    } else {
        wechatpay::v2::SignType::Md5
    };
    let pairs = fields.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    wechatpay::v2::sign(pairs, &secret, sign_type).unwrap()
}

proptest! {
    #![proptest_config(config(256))]

    /// WeChat Pay signs a business result; a man in the middle folds `result_code` into the
    /// value of the field before it. The signing string, and so the sign, is unchanged; the
    /// regrouped answer is refused, naming that field, and the genuine one verifies.
    #[test]
    fn apiv2_result_code_folded_away_is_refused(
        // Names from `a` to `q` sort before `result_code`: there is always a field before it.
        others in prop::collection::btree_map("[a-q][a-z0-9_]{0,10}", "[A-Za-z0-9 =&._-]{1,12}", 1..6),
        result in prop::sample::select(vec!["FAIL", "SUCCESS"]),
        hmac in any::<bool>(),
    ) {
        let secret = wechatpay::v2::Secret::new(V2_SECRET).unwrap();
        let mut genuine = others;
        genuine.insert("result_code".into(), result.into());
        genuine.insert("return_code".into(), "SUCCESS".into());
        let sign = sign_of(&genuine, hmac);
        prop_assert_eq!(wechatpay::v2::verify(&signed_map(&genuine, &sign), &secret), Ok(()));

        let (before, value) = genuine.range(.."result_code".to_owned()).next_back().unwrap();
        let (before, folded_value) = (before.clone(), format!("{value}&result_code={result}"));
        let mut folded = genuine.clone();
        folded.remove("result_code");
        folded.insert(before.clone(), folded_value);
        prop_assert_eq!(sign_of(&folded, hmac), sign.clone(), "the regrouping keeps the sign");
        match wechatpay::v2::verify(&signed_map(&folded, &sign), &secret) {
            Err(wechatpay::VerificationFailure::AmbiguousField { name, .. }) => {
                prop_assert_eq!(name, before)
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    /// A field whose name is not ASCII letters, digits and `_` (`b:trade_state`, which serde
    /// would read as `trade_state`) is refused even when the sign covers it.
    #[test]
    fn apiv2_names_beyond_letters_digits_and_underscore_are_refused(
        head in "[a-z]{1,6}",
        odd in prop::sample::select(vec![":", "-", ".", "=", "&", " ", "é"]),
        tail in "[a-z_]{1,6}",
        hmac in any::<bool>(),
    ) {
        let secret = wechatpay::v2::Secret::new(V2_SECRET).unwrap();
        let name = format!("{head}{odd}{tail}");
        let fields: BTreeMap<String, String> = [
            ("return_code".to_owned(), "SUCCESS".to_owned()),
            (name.clone(), "SUCCESS".to_owned()),
        ]
        .into();
        let sign = sign_of(&fields, hmac);
        match wechatpay::v2::verify(&signed_map(&fields, &sign), &secret) {
            Err(wechatpay::VerificationFailure::AmbiguousField { name: refused, .. }) => {
                prop_assert_eq!(refused, name)
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}

/// Every reading of a signing string `k=v&k=v...` as fields: any subset of its `&` as field
/// separators, each field split at its first `=` (a name holding `=` is refused anyway).
/// Readings with a part that has no name are left out.
fn regroupings(message: &str) -> Vec<Vec<(String, String)>> {
    let ampersands: Vec<usize> = message.match_indices('&').map(|(i, _)| i).collect();
    let mut readings = Vec::new();
    'mask: for mask in 0u32..(1 << ampersands.len()) {
        let mut starts = vec![0];
        let mut ends = Vec::new();
        for (bit, &at) in ampersands.iter().enumerate() {
            if mask & (1 << bit) != 0 {
                ends.push(at);
                starts.push(at + 1);
            }
        }
        ends.push(message.len());
        let mut fields = Vec::new();
        for (&start, &end) in starts.iter().zip(&ends) {
            match message[start..end].split_once('=') {
                Some((name, value)) if !name.is_empty() => {
                    fields.push((name.to_owned(), value.to_owned()))
                }
                _ => continue 'mask,
            }
        }
        readings.push(fields);
    }
    readings
}

/// Values heavy on `&` and `=`, with planted successes.
fn regroupable_value() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => "[a-z0-9]{1,3}",
        2 => prop::sample::select(vec!["&", "=", "&a=", "&zz=1"]).prop_map(String::from),
        1 => prop::sample::select(vec![
            "&result_code=SUCCESS",
            "&return_code=SUCCESS",
            "&trade_state=SUCCESS",
        ])
        .prop_map(String::from),
    ];
    prop::collection::vec(piece, 1..4).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(config(96))]

    /// A signed business failure, however its signing string is regrouped into fields (every
    /// choice of separators, any names), never verifies as a success: `return_code` SUCCESS
    /// and `result_code` absent or SUCCESS, the client's success rule.
    #[test]
    fn apiv2_no_regrouping_of_a_signed_failure_is_a_success(
        others in prop::collection::btree_map("[a-z][a-z_]{0,7}", regroupable_value(), 1..5),
    ) {
        let secret = wechatpay::v2::Secret::new(V2_SECRET).unwrap();
        let mut genuine = others;
        genuine.insert("result_code".into(), "FAIL".into());
        genuine.insert("return_code".into(), "SUCCESS".into());
        let message = genuine
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        prop_assume!(message.matches('&').count() <= 10);
        let sign = sign_of(&genuine, false);
        for fields in regroupings(&message) {
            let mut map = Map::new();
            for (k, v) in &fields {
                map.insert(k.clone(), Value::from(v.as_str()));
            }
            if map.len() != fields.len() {
                continue; // a name twice: the XML reader makes it an array, refused by verify
            }
            map.insert("sign".into(), sign.clone().into());
            if wechatpay::v2::verify(&map, &secret).is_err() {
                continue;
            }
            let field = |name: &str| map.get(name).and_then(Value::as_str);
            let success = field("return_code") == Some("SUCCESS")
                && matches!(field("result_code"), None | Some("SUCCESS"));
            prop_assert!(!success, "{:?} reads as a verified success", fields);
        }
    }
}
