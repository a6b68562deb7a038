//! OS files (6.1.16 and the extensions): streamed upload, the check an image makes of the file
//! it is built on, and the two-phase delete.

use async_trait::async_trait;
use deskd_domain::enums::{ImageDiskType, ImageFileState, ImageFormat, OsName};
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::ids::OsFileId;
use deskd_domain::lifecycle::OsFileAction;
use deskd_domain::model::OsFile;
use deskd_domain::query::{ListQuery, Page};
use deskd_domain::store::OsFileStore;
use sqlx::any::AnyRow;

use crate::args;
use crate::db::{begin, db_err, exec, insert, marks, row, Arg, Backend, Col, Tx};
use crate::deletion::{self, Phased, Referrer};
use crate::{paging, pools, SqlStore};

const COLS: &str = "f.id, f.name, f.format, f.disk_type, f.os_name, f.size_bytes, \
    f.virtual_size_bytes, f.sha256, f.state, f.storage_pool_id, f.created_at";
const FROM: &str = "FROM os_files f";

fn os_file_row(r: &AnyRow) -> Result<OsFile> {
    Ok(OsFile {
        id: r.id("id")?,
        name: r.text("name")?,
        format: ImageFormat::parse(&r.text("format")?, "os_files.format")?,
        disk_type: ImageDiskType::parse(&r.text("disk_type")?, "os_files.disk_type")?,
        os_name: OsName::parse(&r.text("os_name")?, "os_files.os_name")?,
        size_bytes: r.int("size_bytes")?,
        virtual_size_bytes: r.int("virtual_size_bytes")?,
        sha256: r.text("sha256")?,
        state: ImageFileState::parse(&r.text("state")?, "os_files.state")?,
        storage_pool_id: r.id("storage_pool_id")?,
        created_at: r.int("created_at")?,
    })
}

/// The column values of an OS file row (create and the inventory load share them).
pub(crate) fn os_file_values(f: &OsFile) -> Vec<(&'static str, Arg)> {
    vec![
        ("id", f.id.as_str().into()),
        ("name", f.name.as_str().into()),
        ("format", f.format.as_str().into()),
        ("disk_type", f.disk_type.as_str().into()),
        ("os_name", f.os_name.as_str().into()),
        ("size_bytes", f.size_bytes.into()),
        ("virtual_size_bytes", f.virtual_size_bytes.into()),
        ("sha256", f.sha256.as_str().into()),
        ("state", f.state.as_str().into()),
        ("storage_pool_id", f.storage_pool_id.as_str().into()),
        ("created_at", f.created_at.into()),
    ]
}

/// Refuses unless the OS file exists, may be used ([`OsFileAction::Use`]) and holds a system
/// disk: what an image is built on.
pub(crate) async fn must_hold_a_system(tx: &mut Tx, b: Backend, id: &str) -> Result<()> {
    let sql = format!("SELECT {COLS} {FROM} WHERE f.id = ?");
    let Some(r) = row(&mut **tx, b, &sql, args![id]).await? else {
        return Err(Error::not_found(Missing::OsFile, id));
    };
    let f = os_file_row(&r)?;
    let usable = OsFileAction::Use.rule().accepts(f.state);
    if !usable || f.disk_type != ImageDiskType::SYSTEM {
        let needed = OsFileAction::Use.rule().from;
        let needed: Vec<String> = needed.iter().map(|s| s.to_string()).collect();
        return Err(Error::conflict(
            Missing::OsFile,
            &f.name,
            format!(
                "is a {} {} disk; an image needs an {} {} disk",
                f.state,
                f.disk_type,
                needed.join(" or "),
                ImageDiskType::SYSTEM
            ),
        ));
    }
    Ok(())
}

impl SqlStore {
    /// Applies a lifecycle step that needs no check: `sql` (its `SET …`, or a `DELETE`) on row
    /// `id` when it is in one of `action`'s states. True when it applied.
    async fn os_file_step(&self, action: OsFileAction, sql: &str, mut a: Vec<Arg>) -> Result<bool> {
        let rule = action.rule();
        let sql = format!("{sql} AND state IN ({})", marks(rule.from.len()));
        a.extend(rule.from.iter().map(|s| Arg::from(s.as_str())));
        Ok(exec(&self.pool, self.backend, &sql, a).await? == 1)
    }
}

#[async_trait]
impl OsFileStore for SqlStore {
    /// 6.1.16: one page of OS files.
    async fn list_os_files(&self, q: &ListQuery) -> Result<Page<OsFile>> {
        paging::page(&self.read, self.backend, q, COLS, FROM, FROM, os_file_row).await
    }

    async fn get_os_file(&self, id: &OsFileId) -> Result<Option<OsFile>> {
        let sql = format!("SELECT {COLS} {FROM} WHERE f.id = ?");
        row(&self.read, self.backend, &sql, args![id])
            .await?
            .map(|r| os_file_row(&r))
            .transpose()
    }

    /// Inserts an UPLOADING OS file on an existing pool.
    async fn insert_os_file(&self, f: &OsFile) -> Result<()> {
        let mut tx = begin(&self.pool).await?;
        pools::must_exist(&mut tx, self.backend, &f.storage_pool_id).await?;
        insert(&mut *tx, self.backend, "os_files", os_file_values(f)).await?;
        tx.commit().await.map_err(db_err)
    }

    /// UPLOADING → AVAILABLE with the virtual size read from the file.
    async fn finish_os_file(&self, id: &OsFileId, virtual_size: i64) -> Result<bool> {
        let rule = OsFileAction::Finish.rule();
        let Some(to) = rule.target() else {
            return Err(Error::internal("finishing an upload moves to a state"));
        };
        let sql = "UPDATE os_files SET state = ?, virtual_size_bytes = ? WHERE id = ?";
        let a = args![to.as_str(), virtual_size, id];
        self.os_file_step(OsFileAction::Finish, sql, a).await
    }

    /// Forgets an upload that did not complete (only while it is UPLOADING).
    async fn drop_upload(&self, id: &OsFileId) -> Result<bool> {
        let sql = "DELETE FROM os_files WHERE id = ?";
        self.os_file_step(OsFileAction::DropUpload, sql, args![id])
            .await
    }

    async fn begin_os_file_delete(&self, id: &OsFileId) -> Result<bool> {
        deletion::begin_delete::<OsFileRows>(&self.pool, self.backend, id).await
    }

    async fn remove_os_file(&self, id: &OsFileId) -> Result<bool> {
        deletion::remove::<OsFileRows>(&self.pool, self.backend, id).await
    }
}

/// The two-phase delete of an OS file.
struct OsFileRows;

impl Phased for OsFileRows {
    type State = ImageFileState;
    const TABLE: &'static str = "os_files";
    const WHAT: Missing = Missing::OsFile;
    const STAMPED: bool = false;
    const PLACEMENT: bool = false;

    fn parse(state: &str) -> Result<ImageFileState> {
        Ok(ImageFileState::parse(state, "os_files.state")?)
    }

    /// Images built on it keep an OS file.
    async fn blockers(tx: &mut Tx, b: Backend, id: &str, name: &str) -> Result<()> {
        let images = Referrer {
            table: "images",
            column: "os_file_id",
            noun: "images",
        };
        deletion::refuse_if_used(tx, b, (Missing::OsFile, name), &[images], id).await
    }

    async fn remove_rows(tx: &mut Tx, b: Backend, id: &str) -> Result<()> {
        let sql = "DELETE FROM os_files WHERE id = ?";
        exec(&mut **tx, b, sql, args![id]).await.map(drop)
    }
}
