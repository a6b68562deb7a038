//! OS files: the 6.1.16 list, and the extensions: a QCOW2 or ISO file streamed into its
//! storage pool, and delete.
//!
//! `POST /v1/osFile/upload?name=…&format=QCOW2|ISO&disk_type=SYSTEM|DATA&os_name=…&size=…&sha256=…&storage_pool_id=…`
//! takes the file as the raw request body. The row is UPLOADING while the bytes stream to a
//! `.part` file (never buffered whole); the declared size and SHA-256 are checked at the end,
//! then the file is renamed and the row becomes AVAILABLE. A failed or interrupted upload
//! removes the part file and the row, so it never leaves an AVAILABLE file.

use deskd_domain::ids::OsFileId;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use deskd_domain::enums::*;
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::model::{now_ms, OsFile, StoragePool};
use deskd_domain::platform as rules;
use deskd_domain::query::compile;
use deskd_domain::resources::OS_FILES;
use deskd_domain::store::{OsFileStore, PoolStore};
use deskd_wire::envelope::Reply;
use deskd_wire::inventory::{IdData, IdRequest};
use deskd_wire::os_file::{OsFileItem, UploadParams};
use deskd_wire::paging::{PageData, PageQuery};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::http::error::ApiResult;
use crate::http::extract::{id_of, Content};
use crate::{new_id, AppState};

/// Largest OS file accepted: 1 TiB.
const MAX_SIZE: i64 = 1 << 40;
/// Where simulated pools keep their files, under the data directory.
const SIMULATED_POOL_DIR: &str = "os-files";

/// `PUT /v1/osFile:pagequery` (6.1.16).
pub async fn pagequery(
    State(app): State<AppState>,
    Content(q): Content<PageQuery>,
) -> ApiResult<Json<Reply<PageData<OsFileItem>>>> {
    let query = compile(&OS_FILES, &q)?;
    let page = app.store.list_os_files(&query).await?;
    let item_arr = page
        .items
        .into_iter()
        .map(|f| OsFileItem {
            id: f.id.into(),
            cbb_image_format: f.format,
            image_disk_type: f.disk_type,
            image_file_name: f.name,
            image_file_size: f.size_bytes,
            image_file_state: f.state,
            upload_time: f.created_at,
            virtual_size: f.virtual_size_bytes,
            os_name: f.os_name,
            sha256: f.sha256,
            storage_pool_id: f.storage_pool_id.into(),
        })
        .collect();
    Ok(Json(Reply::data(PageData {
        total: page.total,
        item_arr,
    })))
}

fn file_of(p: &UploadParams) -> Result<OsFile> {
    let name = rules::name(&p.name, "query.name")?;
    if name.contains('/') || name.contains('\\') {
        return Err(Error::invalid(
            "query.name",
            "must not contain a path separator",
        ));
    }
    let size = rules::within(
        p.size
            .ok_or_else(|| Error::invalid("query.size", "is required"))?,
        (1, MAX_SIZE),
        "query.size",
    )?;
    let sha = p.sha256.trim().to_ascii_lowercase();
    if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::invalid(
            "query.sha256",
            "must be 64 hexadecimal digits",
        ));
    }
    Ok(OsFile {
        id: new_id(),
        name,
        format: ImageFormat::parse(&p.format, "query.format")?,
        disk_type: ImageDiskType::parse(
            p.disk_type.as_deref().unwrap_or("SYSTEM"),
            "query.disk_type",
        )?,
        os_name: OsName::parse(&p.os_name, "query.os_name")?,
        size_bytes: size,
        virtual_size_bytes: size,
        sha256: sha,
        state: ImageFileState::UPLOADING,
        storage_pool_id: p.storage_pool_id.trim().to_string().into(),
        created_at: now_ms(),
    })
}

/// The file's place: its pool's directory, or the data directory for a simulated pool.
fn path_of(app: &AppState, pool: &StoragePool, f: &OsFile) -> PathBuf {
    place(&app.cfg.data_dir, pool, f)
}

/// Where an OS file's bytes are, given the data directory.
fn place(data_dir: &Path, pool: &StoragePool, f: &OsFile) -> PathBuf {
    let dir = match &pool.directory {
        Some(d) => PathBuf::from(d),
        None => data_dir.join(SIMULATED_POOL_DIR),
    };
    dir.join(format!(
        "{}.{}",
        f.id,
        f.format.as_str().to_ascii_lowercase()
    ))
}

/// Removes the part file and the row when an upload future is dropped half way (the client
/// went away); explicit failures clean up before replying and disarm it.
struct Abandon {
    store: std::sync::Arc<dyn OsFileStore>,
    id: String,
    part: PathBuf,
    armed: bool,
}

impl Drop for Abandon {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let _ = std::fs::remove_file(&self.part);
        let (store, id) = (self.store.clone(), self.id.clone());
        tokio::spawn(async move {
            if let Err(e) = store.drop_upload(&OsFileId::from(&id)).await {
                tracing::warn!(os_file = %id, error = %e, "could not forget an abandoned upload");
            }
        });
    }
}

