//! Image versions (extensions, D10): build from an OS file (CREATING → AVAILABLE), publish a new
//! version (PUBLISHING → AVAILABLE; the previous version stops being the newest), edit
//! (EDITING → the previous state), disable and enable, delete (DELETING → gone; refused while
//! desks use it).
//!
//! Building and removing run as durable task items (`image.build`, `image.delete`). The task is
//! recorded first; then the handler inserts the version so a refusal reaches the caller at once.
//! The item inserts it too (idempotently: whichever comes first), takes the simulated build time
//! (the simulator's latency) and completes it, so a crash resumes the build instead of leaving a
//! version CREATING for ever.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::Json;
use deskd_domain::enums::*;
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::model::*;
use deskd_domain::platform::{self as rules, within};
use deskd_domain::store::Store;
use deskd_domain::task::{Claim, ItemOutcome, NewItem, NewTask};
use deskd_tasks::{ItemHandler, Registry};
use deskd_wire::envelope::Reply;
use deskd_wire::inventory::*;

use super::{id_of, new_id};
use crate::error::ApiResult;
use crate::extract::Content;
use crate::fleet::disk_image;
use crate::AppState;
use deskd_compute::Hypervisor;

/// Task kinds of the image calls.
pub mod kinds {
    pub const BUILD: &str = "image.build";
    pub const EDIT: &str = "image.edit";
    pub const DELETE: &str = "image.delete";
}

/// Smallest system disk of an image, GB.
const MIN_SYSTEM_GB: i64 = 20;
const GIB: i64 = 1 << 30;

type Started = ApiResult<Json<Reply<InventoryTaskData>>>;

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
        .get_os_file(id)
        .await?
        .ok_or_else(|| Error::not_found(Missing::OsFile, id))
}

