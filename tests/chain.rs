//! The four ways to name an endpoint give the same template; indexing is cached.

mod support;

use wechatpay::{Client, Endpoint, chain};

const SEED: &str = "v3/global/merchant-service/complaints/{complaint_id}/response";

fn client() -> Client {
    support::identity().build().unwrap()
}

#[test]
fn four_styles_one_template() {
    let client = client();
    let owned = client.chain(SEED);
    let indexed = &client[SEED];
    let segments =
        &client["v3"]["global"]["merchantService"]["complaints"]["_complaint_id_"]["response"];
    let macro_ = chain!(
        client
            .v3
            .global
            .merchantService
            .complaints
            ._complaint_id_
            .response
    );
    for e in [&owned, indexed, segments, macro_] {
        assert_eq!(e.template(), SEED);
        assert_eq!(e.to_string(), SEED);
    }
    assert_eq!(format!("{segments:?}"), format!("Endpoint({SEED:?})"));
}

#[test]
fn owned_chaining_from_an_endpoint() {
    let client = client();
    let e = client
        .chain("v3")
        .chain("global")
        .chain("merchantService")
        .chain("complaints")
        .chain("_complaint_id_")
        .chain("response");
    assert_eq!(e.template(), SEED);
    let pay = client.chain("v3/pay");
    assert_eq!(
        pay.chain("transactions/native").template(),
        "v3/pay/transactions/native"
    );
    assert_eq!(pay.clone().template(), "v3/pay");
}

#[test]
fn indexing_is_cached_and_shared() {
    let client = client();
    let a: *const Endpoint = &client["v3"]["pay"]["transactions"];
    let b: *const Endpoint = &client["v3"]["pay"]["transactions"];
    assert!(std::ptr::eq(a, b));
    assert!(!std::ptr::eq(
        &client["v3"]["pay"],
        &client["v3"]["marketing"]
    ));
    // The same key from many threads yields one endpoint.
    let addresses: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| &client["v3"]["concurrent"]["_id_"] as *const Endpoint as usize))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(addresses.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn macro_segments_keywords_raw_identifiers_and_literals() {
    let client = client();
    assert_eq!(
        chain!(client.v3.marketing.busifavor.coupons.r#use).template(),
        "v3/marketing/busifavor/coupons/use"
    );
    assert_eq!(
        chain!(client.v3.marketing.busifavor.coupons.use).template(),
        "v3/marketing/busifavor/coupons/use"
    );
    // Real paths throughout: with the feature `checked-chain` an unknown one does not compile.
    assert_eq!(
        chain!(client.v3.ecommerce.subsidies.r#return).template(),
        "v3/ecommerce/subsidies/return"
    );
    assert_eq!(
        chain!(client.v3.ecommerce.subsidies.return).template(),
        "v3/ecommerce/subsidies/return"
    );
    assert_eq!(
        chain!(client.v3.fundsToOversea.r#return.returnOrders).template(),
        "v3/funds-to-oversea/return/return-orders"
    );
    assert_eq!(
        chain!(client.v3.global."merchant-service".complaints."{complaint_id}".response).template(),
        SEED
    );
    assert_eq!(
        chain!(client.v3.merchantService.ComplaintNotifications).template(),
        "v3/merchant-service/complaint-notifications"
    );
    assert_eq!(
        chain!(client.v3.merchantService.complaintsV2).template(),
        "v3/merchant-service/complaints-v2"
    );
    let v3 = &client["v3"];
    assert_eq!(
        chain!(v3.pay.transactions.native).template(),
        "v3/pay/transactions/native"
    );
    assert_eq!(
        chain!((client.chain("v3")).certificates).template(),
        "v3/certificates"
    );
}

#[test]
fn the_macro_is_the_cached_index() {
    let client = client();
    let a = chain!(client.v3.pay.transactions.native);
    let b = &client["v3"]["pay"]["transactions"]["native"];
    assert!(std::ptr::eq(a, b));
}
