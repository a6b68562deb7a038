//! The QEMU driver: one daemonized `qemu-system-x86_64` per running VM,
//! controlled over QMP, with qcow2 linked-clone system disks.
//!
//! Layout on disk, so a restarted deskd finds everything again:
//! * `images_dir/<image_id>/<version>/disk.qcow2` — the image's base file;
//!   optional `vmlinux` or `vmlinuz`, `initrd.gz` and `cmdline` beside it make
//!   QEMU boot that kernel directly; without them SeaBIOS boots the disk
//!   itself (an uploaded OS image, made by `import_image`).
//! * `state_dir/<vm_id>/` — `vm.json` (spec and counters), `system.qcow2`
//!   (overlay of the base), `data.qcow2`, `serial.log` (truncated at each
//!   launch), `qmp.sock`, `vnc.sock`, `qemu.pid`.

mod accel;
pub(crate) mod disk;
mod host;
mod live;
mod ops;
mod proc;
mod qmp;

use crate::driver::{DiskImage, DriverError, HostSpec, PowerState, VmId, VmInfo, VmSpec};
use live::{Counters, Exit, Live};
use qmp::lock;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Which accelerator QEMU runs guests with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// KVM when the CPU exposes vmx/svm and /dev/kvm opens, else TCG: a
    /// /dev/kvm without them (PVM) starts QEMU but never boots a stock kernel.
    Auto,
    Kvm,
    Tcg,
}

/// How the QEMU driver is set up.
#[derive(Clone, Debug)]
pub struct QemuConfig {
    /// Per-VM directories (disks, logs, sockets, pid files).
    pub state_dir: PathBuf,
    /// The image storage pool: `<image_id>/<version>/disk.qcow2`.
    pub images_dir: PathBuf,
    pub accel: Accel,
    pub qemu_binary: PathBuf,
    /// How long `quit` may take before the process is killed.
    pub stop_timeout: Duration,
    /// With `Auto` having chosen KVM: a guest that writes nothing to its
    /// serial console within this bound is relaunched under TCG, and the
    /// driver stays on TCG. None disables the fallback (guests that never use
    /// the serial console would otherwise trip it).
    pub kvm_progress_timeout: Option<Duration>,
}

