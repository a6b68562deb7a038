//! The libvirt driver: each host is a libvirt daemon reached through its connection URI
//! (`qemu:///system`, `qemu+tcp://ADDR/system`, `qemu+tls://…`, `qemu+ssh://…`) with the
//! `virt` crate, the libvirt project's own bindings.
//!
//! Everything deskd needs to find again lives in libvirt, so a restarted deskd (or another
//! replica) re-adopts by listing: a VM is the persistent domain `deskd-<vm_id>` whose
//! `<metadata>` holds deskd's [`Record`] (the spec and the disk generation) under deskd's
//! namespace; domains without it are not deskd's and are left alone. Disks are volumes of the
//! directory pool `deskd` on each host: `base-<image>-v<version>.qcow2` (uploaded through
//! libvirt's volume upload, no shared file system assumed), `<vm>-system.qcow2` (a qcow2 linked
//! clone of the base) and `<vm>-data.qcow2`. A deskd network is the libvirt network
//! `deskd-<network_id>` on every host that runs one of its desks, with a DHCP host entry per
//! desk MAC giving the address deskd allocated. libvirt calls block, so each runs on tokio's
//! blocking pool. Domain lifecycle events and connection closes move the driver's state
//! generation (`events`), so the reconciler follows a guest's own power-off at once.

mod checks;
mod domain;
mod events;
mod ops;
mod stats;
mod storage;
mod xml;

use crate::driver::{DriverError, HostSpec, VmId, VmSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::watch;
use virt::connect::Connect;

/// How often the reconnect thread retries hosts whose connection is down.
const RECONNECT_EVERY: Duration = Duration::from_secs(2);

/// How the libvirt driver is set up.
#[derive(Clone, Debug)]
pub struct LibvirtConfig {
    /// Local copies of the image versions' base disks (qcow2), uploaded to each host's pool
    /// when a desk of that version is first defined there.
    pub images_dir: PathBuf,
    /// `kvm`, or `qemu` (TCG) where the hosts have no usable KVM.
    pub domain_type: String,
    /// The storage pool deskd creates on each host, and its directory there.
    pub pool_name: String,
    pub pool_path: String,
    /// Where each host's QEMU writes the domains' serial consoles (`<dir>/deskd-<vm>.serial.log`).
    pub serial_dir: String,
    /// How long `power_off`/`destroy` wait for libvirt to report a domain gone.
    pub stop_timeout: Duration,
}

impl LibvirtConfig {
    pub fn new(images_dir: impl Into<PathBuf>) -> Self {
        LibvirtConfig {
            images_dir: images_dir.into(),
            domain_type: "kvm".into(),
            pool_name: "deskd".into(),
            pool_path: "/var/lib/libvirt/images/deskd".into(),
            serial_dir: "/var/log/libvirt/qemu".into(),
            stop_timeout: Duration::from_secs(10),
        }
    }
}

/// What a domain's metadata keeps about its VM.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Record {
    pub spec: VmSpec,
    /// bumps every time the system disk is replaced by a fresh clone of the base
    pub disk_generation: u64,
    /// set when deskd shut down or powered off a crashed VM: it reads Stopped until it starts
    #[serde(default)]
    pub crash_acked: bool,
}

/// One libvirt host: its spec and its open connection with its event subscriptions (opened on
/// first use, dropped and reopened after a call or the close callback finds it dead).
struct Host {
    spec: HostSpec,
    link: Mutex<Option<events::Link>>,
}

type Hosts = Mutex<BTreeMap<String, Arc<Host>>>;

/// Counters of one VM that must not go down across restarts of its QEMU process.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Totals {
    /// counters of processes that ended, summed
    pub base: stats::Counters,
    /// the last reading of the current process, and that process's libvirt domain id
    pub last: stats::Counters,
    pub domain_id: u32,
    /// when deskd first saw that process: the VM's uptime, as far as deskd can tell remotely
    pub seen_at: Option<std::time::Instant>,
}

/// The libvirt hypervisor driver; share it as `Arc<dyn Hypervisor>`.
pub struct LibvirtDriver {
    cfg: LibvirtConfig,
    hosts: Arc<Hosts>,
    /// bumped by every lifecycle event of a deskd domain and every lost or regained connection
    gen: events::Generation,
    /// every VM deskd knows on any host: its record as last written
    vms: Mutex<BTreeMap<VmId, Record>>,
    totals: Mutex<BTreeMap<VmId, Totals>>,
    /// each host's last domain statistics and when they were read
    #[allow(clippy::type_complexity)]
    stats: Mutex<
        BTreeMap<
            String,
            (
                std::time::Instant,
                Arc<BTreeMap<String, stats::DomainStats>>,
            ),
        >,
    >,
    /// one operation at a time per VM (and per image version, keyed `image/<id>/<v>`)
    ops: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A libvirt error as the driver's.
pub(crate) fn lv(what: &str, e: virt::error::Error) -> DriverError {
    DriverError::Io(format!("libvirt: {what}: {}", e.message()))
}

/// True for libvirt's "no such domain/volume/network/pool" errors.
pub(crate) fn missing(e: &virt::error::Error) -> bool {
    use virt::enumutil::Enum;
    use virt::error::ErrorNumber as N;
    matches!(
        e.code(),
        Enum::Known(N::NoDomain | N::NoStorageVolume | N::NoNetwork | N::NoStoragePool)
    )
}

impl LibvirtDriver {
    /// A driver with no hosts yet; [`crate::Hypervisor::add_host`] connects to each and adopts
    /// the deskd domains it finds there.
    pub fn new(cfg: LibvirtConfig) -> Result<LibvirtDriver, DriverError> {
        std::fs::create_dir_all(&cfg.images_dir)
            .map_err(|e| DriverError::Io(format!("{}: {e}", cfg.images_dir.display())))?;
        // before any connection opens: libvirt delivers events only to connections opened
        // after the loop is registered
        if let Err(e) = events::start_loop() {
            tracing::warn!(error = %e, "libvirt: no event loop; desk states are polled only");
        }
        let hosts = Arc::new(Hosts::default());
        let gen = Arc::new(watch::Sender::new(0));
        reconnect_thread(Arc::downgrade(&hosts), gen.clone());
        Ok(LibvirtDriver {
            cfg,
            hosts,
            gen,
            vms: Mutex::default(),
            totals: Mutex::default(),
            stats: Mutex::default(),
            ops: Mutex::default(),
        })
    }

