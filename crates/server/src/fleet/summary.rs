//! The RG-CCP summaries: 6.5 allocated compute and 6.8 storage per cluster, and the boot-storm
//! guard's queue (an extension beside them).

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use deskd_domain::error::Result;
use deskd_domain::ids::ClusterId;
use deskd_domain::resources::CLUSTERS;
use deskd_domain::store::ComputeRow;
use deskd_wire::envelope::{Empty, Reply};
use deskd_wire::inventory::*;
use deskd_wire::paging::PageQuery;

use super::capacity::all_figures;
use super::{paged, query, Paged};
use crate::desks::guard::{Queue, Tally};
use crate::http::error::ApiResult;
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

/// `PUT /v1/rccp/compute/bootQueue` (extension): how many desk starts wait for the boot-storm
/// guard and how many run, against its limits, in all and per cluster and host. Read-only; the
/// figures are this process's guard (see [`crate::desks::guard`]).
pub async fn boot_queue(
    State(app): State<AppState>,
    CcpContent(_): CcpContent<Empty>,
) -> ApiResult<Json<Reply<BootQueueData>>> {
    let q = app.boot.queue();
    Ok(Json(Reply::data(boot_queue_data(&app, q).await?)))
}

/// Figures as the wire counts them (the limits and tallies are small `usize`s).
fn num(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

async fn boot_queue_data(app: &AppState, q: Queue) -> Result<BootQueueData> {
    let total = q.total();
    let mut cluster_arr = Vec::with_capacity(q.clusters.len());
    for (id, t) in &q.clusters {
        let cluster = app.store.get_cluster(&ClusterId::from(id.as_str())).await?;
        cluster_arr.push(BootQueueCluster {
            cluster_id: id.clone(),
            cluster_name: cluster.map(|c| c.name).unwrap_or_default(),
            waiting_num: num(t.waiting),
            starting_num: num(t.starting),
        });
    }
    // One read of the host table, not one per queued host: a storm spans many hosts.
    let names: HashMap<String, String> = match q.hosts.is_empty() {
        true => HashMap::new(),
        false => app
            .store
            .list_hosts()
            .await?
            .into_iter()
            .map(|h| (h.id.to_string(), h.name))
            .collect(),
    };
    let host_arr = q
        .hosts
        .iter()
        .map(|(id, cluster, t): &(String, String, Tally)| BootQueueHost {
            host_id: id.as_str().into(),
            host_name: names.get(id).cloned().unwrap_or_default(),
            cluster_id: cluster.clone(),
            waiting_num: num(t.waiting),
            starting_num: num(t.starting),
        })
        .collect();
    Ok(BootQueueData {
        max_starts_per_host: num(q.per_host),
        max_starts_per_cluster: num(q.per_cluster),
        waiting_num: num(total.waiting),
        starting_num: num(total.starting),
        cluster_arr,
        host_arr,
    })
}
