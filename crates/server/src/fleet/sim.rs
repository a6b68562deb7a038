//! Simulator extension (DECISIONS D10): fault injection for monitoring tests and demos. These
//! are test hooks: routed (and documented in `/openapi.json`) only when deskd starts with
//! `--enable-test-hooks`, never on a default start.

use axum::extract::{Path, State};
use axum::Json;
use deskd_domain::error::{Error, Missing};
use deskd_domain::ids::HostId;
use deskd_wire::envelope::Reply;

use axum::http::Method;

use crate::http::error::ApiResult;
use crate::http::routes::{Doc, Route};
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

/// The fault-injection routes, mounted only with `--enable-test-hooks`.
pub fn routes() -> Vec<Route> {
    vec![
        Route::typed(
            Doc {
                path: "/v1/sim/host/{host_id}:down",
                methods: &[Method::PUT],
                operation_id: "simHostDown",
                summary: "Simulator: the host stops answering (its up{job=\"node\"} becomes 0); fault injection for tests",
                section: None,
                auth: true,
            },
            host_reachability,
        ),
        Route::typed(
            Doc {
                path: "/v1/sim/host/{host_id}:up",
                methods: &[Method::PUT],
                operation_id: "simHostUp",
                summary: "Simulator: the host answers again",
                section: None,
                auth: true,
            },
            host_reachability,
        ),
    ]
}
