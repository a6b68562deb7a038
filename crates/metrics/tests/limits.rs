//! Query limits: the max-samples bound and the timeout.

use std::sync::Arc;
use std::time::Duration;

use deskd_metrics::labels::Labels;
use deskd_metrics::promql::{Engine, EngineOptions, QueryError};
use deskd_metrics::storage::Storage;

fn store() -> Arc<Storage> {
    let st = Storage::default();
    let mut batch = Vec::new();
    for s in 0..50 {
        let l = Labels::from_pairs(&[("__name__", "m"), ("s", &s.to_string())]);
        for i in 0..100 {
            batch.push((l.clone(), i * 15_000, i as f64));
        }
    }
    st.append(&batch).expect("append");
    Arc::new(st)
}

#[test]
fn too_many_samples_is_an_execution_error() {
    let opts = EngineOptions {
        max_samples: 1000,
        ..EngineOptions::default()
    };
    let e = Engine::new(store(), opts);
    // 50 series × 40 samples in 10 minutes = 2000 samples held at once.
    let err = e
        .instant("sum(rate(m[10m]))", 1_000_000)
        .expect_err("limit");
    assert!(
        matches!(err, QueryError::Execution(ref m) if m.contains("too many samples")),
        "{err}"
    );
    // 50 series × 20 samples fits.
    e.instant("sum(rate(m[5m]))", 1_000_000)
        .expect("within the limit");
    // A range query holds its output too: 50 series × 30 steps.
    let err = e.range("m", 0, 1_450_000, 50_000).expect_err("limit");
    assert!(matches!(err, QueryError::Execution(_)));
}

#[test]
fn timeout_is_reported_as_timeout() {
    let mut e = Engine::new(store(), EngineOptions::default());
    e.set_timeout(Duration::ZERO);
    let err = e
        .range("sum(rate(m[5m]))", 0, 1_500_000, 15_000)
        .expect_err("timeout");
    assert!(matches!(err, QueryError::Timeout(_)), "{err}");
}

#[test]
fn extreme_times_neither_panic_nor_hang() {
    let opts = EngineOptions {
        timeout: Duration::from_secs(2),
        ..EngineOptions::default()
    };
    let e = Engine::new(store(), opts);
    for q in [
        "m offset 290000000y",
        "m offset -290000000y",
        "rate(m[290000000y])",
        "m @ 9000000000000000",
        "count_over_time(m[290000000y:1y])",
    ] {
        let _ = e.instant(q, 1_000_000);
        let _ = e.range(q, i64::MIN / 4, i64::MAX / 4, i64::MAX / 8);
    }
    // A selector-free subquery with billions of steps still meets the limits.
    let err = e
        .instant("count_over_time(vector(1)[10y:1ms])", 0)
        .expect_err("limit");
    assert!(
        matches!(err, QueryError::Timeout(_) | QueryError::Execution(_)),
        "{err}"
    );
}
