//! Counters of the simulated driver: plausible, consistent, monotonic.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use deskd_compute::{HostStats, Hypervisor, SimDriver, VmStats};
use std::time::Duration;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

async fn pause_a_little() {
    tokio::time::sleep(Duration::from_millis(30)).await;
}

fn assert_vm_monotonic(a: &VmStats, b: &VmStats) {
    assert!(b.cpu_seconds_total >= a.cpu_seconds_total, "{a:?} -> {b:?}");
    assert!(b.disk_read_bytes_total >= a.disk_read_bytes_total);
    assert!(b.disk_write_bytes_total >= a.disk_write_bytes_total);
    assert!(b.disk_read_ops_total >= a.disk_read_ops_total);
    assert!(b.disk_write_ops_total >= a.disk_write_ops_total);
    assert!(b.net_rx_bytes_total >= a.net_rx_bytes_total);
    assert!(b.net_tx_bytes_total >= a.net_tx_bytes_total);
}

fn assert_host_monotonic(a: &HostStats, b: &HostStats) {
    for ((mode, x), (_, y)) in a.cpu_seconds_by_mode.iter().zip(&b.cpu_seconds_by_mode) {
        assert!(y >= x, "{mode}: {x} -> {y}");
    }
    assert!(b.net_rx_bytes_total >= a.net_rx_bytes_total);
    assert!(b.net_tx_bytes_total >= a.net_tx_bytes_total);
    assert!(b.disk_read_bytes_total >= a.disk_read_bytes_total);
    assert!(b.disk_written_bytes_total >= a.disk_written_bytes_total);
}

async fn running(d: &SimDriver, id: &str) {
    d.define(&vm(id, id)).await.unwrap();
    d.start(id).await.unwrap();
}

#[tokio::test]
async fn stopped_vm_has_no_activity() {
    let d = driver().await;
    d.define(&vm("a", "a")).await.unwrap();
    let s = d.vm_stats("a").await.unwrap();
    assert_eq!(s.memory_total_bytes, 2048 * MIB);
    assert_eq!(s.memory_used_bytes, 0);
    assert_eq!(s.uptime_seconds, 0.0);
    assert_eq!(s.cpu_seconds_total, 0.0);
}

#[tokio::test]
async fn vm_counters_grow_plausibly_between_reads() {
    let d = driver().await;
    running(&d, "a").await;
    pause_a_little().await;
    let first = d.vm_stats("a").await.unwrap();
    pause_a_little().await;
    let second = d.vm_stats("a").await.unwrap();

    assert_vm_monotonic(&first, &second);
    assert!(second.cpu_seconds_total > first.cpu_seconds_total);
    assert!(second.uptime_seconds > first.uptime_seconds);
    assert!(second.net_rx_bytes_total > first.net_rx_bytes_total);
    for s in [&first, &second] {
        assert!(s.memory_used_bytes > 0 && s.memory_used_bytes <= s.memory_total_bytes);
        assert!(s.cpu_seconds_total <= s.uptime_seconds * 2.0 + 1e-9);
    }
    let cpu_delta = second.cpu_seconds_total - first.cpu_seconds_total;
    let up_delta = second.uptime_seconds - first.uptime_seconds;
    assert!(cpu_delta <= up_delta * 2.0 + 1e-9);
}

#[tokio::test]
async fn vm_counters_survive_stop_and_start() {
    let d = driver().await;
    running(&d, "a").await;
    pause_a_little().await;
    let before = d.vm_stats("a").await.unwrap();
    d.shutdown("a", Duration::ZERO).await.unwrap();
    let stopped = d.vm_stats("a").await.unwrap();
    assert_vm_monotonic(&before, &stopped);
    assert_eq!(stopped.uptime_seconds, 0.0);
    assert_eq!(stopped.memory_used_bytes, 0);

    pause_a_little().await;
    let still = d.vm_stats("a").await.unwrap();
    assert_eq!(
        still.cpu_seconds_total, stopped.cpu_seconds_total,
        "no cpu while stopped"
    );

    d.start("a").await.unwrap();
    pause_a_little().await;
    let after = d.vm_stats("a").await.unwrap();
    assert_vm_monotonic(&stopped, &after);
    assert!(after.cpu_seconds_total > stopped.cpu_seconds_total);
    assert!(after.uptime_seconds < before.uptime_seconds + 1.0);
}

#[tokio::test]
async fn different_vms_behave_differently() {
    let d = driver().await;
    running(&d, "6f0c0d52-0001-4c1e-9d6e-000000000001").await;
    running(&d, "6f0c0d52-0002-4c1e-9d6e-000000000002").await;
    pause_a_little().await;
    let a = d
        .vm_stats("6f0c0d52-0001-4c1e-9d6e-000000000001")
        .await
        .unwrap();
    let b = d
        .vm_stats("6f0c0d52-0002-4c1e-9d6e-000000000002")
        .await
        .unwrap();
    let per_sec = |s: &VmStats| s.cpu_seconds_total / s.uptime_seconds;
    assert!((per_sec(&a) - per_sec(&b)).abs() > 1e-6);
}

#[tokio::test]
async fn host_stats_are_consistent_and_monotonic() {
    let d = driver().await;
    running(&d, "a").await;
    d.define(&vm("b", "b")).await.unwrap();
    pause_a_little().await;
    let first = d.host_stats(HOST).await.unwrap();
    pause_a_little().await;
    // Changing the load must not make any counter go back.
    d.destroy("a").await.unwrap();
    let second = d.host_stats(HOST).await.unwrap();
    assert_host_monotonic(&first, &second);

    let modes: Vec<&str> = first
        .cpu_seconds_by_mode
        .iter()
        .map(|(m, _)| m.as_str())
        .collect();
    assert_eq!(
        modes,
        ["user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice"]
    );
    let cpu_total: f64 = second.cpu_seconds_by_mode.iter().map(|(_, s)| s).sum();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let since_boot = now - second.boot_time_seconds;
    assert!(
        cpu_total <= since_boot * 16.0 + 1e-6,
        "{cpu_total} > {since_boot} * 16"
    );
    assert!(cpu_total > 0.0);

    assert_eq!(first.memory_total_bytes, 16_384 * MIB);
    assert_eq!(first.memory_available_bytes, (16_384 - 2048) * MIB);
    assert_eq!(second.memory_available_bytes, 16_384 * MIB);
    assert_eq!(first.fs_size_bytes, 1_000 * GIB);
    assert_eq!(first.fs_avail_bytes, (1_000 - 100) * GIB);
    assert_eq!(second.fs_avail_bytes, (1_000 - 50) * GIB);
    assert!(first.load1 > 0.0);
}

#[tokio::test]
async fn host_memory_available_clamps_at_zero_under_overcommit() {
    let d = SimDriver::new(deskd_compute::SimConfig::instant());
    d.add_host(host(HOST, 8, 3000, 1000, 2.0)).await.unwrap();
    running(&d, "a").await;
    running(&d, "b").await;
    let s = d.host_stats(HOST).await.unwrap();
    assert_eq!(s.memory_available_bytes, 0);
}

#[tokio::test]
async fn an_unreachable_host_has_no_stats_until_it_is_back() {
    let d = driver().await;
    running(&d, "a").await;
    d.set_host_reachable(HOST, false);
    let e = d.host_stats(HOST).await.unwrap_err();
    assert!(e.to_string().contains("unreachable"), "{e}");
    assert!(d.vm_stats("a").await.is_ok(), "VMs are not touched");
    d.set_host_reachable(HOST, true);
    assert!(d.host_stats(HOST).await.is_ok());
}
