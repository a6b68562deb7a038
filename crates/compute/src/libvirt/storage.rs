//! A host's storage and networks through libvirt: the `deskd` directory pool, the base volumes
//! (uploaded over the connection), the desks' linked clones and data disks, and the deskd
//! networks with their DHCP host entries. Every function here blocks; callers run them on the
//! blocking pool with the host's connection.

use super::{lv, missing, xml};
use crate::driver::{DriverError, NicSpec, VmSpec};
use std::io::Read;
use std::path::Path;
use virt::connect::Connect;
use virt::network::Network;
use virt::storage_pool::StoragePool;
use virt::storage_vol::StorageVol;
use virt::stream::Stream;
use virt::sys;

const GIB: u64 = 1 << 30;

/// The pool, defined, built and started (and marked autostart) when the host lacks it.
pub(crate) fn pool(conn: &Connect, name: &str, path: &str) -> Result<StoragePool, DriverError> {
    let pool = match conn.lookup_storage_pool_by_name(name) {
        Ok(p) => p,
        Err(e) if missing(&e) => {
            let p = conn
                .define_storage_pool_xml(&xml::pool(name, path), 0)
                .map_err(|e| lv("define pool", e))?;
            p.build(0).map_err(|e| lv("build pool", e))?;
            let _ = p.set_autostart(true);
            p
        }
        Err(e) => return Err(lv("look up pool", e)),
    };
    if !pool.is_active().map_err(|e| lv("pool state", e))? {
        pool.create(0).map_err(|e| lv("start pool", e))?;
    }
    Ok(pool)
}

/// The volume, or None when the pool has no such volume.
pub(crate) fn volume(pool: &StoragePool, name: &str) -> Result<Option<StorageVol>, DriverError> {
    match pool.lookup_storage_vol_by_name(name) {
        Ok(v) => Ok(Some(v)),
        Err(e) if missing(&e) => Ok(None),
        Err(e) => Err(lv(&format!("look up volume {name}"), e)),
    }
}

/// Deletes the volume if it exists.
pub(crate) fn delete(pool: &StoragePool, name: &str) -> Result<(), DriverError> {
    if let Some(v) = volume(pool, name)? {
        match v.delete(0) {
            Ok(()) => {}
            Err(e) if missing(&e) => {}
            Err(e) => return Err(lv(&format!("delete volume {name}"), e)),
        }
    }
    Ok(())
}

/// Makes sure the pool holds the base `name`: a complete copy of the local qcow2 `local`
/// (virtual size `virtual_size`). A volume of another size is a torn upload: it is replaced.
pub(crate) fn ensure_base(
    pool: &StoragePool,
    name: &str,
    local: &Path,
    virtual_size: u64,
) -> Result<StorageVol, DriverError> {
    if let Some(v) = volume(pool, name)? {
        let info = v.info().map_err(|e| lv("volume info", e))?;
        if info.capacity == virtual_size {
            return Ok(v);
        }
        tracing::warn!(
            volume = name,
            "libvirt: replacing an incomplete base volume"
        );
        v.delete(0).map_err(|e| lv("delete torn base", e))?;
    }
    let len = std::fs::metadata(local)
        .map_err(|e| DriverError::Io(format!("{}: {e}", local.display())))?
        .len();
    let vol = StorageVol::create_xml(pool, &xml::volume(name, len, None), 0)
        .map_err(|e| lv("create base volume", e))?;
    if let Err(err) = upload(&vol, local, len) {
        let _ = vol.delete(0);
        return Err(err);
    }
    let _ = pool.refresh(0);
    Ok(vol)
}

/// Streams the file into the volume (virStorageVolUpload), no shared file system needed.
fn upload(vol: &StorageVol, local: &Path, len: u64) -> Result<(), DriverError> {
    let conn = vol.connect().map_err(|e| lv("volume connection", e))?;
    let stream = Stream::new(&conn, 0).map_err(|e| lv("stream", e))?;
    vol.upload(&stream, 0, len, 0)
        .map_err(|e| lv("start upload", e))?;
    let mut file = std::fs::File::open(local)
        .map_err(|e| DriverError::Io(format!("{}: {e}", local.display())))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let _ = stream.abort();
                return Err(DriverError::Io(format!("{}: {e}", local.display())));
            }
        };
        let mut sent = 0;
        while sent < n {
            let Some(chunk) = buf.get(sent..n) else { break };
            match stream.send(chunk) {
                Ok(k) if k > 0 => sent += k as usize,
                Ok(_) => {}
                Err(e) => {
                    let _ = stream.abort();
                    return Err(lv("upload", e));
                }
            }
        }
    }
    stream.finish().map_err(|e| lv("finish upload", e))
}

