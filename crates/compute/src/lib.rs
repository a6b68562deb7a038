//! deskd-compute: the compute layer of deskd.
//!
//! It holds the [`Hypervisor`] trait every hypervisor driver implements, the
//! [`SimDriver`] used by default, in demos and in tests, the [`QemuDriver`]
//! that runs real VMs, fault injection
//! rules shared by drivers, and the pure [`reconcile::plan`] that tells the
//! controller how to repair drift between its database and the hypervisor.
//! The rest of the workspace depends only on what is re-exported here.
//!
//! ```
//! use deskd_compute::{DiskImage, HostSpec, Hypervisor, PowerState, SimConfig, SimDriver, VmSpec};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let hv = SimDriver::new(SimConfig::instant());
//! hv.add_host(HostSpec { host_id: "h1".into(), name: "h1".into(), driver: Default::default(), uri: None, cpu_cores: 8,
//!     memory_mb: 16_384, storage_gb: 500, memory_overcommit: 1.5 }).await?;
//! let spec = VmSpec { vm_id: "desk-1".into(), name: "alice".into(), host_id: "h1".into(),
//!     cpu_cores: 2, memory_mb: 4096, system_disk_gb: 60, data_disk_gb: Some(20),
//!     image: DiskImage { image_id: "win11".into(), version: 1, size_gb: 40 },
//!     recoverable: false, video: Default::default(), nic: None };
//! hv.define(&spec).await?;
//! hv.start("desk-1").await?;
//! assert_eq!(hv.info("desk-1").await?.map(|vm| vm.power), Some(PowerState::Running));
//! # Ok::<(), deskd_compute::DriverError>(())
//! # }).unwrap();
//! ```

mod checks;
pub mod driver;
pub mod fault;
#[cfg(feature = "libvirt")]
pub mod libvirt;
pub mod qemu;
pub mod reconcile;
pub mod router;
pub mod sim;
pub mod uri;

pub use driver::{
    ConsoleIo, ConsoleStream, DiskImage, DriverError, DriverKind, HostSpec, HostStats, HostUsage,
    Hypervisor, NicSpec, PowerState, ShutdownOutcome, SpiceDisplay, Video, VmId, VmInfo, VmShape,
    VmSpec, VmStats,
};
pub use fault::{wildcard_match, FaultInjector, FaultRule, Op};
#[cfg(feature = "libvirt")]
pub use libvirt::{LibvirtConfig, LibvirtDriver};
pub use qemu::{Accel, QemuConfig, QemuDriver};
pub use reconcile::{plan, DesiredVm, Expect, Repair};
pub use router::HostRouter;
pub use sim::{SimConfig, SimDriver};
