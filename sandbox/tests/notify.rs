//! Callbacks: the sandbox POSTs a signed, encrypted notification to a small hyper receiver
//! that parses it with the real client's `notifications()` parser; every spoiled variant is
//! refused.

mod support;

use serde_json::json;
use support::receiver::{Received, Receiver};
use wechatpay::{ErrorKind, VerificationFailure};
use wechatpay_sandbox::{Error, Event, NotifyVariant, Sandbox, SignMode};

#[test]
fn a_payment_callback_is_accepted_in_both_modes() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let receiver = Receiver::start(&client);
    let mchid = sandbox.identity().mchid.clone();
    client["v3/pay/transactions/jsapi"]
        .post(json!({ "json": {
            "appid": "wxd678efh567hg6787", "mchid": mchid, "description": "QQ公仔",
            "out_trade_no": "N-1", "notify_url": receiver.url,
            "amount": { "total": 888 }, "payer": { "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
        }}))
        .unwrap();
    for (i, mode) in [SignMode::PublicKey, SignMode::Certificate]
        .into_iter()
        .enumerate()
    {
        sandbox.set_sign_mode(mode);
        let no = if i == 0 { "N-1" } else { "N-UNKNOWN" };
        let status = sandbox.notify(&receiver.url, Event::payment(no)).unwrap();
        assert_eq!(status, 204, "{mode}");
        let received = receiver.take();
        let [Received::Processed(id, event_type, tx)] = &received[..] else {
            panic!("{received:?}");
        };
        assert!(id.starts_with("EV-"));
        assert_eq!(event_type, "TRANSACTION.SUCCESS");
        assert_eq!(tx["out_trade_no"], no);
        assert_eq!(tx["trade_state"], "SUCCESS");
        assert_eq!(tx["mchid"], mchid.as_str());
        assert!(tx["transaction_id"].as_str().unwrap().starts_with("4200"));
    }
    // The order is now paid for the API too.
    let order: serde_json::Value = client["v3/pay/transactions/out-trade-no/{no}{?mchid}"]
        .get(json!({ "no": "N-1", "mchid": mchid }))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(order["trade_state"], "SUCCESS");
    assert_eq!(order["amount"]["total"], 888);
}

#[test]
fn every_spoiled_variant_is_refused() {
    let sandbox = Sandbox::start().unwrap();
    let receiver = Receiver::start(&sandbox.client());
    // A first delivery to duplicate.
    assert_eq!(
        sandbox
            .notify(&receiver.url, Event::payment("V-1"))
            .unwrap(),
        204
    );
    let first_id = match &receiver.take()[..] {
        [Received::Processed(id, ..)] => id.clone(),
        other => panic!("{other:?}"),
    };

    let status = sandbox
        .notify(
            &receiver.url,
            Event::payment("V-1").variant(NotifyVariant::BadSignature),
        )
        .unwrap();
    assert_eq!(status, 401);
    match &receiver.take()[..] {
        [Received::Refused(e)] => {
            assert_eq!(e.kind(), ErrorKind::Verification);
            assert!(matches!(
                e.verification(),
                Some(VerificationFailure::BadSignature { .. })
            ));
        }
        other => panic!("{other:?}"),
    }

    let status = sandbox
        .notify(
            &receiver.url,
            Event::payment("V-1").variant(NotifyVariant::StaleTimestamp),
        )
        .unwrap();
    assert_eq!(status, 401);
    match &receiver.take()[..] {
        [Received::Refused(e)] => assert!(matches!(
            e.verification(),
            Some(VerificationFailure::StaleTimestamp { .. })
        )),
        other => panic!("{other:?}"),
    }

    // The duplicate is signed correctly but carries the previous id: recognised, not
    // processed a second time.
    let status = sandbox
        .notify(
            &receiver.url,
            Event::payment("V-1").variant(NotifyVariant::DuplicateId),
        )
        .unwrap();
    assert_eq!(status, 200);
    match &receiver.take()[..] {
        [Received::Duplicate(id)] => assert_eq!(id, &first_id),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_duplicate_right_after_a_delivery_reuses_its_id() {
    let sandbox = Sandbox::start().unwrap();
    let receiver = Receiver::start(&sandbox.client());
    sandbox
        .notify(&receiver.url, Event::payment("D-1"))
        .unwrap();
    sandbox
        .notify(
            &receiver.url,
            Event::payment("D-1").variant(NotifyVariant::DuplicateId),
        )
        .unwrap();
    match &receiver.take()[..] {
        [Received::Processed(first, ..), Received::Duplicate(again)] => assert_eq!(first, again),
        other => panic!("{other:?}"),
    }
}

#[test]
fn refund_and_custom_events() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client();
    let receiver = Receiver::start(&client);
    sandbox
        .notify(&receiver.url, Event::payment("RF-1"))
        .unwrap();
    client["v3/refund/domestic/refunds"]
        .post(json!({ "json": {
            "out_trade_no": "RF-1", "out_refund_no": "RF-R-1",
            "amount": { "refund": 1, "total": 1, "currency": "CNY" },
        }}))
        .unwrap();
    assert_eq!(
        sandbox
            .notify(&receiver.url, Event::refund("RF-R-1"))
            .unwrap(),
        204
    );
    let custom = Event::custom(
        "COMPLAINT.CREATE",
        "产生新投诉",
        "complaint",
        json!({ "complaint_id": "200201820200101080076610000", "action_type": "CREATE_COMPLAINT" }),
    );
    assert_eq!(sandbox.notify(&receiver.url, custom).unwrap(), 204);
    let received = receiver.take();
    match &received[..] {
        [
            _,
            Received::Processed(_, refund_type, refund),
            Received::Processed(_, complaint_type, complaint),
        ] => {
            assert_eq!(refund_type, "REFUND.SUCCESS");
            assert_eq!(refund["refund_status"], "SUCCESS");
            assert_eq!(refund["out_refund_no"], "RF-R-1");
            assert_eq!(complaint_type, "COMPLAINT.CREATE");
            assert_eq!(complaint["action_type"], "CREATE_COMPLAINT");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        sandbox.notify(&receiver.url, Event::refund("NO-SUCH")),
        Err(Error::Notify(_))
    ));
}

#[test]
fn bad_urls_and_unreachable_receivers_are_errors() {
    let sandbox = Sandbox::start().unwrap();
    for url in ["not a url", "https://127.0.0.1:1/notify", "ftp://x/"] {
        assert!(
            matches!(
                sandbox.notify(url, Event::payment("U-1")),
                Err(Error::Notify(_))
            ),
            "{url}"
        );
    }
    // Nothing listens on a freshly closed port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let result = sandbox.notify(&format!("http://127.0.0.1:{port}/n"), Event::payment("U-1"));
    assert!(matches!(result, Err(Error::Notify(_))), "{result:?}");
}

#[tokio::test]
async fn notify_async_and_the_blocking_form_refuses_a_runtime_thread() {
    let sandbox = Sandbox::start_async().await.unwrap();
    let receiver = Receiver::start(&sandbox.client());
    let status = sandbox
        .notify_async(&receiver.url, Event::payment("A-1"))
        .await
        .unwrap();
    assert_eq!(status, 204);
    assert!(matches!(receiver.take()[..], [Received::Processed(..)]));
    assert!(matches!(
        sandbox.notify(&receiver.url, Event::payment("A-2")),
        Err(Error::BlockingInRuntime(_))
    ));
}
