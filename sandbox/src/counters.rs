//! [`Counters`]: how many connections and requests the sandbox served since it started, for
//! runs longer than the request log ([`Sandbox::requests`](crate::Sandbox::requests) keeps the
//! last 1000).

use std::sync::atomic::{AtomicU64, Ordering};

/// What a sandbox served since it started ([`Sandbox::counters`](crate::Sandbox::counters)).
/// Unlike the request log, nothing is dropped or cleared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Counters {
    /// Connections served, on either port: every plain connection accepted, and every
    /// mutual-TLS connection whose handshake succeeded (a refused client certificate does not
    /// count). A client that keeps one connection alive counts once.
    pub connections: u64,
    /// Requests received and logged, whatever their verdict (a body too large to read is
    /// neither logged nor counted).
    pub requests: u64,
    /// Those of [`requests`](Self::requests) whose verdict is an `Err`: refused by the
    /// sandbox's checks (a bad APIv3 signature or APIv2 `sign`), or for no API it serves.
    pub refused: u64,
}

/// The live counts, shared by the server's tasks.
#[derive(Debug, Default)]
pub(crate) struct LiveCounters {
    connections: AtomicU64,
    requests: AtomicU64,
    refused: AtomicU64,
}

impl LiveCounters {
    /// A connection is served.
    pub(crate) fn connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// A request was logged with this verdict.
    pub(crate) fn request(&self, refused: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if refused {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counts now.
    pub(crate) fn snapshot(&self) -> Counters {
        Counters {
            connections: self.connections.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up() {
        let live = LiveCounters::default();
        assert_eq!(live.snapshot(), Counters::default());
        live.connection();
        live.request(false);
        live.request(true);
        live.request(false);
        assert_eq!(
            live.snapshot(),
            Counters {
                connections: 1,
                requests: 3,
                refused: 1,
            }
        );
    }
}
