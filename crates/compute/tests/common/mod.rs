//! Shared fixtures for the integration tests.
#![allow(dead_code, clippy::unwrap_used)] // fixtures: unwrap as the tests do

use deskd_compute::{DiskImage, HostSpec, Hypervisor, SimConfig, SimDriver, VmShape, VmSpec};

pub const HOST: &str = "host-1";

pub fn host(
    id: &str,
    cpu_cores: u32,
    memory_mb: u64,
    storage_gb: u64,
    overcommit: f64,
) -> HostSpec {
    HostSpec {
        host_id: id.into(),
        name: format!("{id}.lab"),
        driver: Default::default(),
        cpu_cores,
        memory_mb,
        storage_gb,
        memory_overcommit: overcommit,
        uri: None,
    }
}

/// A 2-vCPU, 2 GB desk with a 40 GB system disk and a 10 GB data disk.
pub fn vm(vm_id: &str, name: &str) -> VmSpec {
    VmSpec {
        vm_id: vm_id.into(),
        name: name.into(),
        host_id: HOST.into(),
        cpu_cores: 2,
        memory_mb: 2048,
        system_disk_gb: 40,
        data_disk_gb: Some(10),
        image: DiskImage {
            image_id: "win11".into(),
            version: 3,
            size_gb: 30,
        },
        recoverable: false,
        video: Default::default(),
        nic: None,
    }
}

pub fn recoverable(mut spec: VmSpec) -> VmSpec {
    spec.recoverable = true;
    spec
}

/// A zero-latency driver with one roomy host (16 cores, 16 GB, 1 TB, 1.5x overcommit).
pub async fn driver() -> SimDriver {
    driver_with(SimConfig::instant()).await
}

pub async fn driver_with(cfg: SimConfig) -> SimDriver {
    let d = SimDriver::new(cfg);
    d.add_host(host(HOST, 16, 16_384, 1_000, 1.5))
        .await
        .unwrap();
    d
}

/// A fresh directory under the system temp dir.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "deskd-compute-{tag}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The shape `resize` is asked for, in the order the fields are declared.
pub fn shape(
    cpu_cores: u32,
    memory_mb: u64,
    system_disk_gb: u64,
    data_disk_gb: Option<u64>,
) -> VmShape {
    VmShape {
        cpu_cores,
        memory_mb,
        system_disk_gb,
        data_disk_gb,
    }
}
