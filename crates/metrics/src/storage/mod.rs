//! The time-series store: compressed chunks, the in-memory head and its label index.

pub mod chunk;
pub mod head;
pub mod index;
mod wal;

pub use head::{
    is_stale, stale_nan, AppendError, Metadata, SeriesData, Stats, Storage, StorageConfig,
    TsdbStatus,
};

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::VectorSelector;

/// The matcher sets of a selector: the parser keeps the bare metric name apart from the
/// braces, and `{a="x" or b="y"}` gives several sets whose selections are united.
pub fn matcher_sets(vs: &VectorSelector) -> Vec<Vec<Matcher>> {
    let mut sets = if vs.matchers.or_matchers.is_empty() {
        vec![vs.matchers.matchers.clone()]
    } else {
        vs.matchers.or_matchers.clone()
    };
    if let Some(name) = &vs.name {
        for s in &mut sets {
            s.push(Matcher::new(
                MatchOp::Equal,
                crate::labels::METRIC_NAME,
                name,
            ));
        }
    }
    for m in sets.iter_mut().flatten() {
        dot_all(m);
    }
    sets
}

/// Prometheus 3 lets `.` in a matcher's regex match a newline too; the parser's regex does not.
fn dot_all(m: &mut Matcher) {
    let Ok(re) = regex::Regex::new(&format!("^(?s:{})$", m.value)) else {
        return; // the parser's Go-compatible fallback stays
    };
    m.op = match m.op {
        MatchOp::Re(_) => MatchOp::Re(re),
        MatchOp::NotRe(_) => MatchOp::NotRe(re),
        _ => return,
    };
}

use std::sync::Arc;
use std::time::Duration;

/// Log size that triggers a snapshot before its time.
const SNAPSHOT_WAL_BYTES: u64 = 256 << 20;

/// How often retention is applied between snapshots: the head holds at most this much beyond
/// the retention (and one chunk).
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Runs the store's housekeeping until the task is aborted: the log is flushed to disk every
/// second (so a machine crash loses at most the last second of acknowledged writes), retention
/// is applied every minute, and every `snapshot_every`, or once the log passes 256 MiB, a
/// snapshot replaces the log.
pub fn spawn_maintenance(
    storage: Arc<Storage>,
    snapshot_every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last_snapshot = tokio::time::Instant::now();
        let mut last_purge = tokio::time::Instant::now();
        loop {
            tick.tick().await;
            let due = last_snapshot.elapsed() >= snapshot_every
                || storage.wal_bytes() > SNAPSHOT_WAL_BYTES;
            let purge = due || last_purge.elapsed() >= PURGE_EVERY;
            if purge {
                last_purge = tokio::time::Instant::now();
            }
            let st = storage.clone();
            let res = tokio::task::spawn_blocking(move || {
                if purge {
                    st.purge();
                }
                if due {
                    st.snapshot()
                } else {
                    st.sync()
                }
            })
            .await;
            match res {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "metrics store housekeeping failed"),
                Err(e) => tracing::warn!(error = %e, "metrics store housekeeping task failed"),
            }
            if due {
                last_snapshot = tokio::time::Instant::now();
            }
        }
    })
}
