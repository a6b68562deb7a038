//! The inverted index: label name → value → sorted series ids.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use promql_parser::label::{MatchOp, Matcher};

use crate::labels::Labels;

pub type SeriesId = u64;

#[derive(Default, Debug)]
pub struct Index {
    postings: HashMap<String, BTreeMap<String, Vec<SeriesId>>>,
    all: BTreeSet<SeriesId>,
}

impl Index {
    /// Ids grow monotonically, so pushing keeps every posting list sorted.
    pub fn add(&mut self, id: SeriesId, labels: &Labels) {
        for (n, v) in labels.iter() {
            self.postings
                .entry(n.to_string())
                .or_default()
                .entry(v.to_string())
                .or_default()
                .push(id);
        }
        self.all.insert(id);
    }

    pub fn remove(&mut self, id: SeriesId, labels: &Labels) {
        for (n, v) in labels.iter() {
            if let Some(values) = self.postings.get_mut(n) {
                if let Some(list) = values.get_mut(v) {
                    list.retain(|x| *x != id);
                    if list.is_empty() {
                        values.remove(v);
                    }
                }
                if values.is_empty() {
                    self.postings.remove(n);
                }
            }
        }
        self.all.remove(&id);
    }

    pub fn label_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.postings.keys().cloned().collect();
        v.sort();
        v
    }

    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.postings
            .get(name)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Candidate ids for one matcher that does not match the empty string: the union of the
    /// postings of every value it matches. Matchers that match "" also select series without
    /// the label, so they only filter (see `candidates`).
    fn postings_for(&self, m: &Matcher) -> BTreeSet<SeriesId> {
        let Some(values) = self.postings.get(&m.name) else {
            return BTreeSet::new();
        };
        match &m.op {
            MatchOp::Equal => values
                .get(&m.value)
                .map(|l| l.iter().copied().collect())
                .unwrap_or_default(),
            _ => values
                .iter()
                .filter(|(v, _)| m.is_match(v))
                .flat_map(|(_, l)| l.iter().copied())
                .collect(),
        }
    }

    /// Ids that may match all matchers; the caller checks each against its labels.
    pub fn candidates(&self, matchers: &[Matcher]) -> BTreeSet<SeriesId> {
        let mut set: Option<BTreeSet<SeriesId>> = None;
        for m in matchers.iter().filter(|m| !m.is_match("")) {
            let p = self.postings_for(m);
            set = Some(match set {
                None => p,
                Some(s) => s.intersection(&p).copied().collect(),
            });
            if set.as_ref().is_some_and(|s| s.is_empty()) {
                break;
            }
        }
        set.unwrap_or_else(|| self.all.clone())
    }
}

/// Cardinality figures of the index, each list the `limit` largest by count (ties by name):
/// what `/api/v1/status/tsdb` reports (Prometheus's `PostingsStats`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cardinality {
    pub series_by_metric_name: Vec<(String, u64)>,
    pub values_by_label_name: Vec<(String, u64)>,
    /// Bytes of names and values over the series carrying each label.
    pub bytes_by_label_name: Vec<(String, u64)>,
    pub series_by_label_pair: Vec<(String, u64)>,
    pub num_label_pairs: usize,
}

fn top(mut v: Vec<(String, u64)>, limit: usize) -> Vec<(String, u64)> {
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(limit);
    v
}

impl Index {
    pub fn cardinality(&self, limit: usize) -> Cardinality {
        let (mut names, mut values, mut bytes, mut pairs) = (vec![], vec![], vec![], vec![]);
        let mut num_label_pairs = 0;
        for (n, by_value) in &self.postings {
            values.push((n.clone(), by_value.len() as u64));
            num_label_pairs += by_value.len();
            let mut size = 0u64;
            for (v, ids) in by_value {
                let count = ids.len() as u64;
                if n == crate::labels::METRIC_NAME {
                    names.push((v.clone(), count));
                }
                pairs.push((format!("{n}={v}"), count));
                size += (n.len() + v.len()) as u64 * count;
            }
            bytes.push((n.clone(), size));
        }
        Cardinality {
            series_by_metric_name: top(names, limit),
            values_by_label_name: top(values, limit),
            bytes_by_label_name: top(bytes, limit),
            series_by_label_pair: top(pairs, limit),
            num_label_pairs,
        }
    }
}
