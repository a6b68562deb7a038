//! The [`Hypervisor`] operations of the QEMU driver.

use super::accel::Verdict;
use super::live::{Counters, Live};
use super::qmp::lock;
use super::{disk, proc, write_record, Entry, QemuDriver, Record};
use crate::checks::{capacity, check_image, image_key, invalid, validate};
use crate::driver::{
    image_in_use, ConsoleStream, DiskImage, DriverError, HostSpec, HostStats, HostUsage,
    Hypervisor, PowerState, ShutdownOutcome, VmInfo, VmShape, VmSpec, VmStats,
};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// How often a guest launched under KVM by auto is checked for console output.
const PROGRESS_POLL: Duration = Duration::from_millis(100);

impl QemuDriver {
    /// [`Self::launch`] under the accelerator in force. With auto having
    /// chosen KVM, waits until the guest writes to its serial console; a
    /// guest silent for `kvm_progress_timeout` is relaunched under TCG, and
    /// TCG is kept from then on.
    async fn launch_watched(&self, spec: &VmSpec) -> Result<Live, DriverError> {
        let accel = self.accel.current();
        let live = self.launch(spec, accel).await?;
        if !self.accel.watching() {
            return Ok(live);
        }
        let log = self.serial_log(&spec.vm_id);
        let t = std::time::Instant::now();
        loop {
            let bytes = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
            match self.accel.verdict_for(accel, bytes, t.elapsed()) {
                Verdict::Keep => return Ok(live),
                Verdict::Wait if live.exit().is_some() => return Ok(live),
                Verdict::Wait => tokio::time::sleep(PROGRESS_POLL).await,
                Verdict::FallBack => {
                    tracing::warn!(
                        vm = %spec.vm_id,
                        waited_ms = t.elapsed().as_millis() as u64,
                        "no serial output under KVM: relaunching under TCG, TCG from now on"
                    );
                    self.accel.fall_back();
                    self.stop_process(&live).await;
                    return self.launch(spec, self.accel.current()).await;
                }
            }
        }
    }

