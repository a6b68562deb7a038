//! Create, edit and delete extensions (DECISIONS D10) for desk strategies, networks, clusters,
//! hosts and storage pools. Create takes every required field; edit takes the `id` and the
//! fields to change. Everything is checked before anything is written, the store re-checks
//! references in the write's transaction, and every refusal names its reason.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::Json;
use deskd_domain::enums::*;
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::model::*;
use deskd_domain::platform::{self as rules, required, within};
use deskd_domain::store::Store;
use deskd_domain::task::{Claim, ItemOutcome, NewItem, NewTask};
use deskd_tasks::{ItemHandler, Registry};
use deskd_wire::envelope::Reply;
use deskd_wire::inventory::*;

use super::{id_of, new_id, CcpContent};
use crate::error::ApiResult;
use crate::extract::Content;
use crate::fleet::host_spec;
use crate::AppState;

type Created = ApiResult<Json<Reply<IdData>>>;
type Done = ApiResult<Json<Reply<()>>>;

fn created(id: String) -> Json<Reply<IdData>> {
    Json(Reply::data(IdData { id }))
}

fn done(found: bool, what: Missing, id: &str) -> Done {
    match found {
        true => Ok(Json(Reply::empty())),
        false => Err(Error::not_found(what, id).into()),
    }
}

/// `Some(v)` parsed with `parse`, or `current`.
fn or<T>(given: Option<&str>, current: T, parse: impl Fn(&str) -> Result<T>) -> Result<T> {
    given.map(parse).unwrap_or(Ok(current))
}

// ---- desk strategies ----------------------------------------------------------------------

/// Applies a request to a strategy (a blank one on create) and checks the result.
fn strategy_from(r: &StrategyRequest, mut s: Strategy) -> Result<Strategy> {
    if let Some(n) = &r.desk_strategy_name {
        s.name = rules::name(n, "content.desk_strategy_name")?;
    }
    s.category = or(r.desk_category.as_deref(), s.category, |v| {
        DeskCategory::parse(v, "content.desk_category")
    })?;
    s.desk_type = or(r.desk_type.as_deref(), s.desk_type, |v| {
        DeskType::parse(v, "content.desk_type")
    })?;
    s.cpu_cores = within(
        r.cpu_cores.unwrap_or(s.cpu_cores),
        rules::STRATEGY_CPU,
        "content.cpu_cores",
    )?;
    s.memory_gb = within(
        r.memory.unwrap_or(s.memory_gb),
        rules::STRATEGY_MEMORY_GB,
        "content.memory",
    )?;
    s.system_disk_gb = within(
        r.system_disk.unwrap_or(s.system_disk_gb),
        rules::STRATEGY_SYSTEM_DISK_GB,
        "content.system_disk",
    )?;
    s.data_disk_gb = within(
        r.data_disk.unwrap_or(s.data_disk_gb),
        rules::STRATEGY_DATA_DISK_GB,
        "content.data_disk",
    )?;
    s.enable_agreement_agency = r
        .enable_agreement_agency
        .unwrap_or(s.enable_agreement_agency);
    if let Some(d) = &r.description {
        s.description = rules::description(d, "content.description")?;
    }
    Ok(s)
}

/// `POST /v1/desk_strategy/create`.
pub async fn create_strategy(
    State(app): State<AppState>,
    Content(r): Content<StrategyRequest>,
) -> Created {
    let blank = Strategy {
        id: new_id(),
        name: required(r.desk_strategy_name.clone(), "content.desk_strategy_name")?,
        category: DeskCategory::parse(
            &required(r.desk_category.clone(), "content.desk_category")?,
            "content.desk_category",
        )?,
        desk_type: DeskType::parse(
            &required(r.desk_type.clone(), "content.desk_type")?,
            "content.desk_type",
        )?,
        cpu_cores: required(r.cpu_cores, "content.cpu_cores")?,
        memory_gb: required(r.memory, "content.memory")?,
        system_disk_gb: required(r.system_disk, "content.system_disk")?,
        data_disk_gb: 0,
        enable_agreement_agency: false,
        description: String::new(),
        created_at: now_ms(),
    };
    let s = strategy_from(&r, blank)?;
    app.store.create_strategy(&s).await?;
    tracing::info!(strategy = %s.name, "created desk strategy");
    Ok(created(s.id))
}

