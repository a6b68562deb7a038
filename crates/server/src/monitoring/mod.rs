//! Fleet monitoring: collectors that turn the hypervisor's and the inventory's figures into the
//! metric catalogue of API.md (d.1) — `node_*` per host, `vm_*` per running desk, `pos_cluster_*`
//! per cluster, `docker_*` for deskd's own services, `up` per target — stored in the embedded
//! engine every scrape interval and exposed on `/metrics` for an external Prometheus; the
//! Prometheus HTTP API on that engine (or forwarded to an external one, [`proxy`]); and the 6.7
//! resource usage answered from it ([`usage`]).

pub mod collect;
pub mod exposition;
pub mod notify;
pub mod proxy;
pub mod scrape;
pub mod usage;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Router};
use deskd_compute::Hypervisor;
use deskd_domain::store::Store;
use deskd_metrics::promql::Engine;
use tokio::sync::watch;

use crate::http::auth;
use crate::http::routes::{Doc, Route};
use crate::AppState;

pub use collect::Collector;
pub use exposition::Scrape;

/// The rules shipped with deskd, written to the rule file on the first start.
const DEFAULT_RULES: &str = include_str!("default_rules.yaml");

/// Loads the rule file (`rules_file`, or `<data-dir>/rules.yaml`), writing the default rules
/// there first when it does not exist yet.
pub fn open_rules(
    cfg: &crate::config::ServerConfig,
    engine: Arc<Engine>,
) -> anyhow::Result<deskd_metrics::rules::Rules> {
    let path = cfg
        .rules_file
        .clone()
        .unwrap_or_else(|| cfg.data_dir.join("rules.yaml"));
    if cfg.rules_file.is_none() && !path.exists() {
        std::fs::write(&path, DEFAULT_RULES)?;
    }
    Ok(deskd_metrics::rules::Rules::open(engine, &path)?)
}

/// Routes of the embedded metrics API that the server itself answers.
pub const ENDPOINTS: &[deskd_metrics::http::Endpoint] = &[deskd_metrics::http::Endpoint {
    path: "/api/v1/targets",
    methods: &["GET"],
    summary: "The exporters scraped and how their latest scrape went",
    section: None,
}];

/// The `/v1` route of chapter 6.7.
pub fn routes() -> Vec<Route> {
    vec![Route::typed(
        Doc {
            path: "/v1/rccp/server/resource/usage",
            methods: &[Method::PUT],
            operation_id: "serverResourceUsage",
            summary:
                "Fleet CPU, memory or disk: capacity and share in use, from the metrics engine",
            section: Some("6.7"),
            auth: true,
        },
        usage::resource_usage,
    )]
}

/// The Prometheus HTTP API (D9), answered in Prometheus's own JSON behind the same Bearer
/// check, and `/metrics`; their reads may be opened to scrapers ([`auth::metrics_access`]).
/// With an external Prometheus the reads are forwarded to it.
pub fn router(state: &AppState) -> Router {
    let prometheus = match &state.prometheus {
        None => deskd_metrics::http::router(state.metrics.clone())
            .merge(deskd_metrics::rules::router(state.rules.clone()))
            .merge(targets_router(state.targets.clone())),
        Some(up) => proxy::router(up.clone()),
    }
    .route_layer(middleware::from_fn_with_state(
        state.clone(),
        auth::metrics_access,
    ));
    let exposition = Router::new()
        .route("/metrics", get(metrics_exposition))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::metrics_access,
        ))
        .with_state(state.clone());
    prometheus.merge(exposition)
}

/// `GET /metrics`: the fleet's latest scrape in the Prometheus text format, for an external
/// Prometheus (opened to it with `metrics_open_to` or `metrics_token`, or an API token).
async fn metrics_exposition(State(app): State<AppState>) -> Response {
    let mut body = app.scraped.get().map(|s| s.render()).unwrap_or_default();
    body.push_str(&app.throttles.render());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// `/api/v1/targets` over the exporters' health.
fn targets_router(health: Arc<scrape::Health>) -> Router {
    axum::Router::new()
        .route(
            "/api/v1/targets",
            axum::routing::get(
                |axum::extract::State(h): axum::extract::State<Arc<scrape::Health>>| async move {
                    axum::Json(serde_json::json!({"status": "success", "data": h.targets_json()}))
                },
            ),
        )
        .with_state(health)
}

/// The latest scrape, for `/metrics`.
#[derive(Default)]
pub struct Latest(Mutex<Option<Arc<Scrape>>>);

impl Latest {
    pub fn get(&self) -> Option<Arc<Scrape>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, s: Arc<Scrape>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(s);
    }
}

/// What the monitoring loop works with.
pub struct Monitor {
    pub store: Arc<dyn Store>,
    pub driver: Arc<dyn Hypervisor>,
    pub engine: Arc<Engine>,
    pub latest: Arc<Latest>,
    pub health: Arc<scrape::Health>,
    pub cfg: Arc<crate::config::ServerConfig>,
}

/// Scrapes the fleet and the exporters every scrape interval into the engine until shutdown.
/// Series that vanish from one scrape to the next (a desk that stopped, a target that went
/// down) get a staleness marker, as Prometheus writes. With an external Prometheus
/// (`metrics_backend = prometheus`) nothing is stored: the scrape is only served on `/metrics`,
/// and that Prometheus scrapes the exporters itself.
pub async fn run(m: Monitor, mut shutdown: watch::Receiver<bool>) {
    let embedded = m.cfg.metrics_backend == crate::config::MetricsBackend::Embedded;
    let mut collector = Collector::default();
    let mut scraper = scrape::Scraper::new(m.cfg.scrape_timeout);
    let mut tick = tokio::time::interval(m.cfg.scrape_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*shutdown.borrow() {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => continue,
        }
        let started = std::time::Instant::now();
        let mut collected = std::time::Duration::ZERO;
        // One read of the hosts serves the fleet collector and the exporters' targets.
        let hosts = match m.store.list_hosts().await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "monitoring: cannot list hosts");
                Vec::new()
            }
        };
        let fleet = collector.collect(m.store.as_ref(), m.driver.as_ref(), &hosts);
        let scrape = if embedded {
            let targets = scrape::targets(&m.cfg.scrape_targets, &hosts);
            let (fleet, exporters) = tokio::join!(
                fleet,
                scraper.scrape(targets, deskd_domain::model::now_ms(), &m.health)
            );
            let scrape = Arc::new(fleet);
            collected = started.elapsed();
            // Two batches: an exporter whose series the engine refuses (say, a duplicate)
            // costs only its own samples, never the fleet's.
            store(&m.engine, collector.batch(&scrape), scrape.metadata()).await;
            if !exporters.samples.is_empty() {
                store(&m.engine, exporters.samples, exporters.metadata).await;
            }
            scrape
        } else {
            Arc::new(fleet.await)
        };
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            collect_ms = collected.as_millis() as u64,
            series = scrape.len(),
            "fleet scraped"
        );
        m.latest.set(scrape);
    }
}

async fn store(
    engine: &Arc<Engine>,
    batch: Vec<(deskd_metrics::labels::Labels, i64, f64)>,
    metadata: Vec<(String, deskd_metrics::storage::Metadata)>,
) {
    let storage = engine.storage().clone();
    let stored = tokio::task::spawn_blocking(move || {
        for (family, meta) in metadata {
            storage.set_metadata(&family, meta);
        }
        storage.append(&batch).map(drop)
    })
    .await;
    match stored {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics scrape not stored"),
        Err(e) => tracing::error!(error = %e, "metrics store task failed"),
    }
}
