//! Image (OS) files (6.1.16).

use schemars::JsonSchema;

use crate::enums::{ImageDiskType, ImageFileState, ImageFormat, OsName};
use serde::{Deserialize, Serialize};

/// One item of `PUT /v1/osFile:pagequery`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct OsFileItem {
    pub id: String,
    /// QCOW2 | ISO
    pub cbb_image_format: ImageFormat,
    /// SYSTEM | DATA
    pub image_disk_type: ImageDiskType,
    pub image_file_name: String,
    /// bytes
    pub image_file_size: i64,
    /// AVAILABLE | DELETING | UPLOADING | CREATING
    pub image_file_state: ImageFileState,
    /// epoch ms
    pub upload_time: i64,
    /// bytes
    pub virtual_size: i64,
    pub os_name: OsName,
    pub sha256: String,
    pub storage_pool_id: String,
}

/// The query string of `POST /v1/osFile/upload` (extension): the raw body is the file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct UploadParams {
    /// File name, no path separator.
    #[serde(default)]
    pub name: String,
    /// QCOW2 | ISO
    #[serde(default)]
    pub format: String,
    /// SYSTEM (default) | DATA
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_type: Option<String>,
    #[serde(default)]
    pub os_name: String,
    /// Bytes; must equal the body's length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Hex SHA-256 of the body.
    #[serde(default)]
    pub sha256: String,
    #[serde(default)]
    pub storage_pool_id: String,
}
