//! Callbacks: the sandbox plays WeChat Pay POSTing an encrypted, signed notification to a
//! merchant's `notify_url`.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::faults::{Fault, SignMode};
use crate::reply::SignatureHeaders;
use crate::sign::{SCHEME, aead_encrypt};
use crate::state::{Signer, State};
use crate::store::{Order, TradeState};
use crate::util::{Beijing, now_rfc3339, random_alnum, random_digits};

/// How long a delivery may take (connect, send, answer).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// How a notification is spoiled, to check that a receiver refuses it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum NotifyVariant {
    /// As WeChat Pay sends it.
    #[default]
    Valid,
    /// The signature does not verify.
    BadSignature,
    /// `Wechatpay-Timestamp` is 400 s old (signed consistently).
    StaleTimestamp,
    /// The envelope `id` of the previous valid (or duplicate) notification again, correctly
    /// signed (a fresh id if there was none): what WeChat Pay's retries look like. A receiver
    /// must not process it twice.
    DuplicateId,
}

impl NotifyVariant {
    /// Every variant.
    pub const ALL: [NotifyVariant; 4] = [
        NotifyVariant::Valid,
        NotifyVariant::BadSignature,
        NotifyVariant::StaleTimestamp,
        NotifyVariant::DuplicateId,
    ];

    /// Its name in kebab case: `valid`, `bad-signature`, `stale-timestamp`, `duplicate-id`.
    pub fn name(self) -> &'static str {
        match self {
            NotifyVariant::Valid => "valid",
            NotifyVariant::BadSignature => "bad-signature",
            NotifyVariant::StaleTimestamp => "stale-timestamp",
            NotifyVariant::DuplicateId => "duplicate-id",
        }
    }
}

impl std::fmt::Display for NotifyVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for NotifyVariant {
    type Err = String;

    /// The [`name`](Self::name) of a variant.
    fn from_str(s: &str) -> Result<NotifyVariant, String> {
        let name = s.trim();
        NotifyVariant::ALL
            .into_iter()
            .find(|v| v.name() == name)
            .ok_or_else(|| {
                format!(
                    "unknown notification variant {name:?}: expected valid, bad-signature, \
                     stale-timestamp or duplicate-id"
                )
            })
    }
}

#[derive(Clone, Debug)]
enum Kind {
    Payment {
        out_trade_no: String,
    },
    Refund {
        out_refund_no: String,
    },
    Custom {
        event_type: String,
        summary: String,
        original_type: String,
        resource: Value,
    },
}

/// What a notification reports.
#[derive(Clone, Debug)]
pub struct Event {
    kind: Kind,
    variant: NotifyVariant,
}

impl Event {
    /// `TRANSACTION.SUCCESS` for the order `out_trade_no`: the sandbox marks it paid (an
    /// order it does not know is created, 1 fen, and paid) and sends its transaction.
    pub fn payment(out_trade_no: impl Into<String>) -> Event {
        Event {
            kind: Kind::Payment {
                out_trade_no: out_trade_no.into(),
            },
            variant: NotifyVariant::Valid,
        }
    }

    /// `REFUND.SUCCESS` for the refund `out_refund_no`, which must exist.
    pub fn refund(out_refund_no: impl Into<String>) -> Event {
        Event {
            kind: Kind::Refund {
                out_refund_no: out_refund_no.into(),
            },
            variant: NotifyVariant::Valid,
        }
    }

    /// Any event: `resource` is encrypted as is, with `associated_data` = `original_type`.
    pub fn custom(
        event_type: impl Into<String>,
        summary: impl Into<String>,
        original_type: impl Into<String>,
        resource: Value,
    ) -> Event {
        Event {
            kind: Kind::Custom {
                event_type: event_type.into(),
                summary: summary.into(),
                original_type: original_type.into(),
                resource,
            },
            variant: NotifyVariant::Valid,
        }
    }

    /// This event, spoiled as `variant` says.
    pub fn variant(mut self, variant: NotifyVariant) -> Event {
        self.variant = variant;
        self
    }

