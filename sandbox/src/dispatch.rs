//! What answers a request: the sandbox's checks first (the APIv3 `Authorization`, the APIv2
//! `sign`), then the script if there is one, then the sandbox's routes.

use bytes::Bytes;
use http::{HeaderMap, Method, Response};
use http_body_util::Full;

use crate::auth::{self, Expected};
use crate::faults::{FAULT_HEADER, Fault, SIGN_MODE_HEADER, SignMode};
use crate::log::LoggedRequest;
use crate::reply::{Reply, render};
use crate::routes;
use crate::script::{self, Script};
use crate::state::State;
use crate::v2;

/// The answer, and the faults that act on its delivery ([`Fault::SlowReply`],
/// [`Fault::ConnectionReset`], [`Fault::CloseAfterReply`]).
pub(crate) struct Outcome {
    pub(crate) response: Response<Full<Bytes>>,
    pub(crate) faults: Vec<Fault>,
}

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// The `Authorization` check, then the APIv3 routes (under `/v3`, or anywhere else for a
    /// script).
    V3,
    /// The `sign` check, then the APIv2 APIs (those of this port, or anywhere else for a
    /// script).
    V2,
    /// Anything else: a signed 404 `NOT_FOUND`.
    Unknown,
}

fn is_v3(path: &str) -> bool {
    path == "/v3" || path.starts_with("/v3/")
}

/// Without a script only `/v3` and the APIv2 APIs of the port are checked. With one, every
/// path can reach it: checked as APIv3 when it has an `Authorization` header (a base URI with
/// a path prefix), as APIv2 otherwise.
fn route_of(path: &str, tls: bool, scripted: bool, headers: &HeaderMap) -> Route {
    if is_v3(path) || routes::operations::is_v3_path(path) {
        Route::V3
    } else if v2::apis::serves(path, tls) || v2::operations::is_v2_path(path) {
        Route::V2
    } else if !scripted {
        Route::Unknown
    } else if headers.contains_key(http::header::AUTHORIZATION) {
        Route::V3
    } else {
        Route::V2
    }
}

/// The per-request overrides of the fault and sign mode (`default_fault` and `default_mode`
/// without the headers), or what is wrong with them.
fn overrides(
    headers: &HeaderMap,
    default_fault: Option<Fault>,
    default_mode: SignMode,
) -> Result<(Option<Fault>, SignMode), String> {
    let text = |name: &str| -> Result<Option<&str>, String> {
        headers
            .get(name)
            .map(|v| {
                v.to_str()
                    .map_err(|_| format!("{name} is not visible ASCII"))
            })
            .transpose()
    };
    let fault = match text(FAULT_HEADER)? {
        Some(name) => Some(name.parse::<Fault>()?),
        None => default_fault,
    };
    let mode = match text(SIGN_MODE_HEADER)? {
        Some(name) => name.parse::<SignMode>()?,
        None => default_mode,
    };
    Ok((fault, mode))
}

/// `no such API: METHOD PATH`, the verdict on a path nothing serves.
fn no_such_api(method: &Method, path: &str) -> String {
    format!(
        "no such API: {method} {}",
        path.chars().take(200).collect::<String>()
    )
}

/// Answers `request`, setting its verdict.
pub(crate) fn dispatch(state: &State, method: &Method, request: &mut LoggedRequest) -> Outcome {
    let settings = state.settings();
    let path = request.path().to_owned();
    let default_fault = state.fault_for(&path, settings.fault);
    // `SignMode::Both` signs with the key the request's `Wechatpay-Serial` names.
    let wechatpay_serial = request
        .headers
        .get("Wechatpay-Serial")
        .and_then(|v| v.to_str().ok());
    let default_mode = settings.sign_mode.for_request(wechatpay_serial);
    let overrides = overrides(&request.headers, default_fault, settings.sign_mode)
        .map(|(fault, mode)| (fault, mode.for_request(wechatpay_serial)));
    let script = state.script();
    let route = route_of(&path, request.tls, script.is_some(), &request.headers);
    let context = Context {
        state,
        method,
        path: &path,
        default_mode,
        overrides,
        script,
    };
    match route {
        Route::V3 => context.v3(request),
        Route::V2 => context.v2(request),
        Route::Unknown => context.unknown(request),
    }
}

/// What the routes share about one request.
struct Context<'a> {
    state: &'a State,
    method: &'a Method,
    path: &'a str,
    /// The sandbox's sign mode for this request ([`SignMode::Both`] resolved).
    default_mode: SignMode,
    overrides: Result<(Option<Fault>, SignMode), String>,
    script: Option<Script>,
}

