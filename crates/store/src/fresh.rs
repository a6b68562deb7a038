//! Values computed from data at some generation, reused while that generation stands and for at
//! most a time-to-live. The generation is a counter the writer bumps (this process's writes are
//! seen at once); the time-to-live bounds how long another replica's writes may take to show.
//!
//! Memory is bounded twice: by `max_entries` (the oldest entry goes first), and in time: every
//! `put` drops the entries whose time-to-live has passed, so a key asked once is not kept until
//! the cache fills. (Before, a stale entry stayed until the same key came again or the cache
//! filled up; with fewer distinct queries than `max_entries` that never happened, and the reply
//! cache grew with every new page that was asked for, 20–30 KiB each: deskd-bench-soak.)

use std::sync::Mutex;
use std::time::{Duration, Instant};

use hashlink::LinkedHashMap;

pub struct FreshCache<V> {
    ttl: Duration,
    /// Entries kept at most; past it the oldest is dropped.
    max_entries: usize,
    /// In the order they were put (a key put again moves to the back), so the expired ones and
    /// the oldest are at the front.
    entries: Mutex<LinkedHashMap<String, (u64, Instant, V)>>,
}

impl<V: Clone> FreshCache<V> {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        FreshCache {
            ttl,
            max_entries,
            entries: Mutex::new(LinkedHashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LinkedHashMap<String, (u64, Instant, V)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value kept for `key` at `generation`, if still fresh.
    pub fn get(&self, key: &str, generation: u64) -> Option<V> {
        self.lock()
            .get(key)
            .filter(|(g, at, _)| *g == generation && at.elapsed() < self.ttl)
            .map(|e| e.2.clone())
    }

    /// Keeps `value`, computed from data read at `generation` (read before the computation
    /// started, so a write that raced it makes the entry stale at once), and drops the entries
    /// that can no longer be served: expired ones, and the oldest beyond `max_entries`.
    pub fn put(&self, key: String, generation: u64, value: V) {
        let now = Instant::now();
        let mut entries = self.lock();
        entries.insert(key, (generation, now, value));
        while let Some((_, (_, at, _))) = entries.front() {
            let expired = now.saturating_duration_since(*at) >= self.ttl;
            if !expired && entries.len() <= self.max_entries {
                break;
            }
            entries.pop_front();
        }
    }

    /// Entries held now, fresh or not yet swept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn never_holds_more_than_max_entries_and_drops_the_oldest() {
        let cache = FreshCache::new(HOUR, 8);
        for i in 0..1000 {
            cache.put(format!("q{i}"), 1, i);
            assert!(
                cache.len() <= 8,
                "{} entries after {} keys",
                cache.len(),
                i + 1
            );
        }
        assert_eq!(cache.get("q999", 1), Some(999));
        assert_eq!(cache.get("q992", 1), Some(992), "the newest 8 stay");
        assert_eq!(cache.get("q991", 1), None, "the oldest went first");
    }

    #[test]
    fn a_key_put_again_is_the_newest() {
        let cache = FreshCache::new(HOUR, 2);
        cache.put("a".into(), 1, 1);
        cache.put("b".into(), 1, 2);
        cache.put("a".into(), 2, 3);
        cache.put("c".into(), 2, 4);
        assert_eq!(cache.get("a", 2), Some(3));
        assert_eq!(cache.get("b", 1), None, "b was the oldest");
    }

    #[test]
    fn expired_entries_are_dropped_without_waiting_for_the_cache_to_fill() {
        // a zero time-to-live makes every entry expired at once: none may be kept
        let cache = FreshCache::new(Duration::ZERO, 1024);
        for i in 0..1000 {
            cache.put(format!("q{i}"), 1, i);
            assert_eq!(cache.len(), 0, "after {} distinct keys", i + 1);
        }
    }

    #[test]
    fn a_new_generation_is_a_miss() {
        let cache = FreshCache::new(HOUR, 4);
        cache.put("q".into(), 7, 1);
        assert_eq!(cache.get("q", 7), Some(1));
        assert_eq!(cache.get("q", 8), None);
    }
}
