//! The index cache behind `client[key]` and `endpoint[key]`: one child (an
//! [`Endpoint`](crate::Endpoint)) per key, created on first use and kept (append-only), shared
//! by threads, with no hand-written `unsafe`.

use std::sync::{Mutex, OnceLock};

use elsa::sync::FrozenMap;

/// How many children are kept in slots read without a lock: a client or an endpoint rarely
/// has more (`v3`, `v2`; `pay`, `refund`, ...).
pub(crate) const SLOTS: usize = 8;

/// The children of a client or an endpoint, by key.
pub(crate) struct Children<T> {
    /// Filled in order; a lookup compares keys until the first empty slot.
    slots: [OnceLock<(Box<str>, Box<T>)>; SLOTS],
    /// Children beyond the slots.
    more: FrozenMap<String, Box<T>>,
    /// Held while a child is added, so that each key is cached once.
    adding: Mutex<()>,
}

impl<T> Children<T> {
    /// No children yet.
    pub(crate) fn new() -> Children<T> {
        Children {
            slots: Default::default(),
            more: FrozenMap::new(),
            adding: Mutex::new(()),
        }
    }

    /// The child for `key`: the cached one, or `make()` cached now.
    pub(crate) fn get_or_add(&self, key: &str, make: impl FnOnce() -> T) -> &T {
        if let Some(hit) = self.cached(key) {
            return hit;
        }
        let _adding = self.adding.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = self.cached(key) {
            return hit;
        }
        let child = Box::new(make());
        match self.slots.iter().find(|slot| slot.get().is_none()) {
            Some(slot) => &slot.get_or_init(|| (key.into(), child)).1,
            None => self.more.insert(key.to_owned(), child),
        }
    }

    fn cached(&self, key: &str) -> Option<&T> {
        for slot in &self.slots {
            match slot.get() {
                Some((k, child)) if **k == *key => return Some(child),
                Some(_) => {}
                // Slots are filled in order: the rest are empty.
                None => return None,
            }
        }
        self.more.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::SLOTS;
    use crate::Endpoint;

    /// More keys than slots, added by four threads racing in different orders: every thread
    /// gets the same endpoint for each key.
    fn one_endpoint_per_key<'e>(index: impl Fn(&str) -> &'e Endpoint + Sync, prefix: &str) {
        let keys: Vec<String> = (0..2 * SLOTS).map(|i| format!("k{i}")).collect();
        let seen: Vec<Vec<usize>> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..4)
                .map(|t| {
                    let (keys, index) = (&keys, &index);
                    scope.spawn(move || {
                        let mut order: Vec<usize> = (0..keys.len()).collect();
                        order.rotate_left(t * 3);
                        let mut found = vec![0; keys.len()];
                        for i in order {
                            found[i] = index(&keys[i]) as *const Endpoint as usize;
                        }
                        found
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for (i, key) in keys.iter().enumerate() {
            let this = index(key);
            assert_eq!(this.template(), format!("{prefix}{key}"));
            for found in &seen {
                assert_eq!(found[i], this as *const Endpoint as usize, "{key}");
            }
        }
    }

    #[test]
    fn a_client_caches_one_endpoint_per_key_across_threads() {
        let client = crate::client::test_client();
        one_endpoint_per_key(|key| &client[key], "");
        assert_eq!(client["merchantService"].template(), "merchant-service");
        assert_eq!(client["v3/pay"]["_id_"].template(), "v3/pay/{id}");
    }

    #[test]
    fn an_endpoint_caches_one_endpoint_per_key_across_threads() {
        let client = crate::client::test_client();
        let v3 = &client["v3"];
        one_endpoint_per_key(|key| &v3[key], "v3/");
        assert_eq!(v3["merchantService"].template(), "v3/merchant-service");
        assert_eq!(v3["_id_"]["x"].template(), "v3/{id}/x");
    }
}
