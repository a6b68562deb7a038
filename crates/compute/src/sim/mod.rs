//! The simulated hypervisor.
//!
//! deskd must be demonstrable and testable without KVM, so [`SimDriver`]
//! keeps VMs in memory and behaves like a real driver would: operations
//! take time, resources are accounted per host and refused beyond the
//! limits, recoverable desks get fresh system disks, counters grow
//! plausibly, faults can be injected, drift can be provoked for the
//! reconciler, and the VM table can survive a controller restart. A running VM's console is
//! a small in-process RFB server ([`rfb`]).

mod metrics;
mod persist;
pub mod rfb;
mod table;

use crate::driver::{
    image_in_use, ConsoleStream, DiskImage, DriverError, HostSpec, HostStats, HostUsage,
    Hypervisor, PowerState, ShutdownOutcome, VmId, VmInfo, VmShape, VmSpec, VmStats,
};
use crate::fault::{wildcard_match, FaultInjector, FaultRule};
use persist::{load_state, set_aside, Saver};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use table::{Held, Inner, ShutdownStep, SimVm};

/// How the simulated driver behaves.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Time every mutating operation takes (tests use zero).
    pub latency: Duration,
    /// Time a cooperative guest needs to shut down after ACPI.
    pub shutdown_latency: Duration,
    pub faults: Vec<FaultRule>,
    /// Seed of the fault RNG, so failures are reproducible.
    pub seed: u64,
    /// Where the VM table is kept across restarts; None keeps it in memory.
    pub state_file: Option<PathBuf>,
    /// Guests whose name matches this wildcard ignore ACPI shutdown.
    pub ignore_acpi_pattern: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            latency: Duration::from_millis(300),
            shutdown_latency: Duration::from_secs(1),
            faults: Vec::new(),
            seed: 0,
            state_file: None,
            ignore_acpi_pattern: None,
        }
    }
}

impl SimConfig {
    /// No latency at all: what unit tests want.
    pub fn instant() -> Self {
        SimConfig {
            latency: Duration::ZERO,
            shutdown_latency: Duration::ZERO,
            ..SimConfig::default()
        }
    }
}

/// In-memory hypervisor; share it as `Arc<SimDriver>` or `Arc<dyn Hypervisor>`.
pub struct SimDriver {
    latency: Duration,
    shutdown_latency: Duration,
    ignore_acpi_pattern: Option<String>,
    inner: Mutex<Inner>,
    saver: Option<Saver>,
    /// Hosts made unreachable by [`SimDriver::set_host_reachable`] (not persisted).
    unreachable: Mutex<std::collections::BTreeSet<String>>,
}

impl SimDriver {
    /// Builds the driver, loading `state_file` when it exists. A state file
    /// that cannot be read is moved aside (`<name>.corrupt`) and the driver
    /// starts empty; use [`SimDriver::try_new`] to fail instead.
    pub fn new(cfg: SimConfig) -> Self {
        match Self::try_new(cfg.clone()) {
            Ok(driver) => driver,
            Err(err) => {
                tracing::error!(%err, "simulated driver state unreadable; starting empty");
                if let Some(path) = &cfg.state_file {
                    set_aside(path);
                }
                Self::build(cfg, BTreeMap::new(), 0)
            }
        }
    }

    /// Like [`SimDriver::new`] but reports an unreadable state file.
    pub fn try_new(cfg: SimConfig) -> Result<Self, DriverError> {
        let (vms, seq) = match &cfg.state_file {
            Some(path) => {
                let loaded = load_state(path)?;
                (loaded.vms, loaded.seq)
            }
            None => (BTreeMap::new(), 0),
        };
        Ok(Self::build(cfg, vms, seq))
    }

    fn build(cfg: SimConfig, vms: BTreeMap<VmId, SimVm>, save_seq: u64) -> Self {
        let inner = Inner {
            hosts: BTreeMap::new(),
            held: Held::count(&vms),
            vms,
            faults: FaultInjector::new(cfg.faults, cfg.seed),
            last_tick: Instant::now(),
            tick_cost: Duration::ZERO,
            changes: 0,
            save_seq,
        };
        SimDriver {
            latency: cfg.latency,
            shutdown_latency: cfg.shutdown_latency,
            ignore_acpi_pattern: cfg.ignore_acpi_pattern,
            inner: Mutex::new(inner),
            saver: cfg.state_file.map(Saver::new),
            unreachable: Mutex::default(),
        }
    }