/// A fresh linked clone of `base` as the VM's system disk (an old one is deleted first).
pub(crate) fn fresh_system(
    pool: &StoragePool,
    spec: &VmSpec,
    base: &StorageVol,
) -> Result<(), DriverError> {
    let name = xml::system_volume(&spec.vm_id);
    delete(pool, &name)?;
    let backing = base.path().map_err(|e| lv("base path", e))?;
    let x = xml::volume(&name, spec.system_disk_gb * GIB, Some(&backing));
    StorageVol::create_xml(pool, &x, 0).map_err(|e| lv("create system volume", e))?;
    Ok(())
}

/// The data disk, created empty when missing, grown when smaller than `gb`.
pub(crate) fn data_disk(pool: &StoragePool, vm: &str, gb: u64) -> Result<(), DriverError> {
    let name = xml::data_volume(vm);
    match volume(pool, &name)? {
        Some(v) => grow(&v, gb),
        None => {
            StorageVol::create_xml(pool, &xml::volume(&name, gb * GIB, None), 0)
                .map_err(|e| lv("create data volume", e))?;
            Ok(())
        }
    }
}

/// Grows a volume to `gb` (never shrinks it).
pub(crate) fn grow(vol: &StorageVol, gb: u64) -> Result<(), DriverError> {
    let cap = vol.info().map_err(|e| lv("volume info", e))?.capacity;
    if gb * GIB > cap {
        vol.resize(gb * GIB, 0)
            .map_err(|e| lv("resize volume", e))?;
    }
    Ok(())
}

/// The deskd network on this host, defined, started and marked autostart when missing, with
/// the DHCP host entry of this NIC (added, or changed when its address moved).
pub(crate) fn attach_nic(conn: &Connect, nic: &NicSpec, vm: &str) -> Result<(), DriverError> {
    let net = network(conn, nic)?;
    let current = net.xml_desc(0).map_err(|e| lv("network xml", e))?;
    let entry = xml::dhcp_host(nic, vm);
    let cmd = match xml::dhcp_entry(&current, &nic.mac) {
        Some(ip) if ip == nic.ip => return Ok(()),
        Some(_) => sys::VIR_NETWORK_UPDATE_COMMAND_MODIFY,
        None => sys::VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
    };
    net.update(
        cmd,
        sys::VIR_NETWORK_SECTION_IP_DHCP_HOST,
        -1,
        &entry,
        live_and_config(&net),
    )
    .map_err(|e| lv("add DHCP host", e))
}

/// Removes this NIC's DHCP host entry, if its network and the entry exist.
pub(crate) fn detach_nic(conn: &Connect, nic: &NicSpec, vm: &str) -> Result<(), DriverError> {
    let net = match conn.lookup_network_by_name(&xml::network_name(&nic.network_id)) {
        Ok(n) => n,
        Err(e) if missing(&e) => return Ok(()),
        Err(e) => return Err(lv("look up network", e)),
    };
    let current = net.xml_desc(0).map_err(|e| lv("network xml", e))?;
    if xml::dhcp_entry(&current, &nic.mac).is_none() {
        return Ok(());
    }
    net.update(
        sys::VIR_NETWORK_UPDATE_COMMAND_DELETE,
        sys::VIR_NETWORK_SECTION_IP_DHCP_HOST,
        -1,
        &xml::dhcp_host(nic, vm),
        live_and_config(&net),
    )
    .map_err(|e| lv("remove DHCP host", e))
}

fn live_and_config(net: &Network) -> sys::virNetworkUpdateFlags {
    if net.is_active().unwrap_or(false) {
        sys::VIR_NETWORK_UPDATE_AFFECT_LIVE | sys::VIR_NETWORK_UPDATE_AFFECT_CONFIG
    } else {
        sys::VIR_NETWORK_UPDATE_AFFECT_CONFIG
    }
}

/// The network of this NIC, active.
fn network(conn: &Connect, nic: &NicSpec) -> Result<Network, DriverError> {
    let name = xml::network_name(&nic.network_id);
    let net = match conn.lookup_network_by_name(&name) {
        Ok(n) => n,
        Err(e) if missing(&e) => {
            let n = conn
                .define_network_xml(&xml::network(nic)?)
                .map_err(|e| lv("define network", e))?;
            let _ = n.set_autostart(true);
            n
        }
        Err(e) => return Err(lv("look up network", e)),
    };
    if !net.is_active().map_err(|e| lv("network state", e))? {
        net.create().map_err(|e| lv("start network", e))?;
    }
    Ok(net)
}