    /// Launches QEMU for a VM that has no process, unless a QEMU of ours
    /// already serves its disks (then that one is adopted).
    async fn launch(&self, spec: &VmSpec, accel: &str) -> Result<Live, DriverError> {
        let dir = self.vm_dir(&spec.vm_id);
        let (pidfile, qmp_sock) = (dir.join("qemu.pid"), dir.join("qmp.sock"));
        if let Some(pid) = proc::read_pid(&pidfile).filter(|p| proc::is_our_qemu(*p, &qmp_sock)) {
            return Live::attach(pid, &qmp_sock).await;
        }
        for stale in [&pidfile, &qmp_sock, &dir.join("vnc.sock")] {
            let _ = std::fs::remove_file(stale);
        }
        let out = tokio::process::Command::new(&self.cfg.qemu_binary)
            .args(self.qemu_args(spec, accel))
            .output()
            .await
            .map_err(|e| DriverError::Io(format!("{}: {e}", self.cfg.qemu_binary.display())))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(DriverError::Io(format!(
                "qemu failed to start: {}",
                err.trim()
            )));
        }
        let pid = proc::read_pid(&pidfile)
            .ok_or_else(|| DriverError::Io("qemu started but wrote no pid file".into()))?;
        // a QEMU deskd cannot talk to must not keep the disks locked
        Live::attach(pid, &qmp_sock)
            .await
            .inspect_err(|_| proc::signal(pid, libc::SIGKILL))
    }

    /// The command line; `-daemonize` makes QEMU report start-up errors
    /// before returning and leaves a process that outlives deskd.
    fn qemu_args(&self, spec: &VmSpec, accel: &str) -> Vec<String> {
        let dir = self.vm_dir(&spec.vm_id);
        let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let mut a: Vec<String> = vec![
            "-name".into(),
            format!("deskd-{}", spec.vm_id),
            "-accel".into(),
            accel.into(),
            "-m".into(),
            spec.memory_mb.to_string(),
            "-smp".into(),
            spec.cpu_cores.to_string(),
            "-nodefaults".into(),
            "-vga".into(),
            "std".into(),
            "-display".into(),
            "none".into(),
            "-nic".into(),
            "none".into(),
            "-serial".into(),
            format!("file:{}", p("serial.log")),
            "-qmp".into(),
            format!("unix:{},server=on,wait=off", p("qmp.sock")),
            "-vnc".into(),
            format!("unix:{}", p("vnc.sock")),
            "-pidfile".into(),
            p("qemu.pid"),
            "-daemonize".into(),
            "-device".into(),
            format!("virtio-balloon-pci,id={}", super::live::BALLOON_ID),
            "-drive".into(),
            format!("file={},if=virtio,format=qcow2", p("system.qcow2")),
        ];
        if spec.data_disk_gb.is_some() {
            a.extend([
                "-drive".into(),
                format!("file={},if=virtio,format=qcow2", p("data.qcow2")),
            ]);
        }
        let kernel = self.kernel_args(spec);
        if kernel.is_empty() {
            // an uploaded bootable disk: SeaBIOS boots the system disk
            a.extend(["-boot".into(), "order=c".into()]);
        }
        a.extend(kernel);
        a
    }

    /// Direct kernel boot when the image version ships a kernel; the PVH
    /// `vmlinux` is preferred since it boots ~40% faster under TCG.
    fn kernel_args(&self, spec: &VmSpec) -> Vec<String> {
        let img = self.image_dir(spec);
        let Some(kernel) = ["vmlinux", "vmlinuz"]
            .iter()
            .map(|k| img.join(k))
            .find(|k| k.is_file())
        else {
            return Vec::new();
        };
        let cmdline = std::fs::read_to_string(img.join("cmdline"))
            .map(|c| c.trim().to_string())
            .unwrap_or_else(|_| "console=ttyS0 quiet panic=-1".into());
        let mut a = vec!["-kernel".into(), kernel.to_string_lossy().into_owned()];
        if img.join("initrd.gz").is_file() {
            a.extend([
                "-initrd".into(),
                img.join("initrd.gz").to_string_lossy().into_owned(),
            ]);
        }
        a.extend(["-append".into(), cmdline]);
        a
    }

    /// Runs a VM that has no process: a recoverable VM gets a fresh system disk first, and the
    /// record says the process should exist, so a QEMU that vanishes is seen as a crash.
    /// The crash reason is cleared: a VM that runs has none (a stop has already cleared it
    /// for `reset`; `start` may come from Crashed).
    async fn boot(&self, spec: &VmSpec) -> Result<(), DriverError> {
        if spec.recoverable {
            self.fresh_overlay(spec).await?;
        }
        let live = Arc::new(self.launch_watched(spec).await?);
        let mut vms = lock(&self.vms);
        let entry = vms
            .get_mut(&spec.vm_id)
            .ok_or_else(|| DriverError::NotFound(spec.vm_id.clone()))?;
        entry.rec.crash_reason = None;
        entry.rec.was_running = true;
        entry.live = Some(live);
        write_record(&self.vm_dir(&spec.vm_id), &entry.rec)
    }

    /// Asks QEMU to quit and kills it if it does not; the exit is never a crash.
    async fn stop_process(&self, live: &Live) {
        live.mark_stopping();
        let _ = live.qmp.execute("quit", None).await;
        if !live.wait_exit(self.cfg.stop_timeout).await {
            proc::signal(live.pid, libc::SIGKILL);
            live.wait_exit(self.cfg.stop_timeout).await;
        }
    }

    /// Stopped VM: replace the system disk with a fresh overlay of the image.
    async fn fresh_overlay(&self, spec: &VmSpec) -> Result<(), DriverError> {
        let base = self.image_dir(spec).join("disk.qcow2");
        let overlay = self.vm_dir(&spec.vm_id).join("system.qcow2");
        disk::create_overlay(&base, &overlay, spec.system_disk_gb).await?;
        self.update(&spec.vm_id, |r| r.disk_generation += 1)
    }

    /// Unix socket paths are limited to 107 bytes; refuse at define rather
    /// than fail at every start.
    fn check_socket_path(&self, vm: &str) -> Result<(), DriverError> {
        let len = self.vm_dir(vm).join("qmp.sock").as_os_str().len();
        if len > 107 {
            return Err(DriverError::Invalid(format!(
                "state dir too long: the QMP socket path of {vm} would be {len} bytes (max 107)"
            )));
        }
        Ok(())
    }

    /// Memory check against the host's overcommit limit for one more VM.
    fn check_memory(&self, spec: &VmSpec) -> Result<(), DriverError> {
        let limit = self.host(&spec.host_id)?.memory_limit_mb();
        let used = self.host_allocation(&spec.host_id).1;
        let free = limit.saturating_sub(used);
        if spec.memory_mb > free {
            return Err(capacity(&spec.host_id, "memory_mb", spec.memory_mb, free));
        }
        Ok(())
    }

    fn check_storage(&self, host_id: &str, need: u64) -> Result<(), DriverError> {
        let total = self.host(host_id)?.storage_gb;
        let used = self.host_allocation(host_id).2;
        let free = total.saturating_sub(used);
        if need > free {
            return Err(capacity(host_id, "storage_gb", need, free));
        }
        Ok(())
    }

    fn host(&self, host_id: &str) -> Result<HostSpec, DriverError> {
        lock(&self.hosts)
            .get(host_id)
            .cloned()
            .ok_or_else(|| DriverError::UnknownHost(host_id.to_string()))
    }

    /// On one host: (vCPUs, memory MB) of VMs with a process, storage GB of
    /// all, VMs with a process, VMs defined.
    pub(super) fn host_allocation(&self, host_id: &str) -> (u32, u64, u64, u32, u32) {
        let vms = lock(&self.vms);
        let mut t = (0u32, 0u64, 0u64, 0u32, 0u32);
        for e in vms.values().filter(|e| e.rec.spec.host_id == host_id) {
            t.2 += e.rec.spec.storage_gb();
            t.4 += 1;
            if e.live.is_some() {
                t.0 += e.rec.spec.cpu_cores;
                t.1 += e.rec.spec.memory_mb;
                t.3 += 1;
            }
        }
        t
    }

    async fn read_counters(&self, live: &Live) -> Counters {
        let mut c = Counters {
            cpu_seconds: proc::cpu_seconds(live.pid).unwrap_or(0.0),
            ..Counters::default()
        };
        if let Ok(Value::Array(devs)) = live.qmp.execute("query-blockstats", None).await {
            for s in devs.iter().filter_map(|d| d.get("stats")) {
                let n = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
                c.rd_bytes += n("rd_bytes");
                c.wr_bytes += n("wr_bytes");
                c.rd_ops += n("rd_operations");
                c.wr_ops += n("wr_operations");
            }
        }
        live.record_counters(c);
        c
    }
}

