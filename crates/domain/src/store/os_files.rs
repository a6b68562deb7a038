//! OS files (6.1.16 and the extensions): streamed upload and delete.

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::OsFileId;
use crate::model::OsFile;
use crate::query::{ListQuery, Page};

#[async_trait]
pub trait OsFileStore: Send + Sync + 'static {
    async fn list_os_files(&self, query: &ListQuery) -> Result<Page<OsFile>>;
    async fn get_os_file(&self, id: &OsFileId) -> Result<Option<OsFile>>;
    /// Inserts an UPLOADING file; `NotFound` for an unknown pool.
    async fn insert_os_file(&self, file: &OsFile) -> Result<()>;
    /// UPLOADING → AVAILABLE with its virtual size; false otherwise.
    async fn finish_os_file(&self, id: &OsFileId, virtual_size_bytes: i64) -> Result<bool>;
    /// Removes an upload that did not complete (only while UPLOADING).
    async fn drop_upload(&self, id: &OsFileId) -> Result<bool>;
    /// → DELETING unless images are built on it (`Conflict`); false when it is gone.
    async fn begin_os_file_delete(&self, id: &OsFileId) -> Result<bool>;
    /// Removes a DELETING file's row.
    async fn remove_os_file(&self, id: &OsFileId) -> Result<bool>;
}
