//! APIv2 (XML): `POST /pay/micropay` and `POST /pay/orderquery` on both ports,
//! `POST /secapi/pay/refund` on the mutual-TLS port only. Every request's `sign` is checked
//! with the sandbox's own code (MD5, or HMAC-SHA256 when `sign_type` says so); answers are
//! signed with the same sign type.

use std::collections::HashSet;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use openssl::hash::{MessageDigest, hash};
use openssl::pkey::PKey;
use openssl::sign::Signer;

use crate::error::Result;
use crate::faults::Fault;
use crate::state::State;
use crate::store::{Order, Refund, TradeState};
use crate::util::{Beijing, hex_upper, now_unix, random_alnum, random_digits};

/// An APIv2 payload: field names and values, in document order.
pub(crate) type Fields = Vec<(String, String)>;

/// The sign type of a request or answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignType {
    Md5,
    HmacSha256,
}

/// Uppercase hex MD5 (or HMAC-SHA256 keyed by `secret`) of the sorted `k=v&...&key=secret`,
/// skipping `sign` and empty values.
pub(crate) fn sign(
    fields: &[(String, String)],
    secret: &str,
    sign_type: SignType,
) -> Result<String> {
    let mut pairs: Vec<&(String, String)> = fields
        .iter()
        .filter(|(k, v)| k != "sign" && !v.is_empty())
        .collect();
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut message = String::new();
    for (k, v) in pairs {
        message.push_str(k);
        message.push('=');
        message.push_str(v);
        message.push('&');
    }
    message.push_str("key=");
    message.push_str(secret);
    let digest = match sign_type {
        SignType::Md5 => hash(MessageDigest::md5(), message.as_bytes())?.to_vec(),
        SignType::HmacSha256 => {
            let key = PKey::hmac(secret.as_bytes())?;
            let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
            signer.update(message.as_bytes())?;
            signer.sign_to_vec()?
        }
    };
    Ok(hex_upper(&digest))
}

