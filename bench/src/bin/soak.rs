//! deskd-bench-soak: a bounded soak of mixed traffic (issue 19). deskd runs in a process of its
//! own (this binary started again with `--serve-dir`), so `/proc/<pid>` shows the server alone;
//! workers send a seeded mix of desk pages, desk actions, user batches, metrics queries and
//! desk create/delete batches at a steady rate for `--secs`, and every `--sample-secs` the
//! server's resident memory, open file descriptors and threads are printed with the requests
//! answered since the last row.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use deskd_bench::db::{Backend, Database};
use deskd_bench::report::load_average;
use deskd_bench::seed;
use deskd_bench::server::{deskd_config, start_deskd};
use deskd_bench::soak::{proc_figures, Fleet, ProcFigures, Tally, Worker};

/// Soak deskd with mixed traffic and watch its memory and descriptors.
#[derive(Debug, Parser)]
#[command(name = "deskd-bench-soak", version)]
struct Args {
    /// How long the traffic runs, in seconds.
    #[arg(long, default_value_t = 600)]
    secs: u64,
    /// Seconds between two samples of the server's figures.
    #[arg(long, default_value_t = 10)]
    sample_secs: u64,
    /// Requests per second, all workers together.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Concurrent clients (one keep-alive connection each).
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Seeded desks (and desktop users, one desk each).
    #[arg(long, default_value_t = 2000)]
    desks: usize,
    /// Seed of the mix; the same seed sends the same requests.
    #[arg(long, default_value_t = 19)]
    seed: u64,
    /// Latency of each simulated hypervisor operation, in milliseconds.
    #[arg(long, default_value_t = 50)]
    sim_latency_ms: u64,
    /// Leave out the desk create/delete batches (their share goes to desk pages), to tell
    /// their cost apart from the rest of the growth.
    #[arg(long)]
    no_churn: bool,
    /// The embedded metrics store's retention in seconds (deskd's default: 15 days). Its head
    /// holds every sample of the retention in memory, so a short one shows it levelling off.
    #[arg(long)]
    metrics_retention_secs: Option<u64>,
    /// Run on PostgreSQL (`DESKD_TEST_PG_URL`, a fresh schema) instead of SQLite.
    #[arg(long)]
    postgres: bool,
    /// Internal: serve deskd on this seeded data directory (the child process).
    #[arg(long, hide = true)]
    serve_dir: Option<PathBuf>,
    #[arg(long, hide = true)]
    serve_db: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    deskd_bench::init_logs();
    match (&args.serve_dir, &args.serve_db) {
        (Some(dir), Some(db)) => serve(dir.clone(), db, &args).await,
        _ => soak(&args).await,
    }
}

/// The child: deskd on the seeded directory until its stdin closes.
async fn serve(dir: PathBuf, db: &str, args: &Args) -> anyhow::Result<()> {
    let mut cfg = deskd_config(&dir, Some(db));
    cfg.sim_latency = Duration::from_millis(args.sim_latency_ms);
    if let Some(secs) = args.metrics_retention_secs {
        cfg.metrics_retention = Duration::from_secs(secs);
    }
    let server = start_deskd(cfg, args.desks).await?;
    println!("listening {}", server.addr());
    tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
        .await??;
    server.stop().await
}

