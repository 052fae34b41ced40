//! The blocking bridge: how `post`, `get`, ... run the one async pipeline and wait for it.
//!
//! Each client that is used blocking gets its own runtime thread (`wechatpay-blocking`, a
//! current-thread Tokio runtime, started by the first blocking call and ended when the client
//! goes). That thread drives the I/O and the timers, and runs the connection tasks of the
//! blocking lane's HTTP clients, all the time: a connection the server closed while idle is
//! noticed there and dropped from the pool, whatever the callers do. A blocking call polls the
//! pipeline's future on its own thread, with the runtime thread's handle entered (so that what
//! the future creates, sockets, timers, tasks, belongs to that runtime) and a waker that
//! unparks the calling thread. So the signing and verifying of many blocking callers run on
//! their own threads, in parallel, and a call may borrow what its caller owns (a bill streams
//! into a `&mut impl Write`). Each exchange itself (send, read the answer, hand the connection
//! back to the pool) runs as one task on the runtime thread
//! ([`transport::exchange`](crate::transport::exchange)), so that the next call finds the
//! connection in the pool however late that thread is scheduled.
//!
//! This works from any thread, runtime or not: nothing depends on the caller's runtime. One
//! check remains, for the caller's sake: a blocking call made by async code running on a Tokio
//! runtime (a task, or the future of a `block_on`) would stall that executor for the whole
//! request, so it is refused with a `Config` error that names the `_async` form instead. Tokio
//! has no direct query for "this thread is polling async code", but it gives such code a
//! cooperative budget and leaves every other thread (`spawn_blocking` ones included)
//! unconstrained; [`refuse_in_async_code`] reads that. Code inside
//! `tokio::task::unconstrained` has no budget and is not recognised: its call simply blocks
//! (it works, and stalls its executor while it runs).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// A runtime on a thread of its own, driving I/O, timers and tasks until this is dropped.
pub(crate) struct RuntimeThread {
    handle: Handle,
    /// Dropped with this: the thread's `block_on` returns and the runtime ends on its thread
    /// (never inside the caller's async context, where dropping a runtime panics).
    _stop: oneshot::Sender<()>,
}

impl RuntimeThread {
    /// Starts the thread and its runtime; returns once the runtime runs.
    pub(crate) fn start() -> Result<RuntimeThread> {
        let (stop, stopped) = oneshot::channel::<()>();
        let (started, handle) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("wechatpay-blocking".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = started.send(Err(e));
                        return;
                    }
                };
                let _ = started.send(Ok(runtime.handle().clone()));
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                // Tasks still running (idle connections) are dropped here, off any executor.
                runtime.shutdown_background();
            })
            .map_err(|e| Error::transport("cannot start the blocking client's thread", e))?;
        let handle = handle
            .recv()
            .map_err(|e| Error::transport("the blocking client's thread did not start", e))?
            .map_err(|e| Error::transport("cannot start the blocking client's runtime", e))?;
        Ok(RuntimeThread {
            handle,
            _stop: stop,
        })
    }

    /// The runtime's handle.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }
}

/// Polls `future` to completion on this thread, parking between polls, with `handle` entered.
pub(crate) fn block_on<F: Future>(handle: &Handle, future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let _entered = handle.enter();
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        // A wake-up between the poll and here leaves a token: `park` returns at once.
        std::thread::park();
    }
}

/// A `Config` error when this thread is polling async code for a Tokio runtime: a blocking
/// call there would stall the executor.
pub(crate) fn refuse_in_async_code(verb: &str) -> Result<()> {
    if Handle::try_current().is_ok() && polling_async_code() {
        return Err(Error::config(format!(
            "`{verb}` is blocking and was called from async code running on a Tokio runtime, \
             where it would stall the executor: use `{verb}_async(..).await` instead, or move \
             the call off the executor with `tokio::task::spawn_blocking`"
        )));
    }
    Ok(())
}

/// Whether this thread is polling async code for a Tokio runtime: taking budget until it runs
/// out tells a task or a `block_on` future (at most 255 units) from every other thread
/// (unconstrained). What was taken is given back: each `RestoreOnPending` restores the budget
/// it found, so they are dropped newest first.
fn polling_async_code() -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    let mut taken = Vec::with_capacity(256);
    let mut constrained = false;
    for _ in 0..256 {
        match tokio::task::coop::poll_proceed(&mut cx) {
            Poll::Ready(restore) => taken.push(restore),
            Poll::Pending => {
                constrained = true;
                break;
            }
        }
    }
    while let Some(restore) = taken.pop() {
        drop(restore);
    }
    constrained
}
#[cfg(test)]
mod tests {
    use std::task::{Context, Poll, Waker};

    use super::polling_async_code;

    /// How much budget the current task has left (spent to find out, then given back).
    fn budget_left() -> usize {
        let mut cx = Context::from_waker(Waker::noop());
        let mut taken = Vec::new();
        while let Poll::Ready(restore) = tokio::task::coop::poll_proceed(&mut cx) {
            taken.push(restore);
            if taken.len() > 1000 {
                break;
            }
        }
        let left = taken.len();
        while let Some(restore) = taken.pop() {
            drop(restore);
        }
        left
    }

    #[test]
    fn the_check_gives_back_exactly_the_budget_it_took() {
        assert!(!polling_async_code());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let full = budget_left();
            assert!((1..=255).contains(&full), "{full}");
            for spent in [0, 1, full / 2, full - 1, full] {
                let mut cx = Context::from_waker(Waker::noop());
                for _ in 0..spent {
                    match tokio::task::coop::poll_proceed(&mut cx) {
                        Poll::Ready(restore) => restore.made_progress(),
                        Poll::Pending => unreachable!(),
                    }
                }
                assert!(polling_async_code(), "spent {spent}");
                assert_eq!(budget_left(), full - spent, "spent {spent}");
                tokio::task::yield_now().await; // a fresh budget
            }
            assert!(!tokio::task::unconstrained(async { polling_async_code() }).await);
        });
        let spawned = runtime.block_on(async {
            tokio::task::spawn_blocking(polling_async_code)
                .await
                .unwrap()
        });
        assert!(!spawned);
    }
}