/// Reads a flat `<xml><k>v</k>...</xml>` document: text with the five predefined entities and
/// character references, CDATA sections. Refuses DTDs, nesting and anything else.
pub(crate) fn parse_xml(body: &[u8]) -> Result<Fields, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_owned())?;
    let mut rest = text.trim();
    if let Some(after) = rest.strip_prefix("<?xml") {
        let end = after.find("?>").ok_or("unterminated XML declaration")?;
        rest = after.get(end + 2..).unwrap_or_default().trim_start();
    }
    if rest.contains("<!DOCTYPE") || rest.contains("<!ENTITY") {
        return Err("DTDs are not allowed".to_owned());
    }
    let mut rest = rest
        .strip_prefix("<xml>")
        .and_then(|r| r.strip_suffix("</xml>"))
        .ok_or("the body is not <xml>...</xml>")?;
    let mut fields = Fields::new();
    let mut seen: HashSet<&str> = HashSet::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(fields);
        }
        let after_lt = rest.strip_prefix('<').ok_or("expected an element")?;
        let end = after_lt.find('>').ok_or("unterminated tag")?;
        let name = after_lt.get(..end).unwrap_or_default();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format!("bad element name {name:?}"));
        }
        rest = after_lt.get(end + 1..).unwrap_or_default();
        let close = format!("</{name}>");
        let mut value = String::new();
        loop {
            if let Some(after) = rest.strip_prefix("<![CDATA[") {
                let end = after.find("]]>").ok_or("unterminated CDATA section")?;
                value.push_str(after.get(..end).unwrap_or_default());
                rest = after.get(end + 3..).unwrap_or_default();
            } else if let Some(after) = rest.strip_prefix(close.as_str()) {
                rest = after;
                break;
            } else if rest.starts_with('<') {
                return Err(format!("element {name} is not flat text"));
            } else {
                let end = rest.find('<').ok_or("unterminated element")?;
                value.push_str(&unescape(rest.get(..end).unwrap_or_default())?);
                rest = rest.get(end..).unwrap_or_default();
            }
        }
        if !seen.insert(name) {
            return Err(format!("element {name} appears twice"));
        }
        fields.push((name.to_owned(), value));
    }
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        let after = rest.get(amp + 1..).unwrap_or_default();
        let semi = after.find(';').ok_or("unterminated entity")?;
        let entity = after.get(..semi).unwrap_or_default();
        let ch = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse::<u32>().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| format!("unknown entity &{entity};"))?
            }
        };
        out.push(ch);
        rest = after.get(semi + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

/// `<xml><k><![CDATA[v]]></k>...</xml>`.
pub(crate) fn write_xml(fields: &[(String, String)]) -> String {
    let mut out = String::from("<xml>");
    for (k, v) in fields {
        out.push('<');
        out.push_str(k);
        out.push_str("><![CDATA[");
        out.push_str(&v.replace("]]>", "]]]]><![CDATA[>"));
        out.push_str("]]></");
        out.push_str(k);
        out.push('>');
    }
    out.push_str("</xml>");
    out
}

/// What the service needs from an APIv2 request: the verdict for the log and the answer.
pub(crate) struct Outcome {
    pub(crate) verdict: Result<(), String>,
    pub(crate) response: Response<Full<Bytes>>,
}

fn xml_response(status: u16, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    response
}

/// `<xml><return_code>FAIL</return_code><return_msg>..</return_msg></xml>`, unsigned.
pub(crate) fn fail_response(status: u16, message: &str) -> Response<Full<Bytes>> {
    xml_response(
        status,
        write_xml(&[
            ("return_code".into(), "FAIL".into()),
            ("return_msg".into(), message.into()),
        ]),
    )
}

/// The request's sign type from `sign_type` (absent: MD5).
fn sign_type_of(fields: &Fields) -> Result<SignType, String> {
    match field(fields, "sign_type") {
        None | Some("MD5") => Ok(SignType::Md5),
        Some("HMAC-SHA256") => Ok(SignType::HmacSha256),
        Some(other) => Err(format!("unsupported sign_type {other:?}")),
    }
}

fn field<'f>(fields: &'f Fields, name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// The sandbox's own check of a request's `sign`.
fn verify(state: &State, fields: &Fields) -> Result<SignType, String> {
    let given = field(fields, "sign").ok_or("the request has no sign")?;
    let sign_type = sign_type_of(fields)?;
    let expected = sign(fields, &state.keys.apiv2_secret, sign_type)
        .map_err(|e| format!("cannot compute the sign: {e}"))?;
    if given == expected {
        Ok(sign_type)
    } else {
        Err(format!(
            "sign mismatch ({}): got {given}",
            match sign_type {
                SignType::Md5 => "MD5",
                SignType::HmacSha256 => "HMAC-SHA256",
            }
        ))
    }
}

/// What a business handler answers.
enum Answer {
    /// `return_code` FAIL (unsigned) with this message.
    Fail(String),
    /// `return_code` SUCCESS, signed, with these fields (including `result_code`).
    Fields(Vec<(&'static str, String)>),
}

fn business_error(code: &str, description: &str) -> Answer {
    Answer::Fields(vec![
        ("result_code", "FAIL".into()),
        ("err_code", code.into()),
        ("err_code_des", description.into()),
    ])
}

fn required<'f>(fields: &'f Fields, name: &str) -> Result<&'f str, Answer> {
    field(fields, name).ok_or_else(|| Answer::Fail(format!("{name} is required")))
}

fn amount(fields: &Fields, name: &str) -> Result<u64, Answer> {
    required(fields, name)?
        .parse::<u64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| Answer::Fail(format!("{name} must be a positive integer (fen)")))
}

