//! Compute hosts: the host list, and create, edit and delete (extensions, [`crate::crud`]);
//! every host written is also announced to the hypervisor driver.

use async_trait::async_trait;
use axum::extract::State;
use deskd_domain::enums::{HostDriver, HostState};
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::ids::HostId;
use deskd_domain::model::{now_ms, Host};
use deskd_domain::platform::{self as rules, required, within};
use deskd_domain::resources::HOSTS;
use deskd_domain::store::HostRow;
use deskd_wire::inventory::*;
use deskd_wire::paging::PageQuery;

use super::driver::host_spec;
use super::{paged, query, Paged};
use crate::crud::{or, Managed};
use crate::http::extract::CcpContent;
use crate::{new_id, AppState};

/// `PUT /v1/rccp/host:pagequery` (extension).
pub async fn pagequery(
    State(app): State<AppState>,
    CcpContent(q): CcpContent<PageQuery>,
) -> Paged<HostItem> {
    let page = app.store.list_host_rows(&query(&HOSTS, &q)?).await?;
    Ok(paged(
        page.total,
        page.items.into_iter().map(host_item).collect(),
    ))
}

fn host_item(r: HostRow) -> HostItem {
    let h = r.host;
    HostItem {
        id: h.id,
        host_name: h.name,
        cluster_id: h.cluster_id.into(),
        ip: h.ip,
        cpu_cores: h.cpu_cores,
        memory: h.memory_gb,
        storage: h.storage_gb,
        cpu_overcommit: h.cpu_overcommit,
        memory_overcommit: h.memory_overcommit,
        host_state: h.state,
        driver: h.driver,
        allocated_cpu_cores: r.allocated_cpu_cores,
        allocated_memory: r.allocated_memory_gb,
        desk_num: r.desk_num,
        create_time: h.created_at,
        exporter_url: h.exporter_url,
        uri: h.uri,
    }
}

#[async_trait]
impl Managed for Host {
    type Request = HostRequest;
    type Id = HostId;
    const WHAT: Missing = Missing::Host;
    const NOUN: &'static str = "host";
    const CCP: bool = true;

