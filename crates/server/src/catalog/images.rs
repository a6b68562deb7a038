//! Image templates: the 6.3.1 list, and the version extensions (D10): build from an OS file
//! (CREATING → AVAILABLE), publish a new version (PUBLISHING → AVAILABLE; the previous version
//! stops being the newest), edit (EDITING → the previous state), disable and enable, delete
//! (DELETING → gone; refused while desks use it).
//!
//! Building and removing run as durable task items ([`super::ops`]). The task is recorded
//! first; then the handler inserts the version so a refusal reaches the caller at once. The
//! item inserts it too (idempotently: whichever comes first), takes the simulated build time
//! (the simulator's latency) and completes it, so a crash resumes the build instead of leaving
//! a version CREATING for ever.

use axum::extract::State;
use axum::Json;
use deskd_domain::enums::*;
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::ids::{ImageId, NetworkId, OsFileId};
use deskd_domain::model::*;
use deskd_domain::platform::{self as rules, within};
use deskd_domain::query::compile;
use deskd_domain::resources::IMAGES;
use deskd_domain::store::ImageRow;
use deskd_domain::task::{NewItem, NewTask};
use deskd_wire::envelope::Reply;
use deskd_wire::inventory::*;
use deskd_wire::paging::PageQuery;

use super::ops::{kinds, EditPayload};
use crate::http::error::ApiResult;
use crate::http::extract::{id_of, Content};
use crate::{new_id, AppState};

/// Smallest system disk of an image, GB.
const MIN_SYSTEM_GB: i64 = 20;
const GIB: i64 = 1 << 30;

type Started = ApiResult<Json<Reply<InventoryTaskData>>>;

/// `PUT /v1/image:pagequery`: the list under both `item_arr` and `itemArr` (D4).
pub async fn pagequery(
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
        image_type: i.category,
        cloud_desktop_num_of_app_layer: r.app_layer,
        cloud_desktop_num_of_personal: r.personal,
        cloud_desktop_num_of_recoverable: r.recoverable,
        image_name: i.name,
        image_state: i.state,
        image_system_size: i.system_disk_gb,
        cpu: i.cpu_cores,
        memory: i.memory_gb,
        network_id: i.network_id.map(String::from),
        create_time: i.created_at,
        note: Some(i.description).filter(|d| !d.is_empty()),
        cluster_id: r.cluster_id.into(),
        storage_pool_id: r.storage_pool_id.into(),
        newest_version: i.newest,
        root_image_id: i.root_image_id,
        root_image_name: r.root_image_name,
        version: i.version,
        os_name: i.os_name,
    }
}

/// Fills and checks the shape fields every version carries.
fn shape(
    img: &mut Image,
    cpu: Option<i64>,
    memory: Option<i64>,
    disk: Option<i64>,
    file: &OsFile,
) -> Result<()> {
    img.cpu_cores = within(
        cpu.unwrap_or(img.cpu_cores),
        rules::STRATEGY_CPU,
        "content.cpu",
    )?;
    img.memory_gb = within(
        memory.unwrap_or(img.memory_gb),
        rules::STRATEGY_MEMORY_GB,
        "content.memory",
    )?;
    let needed = ((file.virtual_size_bytes + GIB - 1) / GIB).max(MIN_SYSTEM_GB);
    let disk = disk.unwrap_or(img.system_disk_gb.max(needed));
    img.system_disk_gb = within(
        disk,
        (needed, rules::STRATEGY_SYSTEM_DISK_GB.1),
        "content.image_system_size",
    )?;
    img.os_name = file.os_name;
    img.os_file_id = file.id.clone();
    Ok(())
}

async fn os_file(app: &AppState, id: &str) -> Result<OsFile> {
    let id = id.trim();
    if id.is_empty() {
        return Err(Error::invalid("content.os_file_id", "is required"));
    }
    app.store
        .get_os_file(&OsFileId::from(id))
        .await?
        .ok_or_else(|| Error::not_found(Missing::OsFile, id))
}

/// `POST /v1/image/create`.
pub async fn create(
    State(app): State<AppState>,
    Content(r): Content<ImageCreateRequest>,
) -> Started {
    let file = os_file(&app, &r.os_file_id).await?;
    let id: ImageId = new_id();
    let mut img = Image {
        id: id.clone(),
        name: rules::name(&r.image_name, "content.image_name")?,
        root_image_id: id,
        version: 1,
        newest: false,
        category: DeskCategory::parse(
            r.image_type.as_deref().unwrap_or("VDI"),
            "content.image_type",
        )
        .map_err(Error::from)?,
        os_name: file.os_name,
        os_file_id: file.id.clone(),
        state: ImageState::CREATING,
        system_disk_gb: 0,
        cpu_cores: 2,
        memory_gb: 4,
        network_id: r
            .network_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(NetworkId::from),
        description: rules::description(r.note.as_deref().unwrap_or_default(), "content.note")?,
        created_at: now_ms(),
    };
    shape(&mut img, r.cpu, r.memory, r.image_system_size, &file)?;
    start_build(&app, img).await
}

