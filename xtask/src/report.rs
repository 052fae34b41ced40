//! What the generator met in the dataset and how it handled each kind: counted, with a few
//! places of each, for `catalogue/REPORT.md`.

use std::collections::BTreeMap;

/// How many places are listed for each kind.
const SHOWN: usize = 5;

#[derive(Default)]
pub struct Report {
    /// kind -> (count, the first places).
    kinds: BTreeMap<&'static str, (usize, Vec<String>)>,
    /// (kind, source location) already counted by [`count_once`](Self::count_once).
    seen: std::collections::HashSet<(&'static str, String)>,
}

/// What each kind is, and what the generator does about it.
pub const KINDS: &[(&str, &str)] = &[
    (
        "ref_fragment_without_slash",
        "`$ref` fragment without its leading `/` (`Transaction.yaml#TransactionBase`): read as a top-level key, dots and all",
    ),
    (
        "ref_with_siblings",
        "`$ref` with sibling keywords: the target, then the siblings over it",
    ),
    (
        "integer_response_code",
        "operation whose response codes are YAML integers (`200:`): read as text",
    ),
    (
        "required_without_property",
        "`required` name with no property schema: dropped from `required`",
    ),
    (
        "required_not_a_list",
        "`required` that is not a list (a boolean on an object): ignored",
    ),
    (
        "path_parameter_without_example",
        "path parameter without an example: none given",
    ),
    (
        "parameter_without_type",
        "parameter without a type (`Wechatpay-Serial`): a string, as every header, path and query value is",
    ),
    (
        "template_parameter_undeclared",
        "template placeholder not declared as a parameter: declared as a required string",
    ),
    (
        "declared_parameter_not_in_template",
        "path parameter declared but absent from the template: renamed by an override (see below)",
    ),
    (
        "integer_with_string_example",
        "integer whose example is a string: the example parsed as an integer when it is one, else dropped",
    ),
    (
        "number_with_string_example",
        "number whose example is a string (`limit: '100'`): the example parsed as a number when it is one, else dropped",
    ),
    (
        "number_with_string_enum",
        "number or integer whose enum values are words (`DIS_FLAG`): a string, as the values travel",
    ),
    (
        "string_with_number_value",
        "string whose example or enum values are numbers (`2401`): their text (`\"2401\"`), as it travels",
    ),
    (
        "example_outside_enum",
        "example not among the enum's values: kept (enums decode unknown values)",
    ),
    (
        "example_in_type_position",
        "a value written where the type goes (`type: oUpF8uM...`): a string, the value its example",
    ),
    (
        "odd_type_name",
        "odd type name (`uint64`, `int`, `'string '`, `stringde`): mapped to integer or string",
    ),
    (
        "rfc3339_time",
        "time field with format `rfc3339`: a string of that format",
    ),
    (
        "encrypted_field",
        "`format: base64` field: encrypted (RSA-OAEP) with the platform key",
    ),
    (
        "encrypted_field_with_serial",
        "encrypted field in an operation that takes `Wechatpay-Serial`",
    ),
    (
        "numbered_field",
        "APIv2 numbered field name (`refund_id_$n`): a pattern of fields",
    ),
    (
        "hmac_sha256_only",
        "APIv2 operation that allows only HMAC-SHA256",
    ),
    (
        "callback_not_api",
        "the callback WeChat Pay sends (`/v3/webhooks`): kept apart as a callback (`callbacks` in the catalogue), not an operation",
    ),
    (
        "one_of",
        "`oneOf`/`anyOf`: the alternatives kept; a value is checked against each, typed models hold any JSON",
    ),
    (
        "override",
        "an explicit override of `xtask/src/overrides.rs` applied",
    ),
    (
        "recursive_schema",
        "a schema that refers to itself: cut at the second visit (an object with no properties)",
    ),
];

impl Report {
    pub fn count(&mut self, kind: &'static str, place: String) {
        debug_assert!(KINDS.iter().any(|(k, _)| *k == kind), "{kind}");
        let entry = self.kinds.entry(kind).or_default();
        entry.0 += 1;
        if entry.1.len() < SHOWN {
            entry.1.push(place);
        }
    }

    /// Counts `kind` at `place` once, however many operations reach that source location.
    pub fn count_once(&mut self, kind: &'static str, place: String) {
        if self.seen.insert((kind, place.clone())) {
            self.count(kind, place);
        }
    }

    pub fn get(&self, kind: &str) -> usize {
        self.kinds.get(kind).map_or(0, |(n, _)| *n)
    }

    /// The report as Markdown.
    pub fn markdown(&self, header: &str) -> String {
        let mut out = String::from(header);
        out.push_str("\n| what | count | how it is handled |\n| --- | ---: | --- |\n");
        for (kind, what) in KINDS {
            out.push_str(&format!("| `{kind}` | {} | {what} |\n", self.get(kind)));
        }
        out.push_str("\n## Where (the first places of each)\n\n");
        for (kind, (count, places)) in &self.kinds {
            out.push_str(&format!("- `{kind}` ({count}):\n"));
            for place in places {
                out.push_str(&format!("  - {}\n", place.replace('|', "\\|")));
            }
        }
        out
    }
}