/// `PUT /v1/desk_strategy/edit`.
pub async fn edit_strategy(
    State(app): State<AppState>,
    Content(r): Content<StrategyRequest>,
) -> Done {
    let id = id_of(r.id.as_deref())?;
    let Some(current) = app.store.get_strategy(&id).await? else {
        return Err(Error::not_found(Missing::Strategy, id).into());
    };
    let s = strategy_from(&r, current)?;
    let found = app.store.update_strategy(&s).await?;
    done(found, Missing::Strategy, &id)
}

/// `POST /v1/desk_strategy/delete`: refused while desks use it.
pub async fn delete_strategy(State(app): State<AppState>, Content(r): Content<IdRequest>) -> Done {
    let id = id_of(Some(&r.id))?;
    let found = app.store.delete_strategy(&id).await?;
    done(found, Missing::Strategy, &id)
}

// ---- networks -----------------------------------------------------------------------------

fn network_from(r: &NetworkRequest, mut n: Network) -> Result<Network> {
    if let Some(v) = &r.desk_network_name {
        n.name = rules::name(v, "content.desk_network_name")?;
    }
    n.cidr = r
        .ip_cidr
        .as_deref()
        .map(str::trim)
        .unwrap_or(&n.cidr)
        .to_string();
    n.gateway = or(r.gateway.as_deref(), n.gateway, |v| {
        rules::ipv4(v, "content.gateway")
    })?;
    n.dns_primary = r
        .dns_primary
        .as_deref()
        .map(str::trim)
        .unwrap_or(&n.dns_primary)
        .to_string();
    n.dns_secondary = r
        .dns_secondary
        .as_deref()
        .map(str::trim)
        .unwrap_or(&n.dns_secondary)
        .to_string();
    n.pool_start = or(r.ip_pool_start.as_deref(), n.pool_start, |v| {
        rules::ipv4(v, "content.ip_pool_start")
    })?;
    n.pool_end = or(r.ip_pool_end.as_deref(), n.pool_end, |v| {
        rules::ipv4(v, "content.ip_pool_end")
    })?;
    match r.vlan {
        Some(0) => n.vlan = None,
        Some(v) => n.vlan = Some(v),
        None => {}
    }
    rules::network(&n)?;
    Ok(n)
}

/// `POST /v1/desk_network/create`.
pub async fn create_network(
    State(app): State<AppState>,
    Content(r): Content<NetworkRequest>,
) -> Created {
    let blank = Network {
        id: new_id(),
        cluster_id: required(r.cluster_id.clone(), "content.cluster_id")?
            .trim()
            .to_string(),
        name: required(r.desk_network_name.clone(), "content.desk_network_name")?,
        cidr: required(r.ip_cidr.clone(), "content.ip_cidr")?,
        gateway: required(r.gateway.clone(), "content.gateway")?,
        dns_primary: required(r.dns_primary.clone(), "content.dns_primary")?,
        dns_secondary: String::new(),
        vlan: None,
        pool_start: required(r.ip_pool_start.clone(), "content.ip_pool_start")?,
        pool_end: required(r.ip_pool_end.clone(), "content.ip_pool_end")?,
        state: NETWORK_AVAILABLE.into(),
        creator: CREATOR.into(),
        created_at: now_ms(),
    };
    let n = network_from(&r, blank)?;
    app.store.create_network(&n).await?;
    tracing::info!(network = %n.name, "created network");
    Ok(created(n.id))
}

/// The state of every network: the document shows only AVAILABLE.
const NETWORK_AVAILABLE: &str = "AVAILABLE";
/// `creator_user_name` of networks made through the API.
const CREATOR: &str = "admin";

