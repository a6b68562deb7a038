//! The store: compression, matchers, ordering, atomic batches, retention.

use deskd_metrics::labels::Labels;
use deskd_metrics::storage::{
    is_stale, matcher_sets, stale_nan, AppendError, Storage, StorageConfig,
};
use promql_parser::label::Matcher;
use promql_parser::parser::{parse, Expr};

fn matchers(sel: &str) -> Vec<Matcher> {
    match parse(sel) {
        Ok(Expr::VectorSelector(vs)) => matcher_sets(&vs).remove(0),
        other => panic!("not a selector: {other:?}"),
    }
}

fn series(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut v = vec![("__name__", name)];
    v.extend_from_slice(pairs);
    Labels::from_pairs(&v)
}

#[test]
fn regular_15s_data_compresses_below_4_bytes_per_sample() {
    let st = Storage::default();
    let start = 1_700_000_000_000i64;
    let mut batch = Vec::new();
    for s in 0..100 {
        let cpu = series("vm_cpu_seconds_total", &[("desk", &format!("d{s}"))]);
        let mem = series("vm_memory_used_bytes", &[("desk", &format!("d{s}"))]);
        let mut counter = 0.0;
        for i in 0..240i64 {
            // A little scrape jitter on some samples, counters growing by varying amounts,
            // gauges moving in whole kilobytes.
            let t = start + i * 15_000 + if i % 7 == 0 { 3 } else { 0 };
            counter += ((i * 37 + s) % 13) as f64 * 0.25;
            batch.push((cpu.clone(), t, counter));
            let g = 2.0e9 + (((i * 7919 + s * 31) % 1000) * 1024) as f64;
            batch.push((mem.clone(), t, g));
        }
    }
    st.append(&batch).expect("append");
    let stats = st.stats();
    let bps = stats.chunk_bytes as f64 / stats.samples as f64;
    println!(
        "compression: {} samples in {} series, {} bytes, {:.2} bytes/sample",
        stats.samples, stats.series, stats.chunk_bytes, bps
    );
    assert_eq!(stats.samples, 48_000);
    assert!(bps <= 4.0, "{bps} bytes per sample");
}

fn sample_store() -> Storage {
    let st = Storage::default();
    let mut b = Vec::new();
    for (job, inst) in [("api", "a"), ("api", "b"), ("db", "a"), ("", "c")] {
        b.push((series("up", &[("job", job), ("instance", inst)]), 1000, 1.0));
    }
    b.push((series("other", &[("job", "api")]), 1000, 1.0));
    st.append(&b).expect("append");
    st
}

fn names(st: &Storage, sel: &str) -> Vec<String> {
    st.select(&matchers(sel), 0, 10_000)
        .into_iter()
        .map(|s| s.labels.to_string())
        .collect()
}

