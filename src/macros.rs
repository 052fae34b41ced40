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
#[cfg_attr(
    feature = "checked-chain",
    doc = r#"
# Checked at compile time (feature `checked-chain`)

With the feature `checked-chain`, a chain that starts at the API root (`v2`, `v3`, `global`)
must lead to an operation of the catalogue (or be on the way to one, as `chain!(client.v3.pay)`
is): the compiler refuses any other, at no cost at run time. `client.chain("...")` and
`client["..."]` still reach any path.

```compile_fail
# let key = openssl::rsa::Rsa::generate(2048).unwrap().private_key_to_pem().unwrap();
# let client = wechatpay::Client::builder().mchid("1900000000").serial("0A").private_key(key)
#     .verifier(wechatpay::verifier::PlatformVerifier::new()).build().unwrap();
// `transaction`, not `transactions`: error[E0080]: chain!: the WeChat Pay catalogue has no
// operation at `v3/pay/transaction/native`
let e = wechatpay::chain!(client.v3.pay.transaction.native);
```
"#
)]
#[macro_export]
macro_rules! chain {
    // The check sits in the first key's block (a `&'static str`), so that the expansion stays
    // one place expression: a temporary base (`(client.chain("v3"))`) lives as long as before.
    ($base:tt . $first:tt $(. $segment:tt)*) => {
        &$base[{
            $crate::__chain_check!($first $($segment)*);
            $crate::__chain_segment!($first)
        }] $([$crate::__chain_segment!($segment)])*
    };
}

/// The compile-time check of a chain: the catalogue must know where it leads.
#[cfg(feature = "checked-chain")]
#[doc(hidden)]
#[macro_export]
macro_rules! __chain_check {
    ($first:tt $($segment:tt)*) => {
        const _: () = if !$crate::__private::known_chain(&[
            $crate::__chain_key!($first) $(, $crate::__chain_key!($segment))*
        ]) {
            ::core::panic!(
                "{}",
                ::core::concat!(
                    "chain!: the WeChat Pay catalogue has no operation at `",
                    ::core::stringify!($first) $(, "/", ::core::stringify!($segment))*,
                    "` (`client.chain(..)` reaches a path the catalogue does not know)"
                )
            )
        };
    };
}

/// Without the feature `checked-chain`: nothing.
#[cfg(not(feature = "checked-chain"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __chain_check {
    ($($segment:tt)+) => {};
}

/// A chained key as written, for the compile-time check.
#[doc(hidden)]
#[macro_export]
macro_rules! __chain_key {
    ($segment:literal) => {
        $segment
    };
    ($segment:ident) => {
        ::core::stringify!($segment)
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
