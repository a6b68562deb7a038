//! One [`Hypervisor`] over several drivers, chosen per host (`driver = "sim" | "qemu" | "libvirt"`).
//!
//! The rest of deskd holds a single `Arc<dyn Hypervisor>`; [`HostRouter`] sends each call to the
//! driver of the host involved: `add_host` and `define` by the spec's host, VM operations by the
//! driver that defined the VM (learnt at `define` and from every driver's `list` when opened;
//! a libvirt host's VMs become known when the host is added, since the driver finds them there).

use crate::driver::{
    ConsoleStream, DiskImage, DriverError, DriverKind, HostSpec, HostStats, HostUsage, Hypervisor,
    ShutdownOutcome, SpiceDisplay, VmId, VmInfo, VmShape, VmSpec, VmStats,
};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// Routes hypervisor calls to the driver of each host.
pub struct HostRouter {
    drivers: Vec<(DriverKind, Arc<dyn Hypervisor>)>,
    hosts: Mutex<HashMap<String, DriverKind>>,
    vms: Mutex<HashMap<VmId, DriverKind>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl HostRouter {
    /// Builds the router over `drivers` (at most one per kind) and learns which driver holds
    /// each VM they already define.
    pub async fn open(
        drivers: Vec<(DriverKind, Arc<dyn Hypervisor>)>,
    ) -> Result<HostRouter, DriverError> {
        let mut vms = HashMap::new();
        for (kind, d) in &drivers {
            for vm in d.list().await? {
                vms.insert(vm.spec.vm_id, *kind);
            }
        }
        Ok(HostRouter {
            drivers,
            hosts: Mutex::default(),
            vms: Mutex::new(vms),
        })
    }

    fn driver(&self, kind: DriverKind) -> Result<&Arc<dyn Hypervisor>, DriverError> {
        self.drivers
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, d)| d)
            .ok_or_else(|| {
                DriverError::Invalid(format!(
                    "the {} driver is not enabled on this server",
                    kind.as_str()
                ))
            })
    }

    fn host_kind(&self, host_id: &str) -> Result<DriverKind, DriverError> {
        let kind = lock(&self.hosts).get(host_id).copied();
        kind.ok_or_else(|| DriverError::UnknownHost(host_id.to_string()))
    }

    fn of_host(&self, host_id: &str) -> Result<&Arc<dyn Hypervisor>, DriverError> {
        self.driver(self.host_kind(host_id)?)
    }

    fn of_vm(&self, vm: &str) -> Result<&Arc<dyn Hypervisor>, DriverError> {
        let kind = lock(&self.vms).get(vm).copied();
        self.driver(kind.ok_or_else(|| DriverError::NotFound(vm.to_string()))?)
    }
}

