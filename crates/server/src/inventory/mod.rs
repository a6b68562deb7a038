//! The platform inventory (chapters 6.3–6.10) and its management extensions (DECISIONS D10):
//! `catalog` the image and network lists, `images` the image-version extensions,
//! `os_files` the streamed OS-file upload, `ccp` the RG-CCP cluster, compute, storage and host
//! endpoints, `capacity` the file-system figures of directory-backed pools, `manage` the
//! create/edit/delete extensions and `terminals` the terminal registry of 6.6.

pub mod capacity;
pub mod catalog;
pub mod ccp;
pub mod images;
pub mod manage;
pub mod os_files;
pub mod terminals;

use axum::extract::{FromRequest, Request};
use deskd_domain::error::Error;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::extract::OptionalContent;

/// An optional `content` for the `/v1/rccp` endpoints: bad input is 12000200 there (a.5).
pub struct CcpContent<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for CcpContent<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match OptionalContent::<T>::from_request(req, state).await {
            Ok(OptionalContent(v)) => Ok(CcpContent(v)),
            Err(ApiError::Domain(e)) => Err(e.for_ccp().into()),
            Err(e) => Err(e),
        }
    }
}

/// The trimmed id of an extension request, or an error naming `content.id`.
pub fn id_of(id: Option<&str>) -> Result<String, Error> {
    match id.map(str::trim).filter(|s| !s.is_empty()) {
        Some(id) => Ok(id.to_string()),
        None => Err(Error::invalid("content.id", "is required")),
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
