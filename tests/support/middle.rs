//! The machine in the middle of the replay tests: it holds no key, and answers a request with
//! a signed answer it saw before.

use std::sync::{Arc, Mutex};

use http::HeaderMap;
use wechatpay_sandbox::{Answer, Sandbox};

const SIGNATURE_HEADERS: [&str; 4] = [
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Signature",
    "Wechatpay-Serial",
];

/// An answer of `status` and `body` carrying exactly the signature headers of `captured`: what
/// a machine in the middle sends back, without any key.
pub fn replayed(status: u16, body: &[u8], captured: &HeaderMap) -> Answer {
    let mut answer = Answer::raw(status, "application/json", body.to_vec());
    for name in SIGNATURE_HEADERS {
        answer = answer.header(name, captured[name].to_str().unwrap());
    }
    answer
}

/// Scripts the sandbox to answer requests to `path` with `answer` (once it is set).
pub fn intercept(sandbox: &Sandbox, path: &'static str) -> Arc<Mutex<Option<Answer>>> {
    let slot = Arc::new(Mutex::new(None::<Answer>));
    let answer = slot.clone();
    sandbox.script(move |request| {
        if request.path() == path {
            answer.lock().unwrap().clone()
        } else {
            None
        }
    });
    slot
}
