//! Label sets: the identity of a series.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// The label holding the metric name.
pub const METRIC_NAME: &str = "__name__";

/// The labels describing a metric rather than a series: dropped together when a function or
/// operator drops the metric name.
pub const METADATA_LABELS: &[&str] = &[METRIC_NAME, "__type__", "__unit__"];

type Pairs = Arc<Vec<(Arc<str>, Arc<str>)>>;

/// A label set kept sorted by name, so equal sets compare and hash equal. Shared, because a
/// query copies a series' labels into every step's sample, and carrying its hash, because the
/// evaluator keys many maps by label sets.
#[derive(Clone, Debug, Default)]
pub struct Labels(Pairs, u64);

fn hash_pairs(pairs: &[(Arc<str>, Arc<str>)]) -> u64 {
    let mut h = FxHasher::default();
    for (n, v) in pairs {
        h.write(n.as_bytes());
        h.write_u8(0xff);
        h.write(v.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        self.1 == other.1 && (Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0)
    }
}

impl Eq for Labels {}

impl std::hash::Hash for Labels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.1);
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

impl Labels {
    /// Builds a set from pairs in any order; empty values are dropped (Prometheus treats an
    /// empty label as an absent one) and a later duplicate name wins.
    pub fn new(mut pairs: Vec<(String, String)>) -> Self {
        pairs.retain(|(_, v)| !v.is_empty());
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Arc<str>, Arc<str>)> = Vec::with_capacity(pairs.len());
        for (n, v) in pairs {
            match out.last_mut() {
                Some(last) if *last.0 == *n => last.1 = Arc::from(v),
                _ => out.push((Arc::from(n), Arc::from(v))),
            }
        }
        Self::from_vec(out)
    }

    fn from_vec(v: Vec<(Arc<str>, Arc<str>)>) -> Self {
        let h = hash_pairs(&v);
        Labels(Arc::new(v), h)
    }

    /// Builds a set from string pairs (tests and literals).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self::new(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()
            .map(|i| &*self.0[i].1)
    }

    /// The value of `name`, or "" when absent (how matchers see a missing label).
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (&**n, &**v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sets (or, with an empty value, removes) one label.
    pub fn set(&mut self, name: &str, value: &str) {
        let found = self.0.binary_search_by(|(n, _)| (**n).cmp(name));
        match found {
            Ok(i) if value.is_empty() => {
                Arc::make_mut(&mut self.0).remove(i);
            }
            Ok(i) => Arc::make_mut(&mut self.0)[i].1 = Arc::from(value),
            Err(_) if value.is_empty() => {}
            Err(i) => Arc::make_mut(&mut self.0).insert(i, (Arc::from(name), Arc::from(value))),
        }
        self.1 = hash_pairs(&self.0);
    }

    /// The set without `__name__` and the other metadata labels Prometheus 3 drops with it
    /// (`__type__`, `__unit__`); shares the set when it has none of them.
    pub fn without_name(&self) -> Labels {
        if !self.iter().any(|(n, _)| METADATA_LABELS.contains(&n)) {
            return self.clone();
        }
        self.without(METADATA_LABELS)
    }

    /// Drops the named labels.
    pub fn without<S: AsRef<str>>(&self, names: &[S]) -> Labels {
        Self::from_vec(
            self.0
                .iter()
                .filter(|(n, _)| !names.iter().any(|x| x.as_ref() == &**n))
                .cloned()
                .collect(),
        )
    }

    /// Keeps only the named labels.
    pub fn keep<S: AsRef<str>>(&self, names: &[S]) -> Labels {
        Self::from_vec(
            self.0
                .iter()
                .filter(|(n, _)| names.iter().any(|x| x.as_ref() == &**n))
                .cloned()
                .collect(),
        )
    }

    /// The metric name. Only labels starting with an upper-case letter sort before
    /// `__name__`, so it is almost always the first label; check that before searching.
    pub fn name(&self) -> Option<&str> {
        match self.0.first() {
            Some((n, v)) if &**n == METRIC_NAME => Some(v),
            Some((n, _)) if n.as_bytes().first().is_some_and(|b| *b > b'_') => None,
            _ => self.get(METRIC_NAME),
        }
    }
}

impl fmt::Display for Labels {
    /// Prometheus's own spelling: `name{a="b", c="d"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = self.name() {
            write!(f, "{n}")?;
        }
        write!(f, "{{")?;
        let mut first = true;
        for (n, v) in self.iter().filter(|(n, _)| *n != METRIC_NAME) {
            if !first {
                write!(f, ", ")?;
            }
            first = false;
            write!(f, "{n}={v:?}")?;
        }
        write!(f, "}}")
    }
}

/// A fast non-cryptographic hasher (the Fx hash) for the evaluator's per-step maps, which hash
/// many label sets; the store keeps the standard hasher for sets that come from outside.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.add(u64::from_le_bytes(b));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
pub type FastSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

/// True for a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// True for a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn valid_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_deduplicated() {
        let l = Labels::from_pairs(&[("b", "2"), ("a", "1"), ("c", ""), ("a", "3")]);
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![("a", "3"), ("b", "2")]);
        assert_eq!(l.value("c"), "");
        assert_eq!(l.to_string(), "{a=\"3\", b=\"2\"}");
    }

    #[test]
    fn name_before_and_after_other_labels() {
        for first in ["A", "__a", "_", "a"] {
            let l = Labels::from_pairs(&[(first, "x"), ("__name__", "m")]);
            assert_eq!(l.name(), Some("m"), "{first}");
            assert_eq!(l.without_name().name(), None, "{first}");
        }
        assert_eq!(Labels::default().name(), None);
    }
}
