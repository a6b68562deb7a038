//! Fleet monitoring: collectors that turn the hypervisor's and the inventory's figures into the
//! metric catalogue of API.md (d.1) — `node_*` per host, `vm_*` per running desk, `pos_cluster_*`
//! per cluster, `docker_*` for deskd's own services, `up` per target — stored in the embedded
//! engine every scrape interval and exposed on `/metrics` for an external Prometheus.

pub mod collect;
pub mod exposition;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deskd_compute::Hypervisor;
use deskd_domain::store::Store;
use deskd_metrics::promql::Engine;
use tokio::sync::watch;

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

/// Scrapes the fleet every `interval` into the engine until shutdown. Series that vanish from
/// one scrape to the next (a desk that stopped) get a staleness marker, as Prometheus writes.
pub async fn run(
    store: Arc<dyn Store>,
    driver: Arc<dyn Hypervisor>,
    engine: Arc<Engine>,
    latest: Arc<Latest>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut collector = Collector::default();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*shutdown.borrow() {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => continue,
        }
        let scrape = Arc::new(collector.collect(store.as_ref(), driver.as_ref()).await);
        let batch = collector.batch(&scrape);
        let storage = engine.storage().clone();
        let metadata = scrape.metadata();
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
        latest.set(scrape);
    }
}
