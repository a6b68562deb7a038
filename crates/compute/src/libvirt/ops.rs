//! The [`Hypervisor`] operations of the libvirt driver.

use super::checks::{info_of, validate};
use super::domain::{self as dom, power};
use super::stats::{self, DomainStats};
use super::{lock, lv, storage, xml, LibvirtDriver, Record};
use crate::checks::{capacity, check_image, image_key, invalid};
use crate::driver::{
    image_in_use, ConsoleStream, DiskImage, DriverError, HostSpec, HostStats, HostUsage,
    Hypervisor, PowerState, ShutdownOutcome, SpiceDisplay, VmInfo, VmShape, VmSpec, VmStats,
};
use crate::qemu::disk;
use crate::uri::vnc_address;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use virt::sys;

/// How often a shutdown checks whether the guest has powered off.
const SHUTDOWN_POLL: Duration = Duration::from_millis(200);
/// How long one host's domain statistics are reused by `vm_stats` of its other VMs.
const STATS_TTL: Duration = Duration::from_secs(1);

impl LibvirtDriver {
    /// The local base of an image version (made by `import_image`).
    fn local_base(&self, image: &DiskImage) -> PathBuf {
        self.cfg
            .images_dir
            .join(&image.image_id)
            .join(image.version.to_string())
            .join("disk.qcow2")
    }

    /// The local base and its virtual size; `Invalid` when the version was never imported.
    async fn base_of(&self, image: &DiskImage) -> Result<(PathBuf, u64), DriverError> {
        let path = self.local_base(image);
        if !path.is_file() {
            return Err(DriverError::Invalid(format!(
                "image {} v{} has no disk on this server (not imported)",
                image.image_id, image.version
            )));
        }
        let size = disk::probe(&path).await?.virtual_size;
        Ok((path, size))
    }

    /// The VM's info from its host, refreshing the kept record's host view.
    async fn current(&self, vm: &str) -> Result<VmInfo, DriverError> {
        let rec = self.record(vm)?;
        let id = vm.to_string();
        let r = rec.clone();
        let (power, reason) = self
            .with_conn(&rec.spec.host_id, move |c| power(&dom::get(c, &id)?, &r))
            .await?;
        Ok(info_of(&rec, power, reason))
    }

    /// Writes a changed record into the domain's definition, then keeps it.
    async fn save(&self, rec: Record) -> Result<(), DriverError> {
        let cfg = self.cfg.clone();
        let r = rec.clone();
        self.with_conn(&rec.spec.host_id, move |c| {
            dom::write(c, &cfg, &r).map(drop)
        })
        .await?;
        lock(&self.vms).insert(rec.spec.vm_id.clone(), rec);
        Ok(())
    }

    /// Replaces the system disk by a fresh clone of the base (the VM is stopped).
    async fn fresh_system(&self, rec: &mut Record) -> Result<(), DriverError> {
        let (local, size) = self.base_of(&rec.spec.image).await?;
        let (cfg, spec) = (self.cfg.clone(), rec.spec.clone());
        self.with_conn(&spec.host_id.clone(), move |c| {
            let pool = storage::pool(c, &cfg.pool_name, &cfg.pool_path)?;
            let name = xml::base_volume(&spec.image.image_id, spec.image.version);
            let base = storage::ensure_base(&pool, &name, &local, size)?;
            storage::fresh_system(&pool, &spec, &base)
        })
        .await?;
        rec.disk_generation += 1;
        Ok(())
    }

    /// Memory check against the host's overcommit limit for one more running VM.
    async fn check_memory(&self, spec: &VmSpec) -> Result<(), DriverError> {
        let host = self.host(&spec.host_id)?;
        let running = self.running_on(&spec.host_id).await?;
        let used: u64 = lock(&self.vms)
            .values()
            .filter(|r| running.contains(&xml::domain_name(&r.spec.vm_id)))
            .map(|r| r.spec.memory_mb)
            .sum();
        let free = host.spec.memory_limit_mb().saturating_sub(used);
        if spec.memory_mb > free {
            return Err(capacity(&spec.host_id, "memory_mb", spec.memory_mb, free));
        }
        Ok(())
    }