/// `POST /v1/image/create`.
pub async fn create(
    State(app): State<AppState>,
    Content(r): Content<ImageCreateRequest>,
) -> Started {
    let file = os_file(&app, &r.os_file_id).await?;
    let id = new_id();
    let mut img = Image {
        id: id.clone(),
        name: rules::name(&r.image_name, "content.image_name")?,
        root_image_id: id,
        version: 1,
        newest: false,
        category: DeskCategory::parse(
            r.image_type.as_deref().unwrap_or("VDI"),
            "content.image_type",
        )?,
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
            .map(String::from),
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
        return Err(Error::Refused(format!(
            "image `{}` is {}; publish from an AVAILABLE or DISABLED version",
            base.name, base.state
        ))
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
    let payload = serde_json::to_value(ImagePayload::from(&img)).map_err(Error::internal)?;
    let task = NewTask {
        id: new_id(),
        kind: kinds::BUILD.into(),
        cluster_id: None,
        items: vec![NewItem::run(img.id.clone(), Some(img.id.clone()), payload)],
    };
    app.tasks.submit(&task).await?;
    app.store.insert_image(&img).await?;
    tracing::info!(image = %img.name, version = img.version, "image build started");
    Ok(Json(Reply::data(InventoryTaskData {
        id: img.id,
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
            return Err(Error::Refused(format!(
                "image `{}` is {s}; it can be edited when AVAILABLE or DISABLED",
                cur.name
            ))
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
            Some(n) => Some(n.to_string()),
            None => cur.network_id.clone(),
        },
        state: ImageState::EDITING,
        ..cur
    };
    shape(&mut img, r.cpu, r.memory, r.image_system_size, &file)?;
    let payload =
        serde_json::json!({ "image": ImagePayload::from(&img), "restore": restore.as_str() });
    let task = NewTask {
        id: new_id(),
        kind: kinds::EDIT.into(),
        cluster_id: None,
        items: vec![NewItem::run(id.clone(), Some(id.clone()), payload)],
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
        id,
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
            Err(Error::Refused(format!("image `{}` is {}, not {from}", i.name, i.state)).into())
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
            Some(id.clone()),
            serde_json::Value::Null,
        )],
    };
    app.tasks.submit(&task).await?;
    Ok(Json(Reply::data(InventoryTaskData {
        id,
        task_id: task.id,
    })))
}

/// What an edit item applies, and the state the version returns to.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct EditPayload {
    image: ImagePayload,
    restore: String,
}

/// The version a build item inserts and completes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ImagePayload {
    id: String,
    name: String,
    root_image_id: String,
    version: i64,
    category: String,
    os_name: String,
    os_file_id: String,
    state: String,
    system_disk_gb: i64,
    cpu_cores: i64,
    memory_gb: i64,
    network_id: Option<String>,
    description: String,
    created_at: i64,
}

impl From<&Image> for ImagePayload {
    fn from(i: &Image) -> Self {
        ImagePayload {
            id: i.id.clone(),
            name: i.name.clone(),
            root_image_id: i.root_image_id.clone(),
            version: i.version,
            category: i.category.as_str().into(),
            os_name: i.os_name.as_str().into(),
            os_file_id: i.os_file_id.clone(),
            state: i.state.as_str().into(),
            system_disk_gb: i.system_disk_gb,
            cpu_cores: i.cpu_cores,
            memory_gb: i.memory_gb,
            network_id: i.network_id.clone(),
            description: i.description.clone(),
            created_at: i.created_at,
        }
    }
}

impl ImagePayload {
    fn image(&self) -> Result<Image> {
        Ok(Image {
            id: self.id.clone(),
            name: self.name.clone(),
            root_image_id: self.root_image_id.clone(),
            version: self.version,
            newest: false,
            category: DeskCategory::parse(&self.category, "payload.category")?,
            os_name: OsName::parse(&self.os_name, "payload.os_name")?,
            os_file_id: self.os_file_id.clone(),
            state: ImageState::parse(&self.state, "payload.state")?,
            system_disk_gb: self.system_disk_gb,
            cpu_cores: self.cpu_cores,
            memory_gb: self.memory_gb,
            network_id: self.network_id.clone(),
            description: self.description.clone(),
            created_at: self.created_at,
        })
    }
}

/// Registers the image task kinds. `build_time` is how long a simulated build or removal takes;
/// the driver gets each built version's base disk from its OS file (under `data_dir`).
pub fn register(
    registry: &mut Registry,
    store: Arc<dyn Store>,
    driver: Arc<dyn Hypervisor>,
    data_dir: PathBuf,
    build_time: Duration,
) {
    for kind in [kinds::BUILD, kinds::EDIT, kinds::DELETE] {
        registry.register(
            kind,
            Arc::new(Items {
                store: store.clone(),
                driver: driver.clone(),
                data_dir: data_dir.clone(),
                kind,
                build_time,
            }),
        );
    }
}

struct Items {
    store: Arc<dyn Store>,
    driver: Arc<dyn Hypervisor>,
    data_dir: PathBuf,
    kind: &'static str,
    build_time: Duration,
}

#[async_trait]
impl ItemHandler for Items {
    async fn run(&self, c: &Claim) -> ItemOutcome {
        if self.kind == kinds::EDIT {
            let mut o = match self.edit(c).await {
                Ok(()) => ItemOutcome::success(format!("编辑镜像[{}]成功", c.item_id)),
                Err(e) => ItemOutcome::failure(format!("编辑镜像[{}]失败：{e}", c.item_id)),
            };
            o.biz_data = Some(serde_json::json!({ "image_id": c.item_id }));
            return o;
        }
        let verb = if self.kind == kinds::BUILD {
            "构建"
        } else {
            "删除"
        };
        if self.kind == kinds::BUILD {
            if let Err(e) = self.insert(c).await {
                let mut o = ItemOutcome::failure(format!("{verb}镜像[{}]失败：{e}", c.item_id));
                o.biz_data = Some(serde_json::json!({ "image_id": c.item_id }));
                return o;
            }
        }
        tokio::time::sleep(self.build_time).await;
        let driver_side = match self.kind {
            kinds::BUILD => self.import(&c.item_id).await,
            _ => self.unimport(&c.item_id).await,
        };
        if let Err(e) = driver_side {
            let mut o = ItemOutcome::failure(format!("{verb}镜像[{}]失败：{e}", c.item_id));
            o.biz_data = Some(serde_json::json!({ "image_id": c.item_id }));
            return o;
        }
        let done = match self.kind {
            kinds::BUILD => self.store.complete_image(&c.item_id).await,
            _ => self.store.remove_image(&c.item_id).await,
        };
        let mut o = match done {
            Ok(true) => ItemOutcome::success(format!("{verb}镜像[{}]成功", c.item_id)),
            // A repeated item finds its work done already.
            Ok(false) => match self.store.get_image(&c.item_id).await {
                Ok(Some(i)) if i.state == ImageState::AVAILABLE && self.kind == kinds::BUILD => {
                    ItemOutcome::success(format!("{verb}镜像[{}]成功", c.item_id))
                }
                Ok(None) if self.kind == kinds::DELETE => {
                    ItemOutcome::success(format!("{verb}镜像[{}]成功", c.item_id))
                }
                Ok(other) => ItemOutcome::failure(format!(
                    "{verb}镜像[{}]失败：image is {}",
                    c.item_id,
                    other.map(|i| i.state.as_str()).unwrap_or("gone")
                )),
                Err(e) => ItemOutcome::failure(format!("{verb}镜像[{}]失败：{e}", c.item_id)),
            },
            Err(e) => ItemOutcome::failure(format!("{verb}镜像[{}]失败：{e}", c.item_id)),
        };
        o.biz_data = Some(serde_json::json!({ "image_id": c.item_id }));
        o
    }
}

impl Items {
    /// Applies the edit (again, after a crash it matters), takes the build time, and returns
    /// the version to the state it had.
    async fn edit(&self, c: &Claim) -> Result<()> {
        let p: EditPayload = serde_json::from_value(c.payload.clone())
            .map_err(|e| Error::internal(format!("payload: {e}")))?;
        let restore = ImageState::parse(&p.restore, "payload.restore")?;
        self.store.begin_image_edit(&p.image.image()?).await?;
        tokio::time::sleep(self.build_time).await;
        if self
            .store
            .set_image_state(&c.item_id, &[ImageState::EDITING], restore)
            .await?
        {
            return Ok(());
        }
        match self.store.get_image(&c.item_id).await? {
            Some(i) if i.state == restore => Ok(()),
            other => Err(Error::Refused(format!(
                "image is {}",
                other.map(|i| i.state.as_str()).unwrap_or("gone")
            ))),
        }
    }

    /// Hands the version's OS file to the driver as its base disk; a file the driver refuses
    /// leaves the version ERROR.
    async fn import(&self, id: &str) -> Result<()> {
        let Some(img) = self.store.get_image(id).await? else {
            return Ok(());
        };
        if img.state == ImageState::AVAILABLE {
            return Ok(());
        }
        let (source, simulated) =
            super::os_files::location(self.store.as_ref(), &self.data_dir, &img.os_file_id).await?;
        if simulated && !source.exists() {
            // a demo record: the image exists for simulated hosts only
            tracing::debug!(image = %id, "OS file has no bytes; nothing to import");
            return Ok(());
        }
        let Err(e) = self.driver.import_image(&disk_image(&img), &source).await else {
            return Ok(());
        };
        let building = [ImageState::CREATING, ImageState::PUBLISHING];
        self.store
            .set_image_state(id, &building, ImageState::ERROR)
            .await?;
        Err(Error::Refused(format!("hypervisor: {e}")))
    }

    /// Removes the version's base disk from the driver before the row goes.
    async fn unimport(&self, id: &str) -> Result<()> {
        let Some(img) = self.store.get_image(id).await? else {
            return Ok(());
        };
        self.driver
            .remove_image(&disk_image(&img))
            .await
            .map_err(|e| Error::Refused(format!("hypervisor: {e}")))
    }

    /// Inserts the version unless the handler (or an earlier run) did.
    async fn insert(&self, c: &Claim) -> Result<()> {
        let p: ImagePayload = serde_json::from_value(c.payload.clone())
            .map_err(|e| Error::internal(format!("payload: {e}")))?;
        self.store.insert_image(&p.image()?).await.map(drop)
    }
}