    /// Fault injection for monitoring: while a host is unreachable its `host_stats` fails, as
    /// a real host's agent would when the host is down. VMs are not touched.
    pub fn set_host_reachable(&self, host_id: &str, reachable: bool) {
        let mut down = lock(&self.unreachable);
        if reachable {
            down.remove(host_id);
        } else {
            down.insert(host_id.to_string());
        }
    }

    /// Replaces the fault rules at runtime.
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        lock(&self.inner).faults.set_rules(rules);
    }

    /// The fault rules in force.
    pub fn faults(&self) -> Vec<FaultRule> {
        lock(&self.inner).faults.rules().to_vec()
    }

    /// Drift: the guest of a Running or Paused VM dies with `reason`.
    pub fn crash(&self, vm: &str, reason: impl Into<String>) -> Result<(), DriverError> {
        let reason = reason.into();
        self.mutate(Some(vm), |inner| inner.crash(vm, reason))
    }

    /// Drift: the VM vanishes from the hypervisor (disks included).
    /// Returns whether it existed.
    pub fn forget(&self, vm: &str) -> bool {
        self.mutate(Some(vm), |inner| Ok(inner.vms.remove(vm).is_some()))
            .unwrap_or(false)
    }

    /// Drift: a VM appears that no desk knows (stopped). Capacity and host
    /// checks apply, faults and latency do not.
    pub fn inject_orphan(&self, spec: VmSpec) -> Result<VmInfo, DriverError> {
        self.mutate(Some(&spec.vm_id), |inner| inner.define(&spec, false))
    }

    async fn delay(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }

    /// Runs a state change of VM `vm` under the lock, queues its new record for the state
    /// file, then writes the queue (outside the lock) when the change succeeded. Host changes
    /// (`vm` = None) are not persisted: the controller re-adds its hosts at start.
    fn mutate<T>(
        &self,
        vm: Option<&str>,
        change: impl FnOnce(&mut Inner) -> Result<T, DriverError>,
    ) -> Result<T, DriverError> {
        let (out, seq) = {
            let mut inner = lock(&self.inner);
            inner.tick();
            let out = match vm {
                Some(vm) => inner.change_vm(vm, change),
                None => change(&mut inner),
            };
            inner.changes += 1;
            let out = out?;
            let (Some(saver), Some(vm)) = (&self.saver, vm) else {
                return Ok(out);
            };
            inner.save_seq += 1;
            let seq = inner.save_seq;
            lock(&saver.pending).record(seq, vm, inner.vms.get(vm), inner.vms.len());
            (out, seq)
        };
        if let Some(saver) = &self.saver {
            saver.persist(seq, || {
                let inner = lock(&self.inner);
                lock(&saver.pending).clear();
                (inner.save_seq, inner.vms.values().cloned().collect())
            });
        }
        Ok(out)
    }

    /// Runs a read under the lock; counters are brought up to date first.
    fn read<T>(&self, query: impl FnOnce(&Inner) -> T) -> T {
        let mut inner = lock(&self.inner);
        inner.tick();
        query(&inner)
    }

    fn ignores_acpi(&self, name: &str) -> bool {
        self.ignore_acpi_pattern
            .as_deref()
            .is_some_and(|p| wildcard_match(p, name))
    }
}

