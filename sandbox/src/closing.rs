//! [`Fault::CloseAfterReply`](crate::Fault::CloseAfterReply): a keep-alive connection closed a
//! while after an answer, as servers and load balancers close idle connections.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

/// Asks for its connection to be closed; every request of the connection has a clone.
#[derive(Clone, Debug)]
pub(crate) struct Closer(mpsc::UnboundedSender<Instant>);

impl Closer {
    /// The connection is to close `delay` from now (or earlier, if asked for earlier).
    pub(crate) fn close_after(&self, delay: Duration) {
        // The receiver lives as long as the connection: a failure means it is closed already.
        let _ = self.0.send(Instant::now() + delay);
    }
}

/// The connection's side: when it is to be closed.
#[derive(Debug)]
pub(crate) struct Deadline {
    requests: mpsc::UnboundedReceiver<Instant>,
    at: Option<Instant>,
}

/// A [`Closer`] and the [`Deadline`] it sets, for one connection.
pub(crate) fn channel() -> (Closer, Deadline) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        Closer(tx),
        Deadline {
            requests: rx,
            at: None,
        },
    )
}

impl Deadline {
    /// Resolves when the earliest time asked for has come; pending until one is asked for.
    pub(crate) async fn reached(&mut self) {
        loop {
            let at = self.at;
            let sleep = async move {
                match at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(asked) = self.requests.recv() => {
                    self.at = Some(at.map_or(asked, |at| at.min(asked)));
                }
                () = sleep => {
                    self.at = None;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_earliest_time_asked_for_wins() {
        let (closer, mut deadline) = channel();
        let started = Instant::now();
        closer.close_after(Duration::from_secs(3));
        closer.close_after(Duration::from_millis(100));
        closer.close_after(Duration::from_secs(2));
        deadline.reached().await;
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(100) && elapsed < Duration::from_secs(2),
            "{elapsed:?}"
        );
        // Once reached, nothing is pending any more.
        let again = tokio::time::timeout(Duration::from_millis(200), deadline.reached()).await;
        assert!(again.is_err());
    }

    #[tokio::test]
    async fn nothing_is_reached_without_a_request_nor_once_the_closers_are_gone() {
        let (closer, mut deadline) = channel();
        let waited = tokio::time::timeout(Duration::from_millis(200), deadline.reached()).await;
        assert!(waited.is_err());
        drop(closer);
        let waited = tokio::time::timeout(Duration::from_millis(200), deadline.reached()).await;
        assert!(waited.is_err());
    }
}
