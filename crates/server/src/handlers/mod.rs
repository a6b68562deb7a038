//! Endpoint handlers, one module per resource. Each decodes the wire type, calls the domain or
//! the store, and wraps the result in the envelope; none waits for a VM.

pub mod sim;
pub mod strategy;
pub mod task;
pub mod usage;

use deskd_domain::error::Error;

use crate::AppState;

/// `cluster_id` in a request must name a cluster this controller knows (a.10); the caller gets
/// it echoed back.
pub async fn check_cluster(
    app: &AppState,
    cluster_id: Option<&str>,
) -> Result<Option<String>, Error> {
    let Some(id) = cluster_id.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if app.store.cluster_exists(id).await? {
        Ok(Some(id.to_string()))
    } else {
        Err(Error::UnknownCluster(id.to_string()))
    }
}