/// `PUT /v1/desk_network/edit`: refused when the new pool leaves out an address in use.
pub async fn edit_network(
    State(app): State<AppState>,
    Content(r): Content<NetworkRequest>,
) -> Done {
    let id = id_of(r.id.as_deref())?;
    let Some(current) = app.store.get_network(&id).await? else {
        return Err(Error::not_found(Missing::Network, id).into());
    };
    if r.cluster_id
        .as_deref()
        .is_some_and(|c| c.trim() != current.cluster_id)
    {
        return Err(Error::invalid(
            "content.cluster_id",
            "cannot change; create another network",
        )
        .into());
    }
    let n = network_from(&r, current)?;
    let found = app.store.update_network(&n).await?;
    done(found, Missing::Network, &id)
}

/// `POST /v1/desk_network/delete`: refused while desks or images use it.
pub async fn delete_network(State(app): State<AppState>, Content(r): Content<IdRequest>) -> Done {
    let id = id_of(Some(&r.id))?;
    let found = app.store.delete_network(&id).await?;
    done(found, Missing::Network, &id)
}

// ---- clusters -----------------------------------------------------------------------------

fn cluster_from(r: &ClusterRequest, mut c: Cluster) -> Result<Cluster> {
    if let Some(v) = &r.cluster_name {
        c.name = rules::name(v, "content.cluster_name")?;
    }
    if let Some(v) = &r.cluster_desc {
        c.description = rules::description(v, "content.cluster_desc")?;
    }
    if let Some(v) = &r.cluster_state {
        c.state = match ClusterState::parse(v, "content.cluster_state")? {
            ClusterState::DELETING => {
                return Err(Error::invalid(
                    "content.cluster_state",
                    "DELETING is set by delete only",
                ))
            }
            s => s,
        };
    }
    c.updated_at = now_ms();
    Ok(c)
}

/// `POST /v1/rccp/cluster/create`.
pub async fn create_cluster(
    State(app): State<AppState>,
    CcpContent(r): CcpContent<ClusterRequest>,
) -> Created {
    let now = now_ms();
    let blank = Cluster {
        id: new_id(),
        name: required(r.cluster_name.clone(), "content.cluster_name").map_err(Error::for_ccp)?,
        state: ClusterState::ENABLED,
        description: String::new(),
        created_at: now,
        updated_at: now,
    };
    let c = cluster_from(&r, blank).map_err(Error::for_ccp)?;
    app.store.create_cluster(&c).await?;
    tracing::info!(cluster = %c.name, "created cluster");
    Ok(created(c.id))
}

/// `PUT /v1/rccp/cluster/edit`.
pub async fn edit_cluster(
    State(app): State<AppState>,
    CcpContent(r): CcpContent<ClusterRequest>,
) -> Done {
    let id = id_of(r.id.as_deref()).map_err(Error::for_ccp)?;
    let Some(current) = app.store.get_cluster(&id).await? else {
        return Err(Error::not_found(Missing::Cluster, id).into());
    };
    let c = cluster_from(&r, current).map_err(Error::for_ccp)?;
    let found = app.store.update_cluster(&c).await?;
    done(found, Missing::Cluster, &id)
}

/// `POST /v1/rccp/cluster/delete`: DELETING now (refused while desks, images on its networks
/// or OS files in its pools need it); a task item then removes it with its empty hosts,
/// networks and pools.
pub async fn delete_cluster(
    State(app): State<AppState>,
    CcpContent(r): CcpContent<IdRequest>,
) -> ApiResult<Json<Reply<InventoryTaskData>>> {
    let id = id_of(Some(&r.id)).map_err(Error::for_ccp)?;
    if !app.store.begin_cluster_delete(&id).await? {
        return Err(Error::not_found(Missing::Cluster, id).into());
    }
    let task = NewTask {
        id: new_id(),
        kind: CLUSTER_DELETE.into(),
        cluster_id: None,
        items: vec![NewItem::run(id.clone(), None, serde_json::Value::Null)],
    };
    app.tasks.submit(&task).await?;
    Ok(Json(Reply::data(InventoryTaskData {
        id,
        task_id: task.id,
    })))
}

