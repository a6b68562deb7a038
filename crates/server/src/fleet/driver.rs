//! The bridge between the inventory and the hypervisor driver: the driver's view of hosts,
//! images and desks, and adopting a freshly loaded inventory.

use deskd_compute::{DiskImage, DriverKind, HostSpec, Hypervisor, NicSpec, Video, VmSpec};
use deskd_domain::enums::{DeskState, DeskType, HostDriver};
use deskd_domain::error::{Error, Result};
use deskd_domain::model::{Desk, Host, Image};
use deskd_domain::store::{DeskStore, HostStore, ImageStore, NetworkStore};

pub(crate) fn driver_err(e: deskd_compute::DriverError) -> Error {
    Error::hypervisor(e)
}

/// What the driver needs to know about a host.
pub fn host_spec(h: &Host) -> HostSpec {
    HostSpec {
        host_id: h.id.clone().into(),
        name: h.name.clone(),
        driver: match h.driver {
            HostDriver::Sim => DriverKind::Sim,
            HostDriver::Qemu => DriverKind::Qemu,
            HostDriver::Libvirt => DriverKind::Libvirt,
        },
        uri: h.uri.clone(),
        cpu_cores: h.cpu_cores as u32,
        memory_mb: h.memory_gb as u64 * 1024,
        storage_gb: h.storage_gb as u64,
        memory_overcommit: h.memory_overcommit,
    }
}

/// The driver's name for an image version's base disk.
pub fn disk_image(i: &Image) -> DiskImage {
    DiskImage {
        image_id: i.id.clone().into(),
        version: i.version as u32,
        size_gb: i.system_disk_gb as u64,
    }
}

/// What the driver needs to know about a desk's VM: its shape, image, display adapter and its
/// network card on the desk's network with the address deskd allocated.
pub async fn vm_spec<S: ImageStore + NetworkStore + ?Sized>(store: &S, d: &Desk) -> Result<VmSpec> {
    let image = store
        .get_image(&d.image_id)
        .await?
        .ok_or_else(|| Error::internal(format!("desk {} has no image", d.id)))?;
    Ok(VmSpec {
        vm_id: d.id.clone().into(),
        name: d.name.clone(),
        host_id: d.host_id.clone().into(),
        cpu_cores: d.cpu_cores as u32,
        memory_mb: d.memory_gb as u64 * 1024,
        system_disk_gb: d.system_disk_gb as u64,
        data_disk_gb: (d.data_disk_gb > 0).then_some(d.data_disk_gb as u64),
        image: disk_image(&image),
        recoverable: d.desk_type == DeskType::RECOVERABLE,
        video: Video::from_vgpu_type(&d.vgpu_type),
        nic: nic_spec(store, d).await?,
    })
}

/// The desk's network card: None when the desk has no address or its network is gone.
async fn nic_spec<S: NetworkStore + ?Sized>(store: &S, d: &Desk) -> Result<Option<NicSpec>> {
    if d.ip.is_empty() || d.mac.is_empty() {
        return Ok(None);
    }
    let Some(n) = store.get_network(&d.network_id).await? else {
        return Ok(None);
    };
    Ok(Some(NicSpec {
        network_id: n.id.to_string(),
        mac: d.mac.clone(),
        ip: d.ip.clone(),
        cidr: n.cidr,
        gateway: n.gateway,
    }))
}

/// Tells the driver about every host in the inventory.
pub async fn register_hosts(store: &dyn HostStore, driver: &dyn Hypervisor) -> Result<()> {
    for h in store.list_hosts().await? {
        driver.add_host(host_spec(&h)).await.map_err(driver_err)?;
    }
    Ok(())
}

/// Makes the driver match a freshly loaded inventory: defines every desk's VM and powers on the
/// ones the inventory says are running (sleeping ones are paused). Desks are adopted
/// concurrently, as a real hypervisor would be driven.
pub async fn adopt_inventory<S: DeskStore + ImageStore + NetworkStore + ?Sized>(
    store: &S,
    driver: &dyn Hypervisor,
) -> Result<()> {
    let desks = store.list_all_desks().await?;
    let adoptions = desks.iter().map(|d| adopt(store, driver, d));
    futures::future::try_join_all(adoptions).await.map(drop)
}

async fn adopt<S: ImageStore + NetworkStore + ?Sized>(
    store: &S,
    driver: &dyn Hypervisor,
    d: &Desk,
) -> Result<()> {
    let spec = vm_spec(store, d).await?;
    driver.define(&spec).await.map_err(driver_err)?;
    if matches!(d.state, DeskState::RUNNING | DeskState::SLEEP) {
        driver.start(&d.id).await.map_err(driver_err)?;
    }
    if d.state == DeskState::SLEEP {
        driver.pause(&d.id).await.map_err(driver_err)?;
    }
    Ok(())
}