    fn check_storage(&self, host: &HostSpec, need: u64) -> Result<(), DriverError> {
        let used: u64 = lock(&self.vms)
            .values()
            .filter(|r| r.spec.host_id == host.host_id)
            .map(|r| r.spec.storage_gb())
            .sum();
        let free = host.storage_gb.saturating_sub(used);
        if need > free {
            return Err(capacity(&host.host_id, "storage_gb", need, free));
        }
        Ok(())
    }

    /// Names of the domains with a process on a host.
    async fn running_on(&self, host_id: &str) -> Result<Vec<String>, DriverError> {
        self.with_conn(host_id, |c| {
            let doms = c
                .list_all_domains(sys::VIR_CONNECT_LIST_DOMAINS_ACTIVE)
                .map_err(|e| lv("list domains", e))?;
            Ok(doms.iter().filter_map(|d| d.name().ok()).collect())
        })
        .await
    }

    /// A host's domain statistics, read at most once per [`STATS_TTL`].
    async fn host_domain_stats(
        &self,
        host_id: &str,
    ) -> Result<Arc<BTreeMap<String, DomainStats>>, DriverError> {
        if let Some((at, s)) = lock(&self.stats).get(host_id) {
            if at.elapsed() < STATS_TTL {
                return Ok(s.clone());
            }
        }
        let s = Arc::new(self.with_conn(host_id, stats::all_domains).await?);
        lock(&self.stats).insert(host_id.to_string(), (Instant::now(), s.clone()));
        Ok(s)
    }

    /// Learns the deskd domains of one host (at `add_host`, and by `list`).
    async fn adopt(&self, host_id: &str) -> Result<Vec<(Record, bool)>, DriverError> {
        let found = self.with_conn(host_id, dom::ours).await?;
        let mut vms = lock(&self.vms);
        vms.retain(|_, r| r.spec.host_id != host_id);
        for (rec, _) in &found {
            if rec.spec.host_id == host_id {
                vms.insert(rec.spec.vm_id.clone(), rec.clone());
            } else {
                tracing::warn!(vm = %rec.spec.vm_id, host_id, "libvirt: domain names another host; left alone");
            }
        }
        Ok(found
            .into_iter()
            .filter(|(r, _)| r.spec.host_id == host_id)
            .collect())
    }

    /// Destroys the VM's domain, volumes and DHCP entry on its host.
    async fn remove(&self, rec: &Record) -> Result<(), DriverError> {
        let (cfg, spec) = (self.cfg.clone(), rec.spec.clone());
        self.with_conn(&spec.host_id.clone(), move |c| {
            if let Some(d) = dom::lookup(c, &spec.vm_id)? {
                dom::kill(&d, cfg.stop_timeout)?;
                match d.undefine_flags(sys::VIR_DOMAIN_UNDEFINE_NVRAM) {
                    Ok(()) => {}
                    Err(e) if super::missing(&e) => {}
                    Err(e) => return Err(lv("undefine domain", e)),
                }
            }
            let pool = storage::pool(c, &cfg.pool_name, &cfg.pool_path)?;
            storage::delete(&pool, &xml::system_volume(&spec.vm_id))?;
            storage::delete(&pool, &xml::data_volume(&spec.vm_id))?;
            if let Some(nic) = &spec.nic {
                storage::detach_nic(c, nic, &spec.vm_id)?;
            }
            Ok(())
        })
        .await
    }

    /// Creates everything of a new VM on its host; on failure removes what was made.
    async fn create(&self, rec: &Record) -> Result<(), DriverError> {
        let (local, size) = self.base_of(&rec.spec.image).await?;
        let (cfg, r) = (self.cfg.clone(), rec.clone());
        let made = self
            .with_conn(&rec.spec.host_id, move |c| {
                let s = &r.spec;
                let pool = storage::pool(c, &cfg.pool_name, &cfg.pool_path)?;
                let name = xml::base_volume(&s.image.image_id, s.image.version);
                let base = storage::ensure_base(&pool, &name, &local, size)?;
                storage::fresh_system(&pool, s, &base)?;
                if let Some(gb) = s.data_disk_gb {
                    storage::data_disk(&pool, &s.vm_id, gb)?;
                }
                if let Some(nic) = &s.nic {
                    storage::attach_nic(c, nic, &s.vm_id)?;
                }
                dom::write(c, &cfg, &r).map(drop)
            })
            .await;
        if let Err(err) = made {
            if let Err(e) = self.remove(rec).await {
                tracing::warn!(vm = %rec.spec.vm_id, error = %e, "libvirt: cleanup after a failed define");
            }
            return Err(err);
        }
        Ok(())
    }

