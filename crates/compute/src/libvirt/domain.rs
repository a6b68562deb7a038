//! deskd's view of one libvirt domain: its power state (with libvirt's reason turned into a
//! crash reason), writing the domain from a [`Record`], and finding deskd's own domains on a
//! host. Every function here blocks.

use super::{lv, missing, xml, LibvirtConfig, Record};
use crate::driver::{DriverError, PowerState};
use virt::connect::Connect;
use virt::domain::Domain;
use virt::sys;

/// The domain of `vm`, or None when the host has no such domain.
pub(crate) fn lookup(conn: &Connect, vm: &str) -> Result<Option<Domain>, DriverError> {
    match conn.lookup_domain_by_name(&xml::domain_name(vm)) {
        Ok(d) => Ok(Some(d)),
        Err(e) if missing(&e) => Ok(None),
        Err(e) => Err(lv("look up domain", e)),
    }
}

/// The domain of `vm`; `NotFound` when the host lost it.
pub(crate) fn get(conn: &Connect, vm: &str) -> Result<Domain, DriverError> {
    lookup(conn, vm)?.ok_or_else(|| DriverError::NotFound(vm.to_string()))
}

/// The power state and, for a crash, why. A crash deskd has acknowledged (shutdown or power
/// off of a crashed VM) reads as Stopped until the next start.
pub(crate) fn power(
    dom: &Domain,
    rec: &Record,
) -> Result<(PowerState, Option<String>), DriverError> {
    let (mut state, mut reason) = (-1, -1);
    // SAFETY: the domain pointer is valid while `dom` lives; libvirt writes two ints.
    let rc = unsafe { sys::virDomainGetState(dom.as_ptr(), &mut state, &mut reason, 0) };
    if rc < 0 {
        return Err(lv("domain state", virt::error::Error::last_error()));
    }
    let crashed = |why: &str| (PowerState::Crashed, Some(why.to_string()));
    Ok(match (state as u32, reason as u32) {
        (sys::VIR_DOMAIN_RUNNING | sys::VIR_DOMAIN_BLOCKED | sys::VIR_DOMAIN_SHUTDOWN, _) => {
            (PowerState::Running, None)
        }
        // libvirt starts QEMU paused and resumes it once set up: that is a start, not a pause
        (sys::VIR_DOMAIN_PAUSED, sys::VIR_DOMAIN_PAUSED_STARTING_UP) => (PowerState::Running, None),
        (sys::VIR_DOMAIN_PAUSED | sys::VIR_DOMAIN_PMSUSPENDED, _) => (PowerState::Paused, None),
        _ if rec.crash_acked => (PowerState::Stopped, None),
        (sys::VIR_DOMAIN_CRASHED, _) => crashed("the guest crashed (libvirt: crashed)"),
        (sys::VIR_DOMAIN_SHUTOFF, sys::VIR_DOMAIN_SHUTOFF_CRASHED) => {
            crashed("the QEMU process of the domain crashed")
        }
        (sys::VIR_DOMAIN_SHUTOFF, sys::VIR_DOMAIN_SHUTOFF_FAILED) => {
            crashed("the domain failed to start")
        }
        (sys::VIR_DOMAIN_SHUTOFF, sys::VIR_DOMAIN_SHUTOFF_DAEMON) => {
            crashed("libvirtd stopped the domain while reconnecting to it")
        }
        _ => (PowerState::Stopped, None),
    })
}

/// A random SPICE password no one is told: the display stays locked until a console ticket
/// sets one with an expiry.
fn locked_password() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric.sample_string(&mut rand::thread_rng(), 32)
}

/// True while the domain has a QEMU process.
pub(crate) fn active(dom: &Domain) -> Result<bool, DriverError> {
    dom.is_active().map_err(|e| lv("domain state", e))
}

/// Defines (or redefines) the persistent domain from the record. The display adapter is the
/// spec's when the host's QEMU has it (QXL needs the SPICE module), else VGA.
pub(crate) fn write(
    conn: &Connect,
    cfg: &LibvirtConfig,
    rec: &Record,
) -> Result<Domain, DriverError> {
    let caps = conn
        .domain_capabilities(None, Some("x86_64"), Some("pc"), Some(&cfg.domain_type), 0)
        .map_err(|e| lv("domain capabilities", e))?;
    let wanted = rec.spec.video.as_str();
    let video = if xml::video_models(&caps).iter().any(|m| m == wanted) {
        wanted
    } else {
        tracing::warn!(vm = %rec.spec.vm_id, wanted, "libvirt: host lacks this video model; VGA instead");
        "vga"
    };
    let x = xml::domain(
        rec,
        &cfg.domain_type,
        &cfg.pool_name,
        &cfg.serial_dir,
        video,
        &locked_password(),
    )?;
    conn.define_domain_xml(&x)
        .map_err(|e| lv("define domain", e))
}

/// The record in the domain's persistent metadata; None for a domain that is not deskd's.
pub(crate) fn record(dom: &Domain) -> Option<Record> {
    let meta = dom
        .metadata(
            sys::VIR_DOMAIN_METADATA_ELEMENT as i32,
            Some(xml::META_NS),
            sys::VIR_DOMAIN_AFFECT_CONFIG,
        )
        .ok()?;
    xml::parse_metadata(&meta)
}

/// deskd's domains on this host (by their metadata), with the names of those running.
pub(crate) fn ours(conn: &Connect) -> Result<Vec<(Record, bool)>, DriverError> {
    let doms = conn
        .list_all_domains(sys::VIR_CONNECT_LIST_DOMAINS_PERSISTENT)
        .map_err(|e| lv("list domains", e))?;
    let mut out = Vec::new();
    for d in doms {
        let named = d.name().map(|n| n.starts_with("deskd-")).unwrap_or(false);
        if !named {
            continue;
        }
        if let Some(rec) = record(&d) {
            out.push((rec, d.is_active().unwrap_or(false)));
        }
    }
    Ok(out)
}

/// Waits up to `timeout` for the domain to lose its process.
pub(crate) fn wait_inactive(
    dom: &Domain,
    timeout: std::time::Duration,
) -> Result<bool, DriverError> {
    let t = std::time::Instant::now();
    loop {
        if !active(dom)? {
            return Ok(true);
        }
        if t.elapsed() >= timeout {
            return Ok(false);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Powers the domain off at once if it runs (virDomainDestroy); an already stopped one is Ok.
pub(crate) fn kill(dom: &Domain, timeout: std::time::Duration) -> Result<(), DriverError> {
    if !active(dom)? {
        return Ok(());
    }
    match dom.destroy() {
        Ok(()) => {}
        // it stopped between the check and the call
        Err(_) if !active(dom)? => return Ok(()),
        Err(e) => return Err(lv("destroy domain", e)),
    }
    wait_inactive(dom, timeout)?;
    Ok(())
}
