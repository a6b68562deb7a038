//! deskd's HTTP server, cut by slice: [`http`] is the plumbing (router, route table, extractors,
//! error table, authentication, OpenAPI, TLS); each slice — [`accounts`], [`desks`],
//! [`catalog`], [`fleet`], [`monitoring`], [`tasks`], [`users`] — holds its handlers, its rules
//! and its task items, and exports its routes. [`serve`] wires the store, the hypervisor driver,
//! the task engine and the reconciler together and runs until shutdown. [`web`] serves the
//! browser front end (operator console, desktop-user portal) built into the binary.

pub mod accounts;
pub mod bootstrap;
pub mod catalog;
pub mod config;
pub mod crud;
pub mod desks;
pub mod fleet;
pub mod http;
pub mod keys;
pub mod monitoring;
pub mod portal;
pub mod tasks;
pub mod users;
pub mod web;

use std::sync::Arc;

use anyhow::Context;
use deskd_compute::{
    DriverKind, HostRouter, Hypervisor, QemuConfig, QemuDriver, SimConfig, SimDriver,
};
use deskd_domain::store::Store;
use deskd_store::SqlStore;
use deskd_tasks::{Engine, EngineConfig, Registry, Tasks};
use tokio::sync::watch;

pub use config::ServerConfig;
pub use http::router;

/// What every handler can reach. Axum clones the state for every request, so it is one `Arc`
/// (one reference count to bump) rather than a struct of them: at 60k requests/s, cloning and
/// dropping fifteen shared counters cost 7% of the CPU.
#[derive(Clone)]
pub struct AppState(Arc<App>);

impl AppState {
    pub fn new(app: App) -> Self {
        AppState(Arc::new(app))
    }
}

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct App {
    pub store: Arc<dyn Store>,
    pub driver: Arc<dyn Hypervisor>,
    pub tasks: Tasks,
    pub cfg: Arc<ServerConfig>,
    /// Recently checked tokens, so a burst of calls does not look each one up.
    pub tokens: Arc<http::auth::TokenCache>,
    /// Rendered desk pages, reused until a desk changes.
    pub desk_pages: Arc<http::reply_cache::ReplyCache>,
    /// The embedded metrics engine behind `/api/v1/*` (chapter 7, D9).
    pub metrics: Arc<deskd_metrics::promql::Engine>,
    /// The fleet's latest scrape, served on `/metrics`.
    pub scraped: Arc<monitoring::Latest>,
    /// How each exporter's latest scrape went (`/api/v1/targets`).
    pub targets: Arc<monitoring::scrape::Health>,
    /// Recording and alerting rules on the metrics engine (`/api/v1/rules`, `/api/v1/alerts`).
    pub rules: Arc<deskd_metrics::rules::Rules>,
    /// One-time console tickets issued by this process (per replica).
    pub consoles: Arc<desks::console::Tickets>,
    /// The external Prometheus of `metrics_backend = prometheus`, which answers the read API.
    pub prometheus: Option<Arc<monitoring::proxy::Upstream>>,
    /// Desktop users' portal sessions (per replica, see [`portal::sessions`]).
    pub portal: Arc<portal::sessions::Sessions>,
    /// Failed-login locks, request budgets, the hashing bound and the in-flight bound.
    pub throttles: Arc<http::throttle::Throttles>,
    /// The simulated driver itself, for its fault-injection extension (`/v1/sim/…`).
    pub sim: Option<Arc<SimDriver>>,
    /// The boot-storm guard the desk starts of this process pass (its queue is shown by
    /// `/v1/rccp/compute/bootQueue`).
    pub boot: Arc<desks::guard::BootGuard>,
}

/// A fresh random id for a new record or task.
pub(crate) fn new_id<T: From<String>>() -> T {
    T::from(uuid::Uuid::new_v4().to_string())
}

/// How often the metrics store replaces its log with a snapshot.
const METRICS_SNAPSHOT_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// A running deskd's parts, for [`serve`] and for tests that drive them directly.
pub struct Parts {
    pub state: AppState,
    pub engine: Engine,
    pub first_start: bootstrap::FirstStart,
    /// Held while this process owns the data directory.
    pub lock: std::fs::File,
}