    /// Starts the domain: a recoverable VM gets a fresh system disk first; its network and
    /// DHCP entry are made sure of (a host may have been rebuilt).
    async fn boot(&self, mut rec: Record) -> Result<(), DriverError> {
        if rec.spec.recoverable {
            self.fresh_system(&mut rec).await?;
        }
        rec.crash_acked = false;
        self.save(rec.clone()).await?;
        let spec = rec.spec.clone();
        self.with_conn(&spec.host_id.clone(), move |c| {
            if let Some(nic) = &spec.nic {
                storage::attach_nic(c, nic, &spec.vm_id)?;
            }
            dom::get(c, &spec.vm_id)?
                .create()
                .map_err(|e| lv("start domain", e))
                .map(drop)
        })
        .await
    }

    /// Marks a crash as seen by deskd, so the VM reads Stopped.
    async fn ack_crash(&self, vm: &str) -> Result<(), DriverError> {
        let mut rec = self.record(vm)?;
        if !rec.crash_acked {
            rec.crash_acked = true;
            self.save(rec).await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Hypervisor for LibvirtDriver {
    fn kind(&self) -> &'static str {
        "libvirt"
    }

    /// Checks the URI and adopts the host's deskd domains. A host that cannot be reached now
    /// is kept (and logged): its calls fail until it answers, and `list` adopts it then.
    async fn add_host(&self, host: HostSpec) -> Result<(), DriverError> {
        let uri = host.uri.clone().ok_or_else(|| {
            DriverError::Invalid(format!("host {}: a libvirt host needs a uri", host.name))
        })?;
        crate::uri::check_uri(&uri)
            .map_err(|e| DriverError::Invalid(format!("uri {uri:?} {e}")))?;
        let id = host.host_id.clone();
        {
            let mut hosts = lock(&self.hosts);
            // the open connection is kept unless the URI changed
            let link = match hosts.get(&id) {
                Some(h) if h.spec.uri.as_deref() == Some(uri.as_str()) => lock(&h.link).take(),
                _ => None,
            };
            let link = std::sync::Mutex::new(link);
            hosts.insert(id.clone(), Arc::new(super::Host { spec: host, link }));
        }
        if let Err(e) = self.adopt(&id).await {
            tracing::warn!(host_id = %id, uri, error = %e, "libvirt: host not reachable now");
        }
        Ok(())
    }

    /// Moved by lifecycle events; None while a host's events are not coming (it is polled).
    fn state_generation(&self) -> Option<u64> {
        self.generation()
    }

    /// The generation's channel: the reconciler wakes on every event.
    fn state_watch(&self) -> Option<watch::Receiver<u64>> {
        Some(self.gen.subscribe())
    }

    async fn define(&self, spec: &VmSpec) -> Result<VmInfo, DriverError> {
        let op = self.op_lock(&spec.vm_id);
        let _op = op.lock().await;
        if lock(&self.vms).contains_key(&spec.vm_id) {
            return self.current(&spec.vm_id).await;
        }
        validate(spec)?;
        let host = self.host(&spec.host_id)?;
        self.check_storage(&host.spec, spec.storage_gb())?;
        let image_lock = self.op_lock(&image_key(&spec.image));
        let _image = image_lock.lock().await;
        let rec = Record {
            spec: spec.clone(),
            disk_generation: 1,
            crash_acked: false,
        };
        self.create(&rec).await?;
        lock(&self.vms).insert(spec.vm_id.clone(), rec.clone());
        Ok(info_of(&rec, PowerState::Stopped, None))
    }

    async fn start(&self, vm: &str) -> Result<(), DriverError> {
        let op = self.op_lock(vm);
        let _op = op.lock().await;
        let info = self.current(vm).await?;
        match info.power {
            PowerState::Running => return Ok(()),
            PowerState::Paused => {
                return Err(invalid(&info, "start", "Stopped, Crashed or Running"))
            }
            PowerState::Stopped | PowerState::Crashed => {}
        }
        self.check_memory(&info.spec).await?;
        self.boot(self.record(vm)?).await
    }

    async fn shutdown(&self, vm: &str, grace: Duration) -> Result<ShutdownOutcome, DriverError> {
        let op = self.op_lock(vm);
        let _op = op.lock().await;
        let info = self.current(vm).await?;
        match info.power {
            PowerState::Stopped => return Ok(ShutdownOutcome::Graceful),
            PowerState::Crashed => {
                self.ack_crash(vm).await?;
                return Ok(ShutdownOutcome::Forced);
            }
            PowerState::Running | PowerState::Paused => {}
        }
        let (id, paused) = (vm.to_string(), info.power == PowerState::Paused);
        self.with_conn(&info.spec.host_id, move |c| {
            let d = dom::get(c, &id)?;
            if paused {
                d.resume().map_err(|e| lv("resume", e))?;
            }
            d.shutdown_flags(sys::VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)
                .map_err(|e| lv("ACPI shutdown", e))
        })
        .await?;
        let t = Instant::now();
        loop {
            let id = vm.to_string();
            let active = self
                .with_conn(&info.spec.host_id, move |c| dom::active(&dom::get(c, &id)?))
                .await?;
            if !active {
                return Ok(ShutdownOutcome::Graceful);
            }
            if t.elapsed() >= grace {
                break;
            }
            tokio::time::sleep(SHUTDOWN_POLL).await;
        }
        let (id, timeout) = (vm.to_string(), self.cfg.stop_timeout);
        self.with_conn(&info.spec.host_id, move |c| {
            dom::kill(&dom::get(c, &id)?, timeout)
        })
        .await?;
        Ok(ShutdownOutcome::Forced)
    }

    async fn power_off(&self, vm: &str) -> Result<(), DriverError> {
        let op = self.op_lock(vm);
        let _op = op.lock().await;
        let info = self.current(vm).await?;
        let (id, timeout) = (vm.to_string(), self.cfg.stop_timeout);
        self.with_conn(&info.spec.host_id, move |c| {
            dom::kill(&dom::get(c, &id)?, timeout)
        })
        .await?;
        if info.power == PowerState::Crashed {
            self.ack_crash(vm).await?;
        }
        Ok(())
    }

    async fn reset(&self, vm: &str) -> Result<(), DriverError> {
        let op = self.op_lock(vm);
        let _op = op.lock().await;
        let info = self.current(vm).await?;
        if info.power != PowerState::Running {
            return Err(invalid(&info, "reset", "Running"));
        }
        let (id, timeout) = (vm.to_string(), self.cfg.stop_timeout);
        if !info.spec.recoverable {
            return self
                .with_conn(&info.spec.host_id, move |c| {
                    dom::get(c, &id)?.reset().map_err(|e| lv("reset", e))
                })
                .await;
        }
        // a fresh system disk needs the process to let go of the old one
        self.with_conn(&info.spec.host_id, move |c| {
            dom::kill(&dom::get(c, &id)?, timeout)
        })
        .await?;
        self.boot(self.record(vm)?).await
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
        let info = self.current(vm).await?;
        if info.power != PowerState::Stopped {
            return Err(invalid(&info, "resize", "Stopped"));
        }
        let new = info.spec.reshaped(shape)?;
        validate(&new)?;
        let growth = new.storage_gb().saturating_sub(info.spec.storage_gb());
        if growth > 0 {
            self.check_storage(&self.host(&new.host_id)?.spec, growth)?;
        }
        let (cfg, s) = (self.cfg.clone(), new.clone());
        self.with_conn(&new.host_id, move |c| {
            let pool = storage::pool(c, &cfg.pool_name, &cfg.pool_path)?;
            if let Some(v) = storage::volume(&pool, &xml::system_volume(&s.vm_id))? {
                storage::grow(&v, s.system_disk_gb)?;
            }
            if let Some(gb) = s.data_disk_gb {
                storage::data_disk(&pool, &s.vm_id, gb)?;
            }
            Ok(())
        })
        .await?;
        let mut rec = self.record(vm)?;
        rec.spec = new;
        self.save(rec).await
    }

    async fn revert_system_disk(&self, vm: &str) -> Result<(), DriverError> {
        let op = self.op_lock(vm);
        let _op = op.lock().await;
        let info = self.current(vm).await?;
        if info.power != PowerState::Stopped {
            return Err(invalid(&info, "revert_system_disk", "Stopped"));
        }
        let mut rec = self.record(vm)?;
        self.fresh_system(&mut rec).await?;
        self.save(rec).await
    }

    async fn destroy(&self, vm: &str) -> Result<(), DriverError> {
        let op = self.op_lock(vm);
        let _op = op.lock().await;
        let rec = match self.record(vm) {
            Ok(r) => r,
            Err(DriverError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        self.remove(&rec).await?;
        lock(&self.vms).remove(vm);
        lock(&self.totals).remove(vm);
        lock(&self.ops).remove(vm);
        Ok(())
    }

    async fn info(&self, vm: &str) -> Result<Option<VmInfo>, DriverError> {
        match self.current(vm).await {
            Ok(info) => Ok(Some(info)),
            Err(DriverError::NotFound(_)) => {
                lock(&self.vms).remove(vm);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Every host's deskd domains as libvirt has them now (so domains another replica
    /// defined are found too).
    async fn list(&self) -> Result<Vec<VmInfo>, DriverError> {
        let hosts: Vec<String> = lock(&self.hosts).keys().cloned().collect();
        let mut all = Vec::new();
        for h in hosts {
            self.adopt(&h).await?;
            let recs: Vec<Record> = lock(&self.vms)
                .values()
                .filter(|r| r.spec.host_id == h)
                .cloned()
                .collect();
            let states = self
                .with_conn(&h, move |c| {
                    let mut out = Vec::new();
                    for r in recs {
                        if let Some(d) = dom::lookup(c, &r.spec.vm_id)? {
                            let (p, why) = power(&d, &r)?;
                            out.push(info_of(&r, p, why));
                        }
                    }
                    Ok(out)
                })
                .await?;
            all.extend(states);
        }
        all.sort_by(|a, b| a.spec.vm_id.cmp(&b.spec.vm_id));
        Ok(all)
    }

    /// From `virConnectGetAllDomainStats` of the VM's host: CPU time, block and network
    /// counters (kept monotonic across restarts of the VM), the balloon's memory.
    async fn vm_stats(&self, vm: &str) -> Result<VmStats, DriverError> {
        let rec = self.record(vm)?;
        let all = self.host_domain_stats(&rec.spec.host_id).await?;
        let mut out = VmStats {
            memory_total_bytes: rec.spec.memory_mb * 1024 * 1024,
            ..VmStats::default()
        };
        let mut totals = lock(&self.totals);
        let t = totals.entry(vm.to_string()).or_default();
        if let Some(s) = all.get(&xml::domain_name(vm)) {
            if s.id != t.domain_id {
                let last = t.last;
                t.base.add(&last);
                t.domain_id = s.id;
                t.seen_at = Some(Instant::now());
            }
            t.last = s.counters;
            if let Some(kib) = s.balloon_kib.filter(|k| *k > 0) {
                out.memory_total_bytes = kib * 1024;
            }
            let total = out.memory_total_bytes;
            out.memory_used_bytes = match (s.usable_kib, s.rss_kib) {
                (Some(usable), _) => total.saturating_sub(usable * 1024),
                (None, Some(rss)) => (rss * 1024).min(total),
                _ => 0,
            };
            out.uptime_seconds = t.seen_at.map_or(0.0, |at| at.elapsed().as_secs_f64());
        }
        let mut c = t.base;
        c.add(&t.last);
        out.cpu_seconds_total = c.cpu_seconds;
        out.disk_read_bytes_total = c.rd_bytes;
        out.disk_write_bytes_total = c.wr_bytes;
        out.disk_read_ops_total = c.rd_ops;
        out.disk_write_ops_total = c.wr_ops;
        out.net_rx_bytes_total = c.rx_bytes;
        out.net_tx_bytes_total = c.tx_bytes;
        Ok(out)
    }

    async fn host_usage(&self) -> Result<Vec<HostUsage>, DriverError> {
        let hosts: Vec<HostSpec> = lock(&self.hosts).values().map(|h| h.spec.clone()).collect();
        let mut out = Vec::new();
        for h in hosts {
            let running = self.running_on(&h.host_id).await.unwrap_or_default();
            let vms = lock(&self.vms);
            let mine = vms.values().filter(|r| r.spec.host_id == h.host_id);
            let mut u = HostUsage {
                host_id: h.host_id.clone(),
                cpu_cores: h.cpu_cores,
                memory_mb: h.memory_mb,
                storage_gb: h.storage_gb,
                ..HostUsage::default()
            };
            for r in mine {
                u.defined_vms += 1;
                u.storage_used_gb += r.spec.storage_gb();
                if running.contains(&xml::domain_name(&r.spec.vm_id)) {
                    u.running_vms += 1;
                    u.cpu_allocated += r.spec.cpu_cores;
                    u.memory_allocated_mb += r.spec.memory_mb;
                }
            }
            out.push(u);
        }
        Ok(out)
    }

    /// Node figures from libvirt (CPU, memory, the pool's space, the VMs' I/O).
    async fn host_stats(&self, host_id: &str) -> Result<HostStats, DriverError> {
        let domains = self.host_domain_stats(host_id).await?;
        let (cfg, id) = (self.cfg.clone(), host_id.to_string());
        self.with_conn(host_id, move |c| {
            let pool = storage::pool(c, &cfg.pool_name, &cfg.pool_path)
                .and_then(|p| p.info().map_err(|e| lv("pool info", e)))
                .ok()
                .map(|i| (i.capacity, i.available));
            stats::node(c, &id, pool, &domains)
        })
        .await
    }

    async fn import_image(
        &self,
        image: &DiskImage,
        source: &std::path::Path,
    ) -> Result<(), DriverError> {
        check_image(image)?;
        // no libvirt host yet: nothing can run the image here (a version built before the
        // first libvirt host is published again to reach it)
        if lock(&self.hosts).is_empty() {
            return Ok(());
        }
        let lock_ = self.op_lock(&image_key(image));
        let _lock = lock_.lock().await;
        let base = self.local_base(image);
        if !base.is_file() {
            let probe = disk::probe(source).await?;
            if probe.virtual_size > image.size_gb.saturating_mul(1 << 30) {
                return Err(DriverError::Invalid(format!(
                    "{}: disk of {} bytes does not fit image {} v{} of {} GB",
                    source.display(),
                    probe.virtual_size,
                    image.image_id,
                    image.version,
                    image.size_gb
                )));
            }
            disk::import(source, &probe.format, &base).await?;
        }
        // upload now to every host that answers; the others get it at their first define
        let (local, size) = self.base_of(image).await?;
        let hosts: Vec<String> = lock(&self.hosts).keys().cloned().collect();
        for h in hosts {
            let (cfg, local, name) = (
                self.cfg.clone(),
                local.clone(),
                xml::base_volume(&image.image_id, image.version),
            );
            let up = self
                .with_conn(&h, move |c| {
                    let pool = storage::pool(c, &cfg.pool_name, &cfg.pool_path)?;
                    storage::ensure_base(&pool, &name, &local, size).map(drop)
                })
                .await;
            if let Err(e) = up {
                tracing::warn!(host_id = %h, error = %e, "libvirt: base not uploaded now");
            }
        }
        Ok(())
    }

    async fn remove_image(&self, image: &DiskImage) -> Result<(), DriverError> {
        let lock_ = self.op_lock(&image_key(image));
        let _lock = lock_.lock().await;
        let user = lock(&self.vms)
            .values()
            .find(|r| {
                r.spec.image.image_id == image.image_id && r.spec.image.version == image.version
            })
            .map(|r| r.spec.vm_id.clone());
        if let Some(vm) = user {
            return Err(image_in_use(image, &vm));
        }
        let hosts: Vec<String> = lock(&self.hosts).keys().cloned().collect();
        for h in hosts {
            let (cfg, name) = (
                self.cfg.clone(),
                xml::base_volume(&image.image_id, image.version),
            );
            self.with_conn(&h, move |c| {
                let pool = storage::pool(c, &cfg.pool_name, &cfg.pool_path)?;
                storage::delete(&pool, &name)
            })
            .await?;
        }
        if let Some(dir) = self.local_base(image).parent() {
            match std::fs::remove_dir_all(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(DriverError::Io(format!("{}: {e}", dir.display()))),
            }
            if let Some(parent) = dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
        Ok(())
    }

    /// The domain's VNC display over TCP: libvirt cannot pass a unix socket's descriptor over
    /// a remote connection, so the host's qemu.conf `vnc_listen` must be an address deskd
    /// reaches (a listen on 0.0.0.0 is reached at the URI's host name).
    async fn console(&self, vm: &str) -> Result<ConsoleStream, DriverError> {
        let info = self.current(vm).await?;
        if info.power != PowerState::Running {
            return Err(invalid(&info, "console", "Running"));
        }
        let id = vm.to_string();
        let live = self
            .with_conn(&info.spec.host_id, move |c| {
                dom::get(c, &id)?
                    .xml_desc(0)
                    .map_err(|e| lv("domain xml", e))
            })
            .await?;
        let (port, listen) = xml::vnc(&live)
            .ok_or_else(|| DriverError::Io(format!("vm {vm}: the domain has no VNC display")))?;
        let addr = self.display_address(vm, &info.spec.host_id, listen.as_deref())?;
        let stream = tokio::net::TcpStream::connect((addr.as_str(), port))
            .await
            .map_err(|e| DriverError::Io(format!("vm {vm}: VNC at {addr}:{port}: {e}")))?;
        Ok(Box::new(stream))
    }

    /// Sets the SPICE password of a ticket on the live domain (`virDomainUpdateDeviceFlags`
    /// of its graphics with `passwdValidTo`: QEMU's set_password and expire_password).
    async fn spice_ticket(
        &self,
        vm: &str,
        password: &str,
        valid_to: &str,
    ) -> Result<Option<SpiceDisplay>, DriverError> {
        let info = self.current(vm).await?;
        if info.power != PowerState::Running {
            return Err(invalid(&info, "console", "Running"));
        }
        let (id, pw, until) = (vm.to_string(), password.to_string(), valid_to.to_string());
        let live = self
            .with_conn(&info.spec.host_id, move |c| {
                let d = dom::get(c, &id)?;
                let live = d.xml_desc(0).map_err(|e| lv("domain xml", e))?;
                if let Some(update) = xml::spice_password_update(&live, &pw, &until) {
                    d.update_device_flags(&update, sys::VIR_DOMAIN_AFFECT_LIVE)
                        .map_err(|e| lv("set the SPICE password", e))?;
                }
                Ok(live)
            })
            .await?;
        let Some((port, listen)) = xml::spice(&live) else {
            return Ok(None);
        };
        let host = self.display_address(vm, &info.spec.host_id, listen.as_deref())?;
        Ok(Some(SpiceDisplay { host, port }))
    }
}

impl LibvirtDriver {
    /// The address a client reaches a display at: its listen address, the URI's host for a
    /// listen on every address; a loopback listen on a remote host is refused (unreachable).
    fn display_address(
        &self,
        vm: &str,
        host_id: &str,
        listen: Option<&str>,
    ) -> Result<String, DriverError> {
        let uri = self.uri(host_id)?;
        let addr = vnc_address(&uri, listen);
        if addr.starts_with("127.")
            && !(uri.starts_with("qemu:///") || uri.contains("://localhost"))
        {
            return Err(DriverError::Io(format!(
                "vm {vm}: its display listens on the loopback of remote host {uri}; set vnc_listen / spice_listen in its qemu.conf"
            )));
        }
        Ok(addr)
    }
}

impl LibvirtDriver {
    /// pause (`running` false) / resume (true) through virDomainSuspend / virDomainResume.
    async fn set_running(&self, vm: &str, running: bool) -> Result<(), DriverError> {
        let op = self.op_lock(vm);
        let _op = op.lock().await;
        let info = self.current(vm).await?;
        let (name, needs) = if running {
            ("resume", "Paused or Running")
        } else {
            ("pause", "Running or Paused")
        };
        let target = if running {
            PowerState::Running
        } else {
            PowerState::Paused
        };
        match info.power {
            p if p == target => return Ok(()),
            PowerState::Running | PowerState::Paused => {}
            _ => return Err(invalid(&info, name, needs)),
        }
        let id = vm.to_string();
        self.with_conn(&info.spec.host_id, move |c| {
            let d = dom::get(c, &id)?;
            if running {
                d.resume().map_err(|e| lv("resume", e)).map(drop)
            } else {
                d.suspend().map_err(|e| lv("suspend", e)).map(drop)
            }
        })
        .await
    }
}
