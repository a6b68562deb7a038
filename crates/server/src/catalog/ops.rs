//! The task items of the image calls: build, edit and delete a version. Each is idempotent:
//! after a crash the engine runs an interrupted item again and it picks up from what the
//! database and the driver already show.

use deskd_domain::ids::ImageId;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deskd_compute::Hypervisor;
use deskd_domain::enums::*;
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::model::*;
use deskd_domain::store::{ImageStore, OsFileStore, PoolStore};

/// What the image items touch: the versions, and the OS files and pools their bytes are in.
pub trait ImageOpsStore: ImageStore + OsFileStore + PoolStore {}
impl<T: ImageStore + OsFileStore + PoolStore + ?Sized> ImageOpsStore for T {}
use deskd_domain::task::{Claim, ItemOutcome};
use deskd_tasks::{ItemHandler, Registry};

use crate::fleet::disk_image;

/// Task kinds of the image calls.
pub mod kinds {
    pub const BUILD: &str = "image.build";
    pub const EDIT: &str = "image.edit";
    pub const DELETE: &str = "image.delete";
}

/// What an edit item applies, and the state the version returns to.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct EditPayload {
    pub image: Image,
    pub restore: ImageState,
}

/// Registers the image task kinds. `build_time` is how long a simulated build or removal takes;
/// the driver gets each built version's base disk from its OS file (under `data_dir`).
pub fn register(
    registry: &mut Registry,
    store: Arc<dyn ImageOpsStore>,
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
    store: Arc<dyn ImageOpsStore>,
    driver: Arc<dyn Hypervisor>,
    data_dir: PathBuf,
    kind: &'static str,
    build_time: Duration,
}

#[async_trait]
impl ItemHandler for Items {
    async fn run(&self, c: &Claim) -> ItemOutcome {
        let id = ImageId::from(&c.item_id);
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
            kinds::BUILD => self.import(&id).await,
            _ => self.unimport(&id).await,
        };
        if let Err(e) = driver_side {
            let mut o = ItemOutcome::failure(format!("{verb}镜像[{}]失败：{e}", c.item_id));
            o.biz_data = Some(serde_json::json!({ "image_id": c.item_id }));
            return o;
        }
        let done = match self.kind {
            kinds::BUILD => self.store.complete_image(&id).await,
            _ => self.store.remove_image(&id).await,
        };
        let mut o = match done {
            Ok(true) => ItemOutcome::success(format!("{verb}镜像[{}]成功", c.item_id)),
            // A repeated item finds its work done already.
            Ok(false) => match self.store.get_image(&id).await {
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
        let EditPayload { image, restore } = c.payload()?;
        let id = ImageId::from(&c.item_id);
        self.store.begin_image_edit(&image).await?;
        tokio::time::sleep(self.build_time).await;
        if self
            .store
            .set_image_state(&id, &[ImageState::EDITING], restore)
            .await?
        {
            return Ok(());
        }
        match self.store.get_image(&id).await? {
            Some(i) if i.state == restore => Ok(()),
            other => Err(Error::Conflict {
                what: Missing::Image,
                name: id.to_string(),
                reason: format!("is {}", other.map(|i| i.state.as_str()).unwrap_or("gone")),
            }),
        }
    }

    /// Hands the version's OS file to the driver as its base disk; a file the driver refuses
    /// leaves the version ERROR.
    async fn import(&self, id: &ImageId) -> Result<()> {
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
        Err(Error::hypervisor(e))
    }

    /// Removes the version's base disk from the driver before the row goes.
    async fn unimport(&self, id: &ImageId) -> Result<()> {
        let Some(img) = self.store.get_image(id).await? else {
            return Ok(());
        };
        self.driver
            .remove_image(&disk_image(&img))
            .await
            .map_err(Error::hypervisor)
    }

    /// Inserts the version unless the handler (or an earlier run) did.
    async fn insert(&self, c: &Claim) -> Result<()> {
        let image: Image = c.payload()?;
        self.store.insert_image(&image).await.map(drop)
    }
}