/// Task kind of a cluster removal.
pub const CLUSTER_DELETE: &str = "cluster.delete";

/// Registers the cluster removal item; `teardown` is how long the simulated teardown takes.
pub fn register(registry: &mut Registry, store: Arc<dyn Store>, teardown: Duration) {
    registry.register(CLUSTER_DELETE, Arc::new(RemoveCluster { store, teardown }));
}

struct RemoveCluster {
    store: Arc<dyn Store>,
    teardown: Duration,
}

#[async_trait]
impl ItemHandler for RemoveCluster {
    async fn run(&self, c: &Claim) -> ItemOutcome {
        tokio::time::sleep(self.teardown).await;
        let mut o = match self.store.remove_cluster(&c.item_id).await {
            Ok(_) => ItemOutcome::success(format!("删除集群[{}]成功", c.item_id)),
            Err(e) => ItemOutcome::failure(format!("删除集群[{}]失败：{e}", c.item_id)),
        };
        o.biz_data = Some(serde_json::json!({ "cluster_id": c.item_id }));
        o
    }
}

// ---- hosts --------------------------------------------------------------------------------

fn host_from(r: &HostRequest, mut h: Host) -> Result<Host> {
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
        HostState::parse(v, "content.host_state")
    })?;
    if let Some(d) = r.driver.as_deref() {
        if HostDriver::parse(d, "content.driver")? != h.driver {
            return Err(Error::invalid(
                "content.driver",
                "is fixed when the host is created",
            ));
        }
    }
    if let Some(v) = &r.exporter_url {
        h.exporter_url = crate::monitoring::scrape::exporter_url(v, "content.exporter_url")?;
    }
    Ok(h)
}

/// `POST /v1/rccp/host/create`: the host is also announced to the hypervisor driver.
pub async fn create_host(
    State(app): State<AppState>,
    CcpContent(r): CcpContent<HostRequest>,
) -> Created {
    let blank = || -> Result<Host> {
        Ok(Host {
            id: new_id(),
            cluster_id: required(r.cluster_id.clone(), "content.cluster_id")?
                .trim()
                .to_string(),
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
        })
    };
    let h = blank()
        .and_then(|b| host_from(&r, b))
        .and_then(|h| driver_enabled(&app, h))
        .map_err(Error::for_ccp)?;
    app.store.create_host(&h).await?;
    announce(&app, &h).await?;
    tracing::info!(host = %h.name, "created host");
    Ok(created(h.id))
}

/// A QEMU host needs the QEMU driver, which `--qemu` turns on.
fn driver_enabled(app: &AppState, h: Host) -> Result<Host> {
    if h.driver == HostDriver::Qemu && app.cfg.qemu.is_none() {
        return Err(Error::invalid(
            "content.driver",
            "qemu needs a server started with --qemu",
        ));
    }
    Ok(h)
}

async fn announce(app: &AppState, h: &Host) -> Result<()> {
    app.driver
        .add_host(host_spec(h))
        .await
        .map_err(|e| Error::Refused(format!("hypervisor refused host {}: {e}", h.name)))
}

/// `PUT /v1/rccp/host/edit`: DRAINING or DISABLED hosts take no new desks; capacity may not
/// drop below what the host's desks were promised.
pub async fn edit_host(
    State(app): State<AppState>,
    CcpContent(r): CcpContent<HostRequest>,
) -> Done {
    let id = id_of(r.id.as_deref()).map_err(Error::for_ccp)?;
    let Some(current) = app.store.get_host(&id).await? else {
        return Err(Error::not_found(Missing::Host, id).into());
    };
    if r.cluster_id
        .as_deref()
        .is_some_and(|c| c.trim() != current.cluster_id)
    {
        return Err(Error::CcpParam {
            field: "content.cluster_id".into(),
            rule: "cannot change while the host exists".into(),
        }
        .into());
    }
    let h = host_from(&r, current).map_err(Error::for_ccp)?;
    let found = app.store.update_host(&h).await?;
    if found {
        announce(&app, &h).await?;
    }
    done(found, Missing::Host, &id)
}

