//! Signed answers served to the wrong request (issue 17, findings 1 and 2): the answer's
//! signature covers only `timestamp\nnonce\nbody\n`, so a machine in the middle with no key can
//! hold a request and answer it with any signed answer it saw. The client refuses an answer it
//! saw before, an error document served with a success status, and an APIv2 answer that echoes
//! another request's identifiers.

use std::sync::{Arc, Mutex};

use serde_json::json;
use wechatpay::replay::{Fingerprint, InMemory, ReplayMemory, Sighting};
use wechatpay::{ErrorKind, VerificationFailure};
use wechatpay_sandbox::{Answer, Sandbox};

mod support;
use support::{intercept, merchant_of, replayed};

/// A client of the sandbox (its public key trusted) that remembers answers in `memory`.
fn with_memory(sandbox: &Sandbox, memory: impl ReplayMemory) -> wechatpay::Client {
    let id = sandbox.identity();
    merchant_of(sandbox)
        .platform_key(&id.public_key_id, &id.public_key_pem)
        .replay_memory(memory)
        .build()
        .unwrap()
}

fn order(sandbox: &Sandbox, out_trade_no: &str) -> serde_json::Value {
    json!({ "json": {
        "appid": "wxd678efh567hg6787", "mchid": sandbox.identity().mchid, "description": "replay",
        "out_trade_no": out_trade_no, "notify_url": "https://example.com/notify",
        "amount": { "total": 100, "currency": "CNY" },
    } })
}

#[test]
fn a_signed_204_from_one_request_is_refused_as_the_answer_to_another() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();
    client["v3/pay/transactions/native"]
        .post(order(&sandbox, "REPLAY-1"))
        .unwrap();
    // A close-order: an empty, signed 204.
    let closed = client["v3/pay/transactions/out-trade-no/{no}/close"]
        .post(json!({ "no": "REPLAY-1", "json": { "mchid": mchid } }))
        .unwrap();
    assert_eq!(closed.status(), 204);
    assert!(closed.signature_verified());

    // The refund that follows never reaches WeChat Pay: the close-order's 204 comes back.
    let slot = intercept(&sandbox, "/v3/refund/domestic/refunds");
    *slot.lock().unwrap() = Some(replayed(204, b"", closed.headers()));
    let refund = json!({ "json": {
        "out_trade_no": "REPLAY-1", "out_refund_no": "REFUND-1",
        "amount": { "refund": 100, "total": 100, "currency": "CNY" },
    } });
    let err = client["v3/refund/domestic/refunds"]
        .post(refund.clone())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification, "{err}");
    let nonce = closed.headers()["Wechatpay-Nonce"].to_str().unwrap();
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::Replayed {
            serial: closed.headers()["Wechatpay-Serial"]
                .to_str()
                .unwrap()
                .to_owned(),
            nonce: nonce.to_owned(),
        })
    );
    assert!(
        err.to_string().contains("received before: a replay"),
        "{err}"
    );
    // Kept for inspection, and not a success.
    assert!(!err.response().unwrap().signature_verified());

    // The async form too, and a second replay of the same answer.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt
        .block_on(client["v3/refund/domestic/refunds"].post_async(refund))
        .unwrap_err();
    assert!(
        matches!(
            err.verification(),
            Some(VerificationFailure::Replayed { .. })
        ),
        "{err}"
    );
}

#[test]
fn a_signed_error_document_served_as_200_is_refused() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let mchid = sandbox.identity().mchid.clone();
    let query = client.chain("v3/pay/transactions/out-trade-no/{no}{?mchid}");
    // A genuine, signed 404 for an order that does not exist...
    let missing = query
        .get(json!({ "no": "NO-SUCH-ORDER", "mchid": mchid }))
        .unwrap_err();
    let answer = missing.response().unwrap().clone();
    assert_eq!(answer.status(), 404);
    assert_eq!(
        missing.api().unwrap().code(),
        Some("ORDER_NOT_EXIST"),
        "{missing}"
    );
    // ...served with status 200 as the answer to the query of a paid order.
    let slot = intercept(&sandbox, "/v3/pay/transactions/out-trade-no/PAID-1");
    *slot.lock().unwrap() = Some(replayed(200, answer.bytes(), answer.headers()));
    let err = query
        .get(json!({ "no": "PAID-1", "mchid": mchid }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification, "{err}");
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::ErrorDocument {
            status: 200,
            code: "ORDER_NOT_EXIST".to_owned()
        })
    );
}

/// The success answer some operations document (`v3/gov/subsidy/...`): a code of digits and a
/// message, which is not an error document.
#[test]
fn a_success_answer_shaped_as_code_and_message_passes() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let success = json!({ "code": "000000", "message": "成功" });
    let body = success.clone();
    sandbox.script(move |request| {
        (request.path() == "/v3/gov/subsidy/sncode/lock").then(|| Answer::json(200, &body))
    });
    let answer = client["v3/gov/subsidy/sncode/lock"]
        .post(json!({ "json": { "sn_code": "SN1" } }))
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.signature_verified());
    assert_eq!(answer.json::<serde_json::Value>().unwrap(), success);
}