#[test]
fn all_matcher_kinds_with_anchored_regex_and_missing_labels() {
    let st = sample_store();
    assert_eq!(names(&st, r#"up{job="api"}"#).len(), 2);
    assert_eq!(names(&st, r#"up{job!="api"}"#).len(), 2);
    assert_eq!(names(&st, r#"up{job=~"ap"}"#).len(), 0, "regex is anchored");
    assert_eq!(names(&st, r#"up{job=~"ap.*|db"}"#).len(), 3);
    assert_eq!(names(&st, r#"up{job!~"ap.*"}"#).len(), 2);
    assert_eq!(
        names(&st, r#"up{job=""}"#),
        vec![r#"up{instance="c"}"#.to_string()],
        "an empty value matches a missing label"
    );
    assert_eq!(names(&st, r#"up{job=~".+"}"#).len(), 3);
    assert_eq!(names(&st, r#"{job="api"}"#).len(), 3);
    assert_eq!(
        names(&st, r#"{__name__=~"up|other", instance!="b"}"#).len(),
        4
    );
    assert!(
        parse(r#"{nope=""}"#).is_err(),
        "one matcher must not match empty"
    );
}

#[test]
fn out_of_order_and_duplicates_refuse_the_whole_batch() {
    let st = sample_store();
    let up = series("up", &[("job", "api"), ("instance", "a")]);
    let fresh = series("new_metric", &[]);
    let err = st
        .append(&[(fresh.clone(), 2000, 1.0), (up.clone(), 999, 1.0)])
        .expect_err("out of order");
    assert!(matches!(err, AppendError::OutOfOrder(_, 999)));
    assert!(names(&st, "new_metric").is_empty(), "nothing half-applied");
    let err = st.append(&[(up.clone(), 1000, 2.0)]).expect_err("dup");
    assert!(matches!(err, AppendError::Duplicate(_, 1000)));
    assert_eq!(
        st.append(&[(up.clone(), 1000, 1.0)]),
        Ok(0),
        "same value ignored"
    );
    let err = st
        .append(&[(up.clone(), 3000, 1.0), (up.clone(), 2000, 1.0)])
        .expect_err("out of order within the batch");
    assert!(matches!(err, AppendError::OutOfOrder(_, 2000)));
    assert_eq!(st.append(&[(up, 3000, stale_nan())]), Ok(1));
    let s = st.select(&matchers(r#"up{instance="a",job="api"}"#), 0, 5000);
    assert!(
        is_stale(s[0].samples[1].1),
        "staleness marker kept bit-exact"
    );
}

#[test]
fn retention_drops_old_chunks_and_refuses_old_samples() {
    let st = Storage::new(StorageConfig {
        retention_ms: 3_600_000,
        max_series: 3,
    });
    let a = series("a", &[]);
    let b = series("b", &[]);
    let batch: Vec<_> = (0..200)
        .map(|i| (a.clone(), i * 60_000, i as f64))
        .collect();
    st.append(&batch).expect("append");
    st.append(&[(b.clone(), 0, 1.0)])
        .expect_err("older than retention");
    st.append(&[(b, 11_000_000, 1.0)]).expect("fresh");
    assert_eq!(st.purge(), 0);
    let left = st.select(&matchers("a"), i64::MIN, i64::MAX);
    assert!(left[0].samples.len() < 200, "old chunk dropped");
    assert!(left[0].samples[0].0 >= 120 * 60_000 - 3_600_000 - 120 * 60_000);
    let err = st
        .append(&[
            (series("c", &[]), 11_000_000, 1.0),
            (series("d", &[]), 11_000_000, 1.0),
        ])
        .expect_err("series limit");
    assert_eq!(err, AppendError::TooManySeries(3));
}

#[test]
fn label_names_and_values() {
    let st = sample_store();
    assert_eq!(st.label_names(), vec!["__name__", "instance", "job"]);
    assert_eq!(st.label_values("job"), vec!["api", "db"]);
}

/// What the memory bound rests on: with the maintenance's purges, a series never holds more
/// than the retention's samples plus one chunk (a chunk goes once wholly older), however long
/// the store runs.
#[test]
fn the_head_holds_no_more_than_the_retention_and_one_chunk() {
    use deskd_metrics::storage::chunk::SAMPLES_PER_CHUNK;
    const HOUR: i64 = 3_600_000;
    const STEP: i64 = 15_000;
    let st = Storage::new(StorageConfig {
        retention_ms: HOUR,
        max_series: 100,
    });
    let all: Vec<Labels> = (0..10)
        .map(|s| series("vm_cpu_seconds_total", &[("desk", &format!("d{s}"))]))
        .collect();
    let bound = (HOUR / STEP) as usize + 1 + usize::from(SAMPLES_PER_CHUNK);
    let mut most = 0;
    // 24 hours of 15 s scrapes, purged every 5 minutes as `spawn_maintenance` does
    for i in 0..(24 * HOUR / STEP) {
        let batch: Vec<_> = all
            .iter()
            .map(|l| (l.clone(), i * STEP, i as f64))
            .collect();
        st.append(&batch).expect("append");
        if i % 20 == 0 {
            st.purge();
        }
        most = most.max(st.stats().samples);
    }
    assert!(
        most <= all.len() * bound,
        "{most} samples held, bound {}",
        all.len() * bound
    );
    assert!(
        most >= all.len() * (HOUR / STEP) as usize,
        "the retention is kept"
    );
}

#[test]
fn a_short_retention_cuts_chunks_at_a_quarter_of_it() {
    const STEP: i64 = 15_000;
    let retention_ms = 120_000; // 8 samples; a chunk would otherwise take 120
    let st = Storage::new(StorageConfig {
        retention_ms,
        max_series: 10,
    });
    let l = series("up", &[]);
    let mut most = 0;
    for i in 0..1000 {
        st.append(&[(l.clone(), i * STEP, i as f64)])
            .expect("append");
        st.purge();
        most = most.max(st.stats().samples);
    }
    let bound = (retention_ms * 5 / 4 / STEP) as usize + 1;
    assert!(most <= bound, "{most} samples held, bound {bound}");
}
