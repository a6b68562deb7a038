//! Image (OS) files (6.1.16).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One item of `PUT /v1/osFile:pagequery`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct OsFileItem {
    pub id: String,
    /// QCOW2 | ISO
    pub cbb_image_format: String,
    /// SYSTEM | DATA
    pub image_disk_type: String,
    pub image_file_name: String,
    /// bytes
    pub image_file_size: i64,
    /// AVAILABLE | DELETING | UPLOADING | CREATING
    pub image_file_state: String,
    /// epoch ms
    pub upload_time: i64,
    /// bytes
    pub virtual_size: i64,
    pub os_name: String,
    pub sha256: String,
    pub storage_pool_id: String,
}
