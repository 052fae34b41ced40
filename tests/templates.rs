//! Template values through the whole client: encoded exactly once, never changing the path,
//! the signed target equal to the one the server received; bad templates refused before
//! anything is sent.

mod support;

use serde_json::{Value, json};
use support::scripted::TestServer;
use wechatpay::ErrorKind;
use wechatpay::template::TemplateError;
use wechatpay_sandbox::Answer;

const COMPLAINT: &str = "v3/merchant-service/complaints-v2/{complaint_id}/response";

fn server() -> TestServer {
    TestServer::start(|_| Answer::no_content())
}

/// Sends one POST with `complaint_id` = `value`; returns the raw target the server received,
/// after checking that the server verified the signature over exactly that target.
fn sent_target(server: &TestServer, client: &wechatpay::Client, value: Value) -> String {
    client
        .chain(COMPLAINT)
        .post(json!({ "complaint_id": value, "json": {} }))
        .unwrap();
    let r = server.last();
    let auth = r.auth_ok();
    assert!(
        auth.message
            .starts_with(format!("POST\n{}\n", r.target).as_bytes())
    );
    r.logged.target
}

#[test]
fn hostile_values_stay_inside_their_segment() {
    let s = server();
    let client = support::client(&s);
    let cases = [
        ("../../v3/pay", "..%2F..%2Fv3%2Fpay"),
        ("a/b", "a%2Fb"),
        ("a?b=c", "a%3Fb%3Dc"),
        ("a#b", "a%23b"),
        ("50%", "50%25"),
        ("%41", "%2541"),
        ("a b", "a%20b"),
        ("a\r\nX-Injected: 1", "a%0D%0AX-Injected%3A%201"),
        ("已与", "%E5%B7%B2%E4%B8%8E"),
        ("...", "..."),
        ("%2e%2E", "%252e%252E"),
        ("..a", "..a"),
    ];
    for (value, encoded) in cases {
        assert_eq!(
            sent_target(&s, &client, json!(value)),
            format!("/v3/merchant-service/complaints-v2/{encoded}/response"),
            "value {value:?}"
        );
    }
    // Numbers are values too.
    assert_eq!(
        sent_target(&s, &client, json!(2002)),
        "/v3/merchant-service/complaints-v2/2002/response"
    );
}

fn template_error(template: &str, opts: Value) -> wechatpay::Error {
    let s = server();
    let client = support::client(&s);
    let err = client.chain(template).post(opts).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Template, "{err}");
    assert!(s.requests().is_empty(), "nothing may be sent");
    err
}

#[test]
fn a_missing_path_value_is_named() {
    let err = template_error(COMPLAINT, json!({ "json": {} }));
    assert_eq!(
        err.template(),
        Some(&TemplateError::Missing {
            name: "complaint_id".into()
        })
    );
    assert!(err.to_string().contains("`complaint_id`"), "{err}");

    let err = template_error(COMPLAINT, json!({ "complaint_id": null }));
    assert_eq!(
        err.template(),
        Some(&TemplateError::Missing {
            name: "complaint_id".into()
        })
    );

    let err = template_error(COMPLAINT, json!({ "complaint_id": "" }));
    assert_eq!(
        err.template(),
        Some(&TemplateError::Empty {
            name: "complaint_id".into()
        })
    );

    for template in ["v3/{+p}", "v3/x{/p}", "v3/x{.p}", "v3/x{;p}"] {
        let err = template_error(template, json!({}));
        assert_eq!(
            err.template(),
            Some(&TemplateError::Missing { name: "p".into() }),
            "{template}"
        );
    }
}

#[test]
fn query_placeholders_may_be_absent() {
    let s = server();
    let client = support::client(&s);
    client
        .chain("v3/bills{?date,type}{&extra}")
        .get(())
        .unwrap();
    assert_eq!(s.last().target, "/v3/bills");
    client
        .chain("v3/bills{?date,type}{&extra}")
        .get(json!({ "type": "ALL", "extra": "x y" }))
        .unwrap();
    assert_eq!(s.last().target, "/v3/bills?type=ALL&extra=x%20y");
}

