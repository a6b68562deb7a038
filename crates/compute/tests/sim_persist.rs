//! The simulated driver's VM table survives a controller restart.

mod common;

use common::*;
use deskd_compute::{DriverError, Hypervisor, PowerState, SimConfig, SimDriver};
use std::time::Duration;

fn with_state(path: &std::path::Path) -> SimConfig {
    SimConfig {
        state_file: Some(path.to_path_buf()),
        ..SimConfig::instant()
    }
}

#[tokio::test]
async fn vm_table_round_trips_through_the_state_file() {
    let dir = temp_dir("persist");
    let path = dir.join("sim-state.json");

    let d = driver_with(with_state(&path)).await;
    d.define(&vm("a", "a")).await.unwrap();
    d.define(&recoverable(vm("b", "b"))).await.unwrap();
    d.start("b").await.unwrap();
    d.reset("b").await.unwrap();
    d.define(&vm("c", "c")).await.unwrap();
    d.start("c").await.unwrap();
    d.crash("c", "oops").unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    d.pause("b").await.unwrap(); // a mutation, so counters so far are saved
    d.resume("b").await.unwrap();
    let before = d.list().await.unwrap();
    let stats_before = d.vm_stats("b").await.unwrap();
    drop(d);
    assert!(path.exists());
    assert!(!dir.join("sim-state.json.tmp").exists());

    let restarted = SimDriver::try_new(with_state(&path)).unwrap();
    assert_eq!(restarted.list().await.unwrap(), before);
    let c = restarted.info("c").await.unwrap().unwrap();
    assert_eq!(c.crash_reason.as_deref(), Some("oops"));
    let b = restarted.info("b").await.unwrap().unwrap();
    assert_eq!((b.power, b.disk_generation), (PowerState::Running, 1));
    let stats_after = restarted.vm_stats("b").await.unwrap();
    assert!(stats_after.cpu_seconds_total >= stats_before.cpu_seconds_total);
    assert!(stats_after.net_rx_bytes_total >= stats_before.net_rx_bytes_total);
    assert!(stats_after.uptime_seconds >= stats_before.uptime_seconds);

    // Hosts are not persisted: the controller re-adds them.
    assert!(restarted.host_usage().await.unwrap().is_empty());
    assert_eq!(
        restarted.start("a").await,
        Err(DriverError::UnknownHost(HOST.into()))
    );
    restarted
        .add_host(host(HOST, 16, 16_384, 1_000, 1.5))
        .await
        .unwrap();
    let usage = restarted.host_usage().await.unwrap();
    assert_eq!((usage[0].running_vms, usage[0].defined_vms), (1, 3));
    restarted.start("a").await.unwrap();
    restarted.destroy("c").await.unwrap();
    drop(restarted);

    let again = SimDriver::new(with_state(&path));
    let ids: Vec<_> = again
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.spec.vm_id, v.power))
        .collect();
    assert_eq!(
        ids,
        [
            ("a".to_string(), PowerState::Running),
            ("b".to_string(), PowerState::Running)
        ]
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn missing_state_file_means_empty() {
    let dir = temp_dir("missing");
    let d = SimDriver::try_new(with_state(&dir.join("nested/none.json"))).unwrap();
    assert!(d.list().await.unwrap().is_empty());
    d.add_host(host(HOST, 4, 4096, 100, 1.0)).await.unwrap();
    d.define(&vm("a", "a")).await.unwrap();
    assert!(
        dir.join("nested/none.json").exists(),
        "parent dirs are created"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn corrupt_state_file_is_reported_or_set_aside() {
    let dir = temp_dir("corrupt");
    let path = dir.join("state.json");
    std::fs::write(&path, "{ not json").unwrap();
    assert!(matches!(
        SimDriver::try_new(with_state(&path)),
        Err(DriverError::Io(_))
    ));
    let d = SimDriver::new(with_state(&path));
    assert!(d.list().await.unwrap().is_empty());
    assert!(dir.join("state.json.corrupt").exists());
    let _ = std::fs::remove_dir_all(dir);
}

/// Changes after the first snapshot go to the journal; a restart replays them, ignores a line
/// torn by a crash inside its write, and compaction folds a long journal into a new snapshot.
#[tokio::test]
async fn journal_replays_changes_and_survives_a_torn_last_line() {
    let dir = temp_dir("journal");
    let path = dir.join("sim-state.json");
    let journal = dir.join("sim-state.json.journal");
    let d = driver_with(with_state(&path)).await;
    for i in 0..12 {
        d.define(&vm(&format!("v{i:02}"), "v")).await.unwrap();
        d.start(&format!("v{i:02}")).await.unwrap();
        d.power_off(&format!("v{i:02}")).await.unwrap();
    }
    d.start("v01").await.unwrap();
    d.destroy("v02").await.unwrap();
    let before = d.list().await.unwrap();
    drop(d);
    let lines = std::fs::read_to_string(&journal).unwrap().lines().count();
    assert!(
        lines >= 30,
        "changes after the first snapshot are journalled ({lines} lines)"
    );

    let mut torn = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    std::io::Write::write_all(&mut torn, br#"{"seq":999999,"at":1.0,"id":"v0"#).unwrap();
    drop(torn);
    let restarted = SimDriver::try_new(with_state(&path)).unwrap();
    assert_eq!(restarted.list().await.unwrap(), before);
    drop(restarted);

    // A damaged line in the middle is not a torn write: the file is refused.
    let text = std::fs::read_to_string(&journal).unwrap();
    std::fs::write(&journal, text.replacen("{\"seq\"", "{\"broken", 1)).unwrap();
    assert!(matches!(
        SimDriver::try_new(with_state(&path)),
        Err(DriverError::Io(_))
    ));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_long_journal_is_compacted_into_the_snapshot() {
    let dir = temp_dir("compact");
    let path = dir.join("sim-state.json");
    let d = driver_with(with_state(&path)).await;
    d.define(&vm("a", "a")).await.unwrap();
    for _ in 0..700 {
        d.start("a").await.unwrap();
        d.power_off("a").await.unwrap();
    }
    let before = d.list().await.unwrap();
    drop(d);
    let lines = std::fs::read_to_string(dir.join("sim-state.json.journal"))
        .unwrap()
        .lines()
        .count();
    assert!(lines < 1400, "the journal was compacted ({lines} lines)");
    let restarted = SimDriver::try_new(with_state(&path)).unwrap();
    assert_eq!(restarted.list().await.unwrap(), before);
    let _ = std::fs::remove_dir_all(dir);
}