    fn host(&self, host_id: &str) -> Result<Arc<Host>, DriverError> {
        lock(&self.hosts)
            .get(host_id)
            .cloned()
            .ok_or_else(|| DriverError::UnknownHost(host_id.to_string()))
    }

    fn record(&self, vm: &str) -> Result<Record, DriverError> {
        lock(&self.vms)
            .get(vm)
            .cloned()
            .ok_or_else(|| DriverError::NotFound(vm.to_string()))
    }

    fn op_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.ops).entry(key.to_string()).or_default().clone()
    }

    /// Runs `f` with the host's connection on the blocking pool. A failed call whose
    /// connection is found dead drops it, so the next call reconnects.
    async fn with_conn<T: Send + 'static>(
        &self,
        host_id: &str,
        f: impl FnOnce(&Connect) -> Result<T, DriverError> + Send + 'static,
    ) -> Result<T, DriverError> {
        let host = self.host(host_id)?;
        let gen = self.gen.clone();
        tokio::task::spawn_blocking(move || {
            let conn = host.connect(&gen)?;
            let out = f(&conn);
            if out.is_err() && !conn.is_alive().unwrap_or(false) {
                host.drop_link(&gen);
            }
            out
        })
        .await
        .map_err(|e| DriverError::Io(format!("libvirt call panicked: {e}")))?
    }

    /// The generation while every host's connection reports events; None (the reconciler
    /// polls) while any host is down or without events.
    pub(crate) fn generation(&self) -> Option<u64> {
        let hosts: Vec<Arc<Host>> = lock(&self.hosts).values().cloned().collect();
        hosts
            .iter()
            .all(|h| h.evented())
            .then(|| *self.gen.borrow())
    }

    /// The URI of a host, for messages and the console's address.
    fn uri(&self, host_id: &str) -> Result<String, DriverError> {
        Ok(self.host(host_id)?.spec.uri.clone().unwrap_or_default())
    }
}

impl Host {
    /// The open connection, opening it first if there is none or the old one died. A new
    /// connection bumps the generation: events may have been missed before it.
    fn connect(&self, gen: &events::Generation) -> Result<Arc<Connect>, DriverError> {
        let mut link = lock(&self.link);
        if let Some(l) = link.as_ref().filter(|l| !l.dead.load(Ordering::SeqCst)) {
            return Ok(l.conn.clone());
        }
        // the dead link's registrations go before the new connection's are made
        let lost = link.take().is_some();
        let uri = self.spec.uri.as_deref().ok_or_else(|| {
            DriverError::Invalid(format!("host {} has no libvirt URI", self.spec.host_id))
        })?;
        let l = events::Link::open(&self.spec.host_id, uri, gen)?;
        let (conn, evented) = (l.conn.clone(), l.evented());
        *link = Some(l);
        tracing::info!(host_id = %self.spec.host_id, uri, replaces_lost = lost, evented, "libvirt: connection open");
        events::bump(gen);
        Ok(conn)
    }

    /// Forgets a connection found dead, so the next call reconnects.
    fn drop_link(&self, gen: &events::Generation) {
        if lock(&self.link).take().is_some() {
            events::bump(gen);
        }
    }

    /// True while the host's connection is up and reports lifecycle events. Never waits: a
    /// link being opened (which can take a TCP timeout) counts as not evented.
    fn evented(&self) -> bool {
        match self.link.try_lock() {
            Ok(l) => l.as_ref().is_some_and(events::Link::evented),
            Err(std::sync::TryLockError::Poisoned(p)) => {
                p.into_inner().as_ref().is_some_and(events::Link::evented)
            }
            Err(std::sync::TryLockError::WouldBlock) => false,
        }
    }

    /// True when the host has no working connection: never reached, or lost since.
    fn down(&self) -> bool {
        lock(&self.link)
            .as_ref()
            .is_none_or(|l| l.dead.load(Ordering::SeqCst))
    }
}

/// Opens the connections of hosts that are down in the background, so events resume without
/// waiting for a call (meanwhile the reconciler polls: `state_generation` is None); ends with
/// the driver (when `hosts` can no longer be upgraded).
fn reconnect_thread(hosts: Weak<Hosts>, gen: events::Generation) {
    let spawned = std::thread::Builder::new()
        .name("libvirt-reconnect".into())
        .spawn(move || loop {
            std::thread::sleep(RECONNECT_EVERY);
            let Some(hosts) = hosts.upgrade() else { return };
            let down: Vec<Arc<Host>> = lock(&hosts).values().filter(|h| h.down()).cloned().collect();
            drop(hosts);
            for h in down {
                if let Err(e) = h.connect(&gen) {
                    tracing::debug!(host_id = %h.spec.host_id, error = %e, "libvirt: still unreachable");
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "libvirt: no reconnect thread; calls reconnect");
    }
}
