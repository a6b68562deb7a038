//! Values computed from data at some generation, reused while that generation stands and for at
//! most a time-to-live. The generation is a counter the writer bumps (this process's writes are
//! seen at once); the time-to-live bounds how long another replica's writes may take to show.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct FreshCache<V> {
    ttl: Duration,
    /// Entries kept; the cache starts over when full (hot keys refill it at once).
    max_entries: usize,
    entries: Mutex<HashMap<String, (u64, Instant, V)>>,
}

impl<V: Clone> FreshCache<V> {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        FreshCache {
            ttl,
            max_entries,
            entries: Mutex::default(),
        }
    }

    /// The value kept for `key` at `generation`, if still fresh.
    pub fn get(&self, key: &str, generation: u64) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(g, at, _)| *g == generation && at.elapsed() < self.ttl)
            .map(|e| e.2.clone())
    }

    /// Keeps `value`, computed from data read at `generation` (read before the computation
    /// started, so a write that raced it makes the entry stale at once).
    pub fn put(&self, key: String, generation: u64, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, (generation, Instant::now(), value));
    }
}
