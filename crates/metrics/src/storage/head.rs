//! The in-memory head: series, their chunks, the index and metric metadata.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use promql_parser::label::Matcher;

use std::path::Path;

use super::chunk::Chunk;
use super::index::{Index, SeriesId};
use super::wal::{self, Reader, Wal};
use crate::labels::Labels;

/// Prometheus's staleness marker: a NaN with this exact bit pattern.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Why a batch was refused. Nothing of a refused batch is stored.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AppendError {
    #[error("out of order sample for series {0} at {1} ms")]
    OutOfOrder(String, i64),
    #[error("duplicate sample for timestamp: series {0} at {1} ms has another value")]
    Duplicate(String, i64),
    #[error("too old sample for series {0} at {1} ms: outside the retention")]
    TooOld(String, i64),
    #[error("series limit of {0} reached")]
    TooManySeries(usize),
    #[error("series without a metric name")]
    NoName,
    #[error("writing the write-ahead log failed: {0}")]
    Io(String),
}

/// One series as a query sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesData {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
}

/// Type, help and unit of a metric family, as `# TYPE`/`# HELP` declared them.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Metadata {
    pub kind: String,
    pub help: String,
    pub unit: String,
}

#[derive(Debug)]
struct MemSeries {
    labels: Labels,
    chunks: Vec<Chunk>,
    last: Option<(i64, u64)>,
}

impl MemSeries {
    /// Appends to the last chunk, or to a new one once it is full or spans `max_span` ms.
    fn append(&mut self, t: i64, v: f64, max_span: i64) {
        let cut = |c: &Chunk| c.is_full() || t.saturating_sub(c.min_time()) >= max_span;
        if self.chunks.last().is_none_or(cut) {
            // a full chunk is never written again: give back what its buffer grew beyond its
            // bytes (up to half of it) for the retention it will still be kept
            if let Some(full) = self.chunks.last_mut() {
                full.compact();
            }
            self.chunks.push(Chunk::default());
        }
        if let Some(c) = self.chunks.last_mut() {
            c.append(t, v);
        }
        self.last = Some((t, v.to_bits()));
    }

    fn samples(&self, mint: i64, maxt: i64) -> Vec<(i64, f64)> {
        let mut out = Vec::new();
        for c in &self.chunks {
            if c.max_time() < mint || c.min_time() > maxt {
                continue;
            }
            c.samples_in(mint, maxt, &mut out);
        }
        out
    }

    fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.chunks
            .iter()
            .any(|c| c.max_time() >= mint && c.min_time() <= maxt)
    }
}

#[derive(Default, Debug)]
struct Head {
    series: HashMap<SeriesId, MemSeries>,
    ids: HashMap<Labels, SeriesId>,
    index: Index,
    next_id: SeriesId,
    metadata: BTreeMap<String, Vec<Metadata>>,
    /// Newest sample time seen; retention is measured back from it.
    max_t: i64,
    /// Longest time a chunk may span ([`Head::for_retention`]).
    max_span: i64,
    wal: Option<Wal>,
}

/// Limits of the store.
#[derive(Clone, Debug)]
pub struct StorageConfig {
    /// Samples older than the newest minus this are dropped (Prometheus default: 15 days).
    pub retention_ms: i64,
    /// The memory bound: new series beyond this are refused.
    pub max_series: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            retention_ms: 15 * 24 * 3600 * 1000,
            max_series: 1_000_000,
        }
    }
}

/// Size figures of the head.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub series: usize,
    pub samples: usize,
    /// Encoded bytes of the chunks.
    pub chunk_bytes: usize,
    /// What the chunks hold in memory: their buffers' capacity and the chunk records.
    pub chunk_memory: usize,
}

/// What [`Storage::tsdb_status`] reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TsdbStatus {
    pub num_series: usize,
    pub chunk_count: usize,
    /// Samples in the head and the memory their chunks hold ([`Stats::chunk_memory`]).
    pub num_samples: usize,
    pub chunk_memory: usize,
    pub min_time: i64,
    pub max_time: i64,
    pub cardinality: super::index::Cardinality,
}

