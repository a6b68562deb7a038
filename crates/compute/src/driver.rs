//! The contract between deskd and a hypervisor.
//!
//! Everything above the compute layer (task engine, reconciler, API) talks to
//! hypervisors only through [`Hypervisor`], so the simulated driver used in
//! demos and tests and a real QEMU/KVM driver (one qemu process per VM, qcow2
//! linked-clone system disks, raw/qcow2 data disks, QMP for power control) are
//! interchangeable. Operations are idempotent where the task engine may repeat
//! them after a controller crash.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Identifier of a VM: the id (a UUID string) of the desk it backs.
pub type VmId = String;

/// Which driver runs a host's VMs (the host record's `driver`).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum DriverKind {
    /// The simulated hypervisor: demos, tests, benchmarks.
    #[default]
    Sim,
    /// One QEMU process per running VM on the machine deskd runs on.
    Qemu,
    /// A libvirt daemon reached through the host's connection URI (local or remote).
    Libvirt,
}

impl DriverKind {
    pub const ALL: [DriverKind; 3] = [DriverKind::Sim, DriverKind::Qemu, DriverKind::Libvirt];

    /// The name hosts are configured with: "sim" | "qemu" | "libvirt".
    pub fn as_str(self) -> &'static str {
        match self {
            DriverKind::Sim => "sim",
            DriverKind::Qemu => "qemu",
            DriverKind::Libvirt => "libvirt",
        }
    }

    pub fn parse(s: &str) -> Option<DriverKind> {
        DriverKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}
/// A byte stream that can be read and written, so a console can be boxed as one trait object.
pub trait ConsoleIo: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> ConsoleIo for T {}

/// A connection to a VM's graphical console: the RFB (VNC) protocol from its first byte, the
/// server's `ProtocolVersion`, as a client such as noVNC expects it. Dropping it disconnects.
pub type ConsoleStream = Box<dyn ConsoleIo>;

/// A physical host the hypervisor may place VMs on.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HostSpec {
    pub host_id: String,
    pub name: String,
    /// which driver runs this host's VMs (only [`crate::HostRouter`] looks at it)
    #[serde(default)]
    pub driver: DriverKind,
    /// How the driver reaches the host's hypervisor: a libvirt connection URI
    /// (`qemu:///system`, `qemu+tcp://ADDR/system`, …); None for the other drivers.
    #[serde(default)]
    pub uri: Option<String>,
    pub cpu_cores: u32,
    pub memory_mb: u64,
    pub storage_gb: u64,
    /// physical memory may be promised up to memory_mb * this (ballooning); >= 1.0
    pub memory_overcommit: f64,
}

impl HostSpec {
    /// Memory (MB) that running VMs may be promised in total on this host.
    pub fn memory_limit_mb(&self) -> u64 {
        let factor = if self.memory_overcommit.is_finite() {
            self.memory_overcommit.max(1.0)
        } else {
            1.0
        };
        (self.memory_mb as f64 * factor).floor() as u64
    }
}

/// The golden image a system disk is cloned from (qcow2 backing file).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DiskImage {
    pub image_id: String,
    pub version: u32,
    pub size_gb: u64,
}

/// What a VM should look like; the driver keeps it verbatim.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct VmSpec {
    pub vm_id: VmId,
    pub name: String,
    pub host_id: String,
    pub cpu_cores: u32,
    pub memory_mb: u64,
    pub system_disk_gb: u64,
    pub data_disk_gb: Option<u64>,
    pub image: DiskImage,
    /// RECOVERABLE desks: system disk changes are discarded at every shutdown/power-off/reset
    pub recoverable: bool,
    /// the display adapter (the desk's `vgpu_type`)
    #[serde(default)]
    pub video: Video,
    /// the network card and the address deskd allocated for it; None: no card
    #[serde(default)]
    pub nic: Option<NicSpec>,
}

/// The emulated display adapter of a VM.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Video {
    #[default]
    Vga,
    Qxl,
    Virtio,
}

impl Video {
    /// The adapter for a desk's `vgpu_type` ("QXL", "VGA", "VIRTIO", any case); anything else,
    /// "" included, is plain VGA, which every guest can drive.
    pub fn from_vgpu_type(vgpu_type: &str) -> Video {
        match vgpu_type.trim().to_ascii_uppercase().as_str() {
            "QXL" => Video::Qxl,
            "VIRTIO" | "VIRTIO-GPU" => Video::Virtio,
            _ => Video::Vga,
        }
    }