#[test]
fn genuine_answers_pass_and_each_is_remembered_once() {
    let sandbox = Sandbox::start().unwrap();
    // A memory the test can look into, shared with the client.
    #[derive(Clone)]
    struct Counted(Arc<InMemory>, Arc<Mutex<Vec<Fingerprint>>>);
    impl ReplayMemory for Counted {
        fn sight(&self, fingerprint: &Fingerprint, expires_at: i64, now: i64) -> Sighting {
            self.1.lock().unwrap().push(*fingerprint);
            self.0.sight(fingerprint, expires_at, now)
        }
    }
    let memory = Counted(Arc::new(InMemory::new(100)), Arc::default());
    let client = with_memory(&sandbox, memory.clone());
    for n in 0..20 {
        let answer = client["v3/pay/transactions/native"]
            .post(order(&sandbox, &format!("GENUINE-{n}")))
            .unwrap();
        let h = |name: &str| answer.headers()[name].to_str().unwrap().to_owned();
        let expected = Fingerprint::of(
            &h("Wechatpay-Serial"),
            &h("Wechatpay-Nonce"),
            &h("Wechatpay-Signature"),
        );
        assert_eq!(memory.1.lock().unwrap().last(), Some(&expected));
    }
    assert_eq!(memory.1.lock().unwrap().len(), 20);
    assert_eq!(memory.0.len(), 20);
    // An answer that fails its check is not remembered (an attacker cannot fill the memory).
    sandbox.set_fault(Some(wechatpay_sandbox::Fault::BadSignature));
    assert!(
        client["v3/pay/transactions/native"]
            .post(order(&sandbox, "BAD"))
            .is_err()
    );
    assert_eq!(memory.0.len(), 20);
}

#[test]
fn blocking_calls_ask_the_memory_on_their_own_thread_and_async_calls_await_it() {
    // A memory that says how it was asked, and from which thread.
    type Asked = Arc<Mutex<Vec<(&'static str, std::thread::ThreadId)>>>;
    #[derive(Clone)]
    struct Recorded(Arc<InMemory>, Asked);
    impl ReplayMemory for Recorded {
        fn sight(&self, fingerprint: &Fingerprint, expires_at: i64, now: i64) -> Sighting {
            let thread = std::thread::current().id();
            self.1.lock().unwrap().push(("sight", thread));
            self.0.sight(fingerprint, expires_at, now)
        }
        fn sight_async<'a>(
            &'a self,
            fingerprint: &'a Fingerprint,
            expires_at: i64,
            now: i64,
        ) -> wechatpay::replay::SightFuture<'a> {
            let thread = std::thread::current().id();
            self.1.lock().unwrap().push(("sight_async", thread));
            Box::pin(std::future::ready(self.0.sight(
                fingerprint,
                expires_at,
                now,
            )))
        }
    }
    let sandbox = Sandbox::start().unwrap();
    let memory = Recorded(Arc::new(InMemory::new(100)), Arc::default());
    let client = with_memory(&sandbox, memory.clone());
    // Blocking: `sight`, on the calling thread (a Redis memory's round trip from there, not
    // through the client's runtime thread and back).
    client["v3/pay/transactions/native"]
        .post(order(&sandbox, "ASKED-1"))
        .unwrap();
    let caller = std::thread::current().id();
    assert_eq!(*memory.1.lock().unwrap(), [("sight", caller)]);
    // Async: `sight_async`, awaited on the caller's runtime.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(client["v3/pay/transactions/native"].post_async(order(&sandbox, "ASKED-2")))
        .unwrap();
    assert_eq!(memory.1.lock().unwrap()[1], ("sight_async", caller));
    assert_eq!(memory.1.lock().unwrap().len(), 2);
}

fn micropay(sandbox: &Sandbox, out_trade_no: &str) -> serde_json::Value {
    json!({ "xml": {
        "appid": "wx2421b1c4370ec43b", "mch_id": sandbox.identity().mchid,
        "body": "replay", "out_trade_no": out_trade_no, "total_fee": 888,
        "spbill_create_ip": "8.8.8.8", "auth_code": "120061098828009406",
    } })
}

#[test]
fn an_apiv2_answer_for_another_order_is_refused() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    // A genuine, signed SUCCESS for order A...
    let paid = client["v2/pay/micropay"]
        .post(micropay(&sandbox, "V2-ORDER-A"))
        .unwrap();
    assert!(paid.signature_verified());
    assert_eq!(paid.xml().unwrap()["out_trade_no"], "V2-ORDER-A");
    // ...as the answer for order B: APIv2 answers carry no timestamp, and the sign still holds.
    let slot = intercept(&sandbox, "/pay/micropay");
    *slot.lock().unwrap() = Some(Answer::raw(200, "text/xml", paid.bytes().to_vec()));
    let err = client["v2/pay/micropay"]
        .post(micropay(&sandbox, "V2-ORDER-B"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification, "{err}");
    assert_eq!(
        err.verification(),
        Some(&VerificationFailure::EchoMismatch {
            field: "out_trade_no".to_owned(),
            sent: "V2-ORDER-B".to_owned(),
            answered: "V2-ORDER-A".to_owned(),
        })
    );
    assert!(!err.response().unwrap().signature_verified());
    // The same answer for order A itself is its own answer.
    let again = client["v2/pay/micropay"]
        .post(micropay(&sandbox, "V2-ORDER-A"))
        .unwrap();
    assert!(again.signature_verified());
}