    /// Its spoiling.
    pub(crate) fn spoiling(&self) -> NotifyVariant {
        self.variant
    }

    /// The key of the order's or refund's callback in [`Store::callbacks`]
    /// (`transaction:{out_trade_no}`, `refund:{out_refund_no}`); `None` for a custom event.
    ///
    /// [`Store::callbacks`]: crate::store::Store::callbacks
    pub(crate) fn callback_key(&self) -> Option<String> {
        match &self.kind {
            Kind::Payment { out_trade_no } => Some(format!("transaction:{out_trade_no}")),
            Kind::Refund { out_refund_no } => Some(format!("refund:{out_refund_no}")),
            Kind::Custom { .. } => None,
        }
    }
}

/// A notification built once (its `id` and body fixed) and signed anew for each delivery, as
/// WeChat Pay's retries and duplicates are: same `id`, same body, fresh signature headers.
#[derive(Clone, Debug)]
pub(crate) struct Notification {
    /// The envelope's `id`.
    pub(crate) id: String,
    /// The envelope's `event_type`.
    pub(crate) event_type: String,
    body: Vec<u8>,
    /// The spoiling of its variant, applied at every signing.
    fault: Option<Fault>,
}

/// A notification signed for one delivery to one URL.
pub(crate) struct Prepared {
    uri: Uri,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Notify(e.to_string())
}

/// The event's type, summary, original type and plaintext resource.
fn resource(state: &State, kind: &Kind) -> Result<(String, String, String, Value)> {
    match kind {
        Kind::Payment { out_trade_no } => {
            let mut store = state.store();
            if !store.orders.contains_key(out_trade_no) {
                let order = Order {
                    appid: format!("wx{}", random_digits(16)?),
                    mchid: state.keys.mchid.clone(),
                    out_trade_no: out_trade_no.clone(),
                    description: "sandbox order".into(),
                    attach: String::new(),
                    trade_type: "JSAPI".into(),
                    total: 1,
                    currency: "CNY".into(),
                    openid: format!("o{}", random_alnum(27)?),
                    state: TradeState::NotPay,
                    transaction_id: None,
                    success_time: None,
                    prepay: Value::Null,
                    refunded: 0,
                    notify_url: None,
                };
                store.orders.insert(out_trade_no.clone(), order);
            }
            let order = store
                .orders
                .get_mut(out_trade_no)
                .ok_or_else(|| Error::Notify("the order vanished".into()))?;
            order.pay()?;
            Ok((
                "TRANSACTION.SUCCESS".into(),
                "支付成功".into(),
                "transaction".into(),
                order.v3_json(),
            ))
        }
        Kind::Refund { out_refund_no } => {
            let mut store = state.store();
            let refund = store
                .refunds
                .get_mut(out_refund_no)
                .ok_or_else(|| Error::Notify(format!("no refund {out_refund_no:?}")))?;
            refund.settled = true;
            let resource = json!({
                "mchid": state.keys.mchid,
                "out_trade_no": refund.out_trade_no,
                "transaction_id": refund.transaction_id,
                "out_refund_no": refund.out_refund_no,
                "refund_id": refund.refund_id,
                "refund_status": "SUCCESS",
                "success_time": Beijing::at(refund.create_time + 1).rfc3339(),
                "user_received_account": "支付用户零钱",
                "amount": {
                    "total": refund.total,
                    "refund": refund.refund,
                    "payer_total": refund.total,
                    "payer_refund": refund.refund,
                },
            });
            Ok((
                "REFUND.SUCCESS".into(),
                "退款成功".into(),
                "refund".into(),
                resource,
            ))
        }
        Kind::Custom {
            event_type,
            summary,
            original_type,
            resource,
        } => Ok((
            event_type.clone(),
            summary.clone(),
            original_type.clone(),
            resource.clone(),
        )),
    }
}

/// The URL as a delivery target: `http://host[:port]/path` only.
pub(crate) fn check_url(url: &str) -> Result<Uri> {
    let uri: Uri = url
        .parse()
        .map_err(|e| Error::Notify(format!("bad notify URL {url:?}: {e}")))?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(Error::Notify(format!(
            "the notify URL must be http://host[:port]/path (the sandbox does not deliver over \
             TLS): {url:?}"
        )));
    }
    Ok(uri)
}

