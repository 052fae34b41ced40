//! The catalogue at run time: every operation found from its template and from a concrete
//! path, misspelt paths answered with the nearest template, bodies checked, examples composed.
#![cfg(feature = "catalogue")]

use serde_json::json;
use wechatpay::Method;
use wechatpay::catalogue::{self, AnswerKind, Api, BodyKind, Host, Location, ProblemKind};

#[test]
fn the_catalogue_holds_every_operation_of_the_dataset() {
    let c = catalogue::get();
    // 1,154 operations in the dataset's index: 1,153 to call, and the callback WeChat Pay sends.
    assert_eq!(c.operations.len(), 1153);
    assert_eq!(c.callbacks.len(), 1);
    assert_eq!(c.callbacks[0].template, "v3/webhooks");
    assert_eq!(
        c.operations.iter().filter(|o| o.api == Api::V3).count(),
        1017
    );
    assert_eq!(
        c.operations.iter().filter(|o| o.api == Api::V2).count(),
        136
    );
    assert!(c.source.iter().any(|s| s.contains("wechatpay-openapi")));
    // Sorted, and unique by (host, method, template).
    let mut keys: Vec<_> = c
        .operations
        .iter()
        .map(|o| {
            (
                format!("{:?}", o.host),
                o.method.to_string(),
                o.template.clone(),
            )
        })
        .collect();
    let before = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), before);
}

