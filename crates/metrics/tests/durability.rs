//! The write-ahead log and snapshots: restarts, torn tails, and a SIGKILLed writer.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use deskd_metrics::labels::Labels;
use deskd_metrics::storage::{Metadata, Storage, StorageConfig};
use promql_parser::label::{MatchOp, Matcher};

fn all(st: &Storage) -> Vec<(String, Vec<(i64, f64)>)> {
    let m = [Matcher::new(MatchOp::NotEqual, "__name__", "")];
    st.select(&m, i64::MIN, i64::MAX)
        .into_iter()
        .map(|s| (s.labels.to_string(), s.samples))
        .collect()
}

fn batch(n: i64, from: i64) -> Vec<(Labels, i64, f64)> {
    let mut b = Vec::new();
    for s in 0..n {
        let l = Labels::from_pairs(&[("__name__", "m"), ("s", &s.to_string())]);
        for i in from..from + 10 {
            b.push((l.clone(), i * 15_000, (i * s) as f64 * 0.5));
        }
    }
    b
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("deskd-metrics-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn restart_replays_log_and_snapshot() {
    let dir = tempdir("restart");
    let expected = {
        let st = Storage::open(&dir, StorageConfig::default()).expect("open");
        st.append(&batch(5, 0)).expect("append");
        st.set_metadata(
            "m",
            Metadata {
                kind: "gauge".into(),
                help: "h".into(),
                unit: String::new(),
            },
        );
        st.snapshot().expect("snapshot");
        st.append(&batch(7, 10)).expect("append after snapshot");
        st.sync().expect("sync");
        all(&st)
    };
    let st = Storage::open(&dir, StorageConfig::default()).expect("reopen");
    assert_eq!(all(&st), expected);
    assert_eq!(st.metadata()["m"][0].kind, "gauge");
    // Appends continue where the log left off, and new series get fresh ids.
    st.append(&batch(8, 20)).expect("append after restart");
    drop(st);
    let st = Storage::open(&dir, StorageConfig::default()).expect("reopen twice");
    assert_eq!(all(&st).len(), 8);
    assert_eq!(st.stats().samples, 50 + 70 + 80);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn torn_tail_is_cut_and_refused_batches_leave_no_trace() {
    let dir = tempdir("torn");
    {
        let st = Storage::open(&dir, StorageConfig::default()).expect("open");
        st.append(&batch(3, 0)).expect("append");
        st.append(&batch(1, 0)).expect_err("out of order");
    }
    let wal = dir.join("metrics.wal");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&wal)
        .expect("wal");
    f.write_all(&[42, 0, 0, 0, 1, 2]).expect("garbage");
    drop(f);
    let st = Storage::open(&dir, StorageConfig::default()).expect("reopen");
    assert_eq!(st.stats().samples, 30);
    st.append(&batch(3, 10)).expect("append after the cut");
    drop(st);
    let st = Storage::open(&dir, StorageConfig::default()).expect("reopen");
    assert_eq!(st.stats().samples, 60);
    st.snapshot().expect("snapshot");
    drop(st);
    let snap = dir.join("metrics.snapshot");
    let mut bytes = std::fs::read(&snap).expect("snapshot file");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&snap, bytes).expect("damage");
    assert!(
        Storage::open(&dir, StorageConfig::default()).is_err(),
        "damage is reported"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Child half of `sigkill_loses_no_acknowledged_batch`: appends batches and acknowledges each.
#[test]
fn sigkill_child_writer() {
    let Some(dir) = std::env::var_os("DESKD_METRICS_CHILD_DIR") else {
        return;
    };
    let st = Storage::open(std::path::Path::new(&dir), StorageConfig::default()).expect("open");
    let mut out = std::io::stdout();
    for k in 0.. {
        st.append(&batch(20, k * 10)).expect("append");
        let _ = writeln!(out, "acked {k}");
        let _ = out.flush();
    }
}

#[test]
fn sigkill_loses_no_acknowledged_batch() {
    let dir = tempdir("sigkill");
    std::fs::create_dir_all(&dir).expect("dir");
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args([
            "--exact",
            "sigkill_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DESKD_METRICS_CHILD_DIR", &dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn writer");
    let stdout = child.stdout.take().expect("stdout");
    let mut acked = -1i64;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(k) = line.strip_prefix("acked ") {
            acked = k.trim().parse().expect("number");
            if acked >= 50 {
                let _ = child.kill(); // SIGKILL
                break;
            }
        }
    }
    let _ = child.wait();
    assert!(acked >= 50, "the writer never got going");
    let st = Storage::open(&dir, StorageConfig::default()).expect("reopen");
    let samples = st.stats().samples as i64;
    assert!(
        samples >= (acked + 1) * 200,
        "{samples} samples for {} acknowledged batches",
        acked + 1
    );
    let _ = std::fs::remove_dir_all(&dir);
}
