//! The test servers, backed by the sandbox: [`TestServer`] (APIv3) and [`V2Server`] (APIv2)
//! start a `wechatpay_sandbox::Sandbox` and install the test's handler as its script. The
//! sandbox checks every request first (a refused one never reaches the handler and is
//! answered as WeChat Pay does); then the judge ([`super::judge`], [`super::judge_v2`]) checks
//! it again, independently of both the sandbox and the client, and its verdict is what the
//! handler and the tests see ([`Recorded::auth`], [`V2Recorded::verdict`]). A request the
//! judge refuses is answered like one the sandbox refuses, without calling the handler.
//!
//! The handler answers with a `wechatpay_sandbox::Answer`. A [`TestServer`] signs with the
//! platform certificate unless the answer says otherwise (`Answer::sign_mode`).

use std::net::SocketAddr;
use std::ops::Deref;

use wechatpay_sandbox::{Answer, LoggedRequest, Sandbox, SignMode};

use super::judge::{AuthInfo, verify_request};
use super::judge_v2::{check_sign, request_fields, sign_fields_with};
use super::keys::keys;

/// One APIv3 request as the sandbox logged it, with the judge's verdict.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// What the sandbox received (and its own verdict, `logged.verdict`).
    pub logged: LoggedRequest,
    /// The judge's verdict on the `Authorization` header; `Err` says what was wrong.
    pub auth: Result<AuthInfo, String>,
}

impl Recorded {
    fn judge(logged: LoggedRequest) -> Recorded {
        let auth = verify_request(
            &logged.method,
            &logged.target,
            &logged.headers,
            &logged.body,
        );
        Recorded { logged, auth }
    }

    /// The body as UTF-8 (lossy).
    pub fn body_str(&self) -> String {
        self.logged.body_text()
    }

    /// The body parsed as JSON; panics with the body if it is not JSON.
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "request body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The judge's verdict, or a panic that says why the request was refused.
    pub fn auth_ok(&self) -> &AuthInfo {
        match &self.auth {
            Ok(info) => info,
            Err(reason) => panic!(
                "request {} {} was not properly signed: {reason}",
                self.method, self.target
            ),
        }
    }
}

impl Deref for Recorded {
    type Target = LoggedRequest;

    fn deref(&self) -> &LoggedRequest {
        &self.logged
    }
}

/// One APIv2 request as the sandbox logged it, with its payload and the judge's verdict.
#[derive(Clone, Debug)]
pub struct V2Recorded {
    /// What the sandbox received (and its own verdict, `logged.verdict`).
    pub logged: LoggedRequest,
    /// The payload: the XML body's fields, or a GET's query pairs (decoded), in order.
    pub fields: Vec<(String, String)>,
    /// The judge's check of `sign` with the sandbox's APIv2 secret: `Ok(sign type)`.
    pub verdict: Result<&'static str, String>,
}

impl V2Recorded {
    fn judge(logged: LoggedRequest) -> V2Recorded {
        let fields = request_fields(&logged.method, &logged.target, &logged.body);
        let verdict = fields
            .as_ref()
            .map_err(|e| e.to_string())
            .and_then(|f| check_sign(f, &keys().apiv2_secret));
        V2Recorded {
            logged,
            fields: fields.unwrap_or_default(),
            verdict,
        }
    }

    /// The value of the payload's field `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Deref for V2Recorded {
    type Target = LoggedRequest;

    fn deref(&self) -> &LoggedRequest {
        &self.logged
    }
}

/// [`sign_fields_with`] the sandbox's APIv2 secret: what a [`V2Server`] answer's `sign` is.
pub fn sign_fields(fields: &[(String, String)], hmac: bool) -> String {
    sign_fields_with(fields, &keys().apiv2_secret, hmac)
}

fn start_sandbox() -> Sandbox {
    // The keys (shared with the sandbox) exist before the first request.
    let _ = keys();
    Sandbox::start().expect("the sandbox starts")
}

/// A sandbox whose answers the test's handler chooses, for APIv3. Dropping it stops it.
pub struct TestServer {
    sandbox: Sandbox,
}

