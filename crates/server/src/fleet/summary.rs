//! The RG-CCP lists: 6.5 compute summary, 6.8 storage summary, 6.9 clusters, 6.10 storage
//! pools, and the host list (extension). Request tables are lost, so `page`, `limit` and
//! `match_arr` are optional (DECISIONS D11); bad input is 12000200.

use axum::extract::State;
use axum::Json;
use deskd_domain::error::Error;
use deskd_domain::model::Cluster;
use deskd_domain::query::{compile, ListQuery, Resource};
use deskd_domain::resources::{CLUSTERS, HOSTS, STORAGE_POOLS};
use deskd_domain::store::{ComputeRow, HostRow, PoolRow};
use deskd_wire::envelope::Reply;
use deskd_wire::inventory::*;
use deskd_wire::paging::{PageData, PageQuery};

use super::capacity::{all_figures, Figures};
use super::CcpContent;
use crate::error::ApiResult;
use crate::AppState;

type Paged<T> = ApiResult<Json<Reply<PageData<T>>>>;

fn query(resource: &Resource, q: &PageQuery) -> Result<ListQuery, Error> {
    compile(resource, q).map_err(Error::for_ccp)
}

fn paged<T>(total: i64, item_arr: Vec<T>) -> Json<Reply<PageData<T>>> {
    Json(Reply::data(PageData { total, item_arr }))
}

/// `PUT /v1/rccp/cluster:pagequery` (6.9).
pub async fn clusters(
    State(app): State<AppState>,
    CcpContent(q): CcpContent<PageQuery>,
) -> Paged<ClusterItem> {
    let page = app.store.list_clusters(&query(&CLUSTERS, &q)?).await?;
    Ok(paged(
        page.total,
        page.items.into_iter().map(cluster_item).collect(),
    ))
}

pub fn cluster_item(c: Cluster) -> ClusterItem {
    ClusterItem {
        id: c.id,
        cluster_name: c.name,
        cluster_desc: c.description,
        cluster_state: c.state.as_str().into(),
        create_time: c.created_at,
        last_update_time: c.updated_at,
    }
}

/// `PUT /v1/rccp/compute/summary` (6.5).
pub async fn compute(
    State(app): State<AppState>,
    CcpContent(q): CcpContent<PageQuery>,
) -> Paged<ComputeSummaryItem> {
    let page = app.store.compute_summary(&query(&CLUSTERS, &q)?).await?;
    Ok(paged(
        page.total,
        page.items.into_iter().map(compute_item).collect(),
    ))
}

fn compute_item(r: ComputeRow) -> ComputeSummaryItem {
    ComputeSummaryItem {
        cluster_id: r.cluster.id,
        cluster_name: r.cluster.name,
        allocated_cpu_cores: r.allocated_cpu_cores,
        allocated_memory: r.allocated_memory_gb,
        total_cpu_cores: r.total_cpu_cores,
        total_memory: r.total_memory_gb,
        host_num: r.host_num,
        desk_num: r.desk_num,
    }
}

/// `PUT /v1/rccp/storage/summary` (6.8): one page of clusters, each with its pools.
pub async fn storage(
    State(app): State<AppState>,
    CcpContent(q): CcpContent<PageQuery>,
) -> Paged<StorageSummaryItem> {
    let page = app.store.list_clusters(&query(&CLUSTERS, &q)?).await?;
    let ids: Vec<String> = page.items.iter().map(|c| c.id.clone()).collect();
    let pools = all_figures(app.store.pools_of_clusters(&ids).await?).await?;
    let items = page
        .items
        .into_iter()
        .map(|c| StorageSummaryItem {
            storage_pool_arr: pools
                .iter()
                .filter(|(r, _)| r.pool.cluster_id == c.id)
                .map(|(r, f)| PoolCapacity {
                    pool_id: r.pool.id.clone(),
                    total_capacity: f.total,
                    used_capacity: f.used,
                })
                .collect(),
            cluster_id: c.id,
            cluster_name: c.name,
        })
        .collect();
    Ok(paged(page.total, items))
}

/// `PUT /v1/rccp/storage_pool:pagequery` (6.10); `sort_arr` is ignored, as the document says.
pub async fn pools(
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
        id_printed: p.id.clone(),
        id: p.id,
        cluster_id: p.cluster_id,
        name: p.name,
        redundancy_strategy: p.redundancy_strategy.as_str().into(),
        storage_pool_health_state: f.health.as_str().into(),
        total_capacity: f.total,
        used_capacity: f.used,
        directory: p.directory,
    }
}

/// `PUT /v1/rccp/host:pagequery` (extension).
pub async fn hosts(
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
        cluster_id: h.cluster_id,
        ip: h.ip,
        cpu_cores: h.cpu_cores,
        memory: h.memory_gb,
        storage: h.storage_gb,
        cpu_overcommit: h.cpu_overcommit,
        memory_overcommit: h.memory_overcommit,
        host_state: h.state.as_str().into(),
        driver: h.driver.as_str().into(),
        allocated_cpu_cores: r.allocated_cpu_cores,
        allocated_memory: r.allocated_memory_gb,
        desk_num: r.desk_num,
        create_time: h.created_at,
        exporter_url: h.exporter_url,
    }
}
