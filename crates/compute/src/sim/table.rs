//! The simulator's VM table and the rules every operation follows.
//!
//! Kept apart from the async driver so that each operation is a plain,
//! synchronous state change made under one lock: checks first, then the
//! change, so a refused or failed operation leaves nothing behind.

use super::metrics::{
    HostCounters, HostLoad, Profile, Rates, SimHost, VmCounters, CPU_MODES, GIB, MIB,
};
use super::unix_now;
use crate::driver::{
    DriverError, HostSpec, HostStats, HostUsage, PowerState, ShutdownOutcome, VmId, VmInfo,
    VmShape, VmSpec, VmStats,
};
use crate::fault::{FaultInjector, Op};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// What `shutdown` does after its first, locked step.
pub(super) enum ShutdownStep {
    /// Nothing left to wait for.
    Done(ShutdownOutcome),
    /// The guest cooperates: stop after `shutdown_latency`.
    Graceful,
    /// The guest will not make it: power off after the grace period.
    Forced,
}

/// Mutable state of the driver, guarded by one mutex.
/// The finest step in which simulated counters advance.
const TICK_GRANULARITY: std::time::Duration = std::time::Duration::from_millis(20);

pub(super) struct Inner {
    pub(super) hosts: BTreeMap<String, SimHost>,
    pub(super) vms: BTreeMap<VmId, SimVm>,
    pub(super) faults: FaultInjector,
    /// When counters were last advanced.
    pub(super) last_tick: Instant,
    /// How long the last advance took: the next one waits at least 20× that, so advancing
    /// stays a small share of the time however many VMs there are.
    pub(super) tick_cost: std::time::Duration,
    /// Bumped by every change (and attempted change) of the VM table or the hosts.
    pub(super) changes: u64,
    /// Bumped per snapshot so an older snapshot never overwrites a newer one.
    pub(super) save_seq: u64,
    /// What the VMs of each host hold, kept by [`Inner::change_vm`] as VMs change, so a
    /// capacity check costs the same with 100 VMs as with 100,000 (a scan per desk made a
    /// batch create into a large fleet quadratic).
    pub(super) held: HashMap<String, Held>,
}

/// The share of a host that its VMs hold: every defined VM's disks, and the vCPUs and memory
/// of those running or paused.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Held {
    defined_vms: u32,
    running_vms: u32,
    cpu: u32,
    memory_mb: u64,
    storage_gb: u64,
}

impl Held {
    fn of(vm: &SimVm) -> Held {
        let running = vm.power.holds_resources();
        Held {
            defined_vms: 1,
            running_vms: u32::from(running),
            cpu: if running { vm.spec.cpu_cores } else { 0 },
            memory_mb: if running { vm.spec.memory_mb } else { 0 },
            storage_gb: vm.spec.storage_gb(),
        }
    }

    fn add(&mut self, o: Held) {
        self.defined_vms = self.defined_vms.saturating_add(o.defined_vms);
        self.running_vms = self.running_vms.saturating_add(o.running_vms);
        self.cpu = self.cpu.saturating_add(o.cpu);
        self.memory_mb = self.memory_mb.saturating_add(o.memory_mb);
        self.storage_gb = self.storage_gb.saturating_add(o.storage_gb);
    }

    fn sub(&mut self, o: Held) {
        self.defined_vms = self.defined_vms.saturating_sub(o.defined_vms);
        self.running_vms = self.running_vms.saturating_sub(o.running_vms);
        self.cpu = self.cpu.saturating_sub(o.cpu);
        self.memory_mb = self.memory_mb.saturating_sub(o.memory_mb);
        self.storage_gb = self.storage_gb.saturating_sub(o.storage_gb);
    }

    /// What the VMs of each host hold, counted over the whole table (for a loaded table, and
    /// to check the kept tally in tests).
    pub(super) fn count(vms: &BTreeMap<VmId, SimVm>) -> HashMap<String, Held> {
        let mut held: HashMap<String, Held> = HashMap::new();
        for vm in vms.values() {
            held.entry(vm.spec.host_id.clone())
                .or_default()
                .add(Held::of(vm));
        }
        held
    }
}