impl Context<'_> {
    /// The fault and sign mode of the answer.
    fn fault_and_mode(&self) -> (Option<Fault>, SignMode) {
        match &self.overrides {
            Ok(pair) => *pair,
            Err(_) => (None, self.default_mode),
        }
    }

    /// The script's answer to a request that passed the checks: `Ok(None)` when there is no
    /// script or it leaves the request to the routes, `Err` with its panic.
    fn scripted(&self, request: &LoggedRequest) -> Result<Option<Outcome>, String> {
        let Some(script) = &self.script else {
            return Ok(None);
        };
        let (fault, mode) = self.fault_and_mode();
        Ok(script::run(script, request)?.map(|answer| {
            let (response, faults) = script::render(self.state, answer, mode, fault.as_slice());
            Outcome { response, faults }
        }))
    }

    fn outcome(&self, response: Response<Full<Bytes>>, faults: Vec<Fault>) -> Outcome {
        Outcome { response, faults }
    }

    fn v3(&self, request: &mut LoggedRequest) -> Outcome {
        let keys = &self.state.keys;
        let expected = Expected {
            mchid: &keys.mchid,
            serial: &keys.merchant_serial,
            merchant_public: &self.state.merchant_public,
        };
        let checked = auth::verify(
            &expected,
            self.method.as_str(),
            &request.target,
            &request.headers,
            &request.body,
        );
        let malformed = matches!(checked, Err(auth::Refusal::Malformed(_)));
        request.verdict = checked.map_err(auth::Refusal::into_message);
        let (fault, mode) = self.fault_and_mode();
        let faults: Vec<Fault> = fault.into_iter().collect();
        let reply = match (&self.overrides, fault, &request.verdict) {
            (Err(message), _, _) => Reply::param_error(message.clone()),
            (_, Some(Fault::ServerError(status)), _) => server_error(status),
            (_, _, Err(message)) if malformed => Reply::param_error(message.clone()),
            (_, _, Err(message)) => Reply::error(401, "SIGN_ERROR", message.clone()),
            (_, _, Ok(())) => match self.scripted(request) {
                Ok(Some(outcome)) => return outcome,
                Ok(None) if !is_v3(self.path) && !routes::operations::is_v3_path(self.path) => {
                    request.verdict = Err(no_such_api(self.method, self.path));
                    routes::not_found(self.method, self.path)
                }
                Ok(None) => routes::handle(
                    self.state,
                    &routes::Request {
                        method: self.method,
                        path: self.path,
                        query: request.query(),
                        headers: &request.headers,
                        body: &request.body,
                    },
                ),
                Err(panic) => Reply::error(500, "SCRIPT_PANICKED", panic),
            },
        };
        self.outcome(render(self.state, reply, mode, fault), faults)
    }

    fn v2(&self, request: &mut LoggedRequest) -> Outcome {
        let (fault, _) = self.fault_and_mode();
        let faults: Vec<Fault> = fault.into_iter().collect();
        let checked = v2::check(self.state, self.method, request.query(), &request.body);
        let checked = match checked {
            Ok(checked) => checked,
            Err(rejected) => {
                let response = match &self.overrides {
                    Err(message) => v2::fail_response(400, message),
                    Ok(_) => rejected.response(),
                };
                request.verdict = Err(rejected.reason);
                return self.outcome(response, faults);
            }
        };
        request.verdict = Ok(());
        let response = if let Err(message) = &self.overrides {
            v2::fail_response(400, message)
        } else if let Some(Fault::ServerError(status)) = fault {
            v2::fail_response(status, "SYSTEMERROR")
        } else {
            match self.scripted(request) {
                Ok(Some(outcome)) => return outcome,
                Ok(None) => {
                    let tls = request.tls;
                    match v2::apis::handle(
                        self.state,
                        self.method,
                        self.path,
                        &checked,
                        tls,
                        &faults,
                    ) {
                        Some(response) => response,
                        None => match v2::operations::find(self.method, self.path) {
                            Some(operation) => v2::operations::handle(
                                self.state, operation, self.path, &checked, tls, &faults,
                            ),
                            None => {
                                // A path the sandbox does not serve, that the script left alone.
                                request.verdict = Err(no_such_api(self.method, self.path));
                                let (_, mode) = self.fault_and_mode();
                                let reply = routes::not_found(self.method, self.path);
                                render(self.state, reply, mode, fault)
                            }
                        },
                    }
                }
                Err(panic) => v2::fail_response(500, &format!("SYSTEMERROR: {panic}")),
            }
        };
        self.outcome(response, faults)
    }

    fn unknown(&self, request: &mut LoggedRequest) -> Outcome {
        request.verdict = Err(no_such_api(self.method, self.path));
        let (fault, mode) = self.fault_and_mode();
        let reply = match (&self.overrides, fault) {
            (Err(message), _) => Reply::param_error(message.clone()),
            (_, Some(Fault::ServerError(status))) => server_error(status),
            _ => routes::not_found(self.method, self.path),
        };
        self.outcome(
            render(self.state, reply, mode, fault),
            fault.into_iter().collect(),
        )
    }
}

fn server_error(status: u16) -> Reply {
    Reply::error(
        status,
        "SYSTEM_ERROR",
        "系统错误 (sandbox fault server-error)",
    )
}
