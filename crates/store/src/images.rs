//! Image versions (6.3 and the extensions): the list with each version's root, cluster, pool
//! and desks per type; build and publish into a family; edit; the two-phase delete.

use async_trait::async_trait;
use deskd_domain::enums::{DeskCategory, DeskType, ImageState, OsName};
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::ids::ImageId;
use deskd_domain::lifecycle::ImageAction;
use deskd_domain::model::Image;
use deskd_domain::query::{ListQuery, Page};
use deskd_domain::store::{ImageRow, ImageStore};
use sqlx::any::AnyRow;

use crate::args;
use crate::db::{begin, db_err, exec, insert, marks, row, rows, Arg, Backend, Col, Tx};
use crate::deletion::{self, Phased, Referrer};
use crate::{networks, os_files, paging, SqlStore};

const COLS: &str = "i.id, i.name, i.root_image_id, i.version, i.newest, i.category, i.os_name, \
    i.os_file_id, i.state, i.system_disk_gb, i.cpu_cores, i.memory_gb, i.network_id, \
    i.description, i.created_at";
const FROM: &str = "FROM images i";
/// The list joins each version's root, OS file and pool.
const LIST_FROM: &str = "FROM images i LEFT JOIN images r ON r.id = i.root_image_id \
     JOIN os_files f ON f.id = i.os_file_id JOIN storage_pools p ON p.id = f.storage_pool_id";

fn image_row(r: &AnyRow) -> Result<Image> {
    Ok(Image {
        id: r.id("id")?,
        name: r.text("name")?,
        root_image_id: r.id("root_image_id")?,
        version: r.int("version")?,
        newest: r.flag("newest")?,
        category: DeskCategory::parse(&r.text("category")?, "images.category")?,
        os_name: OsName::parse(&r.text("os_name")?, "images.os_name")?,
        os_file_id: r.id("os_file_id")?,
        state: ImageState::parse(&r.text("state")?, "images.state")?,
        system_disk_gb: r.int("system_disk_gb")?,
        cpu_cores: r.int("cpu_cores")?,
        memory_gb: r.int("memory_gb")?,
        network_id: r.opt_id("network_id")?,
        description: r.text("description")?,
        created_at: r.int("created_at")?,
    })
}

/// The column values of an image row (create, publish and the inventory load share them).
pub(crate) fn image_values(i: &Image) -> Vec<(&'static str, Arg)> {
    vec![
        ("id", i.id.as_str().into()),
        ("name", i.name.as_str().into()),
        ("root_image_id", i.root_image_id.as_str().into()),
        ("version", i.version.into()),
        ("newest", i.newest.into()),
        ("category", i.category.as_str().into()),
        ("os_name", i.os_name.as_str().into()),
        ("os_file_id", i.os_file_id.as_str().into()),
        ("state", i.state.as_str().into()),
        ("system_disk_gb", i.system_disk_gb.into()),
        ("cpu_cores", i.cpu_cores.into()),
        ("memory_gb", i.memory_gb.into()),
        ("network_id", i.network_id.clone().into()),
        ("description", i.description.as_str().into()),
        ("created_at", i.created_at.into()),
    ]
}

/// The states of `action`'s rule as arguments, and their placeholders.
fn states_of(action: ImageAction) -> (String, Vec<Arg>) {
    let from = action.rule().from;
    (
        marks(from.len()),
        from.iter().map(|s| Arg::from(s.as_str())).collect(),
    )
}

/// The state `action` moves to.
fn target(action: ImageAction) -> Result<ImageState> {
    action
        .rule()
        .target()
        .ok_or_else(|| Error::internal(format!("image action {action:?} moves to no state")))
}

#[async_trait]
impl ImageStore for SqlStore {
    /// 6.3.1: image versions with their root's name, cluster, pool and desks per type.
    async fn list_images(&self, q: &ListQuery) -> Result<Page<ImageRow>> {
        // The enum's spelling, never a client's value: safe to write into the SQL.
        let count = |t: DeskType| {
            format!(
                "(SELECT COUNT(*) FROM desks d WHERE d.image_id = i.id AND d.desk_type = '{}')",
                t.as_str()
            )
        };
        let cols = format!(
            "{COLS}, COALESCE(r.name, i.name) AS root_name, p.cluster_id AS p_cluster_id, \
             f.storage_pool_id AS f_pool_id, {} AS n_personal, {} AS n_recoverable, \
             {} AS n_app_layer",
            count(DeskType::PERSONAL),
            count(DeskType::RECOVERABLE),
            count(DeskType::APP_LAYER)
        );
        paging::page(
            &self.read,
            self.backend,
            q,
            &cols,
            LIST_FROM,
            LIST_FROM,
            |r| {
                Ok(ImageRow {
                    image: image_row(r)?,
                    root_image_name: r.text("root_name")?,
                    cluster_id: r.id("p_cluster_id")?,
                    storage_pool_id: r.id("f_pool_id")?,
                    personal: r.int("n_personal")?,
                    recoverable: r.int("n_recoverable")?,
                    app_layer: r.int("n_app_layer")?,
                })
            },
        )
        .await
    }