impl Inner {
    /// Advances every counter to now, at the rates in force since the last
    /// tick; called before every read and change so rates stay piecewise
    /// constant and counters monotonic.
    pub(super) fn tick(&mut self) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.last_tick);
        // Advancing touches every VM: calls closer together than this (a collector reading
        // each VM's figures in turn) share one advance, and the time is not lost, only deferred.
        if elapsed < TICK_GRANULARITY.max(self.tick_cost * 20) {
            return;
        }
        let dt = elapsed.as_secs_f64();
        self.last_tick = now;
        let loads: Vec<HostLoad> = {
            let by_host = self.loads();
            let load = |id: &String| by_host.get(id.as_str()).copied().unwrap_or_default();
            self.hosts.keys().map(load).collect()
        };
        for vm in self.vms.values_mut() {
            vm.advance(dt);
        }
        for (host, load) in self.hosts.values_mut().zip(&loads) {
            host.advance(load, dt);
        }
        self.tick_cost = now.elapsed();
    }

    /// Current demand that VMs put on each host.
    pub(super) fn loads(&self) -> HashMap<&str, HostLoad> {
        let mut loads: HashMap<&str, HostLoad> = HashMap::new();
        for vm in self.vms.values() {
            if vm.power.holds_resources() {
                let load = loads.entry(vm.spec.host_id.as_str()).or_default();
                load.add(&vm.rates());
                load.active_vms += 1;
            }
        }
        loads
    }

    pub(super) fn vm(&self, id: &str) -> Result<&SimVm, DriverError> {
        self.vms
            .get(id)
            .ok_or_else(|| DriverError::NotFound(id.to_string()))
    }

    pub(super) fn vm_mut(&mut self, id: &str) -> Result<&mut SimVm, DriverError> {
        self.vms
            .get_mut(id)
            .ok_or_else(|| DriverError::NotFound(id.to_string()))
    }

    pub(super) fn host(&self, id: &str) -> Result<&SimHost, DriverError> {
        self.hosts
            .get(id)
            .ok_or_else(|| DriverError::UnknownHost(id.to_string()))
    }

    /// Fails with `Injected` when a fault rule fires for `op` on this VM name.
    pub(super) fn roll_named(&mut self, op: Op, vm: &str, name: &str) -> Result<(), DriverError> {
        if self.faults.should_fail(op, name) {
            tracing::debug!(%op, vm, "injected fault");
            return Err(DriverError::Injected {
                op: op.as_str(),
                vm: vm.to_string(),
            });
        }
        Ok(())
    }

    /// Looks the VM up (`NotFound`) and rolls the faults for `op` on it.
    pub(super) fn roll(&mut self, op: Op, vm: &str) -> Result<(), DriverError> {
        let name = self.vm(vm)?.spec.name.clone();
        self.roll_named(op, vm, &name)
    }

    pub(super) fn usage(&self, host: &HostSpec) -> HostUsage {
        let held = self.held.get(&host.host_id).copied().unwrap_or_default();
        HostUsage {
            host_id: host.host_id.clone(),
            cpu_cores: host.cpu_cores,
            memory_mb: host.memory_mb,
            storage_gb: host.storage_gb,
            cpu_allocated: held.cpu,
            memory_allocated_mb: held.memory_mb,
            storage_used_gb: held.storage_gb,
            running_vms: held.running_vms,
            defined_vms: held.defined_vms,
        }
    }

    /// Runs `change`, which may alter, add or remove the VM `vm` (and no other), and moves
    /// that VM's share between the hosts' tallies accordingly.
    pub(super) fn change_vm<T>(&mut self, vm: &str, change: impl FnOnce(&mut Inner) -> T) -> T {
        let before = self
            .vms
            .get(vm)
            .map(|v| (v.spec.host_id.clone(), Held::of(v)));
        let out = change(self);
        let after = self
            .vms
            .get(vm)
            .map(|v| (v.spec.host_id.clone(), Held::of(v)));
        if before != after {
            if let Some((host, h)) = before {
                self.held.entry(host).or_default().sub(h);
            }
            if let Some((host, h)) = after {
                self.held.entry(host).or_default().add(h);
            }
        }
        out
    }

    /// `Capacity` unless `need_gb` more storage fits on the host.
    pub(super) fn check_storage(&self, host_id: &str, need_gb: u64) -> Result<(), DriverError> {
        let host = self.host(host_id)?;
        let free = host
            .spec
            .storage_gb
            .saturating_sub(self.usage(&host.spec).storage_used_gb);
        if need_gb > free {
            return Err(DriverError::Capacity {
                host: host_id.to_string(),
                resource: "storage_gb",
                need: need_gb,
                free,
            });
        }
        Ok(())
    }

    /// `Capacity` unless `need_mb` more running memory fits under the
    /// host's overcommit limit.
    pub(super) fn check_memory(&self, host_id: &str, need_mb: u64) -> Result<(), DriverError> {
        let host = self.host(host_id)?;
        let free = host
            .spec
            .memory_limit_mb()
            .saturating_sub(self.usage(&host.spec).memory_allocated_mb);
        if need_mb > free {
            return Err(DriverError::Capacity {
                host: host_id.to_string(),
                resource: "memory_mb",
                need: need_mb,
                free,
            });
        }
        Ok(())
    }

    pub(super) fn add_host(&mut self, spec: HostSpec) -> Result<(), DriverError> {
        validate_host(&spec)?;
        match self.hosts.get_mut(&spec.host_id) {
            Some(host) => host.spec = spec,
            None => {
                let host = SimHost {
                    spec,
                    booted_unix: unix_now(),
                    counters: HostCounters::default(),
                };
                self.hosts.insert(host.spec.host_id.clone(), host);
            }
        }
        Ok(())
    }

    pub(super) fn define(
        &mut self,
        spec: &VmSpec,
        with_faults: bool,
    ) -> Result<VmInfo, DriverError> {
        if with_faults {
            self.roll_named(Op::Define, &spec.vm_id, &spec.name)?;
        }
        if let Some(existing) = self.vms.get(&spec.vm_id) {
            return Ok(existing.info());
        }
        validate_vm(spec)?;
        self.check_storage(&spec.host_id, spec.storage_gb())?;
        let vm = SimVm::new(spec.clone());
        let info = vm.info();
        self.vms.insert(spec.vm_id.clone(), vm);
        Ok(info)
    }

    pub(super) fn start(&mut self, id: &str) -> Result<(), DriverError> {
        self.roll(Op::Start, id)?;
        let vm = self.vm(id)?;
        match vm.power {
            PowerState::Running => return Ok(()),
            PowerState::Paused => return Err(vm.invalid("start", "Stopped, Crashed or Running")),
            PowerState::Stopped | PowerState::Crashed => {}
        }
        self.check_memory(&vm.spec.host_id, vm.spec.memory_mb)?;
        self.vm_mut(id)?.boot();
        Ok(())
    }

    pub(super) fn begin_shutdown(
        &mut self,
        id: &str,
        forced: impl FnOnce(&str, bool) -> bool,
    ) -> Result<ShutdownStep, DriverError> {
        self.roll(Op::Shutdown, id)?;
        let vm = self.vm_mut(id)?;
        Ok(match vm.power {
            PowerState::Stopped => ShutdownStep::Done(ShutdownOutcome::Graceful),
            PowerState::Crashed => {
                vm.halt();
                ShutdownStep::Done(ShutdownOutcome::Forced)
            }
            PowerState::Running | PowerState::Paused => {
                if forced(&vm.spec.name, vm.power == PowerState::Paused) {
                    ShutdownStep::Forced
                } else {
                    ShutdownStep::Graceful
                }
            }
        })
    }

    /// Second step of `shutdown`, after the wait; the VM may have been
    /// stopped or destroyed by someone else meanwhile.
    pub(super) fn finish_shutdown(
        &mut self,
        id: &str,
        outcome: ShutdownOutcome,
    ) -> Result<ShutdownOutcome, DriverError> {
        let vm = self.vm_mut(id)?;
        if vm.power != PowerState::Stopped {
            vm.halt();
        }
        Ok(outcome)
    }

    pub(super) fn power_off(&mut self, id: &str) -> Result<(), DriverError> {
        self.roll(Op::PowerOff, id)?;
        self.vm_mut(id)?.halt();
        Ok(())
    }

    pub(super) fn reset(&mut self, id: &str) -> Result<(), DriverError> {
        self.roll(Op::Reset, id)?;
        let vm = self.vm_mut(id)?;
        if vm.power != PowerState::Running {
            return Err(vm.invalid("reset", "Running"));
        }
        if vm.spec.recoverable {
            vm.disk_generation += 1;
        }
        vm.uptime_seconds = 0.0;
        Ok(())
    }

    /// pause (`paused` true) / resume (false); either is Ok when already done.
    pub(super) fn set_paused(&mut self, id: &str, paused: bool) -> Result<(), DriverError> {
        let (op, name, needs, target) = if paused {
            (Op::Pause, "pause", "Running or Paused", PowerState::Paused)
        } else {
            (
                Op::Resume,
                "resume",
                "Paused or Running",
                PowerState::Running,
            )
        };
        self.roll(op, id)?;
        let vm = self.vm_mut(id)?;
        match vm.power {
            PowerState::Running | PowerState::Paused => {
                vm.power = target;
                Ok(())
            }
            _ => Err(vm.invalid(name, needs)),
        }
    }

    pub(super) fn resize(&mut self, id: &str, shape: VmShape) -> Result<(), DriverError> {
        self.roll(Op::Resize, id)?;
        let vm = self.vm(id)?;
        if vm.power != PowerState::Stopped {
            return Err(vm.invalid("resize", "Stopped"));
        }
        let spec = vm.spec.reshaped(shape)?;
        let growth = spec.storage_gb().saturating_sub(vm.spec.storage_gb());
        validate_vm(&spec)?;
        if growth > 0 {
            self.check_storage(&spec.host_id, growth)?;
        }
        self.vm_mut(id)?.spec = spec;
        Ok(())
    }

    pub(super) fn revert(&mut self, id: &str) -> Result<(), DriverError> {
        self.roll(Op::Revert, id)?;
        let vm = self.vm_mut(id)?;
        if vm.power != PowerState::Stopped {
            return Err(vm.invalid("revert", "Stopped"));
        }
        vm.disk_generation += 1;
        vm.disk_dirty = false;
        Ok(())
    }

    pub(super) fn destroy(&mut self, id: &str) -> Result<(), DriverError> {
        if !self.vms.contains_key(id) {
            return Ok(());
        }
        self.roll(Op::Destroy, id)?;
        self.vms.remove(id);
        Ok(())
    }

    pub(super) fn crash(&mut self, id: &str, reason: String) -> Result<(), DriverError> {
        let vm = self.vm_mut(id)?;
        if !vm.power.holds_resources() {
            return Err(vm.invalid("crash", "Running or Paused"));
        }
        vm.power = PowerState::Crashed;
        vm.crash_reason = Some(reason);
        vm.uptime_seconds = 0.0;
        Ok(())
    }

    pub(super) fn host_stats(&self, id: &str) -> Result<HostStats, DriverError> {
        let host = self.host(id)?;
        let usage = self.usage(&host.spec);
        let load = self.loads().get(id).copied().unwrap_or_default();
        let memory_total = host.spec.memory_mb.saturating_mul(MIB);
        let storage_free_gb = host.spec.storage_gb.saturating_sub(usage.storage_used_gb);
        let c = &host.counters;
        Ok(HostStats {
            host_id: id.to_string(),
            cpu_seconds_by_mode: CPU_MODES
                .iter()
                .zip(c.cpu_by_mode)
                .map(|(mode, secs)| (mode.to_string(), secs))
                .collect(),
            memory_total_bytes: memory_total,
            memory_available_bytes: memory_total
                .saturating_sub(usage.memory_allocated_mb.saturating_mul(MIB)),
            fs_size_bytes: host.spec.storage_gb.saturating_mul(GIB),
            fs_avail_bytes: storage_free_gb.saturating_mul(GIB),
            net_rx_bytes_total: c.net_rx as u64,
            net_tx_bytes_total: c.net_tx as u64,
            disk_read_bytes_total: c.disk_read as u64,
            disk_written_bytes_total: c.disk_written as u64,
            load1: host.load1(&load),
            boot_time_seconds: host.booted_unix,
        })
    }
}