/// The time-series store. Readers share the lock; a batch append takes it once.
#[derive(Debug)]
pub struct Storage {
    head: RwLock<Head>,
    config: StorageConfig,
}

impl Default for Storage {
    fn default() -> Self {
        Storage::new(StorageConfig::default())
    }
}

impl Storage {
    pub fn new(config: StorageConfig) -> Self {
        Storage {
            head: RwLock::new(Head::for_retention(config.retention_ms)),
            config,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Head> {
        self.head.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Head> {
        self.head.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a batch all-or-nothing: every sample is checked against the series' last sample
    /// (and the batch's earlier samples) before any is stored. A repeated sample with the same
    /// value is accepted and ignored, as Prometheus does.
    pub fn append(&self, batch: &[(Labels, i64, f64)]) -> Result<usize, AppendError> {
        let mut head = self.write();
        let accepted = self.check(&head, batch)?;
        let mut new_ids: HashMap<&Labels, SeriesId> = HashMap::new();
        let mut next = head.next_id;
        let mut plan = Vec::with_capacity(batch.len());
        for (i, (labels, t, v)) in batch.iter().enumerate() {
            if !accepted[i] {
                continue;
            }
            let id = match head.ids.get(labels) {
                Some(id) => *id,
                None => *new_ids.entry(labels).or_insert_with(|| {
                    next += 1;
                    next - 1
                }),
            };
            plan.push((id, *t, *v));
        }
        let mut created: Vec<(SeriesId, &Labels)> =
            new_ids.into_iter().map(|(l, id)| (id, l)).collect();
        created.sort_by_key(|(id, _)| *id);
        if let Some(w) = head.wal.as_mut() {
            w.write(&log_records(&created, &plan))
                .map_err(|e| AppendError::Io(e.to_string()))?;
        }
        for (id, labels) in created {
            head.create(id, labels.clone());
        }
        head.next_id = next;
        let max_span = head.max_span;
        for (id, t, v) in &plan {
            if let Some(s) = head.series.get_mut(id) {
                s.append(*t, *v, max_span);
            }
            head.max_t = head.max_t.max(*t);
        }
        Ok(plan.len())
    }

    /// Which samples of the batch are new (false: an identical repeat); any error refuses all.
    fn check(&self, head: &Head, batch: &[(Labels, i64, f64)]) -> Result<Vec<bool>, AppendError> {
        let mut last: HashMap<&Labels, (i64, u64)> = HashMap::new();
        let mut new_series = 0;
        let mut max_t = head.max_t;
        let mut accepted = Vec::with_capacity(batch.len());
        for (labels, t, v) in batch {
            if labels.name().is_none() {
                return Err(AppendError::NoName);
            }
            let prev = match last.get(labels) {
                Some(p) => Some(*p),
                None => match head.ids.get(labels) {
                    Some(id) => head.series.get(id).and_then(|s| s.last),
                    None => {
                        new_series += 1;
                        None
                    }
                },
            };
            max_t = max_t.max(*t);
            if *t < max_t.saturating_sub(self.config.retention_ms) {
                return Err(AppendError::TooOld(labels.to_string(), *t));
            }
            let fresh = match prev {
                Some((pt, _)) if *t < pt => {
                    return Err(AppendError::OutOfOrder(labels.to_string(), *t))
                }
                Some((pt, pv)) if *t == pt && pv != v.to_bits() => {
                    return Err(AppendError::Duplicate(labels.to_string(), *t))
                }
                Some((pt, _)) => *t > pt,
                None => true,
            };
            if fresh {
                last.insert(labels, (*t, v.to_bits()));
            }
            accepted.push(fresh);
        }
        if head.series.len() + new_series > self.config.max_series {
            return Err(AppendError::TooManySeries(self.config.max_series));
        }
        Ok(accepted)
    }

    /// Series matching all matchers with their samples in [mint, maxt], sorted by labels.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesData> {
        let head = self.read();
        let mut out: Vec<SeriesData> = head
            .matching(matchers)
            .filter_map(|s| {
                let samples = s.samples(mint, maxt);
                (!samples.is_empty()).then(|| SeriesData {
                    labels: s.labels.clone(),
                    samples,
                })
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }

    /// Label sets of the series matching all matchers that have samples in [mint, maxt].
    pub fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Labels> {
        let head = self.read();
        let mut out: Vec<Labels> = head
            .matching(matchers)
            .filter(|s| s.overlaps(mint, maxt))
            .map(|s| s.labels.clone())
            .collect();
        out.sort();
        out
    }

    /// Every label name in the store.
    pub fn label_names(&self) -> Vec<String> {
        self.read().index.label_names()
    }

    /// Every value of one label in the store.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.read().index.label_values(name)
    }

    /// Records a family's metadata; an identical entry is kept once.
    pub fn set_metadata(&self, family: &str, meta: Metadata) {
        let mut head = self.write();
        let known = head.metadata.get(family).is_some_and(|l| l.contains(&meta));
        if known {
            return;
        }
        if let Some(w) = head.wal.as_mut() {
            let mut body = Vec::new();
            wal::put_metadata(&mut body, family, &meta);
            let mut buf = Vec::new();
            wal::frame(&mut buf, wal::METADATA, &body);
            // Metadata is descriptive only; a failed write costs the help text after a restart.
            let _ = w.write(&buf);
        }
        head.metadata
            .entry(family.to_string())
            .or_default()
            .push(meta);
    }

    pub fn metadata(&self) -> BTreeMap<String, Vec<Metadata>> {
        self.read().metadata.clone()
    }

    /// Drops chunks wholly older than the retention, and series left without chunks.
    pub fn purge(&self) -> usize {
        let mut head = self.write();
        let cutoff = head.max_t.saturating_sub(self.config.retention_ms);
        let mut dropped = Vec::new();
        for (id, s) in head.series.iter_mut() {
            s.chunks.retain(|c| c.max_time() >= cutoff);
            if s.chunks.is_empty() {
                dropped.push(*id);
            }
        }
        for id in &dropped {
            if let Some(s) = head.series.remove(id) {
                head.index.remove(*id, &s.labels);
                head.ids.remove(&s.labels);
            }
        }
        dropped.len()
    }

    pub fn config(&self) -> &StorageConfig {
        &self.config
    }

    /// Head figures for `/api/v1/status/tsdb`: series, chunks, the time span (`i64::MAX` and
    /// `i64::MIN` when empty, as Prometheus reports) and the index's cardinality.
    pub fn tsdb_status(&self, limit: usize) -> TsdbStatus {
        let head = self.read();
        let mut st = TsdbStatus {
            num_series: head.series.len(),
            chunk_count: 0,
            num_samples: 0,
            chunk_memory: 0,
            min_time: i64::MAX,
            max_time: i64::MIN,
            cardinality: head.index.cardinality(limit),
        };
        for s in head.series.values() {
            st.chunk_count += s.chunks.len();
            st.chunk_memory += s.chunks.capacity() * std::mem::size_of::<Chunk>();
            for c in &s.chunks {
                st.num_samples += c.len();
                st.chunk_memory += c.capacity();
            }
            if let (Some(first), Some(last)) = (s.chunks.first(), s.chunks.last()) {
                st.min_time = st.min_time.min(first.min_time());
                st.max_time = st.max_time.max(last.max_time());
            }
        }
        st
    }

    pub fn stats(&self) -> Stats {
        let head = self.read();
        let mut st = Stats {
            series: head.series.len(),
            ..Stats::default()
        };
        for s in head.series.values() {
            st.chunk_memory += s.chunks.capacity() * std::mem::size_of::<Chunk>();
            for c in &s.chunks {
                st.samples += c.len();
                st.chunk_bytes += c.bytes();
                st.chunk_memory += c.capacity();
            }
        }
        st
    }
}

impl Head {
    /// Retention drops whole chunks only, so a series holds up to one chunk beyond it; a chunk
    /// is cut at a quarter of the retention at most (120 samples come first unless the
    /// retention is under two hours at 15 s), which keeps a series within 1.25× its retention.
    fn for_retention(retention_ms: i64) -> Head {
        Head {
            max_span: (retention_ms / 4).max(1),
            ..Head::default()
        }
    }

    fn create(&mut self, id: SeriesId, labels: Labels) {
        self.next_id = self.next_id.max(id + 1);
        self.index.add(id, &labels);
        self.ids.insert(labels.clone(), id);
        self.series.insert(
            id,
            MemSeries {
                labels,
                chunks: Vec::new(),
                last: None,
            },
        );
    }

    fn matching<'a>(&'a self, matchers: &'a [Matcher]) -> impl Iterator<Item = &'a MemSeries> {
        self.index
            .candidates(matchers)
            .into_iter()
            .filter_map(|id| self.series.get(&id))
            .filter(|s| {
                matchers
                    .iter()
                    .filter(|m| !matches_all(m))
                    .all(|m| m.is_match(s.labels.value(&m.name)))
            })
    }
}

/// The log records of one batch: its new series, then its samples.
fn log_records(created: &[(SeriesId, &Labels)], plan: &[(SeriesId, i64, f64)]) -> Vec<u8> {
    let mut buf = Vec::new();
    for (id, labels) in created {
        let mut body = id.to_le_bytes().to_vec();
        wal::put_labels(&mut body, labels);
        wal::frame(&mut buf, wal::SERIES, &body);
    }
    let mut body = Vec::with_capacity(4 + plan.len() * 24);
    body.extend_from_slice(&(plan.len() as u32).to_le_bytes());
    for (id, t, v) in plan {
        body.extend_from_slice(&id.to_le_bytes());
        body.extend_from_slice(&t.to_le_bytes());
        body.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    wal::frame(&mut buf, wal::SAMPLES, &body);
    buf
}

impl Head {
    /// Applies one log record; samples a series already has are skipped, so replaying a log
    /// over a newer snapshot is harmless.
    fn replay(&mut self, kind: u8, body: &[u8]) -> Option<()> {
        let mut r = Reader::new(body);
        match kind {
            wal::SERIES => {
                let id = r.u64()?;
                let labels = wal::read_labels(&mut r)?;
                if !self.series.contains_key(&id) && !self.ids.contains_key(&labels) {
                    self.create(id, labels);
                }
            }
            wal::SAMPLES => {
                for _ in 0..r.u32()? {
                    let (id, t, v) = (r.u64()?, r.i64()?, f64::from_bits(r.u64()?));
                    if let Some(s) = self.series.get_mut(&id) {
                        if s.last.is_none_or(|(lt, _)| t > lt) {
                            s.append(t, v, self.max_span);
                            self.max_t = self.max_t.max(t);
                        }
                    }
                }
            }
            wal::METADATA => {
                let (family, m) = wal::read_metadata(&mut r)?;
                let list = self.metadata.entry(family).or_default();
                if !list.contains(&m) {
                    list.push(m);
                }
            }
            _ => {}
        }
        Some(())
    }

    fn encode_snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.next_id.to_le_bytes());
        out.extend_from_slice(&self.max_t.to_le_bytes());
        out.extend_from_slice(&(self.series.len() as u64).to_le_bytes());
        for (id, s) in &self.series {
            out.extend_from_slice(&id.to_le_bytes());
            wal::put_labels(&mut out, &s.labels);
            let (lt, lv) = s.last.unwrap_or((i64::MIN, 0));
            out.extend_from_slice(&lt.to_le_bytes());
            out.extend_from_slice(&lv.to_le_bytes());
            out.extend_from_slice(&(s.chunks.len() as u32).to_le_bytes());
            for c in &s.chunks {
                c.encode(&mut out);
            }
        }
        let metas: Vec<(&String, &Metadata)> = self
            .metadata
            .iter()
            .flat_map(|(f, l)| l.iter().map(move |m| (f, m)))
            .collect();
        out.extend_from_slice(&(metas.len() as u64).to_le_bytes());
        for (f, m) in metas {
            wal::put_metadata(&mut out, f, m);
        }
        out
    }

    fn decode_snapshot(&mut self, body: &[u8]) -> Option<()> {
        let mut r = Reader::new(body);
        self.next_id = r.u64()?;
        self.max_t = r.i64()?;
        for _ in 0..r.u64()? {
            let id = r.u64()?;
            let labels = wal::read_labels(&mut r)?;
            let (lt, lv) = (r.i64()?, r.u64()?);
            let mut chunks = Vec::new();
            for _ in 0..r.u32()? {
                chunks.push(Chunk::decode(&mut r)?);
            }
            self.create(id, labels);
            if let Some(s) = self.series.get_mut(&id) {
                s.chunks = chunks;
                s.last = (lt != i64::MIN || !s.chunks.is_empty()).then_some((lt, lv));
            }
        }
        for _ in 0..r.u64()? {
            let (f, m) = wal::read_metadata(&mut r)?;
            self.metadata.entry(f).or_default().push(m);
        }
        Some(())
    }
}

impl Storage {
    /// Opens a durable store in `dir`: loads the snapshot, replays the log after it and keeps
    /// logging every accepted batch. Retention is applied to what was loaded.
    pub fn open(dir: &Path, config: StorageConfig) -> std::io::Result<Storage> {
        let (w, snapshot, log) = Wal::open(dir)?;
        let mut head = Head::for_retention(config.retention_ms);
        if let Some(body) = snapshot {
            head.decode_snapshot(&body)
                .ok_or_else(|| std::io::Error::other("metrics snapshot is damaged"))?;
        }
        for (kind, body) in wal::records(&log).0 {
            if head.replay(kind, body).is_none() {
                break;
            }
        }
        head.wal = Some(w);
        let st = Storage {
            head: RwLock::new(head),
            config,
        };
        st.purge();
        Ok(st)
    }

    /// Flushes the log to disk (called every second by `spawn_maintenance`).
    pub fn sync(&self) -> std::io::Result<()> {
        match &self.read().wal {
            Some(w) => w.sync(),
            None => Ok(()),
        }
    }

    /// Size of the log in bytes (0 without one).
    pub fn wal_bytes(&self) -> u64 {
        self.read().wal.as_ref().map(Wal::len).unwrap_or(0)
    }

    /// Writes a snapshot of the head and empties the log. Appends wait meanwhile.
    pub fn snapshot(&self) -> std::io::Result<()> {
        let mut head = self.write();
        let body = head.encode_snapshot();
        match head.wal.as_mut() {
            Some(w) => w.install_snapshot(&body),
            None => Ok(()),
        }
    }
}

/// `=~".*"` holds for every value (and for a missing label), so it needs no checking.
fn matches_all(m: &Matcher) -> bool {
    matches!(m.op, promql_parser::label::MatchOp::Re(_))
        && (m.value == ".*" || m.value == "(?s:.*)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::chunk::SAMPLES_PER_CHUNK;

    #[test]
    fn a_full_chunk_keeps_no_spare_bytes() {
        let st = Storage::default();
        let l = Labels::from_pairs(&[("__name__", "vm_cpu_seconds_total")]);
        let n = i64::from(SAMPLES_PER_CHUNK) * 5 + 7;
        let batch: Vec<_> = (0..n)
            .map(|i| (l.clone(), i * 15_000, (i as f64 * 0.37).sin() * 1e6))
            .collect();
        st.append(&batch).expect("append");
        let head = st.read();
        let chunks = &head.series.values().next().expect("one series").chunks;
        assert_eq!(chunks.len(), 6);
        for c in &chunks[..5] {
            assert_eq!(c.capacity(), c.bytes(), "a full chunk is compacted");
        }
        let stats = st.stats();
        assert_eq!(stats.samples, n as usize);
        assert!(stats.chunk_memory >= stats.chunk_bytes);
    }
}