    /// The model name in libvirt's `<video><model type=…>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Video::Vga => "vga",
            Video::Qxl => "qxl",
            Video::Virtio => "virtio",
        }
    }
}

/// A VM's network card on a deskd network: the desk's MAC and the address deskd allocated,
/// which the host's DHCP hands out to exactly that MAC.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NicSpec {
    pub network_id: String,
    pub mac: String,
    pub ip: String,
    /// the network's subnet, `10.0.0.0/24`
    pub cidr: String,
    /// the network's gateway; the host's side of the network carries it
    pub gateway: String,
}

impl VmSpec {
    /// Storage (GB) this VM's disks occupy: system disk plus data disk.
    pub fn storage_gb(&self) -> u64 {
        self.system_disk_gb
            .saturating_add(self.data_disk_gb.unwrap_or(0))
    }

    /// The part of the spec that `resize` changes.
    pub fn shape(&self) -> VmShape {
        VmShape {
            cpu_cores: self.cpu_cores,
            memory_mb: self.memory_mb,
            system_disk_gb: self.system_disk_gb,
            data_disk_gb: self.data_disk_gb,
        }
    }

    /// This VM in a new shape; `DiskShrink` when a disk would get smaller, since shrinking
    /// destroys guest data. Whether the new shape is runnable is the driver's call.
    pub fn reshaped(&self, shape: VmShape) -> Result<VmSpec, DriverError> {
        let vm = &self.vm_id;
        grow_check(vm, "system", self.system_disk_gb, shape.system_disk_gb)?;
        grow_check(
            vm,
            "data",
            self.data_disk_gb.unwrap_or(0),
            shape.data_disk_gb.unwrap_or(0),
        )?;
        Ok(VmSpec {
            cpu_cores: shape.cpu_cores,
            memory_mb: shape.memory_mb,
            system_disk_gb: shape.system_disk_gb,
            data_disk_gb: shape.data_disk_gb,
            ..self.clone()
        })
    }
}

/// The size of a VM: what [`Hypervisor::resize`] sets, as one value.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct VmShape {
    pub cpu_cores: u32,
    pub memory_mb: u64,
    pub system_disk_gb: u64,
    pub data_disk_gb: Option<u64>,
}

fn grow_check(
    vm: &str,
    disk: &'static str,
    current_gb: u64,
    requested_gb: u64,
) -> Result<(), DriverError> {
    if requested_gb < current_gb {
        return Err(DriverError::DiskShrink {
            vm: vm.to_string(),
            disk,
            current_gb,
            requested_gb,
        });
    }
    Ok(())
}

/// Power state as the hypervisor sees it.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum PowerState {
    Running,
    Stopped,
    Paused,
    Crashed,
}

impl PowerState {
    /// True when a VM process exists and holds its vCPUs and memory on the
    /// host (Running or Paused); Stopped and Crashed VMs hold only disks.
    pub fn holds_resources(self) -> bool {
        matches!(self, PowerState::Running | PowerState::Paused)
    }
}

/// A VM as reported by the driver.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct VmInfo {
    pub spec: VmSpec,
    pub power: PowerState,
    /// bumps every time the system disk is reset to the image (fresh overlay)
    pub disk_generation: u64,
    /// reason kept when power == Crashed
    pub crash_reason: Option<String>,
}

/// How a shutdown ended.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ShutdownOutcome {
    /// The guest honoured the ACPI request within the grace period.
    Graceful,
    /// The guest ignored ACPI; it was powered off after the grace period.
    Forced,
}

/// Per-VM counters and gauges, shaped like the usual libvirt/QEMU exporters.
/// `*_total` fields are counters: they never go down, also across stop/start.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct VmStats {
    pub cpu_seconds_total: f64,
    pub memory_total_bytes: u64,
    pub memory_used_bytes: u64,
    pub disk_read_bytes_total: u64,
    pub disk_write_bytes_total: u64,
    pub disk_read_ops_total: u64,
    pub disk_write_ops_total: u64,
    pub net_rx_bytes_total: u64,
    pub net_tx_bytes_total: u64,
    pub uptime_seconds: f64,
}