    fn id(&self) -> &str {
        &self.id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn request_id(r: &HostRequest) -> Option<&str> {
        r.id.as_deref()
    }

    fn blank(r: &HostRequest) -> Result<Host> {
        Ok(Host {
            id: new_id(),
            cluster_id: required(r.cluster_id.clone(), "content.cluster_id")?
                .trim()
                .into(),
            name: required(r.host_name.clone(), "content.host_name")?,
            ip: required(r.ip.clone(), "content.ip")?,
            cpu_cores: required(r.cpu_cores, "content.cpu_cores")?,
            memory_gb: required(r.memory, "content.memory")?,
            storage_gb: required(r.storage, "content.storage")?,
            cpu_overcommit: 1.0,
            memory_overcommit: 1.0,
            state: HostState::ENABLED,
            driver: match r.driver.as_deref() {
                Some(d) => HostDriver::parse(d, "content.driver")?,
                None => HostDriver::Sim,
            },
            created_at: now_ms(),
            exporter_url: None,
            uri: None,
        })
    }

    fn apply(r: &HostRequest, mut h: Host) -> Result<Host> {
        if let Some(v) = &r.host_name {
            h.name = rules::name(v, "content.host_name")?;
        }
        h.ip = or(r.ip.as_deref(), h.ip, |v| rules::ipv4(v, "content.ip"))?;
        h.cpu_cores = within(
            r.cpu_cores.unwrap_or(h.cpu_cores),
            rules::HOST_CPU,
            "content.cpu_cores",
        )?;
        h.memory_gb = within(
            r.memory.unwrap_or(h.memory_gb),
            rules::HOST_MEMORY_GB,
            "content.memory",
        )?;
        h.storage_gb = within(
            r.storage.unwrap_or(h.storage_gb),
            rules::HOST_STORAGE_GB,
            "content.storage",
        )?;
        h.cpu_overcommit = within(
            r.cpu_overcommit.unwrap_or(h.cpu_overcommit),
            rules::HOST_CPU_OVERCOMMIT,
            "content.cpu_overcommit",
        )?;
        h.memory_overcommit = within(
            r.memory_overcommit.unwrap_or(h.memory_overcommit),
            rules::HOST_MEMORY_OVERCOMMIT,
            "content.memory_overcommit",
        )?;
        h.state = or(r.host_state.as_deref(), h.state, |v| {
            HostState::parse(v, "content.host_state").map_err(Error::from)
        })?;
        if let Some(d) = r.driver.as_deref() {
            if HostDriver::parse(d, "content.driver")? != h.driver {
                return Err(Error::invalid(
                    "content.driver",
                    "is fixed when the host is created",
                ));
            }
        }
        if let Some(v) = &r.uri {
            h.uri = Some(host_uri(v)?);
        }
        if let Some(v) = &r.exporter_url {
            h.exporter_url = crate::monitoring::scrape::exporter_url(v, "content.exporter_url")?;
        }
        Ok(h)
    }

    /// A QEMU host needs the QEMU driver, which `--qemu` turns on; a libvirt host needs a
    /// `uri` and a server built with the `libvirt` feature; other hosts take no `uri`.
    fn admit(app: &AppState, h: Host) -> Result<Host> {
        if h.driver == HostDriver::Qemu && app.cfg.qemu.is_none() {
            return Err(Error::invalid(
                "content.driver",
                "qemu needs a server started with --qemu",
            ));
        }
        match (h.driver, &h.uri) {
            (HostDriver::Libvirt, _) if !cfg!(feature = "libvirt") => Err(Error::invalid(
                "content.driver",
                "libvirt needs a deskd built with the libvirt feature (and libvirt-dev)",
            )),
            (HostDriver::Libvirt, None) => Err(Error::invalid(
                "content.uri",
                "is required with driver libvirt",
            )),
            (HostDriver::Sim | HostDriver::Qemu, Some(_)) => Err(Error::invalid(
                "content.uri",
                "is only taken with driver libvirt",
            )),
            _ => Ok(h),
        }
    }

    fn fixed(r: &HostRequest, current: &Host) -> Result<()> {
        if r.cluster_id
            .as_deref()
            .is_some_and(|c| c.trim() != current.cluster_id)
        {
            return Err(Error::CcpParam {
                field: "content.cluster_id".into(),
                rule: "cannot change while the host exists".into(),
            });
        }
        Ok(())
    }

    async fn get(app: &AppState, id: &HostId) -> Result<Option<Host>> {
        app.store.get_host(id).await
    }

    async fn insert(app: &AppState, h: &Host) -> Result<()> {
        app.store.create_host(h).await
    }

    /// DRAINING or DISABLED hosts take no new desks; capacity may not drop below what the
    /// host's desks were promised.
    async fn update(app: &AppState, h: &Host) -> Result<bool> {
        app.store.update_host(h).await
    }

    /// Refused while desks are placed on it.
    async fn delete(app: &AppState, id: &HostId) -> Result<bool> {
        app.store.delete_host(id).await
    }

    /// The hypervisor driver learns the host (again, with its new capacity).
    async fn written(app: &AppState, h: &Host) -> Result<()> {
        app.driver
            .add_host(host_spec(h))
            .await
            .map_err(|e| Error::Hypervisor(format!("hypervisor refused host {}: {e}", h.name)))
    }
}

/// A libvirt connection URI as `content.uri` takes it (trimmed, then checked).
fn host_uri(v: &str) -> Result<String> {
    let v = v.trim();
    deskd_compute::uri::check_uri(v).map_err(|rule| Error::invalid("content.uri", &rule))?;
    Ok(v.to_string())
}
