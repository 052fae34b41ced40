//! Runs the uritemplate-test conformance suite (tests/data/uritemplate, Apache-2.0)
//! against `wechatpay::template::UriTemplate`.
//!
//! Every `*.json` file in the directory is loaded. For each test case `[template, expected]`:
//! a string must be the exact expansion, an array lists the acceptable expansions, and
//! `false` means parsing or expanding must fail.

use std::fs;
use std::path::Path;

use serde_json::Value;
use wechatpay::template::UriTemplate;

/// Every data file and how many test cases it holds, sorted by file name. A file that is
/// added, removed, renamed or silently skipped makes the test fail.
const EXPECTED_CASES: &[(&str, usize)] = &[
    ("extended-tests.json", 53),
    ("negative-tests.json", 36),
    ("spec-examples.json", 64),
];

#[test]
fn uritemplate_test_suite() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/uritemplate");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();

    let mut failures = Vec::new();
    let mut counts = Vec::new();
    for path in &files {
        let file = path
            .file_name()
            .and_then(|name| name.to_str())
            .expect("UTF-8 file name")
            .to_owned();
        let text = fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let doc: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
        let groups = doc
            .as_object()
            .unwrap_or_else(|| panic!("{file}: top level is not an object"));

        let (mut run, mut passed) = (0, 0);
        for (group, body) in groups {
            let vars = body["variables"]
                .as_object()
                .unwrap_or_else(|| panic!("{file} / {group}: no `variables` object"));
            let cases = body["testcases"]
                .as_array()
                .unwrap_or_else(|| panic!("{file} / {group}: no `testcases` array"));
            for case in cases {
                run += 1;
                let (template, expected) = match case.as_array().map(Vec::as_slice) {
                    Some([Value::String(template), expected]) => (template, expected),
                    _ => {
                        failures.push(format!("{file} / {group}: malformed test case {case}"));
                        continue;
                    }
                };
                let outcome = UriTemplate::parse(template).and_then(|parsed| {
                    assert_eq!(parsed.as_str(), template, "as_str must return the source");
                    parsed.expand(vars)
                });
                let ok = match (expected, &outcome) {
                    (Value::String(want), Ok(got)) => got == want,
                    (Value::Array(options), Ok(got)) => {
                        options.iter().any(|option| option.as_str() == Some(got))
                    }
                    (Value::Bool(false), Err(_)) => true,
                    _ => false,
                };
                if ok {
                    passed += 1;
                } else {
                    failures.push(format!(
                        "{file} / {group}: template {template:?}: expected {expected}, got {outcome:?}"
                    ));
                }
            }
        }
        println!("{file}: {passed}/{run} cases passed");
        counts.push((file, run));
    }

    let counts: Vec<_> = counts.iter().map(|(f, n)| (f.as_str(), *n)).collect();
    if counts != EXPECTED_CASES {
        failures.push(format!(
            "test files and case counts {counts:?} differ from the expected {EXPECTED_CASES:?}"
        ));
    }
    let total: usize = EXPECTED_CASES.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 153, "the suite has 153 cases in total");
    if !failures.is_empty() {
        for failure in &failures {
            eprintln!("FAIL {failure}");
        }
        panic!("{} uritemplate conformance failure(s)", failures.len());
    }
}