/// Allocation view of a host, used for placement decisions.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct HostUsage {
    pub host_id: String,
    pub cpu_cores: u32,
    /// vCPUs of running (and paused) VMs
    pub cpu_allocated: u32,
    pub memory_mb: u64,
    /// memory of running (and paused) VMs
    pub memory_allocated_mb: u64,
    pub storage_gb: u64,
    /// all defined VMs' disks
    pub storage_used_gb: u64,
    /// VMs holding resources (running or paused)
    pub running_vms: u32,
    pub defined_vms: u32,
}

/// Node-exporter-like figures of a host, for monitoring.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct HostStats {
    pub host_id: String,
    /// user, system, idle, iowait, irq, softirq, steal, nice; counters
    pub cpu_seconds_by_mode: Vec<(String, f64)>,
    pub memory_total_bytes: u64,
    pub memory_available_bytes: u64,
    pub fs_size_bytes: u64,
    pub fs_avail_bytes: u64,
    pub net_rx_bytes_total: u64,
    pub net_tx_bytes_total: u64,
    pub disk_read_bytes_total: u64,
    pub disk_written_bytes_total: u64,
    pub load1: f64,
    pub boot_time_seconds: f64,
}

/// Why a driver operation failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum DriverError {
    #[error("vm {0} is not defined on this hypervisor")]
    NotFound(VmId),
    #[error("host {0} is not known to this hypervisor")]
    UnknownHost(String),
    #[error("vm {vm} is {state:?}; {op} needs {needs}")]
    InvalidState {
        vm: VmId,
        op: &'static str,
        state: PowerState,
        needs: &'static str,
    },
    #[error("host {host} lacks {resource}: needs {need}, {free} free")]
    Capacity {
        host: String,
        resource: &'static str,
        need: u64,
        free: u64,
    },
    /// Disks can only grow: shrinking would destroy guest data.
    #[error("vm {vm}: {disk} disk cannot shrink from {current_gb} GB to {requested_gb} GB")]
    DiskShrink {
        vm: VmId,
        disk: &'static str,
        current_gb: u64,
        requested_gb: u64,
    },
    /// The request itself is malformed (zero cores, disk smaller than its image, ...).
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("injected fault: {op} on {vm}")]
    Injected { op: &'static str, vm: VmId },
    #[error("driver i/o error: {0}")]
    Io(String),
}

impl DriverError {
    /// True for failures worth retrying unchanged (injected faults, I/O);
    /// the others will fail the same way until something else changes.
    pub fn is_transient(&self) -> bool {
        matches!(self, DriverError::Injected { .. } | DriverError::Io(_))
    }
}

/// The refusal of `remove_image` while `vm` still uses `image`.
pub(crate) fn image_in_use(image: &DiskImage, vm: &str) -> DriverError {
    DriverError::Invalid(format!(
        "image {} v{} is still used by vm {vm}",
        image.image_id, image.version
    ))
}