impl QemuConfig {
    pub fn new(state_dir: impl Into<PathBuf>, images_dir: impl Into<PathBuf>) -> Self {
        QemuConfig {
            state_dir: state_dir.into(),
            images_dir: images_dir.into(),
            accel: Accel::Auto,
            qemu_binary: PathBuf::from("qemu-system-x86_64"),
            stop_timeout: Duration::from_secs(5),
            kvm_progress_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// What `vm.json` keeps about a VM.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    spec: VmSpec,
    disk_generation: u64,
    crash_reason: Option<String>,
    /// set while a process should exist, so a QEMU that vanished while deskd
    /// was down is reported as crashed
    was_running: bool,
    totals: Counters,
}

struct Entry {
    rec: Record,
    live: Option<Arc<Live>>,
}

/// The QEMU hypervisor driver; share it as `Arc<dyn Hypervisor>`.
pub struct QemuDriver {
    cfg: QemuConfig,
    accel: accel::AccelChoice,
    hosts: Mutex<BTreeMap<String, HostSpec>>,
    vms: Mutex<BTreeMap<VmId, Entry>>,
    /// one operation at a time per VM, so two launches never race for a disk
    ops: Mutex<BTreeMap<VmId, Arc<tokio::sync::Mutex<()>>>>,
}

impl QemuDriver {
    /// Opens the state directory and re-adopts the QEMU processes that still
    /// run for its VMs; processes of VMs without a record are killed.
    pub async fn open(cfg: QemuConfig) -> Result<QemuDriver, DriverError> {
        for dir in [&cfg.state_dir, &cfg.images_dir] {
            // QEMU's option syntax would split a path at a comma
            if dir.to_string_lossy().contains(',') {
                return Err(DriverError::Invalid(format!(
                    "{}: no commas",
                    dir.display()
                )));
            }
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        }
        let accel = accel::AccelChoice::new(
            resolve_accel(cfg.accel),
            cfg.accel == Accel::Auto,
            cfg.kvm_progress_timeout,
        );
        let driver = QemuDriver {
            cfg,
            accel,
            hosts: Mutex::default(),
            vms: Mutex::default(),
            ops: Mutex::default(),
        };
        let dirs =
            std::fs::read_dir(&driver.cfg.state_dir).map_err(|e| io(&driver.cfg.state_dir, e))?;
        for dir in dirs.flatten() {
            let id = dir.file_name().to_string_lossy().into_owned();
            driver.adopt(&id).await?;
        }
        Ok(driver)
    }

    /// The accelerator QEMU is launched with now: "kvm" or "tcg".
    pub fn accel(&self) -> &'static str {
        self.accel.current()
    }

    /// Where the serial console of `vm` is logged.
    pub fn serial_log(&self, vm: &str) -> PathBuf {
        self.vm_dir(vm).join("serial.log")
    }

    /// The VNC unix socket of `vm` (present while it runs).
    pub fn vnc_socket(&self, vm: &str) -> PathBuf {
        self.vm_dir(vm).join("vnc.sock")
    }

    /// The pid of the QEMU process of `vm`, while one runs.
    pub fn pid(&self, vm: &str) -> Option<u32> {
        self.settle(vm);
        lock(&self.vms).get(vm)?.live.as_ref().map(|l| l.pid)
    }

    /// Picks up one VM directory at startup.
    async fn adopt(&self, id: &str) -> Result<(), DriverError> {
        let dir = self.vm_dir(id);
        let pid = proc::read_pid(&dir.join("qemu.pid"))
            .filter(|pid| proc::is_our_qemu(*pid, &dir.join("qmp.sock")));
        let Some(mut rec) = read_record(&dir.join("vm.json")) else {
            if let Some(pid) = pid {
                tracing::warn!(vm = id, pid, "killing a qemu that belongs to no VM");
                proc::signal(pid, libc::SIGKILL);
            }
            return Ok(());
        };
        let live = match pid {
            Some(pid) => match Live::attach(pid, &dir.join("qmp.sock")).await {
                Ok(live) => Some(Arc::new(live)),
                Err(err) => {
                    proc::signal(pid, libc::SIGKILL);
                    rec.crash_reason = Some(format!("could not re-adopt qemu {pid}: {err}"));
                    None
                }
            },
            None => None,
        };
        if live.is_none() && rec.was_running {
            rec.was_running = false;
            rec.crash_reason
                .get_or_insert_with(|| "qemu exited while deskd was not running".into());
        }
        write_record(&dir, &rec)?;
        tracing::info!(vm = id, adopted = live.is_some(), "qemu driver: vm loaded");
        lock(&self.vms).insert(id.to_string(), Entry { rec, live });
        Ok(())
    }

    fn vm_dir(&self, vm: &str) -> PathBuf {
        self.cfg.state_dir.join(vm)
    }

    fn image_dir(&self, spec: &VmSpec) -> PathBuf {
        self.image_path(&spec.image)
    }

    /// `images_dir/<image_id>/<version>`.
    fn image_path(&self, img: &DiskImage) -> PathBuf {
        self.cfg
            .images_dir
            .join(&img.image_id)
            .join(img.version.to_string())
    }

    /// Folds a finished process into the record: Stopped, or Crashed with
    /// the reason. Every read goes through here, so state follows the process.
    fn settle(&self, vm: &str) {
        let mut vms = lock(&self.vms);
        let Some(entry) = vms.get_mut(vm) else { return };
        let Some(exit) = entry.live.as_ref().and_then(|l| l.exit()) else {
            return;
        };
        if let Some(live) = entry.live.take() {
            entry.rec.totals.add(&live.last_counters());
        }
        entry.rec.was_running = false;
        entry.rec.crash_reason = match exit {
            Exit::Stopped => None,
            Exit::Crashed(reason) => Some(reason),
        };
        if let Err(err) = write_record(&self.vm_dir(vm), &entry.rec) {
            tracing::error!(vm, %err, "cannot save vm record");
        }
    }

    fn info_of(entry: &Entry) -> VmInfo {
        let power = match (&entry.live, &entry.rec.crash_reason) {
            (Some(live), _) if live.paused() => PowerState::Paused,
            (Some(_), _) => PowerState::Running,
            (None, Some(_)) => PowerState::Crashed,
            (None, None) => PowerState::Stopped,
        };
        VmInfo {
            spec: entry.rec.spec.clone(),
            power,
            disk_generation: entry.rec.disk_generation,
            crash_reason: entry
                .rec
                .crash_reason
                .clone()
                .filter(|_| power == PowerState::Crashed),
        }
    }

    /// The settled view of one VM; `NotFound` when it is not defined.
    fn current(&self, vm: &str) -> Result<(VmInfo, Option<Arc<Live>>), DriverError> {
        self.settle(vm);
        let vms = lock(&self.vms);
        let entry = vms
            .get(vm)
            .ok_or_else(|| DriverError::NotFound(vm.to_string()))?;
        Ok((Self::info_of(entry), entry.live.clone()))
    }

    /// Changes a VM's record and saves it.
    fn update(&self, vm: &str, f: impl FnOnce(&mut Record)) -> Result<(), DriverError> {
        let mut vms = lock(&self.vms);
        let entry = vms
            .get_mut(vm)
            .ok_or_else(|| DriverError::NotFound(vm.to_string()))?;
        f(&mut entry.rec);
        write_record(&self.vm_dir(vm), &entry.rec)
    }

    fn op_lock(&self, vm: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.ops).entry(vm.to_string()).or_default().clone()
    }
}

fn resolve_accel(accel: Accel) -> &'static str {
    match accel {
        Accel::Kvm => "kvm",
        Accel::Tcg => "tcg",
        Accel::Auto => {
            let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
            let virt = cpu.lines().any(|l| {
                l.starts_with("flags") && l.split_whitespace().any(|f| f == "vmx" || f == "svm")
            });
            let kvm = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/kvm")
                .is_ok();
            if virt && kvm {
                "kvm"
            } else {
                "tcg"
            }
        }
    }
}

fn read_record(path: &Path) -> Option<Record> {
    let text = std::fs::read_to_string(path).ok()?;
    match serde_json::from_str(&text) {
        Ok(rec) => Some(rec),
        Err(err) => {
            tracing::error!(path = %path.display(), %err, "unreadable vm record");
            None
        }
    }
}

/// Saves `vm.json` atomically (write beside, rename).
fn write_record(dir: &Path, rec: &Record) -> Result<(), DriverError> {
    let text = serde_json::to_vec_pretty(rec).map_err(|e| DriverError::Io(e.to_string()))?;
    let tmp = dir.join("vm.json.new");
    std::fs::write(&tmp, text).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, dir.join("vm.json")).map_err(|e| io(dir, e))
}

fn io(path: &Path, e: std::io::Error) -> DriverError {
    DriverError::Io(format!("{}: {e}", path.display()))
}
