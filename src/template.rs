//! RFC 6570 URI Templates (levels 1 to 4) expanded from JSON variables.
//!
//! A template is parsed once into literal and expression parts; expanding it
//! afterwards only looks the variables up and writes into one output string.
//!
//! Variables come from a [`serde_json::Map`]:
//!
//! * a string expands to itself, a number to its JSON text (`1024`, `3.5`) and a
//!   boolean to `true` or `false`;
//! * `null`, an empty array and an empty object are *undefined*;
//! * an array is a list and an object an associative array (keys in insertion
//!   order); their members must be strings, numbers or booleans, and `null`
//!   members are skipped.
//!
//! ```
//! use wechatpay::template::UriTemplate;
//!
//! let template = UriTemplate::parse("v3/refund/domestic/refunds/{out_refund_no}{?sub_mchid}")?;
//! let vars = serde_json::json!({ "out_refund_no": "1217752501201407033233368018" });
//! let vars = vars.as_object().unwrap();
//! assert_eq!(
//!     template.expand_strict(vars)?,
//!     "v3/refund/domestic/refunds/1217752501201407033233368018",
//! );
//! # Ok::<(), wechatpay::template::TemplateError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Number, Value};

/// A parsed RFC 6570 template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UriTemplate {
    /// The template text exactly as given to [`UriTemplate::parse`].
    source: Box<str>,
    /// Literal runs and expressions, in order.
    parts: Box<[Part]>,
    /// Initial capacity of the expansion buffer.
    capacity: usize,
    /// The length of [`literal_prefix`](UriTemplate::literal_prefix).
    prefix_len: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    /// Literal text, already in its expanded (percent-encoded) form.
    Literal(Box<str>),
    /// A `{...}` expression.
    Expression(Expression),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Expression {
    op: Operator,
    vars: Box<[VarSpec]>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct VarSpec {
    /// Byte range of the variable name within the template source.
    start: usize,
    end: usize,
    modifier: Modifier,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Modifier {
    None,
    /// `:N`, 1 <= N <= 9999.
    Prefix(u16),
    /// `*`.
    Explode,
}

/// Expression operators with the behaviour table of RFC 6570 appendix A.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operator {
    Simple,
    Reserved,
    Fragment,
    Label,
    Path,
    PathParam,
    Query,
    QueryContinuation,
}

impl Operator {
    fn from_byte(b: u8) -> Option<Operator> {
        Some(match b {
            b'+' => Operator::Reserved,
            b'#' => Operator::Fragment,
            b'.' => Operator::Label,
            b'/' => Operator::Path,
            b';' => Operator::PathParam,
            b'?' => Operator::Query,
            b'&' => Operator::QueryContinuation,
            _ => return None,
        })
    }

    fn as_char(self) -> Option<char> {
        match self {
            Operator::Simple => None,
            Operator::Reserved => Some('+'),
            Operator::Fragment => Some('#'),
            Operator::Label => Some('.'),
            Operator::Path => Some('/'),
            Operator::PathParam => Some(';'),
            Operator::Query => Some('?'),
            Operator::QueryContinuation => Some('&'),
        }
    }

    /// Prepended before the first defined variable of the expression.
    fn first(self) -> &'static str {
        match self {
            Operator::Simple | Operator::Reserved => "",
            Operator::Fragment => "#",
            Operator::Label => ".",
            Operator::Path => "/",
            Operator::PathParam => ";",
            Operator::Query => "?",
            Operator::QueryContinuation => "&",
        }
    }

    /// Separates defined variables and exploded members.
    fn sep(self) -> &'static str {
        match self {
            Operator::Simple | Operator::Reserved | Operator::Fragment => ",",
            Operator::Label => ".",
            Operator::Path => "/",
            Operator::PathParam => ";",
            Operator::Query | Operator::QueryContinuation => "&",
        }
    }

    /// Whether values are written as `name=value` pairs.
    fn named(self) -> bool {
        matches!(
            self,
            Operator::PathParam | Operator::Query | Operator::QueryContinuation
        )
    }

    /// Written after the name of a named variable whose value is empty.
    fn if_empty(self) -> &'static str {
        match self {
            Operator::Query | Operator::QueryContinuation => "=",
            _ => "",
        }
    }

    /// Character classes copied unencoded.
    fn allow(self) -> u8 {
        match self {
            Operator::Reserved | Operator::Fragment => UNRESERVED | RESERVED,
            _ => UNRESERVED,
        }
    }

    /// Whether [`UriTemplate::expand_strict`] requires the variables to be set.
    fn is_required(self) -> bool {
        !matches!(self, Operator::Query | Operator::QueryContinuation)
    }
}