/// `POST /v1/image/publish`: a new version of `id`'s family, copied from `id`.
pub async fn publish(
    State(app): State<AppState>,
    Content(r): Content<ImagePublishRequest>,
) -> Started {
    let base_id = id_of(Some(&r.id))?;
    let base = app
        .store
        .get_image(&base_id)
        .await?
        .ok_or_else(|| Error::not_found(Missing::Image, &base_id))?;
    if !matches!(base.state, ImageState::AVAILABLE | ImageState::DISABLED) {
        return Err(Error::conflict(
            Missing::Image,
            &base.name,
            format!(
                "is {}; publish from an AVAILABLE or DISABLED version",
                base.state
            ),
        )
        .into());
    }
    let file = os_file(&app, r.os_file_id.as_deref().unwrap_or(&base.os_file_id)).await?;
    let mut img = Image {
        id: new_id(),
        name: rules::name(
            r.image_name.as_deref().unwrap_or(&base.name),
            "content.image_name",
        )?,
        newest: false,
        state: ImageState::PUBLISHING,
        description: rules::description(
            r.note.as_deref().unwrap_or(&base.description),
            "content.note",
        )?,
        created_at: now_ms(),
        ..base
    };
    shape(&mut img, r.cpu, r.memory, r.image_system_size, &file)?;
    start_build(&app, img).await
}

/// Records the task whose item builds the version, then inserts it (the store's checks refuse
/// at once; the item then fails the same way and inserts nothing).
async fn start_build(app: &AppState, img: Image) -> Started {
    let task = NewTask {
        id: new_id(),
        kind: kinds::BUILD.into(),
        cluster_id: None,
        items: vec![NewItem::typed(
            img.id.clone(),
            Some(img.id.clone().into()),
            &img,
        )?],
    };
    app.tasks.submit(&task).await?;
    app.store.insert_image(&img).await?;
    tracing::info!(image = %img.name, version = img.version, "image build started");
    Ok(Json(Reply::data(InventoryTaskData {
        id: img.id.into(),
        task_id: task.id,
    })))
}

/// `PUT /v1/image/edit`: EDITING with the new values now, back to AVAILABLE or DISABLED when
/// the task item has applied them.
pub async fn edit(State(app): State<AppState>, Content(r): Content<ImageEditRequest>) -> Started {
    let id = id_of(Some(&r.id))?;
    let cur = app
        .store
        .get_image(&id)
        .await?
        .ok_or_else(|| Error::not_found(Missing::Image, &id))?;
    let restore = match cur.state {
        ImageState::AVAILABLE | ImageState::DISABLED => cur.state,
        s => {
            return Err(Error::conflict(
                Missing::Image,
                &cur.name,
                format!("is {s}; it can be edited when AVAILABLE or DISABLED"),
            )
            .into())
        }
    };
    let file = os_file(&app, &cur.os_file_id).await?;
    let mut img = Image {
        name: rules::name(
            r.image_name.as_deref().unwrap_or(&cur.name),
            "content.image_name",
        )?,
        description: rules::description(
            r.note.as_deref().unwrap_or(&cur.description),
            "content.note",
        )?,
        network_id: match r.network_id.as_deref().map(str::trim) {
            Some("") => None,
            Some(n) => Some(n.to_string().into()),
            None => cur.network_id.clone(),
        },
        state: ImageState::EDITING,
        ..cur
    };
    shape(&mut img, r.cpu, r.memory, r.image_system_size, &file)?;
    let payload = EditPayload {
        image: img.clone(),
        restore,
    };
    let task = NewTask {
        id: new_id(),
        kind: kinds::EDIT.into(),
        cluster_id: None,
        items: vec![NewItem::typed(
            id.clone(),
            Some(id.clone().into()),
            &payload,
        )?],
    };
    // EDITING first: an item that ran before this write would leave the version EDITING.
    app.store.begin_image_edit(&img).await?;
    if let Err(e) = app.tasks.submit(&task).await {
        app.store
            .set_image_state(&id, &[ImageState::EDITING], restore)
            .await?;
        return Err(e.into());
    }
    Ok(Json(Reply::data(InventoryTaskData {
        id: id.into(),
        task_id: task.id,
    })))
}

/// `PUT /v1/image/disable`: AVAILABLE → DISABLED (no new desks from it).
pub async fn disable(
    State(app): State<AppState>,
    Content(r): Content<IdRequest>,
) -> ApiResult<Json<Reply<()>>> {
    flip(&app, &r.id, ImageState::AVAILABLE, ImageState::DISABLED).await
}

/// `PUT /v1/image/enable`: DISABLED → AVAILABLE.
pub async fn enable(
    State(app): State<AppState>,
    Content(r): Content<IdRequest>,
) -> ApiResult<Json<Reply<()>>> {
    flip(&app, &r.id, ImageState::DISABLED, ImageState::AVAILABLE).await
}

async fn flip(
    app: &AppState,
    id: &str,
    from: ImageState,
    to: ImageState,
) -> ApiResult<Json<Reply<()>>> {
    let id = id_of(Some(id))?;
    if app.store.set_image_state(&id, &[from], to).await? {
        return Ok(Json(Reply::empty()));
    }
    match app.store.get_image(&id).await? {
        None => Err(Error::not_found(Missing::Image, id).into()),
        Some(i) => {
            let reason = format!("is {}, not {from}", i.state);
            Err(Error::conflict(Missing::Image, i.name, reason).into())
        }
    }
}

/// `POST /v1/image/delete`: DELETING now (refused while desks or later versions use it), gone
/// when the task item has run.
pub async fn delete(State(app): State<AppState>, Content(r): Content<IdRequest>) -> Started {
    let id = id_of(Some(&r.id))?;
    if !app.store.begin_image_delete(&id).await? {
        return Err(Error::not_found(Missing::Image, id).into());
    }
    let task = NewTask {
        id: new_id(),
        kind: kinds::DELETE.into(),
        cluster_id: None,
        items: vec![NewItem::run(
            id.clone(),
            Some(id.clone().into()),
            serde_json::Value::Null,
        )],
    };
    app.tasks.submit(&task).await?;
    Ok(Json(Reply::data(InventoryTaskData {
        id: id.into(),
        task_id: task.id,
    })))
}