pub(super) fn validate_host(spec: &HostSpec) -> Result<(), DriverError> {
    let problem = if spec.host_id.is_empty() {
        "host_id is empty"
    } else if spec.cpu_cores == 0 || spec.memory_mb == 0 {
        "host needs at least one core and some memory"
    } else if !(spec.memory_overcommit >= 1.0 && spec.memory_overcommit.is_finite()) {
        "memory_overcommit must be a finite number >= 1.0"
    } else {
        return Ok(());
    };
    Err(DriverError::Invalid(format!("{}: {problem}", spec.host_id)))
}

/// Rejects shapes no hypervisor could run; a linked clone cannot be
/// smaller than the image it is backed by.
pub(super) fn validate_vm(spec: &VmSpec) -> Result<(), DriverError> {
    let problem = if spec.vm_id.is_empty() {
        "vm_id is empty".to_string()
    } else if spec.cpu_cores == 0 || spec.memory_mb == 0 {
        "a vm needs at least one core and some memory".to_string()
    } else if spec.system_disk_gb < spec.image.size_gb.max(1) {
        format!(
            "system disk of {} GB is smaller than image {} ({} GB)",
            spec.system_disk_gb, spec.image.image_id, spec.image.size_gb
        )
    } else if spec.data_disk_gb == Some(0) {
        "a data disk of 0 GB; use None for no data disk".to_string()
    } else {
        return Ok(());
    };
    Err(DriverError::Invalid(format!(
        "vm {}: {problem}",
        spec.vm_id
    )))
}

