//! Image versions (6.3 and the extensions): build, publish, edit, disable, delete.

use async_trait::async_trait;

use crate::enums::ImageState;
use crate::error::Result;
use crate::ids::{ClusterId, ImageId, PoolId};
use crate::model::Image;
use crate::query::{ListQuery, Page};

/// An image version with what 6.3.1 shows beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRow {
    pub image: Image,
    pub root_image_name: String,
    /// The cluster and pool of the OS file the image is built on.
    pub cluster_id: ClusterId,
    pub storage_pool_id: PoolId,
    /// Desks using this version, by desk type.
    pub personal: i64,
    pub recoverable: i64,
    pub app_layer: i64,
}

#[async_trait]
pub trait ImageStore: Send + Sync + 'static {
    async fn list_images(&self, query: &ListQuery) -> Result<Page<ImageRow>>;
    async fn get_image(&self, id: &ImageId) -> Result<Option<Image>>;
    /// Inserts a CREATING or PUBLISHING version after checking its OS file (AVAILABLE, SYSTEM),
    /// network and root (a later version gets the family's next number; refused while another
    /// version is in progress). False when the id exists (a repeated task item).
    async fn insert_image(&self, image: &Image) -> Result<bool>;
    /// CREATING or PUBLISHING → AVAILABLE, and the newest of its family; false otherwise.
    async fn complete_image(&self, id: &ImageId) -> Result<bool>;
    /// Compare-and-set of an image's state.
    async fn set_image_state(
        &self,
        id: &ImageId,
        from: &[ImageState],
        to: ImageState,
    ) -> Result<bool>;
    /// Writes an edit of an AVAILABLE or DISABLED (or already EDITING) version and marks it
    /// EDITING (`Conflict` naming any other state).
    async fn begin_image_edit(&self, image: &Image) -> Result<bool>;
    /// → DELETING unless desks use it or later versions name it as root (`Conflict`, naming
    /// them); false when it is gone.
    async fn begin_image_delete(&self, id: &ImageId) -> Result<bool>;
    /// Removes a DELETING image; false when there is none.
    async fn remove_image(&self, id: &ImageId) -> Result<bool>;
}