#[async_trait::async_trait]
impl Hypervisor for QemuDriver {
    fn kind(&self) -> &'static str {
        "qemu"
    }

    async fn add_host(&self, host: HostSpec) -> Result<(), DriverError> {
        lock(&self.hosts).insert(host.host_id.clone(), host);
        Ok(())
    }

    async fn define(&self, spec: &VmSpec) -> Result<VmInfo, DriverError> {
        let op = self.op_lock(&spec.vm_id);
        let _op = op.lock().await;
        if let Ok((info, _)) = self.current(&spec.vm_id) {
            return Ok(info);
        }
        validate(spec)?;
        self.check_socket_path(&spec.vm_id)?;
        self.check_storage(&spec.host_id, spec.storage_gb())?;
        // remove_image must not delete the base under an overlay being made
        let image_lock = self.op_lock(&image_key(&spec.image));
        let _image = image_lock.lock().await;
        let dir = self.vm_dir(&spec.vm_id);
        std::fs::create_dir_all(&dir).map_err(|e| super::io(&dir, e))?;
        let made = self.create_disks(spec).await;
        if let Err(err) = made {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(err);
        }
        let rec = Record {
            spec: spec.clone(),
            disk_generation: 1,
            crash_reason: None,
            was_running: false,
            totals: Counters::default(),
        };
        write_record(&dir, &rec)?;
        let entry = Entry { rec, live: None };
        let info = Self::info_of(&entry);
        lock(&self.vms).insert(spec.vm_id.clone(), entry);
        Ok(info)
    }

    async fn start(&self, vm: &str) -> Result<(), DriverError> {
        let op = self.op_lock(vm);
        let _op = op.lock().await;
        let (info, live) = self.current(vm)?;
        match info.power {
            PowerState::Running => return Ok(()),
            PowerState::Paused => {
                return Err(invalid(&info, "start", "Stopped, Crashed or Running"))
            }
            PowerState::Stopped | PowerState::Crashed => {}
        }
        debug_assert!(live.is_none());
        self.check_memory(&info.spec)?;
        self.boot(&info.spec).await
    }

    async fn shutdown(&self, vm: &str, grace: Duration) -> Result<ShutdownOutcome, DriverError> {
        let op = self.op_lock(vm);
        let _op = op.lock().await;
        let (info, live) = self.current(vm)?;
        let Some(live) = live else {
            let crashed = info.power == PowerState::Crashed;
            self.update(vm, |r| r.crash_reason = None)?;
            return Ok(if crashed {
                ShutdownOutcome::Forced
            } else {
                ShutdownOutcome::Graceful
            });
        };
        live.mark_stopping();
        if live.paused() {
            live.qmp.execute("cont", None).await?;
        }
        // no grace is no time to shut down: a guest quick enough to halt between the ACPI
        // request and the first look would otherwise count as graceful
        if !grace.is_zero() {
            live.qmp.execute("system_powerdown", None).await?;
        }
        let outcome = if !grace.is_zero() && live.wait_exit(grace).await {
            ShutdownOutcome::Graceful
        } else {
            self.stop_process(&live).await;
            ShutdownOutcome::Forced
        };
        self.settle(vm);
        Ok(outcome)
    }

    async fn power_off(&self, vm: &str) -> Result<(), DriverError> {
        let op = self.op_lock(vm);
        let _op = op.lock().await;
        let (_, live) = self.current(vm)?;
        if let Some(live) = live {
            self.stop_process(&live).await;
            self.settle(vm);
        }
        self.update(vm, |r| r.crash_reason = None)
    }

    async fn reset(&self, vm: &str) -> Result<(), DriverError> {
        let op = self.op_lock(vm);
        let _op = op.lock().await;
        let (info, live) = self.current(vm)?;
        let Some(live) = live.filter(|_| info.power == PowerState::Running) else {
            return Err(invalid(&info, "reset", "Running"));
        };
        if !info.spec.recoverable {
            live.qmp.execute("system_reset", None).await?;
            return Ok(());
        }
        // a fresh system disk needs the process to let go of the old one
        self.stop_process(&live).await;
        self.settle(vm);
        self.boot(&info.spec).await
    }

    async fn pause(&self, vm: &str) -> Result<(), DriverError> {
        self.set_running(vm, false).await
    }

    async fn resume(&self, vm: &str) -> Result<(), DriverError> {
        self.set_running(vm, true).await
    }

    async fn resize(&self, vm: &str, shape: VmShape) -> Result<(), DriverError> {
        let op = self.op_lock(vm);
        let _op = op.lock().await;
        let (info, _) = self.current(vm)?;
        if info.power != PowerState::Stopped {
            return Err(invalid(&info, "resize", "Stopped"));
        }
        let old = info.spec;
        let new = old.reshaped(shape)?;
        validate(&new)?;
        let growth = new.storage_gb().saturating_sub(old.storage_gb());
        if growth > 0 {
            self.check_storage(&new.host_id, growth)?;
        }
        self.resize_disks(&old, &new).await?;
        self.update(vm, |r| r.spec = new)
    }

    async fn revert_system_disk(&self, vm: &str) -> Result<(), DriverError> {
        let op = self.op_lock(vm);
        let _op = op.lock().await;
        let (info, _) = self.current(vm)?;
        if info.power != PowerState::Stopped {
            return Err(invalid(&info, "revert_system_disk", "Stopped"));
        }
        self.fresh_overlay(&info.spec).await
    }

    async fn destroy(&self, vm: &str) -> Result<(), DriverError> {
        let op = self.op_lock(vm);
        let _op = op.lock().await;
        let live = match self.current(vm) {
            Ok((_, live)) => live,
            Err(DriverError::NotFound(_)) => return Ok(()),
            Err(err) => return Err(err),
        };
        if let Some(live) = live {
            self.stop_process(&live).await;
        }
        let dir = self.vm_dir(vm);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(super::io(&dir, e)),
        }
        lock(&self.vms).remove(vm);
        lock(&self.ops).remove(vm);
        Ok(())
    }

    async fn info(&self, vm: &str) -> Result<Option<VmInfo>, DriverError> {
        match self.current(vm) {
            Ok((info, _)) => Ok(Some(info)),
            Err(DriverError::NotFound(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn list(&self) -> Result<Vec<VmInfo>, DriverError> {
        let ids: Vec<String> = lock(&self.vms).keys().cloned().collect();
        Ok(ids
            .iter()
            .filter_map(|id| self.current(id).ok().map(|(i, _)| i))
            .collect())
    }

    /// CPU time from /proc, disk counters from `query-blockstats`, memory
    /// from the balloon (`actual`) and the guest's own report of free memory
    /// (the process RSS, capped at the total, until the guest reports). VMs
    /// are launched with `-nic none`, so the network counters stay 0.
    async fn vm_stats(&self, vm: &str) -> Result<VmStats, DriverError> {
        let (info, live) = self.current(vm)?;
        let mut totals = lock(&self.vms)
            .get(vm)
            .map(|e| e.rec.totals)
            .unwrap_or_default();
        let mut stats = VmStats {
            memory_total_bytes: info.spec.memory_mb * 1024 * 1024,
            ..VmStats::default()
        };
        if let Some(live) = live {
            totals.add(&self.read_counters(&live).await);
            let memory = live.memory().await;
            if let Some(actual) = memory.actual.filter(|a| *a > 0) {
                stats.memory_total_bytes = actual;
            }
            let total = stats.memory_total_bytes;
            stats.memory_used_bytes = match memory.guest_free {
                Some(free) => total.saturating_sub(free),
                None => proc::rss_bytes(live.pid).unwrap_or(0).min(total),
            };
            stats.uptime_seconds = proc::uptime_seconds(live.pid).unwrap_or(0.0);
        }
        stats.cpu_seconds_total = totals.cpu_seconds;
        stats.disk_read_bytes_total = totals.rd_bytes;
        stats.disk_write_bytes_total = totals.wr_bytes;
        stats.disk_read_ops_total = totals.rd_ops;
        stats.disk_write_ops_total = totals.wr_ops;
        Ok(stats)
    }

    async fn host_usage(&self) -> Result<Vec<HostUsage>, DriverError> {
        let hosts: Vec<HostSpec> = lock(&self.hosts).values().cloned().collect();
        Ok(hosts.iter().map(|h| self.usage_of(h)).collect())
    }

    async fn console(&self, vm: &str) -> Result<ConsoleStream, DriverError> {
        let (info, _) = self.current(vm)?;
        if info.power != PowerState::Running {
            return Err(invalid(&info, "console", "Running"));
        }
        // QEMU serves RFB on the socket named by `-vnc unix:` in `qemu_args`
        let path = self.vnc_socket(vm);
        let stream = tokio::net::UnixStream::connect(&path)
            .await
            .map_err(|e| super::io(&path, e))?;
        Ok(Box::new(stream))
    }

    async fn host_stats(&self, host_id: &str) -> Result<HostStats, DriverError> {
        self.host(host_id)?;
        Ok(super::host::stats(host_id, &self.cfg.state_dir))
    }

    async fn import_image(
        &self,
        image: &DiskImage,
        source: &std::path::Path,
    ) -> Result<(), DriverError> {
        check_image(image)?;
        let lock = self.op_lock(&image_key(image));
        let _lock = lock.lock().await;
        let base = self.image_path(image).join("disk.qcow2");
        if base.is_file() {
            return Ok(());
        }
        // absolute, so qemu-img never reads "proto:..." as a protocol
        let source = std::fs::canonicalize(source)
            .map_err(|e| DriverError::Invalid(format!("source {}: {e}", source.display())))?;
        if !source.is_file() {
            return Err(DriverError::Invalid(format!(
                "source {} is not a file",
                source.display()
            )));
        }
        let probe = disk::probe(&source).await?;
        let limit = image.size_gb.saturating_mul(1 << 30);
        if probe.virtual_size > limit {
            return Err(DriverError::Invalid(format!(
                "{}: disk of {} bytes does not fit image {} v{} of {} GB",
                source.display(),
                probe.virtual_size,
                image.image_id,
                image.version,
                image.size_gb
            )));
        }
        let t = std::time::Instant::now();
        disk::import(&source, &probe.format, &base).await?;
        tracing::info!(
            image = %image.image_id,
            version = image.version,
            format = %probe.format,
            ms = t.elapsed().as_millis() as u64,
            "qemu driver: image imported"
        );
        Ok(())
    }

    async fn remove_image(&self, image: &DiskImage) -> Result<(), DriverError> {
        check_image(image)?;
        let lock = self.op_lock(&image_key(image));
        let _lock = lock.lock().await;
        let user = vm_using_image(self, image);
        if let Some(vm) = user {
            return Err(image_in_use(image, &vm));
        }
        let dir = self.image_path(image);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(super::io(&dir, e)),
        }
        // the image's directory goes with its last version
        if let Some(parent) = dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
        Ok(())
    }
}

/// The first VM (by id) whose system disk is an overlay of `image`.
fn vm_using_image(driver: &QemuDriver, image: &DiskImage) -> Option<String> {
    lock(&driver.vms)
        .values()
        .find(|e| {
            e.rec.spec.image.image_id == image.image_id && e.rec.spec.image.version == image.version
        })
        .map(|e| e.rec.spec.vm_id.clone())
}

impl QemuDriver {
    async fn create_disks(&self, spec: &VmSpec) -> Result<(), DriverError> {
        let dir = self.vm_dir(&spec.vm_id);
        let base = self.image_dir(spec).join("disk.qcow2");
        disk::create_overlay(&base, &dir.join("system.qcow2"), spec.system_disk_gb).await?;
        if let Some(gb) = spec.data_disk_gb {
            disk::create_blank(&dir.join("data.qcow2"), gb).await?;
        }
        Ok(())
    }

    async fn resize_disks(&self, old: &VmSpec, new: &VmSpec) -> Result<(), DriverError> {
        let dir = self.vm_dir(&new.vm_id);
        if new.system_disk_gb > old.system_disk_gb {
            disk::grow(&dir.join("system.qcow2"), new.system_disk_gb).await?;
        }
        match (old.data_disk_gb, new.data_disk_gb) {
            (None, Some(gb)) => disk::create_blank(&dir.join("data.qcow2"), gb).await,
            (Some(a), Some(b)) if b > a => disk::grow(&dir.join("data.qcow2"), b).await,
            _ => Ok(()),
        }
    }

    /// pause (`running` false) / resume (true) through QMP stop / cont.
    async fn set_running(&self, vm: &str, running: bool) -> Result<(), DriverError> {
        let op = self.op_lock(vm);
        let _op = op.lock().await;
        let (info, live) = self.current(vm)?;
        let (name, needs) = if running {
            ("resume", "Paused or Running")
        } else {
            ("pause", "Running or Paused")
        };
        let Some(live) = live else {
            return Err(invalid(&info, name, needs));
        };
        if live.paused() == running {
            live.qmp
                .execute(if running { "cont" } else { "stop" }, None)
                .await?;
            live.set_paused(!running);
        }
        Ok(())
    }

    fn usage_of(&self, h: &HostSpec) -> HostUsage {
        let (cpu, mem, storage, running, defined) = self.host_allocation(&h.host_id);
        HostUsage {
            host_id: h.host_id.clone(),
            cpu_cores: h.cpu_cores,
            cpu_allocated: cpu,
            memory_mb: h.memory_mb,
            memory_allocated_mb: mem,
            storage_gb: h.storage_gb,
            storage_used_gb: storage,
            running_vms: running,
            defined_vms: defined,
        }
    }
}
