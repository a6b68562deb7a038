//! Storage pools: the 6.10 list, and create, edit and delete (extensions, [`crate::crud`]).

use async_trait::async_trait;
use axum::extract::State;
use deskd_domain::enums::{PoolHealth, RedundancyStrategy};
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::ids::PoolId;
use deskd_domain::model::{now_ms, StoragePool};
use deskd_domain::platform::{self as rules, required, within};
use deskd_domain::resources::STORAGE_POOLS;
use deskd_domain::store::PoolRow;
use deskd_wire::inventory::*;
use deskd_wire::paging::PageQuery;

use super::capacity::{all_figures, directory, Figures};
use super::{paged, query, Paged};
use crate::crud::{or, Managed};
use crate::http::extract::CcpContent;
use crate::{new_id, AppState};

/// `PUT /v1/rccp/storage_pool:pagequery` (6.10); `sort_arr` is ignored, as the document says.
pub async fn pagequery(
    State(app): State<AppState>,
    CcpContent(q): CcpContent<PageQuery>,
) -> Paged<StoragePoolItem> {
    let page = app.store.list_pools(&query(&STORAGE_POOLS, &q)?).await?;
    let items = all_figures(page.items).await?;
    Ok(paged(
        page.total,
        items.into_iter().map(|(r, f)| pool_item(r, f)).collect(),
    ))
}

fn pool_item(r: PoolRow, f: Figures) -> StoragePoolItem {
    let p = r.pool;
    StoragePoolItem {
        id_printed: p.id.clone().into(),
        id: p.id.into(),
        cluster_id: p.cluster_id.into(),
        name: p.name,
        redundancy_strategy: p.redundancy_strategy,
        storage_pool_health_state: f.health,
        total_capacity: f.total,
        used_capacity: f.used,
        directory: p.directory,
    }
}

#[async_trait]
impl Managed for StoragePool {
    type Request = StoragePoolRequest;
    type Id = PoolId;
    const WHAT: Missing = Missing::StoragePool;
    const NOUN: &'static str = "storage pool";
    const CCP: bool = true;

    fn id(&self) -> &str {
        &self.id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn request_id(r: &StoragePoolRequest) -> Option<&str> {
        r.id.as_deref()
    }

    fn blank(r: &StoragePoolRequest) -> Result<StoragePool> {
        let directory = r
            .directory
            .as_deref()
            .map(|d| directory(d, "content.directory"))
            .transpose()?;
        Ok(StoragePool {
            id: new_id(),
            cluster_id: required(r.cluster_id.clone(), "content.cluster_id")?
                .trim()
                .into(),
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
    }

    fn apply(r: &StoragePoolRequest, mut p: StoragePool) -> Result<StoragePool> {
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
            |v| RedundancyStrategy::parse(v, "content.redundancy_strategy").map_err(Error::from),
        )?;
        p.health = or(r.storage_pool_health_state.as_deref(), p.health, |v| {
            PoolHealth::parse(v, "content.storage_pool_health_state").map_err(Error::from)
        })?;
        Ok(p)
    }

    /// The cluster and the directory are fixed.
    fn fixed(r: &StoragePoolRequest, current: &StoragePool) -> Result<()> {
        let fixed =
            |given: Option<&str>, now: Option<&str>| given.is_some_and(|g| Some(g.trim()) != now);
        if fixed(r.cluster_id.as_deref(), Some(&current.cluster_id))
            || fixed(r.directory.as_deref(), current.directory.as_deref())
        {
            return Err(Error::CcpParam {
                field: "content".into(),
                rule: "cluster_id and directory cannot change while the pool exists".into(),
            });
        }
        Ok(())
    }

    async fn get(app: &AppState, id: &PoolId) -> Result<Option<StoragePool>> {
        app.store.get_pool(id).await
    }

    async fn insert(app: &AppState, p: &StoragePool) -> Result<()> {
        app.store.create_pool(p).await
    }

    async fn update(app: &AppState, p: &StoragePool) -> Result<bool> {
        app.store.update_pool(p).await
    }

    /// Refused while OS files are kept on it.
    async fn delete(app: &AppState, id: &PoolId) -> Result<bool> {
        app.store.delete_pool(id).await
    }
}