/// A hypervisor driver. Implementations are shared as `Arc<dyn Hypervisor>`
/// by many tasks at once, so every method takes `&self`.
#[async_trait::async_trait]
pub trait Hypervisor: Send + Sync + 'static {
    /// Short driver name: "simulated", "qemu".
    fn kind(&self) -> &'static str;

    /// Registers a host; idempotent, updates capacity if it exists.
    async fn add_host(&self, host: HostSpec) -> Result<(), DriverError>;

    /// Creates the VM stopped: linked-clones the system disk from the image
    /// and creates the data disk. The same vm_id again returns the existing VM
    /// unchanged. Refuses with `Capacity` when host storage would be exceeded.
    async fn define(&self, spec: &VmSpec) -> Result<VmInfo, DriverError>;

    /// Stopped|Crashed -> Running; Running -> Ok. A recoverable VM whose
    /// system disk was dirtied gets a fresh overlay (generation + 1).
    /// `Capacity` when running memory would exceed the host's overcommit limit.
    async fn start(&self, vm: &str) -> Result<(), DriverError>;

    /// ACPI shutdown; powers off after `grace` if the guest ignores it.
    /// Stopped -> Ok(Graceful); Crashed -> Ok(Forced) (cleans up).
    async fn shutdown(&self, vm: &str, grace: Duration) -> Result<ShutdownOutcome, DriverError>;

    /// Immediate power off; Stopped -> Ok.
    async fn power_off(&self, vm: &str) -> Result<(), DriverError>;

    /// Hard reset of a Running VM; recoverable VMs get a fresh system disk.
    async fn reset(&self, vm: &str) -> Result<(), DriverError>;

    /// Suspends the vCPUs of a Running VM (memory stays allocated); Paused -> Ok.
    async fn pause(&self, vm: &str) -> Result<(), DriverError>;

    /// Resumes a Paused VM; Running -> Ok.
    async fn resume(&self, vm: &str) -> Result<(), DriverError>;

    /// Changes the shape of a Stopped VM; disks may only grow (`DiskShrink`).
    async fn resize(&self, vm: &str, shape: VmShape) -> Result<(), DriverError>;

    /// Stopped only: throws the system disk away for a fresh overlay of the
    /// image (generation + 1). The data disk is kept.
    async fn revert_system_disk(&self, vm: &str) -> Result<(), DriverError>;

    /// Powers off if needed and removes the VM and its disks; missing -> Ok.
    async fn destroy(&self, vm: &str) -> Result<(), DriverError>;

    /// The VM, or None when it is not defined.
    async fn info(&self, vm: &str) -> Result<Option<VmInfo>, DriverError>;

    /// Every VM defined on this hypervisor, sorted by vm_id.
    async fn list(&self) -> Result<Vec<VmInfo>, DriverError>;

    /// Counters of one VM; `NotFound` when it is not defined.
    async fn vm_stats(&self, vm: &str) -> Result<VmStats, DriverError>;

    /// Allocation of every known host, sorted by host_id.
    async fn host_usage(&self) -> Result<Vec<HostUsage>, DriverError>;

    /// Monitoring figures of one host; `UnknownHost` when not added.
    async fn host_stats(&self, host_id: &str) -> Result<HostStats, DriverError>;

    // Image storage: kept together at the end of the trait.

    /// A number that changes whenever a VM's state may have changed (operations, crashes,
    /// drift), so the reconciler can skip a pass when neither it nor the database moved.
    /// `None`: the driver cannot tell (state may change unobserved); always reconcile.
    fn state_generation(&self) -> Option<u64> {
        None
    }

    /// A channel that changes whenever the driver learns of a state change on its own (a
    /// libvirt lifecycle event: a guest powered itself off, crashed, was destroyed outside
    /// deskd), so the reconciler records it at once instead of at its next interval.
    /// `None`: the driver reports nothing; state changes are found by polling.
    fn state_watch(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// Makes this image version's base disk from an uploaded OS file (a raw
    /// or qcow2 disk image). Idempotent: an existing base -> Ok, untouched.
    /// `Invalid` (with the reason) when `source` is missing or not a usable
    /// disk image.
    async fn import_image(
        &self,
        image: &DiskImage,
        source: &std::path::Path,
    ) -> Result<(), DriverError>;

    /// Deletes this image version's base; missing -> Ok. `Invalid`, naming
    /// one of them, while a defined VM still uses the version.
    async fn remove_image(&self, image: &DiskImage) -> Result<(), DriverError>;
    /// Connects to the graphical console (RFB) of a Running VM; `InvalidState` otherwise,
    /// `NotFound` when it is not defined. Each call is a new, independent connection.
    async fn console(&self, vm: &str) -> Result<ConsoleStream, DriverError>;

    /// Opens the Running VM's SPICE display to `password` until `valid_to` (UTC,
    /// `YYYY-MM-DDTHH:MM:SS`) and says where it listens; None when the VM has no SPICE
    /// display (only a libvirt QXL desk has one). Each call replaces the previous password.
    async fn spice_ticket(
        &self,
        vm: &str,
        password: &str,
        valid_to: &str,
    ) -> Result<Option<SpiceDisplay>, DriverError> {
        let _ = (vm, password, valid_to);
        Ok(None)
    }
}

/// Where a VM's SPICE display listens, for a native client (remote-viewer) to connect with
/// the password of a console ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpiceDisplay {
    pub host: String,
    pub port: u16,
}