/// `POST /v1/osFile/upload`.
pub async fn upload(
    State(app): State<AppState>,
    params: std::result::Result<Query<UploadParams>, QueryRejection>,
    body: Body,
) -> ApiResult<Json<Reply<IdData>>> {
    let Query(p) = params.map_err(|e| Error::invalid("query", e.body_text()))?;
    let mut file = file_of(&p)?;
    let pool = app
        .store
        .get_pool(&file.storage_pool_id)
        .await?
        .ok_or_else(|| Error::not_found(Missing::StoragePool, &file.storage_pool_id))?;
    let path = path_of(&app, &pool, &file);
    let part = path.with_extension("part");
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(Error::internal)?;
    }
    app.store.insert_os_file(&file).await?;
    let mut guard = Abandon {
        store: app.store.clone(),
        id: file.id.clone().into(),
        part: part.clone(),
        armed: true,
    };
    let outcome = receive(body, &part, &file).await;
    guard.armed = false;
    match outcome.and_then(|virtual_size| {
        Ok((
            virtual_size,
            std::fs::rename(&part, &path).map_err(Error::internal)?,
        ))
    }) {
        Ok((virtual_size, ())) => {
            file.virtual_size_bytes = virtual_size;
            app.store.finish_os_file(&file.id, virtual_size).await?;
            tracing::info!(os_file = %file.name, bytes = file.size_bytes, "OS file uploaded");
            Ok(Json(Reply::data(IdData { id: file.id.into() })))
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&part).await;
            app.store.drop_upload(&file.id).await?;
            Err(e.into())
        }
    }
}

/// Streams the body into `part`, checking size and checksum; returns the virtual size.
async fn receive(body: Body, part: &std::path::Path, f: &OsFile) -> Result<i64> {
    let mut out = tokio::fs::File::create(part)
        .await
        .map_err(Error::internal)?;
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(32);
    let mut received: i64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            Error::invalid(
                "body",
                format!("upload interrupted after {received} bytes: {e}"),
            )
        })?;
        received += chunk.len() as i64;
        if received > f.size_bytes {
            return Err(Error::invalid(
                "query.size",
                format!("declared {} bytes, but more arrived", f.size_bytes),
            ));
        }
        if head.len() < 32 {
            head.extend(chunk.iter().take(32 - head.len()));
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(Error::internal)?;
    }
    if received != f.size_bytes {
        return Err(Error::invalid(
            "query.size",
            format!("declared {} bytes, received {received}", f.size_bytes),
        ));
    }
    let got = hex::encode(hasher.finalize());
    if got != f.sha256 {
        return Err(Error::invalid(
            "query.sha256",
            format!("declared {}, the bytes hash to {got}", f.sha256),
        ));
    }
    out.sync_all().await.map_err(Error::internal)?;
    virtual_size(f, &head)
}

/// QCOW2: the header's size field (bytes 24..32, big-endian) after the `QFI\xfb` magic; ISO: the
/// file size.
fn virtual_size(f: &OsFile, head: &[u8]) -> Result<i64> {
    match f.format {
        ImageFormat::ISO => Ok(f.size_bytes),
        ImageFormat::QCOW2 => {
            if head.len() < 32 || head[..4] != *b"QFI\xfb" {
                return Err(Error::invalid(
                    "query.format",
                    "the file is not QCOW2 (no QFI\\xfb header)",
                ));
            }
            let mut size = [0u8; 8];
            size.copy_from_slice(&head[24..32]);
            i64::try_from(u64::from_be_bytes(size)).map_err(|_| {
                Error::invalid("query.format", "the QCOW2 virtual size is out of range")
            })
        }
    }
}

/// `POST /v1/osFile/delete`: refused while images are built on it; removes the file and row.
pub async fn delete(
    State(app): State<AppState>,
    Content(r): Content<IdRequest>,
) -> ApiResult<Json<Reply<()>>> {
    let id: String = id_of(Some(&r.id))?;
    let Some(file) = app.store.get_os_file(&OsFileId::from(&id)).await? else {
        return Err(Error::not_found(Missing::OsFile, id).into());
    };
    if !app.store.begin_os_file_delete(&OsFileId::from(&id)).await? {
        return Err(Error::not_found(Missing::OsFile, id).into());
    }
    if let Some(pool) = app.store.get_pool(&file.storage_pool_id).await? {
        match tokio::fs::remove_file(path_of(&app, &pool, &file)).await {
            Ok(()) => {}
            // Demo files are simulated: there are no bytes to remove.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::internal(e).into()),
        }
    }
    app.store.remove_os_file(&OsFileId::from(&id)).await?;
    tracing::info!(os_file = %file.name, "OS file deleted");
    Ok(Json(Reply::empty()))
}

/// Where the bytes of OS file `id` are (image builds hand them to the hypervisor driver), and
/// whether its pool is simulated (no directory: the demo's files are records without bytes).
pub(crate) async fn location<S: OsFileStore + PoolStore + ?Sized>(
    store: &S,
    data_dir: &Path,
    id: &str,
) -> Result<(PathBuf, bool)> {
    let file = store
        .get_os_file(&OsFileId::from(id))
        .await?
        .ok_or_else(|| Error::not_found(Missing::OsFile, id))?;
    let pool = store
        .get_pool(&file.storage_pool_id)
        .await?
        .ok_or_else(|| Error::not_found(Missing::StoragePool, &file.storage_pool_id))?;
    Ok((place(data_dir, &pool, &file), pool.directory.is_none()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qcow2_virtual_size_comes_from_the_header() {
        let f = OsFile {
            id: "f".into(),
            name: "f".into(),
            format: ImageFormat::QCOW2,
            disk_type: ImageDiskType::SYSTEM,
            os_name: OsName::UBUNTU_64,
            size_bytes: 64,
            virtual_size_bytes: 64,
            sha256: String::new(),
            state: ImageFileState::UPLOADING,
            storage_pool_id: "p".into(),
            created_at: 0,
        };
        let mut head = b"QFI\xfb".to_vec();
        head.resize(24, 0);
        head.extend(42u64.to_be_bytes());
        assert_eq!(virtual_size(&f, &head).unwrap(), 42);
        assert!(virtual_size(&f, &[0; 32]).is_err());
        let iso = OsFile {
            format: ImageFormat::ISO,
            ..f
        };
        assert_eq!(virtual_size(&iso, &[]).unwrap(), 64);
    }
}