/// Handles one APIv2 request.
pub(crate) fn handle(
    state: &State,
    method: &Method,
    path: &str,
    body: &[u8],
    tls: bool,
    fault: Option<Fault>,
) -> Outcome {
    let fields = match parse_xml(body) {
        Ok(fields) => fields,
        Err(reason) => {
            return Outcome {
                verdict: Err(reason),
                response: fail_response(200, "XML格式错误"),
            };
        }
    };
    let sign_type = match verify(state, &fields) {
        Ok(sign_type) => sign_type,
        Err(reason) => {
            return Outcome {
                verdict: Err(reason),
                response: fail_response(200, "签名错误"),
            };
        }
    };
    let verdict = Ok(());
    if let Some(Fault::ServerError(status)) = fault {
        return Outcome {
            verdict,
            response: fail_response(status, "SYSTEMERROR"),
        };
    }
    let answer = match (method.as_str(), path) {
        ("POST", "/pay/micropay") => micropay(state, &fields),
        ("POST", "/pay/orderquery") => orderquery(state, &fields),
        ("POST", "/secapi/pay/refund") if tls => refund(state, &fields),
        ("POST", "/secapi/pay/refund") => Err(Answer::Fail(
            "证书错误: this API needs mutual TLS (the tls_base_uri port)".into(),
        )),
        _ => {
            return Outcome {
                verdict,
                response: fail_response(404, "no such APIv2 API"),
            };
        }
    };
    let answer = answer.unwrap_or_else(|a| a);
    let response = match answer {
        Answer::Fail(message) => fail_response(200, &message),
        Answer::Fields(business) => match signed_answer(state, &fields, business, sign_type, fault)
        {
            Ok(xml) => xml_response(200, xml),
            Err(e) => fail_response(500, &format!("sandbox: cannot sign the answer: {e}")),
        },
    };
    Outcome { verdict, response }
}