/// Builds the notification for `event` (and updates the sandbox's state: the order paid, the
/// refund settled), without signing or sending it.
pub(crate) fn build(state: &State, event: &Event) -> Result<Notification> {
    let (event_type, summary, original_type, plaintext) = resource(state, &event.kind)?;
    let nonce = random_alnum(12)?;
    let plaintext = serde_json::to_vec(&plaintext).map_err(internal)?;
    let ciphertext = aead_encrypt(&state.keys.apiv3_key, &nonce, &original_type, &plaintext)?;
    let id = {
        let mut store = state.store();
        let id = match (event.variant, &store.last_notification_id) {
            (NotifyVariant::DuplicateId, Some(previous)) => previous.clone(),
            _ => format!("EV-{}", random_digits(19)?),
        };
        // Spoiled deliveries are not notifications WeChat Pay would retry.
        if matches!(
            event.variant,
            NotifyVariant::Valid | NotifyVariant::DuplicateId
        ) {
            store.last_notification_id = Some(id.clone());
        }
        id
    };
    let envelope = json!({
        "id": id,
        "create_time": now_rfc3339(),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": original_type,
            "nonce": nonce,
        },
    });
    let body = serde_json::to_vec(&envelope).map_err(internal)?;
    let fault = match event.variant {
        NotifyVariant::BadSignature => Some(Fault::BadSignature),
        NotifyVariant::StaleTimestamp => Some(Fault::StaleTimestamp),
        NotifyVariant::Valid | NotifyVariant::DuplicateId => None,
    };
    Ok(Notification {
        id,
        event_type,
        body,
        fault,
    })
}

/// Signs `notification` for one delivery to `uri` (fresh timestamp and nonce).
pub(crate) fn sign(
    state: &State,
    notification: &Notification,
    uri: Uri,
    mode: SignMode,
) -> Result<Prepared> {
    let body = notification.body.clone();
    let signature = SignatureHeaders::new(
        state,
        mode,
        Signer::Newest,
        notification.fault.as_slice(),
        &body,
    )?;
    let mut headers: Vec<(&'static str, String)> = signature
        .pairs()
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect();
    headers.push(("Wechatpay-Signature-Type", SCHEME.to_owned()));
    Ok(Prepared { uri, body, headers })
}

/// Builds and signs the notification for one delivery (and updates the sandbox's state).
pub(crate) fn prepare(
    state: &State,
    url: &str,
    event: &Event,
    mode: SignMode,
) -> Result<(Notification, Prepared)> {
    let uri = check_url(url)?;
    let notification = build(state, event)?;
    let prepared = sign(state, &notification, uri, mode)?;
    Ok((notification, prepared))
}

/// POSTs the notification; the receiver's status.
pub(crate) async fn deliver(delivery: Prepared) -> Result<u16> {
    tokio::time::timeout(DELIVERY_TIMEOUT, send(delivery))
        .await
        .map_err(|_| Error::Notify("the receiver did not answer within 10 s".into()))?
}

async fn send(delivery: Prepared) -> Result<u16> {
    let Prepared { uri, body, headers } = delivery;
    let host = uri.host().unwrap_or_default().to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let authority = uri
        .authority()
        .map_or_else(|| host.clone(), |a| a.as_str().to_owned());
    let target = uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
    let connect_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let stream = tokio::net::TcpStream::connect((connect_host.as_str(), port))
        .await
        .map_err(|e| Error::Notify(format!("cannot connect to {authority}: {e}")))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(internal)?;
    tokio::spawn(connection);
    let mut request = Request::post(target)
        .header(http::header::HOST, authority)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "Mozilla/4.0 (wechatpay-sandbox)");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(internal)?;
    let response = sender.send_request(request).await.map_err(internal)?;
    let status = response.status().as_u16();
    // Read the answer so the receiver is not cut off mid-write.
    let _ = response.into_body().collect().await;
    Ok(status)
}
