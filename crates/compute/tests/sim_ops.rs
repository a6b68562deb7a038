//! Lifecycle, state, capacity and disk behaviour of the simulated driver.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use deskd_compute::{DriverError, Hypervisor, PowerState, ShutdownOutcome, SimConfig, SimDriver};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn power(d: &SimDriver, id: &str) -> PowerState {
    d.info(id).await.unwrap().unwrap().power
}

async fn generation(d: &SimDriver, id: &str) -> u64 {
    d.info(id).await.unwrap().unwrap().disk_generation
}

#[tokio::test]
async fn usable_as_trait_object() {
    let d: Arc<dyn Hypervisor> = Arc::new(driver().await);
    assert_eq!(d.kind(), "simulated");
    assert!(d.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn add_host_is_idempotent_and_updates_capacity() {
    let d = driver().await;
    d.add_host(host(HOST, 16, 16_384, 1_000, 1.5))
        .await
        .unwrap();
    d.add_host(host(HOST, 32, 65_536, 2_000, 1.0))
        .await
        .unwrap();
    d.add_host(host("host-0", 4, 4_096, 100, 1.0))
        .await
        .unwrap();
    let usage = d.host_usage().await.unwrap();
    assert_eq!(usage.len(), 2);
    assert_eq!(usage[0].host_id, "host-0");
    assert_eq!(usage[1].cpu_cores, 32);
    assert_eq!(usage[1].memory_mb, 65_536);
    assert_eq!(usage[1].storage_gb, 2_000);
}

#[tokio::test]
async fn add_host_rejects_nonsense() {
    let d = SimDriver::new(SimConfig::instant());
    for bad in [
        host("h", 0, 1024, 10, 1.0),
        host("h", 4, 1024, 10, 0.5),
        host("h", 4, 1024, 10, f64::NAN),
        host("", 4, 1024, 10, 1.0),
    ] {
        assert!(matches!(
            d.add_host(bad).await,
            Err(DriverError::Invalid(_))
        ));
    }
    assert!(d.host_usage().await.unwrap().is_empty());
}

#[tokio::test]
async fn define_creates_a_stopped_vm_and_is_idempotent() {
    let d = driver().await;
    let spec = vm("a", "desk-a");
    let info = d.define(&spec).await.unwrap();
    assert_eq!(info.spec, spec);
    assert_eq!(info.power, PowerState::Stopped);
    assert_eq!(info.disk_generation, 0);
    assert_eq!(info.crash_reason, None);

    let mut other = spec.clone();
    other.memory_mb = 8192;
    let again = d.define(&other).await.unwrap();
    assert_eq!(again, info, "same vm_id returns the existing VM unchanged");
    assert_eq!(d.list().await.unwrap(), vec![info.clone()]);
    assert_eq!(d.info("a").await.unwrap(), Some(info));
    assert_eq!(d.info("nope").await.unwrap(), None);
    assert_eq!(d.host_usage().await.unwrap()[0].storage_used_gb, 50);
}

#[tokio::test]
async fn define_refuses_unknown_hosts_and_bad_shapes() {
    let d = driver().await;
    let mut s = vm("a", "desk-a");
    s.host_id = "elsewhere".into();
    assert_eq!(
        d.define(&s).await,
        Err(DriverError::UnknownHost("elsewhere".into()))
    );
    let mut s = vm("a", "desk-a");
    s.system_disk_gb = 20; // image is 30 GB
    assert!(matches!(d.define(&s).await, Err(DriverError::Invalid(_))));
    let mut s = vm("a", "desk-a");
    s.cpu_cores = 0;
    assert!(matches!(d.define(&s).await, Err(DriverError::Invalid(_))));
    assert!(d.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn list_is_sorted_by_vm_id() {
    let d = driver().await;
    for id in ["c", "a", "b"] {
        d.define(&vm(id, id)).await.unwrap();
    }
    let ids: Vec<_> = d
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.spec.vm_id)
        .collect();
    assert_eq!(ids, ["a", "b", "c"]);
}

#[tokio::test]
async fn start_shutdown_power_off_happy_paths_and_idempotency() {
    let d = driver().await;
    d.define(&vm("a", "desk-a")).await.unwrap();
    d.start("a").await.unwrap();
    assert_eq!(power(&d, "a").await, PowerState::Running);
    d.start("a").await.unwrap();
    assert_eq!(d.host_usage().await.unwrap()[0].running_vms, 1);

    let out = d.shutdown("a", Duration::from_secs(5)).await.unwrap();
    assert_eq!(out, ShutdownOutcome::Graceful);
    assert_eq!(power(&d, "a").await, PowerState::Stopped);
    let out = d.shutdown("a", Duration::ZERO).await.unwrap();
    assert_eq!(out, ShutdownOutcome::Graceful);

    d.start("a").await.unwrap();
    d.power_off("a").await.unwrap();
    assert_eq!(power(&d, "a").await, PowerState::Stopped);
    d.power_off("a").await.unwrap();
    assert_eq!(power(&d, "a").await, PowerState::Stopped);
    assert_eq!(d.host_usage().await.unwrap()[0].running_vms, 0);
}

#[tokio::test]
async fn missing_vms_are_not_found() {
    let d = driver().await;
    let nf = Err(DriverError::NotFound("x".into()));
    assert_eq!(d.start("x").await, nf);
    assert_eq!(d.power_off("x").await, nf);
    assert_eq!(d.reset("x").await, nf);
    assert_eq!(d.pause("x").await, nf);
    assert_eq!(d.resume("x").await, nf);
    assert_eq!(d.revert_system_disk("x").await, nf);
    assert_eq!(d.resize("x", shape(1, 1024, 40, None)).await, nf);
    assert_eq!(
        d.shutdown("x", Duration::ZERO).await,
        Err(DriverError::NotFound("x".into()))
    );
    assert_eq!(
        d.vm_stats("x").await,
        Err(DriverError::NotFound("x".into()))
    );
    assert_eq!(
        d.host_stats("nohost").await,
        Err(DriverError::UnknownHost("nohost".into()))
    );
}

#[tokio::test]
async fn guest_ignoring_acpi_is_forced_off_after_grace() {
    let cfg = SimConfig {
        ignore_acpi_pattern: Some("stubborn-*".into()),
        ..SimConfig::instant()
    };
    let d = driver_with(cfg).await;
    d.define(&vm("a", "stubborn-1")).await.unwrap();
    d.define(&vm("b", "polite-1")).await.unwrap();
    d.start("a").await.unwrap();
    d.start("b").await.unwrap();

    let began = Instant::now();
    let out = d.shutdown("a", Duration::from_millis(50)).await.unwrap();
    assert_eq!(out, ShutdownOutcome::Forced);
    assert!(
        began.elapsed() >= Duration::from_millis(50),
        "waits the grace"
    );
    assert_eq!(power(&d, "a").await, PowerState::Stopped);

    let out = d.shutdown("b", Duration::from_millis(50)).await.unwrap();
    assert_eq!(out, ShutdownOutcome::Graceful);
}

#[tokio::test]
async fn slow_guest_is_forced_when_grace_is_shorter() {
    let cfg = SimConfig {
        shutdown_latency: Duration::from_millis(500),
        ..SimConfig::instant()
    };
    let d = driver_with(cfg).await;
    d.define(&vm("a", "a")).await.unwrap();
    d.start("a").await.unwrap();
    let began = Instant::now();
    assert_eq!(
        d.shutdown("a", Duration::from_millis(10)).await,
        Ok(ShutdownOutcome::Forced)
    );
    assert!(began.elapsed() < Duration::from_millis(500));
    d.start("a").await.unwrap();
    assert_eq!(
        d.shutdown("a", Duration::from_secs(5)).await,
        Ok(ShutdownOutcome::Graceful)
    );
}

#[tokio::test]
async fn reset_needs_running() {
    let d = driver().await;
    d.define(&vm("a", "a")).await.unwrap();
    assert!(matches!(
        d.reset("a").await,
        Err(DriverError::InvalidState {
            op: "reset",
            state: PowerState::Stopped,
            ..
        })
    ));
    d.start("a").await.unwrap();
    d.reset("a").await.unwrap();
    assert_eq!(power(&d, "a").await, PowerState::Running);
}

#[tokio::test]
async fn resize_and_revert_need_stopped() {
    let d = driver().await;
    d.define(&vm("a", "a")).await.unwrap();
    d.start("a").await.unwrap();
    assert!(matches!(
        d.resize("a", shape(4, 4096, 40, Some(10))).await,
        Err(DriverError::InvalidState {
            op: "resize",
            state: PowerState::Running,
            ..
        })
    ));
    assert!(matches!(
        d.revert_system_disk("a").await,
        Err(DriverError::InvalidState {
            op: "revert",
            state: PowerState::Running,
            ..
        })
    ));
}

#[tokio::test]
async fn pause_and_resume() {
    let d = driver().await;
    d.define(&vm("a", "a")).await.unwrap();
    assert!(matches!(
        d.pause("a").await,
        Err(DriverError::InvalidState { .. })
    ));
    assert!(matches!(
        d.resume("a").await,
        Err(DriverError::InvalidState { .. })
    ));
    d.start("a").await.unwrap();
    d.pause("a").await.unwrap();
    d.pause("a").await.unwrap();
    assert_eq!(power(&d, "a").await, PowerState::Paused);
    let usage = d.host_usage().await.unwrap();
    assert_eq!(usage[0].memory_allocated_mb, 2048, "paused VMs keep memory");
    assert!(matches!(
        d.start("a").await,
        Err(DriverError::InvalidState {
            state: PowerState::Paused,
            ..
        })
    ));
    assert!(matches!(
        d.reset("a").await,
        Err(DriverError::InvalidState { .. })
    ));
    d.resume("a").await.unwrap();
    d.resume("a").await.unwrap();
    assert_eq!(power(&d, "a").await, PowerState::Running);
    d.pause("a").await.unwrap();
    assert_eq!(
        d.shutdown("a", Duration::from_millis(1)).await,
        Ok(ShutdownOutcome::Forced),
        "a paused guest cannot answer ACPI"
    );
}

#[tokio::test]
async fn resize_grows_and_refuses_to_shrink() {
    let d = driver().await;
    let mut s = vm("a", "a");
    s.data_disk_gb = None;
    d.define(&s).await.unwrap();
    d.resize("a", shape(4, 8192, 60, Some(20))).await.unwrap();
    d.resize("a", shape(4, 8192, 60, Some(20))).await.unwrap();
    let spec = d.info("a").await.unwrap().unwrap().spec;
    assert_eq!(
        (
            spec.cpu_cores,
            spec.memory_mb,
            spec.system_disk_gb,
            spec.data_disk_gb
        ),
        (4, 8192, 60, Some(20))
    );
    assert_eq!(d.host_usage().await.unwrap()[0].storage_used_gb, 80);

    assert_eq!(
        d.resize("a", shape(4, 8192, 50, Some(20))).await,
        Err(DriverError::DiskShrink {
            vm: "a".into(),
            disk: "system",
            current_gb: 60,
            requested_gb: 50
        })
    );
    assert!(matches!(
        d.resize("a", shape(4, 8192, 60, None)).await,
        Err(DriverError::DiskShrink { disk: "data", .. })
    ));
    assert!(matches!(
        d.resize("a", shape(0, 8192, 60, Some(20))).await,
        Err(DriverError::Invalid(_))
    ));
    // cpu and memory may go down
    d.resize("a", shape(1, 1024, 60, Some(20))).await.unwrap();
    let spec = d.info("a").await.unwrap().unwrap().spec;
    assert_eq!((spec.cpu_cores, spec.memory_mb), (1, 1024));
}

#[tokio::test]
async fn resize_refuses_growth_beyond_storage() {
    let d = SimDriver::new(SimConfig::instant());
    d.add_host(host(HOST, 8, 8192, 100, 1.0)).await.unwrap();
    d.define(&vm("a", "a")).await.unwrap(); // 50 GB
    d.define(&vm("b", "b")).await.unwrap(); // 100 GB used
    assert_eq!(
        d.resize("a", shape(2, 2048, 41, Some(10))).await,
        Err(DriverError::Capacity {
            host: HOST.into(),
            resource: "storage_gb",
            need: 1,
            free: 0
        })
    );
    assert_eq!(d.info("a").await.unwrap().unwrap().spec, vm("a", "a"));
}

#[tokio::test]
async fn destroy_powers_off_frees_and_is_idempotent() {
    let d = driver().await;
    let before = d.host_usage().await.unwrap();
    d.define(&vm("a", "a")).await.unwrap();
    d.start("a").await.unwrap();
    d.destroy("a").await.unwrap();
    assert_eq!(d.info("a").await.unwrap(), None);
    d.destroy("a").await.unwrap();
    d.destroy("never-existed").await.unwrap();
    assert_eq!(d.host_usage().await.unwrap(), before);
}

#[tokio::test]
async fn storage_capacity_is_enforced_at_define() {
    let d = SimDriver::new(SimConfig::instant());
    d.add_host(host(HOST, 8, 8192, 120, 1.0)).await.unwrap();
    let empty = d.host_usage().await.unwrap();
    d.define(&vm("a", "a")).await.unwrap();
    d.define(&vm("b", "b")).await.unwrap();
    let full = d.host_usage().await.unwrap();
    assert_eq!(full[0].storage_used_gb, 100);
    assert_eq!(full[0].defined_vms, 2);
    assert_eq!(
        d.define(&vm("c", "c")).await,
        Err(DriverError::Capacity {
            host: HOST.into(),
            resource: "storage_gb",
            need: 50,
            free: 20
        })
    );
    assert_eq!(d.host_usage().await.unwrap(), full);
    d.destroy("b").await.unwrap();
    d.define(&vm("c", "c")).await.unwrap();
    d.destroy("a").await.unwrap();
    d.destroy("c").await.unwrap();
    assert_eq!(d.host_usage().await.unwrap(), empty);
}

#[tokio::test]
async fn memory_capacity_is_enforced_at_start_with_overcommit() {
    let d = SimDriver::new(SimConfig::instant());
    // 4 GB physical, 1.5x overcommit: 6144 MB may be promised.
    d.add_host(host(HOST, 8, 4096, 1000, 1.5)).await.unwrap();
    for id in ["a", "b", "c", "d"] {
        d.define(&vm(id, id)).await.unwrap();
    }
    let idle = d.host_usage().await.unwrap();
    for id in ["a", "b", "c"] {
        d.start(id).await.unwrap();
    }
    let busy = d.host_usage().await.unwrap();
    assert_eq!(busy[0].memory_allocated_mb, 6144);
    assert_eq!(busy[0].cpu_allocated, 6);
    assert_eq!(busy[0].running_vms, 3);
    assert_eq!(
        d.start("d").await,
        Err(DriverError::Capacity {
            host: HOST.into(),
            resource: "memory_mb",
            need: 2048,
            free: 0
        })
    );
    assert_eq!(power(&d, "d").await, PowerState::Stopped);
    assert_eq!(d.host_usage().await.unwrap(), busy);

    d.power_off("a").await.unwrap();
    d.start("d").await.unwrap();
    d.power_off("d").await.unwrap();
    d.shutdown("b", Duration::ZERO).await.unwrap();
    d.destroy("c").await.unwrap();
    let mut after = d.host_usage().await.unwrap();
    after[0].storage_used_gb += 50;
    after[0].defined_vms += 1;
    assert_eq!(after, idle);
}

#[tokio::test]
async fn recoverable_desks_get_fresh_disks() {
    let d = driver().await;
    d.define(&recoverable(vm("r", "r"))).await.unwrap();
    assert_eq!(generation(&d, "r").await, 0);
    d.start("r").await.unwrap();
    assert_eq!(
        generation(&d, "r").await,
        0,
        "first boot uses the clean clone"
    );
    d.start("r").await.unwrap();
    assert_eq!(
        generation(&d, "r").await,
        0,
        "idempotent start changes nothing"
    );

    d.shutdown("r", Duration::ZERO).await.unwrap();
    d.start("r").await.unwrap();
    assert_eq!(
        generation(&d, "r").await,
        1,
        "shutdown + start discards changes"
    );

    d.reset("r").await.unwrap();
    assert_eq!(generation(&d, "r").await, 2, "reset discards changes");

    d.power_off("r").await.unwrap();
    d.start("r").await.unwrap();
    assert_eq!(
        generation(&d, "r").await,
        3,
        "power-off + start discards changes"
    );
}

#[tokio::test]
async fn personal_desks_keep_their_disk() {
    let d = driver().await;
    d.define(&vm("p", "p")).await.unwrap();
    d.start("p").await.unwrap();
    d.shutdown("p", Duration::ZERO).await.unwrap();
    d.start("p").await.unwrap();
    d.reset("p").await.unwrap();
    d.power_off("p").await.unwrap();
    d.start("p").await.unwrap();
    assert_eq!(generation(&d, "p").await, 0);
}

#[tokio::test]
async fn revert_gives_a_fresh_disk_to_any_desk() {
    let d = driver().await;
    d.define(&vm("p", "p")).await.unwrap();
    d.revert_system_disk("p").await.unwrap();
    assert_eq!(generation(&d, "p").await, 1);
    d.define(&recoverable(vm("r", "r"))).await.unwrap();
    d.start("r").await.unwrap();
    d.power_off("r").await.unwrap();
    d.revert_system_disk("r").await.unwrap();
    assert_eq!(generation(&d, "r").await, 1);
    d.start("r").await.unwrap();
    assert_eq!(
        generation(&d, "r").await,
        1,
        "the reverted disk is clean: no second refresh at start"
    );
}

#[tokio::test]
async fn drift_crash_forget_and_orphans() {
    let d = driver().await;
    d.define(&vm("a", "a")).await.unwrap();
    assert!(matches!(
        d.crash("a", "boom"),
        Err(DriverError::InvalidState { .. })
    ));
    d.start("a").await.unwrap();
    d.crash("a", "guest panicked").unwrap();
    let info = d.info("a").await.unwrap().unwrap();
    assert_eq!(info.power, PowerState::Crashed);
    assert_eq!(info.crash_reason.as_deref(), Some("guest panicked"));
    assert_eq!(d.host_usage().await.unwrap()[0].running_vms, 0);

    // A crashed VM can be started again, which clears the reason.
    d.start("a").await.unwrap();
    let info = d.info("a").await.unwrap().unwrap();
    assert_eq!((info.power, info.crash_reason), (PowerState::Running, None));

    // Shutting down a crashed VM cleans it up.
    d.crash("a", "again").unwrap();
    assert_eq!(
        d.shutdown("a", Duration::from_secs(30)).await,
        Ok(ShutdownOutcome::Forced)
    );
    assert_eq!(power(&d, "a").await, PowerState::Stopped);

    assert!(d.forget("a"));
    assert!(!d.forget("a"));
    assert_eq!(d.info("a").await.unwrap(), None);

    let orphan = d.inject_orphan(vm("o", "orphan")).unwrap();
    assert_eq!(orphan.power, PowerState::Stopped);
    assert_eq!(d.list().await.unwrap(), vec![orphan]);
}

#[tokio::test]
async fn latency_is_applied_without_blocking_readers() {
    let cfg = SimConfig {
        latency: Duration::from_millis(400),
        ..SimConfig::instant()
    };
    let d = Arc::new(driver_with(cfg).await);
    let began = Instant::now();
    let slow = {
        let d = d.clone();
        tokio::spawn(async move { d.define(&vm("a", "a")).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let read_began = Instant::now();
    d.list().await.unwrap();
    assert!(read_began.elapsed() < Duration::from_millis(250));
    slow.await.unwrap().unwrap();
    assert!(began.elapsed() >= Duration::from_millis(400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tasks_never_overcommit() {
    let d = Arc::new(SimDriver::new(SimConfig::instant()));
    // Room for exactly 5 running 2 GB desks.
    d.add_host(host(HOST, 8, 10_240, 10_000, 1.0))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("vm-{i:02}");
            d.define(&vm(&id, &id)).await.unwrap();
            d.start(&id).await.is_ok()
        }));
    }
    let mut started = 0;
    for t in tasks {
        started += usize::from(t.await.unwrap());
    }
    assert_eq!(started, 5);
    let usage = d.host_usage().await.unwrap();
    assert_eq!(usage[0].memory_allocated_mb, 10_240);
    assert_eq!(usage[0].defined_vms, 20);
}

#[tokio::test]
async fn images_import_from_an_existing_file_and_stay_while_used() {
    let d = driver().await;
    let image = vm("vm-1", "alice").image;
    let source = std::env::temp_dir().join(format!("sim-os-{}.qcow2", std::process::id()));
    std::fs::write(&source, b"an uploaded OS file").unwrap();
    d.import_image(&image, &source).await.unwrap();
    d.import_image(&image, &source).await.unwrap();
    let missing = d.import_image(&image, &source.with_extension("gone")).await;
    assert!(
        matches!(missing, Err(DriverError::Invalid(_))),
        "{missing:?}"
    );
    let _ = std::fs::remove_file(&source);

    d.define(&vm("vm-1", "alice")).await.unwrap();
    let used = d.remove_image(&image).await;
    assert!(
        matches!(&used, Err(DriverError::Invalid(m)) if m.contains("vm-1")),
        "{used:?}"
    );
    d.destroy("vm-1").await.unwrap();
    d.remove_image(&image).await.unwrap();
}

/// Host usage as a scan of the listed VMs would count it: what the driver keeps per host
/// must equal this after every operation, refused ones included.
async fn scanned_usage(d: &SimDriver, host_id: &str) -> (u32, u32, u32, u64, u64) {
    let mut u = (0, 0, 0, 0, 0);
    for vm in d.list().await.unwrap() {
        if vm.spec.host_id != host_id {
            continue;
        }
        u.0 += 1;
        u.4 += vm.spec.storage_gb();
        if vm.power.holds_resources() {
            u.1 += 1;
            u.2 += vm.spec.cpu_cores;
            u.3 += vm.spec.memory_mb;
        }
    }
    u
}

#[tokio::test]
async fn host_usage_follows_every_change_of_a_seeded_random_workload() {
    let d = driver().await;
    d.add_host(host("host-2", 8, 8_192, 300, 1.0))
        .await
        .unwrap();
    let mut seed: u64 = 0x5eed;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    for step in 0..600 {
        let id = format!("vm-{}", next(12));
        let _ = match next(8) {
            0 | 1 => {
                let mut spec = vm(&id, &id);
                if next(2) == 0 {
                    spec.host_id = "host-2".into();
                }
                d.define(&spec).await.map(|_| ())
            }
            2 | 3 => d.start(&id).await,
            4 => d.power_off(&id).await,
            5 => d.pause(&id).await,
            6 => {
                d.resize(&id, shape(1 + next(4) as u32, 1024, 40 + next(30), None))
                    .await
            }
            _ => d.destroy(&id).await,
        };
        if next(10) == 0 {
            let _ = d.crash(&id, "seeded crash");
        }
        for usage in d.host_usage().await.unwrap() {
            let kept = (
                usage.defined_vms,
                usage.running_vms,
                usage.cpu_allocated,
                usage.memory_allocated_mb,
                usage.storage_used_gb,
            );
            assert_eq!(
                kept,
                scanned_usage(&d, &usage.host_id).await,
                "{} after step {step}",
                usage.host_id
            );
        }
    }
}