fn signed_answer(
    state: &State,
    request: &Fields,
    business: Vec<(&'static str, String)>,
    sign_type: SignType,
    fault: Option<Fault>,
) -> Result<String> {
    let mut fields: Fields = vec![
        ("return_code".into(), "SUCCESS".into()),
        ("return_msg".into(), "OK".into()),
    ];
    for name in ["appid", "mch_id"] {
        if let Some(value) = field(request, name) {
            fields.push((name.into(), value.into()));
        }
    }
    fields.push(("nonce_str".into(), random_alnum(16)?));
    fields.extend(business.into_iter().map(|(k, v)| (k.to_owned(), v)));
    let secret = if fault == Some(Fault::BadSignature) {
        // Signed with another key.
        format!("{}x", state.keys.apiv2_secret)
    } else {
        state.keys.apiv2_secret.clone()
    };
    let sign = sign(&fields, &secret, sign_type)?;
    fields.push(("sign".into(), sign));
    if fault == Some(Fault::TamperedBody) {
        if let Some((_, nonce)) = fields.iter_mut().find(|(k, _)| k == "nonce_str") {
            nonce.push('x');
        }
    }
    Ok(write_xml(&fields))
}

fn check_mch_id(state: &State, fields: &Fields) -> Result<(), Answer> {
    let mch_id = required(fields, "mch_id")?;
    if mch_id == state.keys.mchid {
        Ok(())
    } else {
        Err(Answer::Fail(format!(
            "mch_id {mch_id:?} is not this merchant"
        )))
    }
}

fn internal(e: impl std::fmt::Display) -> Answer {
    Answer::Fail(format!("SYSTEMERROR: {e}"))
}

fn micropay(state: &State, fields: &Fields) -> Result<Answer, Answer> {
    let appid = required(fields, "appid")?;
    check_mch_id(state, fields)?;
    let body = required(fields, "body")?;
    let out_trade_no = required(fields, "out_trade_no")?;
    let total = amount(fields, "total_fee")?;
    required(fields, "spbill_create_ip")?;
    let auth_code = required(fields, "auth_code")?;
    let valid_code = auth_code.len() == 18
        && auth_code.bytes().all(|b| b.is_ascii_digit())
        && ("10".."16").contains(&auth_code.get(..2).unwrap_or_default());
    if !valid_code {
        return Ok(business_error(
            "AUTH_CODE_INVALID",
            "付款码无效，请重新扫码",
        ));
    }
    let mut store = state.store();
    if let Some(existing) = store.orders.get(out_trade_no) {
        if existing.state != TradeState::NotPay {
            return Ok(business_error("ORDERPAID", "订单已支付"));
        }
    }
    let openid = format!("o{}", random_alnum(27).map_err(internal)?);
    let mut order = Order {
        appid: appid.to_owned(),
        mchid: state.keys.mchid.clone(),
        out_trade_no: out_trade_no.to_owned(),
        description: body.to_owned(),
        attach: field(fields, "attach").unwrap_or_default().to_owned(),
        trade_type: "MICROPAY".into(),
        total,
        currency: field(fields, "fee_type").unwrap_or("CNY").to_owned(),
        openid,
        state: TradeState::NotPay,
        transaction_id: None,
        success_time: None,
        prepay: serde_json::Value::Null,
        refunded: 0,
    };
    order.pay().map_err(internal)?;
    let answer = paid_fields(&order);
    store.orders.insert(out_trade_no.to_owned(), order);
    Ok(Answer::Fields(answer))
}

/// The fields of a paid order in micropay and orderquery answers.
fn paid_fields(order: &Order) -> Vec<(&'static str, String)> {
    let time_end = order
        .success_time
        .map(|t| Beijing::at(t).compact())
        .unwrap_or_default();
    vec![
        ("result_code", "SUCCESS".into()),
        ("openid", order.openid.clone()),
        ("is_subscribe", "N".into()),
        ("trade_type", order.trade_type.clone()),
        ("bank_type", "OTHERS".into()),
        ("fee_type", order.currency.clone()),
        ("total_fee", order.total.to_string()),
        ("cash_fee_type", order.currency.clone()),
        ("cash_fee", order.total.to_string()),
        (
            "transaction_id",
            order.transaction_id.clone().unwrap_or_default(),
        ),
        ("out_trade_no", order.out_trade_no.clone()),
        ("attach", order.attach.clone()),
        ("time_end", time_end),
    ]
}

fn orderquery(state: &State, fields: &Fields) -> Result<Answer, Answer> {
    required(fields, "appid")?;
    check_mch_id(state, fields)?;
    let out_trade_no = field(fields, "out_trade_no");
    let transaction_id = field(fields, "transaction_id");
    if out_trade_no.is_none() && transaction_id.is_none() {
        return Err(Answer::Fail(
            "transaction_id or out_trade_no is required".into(),
        ));
    }
    let mut store = state.store();
    let Some(order) = store.find_order(out_trade_no, transaction_id) else {
        return Ok(business_error("ORDERNOTEXIST", "此交易订单号不存在"));
    };
    let mut answer = if order.transaction_id.is_some() {
        paid_fields(order)
    } else {
        vec![
            ("result_code", "SUCCESS".into()),
            ("out_trade_no", order.out_trade_no.clone()),
            ("total_fee", order.total.to_string()),
        ]
    };
    answer.push(("trade_state", order.state.code().into()));
    answer.push(("trade_state_desc", order.state.description().into()));
    Ok(Answer::Fields(answer))
}

fn refund_fields(refund: &Refund) -> Vec<(&'static str, String)> {
    vec![
        ("result_code", "SUCCESS".into()),
        ("transaction_id", refund.transaction_id.clone()),
        ("out_trade_no", refund.out_trade_no.clone()),
        ("out_refund_no", refund.out_refund_no.clone()),
        ("refund_id", refund.refund_id.clone()),
        ("refund_fee", refund.refund.to_string()),
        ("settlement_refund_fee", refund.refund.to_string()),
        ("total_fee", refund.total.to_string()),
        ("settlement_total_fee", refund.total.to_string()),
        ("fee_type", refund.currency.clone()),
        ("cash_fee", refund.total.to_string()),
        ("cash_refund_fee", refund.refund.to_string()),
    ]
}

fn refund(state: &State, fields: &Fields) -> Result<Answer, Answer> {
    required(fields, "appid")?;
    check_mch_id(state, fields)?;
    let out_refund_no = required(fields, "out_refund_no")?;
    let total = amount(fields, "total_fee")?;
    let refund_fee = amount(fields, "refund_fee")?;
    let out_trade_no = field(fields, "out_trade_no");
    let transaction_id = field(fields, "transaction_id");
    if out_trade_no.is_none() && transaction_id.is_none() {
        return Err(Answer::Fail(
            "transaction_id or out_trade_no is required".into(),
        ));
    }
    let mut store = state.store();
    if let Some(existing) = store.refunds.get(out_refund_no) {
        return Ok(Answer::Fields(refund_fields(existing)));
    }
    let Some(order) = store.find_order(out_trade_no, transaction_id) else {
        return Ok(business_error("ORDERNOTEXIST", "订单不存在"));
    };
    let Some(paid_id) = order.transaction_id.clone() else {
        return Ok(business_error("TRADE_STATE_ERROR", "订单状态错误"));
    };
    if total != order.total {
        return Ok(business_error("PARAM_ERROR", "total_fee与订单金额不符"));
    }
    if refund_fee > order.total - order.refunded {
        return Ok(business_error("NOTENOUGH", "余额不足"));
    }
    order.refunded += refund_fee;
    order.state = TradeState::Refund;
    let record = Refund {
        refund_id: format!("503{}", random_digits(26).map_err(internal)?),
        out_refund_no: out_refund_no.to_owned(),
        transaction_id: paid_id,
        out_trade_no: order.out_trade_no.clone(),
        refund: refund_fee,
        total,
        currency: order.currency.clone(),
        create_time: now_unix(),
        settled: false,
    };
    let answer = refund_fields(&record);
    store.refunds.insert(out_refund_no.to_owned(), record);
    Ok(Answer::Fields(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector() -> Fields {
        [
            ("appid", "wxd930ea5d5a258f4f"),
            ("mch_id", "10000100"),
            ("device_info", "1000"),
            ("body", "test"),
            ("nonce_str", "ibuaiVcKdpRxkhJA"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn published_sign_vectors() {
        let secret = "192006250b4c09247ec02edce69f6a2d";
        assert_eq!(
            sign(&vector(), secret, SignType::Md5).unwrap(),
            "9A0A8659F005D6984697E2CA0A9CF3B7"
        );
        assert_eq!(
            sign(&vector(), secret, SignType::HmacSha256).unwrap(),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        );
    }

    #[test]
    fn xml_round_trip_and_refusals() {
        let fields: Fields = vec![
            ("a".into(), "x < y & \"z\" ]]> w".into()),
            ("b".into(), "中文".into()),
        ];
        assert_eq!(parse_xml(write_xml(&fields).as_bytes()).unwrap(), fields);
        let parsed =
            parse_xml(b"<?xml version=\"1.0\"?>\n<xml>\n <a>1 &lt; 2 &#x4e2d;</a>\n</xml>")
                .unwrap();
        assert_eq!(parsed, vec![("a".to_owned(), "1 < 2 中".to_owned())]);
        for bad in [
            &b"<!DOCTYPE x [<!ENTITY e \"e\">]><xml><a>&e;</a></xml>"[..],
            b"<xml><a><b>1</b></a></xml>",
            b"<xml><a>1</a><a>2</a></xml>",
            b"<xml><a>1</xml>",
            b"<xml><a>&bogus;</a></xml>",
            b"<xml><>1</></xml>",
            b"\xff",
            b"",
        ] {
            assert!(parse_xml(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        // Truncations never panic.
        let doc = write_xml(&fields);
        for end in 0..doc.len() {
            let _ = parse_xml(&doc.as_bytes()[..end]);
        }
    }

    #[test]
    fn many_fields_and_a_late_duplicate() {
        // 50 000 distinct fields parse (the duplicate check is not quadratic) ...
        let mut many: Fields = (0..50_000)
            .map(|n| (format!("f{n}"), n.to_string()))
            .collect();
        assert_eq!(parse_xml(write_xml(&many).as_bytes()).unwrap(), many);
        // ... and one repeated at the end is refused.
        many.push(("f7".into(), "again".into()));
        let error = parse_xml(write_xml(&many).as_bytes()).unwrap_err();
        assert!(error.contains("f7 appears twice"), "{error}");
    }
}
