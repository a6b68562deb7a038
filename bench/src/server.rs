//! Servers under test, each on its own OS thread with its own multi-thread tokio runtime, so the
//! load generator (on the main runtime) never shares a scheduler with the server it loads.
//!
//! [`ServerThread`] is the generic part; [`start_deskd`] starts the real deskd in-process
//! exactly as `deskd serve` would (`assemble`, then `serve`), with the benchmark's settings.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context};
use deskd_server::{Parts, ServerConfig};
use tokio::sync::oneshot;

/// Password of the `admin` API account of every deskd the benchmark starts.
pub const ADMIN_PASSWORD: &str = "bench-admin-2026";

/// A server's address once it listens, and what it wants the report to mention.
#[derive(Debug, Clone)]
pub struct Listening {
    pub addr: SocketAddr,
    pub notes: Vec<String>,
    /// How long the start-up reconciliation pass took in the preflight: `serve` runs one too,
    /// in the background, and the warm-up must outlast it.
    pub reconcile_pass: Duration,
    /// Wall and CPU time of that reconcile pass, and of one fleet scrape (collect and batch),
    /// each measured while nothing else ran in the process.
    pub reconcile_cost: (Duration, Duration),
    pub scrape_cost: (Duration, Duration),
}

/// A server running on its own thread and runtime; stop it with [`ServerThread::stop`].
pub struct ServerThread {
    pub listening: Listening,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

impl ServerThread {
    /// Runs `body` on a new thread's runtime and waits until it reports that it listens. `body`
    /// gets the stop signal and the sender for its [`Listening`].
    pub async fn spawn<F, Fut>(name: &str, body: F) -> anyhow::Result<Self>
    where
        F: FnOnce(oneshot::Receiver<()>, oneshot::Sender<Listening>) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        let (stop_tx, stop_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let runtime_name = format!("{name}-rt");
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .thread_name(runtime_name)
                    .build()?
                    .block_on(body(stop_rx, ready_tx))
            })?;
        match ready_rx.await {
            Ok(listening) => Ok(ServerThread {
                listening,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Err(_) => Err(join(thread)
                .await
                .err()
                .unwrap_or_else(|| anyhow!("{name} stopped before it listened"))),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.listening.addr
    }

    /// Asks the server to stop and waits for its thread.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(t) => join(t).await,
            None => Ok(()),
        }
    }
}

impl Drop for ServerThread {
    /// A server abandoned on an error path is told to stop; its thread is left to finish.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn join(thread: JoinHandle<anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || thread.join())
        .await?
        .map_err(|_| anyhow!("server thread panicked"))?
}

/// The benchmark's deskd settings: plain HTTP on an ephemeral loopback port, no demo
/// inventory, an instant simulated hypervisor, a known admin password.
pub fn deskd_config(data_dir: &Path, database_url: Option<&str>) -> ServerConfig {
    let mut cfg = ServerConfig::with_data_dir(data_dir.to_path_buf());
    cfg.http = true;
    cfg.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    cfg.demo = false;
    cfg.sim_latency = Duration::ZERO;
    cfg.admin_password = Some(ADMIN_PASSWORD.to_string());
    cfg.shutdown_grace = Duration::from_secs(2);
    // The load generator is one client with one token at tens of thousands of requests/s:
    // lift the request budgets (the throttle still runs, so its cost is measured).
    cfg.throttle.requests_per_sec_per_token = 10_000_000;
    cfg.throttle.requests_per_sec_per_address = 10_000_000;
    if let Some(url) = database_url {
        cfg.database_url = url.to_string();
    }
    cfg
}

/// Starts deskd on an already seeded database. `desks` is how many desks were seeded: the
/// simulated hypervisor must hold as many VMs, or the reconciler would start redefining them
/// while the load runs.
pub async fn start_deskd(cfg: ServerConfig, desks: usize) -> anyhow::Result<ServerThread> {
    ServerThread::spawn("deskd", move |stop, ready| async move {
        let parts = deskd_server::assemble(cfg).await.context("assemble")?;
        let (notes, reconcile_cost, scrape_cost) = preflight(&parts, desks).await?;
        let shutdown = async move {
            let _ = stop.await;
        };
        deskd_server::serve(parts, shutdown, move |addr| {
            let _ = ready.send(Listening {
                addr,
                notes,
                reconcile_pass: reconcile_cost.0,
                reconcile_cost,
                scrape_cost,
            });
        })
        .await
    })
    .await
}

/// Checks that the hypervisor agrees with the database and times one reconciliation pass (the
/// one `serve` runs at start-up and the warm-up has to absorb).
async fn preflight(
    parts: &Parts,
    desks: usize,
) -> anyhow::Result<(Vec<String>, (Duration, Duration), (Duration, Duration))> {
    let (store, driver) = (parts.state.store.as_ref(), parts.state.driver.as_ref());
    let vms = driver.list().await.map_err(|e| anyhow!("{e}"))?.len();
    ensure!(
        vms == desks,
        "the simulated hypervisor holds {vms} VMs but {desks} desks were seeded"
    );
    let (t, cpu) = (Instant::now(), crate::fleet::cpu_time());
    let repairs = deskd_server::fleet::reconcile_once(store, driver).await?;
    let reconcile = (t.elapsed(), crate::fleet::cpu_time().saturating_sub(cpu));
    ensure!(
        repairs.is_empty(),
        "the seeded hypervisor state disagrees with the database: {} repairs, first {:?}",
        repairs.len(),
        repairs.first()
    );
    let pass = reconcile.0;
    let (t, cpu) = (Instant::now(), crate::fleet::cpu_time());
    let hosts = store.list_hosts().await?;
    let mut collector = deskd_server::monitoring::collect::Collector::default();
    let scraped = collector.collect(store, driver, &hosts).await;
    let series = collector.batch(&scraped).len();
    let scrape = (t.elapsed(), crate::fleet::cpu_time().saturating_sub(cpu));
    let note = format!(
        "start-up reconcile pass over {desks} desks: {:.0} ms (the warm-up lasts at least 1.5× this)",
        pass.as_secs_f64() * 1e3
    );
    let scrape_note = format!(
        "one fleet scrape over {desks} desks: {series} series, {:.0} ms wall, {:.0} ms CPU",
        scrape.0.as_secs_f64() * 1e3,
        scrape.1.as_secs_f64() * 1e3
    );
    Ok((vec![note, scrape_note], reconcile, scrape))
}