/// One VM as the simulator keeps (and persists) it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct SimVm {
    pub(super) spec: VmSpec,
    pub(super) power: PowerState,
    pub(super) disk_generation: u64,
    #[serde(default)]
    pub(super) crash_reason: Option<String>,
    /// The system disk has been written to since its last fresh overlay.
    #[serde(default)]
    pub(super) disk_dirty: bool,
    #[serde(default)]
    pub(super) counters: VmCounters,
    /// Seconds the guest has been running since its last boot or reset.
    #[serde(default)]
    pub(super) uptime_seconds: f64,
}

impl SimVm {
    pub(super) fn new(spec: VmSpec) -> Self {
        SimVm {
            spec,
            power: PowerState::Stopped,
            disk_generation: 0,
            crash_reason: None,
            disk_dirty: false,
            counters: VmCounters::default(),
            uptime_seconds: 0.0,
        }
    }

    pub(super) fn info(&self) -> VmInfo {
        VmInfo {
            spec: self.spec.clone(),
            power: self.power,
            disk_generation: self.disk_generation,
            crash_reason: self.crash_reason.clone(),
        }
    }

    pub(super) fn invalid(&self, op: &'static str, needs: &'static str) -> DriverError {
        DriverError::InvalidState {
            vm: self.spec.vm_id.clone(),
            op,
            state: self.power,
            needs,
        }
    }