/// Why a template could not be parsed or expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TemplateError {
    /// Malformed template text: position is the byte offset in the template where the problem was found.
    Syntax {
        /// The complete template text.
        template: String,
        /// Byte offset of the offending character (the template length if it ended too early).
        position: usize,
        /// What is wrong at that position.
        reason: &'static str,
    },
    /// A path variable has no value (name of the variable).
    Missing {
        /// Name of the variable, as written in the template.
        name: String,
    },
    /// A path variable is the empty string.
    Empty {
        /// Name of the variable, as written in the template.
        name: String,
    },
    /// A value this processor cannot expand (nested list/object inside a list/object, or a prefix
    /// modifier `:N` applied to a list or object, which RFC 6570 section 2.4.1 forbids).
    Unexpandable {
        /// Name of the variable, as written in the template.
        name: String,
        /// Why the value cannot be expanded.
        reason: &'static str,
    },
    /// The expansion makes a `.` or `..` path segment, which URL normalisation would remove,
    /// changing the path.
    DotSegment {
        /// The variable whose value makes it, when one does.
        name: Option<String>,
        /// The segment as expanded.
        segment: String,
    },
    /// The expansion has a fragment (`#...`), which is never sent.
    Fragment {
        /// The template text.
        template: String,
    },
    /// URL normalisation would send another request target than the one expanded (and signed).
    Rewritten {
        /// The target as expanded.
        expanded: String,
        /// The target URL normalisation would send.
        sent: String,
    },
    /// Strict paths (`ClientBuilder::strict_paths`, feature `catalogue`): the catalogue knows
    /// no operation of this method at this path.
    Unknown {
        /// `POST v3/pay/transaction/native`.
        operation: String,
        /// The nearest operation the catalogue knows: `POST v3/pay/transactions/native`.
        nearest: Option<String>,
    },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Syntax {
                template,
                position,
                reason,
            } => write!(
                f,
                "invalid URI template `{template}` at byte {position}: {reason}"
            ),
            TemplateError::Missing { name } => write!(f, "template variable `{name}` has no value"),
            TemplateError::Empty { name } => {
                write!(f, "template variable `{name}` is an empty string")
            }
            TemplateError::Unexpandable { name, reason } => {
                write!(f, "template variable `{name}` cannot be expanded: {reason}")
            }
            TemplateError::DotSegment { name, segment } => {
                match name {
                    Some(name) => write!(f, "template variable `{name}` makes")?,
                    None => f.write_str("the template makes")?,
                }
                write!(
                    f,
                    " the path segment `{segment}`, which URL normalisation would remove \
                     (changing the path): `.` and `..` cannot be path values"
                )
            }
            TemplateError::Fragment { template } => write!(
                f,
                "template `{template}` expands to a fragment (`#`), which is never sent"
            ),
            TemplateError::Unknown { operation, nearest } => {
                write!(f, "`{operation}` is not in the WeChat Pay API catalogue")?;
                match nearest {
                    Some(nearest) => write!(f, " (did you mean `{nearest}`?)"),
                    None => Ok(()),
                }
            }
            TemplateError::Rewritten { expanded, sent } => write!(
                f,
                "the request target `{expanded}` would be sent as `{sent}`: URL normalisation \
                 would change what was signed"
            ),
        }
    }
}

impl std::error::Error for TemplateError {}

const NESTED: &str = "a list or object may only contain strings, numbers and booleans";
const PREFIX_ON_COMPOSITE: &str = "a prefix modifier cannot be applied to a list or object";