#[test]
fn an_empty_query_sends_no_question_mark() {
    let s = server();
    let client = support::client(&s);
    for opts in [
        json!({ "query": {} }),
        json!({ "query": "" }),
        json!({ "query": { "skip": null } }),
    ] {
        client.chain("v3/bills").get(opts).unwrap();
        assert_eq!(s.last().target, "/v3/bills");
        s.last().auth_ok();
    }
}

#[test]
fn an_empty_member_of_a_path_list_is_named() {
    let err = template_error("v3/{ids}/x", json!({ "ids": ["a", ""] }));
    assert_eq!(
        err.template(),
        Some(&TemplateError::Empty { name: "ids".into() })
    );
}

#[test]
fn dot_segments_are_refused_and_named() {
    for value in ["..", "."] {
        let err = template_error(COMPLAINT, json!({ "complaint_id": value }));
        assert!(
            err.to_string().contains("template variable `complaint_id`"),
            "{value}: {err}"
        );
    }
    // Reserved expansion can make segments: a dot segment is refused there too.
    for value in ["a/../b", "%2e%2E", ".%2e"] {
        let err = template_error("v3/{+path}/x", json!({ "path": value }));
        assert!(err.to_string().contains("`path`"), "{value}: {err}");
    }
}

#[test]
fn reserved_expansion_keeps_pct_triplets() {
    let s = server();
    let client = support::client(&s);
    client
        .chain("v3/merchant-service/images/{+media_id}")
        .get(json!({ "media_id": "ChsyMDIw%3D%3D" }))
        .unwrap();
    assert_eq!(
        s.last().target,
        "/v3/merchant-service/images/ChsyMDIw%3D%3D"
    );
}

#[test]
fn syntax_errors_are_template_errors() {
    let err = template_error("v3/{complaint_id", json!({ "complaint_id": "1" }));
    assert!(
        matches!(err.template(), Some(TemplateError::Syntax { .. })),
        "{err:?}"
    );
    // A camelCase placeholder written inside a chain key is normalised like any key (as in PHP),
    // which makes an invalid variable name: the error says where.
    let err = template_error(
        "v3/pay/transactions/id/{transactionId}",
        json!({ "transactionId": "1" }),
    );
    assert!(err.to_string().contains("{transaction-id}"), "{err}");
}

#[test]
fn fragments_are_refused() {
    let err = template_error("v3/x{#frag}", json!({ "frag": "a" }));
    assert_eq!(
        err.template(),
        Some(&TemplateError::Fragment {
            template: "v3/x{#frag}".into()
        })
    );
    assert!(err.to_string().contains("fragment"), "{err}");
}

#[test]
fn a_target_url_normalisation_would_change_is_refused() {
    // `'` is a reserved character that `{+v}` keeps, but URL parsers encode it in a query:
    // what would be sent is not what was expanded (and would be signed).
    let err = template_error("v3/x?a={+v}", json!({ "v": "it's" }));
    assert_eq!(
        err.template(),
        Some(&TemplateError::Rewritten {
            expanded: "/v3/x?a=it's".into(),
            sent: "/v3/x?a=it%27s".into()
        })
    );
}

#[test]
fn apiv2_paths_on_a_client_without_the_apiv2_secret_are_a_config_error() {
    let s = server();
    let client = support::client(&s);
    for template in ["v2/pay/micropay", "V2/pay/micropay", "{ver}/pay/micropay"] {
        let err = client
            .chain(template)
            .post(json!({ "ver": "v2" }))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{template}");
        assert!(err.to_string().contains("APIv2"), "{err}");
    }
    assert!(s.requests().is_empty());
}

#[test]
fn a_leading_slash_is_tolerated() {
    let s = server();
    let client = support::client(&s);
    client.chain("/v3/certificates").get(()).unwrap();
    assert_eq!(s.last().target, "/v3/certificates");
}

#[test]
fn options_of_the_wrong_type_are_config_errors_naming_the_key() {
    let s = server();
    let client = support::client(&s);
    for (opts, key) in [
        (json!({ "query": 1 }), "`query`"),
        (json!({ "headers": { "X": 1 } }), "`headers.X`"),
        (json!({ "base_uri": "ftp://x/" }), "`base_uri`"),
        (json!({ "timeout": "soon" }), "`timeout`"),
        (json!(["not", "an", "object"]), "JSON object"),
    ] {
        let err = client.chain("v3/x").get(opts).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains(key), "{err}");
    }
    assert!(s.requests().is_empty());
}