    /// Powers on; a recoverable desk first gets a fresh overlay if its
    /// previous run wrote to the disk.
    pub(super) fn boot(&mut self) {
        if self.spec.recoverable && self.disk_dirty {
            self.disk_generation += 1;
        }
        self.power = PowerState::Running;
        self.crash_reason = None;
        self.disk_dirty = true;
        self.uptime_seconds = 0.0;
    }

    /// Powers off (any state); counters are kept.
    pub(super) fn halt(&mut self) {
        self.power = PowerState::Stopped;
        self.crash_reason = None;
        self.uptime_seconds = 0.0;
    }

    /// Demand while running; zero otherwise (a paused guest does nothing).
    pub(super) fn rates(&self) -> Rates {
        if self.power == PowerState::Running {
            Profile::of(&self.spec.vm_id).rates(self.spec.cpu_cores)
        } else {
            Rates::default()
        }
    }

    pub(super) fn advance(&mut self, dt: f64) {
        if self.power == PowerState::Running {
            self.counters.add(&self.rates(), dt);
            self.uptime_seconds += dt;
        }
    }

    pub(super) fn stats(&self) -> VmStats {
        let profile = Profile::of(&self.spec.vm_id);
        let total = self.spec.memory_mb.saturating_mul(MIB);
        let used = if self.power.holds_resources() {
            // Guests fill their memory over the first couple of minutes.
            let ramp = (0.4 + 0.6 * self.uptime_seconds / 120.0).min(1.0);
            ((total as f64 * profile.memory_fraction * ramp) as u64).min(total)
        } else {
            0
        };
        let c = &self.counters;
        VmStats {
            cpu_seconds_total: c.cpu_seconds,
            memory_total_bytes: total,
            memory_used_bytes: used,
            disk_read_bytes_total: c.disk_read_bytes as u64,
            disk_write_bytes_total: c.disk_write_bytes as u64,
            disk_read_ops_total: c.disk_read_ops as u64,
            disk_write_ops_total: c.disk_write_ops as u64,
            net_rx_bytes_total: c.net_rx_bytes as u64,
            net_tx_bytes_total: c.net_tx_bytes as u64,
            uptime_seconds: self.uptime_seconds,
        }
    }
}
