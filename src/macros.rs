//! The [`chain!`](crate::chain!) macro.

/// Property-style chaining, as wechatpay-php's `$instance->v3->pay->transactions->native`.
///
/// `chain!(client.v3.global.merchantService.complaints._complaint_id_.response)` is
/// `&client["v3"]["global"]["merchantService"]["complaints"]["_complaint_id_"]["response"]`:
/// each segment is one key normalised by [`normalize`](crate::normalize), cached, and the
/// result is an `&Endpoint`. Segments can be identifiers (keywords such as `use` and `return`
/// included; a raw identifier's `r#` is dropped) or string literals for keys that are not
/// identifiers (`"merchant-service"`, `"{out_trade_no}"`). The first token is the client or
/// an endpoint; write `(expr)` for anything longer than a name.
///
/// ```
/// use wechatpay::chain;
/// # let key = openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap();
/// # let client = wechatpay::Client::builder().mchid("1900000000").serial("0A").private_key(key)
/// #     .verifier(wechatpay::verifier::PlatformVerifier::new()).build().unwrap();
///
/// let e = chain!(client.v3.global.merchantService.complaints._complaint_id_.response);
/// assert_eq!(e.template(), "v3/global/merchant-service/complaints/{complaint_id}/response");
///
/// let e = chain!(client.v3.marketing.busifavor.coupons.r#use);
/// assert_eq!(e.template(), "v3/marketing/busifavor/coupons/use");
///
/// let e = chain!(client.v3.pay.transactions."out-trade-no"."{out_trade_no}");
/// assert_eq!(e.template(), "v3/pay/transactions/out-trade-no/{out_trade_no}");
///
/// let pay = &client["v3"]["pay"];
/// assert_eq!(chain!((pay).transactions.native).template(), "v3/pay/transactions/native");
/// ```
#[macro_export]
macro_rules! chain {
    ($base:tt $(. $segment:tt)+) => {
        &$base $([$crate::__chain_segment!($segment)])+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __chain_segment {
    ($segment:literal) => {
        $segment
    };
    ($segment:ident) => {
        $crate::__private::strip_raw(::core::stringify!($segment))
    };
}
