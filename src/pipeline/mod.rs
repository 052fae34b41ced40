//! The request pipeline: prepare -> sign -> send -> check, run by one orchestrator.
//!
//! Preparation ([`prepare`]), signing, the checks and the [`Policy`] are pure: no I/O, no
//! clock but the signing timestamp and the verification window. [`execute`] runs them, with the
//! only I/O ([`transport`](crate::transport)) in between, for every kind of request; the async
//! verbs await it on the caller's runtime, the blocking verbs through
//! [`blocking`](crate::blocking). Each request runs inside a `tracing` span ([`trace`]).

mod check;
mod check_v2;
mod execute;
mod policy;
mod prepare;
mod prepare_v2;
mod receive;
mod route;
mod sign;
mod trace;
mod url;

pub(crate) use check::{first_sighting, statement_sha1};
pub(crate) use execute::{Request, execute};
pub(crate) use policy::Policy;
pub(crate) use prepare::prepare;
pub(crate) use receive::{Streamed, Whole};
