//! [`BoundedCache`]: a map shared by threads that keeps at most a fixed number of entries. The
//! client keeps two: parsed templates ([`TemplateCache`](crate::template_cache::TemplateCache))
//! and the URLs of path prefixes ([`BaseUri`](crate::base_uri::BaseUri)). Both are keyed by
//! text a program may build at run time without end, hence the bound.

use std::collections::BTreeMap;
use std::sync::RwLock;

/// Values by text key, at most `limit` of them; once full, nothing more is kept.
pub(crate) struct BoundedCache<V> {
    entries: RwLock<BTreeMap<Box<str>, V>>,
    limit: usize,
}

impl<V: Clone> BoundedCache<V> {
    /// An empty cache that will keep at most `limit` entries.
    pub(crate) fn new(limit: usize) -> BoundedCache<V> {
        BoundedCache {
            entries: RwLock::new(BTreeMap::new()),
            limit,
        }
    }

    /// The value kept for `key`, or `make()` kept now (made with no lock held). `None`, and
    /// nothing made, when the cache is full and does not hold `key`.
    pub(crate) fn get_or_add(&self, key: &str, make: impl FnOnce() -> V) -> Option<V> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = entries.get(key) {
            return Some(hit.clone());
        }
        if entries.len() >= self.limit {
            return None;
        }
        drop(entries);
        let made = make();
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        // Another thread may have filled the cache, or added `key`, meanwhile.
        if entries.len() >= self.limit && !entries.contains_key(key) {
            return Some(made);
        }
        Some(entries.entry(key.into()).or_insert(made).clone())
    }

    /// How many entries are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::BoundedCache;

    #[test]
    fn keeps_the_first_value_up_to_its_limit_then_makes_nothing() {
        let cache = BoundedCache::new(2);
        assert_eq!(cache.get_or_add("a", || 1), Some(1));
        assert_eq!(cache.get_or_add("a", || 2), Some(1));
        assert_eq!(cache.get_or_add("b", || 3), Some(3));
        assert_eq!(cache.get_or_add("c", || unreachable!()), None);
        assert_eq!(cache.get_or_add("b", || 4), Some(3));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn threads_racing_for_one_key_all_get_the_kept_value() {
        let cache = &BoundedCache::new(8);
        let got: Vec<usize> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..8)
                .map(|t| scope.spawn(move || cache.get_or_add("k", || t)))
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().unwrap().unwrap())
                .collect()
        });
        let kept = cache.get_or_add("k", || 99).unwrap();
        assert!(got.iter().all(|&v| v == kept), "{got:?} vs {kept}");
    }
}