impl TestServer {
    /// Starts a sandbox signing with the platform certificate; `handler` answers every request
    /// that both the sandbox and the judge accept (others get 401 `SIGN_ERROR`); a handler
    /// that panics gets its request a signed 500.
    pub fn start<F>(handler: F) -> TestServer
    where
        F: Fn(&Recorded) -> Answer + Send + Sync + 'static,
    {
        let sandbox = start_sandbox();
        sandbox.set_sign_mode(SignMode::Certificate);
        sandbox.script(move |logged| {
            let recorded = Recorded::judge(logged.clone());
            Some(match &recorded.auth {
                Err(reason) => Answer::error(401, "SIGN_ERROR", reason),
                Ok(_) => handler(&recorded),
            })
        });
        TestServer { sandbox }
    }

    /// `http://127.0.0.1:<port>/`
    pub fn base_uri(&self) -> String {
        self.sandbox.base_uri().to_owned()
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        let authority = self.sandbox.base_uri()["http://".len()..].trim_end_matches('/');
        authority
            .parse()
            .expect("the base URI holds a socket address")
    }

    /// The sandbox behind it.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Everything received so far, in order (rejected requests included), judged.
    pub fn requests(&self) -> Vec<Recorded> {
        self.sandbox
            .requests()
            .into_iter()
            .map(Recorded::judge)
            .collect()
    }

    /// The most recent request; panics if none was received.
    pub fn last(&self) -> Recorded {
        self.requests()
            .pop()
            .expect("TestServer::last(): the server has not received any request")
    }
}

/// A sandbox whose answers the test's handler chooses, for APIv2 (any path): on the plain
/// port ([`V2Server::start`]) or on the mutual-TLS port ([`V2Server::start_mutual_tls`]).
pub struct V2Server {
    sandbox: Sandbox,
    /// Serves the mutual-TLS port only.
    mutual_tls: bool,
}

impl V2Server {
    /// Starts a sandbox; `handler` answers every request whose `sign` both the sandbox and
    /// the judge accept (others get `return_code` FAIL `签名错误`).
    pub fn start<F>(handler: F) -> V2Server
    where
        F: Fn(&V2Recorded) -> Answer + Send + Sync + 'static,
    {
        V2Server::launch(handler, false)
    }

    /// Starts a sandbox whose handler answers on its mutual-TLS port: HTTPS with the server
    /// certificate of the sandbox CA (`Identity::ca_certificate_pem`), which requires a client
    /// certificate issued by that CA (the identity's merchant certificate,
    /// [`super::tls::sandbox_merchant`]); a client without one fails its handshake and is
    /// never logged. [`base_uri`](Self::base_uri) is the mutual-TLS port and
    /// [`requests`](Self::requests) holds the requests that came over it; the plain port is
    /// left to the sandbox's own routes.
    pub fn start_mutual_tls<F>(handler: F) -> V2Server
    where
        F: Fn(&V2Recorded) -> Answer + Send + Sync + 'static,
    {
        V2Server::launch(handler, true)
    }

    fn launch<F>(handler: F, mutual_tls: bool) -> V2Server
    where
        F: Fn(&V2Recorded) -> Answer + Send + Sync + 'static,
    {
        let sandbox = start_sandbox();
        sandbox.script(move |logged| {
            if mutual_tls && !logged.tls {
                return None;
            }
            let recorded = V2Recorded::judge(logged.clone());
            Some(match &recorded.verdict {
                Err(_) => {
                    Answer::v2_unsigned(&[("return_code", "FAIL"), ("return_msg", "签名错误")])
                }
                Ok(_) => handler(&recorded),
            })
        });
        V2Server {
            sandbox,
            mutual_tls,
        }
    }

    /// `http://127.0.0.1:<port>/`, or `https://127.0.0.1:<port>/` for a mutual-TLS server.
    pub fn base_uri(&self) -> String {
        if self.mutual_tls {
            self.sandbox.identity().tls_base_uri.clone()
        } else {
            self.sandbox.base_uri().to_owned()
        }
    }

    /// The sandbox behind it.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Everything received so far, in order (rejected requests included), judged; for a
    /// mutual-TLS server, what came over the mutual-TLS port.
    pub fn requests(&self) -> Vec<V2Recorded> {
        self.sandbox
            .requests()
            .into_iter()
            .filter(|r| r.tls || !self.mutual_tls)
            .map(V2Recorded::judge)
            .collect()
    }

    /// The most recent request; panics if none was received.
    pub fn last(&self) -> V2Recorded {
        self.requests().pop().expect("no request received")
    }
}