/// Takes the data directory's lock, so two servers never share one simulator state or node id.
/// The kernel drops the lock when the process dies, SIGKILL included.
fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("deskd.lock"))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            anyhow::bail!(
                "another deskd is already running on the data directory {}",
                dir.display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// Makes glibc serve large blocks (Argon2's 19 MiB per password hash) straight from the OS and
/// give them back when freed. By default glibc raises its mmap threshold to the size of the
/// first large block freed; from then on every thread that hashes keeps its own 19 MiB in its
/// arena, and as the blocking pool's threads come and go the resident set climbed by that much
/// again and again (deskd-bench-soak). A fixed threshold turns the adjustment off.
///
/// It also caps glibc's arenas at one per core (its default is eight per core). Each thread
/// that allocates while the others hold their arenas gets an arena of its own, which keeps its
/// freed pages for good: the blocking pool grows in a stall (17 to 22 threads in a soak on a
/// busy machine) and the resident set stepped up with it, about 1 MiB a thread. With two
/// arenas on two cores the 10-minute soak ran 6–11 MiB lower and grew only with the metrics
/// head; the requests answered were the same.
fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets allocator parameters, under glibc's own arena lock.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

/// Opens the data directory and the database, runs the first-start steps and builds the parts.
pub async fn assemble(cfg: ServerConfig) -> anyhow::Result<Parts> {
    return_large_blocks_to_the_os();
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create {}", cfg.data_dir.display()))?;
    let lock = lock_data_dir(&cfg.data_dir)?;
    // the concrete store, so each part can be handed the narrow traits it names
    let sql = Arc::new(SqlStore::open(&cfg.database_url).await?);
    let store: Arc<dyn Store> = sql.clone();
    let first =
        bootstrap::first_start(sql.as_ref(), cfg.admin_password.as_deref(), cfg.demo).await?;
    let sim = SimConfig {
        latency: cfg.sim_latency,
        shutdown_latency: cfg.sim_latency * 3,
        state_file: Some(cfg.data_dir.join("sim-state.json")),
        ..SimConfig::default()
    };
    let sim = Arc::new(SimDriver::try_new(sim)?);
    let driver = open_drivers(&cfg, sim.clone()).await?;
    fleet::register_hosts(store.as_ref(), driver.as_ref()).await?;
    if first.demo_loaded {
        fleet::adopt_inventory(store.as_ref(), driver.as_ref()).await?;
    }
    // the desk list's order index loads in the background, before the first page asks
    sql.warm_desk_order();
    let engine_cfg = EngineConfig {
        node_id: node_id(&cfg.data_dir)?,
        concurrency: cfg.task_concurrency,
        lease: cfg.task_lease,
        ..EngineConfig::default()
    };
    let mut registry = Registry::default();
    let boot = Arc::new(desks::guard::BootGuard::new(
        cfg.max_starts_per_host,
        cfg.max_starts_per_cluster,
    ));
    let ops = desks::ops::DeskOps {
        store: sql.clone(),
        driver: driver.clone(),
        guard: boot.clone(),
        policy: cfg.placement_policy,
        shutdown_timeout: cfg.desk_shutdown_timeout,
    };
    desks::ops::register(&mut registry, Arc::new(ops));
    users::ops::register(&mut registry, sql.clone());
    catalog::ops::register(
        &mut registry,
        sql.clone(),
        driver.clone(),
        cfg.data_dir.clone(),
        cfg.sim_latency,
    );
    fleet::ops::register(&mut registry, sql.clone(), cfg.sim_latency);
    let engine = Engine::new(store.clone(), registry, engine_cfg);
    let (metrics, prometheus) = match cfg.metrics_backend {
        config::MetricsBackend::Embedded => (open_metrics(&cfg)?, None),
        config::MetricsBackend::Prometheus => {
            // The collections are stored by the external engine; this in-memory one stays
            // empty and only carries the (idle) rule set.
            let url = cfg.prometheus_url.as_deref().ok_or_else(|| {
                anyhow::anyhow!("metrics_backend = prometheus needs prometheus_url")
            })?;
            let up = monitoring::proxy::Upstream::new(url, cfg.prometheus_timeout)
                .map_err(|e| anyhow::anyhow!(e))?;
            let storage = deskd_metrics::storage::Storage::new(Default::default());
            let engine = deskd_metrics::promql::Engine::new(
                Arc::new(storage),
                deskd_metrics::promql::EngineOptions::default(),
            );
            (Arc::new(engine), Some(Arc::new(up)))
        }
    };
    let rules = Arc::new(monitoring::open_rules(&cfg, metrics.clone())?);
    let consoles = Arc::new(desks::console::Tickets::new(cfg.console_ticket_ttl));
    let throttles = Arc::new(http::throttle::Throttles::new(&cfg.throttle));
    let state = AppState::new(App {
        store,
        driver,
        tasks: engine.tasks(),
        consoles,
        portal: Arc::default(),
        cfg: Arc::new(cfg),
        tokens: Arc::default(),
        desk_pages: Arc::default(),
        metrics,
        scraped: Arc::default(),
        targets: Arc::default(),
        rules,
        prometheus,
        throttles,
        sim: Some(sim),
        boot,
    });
    Ok(Parts {
        state,
        engine,
        first_start: first,
        lock,
    })
}

/// The simulated driver, the QEMU driver when configured and the libvirt driver when built with
/// the `libvirt` feature, behind one [`HostRouter`] that sends each host's calls to the driver
/// its record names.
async fn open_drivers(
    cfg: &ServerConfig,
    sim: Arc<SimDriver>,
) -> anyhow::Result<Arc<dyn Hypervisor>> {
    let mut drivers: Vec<(DriverKind, Arc<dyn Hypervisor>)> = vec![(DriverKind::Sim, sim)];
    if let Some(q) = &cfg.qemu {
        let dir = cfg.data_dir.join("qemu");
        let mut qc = QemuConfig::new(dir.join("vms"), dir.join("images"));
        qc.accel = q.accel;
        qc.qemu_binary = q.binary.clone();
        let qemu = QemuDriver::open(qc)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the QEMU driver: {e}"))?;
        drivers.push((DriverKind::Qemu, Arc::new(qemu)));
    }
    #[cfg(feature = "libvirt")]
    {
        let mut lc = deskd_compute::LibvirtConfig::new(cfg.data_dir.join("libvirt").join("images"));
        lc.domain_type = cfg.libvirt_domain_type.clone();
        let libvirt = deskd_compute::LibvirtDriver::new(lc)
            .map_err(|e| anyhow::anyhow!("cannot open the libvirt driver: {e}"))?;
        drivers.push((DriverKind::Libvirt, Arc::new(libvirt)));
    }
    let router = HostRouter::open(drivers)
        .await
        .map_err(|e| anyhow::anyhow!("cannot list the hypervisors' VMs: {e}"))?;
    Ok(Arc::new(router))
}

/// The metrics store in `<data-dir>/metrics` (its log and snapshots) and the query engine on it.
fn open_metrics(cfg: &ServerConfig) -> anyhow::Result<Arc<deskd_metrics::promql::Engine>> {
    use deskd_metrics::storage::{Storage, StorageConfig};
    let dir = cfg.data_dir.join("metrics");
    let config = StorageConfig {
        retention_ms: i64::try_from(cfg.metrics_retention.as_millis()).unwrap_or(i64::MAX),
        ..StorageConfig::default()
    };
    let storage = Storage::open(&dir, config)
        .with_context(|| format!("cannot open the metrics store in {}", dir.display()))?;
    let options = deskd_metrics::promql::EngineOptions::default();
    Ok(Arc::new(deskd_metrics::promql::Engine::new(
        Arc::new(storage),
        options,
    )))
}

/// This data directory's node id, created on first use; task claims carry it.
fn node_id(data_dir: &std::path::Path) -> anyhow::Result<String> {
    let path = data_dir.join("node-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        if !id.trim().is_empty() {
            return Ok(id.trim().to_string());
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    std::fs::write(&path, &id)?;
    Ok(id)
}

/// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish, stops
/// the workers (their unfinished items stay resumable) and closes the store. `on_listen` gets the
/// bound address once the socket is open.
pub async fn serve(
    parts: Parts,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_listen: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<()> {
    let Parts {
        state,
        engine,
        lock,
        ..
    } = parts;
    let cfg = state.cfg.clone();
    let (stop_tx, stop_rx) = watch::channel(false);
    let engine_task = tokio::spawn(engine.run(stop_rx.clone(), cfg.shutdown_grace));
    let monitor = monitoring::Monitor {
        store: state.store.clone(),
        driver: state.driver.clone(),
        engine: state.metrics.clone(),
        latest: state.scraped.clone(),
        health: state.targets.clone(),
        cfg: cfg.clone(),
    };
    let monitoring = tokio::spawn(monitoring::run(monitor, stop_rx.clone()));
    // An external Prometheus evaluates its own rules.
    let rule_evaluation = state
        .prometheus
        .is_none()
        .then(|| state.rules.clone().spawn());
    let metrics_upkeep = deskd_metrics::storage::spawn_maintenance(
        state.metrics.storage().clone(),
        METRICS_SNAPSHOT_EVERY,
    );
    let throttles = state.throttles.clone();
    let throttle_upkeep = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            throttles.upkeep();
        }
    });
    let reconciler = tokio::spawn(fleet::reconcile::run(
        state.store.clone(),
        state.driver.clone(),
        cfg.reconcile_interval,
        stop_rx,
    ));
    let listener = std::net::TcpListener::bind(cfg.listen)
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let scheme = if cfg.http { "http" } else { "https" };
    let notifier = match (&cfg.alertmanager_url, &state.prometheus) {
        (Some(url), None) => Some(monitoring::notify::spawn(
            state.rules.clone(),
            url,
            &format!("{scheme}://{addr}/api/v1/query"),
        )),
        _ => None,
    };
    let handle = axum_server::Handle::new();
    let grace = cfg.shutdown_grace;
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, finishing in-flight requests");
        h.graceful_shutdown(Some(grace));
    });
    let tls = match cfg.http {
        true => None,
        false => Some(
            http::tls::config(
                &cfg.data_dir,
                cfg.tls_cert.as_deref(),
                cfg.tls_key.as_deref(),
            )
            .await?,
        ),
    };
    let app = router(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let mut server = axum_server::from_tcp(listener).handle(handle);
    // HTTP/1.1 only: hyper's header-read timeout then runs from a connection's first moment
    // (the HTTP/2 sniffing of the automatic mode waits without a timer).
    let builder = server.http_builder();
    *builder = builder.clone().http1_only();
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(cfg.transport.header_read_timeout);
    let (limits, throttles) = (&cfg.transport, state.throttles.clone());
    on_listen(addr);
    match tls {
        None => {
            let plain = axum_server::accept::DefaultAcceptor::new();
            let acceptor = http::transport::Limited::new(plain, limits, throttles);
            server.acceptor(acceptor).serve(app).await?
        }
        Some(tls) => {
            let tls = axum_server::tls_rustls::RustlsAcceptor::new(tls);
            let acceptor = http::transport::Limited::new(tls, limits, throttles);
            server.acceptor(acceptor).serve(app).await?
        }
    }
    let _ = stop_tx.send(true);
    if let Ok(Err(e)) = engine_task.await {
        tracing::error!(error = %e, "task engine stopped with an error");
    }
    let _ = reconciler.await;
    let _ = monitoring.await;
    metrics_upkeep.abort();
    throttle_upkeep.abort();
    for task in [rule_evaluation, notifier].into_iter().flatten() {
        task.abort();
    }
    if let Err(e) = state.metrics.storage().sync() {
        tracing::error!(error = %e, "cannot flush the metrics log");
    }
    tracing::info!("stopped");
    drop(lock);
    Ok(())
}