/// `POST /v1/rccp/host/delete`: refused while desks are placed on it.
pub async fn delete_host(
    State(app): State<AppState>,
    CcpContent(r): CcpContent<IdRequest>,
) -> Done {
    let id = id_of(Some(&r.id)).map_err(Error::for_ccp)?;
    let found = app.store.delete_host(&id).await?;
    done(found, Missing::Host, &id)
}

// ---- storage pools ------------------------------------------------------------------------

fn pool_from(r: &StoragePoolRequest, mut p: StoragePool) -> Result<StoragePool> {
    if let Some(v) = &r.name {
        p.name = rules::name(v, "content.name")?;
    }
    p.capacity_gb = within(
        r.capacity.unwrap_or(p.capacity_gb),
        rules::POOL_CAPACITY_GB,
        "content.capacity",
    )?;
    p.redundancy_strategy = or(
        r.redundancy_strategy.as_deref(),
        p.redundancy_strategy,
        |v| RedundancyStrategy::parse(v, "content.redundancy_strategy"),
    )?;
    p.health = or(r.storage_pool_health_state.as_deref(), p.health, |v| {
        PoolHealth::parse(v, "content.storage_pool_health_state")
    })?;
    Ok(p)
}

/// `POST /v1/rccp/storage_pool/create`.
pub async fn create_pool(
    State(app): State<AppState>,
    CcpContent(r): CcpContent<StoragePoolRequest>,
) -> Created {
    let blank = || -> Result<StoragePool> {
        let directory = r
            .directory
            .as_deref()
            .map(|d| super::capacity::directory(d, "content.directory"))
            .transpose()?;
        Ok(StoragePool {
            id: new_id(),
            cluster_id: required(r.cluster_id.clone(), "content.cluster_id")?
                .trim()
                .to_string(),
            name: required(r.name.clone(), "content.name")?,
            // A directory-backed pool reports its file system; the capacity is then unused.
            capacity_gb: match directory {
                Some(_) => r.capacity.unwrap_or(1),
                None => required(r.capacity, "content.capacity")?,
            },
            directory,
            redundancy_strategy: RedundancyStrategy::RAID1_1D0B,
            health: PoolHealth::HEALTHY,
            created_at: now_ms(),
        })
    };
    let p = blank()
        .and_then(|b| pool_from(&r, b))
        .map_err(Error::for_ccp)?;
    app.store.create_pool(&p).await?;
    tracing::info!(pool = %p.name, "created storage pool");
    Ok(created(p.id))
}

/// `PUT /v1/rccp/storage_pool/edit`; the cluster and the directory are fixed.
pub async fn edit_pool(
    State(app): State<AppState>,
    CcpContent(r): CcpContent<StoragePoolRequest>,
) -> Done {
    let id = id_of(r.id.as_deref()).map_err(Error::for_ccp)?;
    let Some(current) = app.store.get_pool(&id).await? else {
        return Err(Error::not_found(Missing::StoragePool, id).into());
    };
    let fixed =
        |given: Option<&str>, now: Option<&str>| given.is_some_and(|g| Some(g.trim()) != now);
    if fixed(r.cluster_id.as_deref(), Some(&current.cluster_id))
        || fixed(r.directory.as_deref(), current.directory.as_deref())
    {
        return Err(Error::CcpParam {
            field: "content".into(),
            rule: "cluster_id and directory cannot change while the pool exists".into(),
        }
        .into());
    }
    let p = pool_from(&r, current).map_err(Error::for_ccp)?;
    let found = app.store.update_pool(&p).await?;
    done(found, Missing::StoragePool, &id)
}

/// `POST /v1/rccp/storage_pool/delete`: refused while OS files are kept on it.
pub async fn delete_pool(
    State(app): State<AppState>,
    CcpContent(r): CcpContent<IdRequest>,
) -> Done {
    let id = id_of(Some(&r.id)).map_err(Error::for_ccp)?;
    let found = app.store.delete_pool(&id).await?;
    done(found, Missing::StoragePool, &id)
}
