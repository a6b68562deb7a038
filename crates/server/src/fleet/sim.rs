//! Simulator extension (DECISIONS D10): fault injection for monitoring tests and demos. Only
//! answers while the simulated hypervisor driver is in use.

use axum::extract::{Path, State};
use axum::Json;
use deskd_domain::error::{Error, Missing};
use deskd_domain::ids::HostId;
use deskd_wire::envelope::Reply;

use crate::http::error::ApiResult;
use crate::AppState;

/// `PUT /v1/sim/host/{host_id}:down` and `:up`: the host's agent stops (or resumes) answering,
/// so its `up{job="node"}` series goes to 0 at the next scrape (and back to 1).
pub async fn host_reachability(
    State(app): State<AppState>,
    Path(target): Path<String>,
) -> ApiResult<Json<Reply<()>>> {
    let (host_id, verb) = target.rsplit_once(':').unwrap_or((target.as_str(), ""));
    let reachable = match verb {
        "up" => true,
        "down" => false,
        other => {
            return Err(
                Error::invalid("path", format!("expected :up or :down, not `:{other}`")).into(),
            )
        }
    };
    let Some(sim) = &app.sim else {
        return Err(Error::Refused("the simulated hypervisor driver is not in use".into()).into());
    };
    if app.store.get_host(&HostId::from(host_id)).await?.is_none() {
        return Err(Error::not_found(Missing::Host, host_id).into());
    }
    sim.set_host_reachable(host_id, reachable);
    tracing::info!(host = %host_id, reachable, "simulated host reachability changed");
    Ok(Json(Reply::empty()))
}