#[test]
fn every_template_round_trips_through_the_lookup() {
    let c = catalogue::get();
    let mut failures = Vec::new();
    for op in &c.operations {
        let found = c.find_on(op.host, &op.method, &op.template);
        if !found.is_some_and(|f| std::ptr::eq(f, op)) {
            failures.push(format!("{} ({:?})", op.id(), op.host));
        }
        // The same with every placeholder filled by a value, a leading slash and a query.
        let concrete = op
            .template
            .split('/')
            .map(|s| if s.starts_with('{') { "4200000000" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let found = c.find_on(
            op.host,
            &op.method,
            &format!("/{concrete}?mchid=1900000109"),
        );
        // Two templates may differ only by a placeholder's name (`applyment/{business_code}/
        // cancel` and `applyment/{applyment_id}/cancel`): a concrete path is either; both are
        // found, in the catalogue's order.
        let at = c.at(&format!("/{concrete}"));
        if found.is_none() || !at.iter().any(|f| std::ptr::eq(*f, op)) {
            failures.push(format!("{} from {concrete}", op.id()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed: {failures:#?}",
        failures.len()
    );
}

#[test]
fn literal_segments_win_over_placeholders() {
    let c = catalogue::get();
    // `v3/merchant-service/complaints-v2/{complaint_id}` beside literal children of
    // `complaints-v2`? Find a real pair in the catalogue rather than assume one.
    let mut checked = 0;
    for op in &c.operations {
        let segments: Vec<&str> = op.template.split('/').collect();
        for (i, s) in segments.iter().enumerate() {
            if s.starts_with('{') {
                continue;
            }
            // A sibling template with a placeholder where this one has the literal `s`.
            let sibling = c.operations.iter().find(|o| {
                let t: Vec<&str> = o.template.split('/').collect();
                t.len() == segments.len()
                    && t[i].starts_with('{')
                    && t.iter()
                        .zip(&segments)
                        .enumerate()
                        .all(|(j, (a, b))| j == i || a == b)
            });
            if sibling.is_some() {
                let found = c.find_on(op.host, &op.method, &op.template).unwrap();
                assert_eq!(found.template, op.template);
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "the dataset has literal/placeholder siblings");
}

#[test]
fn one_template_on_two_hosts() {
    let c = catalogue::get();
    let api = c.find(&Method::GET, "v3/certificates").unwrap();
    assert_eq!(api.host, Host::Api);
    let hk = c
        .find_on(Host::Hk, &Method::GET, "v3/certificates")
        .unwrap();
    assert_eq!(hk.host, Host::Hk);
    assert_eq!(
        Host::Hk.base_uri(),
        Some("https://apihk.mch.weixin.qq.com/")
    );
    assert_eq!(c.at("v3/certificates").len(), 2);
}

#[test]
fn the_operations_the_issue_names() {
    let c = catalogue::get();
    let native = c.find(&Method::POST, "v3/pay/transactions/native").unwrap();
    assert_eq!(native.body_kind, BodyKind::Json);
    assert_eq!(native.answer.kind, AnswerKind::Json);
    let body = native.body.as_ref().unwrap();
    for name in [
        "appid",
        "mchid",
        "description",
        "out_trade_no",
        "notify_url",
        "amount",
    ] {
        assert!(body.requires(name), "{name}");
    }
    assert!(
        native
            .answer
            .schema
            .as_ref()
            .unwrap()
            .properties
            .get("code_url")
            .is_some()
    );

    // The order query: the override keeps production's truth (no description, no notify_url).
    let query = c
        .find(
            &Method::GET,
            "v3/pay/transactions/out-trade-no/{out_trade_no}",
        )
        .unwrap();
    let answer = query.answer.schema.as_ref().unwrap();
    assert!(!answer.requires("description") && !answer.requires("notify_url"));
    assert_eq!(
        answer.required,
        ["appid", "mchid", "out_trade_no", "amount"]
    );
    assert_eq!(query.placeholders().collect::<Vec<_>>(), ["out_trade_no"]);
    assert!(
        query
            .parameters_in(Location::Query)
            .any(|p| p.name == "mchid" && p.required)
    );

    // The complaint response, on both families.
    let seed = c
        .find(
            &Method::POST,
            "v3/merchant-service/complaints-v2/{complaint_id}/response",
        )
        .unwrap();
    assert_eq!(seed.host, Host::Api);
    let global = c.find(
        &Method::POST,
        "v3/global/merchant-service/complaints/{complaint_id}/response",
    );
    if let Some(global) = global {
        assert_eq!(global.host, Host::Global);
    }

    // The trade bill's file: an unsigned download.
    let downloads: Vec<_> = c.operations.iter().filter(|o| o.unsigned).collect();
    assert!(
        downloads
            .iter()
            .any(|o| o.template == "v3/billdownload/file")
    );
    assert!(
        downloads
            .iter()
            .all(|o| o.answer.kind == AnswerKind::Download)
    );

    // Encrypted fields, with the serial header they need.
    let add = c
        .find(&Method::POST, "v3/profitsharing/receivers/add")
        .unwrap();
    assert_eq!(add.encrypted, ["/name"]);
    assert!(add.takes_serial());

    // APIv2: XML, HMAC-SHA256 only, mutual TLS.
    let refund = c.find(&Method::POST, "v2/secapi/pay/refund").unwrap();
    assert_eq!(refund.api, Api::V2);
    assert_eq!(refund.body_kind, BodyKind::Xml);
    assert!(refund.mutual_tls);
    assert!(c.operations.iter().filter(|o| o.hmac_sha256_only).count() >= 50);
}

#[test]
fn misspelt_paths_find_what_was_meant() {
    let c = catalogue::get();
    let cases = [
        ("v3/pay/transaction/native", "v3/pay/transactions/native"),
        ("v3/pay/transactions/nativ", "v3/pay/transactions/native"),
        ("/v3/refund/domestic/refund", "v3/refund/domestic/refunds"),
        (
            "v3/pay/transactions/out_trade_no/1217752501201407033233368018",
            "v3/pay/transactions/out-trade-no/{out_trade_no}",
        ),
    ];
    for (wrong, meant) in cases {
        assert!(c.at(wrong).is_empty(), "{wrong} is unknown");
        assert_eq!(c.nearest(wrong).unwrap().template, meant, "{wrong}");
    }
}

#[test]
fn bodies_are_checked_with_json_pointers() {
    let c = catalogue::get();
    let native = c.find(&Method::POST, "v3/pay/transactions/native").unwrap();
    let good = native.example_body().unwrap();
    assert_eq!(native.check_body(&good), []);

    let mut bad = good.clone();
    bad.as_object_mut().unwrap().remove("notify_url");
    bad["amount"]["total"] = json!("100");
    bad["limit_pay"] = json!(["no_credit", "credit_only"]);
    let problems: Vec<String> = native
        .check_body(&bad)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        problems,
        [
            "/notify_url: a required field is missing",
            "/amount/total: expected an integer, found a string",
            "/limit_pay/1: \"credit_only\" is not one of \"no_balance\", \"no_credit\", \"no_debit\", \"balance_only\"",
        ]
    );
    let problems = native.check_body(&json!([]));
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].pointer, "");
    assert!(matches!(
        problems[0].kind,
        ProblemKind::WrongType {
            expected: "object",
            found: "array"
        }
    ));
}

#[test]
fn apiv2_leaves_are_text() {
    let c = catalogue::get();
    let micropay = c.find(&Method::POST, "v2/pay/micropay").unwrap();
    let mut body = micropay.example_body().unwrap();
    assert_eq!(micropay.check_body(&body), []);
    // An amount as text, as the XML carries it, is fine; a word is not.
    body["total_fee"] = json!("888");
    assert_eq!(micropay.check_body(&body), []);
    body["total_fee"] = json!("eight");
    let problems = micropay.check_body(&body);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].pointer, "/total_fee");
}

#[test]
fn every_example_body_passes_its_own_check() {
    let c = catalogue::get();
    let mut failures = Vec::new();
    for op in &c.operations {
        if let Some(body) = op.example_body() {
            for problem in op.check_body(&body) {
                failures.push(format!("{}: {problem}", op.id()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn search_by_template_or_title() {
    let c = catalogue::get();
    assert_eq!(c.search("").count(), c.operations.len());
    let native: Vec<_> = c.search("transactions/native").map(|o| o.id()).collect();
    assert!(native.contains(&"POST v3/pay/transactions/native".to_owned()));
    assert!(
        c.search("Native下单")
            .any(|o| o.template == "v3/pay/transactions/native")
    );
}

#[test]
fn either_id_names_an_order() {
    // The dataset lists both ids as required; WeChat Pay needs either (an override says so).
    let c = catalogue::get();
    let query = c.find(&Method::POST, "v2/pay/orderquery").unwrap();
    let body = query.body.as_ref().unwrap();
    assert!(!body.requires("transaction_id") && !body.requires("out_trade_no"));
    assert_eq!(body.required_any, [["transaction_id", "out_trade_no"]]);
    let base = json!({ "appid": "wx2421b1c4370ec43b", "mch_id": "1900000109" });
    let mut by_ours = base.clone();
    by_ours["out_trade_no"] = json!("1415757673");
    assert_eq!(query.check_body(&by_ours), []);
    let problems = query.check_body(&base);
    assert_eq!(problems.len(), 1);
    assert_eq!(
        problems[0].to_string(),
        "/: one of transaction_id, out_trade_no is required, none is given"
    );
    let refunds = c.find(&Method::POST, "v2/pay/refundquery").unwrap();
    assert_eq!(refunds.body.as_ref().unwrap().required_any[0].len(), 4);
}

/// The sandbox's merchant, aimed at it.
fn sandbox_client(sandbox: &wechatpay_sandbox::Sandbox, strict: bool) -> wechatpay::Client {
    let id = sandbox.identity();
    wechatpay::Client::builder()
        .mchid(&id.mchid)
        .serial(&id.merchant_serial)
        .private_key(&id.merchant_private_key_pem)
        .platform_key(&id.public_key_id, &id.public_key_pem)
        .platform_key(&id.platform_serial, &id.platform_certificate_pem)
        .base_uri(sandbox.base_uri())
        .allow_insecure_http(true)
        .strict_paths(strict)
        .build()
        .unwrap()
}

#[test]
fn strict_paths_refuse_what_the_catalogue_does_not_know_before_sending() {
    let sandbox = wechatpay_sandbox::Sandbox::start().unwrap();
    let mchid = sandbox.identity().mchid.clone();
    let order = json!({
        "appid": "wxd678efh567hg6787", "mchid": mchid, "description": "strict",
        "out_trade_no": "STRICT1", "notify_url": "https://example.com/notify",
        "amount": { "total": 1 },
    });
    let strict = sandbox_client(&sandbox, true);

    // A known operation goes through, by template and by a concrete path.
    strict["v3/pay/transactions/native"]
        .post(json!({ "json": order }))
        .unwrap();
    // (Chained keys turn capitals into `-x`, as wechatpay-php's do: the value is lower case.)
    let mut second = order.clone();
    second["out_trade_no"] = json!("strict2");
    strict["v3/pay/transactions/native"]
        .post(json!({ "json": second }))
        .unwrap();
    strict
        .chain("v3/pay/transactions/out-trade-no/strict2")
        .get(json!({ "query": { "mchid": mchid } }))
        .unwrap();
    let sent = sandbox.requests().len();

    // A misspelt path: refused with the nearest operation, nothing sent, blocking and async.
    let err = strict
        .chain("v3/pay/transaction/native")
        .post(json!({ "json": order }))
        .unwrap_err();
    assert_eq!(err.kind(), wechatpay::ErrorKind::Template);
    assert_eq!(
        err.template(),
        Some(&wechatpay::template::TemplateError::Unknown {
            operation: "POST v3/pay/transaction/native".into(),
            nearest: Some("POST v3/pay/transactions/native".into()),
        })
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let err = runtime
        .block_on(
            // What `chain!(strict.v3.pay.transaction.native)` expands to (with the feature
            // `checked-chain` that chain is refused at compile time).
            strict["v3"]["pay"]["transaction"]["native"].post_async(json!({ "json": order })),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("did you mean `POST v3/pay/transactions/native`?"),
        "{err}"
    );
    // A known path under a method it does not take: the method it does.
    let err = strict["v3/pay/transactions/native"].delete(()).unwrap_err();
    assert_eq!(
        err.template(),
        Some(&wechatpay::template::TemplateError::Unknown {
            operation: "DELETE v3/pay/transactions/native".into(),
            nearest: Some("POST v3/pay/transactions/native".into()),
        })
    );
    assert_eq!(sandbox.requests().len(), sent, "nothing was sent");

    // Without strict paths, the chain reaches any path, as wechatpay-php does: WeChat Pay (the
    // sandbox) answers the misspelt one with its 404.
    let free = sandbox_client(&sandbox, false);
    let err = free
        .chain("v3/pay/transaction/native")
        .post(json!({ "json": order }))
        .unwrap_err();
    assert_eq!(err.kind(), wechatpay::ErrorKind::Api);
    assert_eq!(err.status(), Some(wechatpay::StatusCode::NOT_FOUND));
    assert_eq!(sandbox.requests().len(), sent + 1);
}
