//! Compute clusters: the 6.9 list, create and edit (extensions, [`crate::crud`]), and delete,
//! which empties a cluster through a task item ([`super::ops`]); and the a.10 check of a
//! request's `cluster_id`.

use async_trait::async_trait;
use axum::extract::State;
use axum::Json;
use deskd_domain::enums::ClusterState;
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::ids::ClusterId;
use deskd_domain::model::{now_ms, Cluster};
use deskd_domain::platform::{self as rules, required};
use deskd_domain::resources::CLUSTERS;
use deskd_domain::task::{NewItem, NewTask};
use deskd_wire::envelope::Reply;
use deskd_wire::inventory::*;
use deskd_wire::paging::PageQuery;

use super::ops::CLUSTER_DELETE;
use super::{paged, query, Paged};
use crate::crud::Managed;
use crate::http::error::ApiResult;
use crate::http::extract::{id_of, CcpContent};
use crate::{new_id, AppState};

/// `cluster_id` in a request must name a cluster this controller knows (a.10); the caller gets
/// it echoed back.
pub async fn check_cluster(
    app: &AppState,
    cluster_id: Option<&str>,
) -> Result<Option<String>, Error> {
    let Some(id) = cluster_id.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if app.store.cluster_exists(&ClusterId::from(id)).await? {
        Ok(Some(id.to_string()))
    } else {
        Err(Error::UnknownCluster(id.to_string()))
    }
}

/// `PUT /v1/rccp/cluster:pagequery` (6.9).
pub async fn pagequery(
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
        id: c.id.into(),
        cluster_name: c.name,
        cluster_desc: c.description,
        cluster_state: c.state,
        create_time: c.created_at,
        last_update_time: c.updated_at,
    }
}

#[async_trait]
impl Managed for Cluster {
    type Request = ClusterRequest;
    type Id = ClusterId;
    const WHAT: Missing = Missing::Cluster;
    const NOUN: &'static str = "cluster";
    const CCP: bool = true;

    fn id(&self) -> &str {
        &self.id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn request_id(r: &ClusterRequest) -> Option<&str> {
        r.id.as_deref()
    }

    fn blank(r: &ClusterRequest) -> Result<Cluster> {
        let now = now_ms();
        Ok(Cluster {
            id: new_id(),
            name: required(r.cluster_name.clone(), "content.cluster_name")?,
            state: ClusterState::ENABLED,
            description: String::new(),
            created_at: now,
            updated_at: now,
        })
    }

    fn apply(r: &ClusterRequest, mut c: Cluster) -> Result<Cluster> {
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

    async fn get(app: &AppState, id: &ClusterId) -> Result<Option<Cluster>> {
        app.store.get_cluster(id).await
    }

    async fn insert(app: &AppState, c: &Cluster) -> Result<()> {
        app.store.create_cluster(c).await
    }

    async fn update(app: &AppState, c: &Cluster) -> Result<bool> {
        app.store.update_cluster(c).await
    }

    /// Starts a removal (DELETING); [`delete`] records the task that finishes it.
    async fn delete(app: &AppState, id: &ClusterId) -> Result<bool> {
        app.store.begin_cluster_delete(id).await
    }
}

/// `POST /v1/rccp/cluster/delete`: DELETING now (refused while desks, images on its networks
/// or OS files in its pools need it); a task item then removes it with its empty hosts,
/// networks and pools.
pub async fn delete(
    State(app): State<AppState>,
    CcpContent(r): CcpContent<IdRequest>,
) -> ApiResult<Json<Reply<InventoryTaskData>>> {
    let id: String = id_of(Some(&r.id)).map_err(Error::for_ccp)?;
    if !<Cluster as Managed>::delete(&app, &ClusterId::from(&id)).await? {
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
