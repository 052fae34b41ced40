//! Values kept per Tokio runtime: the things whose I/O a task of one runtime drives (an HTTP
//! client's pooled connections, a multiplexed Redis connection), which a call on another
//! runtime must not use. A value goes when its runtime ends.
//!
//! Runtimes are told apart by [`tokio::runtime::Id`] (unique in the process, never reused).
//! That a runtime has ended is seen through a task of its own that holds a token forever:
//! an ending runtime drops its tasks, and with it the token.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::runtime::Id;

/// At most this many runtimes' values are kept: past it (that many runtimes alive, each having
/// called), the least recently used goes.
const LIMIT: usize = 256;

/// The current runtime's id, when called on one.
pub(crate) fn current_runtime() -> Option<Id> {
    tokio::runtime::Handle::try_current().ok().map(|h| h.id())
}

/// Values of type `T` (cheap to clone: handles), one per runtime.
pub(crate) struct PerRuntime<T> {
    /// Least recently used first.
    entries: Mutex<Vec<Entry<T>>>,
}

struct Entry<T> {
    runtime: Id,
    /// Dead once the runtime has ended.
    alive: Weak<()>,
    value: T,
}

impl<T: Clone> PerRuntime<T> {
    pub(crate) fn new() -> PerRuntime<T> {
        PerRuntime {
            entries: Mutex::new(Vec::new()),
        }
    }

    /// `runtime`'s value, now the most recently used.
    pub(crate) fn get(&self, runtime: Id) -> Option<T> {
        let mut entries = self.lock();
        let at = entries.iter().position(|e| e.runtime == runtime)?;
        let value = entries[at].value.clone();
        if at + 1 != entries.len() {
            let entry = entries.remove(at);
            entries.push(entry);
        }
        Some(value)
    }

    /// Keeps `value` for the current runtime, unless a value was kept for it meanwhile (two
    /// tasks that both found none), and returns the one kept. Must be called on that runtime,
    /// which runs the task that watches it; off any runtime, `value` is returned and not kept.
    pub(crate) fn insert(&self, value: T) -> T {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return value;
        };
        let runtime = handle.id();
        let mut entries = self.lock();
        if let Some(kept) = entries.iter().find(|e| e.runtime == runtime) {
            return kept.value.clone();
        }
        let token = Arc::new(());
        let alive = Arc::downgrade(&token);
        // Never ends: dropped with its runtime.
        handle.spawn(async move {
            let _token = token;
            std::future::pending::<()>().await
        });
        entries.retain(|e| e.alive.strong_count() > 0);
        if entries.len() >= LIMIT {
            entries.remove(0);
        }
        entries.push(Entry {
            runtime,
            alive,
            value: value.clone(),
        });
        value
    }

    /// Forgets `runtime`'s value.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn remove(&self, runtime: Id) {
        self.lock().retain(|e| e.runtime != runtime);
    }

    /// Forgets every value.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// How many are kept (for the tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Entry<T>>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn a_value_per_runtime_gone_with_its_runtime() {
        let kept = PerRuntime::<u32>::new();
        let (a, b) = (runtime(), runtime());
        let (id_a, id_b) = (a.handle().id(), b.handle().id());
        assert_eq!(a.block_on(async { kept.insert(1) }), 1);
        b.block_on(async { kept.insert(2) });
        assert_eq!((kept.get(id_a), kept.get(id_b)), (Some(1), Some(2)));
        // A second value for `a` (a task that found none, as another did): the first stays.
        assert_eq!(a.block_on(async { kept.insert(3) }), 1);
        assert_eq!((kept.get(id_a), kept.len()), (Some(1), 2));
        // `b` ends: its value goes at the next insert, and never serves another runtime.
        drop(b);
        let c = runtime();
        c.block_on(async { kept.insert(4) });
        assert_eq!(kept.get(id_b), None);
        assert_eq!(kept.len(), 2);
        kept.remove(id_a);
        assert_eq!(kept.get(id_a), None);
        assert_eq!(a.block_on(async { kept.insert(6) }), 6);
        kept.clear();
        assert_eq!(kept.len(), 0);
        // Off any runtime: returned, not kept.
        assert_eq!(kept.insert(5), 5);
        assert_eq!(kept.len(), 0);
    }

    #[test]
    fn past_the_limit_the_least_recently_used_goes() {
        let kept = PerRuntime::<usize>::new();
        let first = runtime();
        first.block_on(async { kept.insert(0) });
        // Alive, each: none is pruned as ended.
        let others: Vec<_> = (1..LIMIT).map(|_| runtime()).collect();
        for (n, rt) in others.iter().enumerate() {
            rt.block_on(async { kept.insert(n + 1) });
        }
        assert_eq!(kept.len(), LIMIT);
        // `first` used again: the least recently used is now `others[0]`.
        assert_eq!(kept.get(first.handle().id()), Some(0));
        let last = runtime();
        last.block_on(async { kept.insert(LIMIT) });
        assert_eq!(kept.len(), LIMIT);
        assert_eq!(kept.get(others[0].handle().id()), None);
        assert_eq!(kept.get(first.handle().id()), Some(0));
    }
}
