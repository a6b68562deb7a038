//! Desk networks (IP pools): the 6.4 list, and create, edit and delete (extensions,
//! [`crate::crud`]).

use async_trait::async_trait;
use axum::extract::State;
use axum::Json;
use deskd_domain::enums::NetworkState;
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::ids::NetworkId;
use deskd_domain::ipam::Pool;
use deskd_domain::model::{now_ms, Network};
use deskd_domain::platform::{self as rules, required};
use deskd_domain::query::compile;
use deskd_domain::resources::NETWORKS;
use deskd_domain::store::NetworkRow;
use deskd_wire::envelope::Reply;
use deskd_wire::inventory::{NetworkItem, NetworkRequest};
use deskd_wire::paging::{PageData, PageQuery};

use crate::crud::{or, Managed};
use crate::http::error::ApiResult;
use crate::http::extract::Content;
use crate::{new_id, AppState};

/// `creator_user_name` of networks made through the API.
const CREATOR: &str = "admin";

/// `PUT /v1/desk_network:pagequery`.
pub async fn pagequery(
    State(app): State<AppState>,
    Content(q): Content<PageQuery>,
) -> ApiResult<Json<Reply<PageData<NetworkItem>>>> {
    let page = app.store.list_networks(&compile(&NETWORKS, &q)?).await?;
    Ok(Json(Reply::data(PageData {
        total: page.total,
        item_arr: page.items.into_iter().map(network_item).collect(),
    })))
}

/// The wire form of a network. `total_count` is the size of its pool; a stored pool that no
/// longer parses counts as empty rather than failing the whole page.
pub fn network_item(r: NetworkRow) -> NetworkItem {
    let n = r.network;
    let total_count = Pool::from_network(&n).map(|p| p.size() as i64).unwrap_or(0);
    NetworkItem {
        id: n.id.into(),
        create_time: n.created_at,
        creator_user_name: n.creator,
        desk_network_name: n.name,
        desk_network_state: n.state,
        dns_primary: n.dns_primary,
        dns_secondary: n.dns_secondary,
        gateway: n.gateway,
        ip_cidr: n.cidr,
        network_mode: NETWORK_MODE.into(),
        network_type: if n.vlan.is_some() { "VLAN" } else { "FLAT" }.into(),
        ref_count: r.ref_count,
        total_count,
        vlan: n.vlan,
        cluster_id_list: vec![n.cluster_id.into()],
        ip_pool_start: n.pool_start,
        ip_pool_end: n.pool_end,
    }
}

/// deskd's networks are all IP pools.
const NETWORK_MODE: &str = "IP_POOL";

#[async_trait]
impl Managed for Network {
    type Request = NetworkRequest;
    type Id = NetworkId;
    const WHAT: Missing = Missing::Network;
    const NOUN: &'static str = "network";
    const CCP: bool = false;

    fn id(&self) -> &str {
        &self.id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn request_id(r: &NetworkRequest) -> Option<&str> {
        r.id.as_deref()
    }

    fn blank(r: &NetworkRequest) -> Result<Network> {
        Ok(Network {
            id: new_id(),
            cluster_id: required(r.cluster_id.clone(), "content.cluster_id")?
                .trim()
                .into(),
            name: required(r.desk_network_name.clone(), "content.desk_network_name")?,
            cidr: required(r.ip_cidr.clone(), "content.ip_cidr")?,
            gateway: required(r.gateway.clone(), "content.gateway")?,
            dns_primary: required(r.dns_primary.clone(), "content.dns_primary")?,
            dns_secondary: String::new(),
            vlan: None,
            pool_start: required(r.ip_pool_start.clone(), "content.ip_pool_start")?,
            pool_end: required(r.ip_pool_end.clone(), "content.ip_pool_end")?,
            state: NetworkState::AVAILABLE,
            creator: CREATOR.into(),
            created_at: now_ms(),
        })
    }

    fn apply(r: &NetworkRequest, mut n: Network) -> Result<Network> {
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

    /// A network stays in its cluster: create another one instead.
    fn fixed(r: &NetworkRequest, current: &Network) -> Result<()> {
        if r.cluster_id
            .as_deref()
            .is_some_and(|c| c.trim() != current.cluster_id)
        {
            return Err(Error::invalid(
                "content.cluster_id",
                "cannot change; create another network",
            ));
        }
        Ok(())
    }

    async fn get(app: &AppState, id: &NetworkId) -> Result<Option<Network>> {
        app.store.get_network(id).await
    }

    async fn insert(app: &AppState, n: &Network) -> Result<()> {
        app.store.create_network(n).await
    }

    /// Refused when the new pool leaves out an address in use.
    async fn update(app: &AppState, n: &Network) -> Result<bool> {
        app.store.update_network(n).await
    }

    /// Refused while desks or images use it.
    async fn delete(app: &AppState, id: &NetworkId) -> Result<bool> {
        app.store.delete_network(id).await
    }
}