impl UriTemplate {
    /// Parses `template`, checking it against the RFC 6570 grammar.
    ///
    /// Literal text is checked and percent-encoded here, once: non-ASCII characters
    /// become UTF-8 `%XX` triplets, and characters the grammar forbids in literals
    /// (controls, space, `"`, `<`, `>`, `\`, `^`, `` ` ``, `|`, an unmatched `}` and a `%`
    /// that does not start a `%XX` triplet) are errors.
    pub fn parse(template: &str) -> Result<UriTemplate, TemplateError> {
        let bytes = template.as_bytes();
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut capacity = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'{' {
                if !literal.is_empty() {
                    capacity += literal.len();
                    parts.push(Part::Literal(std::mem::take(&mut literal).into_boxed_str()));
                }
                let (expression, next) = parse_expression(template, i)?;
                capacity += VALUE_CAPACITY * expression.vars.len();
                parts.push(Part::Expression(expression));
                i = next;
            } else if b == b'%' {
                if !is_pct_triplet(bytes, i) {
                    return Err(syntax(
                        template,
                        i,
                        "`%` in a literal must begin a percent-encoded triplet",
                    ));
                }
                literal.push_str(&template[i..i + 3]);
                i += 3;
            } else if b.is_ascii() {
                if CLASS[usize::from(b)] & (UNRESERVED | RESERVED) == 0 {
                    let reason = if b == b'}' {
                        "`}` without a matching `{`"
                    } else {
                        "character not allowed in a literal"
                    };
                    return Err(syntax(template, i, reason));
                }
                literal.push(char::from(b));
                i += 1;
            } else {
                // `i` always sits on a character boundary here.
                let Some(c) = template[i..].chars().next() else {
                    break;
                };
                if !is_literal_non_ascii(c) {
                    return Err(syntax(template, i, "character not allowed in a literal"));
                }
                let mut utf8 = [0; 4];
                for &byte in c.encode_utf8(&mut utf8).as_bytes() {
                    push_pct(&mut literal, byte);
                }
                i += c.len_utf8();
            }
        }
        if !literal.is_empty() {
            capacity += literal.len();
            parts.push(Part::Literal(literal.into_boxed_str()));
        }
        let prefix_len = match parts.first() {
            Some(Part::Literal(text)) => {
                let path = text.split('?').next().unwrap_or_default();
                path.rfind('/').map_or(0, |end| end + 1)
            }
            _ => 0,
        };
        Ok(UriTemplate {
            source: template.into(),
            parts: parts.into_boxed_slice(),
            capacity,
            prefix_len,
        })
    }

    /// The template text this was parsed from.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Plain RFC 6570 semantics: undefined variables expand to nothing.
    ///
    /// Fails only with [`TemplateError::Unexpandable`]: a list or object nested in a
    /// list or object, or a prefix modifier applied to a list or object.
    pub fn expand(&self, vars: &Map<String, Value>) -> Result<String, TemplateError> {
        self.expand_with(vars, false)
    }

    /// Like [`expand`](UriTemplate::expand), but every variable that appears in an
    /// expression whose operator is not `?` or `&` (that is `{x}`, `{+x}`, `{#x}`,
    /// `{.x}`, `{/x}` and `{;x}`) must be present and non-empty:
    ///
    /// * undefined (missing key, `null`, empty list, empty object, or a list or object
    ///   holding only `null`s) is [`TemplateError::Missing`];
    /// * an empty string, or a list or object with an empty-string member, is
    ///   [`TemplateError::Empty`].
    ///
    /// Variables in `{?x}` and `{&x}` may be absent. Both errors carry the variable name.
    pub fn expand_strict(&self, vars: &Map<String, Value>) -> Result<String, TemplateError> {
        self.expand_with(vars, true)
    }

    /// The path the template starts with: its leading literal text up to and including the
    /// last `/` before any `?` (empty when it starts with an expression). Every expansion
    /// starts with it.
    pub(crate) fn literal_prefix(&self) -> &str {
        match self.parts.first() {
            Some(Part::Literal(text)) => &text[..self.prefix_len],
            _ => "",
        }
    }

    /// Names of the variables, in order of appearance, each with its expression's
    /// operator character: `None` for a simple `{x}`, otherwise `Some` of `+`, `#`, `.`,
    /// `/`, `;`, `?` or `&`. A variable used twice is listed twice.
    pub fn variables(&self) -> impl Iterator<Item = (&str, Option<char>)> + '_ {
        self.parts
            .iter()
            .filter_map(|part| match part {
                Part::Expression(expression) => Some(expression),
                Part::Literal(_) => None,
            })
            .flat_map(move |expression| {
                let op = expression.op.as_char();
                expression
                    .vars
                    .iter()
                    .map(move |spec| (&self.source[spec.start..spec.end], op))
            })
    }

    fn expand_with(
        &self,
        vars: &Map<String, Value>,
        strict: bool,
    ) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(self.capacity);
        for part in self.parts.iter() {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Expression(expression) => {
                    self.expand_expression(expression, vars, strict, &mut out)?;
                }
            }
        }
        Ok(out)
    }

    /// RFC 6570 appendix A, for one expression.
    fn expand_expression(
        &self,
        expression: &Expression,
        vars: &Map<String, Value>,
        strict: bool,
        out: &mut String,
    ) -> Result<(), TemplateError> {
        let op = expression.op;
        let strict = strict && op.is_required();
        let allow = op.allow();
        let named = op.named();
        let mut first = true;
        for spec in expression.vars.iter() {
            let name = &self.source[spec.start..spec.end];
            let value = match classify(name, lookup(vars, name))? {
                Some(value) => value,
                None if strict => {
                    return Err(TemplateError::Missing {
                        name: name.to_owned(),
                    });
                }
                None => continue,
            };
            match value {
                _ if strict && value.has_empty_string() => {
                    return Err(TemplateError::Empty {
                        name: name.to_owned(),
                    });
                }
                Defined::List(_) | Defined::Assoc(_)
                    if matches!(spec.modifier, Modifier::Prefix(_)) =>
                {
                    return Err(TemplateError::Unexpandable {
                        name: name.to_owned(),
                        reason: PREFIX_ON_COMPOSITE,
                    });
                }
                _ => {}
            }

            out.push_str(if first { op.first() } else { op.sep() });
            first = false;
            let explode = spec.modifier == Modifier::Explode;
            match value {
                Defined::Scalar(scalar) => scalar.with_text(|text| {
                    if named {
                        out.push_str(name);
                        if text.is_empty() {
                            out.push_str(op.if_empty());
                            return;
                        }
                        out.push('=');
                    }
                    let text = match spec.modifier {
                        Modifier::Prefix(max) => prefix(text, usize::from(max)),
                        _ => text,
                    };
                    encode(out, text, allow);
                }),
                Defined::List(items) if !explode => {
                    if named {
                        out.push_str(name);
                        out.push('=');
                    }
                    for (i, item) in items.iter().filter_map(Scalar::new).enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        item.with_text(|text| encode(out, text, allow));
                    }
                }
                Defined::List(items) => {
                    for (i, item) in items.iter().filter_map(Scalar::new).enumerate() {
                        if i > 0 {
                            out.push_str(op.sep());
                        }
                        item.with_text(|text| {
                            if named {
                                out.push_str(name);
                                if text.is_empty() {
                                    out.push_str(op.if_empty());
                                    return;
                                }
                                out.push('=');
                            }
                            encode(out, text, allow);
                        });
                    }
                }
                Defined::Assoc(map) if !explode => {
                    if named {
                        out.push_str(name);
                        out.push('=');
                    }
                    let pairs = map.iter().filter_map(|(k, v)| Some((k, Scalar::new(v)?)));
                    for (i, (key, value)) in pairs.enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        encode(out, key, allow);
                        out.push(',');
                        value.with_text(|text| encode(out, text, allow));
                    }
                }
                Defined::Assoc(map) => {
                    let pairs = map.iter().filter_map(|(k, v)| Some((k, Scalar::new(v)?)));
                    for (i, (key, value)) in pairs.enumerate() {
                        if i > 0 {
                            out.push_str(op.sep());
                        }
                        encode(out, key, allow);
                        value.with_text(|text| {
                            if named && text.is_empty() {
                                out.push_str(op.if_empty());
                            } else {
                                out.push('=');
                                encode(out, text, allow);
                            }
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for UriTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for UriTemplate {
    type Err = TemplateError;

    fn from_str(template: &str) -> Result<UriTemplate, TemplateError> {
        UriTemplate::parse(template)
    }
}

/// Expansion buffer bytes reserved per variable, on top of the literal text.
const VALUE_CAPACITY: usize = 32;

fn syntax(template: &str, position: usize, reason: &'static str) -> TemplateError {
    TemplateError::Syntax {
        template: template.to_owned(),
        position,
        reason,
    }
}

/// Parses the expression whose `{` is at byte `open`; returns it and the byte after its `}`.
fn parse_expression(template: &str, open: usize) -> Result<(Expression, usize), TemplateError> {
    const BAD_DOT: &str = "`.` in a variable name must sit between two other characters";
    const BAD_PREFIX: &str =
        "prefix length must be an integer from 1 to 9999 without leading zeros";
    const BOTH_MODIFIERS: &str = "a variable cannot have both a prefix and an explode modifier";

    let bytes = template.as_bytes();
    let unclosed = || syntax(template, bytes.len(), "unclosed expression");
    let next = |i: usize| bytes.get(i).copied().ok_or_else(unclosed);

    let mut i = open + 1;
    let op = match next(i)? {
        b'=' | b',' | b'!' | b'@' | b'|' => {
            return Err(syntax(
                template,
                i,
                "operator reserved for future extensions",
            ));
        }
        b => match Operator::from_byte(b) {
            Some(op) => {
                i += 1;
                op
            }
            None => Operator::Simple,
        },
    };

    let mut vars = Vec::new();
    loop {
        // varname = varchar *( ["."] varchar ); varchar = ALPHA / DIGIT / "_" / pct-encoded
        let start = i;
        let mut stop = loop {
            match next(i)? {
                b if b.is_ascii_alphanumeric() || b == b'_' => i += 1,
                b'%' => {
                    if !is_pct_triplet(bytes, i) {
                        return Err(syntax(
                            template,
                            i,
                            "`%` in a variable name must begin a percent-encoded triplet",
                        ));
                    }
                    i += 3;
                }
                b'.' => {
                    if i == start || bytes[i - 1] == b'.' {
                        return Err(syntax(template, i, BAD_DOT));
                    }
                    i += 1;
                }
                b => break b,
            }
        };
        if i == start {
            let reason = if stop == b'}' || stop == b',' {
                "missing variable name"
            } else {
                "character not allowed in a variable name"
            };
            return Err(syntax(template, i, reason));
        }
        if bytes[i - 1] == b'.' {
            return Err(syntax(template, i - 1, BAD_DOT));
        }
        let end = i;

        let mut modifier = Modifier::None;
        if stop == b':' {
            i += 1;
            let digits = i;
            let mut max: u16 = 0;
            loop {
                let b = next(i)?;
                if !b.is_ascii_digit() {
                    stop = b;
                    break;
                }
                if (i == digits && b == b'0') || i - digits == 4 {
                    return Err(syntax(template, digits, BAD_PREFIX));
                }
                max = max * 10 + u16::from(b - b'0');
                i += 1;
            }
            if i == digits {
                return Err(syntax(template, digits, BAD_PREFIX));
            }
            if stop == b'*' {
                return Err(syntax(template, i, BOTH_MODIFIERS));
            }
            modifier = Modifier::Prefix(max);
        } else if stop == b'*' {
            i += 1;
            stop = next(i)?;
            if stop == b':' {
                return Err(syntax(template, i, BOTH_MODIFIERS));
            }
            modifier = Modifier::Explode;
        }
        vars.push(VarSpec {
            start,
            end,
            modifier,
        });

        match stop {
            b'}' => {
                let expression = Expression {
                    op,
                    vars: vars.into_boxed_slice(),
                };
                return Ok((expression, i + 1));
            }
            b',' => i += 1,
            _ => {
                let reason = if modifier == Modifier::None {
                    "character not allowed in a variable name"
                } else {
                    "expected `,` or `}` after a modifier"
                };
                return Err(syntax(template, i, reason));
            }
        }
    }
}

/// `vars.get(name)`. Variables come a handful at a time: below a few entries, comparing the
/// keys is cheaper than hashing `name` (the map's SipHash).
fn lookup<'v>(vars: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    if vars.len() <= 8 {
        vars.iter()
            .find_map(|(key, value)| (key == name).then_some(value))
    } else {
        vars.get(name)
    }
}

/// A defined (RFC 6570 section 2.3) variable value.
#[derive(Clone, Copy)]
enum Defined<'v> {
    Scalar(Scalar<'v>),
    /// At least one non-null member.
    List(&'v [Value]),
    /// At least one non-null value.
    Assoc(&'v Map<String, Value>),
}

impl Defined<'_> {
    /// True when the value is, or has a member that is, the empty string: in a path it would
    /// make an empty segment (`//`).
    fn has_empty_string(&self) -> bool {
        let empty = |v: &Value| v.as_str() == Some("");
        match self {
            Defined::Scalar(Scalar::Str(s)) => s.is_empty(),
            Defined::Scalar(_) => false,
            Defined::List(items) => items.iter().any(empty),
            Defined::Assoc(map) => map.values().any(empty),
        }
    }
}

/// Looks at a variable's value: `None` when undefined, an error when it nests lists or objects.
fn classify<'v>(
    name: &str,
    value: Option<&'v Value>,
) -> Result<Option<Defined<'v>>, TemplateError> {
    fn members<'a>(
        name: &str,
        values: impl Iterator<Item = &'a Value>,
    ) -> Result<bool, TemplateError> {
        let mut any = false;
        for value in values {
            match value {
                Value::Null => {}
                Value::Array(_) | Value::Object(_) => {
                    return Err(TemplateError::Unexpandable {
                        name: name.to_owned(),
                        reason: NESTED,
                    });
                }
                _ => any = true,
            }
        }
        Ok(any)
    }

    Ok(match value {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => members(name, items.iter())?.then_some(Defined::List(items)),
        Some(Value::Object(map)) => members(name, map.values())?.then_some(Defined::Assoc(map)),
        Some(value) => Scalar::new(value).map(Defined::Scalar),
    })
}

/// A string, number or boolean.
#[derive(Clone, Copy)]
enum Scalar<'v> {
    Str(&'v str),
    Number(&'v Number),
    Bool(bool),
}

impl<'v> Scalar<'v> {
    fn new(value: &'v Value) -> Option<Scalar<'v>> {
        match value {
            Value::String(s) => Some(Scalar::Str(s)),
            Value::Number(n) => Some(Scalar::Number(n)),
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        }
    }

    /// Calls `f` with the value's text, formatting numbers on the stack.
    fn with_text<R>(self, f: impl FnOnce(&str) -> R) -> R {
        match self {
            Scalar::Str(s) => f(s),
            Scalar::Bool(true) => f("true"),
            Scalar::Bool(false) => f("false"),
            Scalar::Number(n) => {
                let mut buf = StackText::default();
                if fmt::Write::write_fmt(&mut buf, format_args!("{n}")).is_ok() {
                    if let Ok(text) = std::str::from_utf8(&buf.bytes[..buf.len]) {
                        return f(text);
                    }
                }
                // Only reachable with serde_json's `arbitrary_precision` and a huge number.
                f(&n.to_string())
            }
        }
    }
}

/// A small stack buffer for formatting numbers without allocating.
struct StackText {
    bytes: [u8; 40],
    len: usize,
}

impl Default for StackText {
    fn default() -> StackText {
        StackText {
            bytes: [0; 40],
            len: 0,
        }
    }
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dest = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        dest.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The first `max` characters (not bytes) of `text`.
fn prefix(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// `A-Z a-z 0-9 - . _ ~`
const UNRESERVED: u8 = 1;
/// `: / ? # [ ] @ ! $ & ' ( ) * + , ; =`
const RESERVED: u8 = 2;

/// Character class of every byte; non-ASCII bytes are in no class.
static CLASS: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            table[b] = UNRESERVED;
        } else if matches!(
            c,
            b':' | b'/'
                | b'?'
                | b'#'
                | b'['
                | b']'
                | b'@'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
        ) {
            table[b] = RESERVED;
        }
        b += 1;
    }
    table
};

/// `"%00%01...%FF"`: the percent-encoded form of byte `b` is at `3 * b`.
static PCT: &str = {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    const BYTES: [u8; 768] = {
        let mut table = [0; 768];
        let mut b = 0;
        while b < 256 {
            table[3 * b] = b'%';
            table[3 * b + 1] = HEX[b >> 4];
            table[3 * b + 2] = HEX[b & 15];
            b += 1;
        }
        table
    };
    match std::str::from_utf8(&BYTES) {
        Ok(table) => table,
        Err(_) => panic!("percent-encoding table is ASCII"),
    }
};

#[inline]
fn push_pct(out: &mut String, b: u8) {
    let i = 3 * usize::from(b);
    out.push_str(&PCT[i..i + 3]);
}

fn is_pct_triplet(bytes: &[u8], i: usize) -> bool {
    matches!(
        bytes.get(i..i + 3),
        Some([b'%', h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit()
    )
}

/// Appends `text`, percent-encoding (UTF-8, uppercase hex) every byte outside `allow`.
///
/// When `allow` includes reserved characters, existing `%XX` triplets are kept as
/// they are and only a `%` that does not start one is encoded (`%25`).
#[inline]
fn encode(out: &mut String, text: &str, allow: u8) {
    let bytes = text.as_bytes();
    let keep_triplets = allow & RESERVED != 0;
    // Start of the pending run of bytes copied unchanged. It only ever follows an
    // ASCII byte (or is 0), so every slice taken below is on character boundaries.
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if CLASS[usize::from(b)] & allow != 0 {
            i += 1;
        } else if keep_triplets && b == b'%' && is_pct_triplet(bytes, i) {
            i += 3;
        } else {
            if start < i {
                out.push_str(&text[start..i]);
            }
            push_pct(out, b);
            i += 1;
            start = i;
        }
    }
    if start < bytes.len() {
        out.push_str(&text[start..]);
    }
}

/// Appends `text` with every byte but RFC 3986 unreserved ones (`A-Za-z0-9-._~`)
/// percent-encoded: simple expansion's rule, also used for query keys and values.
pub(crate) fn encode_component(out: &mut String, text: &str) {
    encode(out, text, UNRESERVED);
}

/// Non-ASCII characters allowed in literals: RFC 6570 `ucschar` and `iprivate`.
fn is_literal_non_ascii(c: char) -> bool {
    let c = u32::from(c);
    match c {
        // ucschar %xA0-D7FF, iprivate %xE000-F8FF, ucschar %xF900-FDCF / %xFDF0-FFEF
        0xA0..=0xD7FF | 0xE000..=0xFDCF | 0xFDF0..=0xFFEF => true,
        // Planes 1 to 16 except each plane's last two code points; in plane 14
        // only %xE1000-EFFFD is allowed.
        0x1_0000..=0x10_FFFF => (c & 0xFFFF) <= 0xFFFD && !(0xE_0000..=0xE_0FFF).contains(&c),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn expand(template: &str, value: Value) -> String {
        UriTemplate::parse(template)
            .unwrap()
            .expand(&vars(value))
            .unwrap()
    }

    fn strict(template: &str, value: Value) -> Result<String, TemplateError> {
        UriTemplate::parse(template)
            .unwrap()
            .expand_strict(&vars(value))
    }

    fn syntax_error(template: &str) -> (usize, &'static str) {
        match UriTemplate::parse(template) {
            Err(TemplateError::Syntax {
                template: t,
                position,
                reason,
            }) => {
                assert_eq!(t, template);
                (position, reason)
            }
            other => panic!("{template:?}: expected a syntax error, got {other:?}"),
        }
    }

    const PATH_OPS: [&str; 6] = ["", "+", "#", ".", "/", ";"];

    #[test]
    fn strict_reports_missing_path_variables() {
        for op in PATH_OPS {
            let template = format!("v3/{{{op}id}}/x");
            for value in [
                json!({}),
                json!({"id": null}),
                json!({"id": []}),
                json!({"id": {}}),
            ] {
                assert_eq!(
                    strict(&template, value.clone()),
                    Err(TemplateError::Missing { name: "id".into() }),
                    "{template} with {value}"
                );
            }
            // The second variable of a list is named, not the first.
            let template = format!("{{{op}a,complaint_id}}");
            assert_eq!(
                strict(&template, json!({"a": "1"})),
                Err(TemplateError::Missing {
                    name: "complaint_id".into()
                })
            );
            // A list holding only nulls is undefined too.
            assert_eq!(
                strict(&template, json!({"a": "1", "complaint_id": [null]})),
                Err(TemplateError::Missing {
                    name: "complaint_id".into()
                })
            );
        }
    }

    #[test]
    fn strict_reports_empty_path_variables() {
        for op in PATH_OPS {
            let template = format!("v3/{{{op}id}}/x");
            assert_eq!(
                strict(&template, json!({"id": ""})),
                Err(TemplateError::Empty { name: "id".into() }),
                "{template}"
            );
            for hollow in [json!([""]), json!(["a", ""]), json!({"k": ""})] {
                assert_eq!(
                    strict(&template, json!({ "id": hollow })),
                    Err(TemplateError::Empty { name: "id".into() }),
                    "{template} with {hollow}"
                );
            }
            assert!(strict(&template, json!({"id": "7"})).is_ok());
            // Plain expansion accepts what strict expansion rejects.
            let parsed = UriTemplate::parse(&template).unwrap();
            assert!(parsed.expand(&vars(json!({"id": ""}))).is_ok());
            assert!(parsed.expand(&vars(json!({}))).is_ok());
        }
    }

    #[test]
    fn strict_allows_absent_query_variables() {
        let template = "v3/bills{?bill_date,tar_type}{&sub_mchid}";
        assert_eq!(strict(template, json!({})).unwrap(), "v3/bills");
        assert_eq!(
            strict(template, json!({"bill_date": "", "sub_mchid": null})).unwrap(),
            "v3/bills?bill_date="
        );
        assert_eq!(
            strict(
                template,
                json!({"tar_type": "GZIP", "sub_mchid": 1900000109})
            )
            .unwrap(),
            "v3/bills?tar_type=GZIP&sub_mchid=1900000109"
        );
        assert_eq!(
            strict("/p/{id}{?q}", json!({"q": "x"})),
            Err(TemplateError::Missing { name: "id".into() })
        );
    }

    #[test]
    fn simple_expansion_encodes_exactly_once() {
        let cases = [
            ("../../v3/pay", "..%2F..%2Fv3%2Fpay"),
            ("50%", "50%25"),
            ("%41", "%2541"),
            ("a/b?c#d", "a%2Fb%3Fc%23d"),
            ("a b", "a%20b"),
            ("line\r\nbreak", "line%0D%0Abreak"),
            ("已与", "%E5%B7%B2%E4%B8%8E"),
            ("-._~AZaz09", "-._~AZaz09"),
            (
                "!$&'()*+,;=:@[]",
                "%21%24%26%27%28%29%2A%2B%2C%3B%3D%3A%40%5B%5D",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(expand("{x}", json!({ "x": value })), expected, "{value:?}");
            assert_eq!(
                expand("/v3/{x}/y", json!({ "x": value })),
                format!("/v3/{expected}/y")
            );
            assert_eq!(
                expand("{/x}", json!({ "x": value })),
                format!("/{expected}")
            );
        }
    }

    #[test]
    fn reserved_expansion_keeps_triplets_only() {
        let cases = [
            ("%41", "%41"),
            ("50%", "50%25"),
            ("%4", "%254"),
            ("%zz", "%25zz"),
            ("%e5%B7", "%e5%B7"),
            ("../../v3/pay?x#y", "../../v3/pay?x#y"),
            ("a b\r\n", "a%20b%0D%0A"),
            ("已与", "%E5%B7%B2%E4%B8%8E"),
            ("<>\"\\^`{|}", "%3C%3E%22%5C%5E%60%7B%7C%7D"),
        ];
        for (value, expected) in cases {
            assert_eq!(expand("{+x}", json!({ "x": value })), expected, "{value:?}");
            assert_eq!(
                expand("{#x}", json!({ "x": value })),
                format!("#{expected}")
            );
        }
    }

    #[test]
    fn value_mapping() {
        let v = json!({
            "n": 1024, "f": 3.5, "neg": -2, "t": true, "no": false, "null": null,
            "list": ["a", null, 1, true, ""],
            "map": {"k": "v", "skip": null, "n": 2, "e": ""},
        });
        assert_eq!(
            expand("{n}/{f}/{neg}/{t}/{no}/{null}", v.clone()),
            "1024/3.5/-2/true/false/"
        );
        assert_eq!(expand("{n:2}{?f:1}", v.clone()), "10?f=3");
        assert_eq!(expand("{list}", v.clone()), "a,1,true,");
        assert_eq!(
            expand("{;list*}", v.clone()),
            ";list=a;list=1;list=true;list"
        );
        assert_eq!(
            expand("{?list*}", v.clone()),
            "?list=a&list=1&list=true&list="
        );
        assert_eq!(expand("{map}", v.clone()), "k,v,n,2,e,");
        assert_eq!(expand("{map*}", v.clone()), "k=v,n=2,e=");
        assert_eq!(expand("{;map*}", v.clone()), ";k=v;n=2;e");
        assert_eq!(expand("{?map*}", v.clone()), "?k=v&n=2&e=");
        assert_eq!(expand("{?null,n}", v.clone()), "?n=1024");
        assert_eq!(expand("{/x,y}", json!({"x": [null], "y": {"a": null}})), "");
    }

    #[test]
    fn unexpandable_values() {
        let nested = json!({"l": [["a"]], "m": {"k": {"a": 1}}, "s": "str"});
        for template in ["{l}", "{?m*}"] {
            let err = UriTemplate::parse(template)
                .unwrap()
                .expand(&vars(nested.clone()))
                .unwrap_err();
            assert!(matches!(err, TemplateError::Unexpandable { .. }), "{err:?}");
        }
        let err = UriTemplate::parse("{s}{+l:3}")
            .unwrap()
            .expand(&vars(json!({"s": "x", "l": ["abcd"]})))
            .unwrap_err();
        assert_eq!(
            err,
            TemplateError::Unexpandable {
                name: "l".into(),
                reason: PREFIX_ON_COMPOSITE
            }
        );
        assert!(
            UriTemplate::parse("{m:1}")
                .unwrap()
                .expand(&vars(json!({"m": {"k": "v"}})))
                .is_err()
        );
    }

    #[test]
    fn prefix_counts_characters() {
        let v = json!({"s": "已与ab", "e": "€uro"});
        assert_eq!(expand("{s:1}", v.clone()), "%E5%B7%B2");
        assert_eq!(expand("{s:3}", v.clone()), "%E5%B7%B2%E4%B8%8Ea");
        assert_eq!(expand("{;e:9999}", v.clone()), ";e=%E2%82%ACuro");
    }

    #[test]
    fn syntax_error_positions() {
        let cases: &[(&str, usize)] = &[
            ("{x", 2),
            ("v3/{x", 5),
            ("{", 1),
            ("a}b", 1),
            ("{}", 1),
            ("{x,}", 3),
            ("{,x}", 1),
            ("{=x}", 1),
            ("{!x}", 1),
            ("{$x}", 1),
            ("{/?id}", 2),
            ("{a-b}", 2),
            ("{a b}", 2),
            ("{x.}", 2),
            ("{.x..y}", 4),
            ("{..x}", 2),
            ("{%2x}", 1),
            ("{var:0}", 5),
            ("{var:01}", 5),
            ("{var:10000}", 5),
            ("{var:}", 5),
            ("{var:x}", 5),
            ("{var:3x}", 6),
            ("{hello:2*}", 8),
            ("{x*:2}", 3),
            ("{x*y}", 3),
            ("{x{y}}", 2),
            ("{é}", 1),
            ("ab {x}", 2),
            ("a\"b", 1),
            ("a<b", 1),
            ("x%zz", 1),
            ("x%2", 1),
            ("/é\u{85}", 3),
            ("/\u{FFFF}", 1),
        ];
        for &(template, position) in cases {
            assert_eq!(syntax_error(template).0, position, "{template:?}");
        }
        assert_eq!(syntax_error("{x").1, "unclosed expression");
        assert_eq!(syntax_error("{x:4").1, "unclosed expression");
        assert_eq!(syntax_error("{x*").1, "unclosed expression");
        assert_eq!(syntax_error("}").1, "`}` without a matching `{`");
    }

    #[test]
    fn literals() {
        let v = json!({"var": "value"});
        assert_eq!(expand("'{var}'", v.clone()), "'value'");
        assert_eq!(expand("café/{var}", v.clone()), "caf%C3%A9/value");
        assert_eq!(expand("x%2fy{var}", v.clone()), "x%2fyvalue");
        assert_eq!(
            expand("https://a.b/c?d=[e]&f=@!$()*+,;~_-.#g", v.clone()),
            "https://a.b/c?d=[e]&f=@!$()*+,;~_-.#g"
        );
        assert_eq!(expand("\u{E000}\u{10FFFD}", v), "%EE%80%80%F4%8F%BF%BD");
    }

    #[test]
    fn display_names_the_variable() {
        let missing = TemplateError::Missing {
            name: "complaint_id".into(),
        };
        assert_eq!(
            missing.to_string(),
            "template variable `complaint_id` has no value"
        );
        let empty = TemplateError::Empty {
            name: "out_trade_no".into(),
        };
        assert_eq!(
            empty.to_string(),
            "template variable `out_trade_no` is an empty string"
        );
        let nested = TemplateError::Unexpandable {
            name: "ids".into(),
            reason: NESTED,
        };
        assert!(nested.to_string().contains("`ids`"), "{nested}");
        let err = UriTemplate::parse("{x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid URI template `{x` at byte 2: unclosed expression"
        );
        let err: Box<dyn std::error::Error> = Box::new(missing);
        assert!(err.to_string().contains("complaint_id"));
    }

    #[test]
    fn variables_source_and_round_trip() {
        let source = "v3/{a}{+b}{#c}{.d}{/e*}{;f:3}{?g,h}{&i}x";
        let template: UriTemplate = source.parse().unwrap();
        assert_eq!(template.as_str(), source);
        assert_eq!(template.to_string(), source);
        assert_eq!(template, UriTemplate::parse(source).unwrap());
        let found: Vec<_> = template.variables().collect();
        assert_eq!(
            found,
            [
                ("a", None),
                ("b", Some('+')),
                ("c", Some('#')),
                ("d", Some('.')),
                ("e", Some('/')),
                ("f", Some(';')),
                ("g", Some('?')),
                ("h", Some('?')),
                ("i", Some('&')),
            ]
        );
        let encoded = UriTemplate::parse("{Some%20Thing,last.name}").unwrap();
        let names: Vec<_> = encoded.variables().map(|(name, _)| name).collect();
        assert_eq!(names, ["Some%20Thing", "last.name"]);
        assert_eq!(UriTemplate::parse("plain").unwrap().variables().count(), 0);
    }

    #[test]
    fn expands_repeatedly() {
        let template =
            UriTemplate::parse("v3/global/merchant-service/complaints/{complaint_id}/response")
                .unwrap();
        for id in ["200201820200101080076610000", "已与", ""] {
            let got = template
                .expand(&vars(json!({ "complaint_id": id })))
                .unwrap();
            let mut want = String::from("v3/global/merchant-service/complaints/");
            encode(&mut want, id, UNRESERVED);
            want.push_str("/response");
            assert_eq!(got, want);
        }
    }

    #[test]
    fn literal_prefix_is_the_leading_literal_path() {
        for (template, prefix) in [
            (
                "v3/pay/transactions/id/{transaction_id}",
                "v3/pay/transactions/id/",
            ),
            (
                "v3/global/merchant-service/complaints/{complaint_id}/response",
                "v3/global/merchant-service/complaints/",
            ),
            ("/v3/x/{y}", "/v3/x/"),
            ("v3/certificates", "v3/"),
            ("v3/x?a=b/c&d={d}", "v3/"),
            ("v3/é/{x}", "v3/%C3%A9/"),
            ("{x}/y", ""),
            ("certificates", ""),
            ("", ""),
        ] {
            let parsed = UriTemplate::parse(template).unwrap();
            assert_eq!(parsed.literal_prefix(), prefix, "{template}");
            // Every expansion starts with it.
            let expanded = parsed.expand(&vars(json!({ "x": "1", "y": "2" }))).unwrap();
            assert!(expanded.starts_with(prefix), "{template}: {expanded}");
        }
    }

    #[test]
    fn many_variables_are_looked_up_by_hash() {
        let names: Vec<String> = (0..12).map(|i| format!("v{i}")).collect();
        let template = format!("{{{}}}", names.join(","));
        let values = Value::Object(names.iter().map(|n| (n.clone(), json!(n))).collect());
        assert_eq!(expand(&template, values), names.join(","));
        assert_eq!(
            strict(
                "{a}/{b}",
                json!({ "a": 1, "c": 2, "d": 3, "e": 4, "f": 5, "g": 6, "h": 7, "i": 8, "j": 9 })
            ),
            Err(TemplateError::Missing { name: "b".into() })
        );
    }
}
