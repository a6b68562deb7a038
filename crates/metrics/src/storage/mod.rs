//! The time-series store: compressed chunks, the in-memory head and its label index.

pub mod chunk;
pub mod head;
pub mod index;

pub use head::{
    is_stale, stale_nan, AppendError, Metadata, SeriesData, Stats, Storage, StorageConfig,
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
    sets
}
