//! The RG-CCP summaries: 6.5 allocated compute and 6.8 storage per cluster.

use axum::extract::State;
use deskd_domain::ids::ClusterId;
use deskd_domain::resources::CLUSTERS;
use deskd_domain::store::ComputeRow;
use deskd_wire::inventory::*;
use deskd_wire::paging::PageQuery;

use super::capacity::all_figures;
use super::{paged, query, Paged};
use crate::http::extract::CcpContent;
use crate::AppState;

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
        cluster_id: r.cluster.id.into(),
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
    let ids: Vec<ClusterId> = page.items.iter().map(|c| c.id.clone()).collect();
    let pools = all_figures(app.store.pools_of_clusters(&ids).await?).await?;
    let items = page
        .items
        .into_iter()
        .map(|c| StorageSummaryItem {
            storage_pool_arr: pools
                .iter()
                .filter(|(r, _)| r.pool.cluster_id == c.id)
                .map(|(r, f)| PoolCapacity {
                    pool_id: r.pool.id.clone().into(),
                    total_capacity: f.total,
                    used_capacity: f.used,
                })
                .collect(),
            cluster_id: c.id.into(),
            cluster_name: c.name,
        })
        .collect();
    Ok(paged(page.total, items))
}