#[async_trait::async_trait]
impl Hypervisor for SimDriver {
    fn kind(&self) -> &'static str {
        "simulated"
    }

    fn state_generation(&self) -> Option<u64> {
        Some(lock(&self.inner).changes)
    }

    async fn add_host(&self, host: HostSpec) -> Result<(), DriverError> {
        self.mutate(None, |inner| inner.add_host(host))
    }

    async fn define(&self, spec: &VmSpec) -> Result<VmInfo, DriverError> {
        self.delay().await;
        self.mutate(Some(&spec.vm_id), |inner| inner.define(spec, true))
    }

    async fn start(&self, vm: &str) -> Result<(), DriverError> {
        self.delay().await;
        self.mutate(Some(vm), |inner| inner.start(vm))
    }

    async fn shutdown(&self, vm: &str, grace: Duration) -> Result<ShutdownOutcome, DriverError> {
        self.delay().await;
        let step = self.mutate(Some(vm), |inner| {
            inner.begin_shutdown(vm, |name, paused| {
                paused || self.ignores_acpi(name) || self.shutdown_latency > grace
            })
        })?;
        match step {
            ShutdownStep::Done(outcome) => Ok(outcome),
            ShutdownStep::Forced => {
                tokio::time::sleep(grace).await;
                self.mutate(Some(vm), |inner| {
                    inner.finish_shutdown(vm, ShutdownOutcome::Forced)
                })
            }
            ShutdownStep::Graceful => {
                tokio::time::sleep(self.shutdown_latency).await;
                self.mutate(Some(vm), |inner| {
                    inner.finish_shutdown(vm, ShutdownOutcome::Graceful)
                })
            }
        }
    }

    async fn power_off(&self, vm: &str) -> Result<(), DriverError> {
        self.delay().await;
        self.mutate(Some(vm), |inner| inner.power_off(vm))
    }

    async fn reset(&self, vm: &str) -> Result<(), DriverError> {
        self.delay().await;
        self.mutate(Some(vm), |inner| inner.reset(vm))
    }

    async fn pause(&self, vm: &str) -> Result<(), DriverError> {
        self.delay().await;
        self.mutate(Some(vm), |inner| inner.set_paused(vm, true))
    }

    async fn resume(&self, vm: &str) -> Result<(), DriverError> {
        self.delay().await;
        self.mutate(Some(vm), |inner| inner.set_paused(vm, false))
    }

    async fn resize(&self, vm: &str, shape: VmShape) -> Result<(), DriverError> {
        self.delay().await;
        self.mutate(Some(vm), |inner| inner.resize(vm, shape))
    }

    async fn revert_system_disk(&self, vm: &str) -> Result<(), DriverError> {
        self.delay().await;
        self.mutate(Some(vm), |inner| inner.revert(vm))
    }

    async fn destroy(&self, vm: &str) -> Result<(), DriverError> {
        self.delay().await;
        self.mutate(Some(vm), |inner| inner.destroy(vm))
    }

    async fn info(&self, vm: &str) -> Result<Option<VmInfo>, DriverError> {
        Ok(self.read(|inner| inner.vms.get(vm).map(SimVm::info)))
    }

    async fn list(&self) -> Result<Vec<VmInfo>, DriverError> {
        Ok(self.read(|inner| inner.vms.values().map(SimVm::info).collect()))
    }

    async fn vm_stats(&self, vm: &str) -> Result<VmStats, DriverError> {
        self.read(|inner| inner.vm(vm).map(SimVm::stats))
    }

    async fn host_usage(&self) -> Result<Vec<HostUsage>, DriverError> {
        Ok(self.read(|inner| inner.hosts.values().map(|h| inner.usage(&h.spec)).collect()))
    }

    async fn host_stats(&self, host_id: &str) -> Result<HostStats, DriverError> {
        if lock(&self.unreachable).contains(host_id) {
            return Err(DriverError::Io(format!("host {host_id} is unreachable")));
        }
        self.read(|inner| inner.host_stats(host_id))
    }

    /// Simulated images have no bytes: a source that exists is accepted and
    /// nothing is recorded.
    async fn import_image(
        &self,
        image: &DiskImage,
        source: &std::path::Path,
    ) -> Result<(), DriverError> {
        self.delay().await;
        if !source.is_file() {
            return Err(DriverError::Invalid(format!(
                "image {} v{}: source {} is not a file",
                image.image_id,
                image.version,
                source.display()
            )));
        }
        Ok(())
    }

    async fn remove_image(&self, image: &DiskImage) -> Result<(), DriverError> {
        self.delay().await;
        self.read(|inner| {
            match inner.vms.values().find(|vm| {
                vm.spec.image.image_id == image.image_id && vm.spec.image.version == image.version
            }) {
                Some(vm) => Err(image_in_use(image, &vm.spec.vm_id)),
                None => Ok(()),
            }
        })
    }

    async fn console(&self, vm: &str) -> Result<ConsoleStream, DriverError> {
        let name = self.read(|inner| {
            let vm = inner.vm(vm)?;
            match vm.power {
                PowerState::Running => Ok(vm.spec.name.clone()),
                _ => Err(vm.invalid("console", "Running")),
            }
        })?;
        Ok(rfb::open(&name))
    }
}

/// Locks a mutex, carrying on with the data if another thread panicked
/// while holding it (the table is always left consistent between statements).
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
