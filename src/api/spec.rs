//! What the client knows of an operation: its method, template, host, body and answer kinds.

use http::Method;

/// What the client needs to know of an operation to send it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Spec {
    /// The method.
    pub method: Method,
    /// The path template, in the chain's spelling.
    pub template: &'static str,
    /// The official title.
    pub title: &'static str,
    /// Which hosts serve it.
    pub host: Host,
    /// How the body is sent.
    pub body: BodyKind,
    /// What the answer carries.
    pub answer: AnswerKind,
    /// JSON Pointers of the encrypted body fields (`*`: any array index).
    pub encrypted: &'static [&'static str],
    /// APIv2: sent over mutual TLS with the merchant certificate.
    pub mutual_tls: bool,
}

/// The hosts that serve an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Host {
    /// `api.mch.weixin.qq.com`: the client's base URI.
    Api,
    /// The Hong Kong wallet, `apihk.mch.weixin.qq.com`: where
    /// [`Client::send`](crate::Client::send) sends it from a client on the production host
    /// (a client on any other base URI keeps its own).
    Hk,
    /// The overseas (cross-border) APIs, `apihk.mch.weixin.qq.com`, sent there as
    /// [`Host::Hk`]'s.
    Global,
    /// Another host, which the typed request sets as its `base_uri`.
    Other(&'static str),
}

/// How a body is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyKind {
    /// No body.
    None,
    /// JSON.
    Json,
    /// APIv2 XML.
    Xml,
    /// A media upload.
    Multipart,
}

/// What an answer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnswerKind {
    /// No body.
    None,
    /// JSON.
    Json,
    /// APIv2 XML.
    Xml,
    /// A file, unsigned.
    Download,
}