async fn soak(args: &Args) -> anyhow::Result<()> {
    let backend = if args.postgres {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let dir = tempfile::Builder::new().prefix("deskd-soak-").tempdir()?;
    let Some(db) = Database::create(backend, dir.path()).await? else {
        bail!("{backend} is not reachable");
    };
    eprintln!("seeding {} desks and users on {backend}…", args.desks);
    let hash = deskd_domain::auth::hash_password("Bench@2026")?;
    let (inv, net) = seed::fleet(&hash, args.desks)?;
    seed::load(&db.url, &inv).await?;
    seed::write_sim_state(dir.path(), &inv)?;
    let (mut child, addr) = spawn_server(dir.path().to_path_buf(), &db.url, args)?;
    let pid = child.id().to_string();
    println!(
        "# deskd soak: {backend}, {} desks{}{}, {} s at {} requests/s from {} clients, seed {}, nproc {}, load {}",
        args.desks,
        if args.no_churn { " (no desk churn)" } else { "" },
        args.metrics_retention_secs
            .map(|s| format!(", metrics retention {s} s"))
            .unwrap_or_default(),
        args.secs,
        args.rate,
        args.workers,
        args.seed,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    let result = drive(args, addr, &pid, &inv, &net).await;
    drop(child.stdin.take()); // the child stops when its stdin closes
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    let _ = tokio::fs::remove_dir_all(dir.path()).await;
    db.drop_schema().await;
    result
}

/// Starts this binary again as the server and waits for its address.
fn spawn_server(
    dir: PathBuf,
    url: &str,
    args: &Args,
) -> anyhow::Result<(Child, std::net::SocketAddr)> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("--serve-dir")
        .arg(dir)
        .args(["--serve-db", url])
        .args(["--desks", &args.desks.to_string()])
        .args(["--sim-latency-ms", &args.sim_latency_ms.to_string()]);
    if let Some(secs) = args.metrics_retention_secs {
        cmd.args(["--metrics-retention-secs", &secs.to_string()]);
    }
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    let stdout = child.stdout.take().context("child stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = lines
        .next()
        .context("the server exited before it listened")??;
    let addr = line
        .strip_prefix("listening ")
        .with_context(|| format!("unexpected first line from the server: {line}"))?
        .parse()?;
    std::thread::spawn(move || lines.for_each(drop));
    Ok((child, addr))
}

/// Runs the workers and the sampler; prints the table and the summary.
async fn drive(
    args: &Args,
    addr: std::net::SocketAddr,
    pid: &str,
    inv: &deskd_domain::model::Inventory,
    net: &str,
) -> anyhow::Result<()> {
    let fleet = Arc::new(Fleet::new(inv, net)?);
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let until = started + Duration::from_secs(args.secs);
    let mut workers = Vec::new();
    for n in 0..args.workers {
        let w = Worker::new(n, args.seed, addr, fleet.clone(), tally.clone()).await?;
        workers.push(tokio::spawn(w.run(
            args.rate / args.workers.max(1) as f64,
            until,
            !args.no_churn,
        )));
    }
    let mut probe = deskd_bench::client::Client::new(addr);
    probe.login().await?;
    println!(
        "\n| t (s) | RSS (MiB) | open fds | threads | metrics series | head samples | head chunks (MiB) | requests | errors | refused |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut samples: Vec<(u64, ProcFigures)> = Vec::new();
    let mut last = (0, 0, 0);
    loop {
        let now = (
            tally.requests.load(Ordering::Relaxed),
            tally.errors.load(Ordering::Relaxed),
            tally.refused.load(Ordering::Relaxed),
        );
        let f = proc_figures(pid).context("the server process is gone")?;
        let head = head_figures(&mut probe).await;
        let t = started.elapsed().as_secs();
        println!(
            "| {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} |",
            t,
            f.rss_mib,
            f.fds,
            f.threads,
            head.0,
            head.1,
            head.2,
            now.0 - last.0,
            now.1 - last.1,
            now.2 - last.2
        );
        last = now;
        samples.push((t, f));
        if Instant::now() >= until {
            break;
        }
        tokio::time::sleep(
            Duration::from_secs(args.sample_secs)
                .min(until.saturating_duration_since(Instant::now())),
        )
        .await;
    }
    for w in workers {
        w.await?;
    }
    summary(&samples, &tally);
    Ok(())
}

/// Series, samples and the chunks' memory in MiB of the embedded metrics store's head
/// (`/api/v1/status/tsdb`): each desk that runs for the first time adds its VM series, and
/// every scrape adds a sample to each series, all kept for the retention: data, not a leak.
/// Asked twice at most: the server closes the probe's connection after 10 idle seconds
/// (`--header-read-timeout-secs`), which can race with the next sample.
async fn head_figures(probe: &mut deskd_bench::client::Client) -> (String, String, String) {
    let mut last = String::new();
    for _ in 0..2 {
        let path = "/api/v1/status/tsdb";
        match probe
            .send(hyper::Method::GET, path, bytes::Bytes::new())
            .await
        {
            Ok(a) => {
                let h = &a.body["data"]["headStats"];
                let mib = h["chunkMemoryBytes"]
                    .as_f64()
                    .map_or("?".to_string(), |b| format!("{:.1}", b / 1048576.0));
                return (h["numSeries"].to_string(), h["numSamples"].to_string(), mib);
            }
            Err(e) => last = format!("? ({e})"),
        }
    }
    (last, "?".into(), "?".into())
}

/// The lowest RSS of each 100 s of the run: a password hash in flight adds a transient 19 MiB
/// (Argon2's block, given back when it ends), which a single sample may catch.
fn lows_per_100s(samples: &[(u64, ProcFigures)]) -> Vec<(u64, f64)> {
    let mut lows: Vec<(u64, f64)> = Vec::new();
    for (t, f) in samples {
        let window = t / 100 * 100;
        match lows.last_mut() {
            Some((w, low)) if *w == window => *low = low.min(f.rss_mib),
            _ => lows.push((window, f.rss_mib)),
        }
    }
    lows
}

fn summary(timed: &[(u64, ProcFigures)], tally: &Tally) {
    let lows = lows_per_100s(timed);
    let list: Vec<String> = lows
        .iter()
        .map(|(w, low)| format!("{w}–{}: {low:.1}", w + 99))
        .collect();
    println!("\nlowest RSS (MiB) per 100 s: {}", list.join(", "));
    let samples: Vec<ProcFigures> = timed.iter().map(|(_, f)| *f).collect();
    let first = samples.first().copied().unwrap_or_default();
    let end = samples.last().copied().unwrap_or_default();
    let max_rss = samples.iter().map(|s| s.rss_mib).fold(0.0, f64::max);
    let max_fds = samples.iter().map(|s| s.fds).max().unwrap_or(0);
    // the second half shows whether the figures levelled off after the warm-up
    let mid = samples.get(samples.len() / 2).copied().unwrap_or_default();
    println!(
        "RSS: start {:.1} MiB, end {:.1} MiB, max {:.1} MiB; second half {:+.1} MiB",
        first.rss_mib,
        end.rss_mib,
        max_rss,
        end.rss_mib - mid.rss_mib
    );
    println!(
        "open fds: start {}, end {}, max {}; second half {:+}",
        first.fds,
        end.fds,
        max_fds,
        end.fds as i64 - mid.fds as i64
    );
    println!(
        "requests {}, errors {}, expected refusals {}; load {}",
        tally.requests.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed),
        tally.refused.load(Ordering::Relaxed),
        load_average()
    );
    if let Ok(r) = tally.refusals.lock() {
        if !r.is_empty() {
            let list: Vec<String> = r.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            println!("refusals by request and code: {}", list.join(", "));
        }
    }
    if let Some(e) = tally.first_error.lock().ok().and_then(|e| e.clone()) {
        println!("first error: {e}");
    }
}
