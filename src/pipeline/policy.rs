//! [`Policy`]: how one kind of request is run, the parameter of the one orchestrator
//! ([`execute`](super::execute::execute)). Pure: it decides, the orchestrator acts.

use http::Method;

use super::check::Rule;
use super::check_v2::Answer;
use crate::context::Context;
use crate::prepared::{PreparedRequest, Protocol};
use crate::retry::RetryPolicy;
use crate::transport::Limit;

/// How one kind of request is run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Policy {
    /// How a 2xx answer is checked.
    pub(crate) check: Check,
    /// The key ring's hooks apply to APIv3 requests: its keys are made ready before, and a
    /// check that names a serial it lacks refreshes it and checks again.
    pub(crate) key_hooks: bool,
    /// A request to the primary host that cannot reach it (DNS, connect, TLS handshake) goes
    /// to the backup host.
    pub(crate) failover: bool,
    /// Retries of `GET`s on connect errors, 429 and 5xx; never of another method.
    pub(crate) retry: Option<RetryPolicy>,
    /// The largest answer body read whole.
    pub(crate) limit: Limit,
    /// The largest download read whole (APIv2 bills).
    pub(crate) download_limit: Limit,
}

/// How a 2xx answer is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// By the request: APIv3 by its method and path ([`Rule`]), APIv2 by its path
    /// ([`Answer`]).
    ByRequest,
    /// Not signed by WeChat Pay: the caller checks the body against a hash that came in a
    /// verified answer (a bill file).
    Digest,
    /// Handed to the caller unchecked: the key ring's certificate download, whose signer may
    /// be one of the certificates it brings.
    ByCaller,
}

/// A check, resolved for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Checking {
    /// An APIv3 answer, by its endpoint's rule.
    V3(Rule),
    /// An APIv2 answer, by its endpoint's rule.
    V2(Answer),
    /// See [`Check::Digest`].
    Digest,
    /// See [`Check::ByCaller`].
    ByCaller,
}

impl Policy {
    /// An API call (`client[...].post(..)`, a statement download).
    pub(crate) fn call(ctx: &Context) -> Policy {
        Policy {
            check: Check::ByRequest,
            key_hooks: true,
            failover: true,
            retry: ctx.retry,
            limit: ctx.transport.response_limit(),
            download_limit: ctx.transport.download_limit(),
        }
    }

    /// A bill file, streamed: unsigned, its hash checked by the caller.
    pub(crate) fn bill_file(ctx: &Context) -> Policy {
        Policy {
            check: Check::Digest,
            ..Policy::call(ctx)
        }
    }

    /// The key ring's own download of `/v3/certificates`: not retried (the refresh policy
    /// decides when to try again), and without the ring's hooks (it is their work).
    pub(crate) fn certificates(ctx: &Context) -> Policy {
        Policy {
            check: Check::ByCaller,
            key_hooks: false,
            retry: None,
            ..Policy::call(ctx)
        }
    }

    /// The check of `prepared`'s answer.
    pub(crate) fn checking(&self, prepared: &PreparedRequest) -> Checking {
        match (self.check, &prepared.protocol) {
            (Check::ByRequest, Protocol::V3) => {
                Checking::V3(Rule::for_request(&prepared.method, prepared.api_path()))
            }
            (Check::ByRequest, Protocol::V2 { .. }) => {
                Checking::V2(Answer::for_path(prepared.api_path()))
            }
            (Check::Digest, _) => Checking::Digest,
            (Check::ByCaller, _) => Checking::ByCaller,
        }
    }

    /// The limit of what is read whole for an answer checked by `checking`: an APIv2 download
    /// (a bill, read whole) is a download, under the download limit.
    pub(crate) fn limit(&self, checking: Checking) -> Limit {
        match checking {
            Checking::V2(Answer::Raw) => self.download_limit,
            _ => self.limit,
        }
    }

    /// The retry policy for a request with this method: only `GET`s are retried.
    pub(crate) fn retry_for(&self, method: &Method) -> Option<RetryPolicy> {
        self.retry.filter(|_| method == Method::GET)
    }
}