    async fn get_image(&self, id: &ImageId) -> Result<Option<Image>> {
        let sql = format!("SELECT {COLS} {FROM} WHERE i.id = ?");
        let r = row(&self.read, self.backend, &sql, args![id]).await?;
        r.map(|r| image_row(&r)).transpose()
    }

    async fn insert_image(&self, image: &Image) -> Result<bool> {
        let b = self.backend;
        let mut tx = begin(&self.pool).await?;
        if row(
            &mut *tx,
            b,
            "SELECT id FROM images WHERE id = ?",
            args![&image.id],
        )
        .await?
        .is_some()
        {
            return Ok(false);
        }
        os_files::must_hold_a_system(&mut tx, b, &image.os_file_id).await?;
        if let Some(n) = &image.network_id {
            networks::get(&mut *tx, b, n).await?;
        }
        let mut image = image.clone();
        if image.root_image_id != image.id {
            image.version = next_version(&mut tx, b, &image).await?;
        }
        match insert(&mut *tx, b, "images", image_values(&image)).await {
            Ok(()) => {}
            // The other writer of this version (handler or task item) got there first.
            Err(Error::AlreadyExists { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
        tx.commit()
            .await
            .map_err(|e| crate::db::taken(Missing::Image, &image.id)(db_err(e)))?;
        Ok(true)
    }

    /// A built or published version becomes AVAILABLE and the newest of its family.
    async fn complete_image(&self, id: &ImageId) -> Result<bool> {
        let done = self.complete(id).await;
        // A desk record shows its image's name; the newest flag moves.
        self.after_desk_write(done)
    }

    async fn set_image_state(
        &self,
        id: &ImageId,
        from: &[ImageState],
        to: ImageState,
    ) -> Result<bool> {
        let mut a = args![to.as_str(), id];
        a.extend(from.iter().map(|s| Arg::from(s.as_str())));
        let sql = format!(
            "UPDATE images SET state = ? WHERE id = ? AND state IN ({})",
            marks(from.len())
        );
        Ok(exec(&self.pool, self.backend, &sql, a).await? == 1)
    }

    async fn begin_image_edit(&self, image: &Image) -> Result<bool> {
        let edited = self.edit(image).await;
        // A desk record shows its image's name.
        self.after_desk_write(edited)
    }

    async fn begin_image_delete(&self, id: &ImageId) -> Result<bool> {
        deletion::begin_delete::<ImageRows>(&self.pool, self.backend, id).await
    }

    async fn remove_image(&self, id: &ImageId) -> Result<bool> {
        deletion::remove::<ImageRows>(&self.pool, self.backend, id).await
    }
}

/// The next version number of `image`'s family; refused while another version is in progress
/// (every other version must allow [`ImageAction::Derive`]).
async fn next_version(tx: &mut Tx, b: Backend, image: &Image) -> Result<i64> {
    // (this version itself is left out: its other writer may have committed meanwhile)
    let sql = format!("SELECT {COLS} {FROM} WHERE i.root_image_id = ? AND i.id <> ?");
    let family = rows(&mut **tx, b, &sql, args![&image.root_image_id, &image.id])
        .await?
        .iter()
        .map(image_row)
        .collect::<Result<Vec<_>>>()?;
    if family.is_empty() {
        return Err(Error::not_found(Missing::Image, &image.root_image_id));
    }
    if let Some(busy) = family
        .iter()
        .find(|v| !ImageAction::Derive.rule().accepts(v.state))
    {
        return Err(Error::Refused(format!(
            "a version of this image is {}; wait until it is done",
            busy.state
        )));
    }
    Ok(family.iter().map(|v| v.version).max().unwrap_or(0) + 1)
}

impl SqlStore {
    async fn complete(&self, id: &str) -> Result<bool> {
        let b = self.backend;
        let (marks, from) = states_of(ImageAction::Complete);
        let mut a = args![target(ImageAction::Complete)?.as_str(), id];
        a.extend(from);
        let mut tx = begin(&self.pool).await?;
        let sql =
            format!("UPDATE images SET state = ?, newest = 1 WHERE id = ? AND state IN ({marks})");
        let n = exec(&mut *tx, b, &sql, a).await?;
        if n == 1 {
            exec(
                &mut *tx,
                b,
                "UPDATE images SET newest = 0 WHERE id <> ? AND root_image_id = (SELECT root_image_id FROM images WHERE id = ?)",
                args![id, id],
            )
            .await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(n == 1)
    }

    /// Writes an edit of a version [`ImageAction::Edit`] accepts and marks it EDITING; true
    /// when it is EDITING now with these values (also when it already was). `Conflict` naming
    /// the state otherwise; `NotFound` for an unknown image or network.
    async fn edit(&self, i: &Image) -> Result<bool> {
        let b = self.backend;
        let mut tx = begin(&self.pool).await?;
        if let Some(n) = &i.network_id {
            networks::get(&mut *tx, b, n).await?;
        }
        let sql = format!("SELECT {COLS} {FROM} WHERE i.id = ?");
        let Some(r) = row(&mut *tx, b, &sql, args![&i.id]).await? else {
            return Err(Error::not_found(Missing::Image, &i.id));
        };
        let state = image_row(&r)?.state;
        let rule = ImageAction::Edit.rule();
        if !rule.accepts(state) {
            return Err(Error::conflict(
                Missing::Image,
                &i.name,
                format!(
                    "is {state}; it can be edited when {} or {}",
                    ImageState::AVAILABLE,
                    ImageState::DISABLED
                ),
            ));
        }
        exec(
            &mut *tx,
            b,
            "UPDATE images SET name = ?, cpu_cores = ?, memory_gb = ?, system_disk_gb = ?, network_id = ?, \
             description = ?, state = ? WHERE id = ?",
            args![
                &i.name,
                i.cpu_cores,
                i.memory_gb,
                i.system_disk_gb,
                i.network_id.clone(),
                &i.description,
                target(ImageAction::Edit)?.as_str(),
                &i.id
            ],
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }
}

/// The two-phase delete of an image version.
struct ImageRows;

impl Phased for ImageRows {
    type State = ImageState;
    const TABLE: &'static str = "images";
    const WHAT: Missing = Missing::Image;
    const STAMPED: bool = false;
    const PLACEMENT: bool = false;

    fn parse(state: &str) -> Result<ImageState> {
        Ok(ImageState::parse(state, "images.state")?)
    }

    /// Desks using it and later versions naming it as their root keep a version.
    async fn blockers(tx: &mut Tx, b: Backend, id: &str, name: &str) -> Result<()> {
        let desks = Referrer {
            table: "desks",
            column: "image_id",
            noun: "desks",
        };
        deletion::refuse_if_used(tx, b, (Missing::Image, name), &[desks], id).await?;
        let later = rows(
            &mut **tx,
            b,
            "SELECT name FROM images WHERE root_image_id = ? AND id <> ? ORDER BY version",
            args![id, id],
        )
        .await?
        .iter()
        .map(|r| r.text("name"))
        .collect::<Result<Vec<_>>>()?;
        if !later.is_empty() {
            let reason = format!(
                "is the root of {} later version(s) ({}); delete those first",
                later.len(),
                later.join(", ")
            );
            return Err(Error::conflict(Missing::Image, name, reason));
        }
        Ok(())
    }

    /// Removes the version; the family's highest remaining version becomes the newest.
    async fn remove_rows(tx: &mut Tx, b: Backend, id: &str) -> Result<()> {
        let sql = "SELECT root_image_id FROM images WHERE id = ?";
        let Some(r) = row(&mut **tx, b, sql, args![id]).await? else {
            return Ok(());
        };
        let root = r.text("root_image_id")?;
        exec(&mut **tx, b, "DELETE FROM images WHERE id = ?", args![id]).await?;
        exec(
            &mut **tx,
            b,
            "UPDATE images SET newest = 1 WHERE id = (SELECT id FROM images WHERE root_image_id = ? \
             AND NOT EXISTS (SELECT 1 FROM images n WHERE n.root_image_id = ? AND n.newest = 1) \
             ORDER BY version DESC LIMIT 1)",
            args![&root, &root],
        )
        .await
        .map(drop)
    }
}
