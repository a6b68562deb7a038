//! Real desktops end to end (issue 8): a deskd started with `--qemu` runs the test guest of
//! scripts/build-test-guest.sh on a `driver = "qemu"` host, driven only over HTTP — OS-file
//! upload, image build, batch create, start, ACPI shutdown, the console's RFB through the
//! websocket proxy, metrics, delete — and keeps its desks across a SIGKILL. Without QEMU these
//! tests print SKIPPED, unless CI is set: then a missing QEMU or guest fails them.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::guest::{guest_disk, ready, Lab};
use common::*;
use serde_json::json;

/// The guests boot under TCG on two cores: one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A short data directory: QEMU's unix sockets live under it (108-byte limit).
fn short_dir() -> PathBuf {
    let d = PathBuf::from(format!(
        "/tmp/dq{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const FLAGS: &[&str] = &[
    "--qemu",
    "--qemu-accel",
    "tcg",
    "--scrape-interval-secs",
    "1",
    "--desk-shutdown-timeout-secs",
    "60",
];

/// A lab (see [`Lab::start`]) whose one host is this machine, driven by QEMU.
async fn qemu_lab(api: Api, disk: &Path) -> Lab {
    let host = json!({"host_name": "this-machine", "ip": "127.0.0.1", "cpu_cores": 8,
                      "memory": 16, "storage": 100, "driver": "qemu"});
    Lab::start(api, &[host], disk).await
}

fn vm_dir(lab: &Lab, desk: &str) -> PathBuf {
    lab.s.data_dir.join("qemu/vms").join(desk)
}

/// The boot number the guest printed on its serial console this launch.
async fn booted(lab: &Lab, desk: &str) -> u64 {
    ready(&vm_dir(lab, desk).join("serial.log")).await
}

/// Pids of the QEMU processes whose command line names `desk`.
fn qemu_pids(desk: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c);
                c.contains("qemu-system") && c.contains(desk)
            })
        })
        .collect()
}

#[tokio::test]
async fn personal_desks_keep_their_disk_recoverable_ones_start_clean() {
    let Some(disk) = guest_disk() else { return };
    let _one = SERIAL.lock().await;
    let lab = qemu_lab(
        Api::with(Server::start_in(short_dir(), Db::Sqlite, FLAGS, true)).await,
        &disk,
    )
    .await;
    let desks = lab
        .create_desks(&[
            ("P1", "PERSONAL"),
            ("P2", "PERSONAL"),
            ("R1", "RECOVERABLE"),
        ])
        .await;
    assert_eq!(desks.len(), 3);
    for d in &desks {
        assert_eq!(lab.state(d).await, "CLOSE");
        assert!(
            vm_dir(&lab, d).join("system.qcow2").is_file(),
            "{d}: no overlay"
        );
    }

    for round in 1..=2u64 {
        for d in &desks {
            lab.act(d, "start").await;
        }
        for (i, d) in desks.iter().enumerate() {
            assert_eq!(lab.state(d).await, "RUNNING");
            let expect = if i < 2 { round } else { 1 };
            assert_eq!(booted(&lab, d).await, expect, "round {round}, desk {i}");
            assert_eq!(qemu_pids(d).len(), 1, "one QEMU per desk");
        }
        if round == 1 {
            // the collectors read the running VMs' real figures
            lab.positive(&format!("vm_cpu_seconds_total{{vm_id=\"{}\"}}", desks[0]))
                .await;
            let used = lab
                .query(&format!("vm_mem_used_bytes{{vm_id=\"{}\"}}", desks[0]))
                .await;
            assert!(!used.is_empty(), "vm_mem_used_bytes");
            // QEMU's own display through the console endpoint, as noVNC reaches it
            lab.console_works(&desks[0]).await;
        }
        for d in &desks {
            lab.act(d, "shutdown").await;
            assert_eq!(lab.state(d).await, "CLOSE");
            assert!(qemu_pids(d).is_empty(), "QEMU of {d} still runs");
        }
    }

    lab.delete_desks(&desks).await;
    for d in &desks {
        assert!(!vm_dir(&lab, d).exists(), "{d}: files left behind");
        assert!(qemu_pids(d).is_empty(), "{d}: process left behind");
    }
}

#[tokio::test]
async fn desks_keep_running_across_a_sigkill_of_deskd() {
    let Some(disk) = guest_disk() else { return };
    let _one = SERIAL.lock().await;
    let lab = qemu_lab(
        Api::with(Server::start_in(short_dir(), Db::Sqlite, FLAGS, true)).await,
        &disk,
    )
    .await;
    let desks = lab.create_desks(&[("K1", "PERSONAL")]).await;
    let d = &desks[0];
    lab.act(d, "start").await;
    assert_eq!(booted(&lab, d).await, 1);
    let before = qemu_pids(d);
    assert_eq!(before.len(), 1);

    let Lab {
        api: Api { s, .. },
        hosts,
        image,
        strategy,
        network,
    } = lab;
    let dir = s.data_dir.clone();
    signal(&s.child, "KILL");
    drop(s);
    assert_eq!(qemu_pids(d), before, "the guest outlives deskd");

    let s = Server::start_in(dir, Db::Sqlite, FLAGS, true);
    let lab = Lab {
        api: Api::with(s).await,
        hosts,
        image,
        strategy,
        network,
    };
    assert_eq!(lab.state(d).await, "RUNNING");
    // a reconcile pass must not disturb the adopted VM
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(qemu_pids(d), before, "re-adopted, not relaunched");
    lab.act(d, "shutdown").await;
    assert_eq!(lab.state(d).await, "CLOSE");
    assert!(qemu_pids(d).is_empty());
    lab.act(d, "start").await;
    assert_eq!(booted(&lab, d).await, 2, "the personal disk survived");
    lab.act(d, "powerOff").await;
    assert!(qemu_pids(d).is_empty());
}