#[async_trait::async_trait]
impl Hypervisor for HostRouter {
    fn kind(&self) -> &'static str {
        "router"
    }

    async fn add_host(&self, host: HostSpec) -> Result<(), DriverError> {
        let kind = host.driver;
        let id = host.host_id.clone();
        let driver = self.driver(kind)?;
        driver.add_host(host).await?;
        lock(&self.hosts).insert(id, kind);
        if kind == DriverKind::Libvirt {
            for vm in driver.list().await? {
                lock(&self.vms).insert(vm.spec.vm_id, kind);
            }
        }
        Ok(())
    }

    async fn define(&self, spec: &VmSpec) -> Result<VmInfo, DriverError> {
        let kind = self.host_kind(&spec.host_id)?;
        let info = self.driver(kind)?.define(spec).await?;
        lock(&self.vms).insert(spec.vm_id.clone(), kind);
        Ok(info)
    }

    async fn start(&self, vm: &str) -> Result<(), DriverError> {
        self.of_vm(vm)?.start(vm).await
    }

    async fn shutdown(&self, vm: &str, grace: Duration) -> Result<ShutdownOutcome, DriverError> {
        self.of_vm(vm)?.shutdown(vm, grace).await
    }

    async fn power_off(&self, vm: &str) -> Result<(), DriverError> {
        self.of_vm(vm)?.power_off(vm).await
    }

    async fn reset(&self, vm: &str) -> Result<(), DriverError> {
        self.of_vm(vm)?.reset(vm).await
    }

    async fn pause(&self, vm: &str) -> Result<(), DriverError> {
        self.of_vm(vm)?.pause(vm).await
    }

    async fn resume(&self, vm: &str) -> Result<(), DriverError> {
        self.of_vm(vm)?.resume(vm).await
    }

    async fn resize(&self, vm: &str, shape: VmShape) -> Result<(), DriverError> {
        self.of_vm(vm)?.resize(vm, shape).await
    }

    async fn revert_system_disk(&self, vm: &str) -> Result<(), DriverError> {
        self.of_vm(vm)?.revert_system_disk(vm).await
    }

    /// Missing is Ok, as for every driver: a VM no driver knows has nothing to remove.
    async fn destroy(&self, vm: &str) -> Result<(), DriverError> {
        let driver = match self.of_vm(vm) {
            Ok(d) => d,
            Err(DriverError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        driver.destroy(vm).await?;
        lock(&self.vms).remove(vm);
        Ok(())
    }

    async fn info(&self, vm: &str) -> Result<Option<VmInfo>, DriverError> {
        match self.of_vm(vm) {
            Ok(d) => d.info(vm).await,
            Err(DriverError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list(&self) -> Result<Vec<VmInfo>, DriverError> {
        let mut all = Vec::new();
        for (_, d) in &self.drivers {
            all.extend(d.list().await?);
        }
        all.sort_by(|a, b| a.spec.vm_id.cmp(&b.spec.vm_id));
        Ok(all)
    }

    async fn vm_stats(&self, vm: &str) -> Result<VmStats, DriverError> {
        self.of_vm(vm)?.vm_stats(vm).await
    }

    async fn host_usage(&self) -> Result<Vec<HostUsage>, DriverError> {
        let mut all = Vec::new();
        for (_, d) in &self.drivers {
            all.extend(d.host_usage().await?);
        }
        all.sort_by(|a, b| a.host_id.cmp(&b.host_id));
        Ok(all)
    }

    async fn host_stats(&self, host_id: &str) -> Result<HostStats, DriverError> {
        self.of_host(host_id)?.host_stats(host_id).await
    }

    /// The drivers' generations summed; unknown when any driver cannot tell.
    fn state_generation(&self) -> Option<u64> {
        let mut sum = 0u64;
        for (_, d) in &self.drivers {
            sum = sum.wrapping_add(d.state_generation()?);
        }
        Some(sum)
    }

    /// The drivers' channels; with several, one that moves whenever any of them does (its
    /// forwarding tasks need a tokio runtime, so it is None outside of one).
    fn state_watch(&self) -> Option<watch::Receiver<u64>> {
        let mut rxs: Vec<_> = self
            .drivers
            .iter()
            .filter_map(|(_, d)| d.state_watch())
            .collect();
        if rxs.len() <= 1 {
            return rxs.pop();
        }
        let rt = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = watch::channel(0u64);
        let tx = Arc::new(tx);
        for mut r in rxs {
            let tx = tx.clone();
            rt.spawn(async move {
                while r.changed().await.is_ok() && !tx.is_closed() {
                    tx.send_modify(|g| *g = g.wrapping_add(1));
                }
            });
        }
        Some(rx)
    }

    async fn console(&self, vm: &str) -> Result<ConsoleStream, DriverError> {
        self.of_vm(vm)?.console(vm).await
    }

    async fn spice_ticket(
        &self,
        vm: &str,
        password: &str,
        valid_to: &str,
    ) -> Result<Option<SpiceDisplay>, DriverError> {
        self.of_vm(vm)?.spice_ticket(vm, password, valid_to).await
    }

    /// Every driver gets the base: a host of any kind may run the image's desks.
    async fn import_image(&self, image: &DiskImage, source: &Path) -> Result<(), DriverError> {
        for (_, d) in &self.drivers {
            d.import_image(image, source).await?;
        }
        Ok(())
    }

    async fn remove_image(&self, image: &DiskImage) -> Result<(), DriverError> {
        for (_, d) in &self.drivers {
            d.remove_image(image).await?;
        }
        Ok(())
    }
}
