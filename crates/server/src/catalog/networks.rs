//! 6.3.1 image templates and 6.4 network strategies.

use axum::extract::State;
use axum::Json;
use deskd_domain::ipam::Pool;
use deskd_domain::query::compile;
use deskd_domain::resources::{IMAGES, NETWORKS};
use deskd_domain::store::{ImageRow, NetworkRow};
use deskd_wire::envelope::Reply;
use deskd_wire::inventory::{ImageItem, ImagePageData, NetworkItem};
use deskd_wire::paging::{PageData, PageQuery};

use crate::error::ApiResult;
use crate::extract::Content;
use crate::AppState;

/// `PUT /v1/image:pagequery`: the list under both `item_arr` and `itemArr` (D4).
pub async fn images(
    State(app): State<AppState>,
    Content(q): Content<PageQuery>,
) -> ApiResult<Json<Reply<ImagePageData>>> {
    let page = app.store.list_images(&compile(&IMAGES, &q)?).await?;
    let items: Vec<ImageItem> = page.items.into_iter().map(image_item).collect();
    Ok(Json(Reply::data(ImagePageData {
        total: page.total,
        item_arr_camel: items.clone(),
        item_arr: items,
    })))
}

fn image_item(r: ImageRow) -> ImageItem {
    let i = r.image;
    ImageItem {
        id: i.id,
        image_type: i.category.as_str().into(),
        cloud_desktop_num_of_app_layer: r.app_layer,
        cloud_desktop_num_of_personal: r.personal,
        cloud_desktop_num_of_recoverable: r.recoverable,
        image_name: i.name,
        image_state: i.state.as_str().into(),
        image_system_size: i.system_disk_gb,
        cpu: i.cpu_cores,
        memory: i.memory_gb,
        network_id: i.network_id,
        create_time: i.created_at,
        note: Some(i.description).filter(|d| !d.is_empty()),
        cluster_id: r.cluster_id,
        storage_pool_id: r.storage_pool_id,
        newest_version: i.newest,
        root_image_id: i.root_image_id,
        root_image_name: r.root_image_name,
        version: i.version,
        os_name: i.os_name.as_str().into(),
    }
}

/// `PUT /v1/desk_network:pagequery`.
pub async fn networks(
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
        id: n.id,
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
        cluster_id_list: vec![n.cluster_id],
        ip_pool_start: n.pool_start,
        ip_pool_end: n.pool_end,
    }
}

/// deskd's networks are all IP pools.
const NETWORK_MODE: &str = "IP_POOL";
