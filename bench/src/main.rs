//! deskd-bench: one command that measures deskd against a ceiling taken in the same run.
//!
//! Absolute requests/s mean little on a shared 2-core machine, so every run first measures a
//! bare hyper server with the same load generator, then the real deskd (in-process, on its own
//! runtime) answering the paged desk query over 1,000 and 100,000 seeded desks on SQLite and
//! PostgreSQL, then batch creation. It prints one Markdown table with each target beside its
//! figure. See `bench/README.md`.

use deskd_bench::{ceiling, db, fleet, fleet_report, load, report, scenarios, stats};

use std::time::Duration;

use clap::Parser;
use hyper::Method;

use db::Backend;
use load::{Plan, Target};
use scenarios::{Env, Outcome, QueryKind, QueryRow};
use stats::Summary;

/// Measure deskd's paged desk query and batch creation against a bare-hyper ceiling.
#[derive(Debug, Parser)]
#[command(name = "deskd-bench", version)]
struct Args {
    /// Smoke run: 3 s per row after 1 s of warm-up, 1,000 and 10,000 desks.
    #[arg(long)]
    quick: bool,
    /// Seconds measured per row [default: 10, or 3 with --quick].
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
    /// Seconds of warm-up before each row's measurement [default: 2, or 1 with --quick].
    #[arg(long, value_name = "SECS")]
    warmup: Option<u64>,
    /// Concurrent keep-alive connections of the load generator.
    #[arg(long, default_value_t = 64, value_name = "N")]
    connections: usize,
    /// Desk counts to seed [default: 1000,100000, or 1000,10000 with --quick].
    #[arg(long, value_delimiter = ',', value_name = "N,N")]
    desks: Vec<usize>,
    /// Which paged query to load.
    #[arg(long, value_enum, default_value_t = QueryKind::Desk)]
    query: QueryKind,
    /// Items in the batch-create request.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    batch: usize,
    /// Skip the PostgreSQL rows.
    #[arg(long)]
    no_postgres: bool,
    /// Also run the classic rows (one fixed desk query with the reply cache on and off, and a
    /// batch into an empty fleet); the fleet rows always run.
    #[arg(long)]
    classic: bool,
}

impl Args {
    fn plan(&self) -> Plan {
        let (duration, warmup) = if self.quick { (3, 1) } else { (10, 2) };
        Plan {
            connections: self.connections.max(1),
            duration: Duration::from_secs(self.duration.unwrap_or(duration).max(1)),
            warmup: Duration::from_secs(self.warmup.unwrap_or(warmup)),
        }
    }

    fn sizes(&self) -> Vec<usize> {
        match (self.desks.is_empty(), self.quick) {
            (false, _) => self.desks.clone(),
            (true, true) => vec![1_000, 10_000],
            (true, false) => vec![1_000, 10_000, 100_000],
        }
    }

    fn backends(&self) -> Vec<Backend> {
        match self.no_postgres {
            true => vec![Backend::Sqlite],
            false => vec![Backend::Sqlite, Backend::Postgres],
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    deskd_bench::init_logs();
    let load_before = report::load_average();
    let env = Env {
        plan: args.plan(),
        query: args.query,
        password_hash: deskd_domain::auth::hash_password(
            deskd_server::bootstrap::DEMO_USER_PASSWORD,
        )?,
        batch_items: args.batch,
    };
    progress("ceiling: bare hyper hello-world");
    let ceiling = measure_ceiling(env.plan).await?;
    let mut fleet_rows = Vec::new();
    for backend in args.backends() {
        for desks in args.sizes() {
            progress(&format!("fleet rows on {backend}, {desks} desks"));
            let row = fleet::measure(
                env.plan,
                &env.password_hash,
                backend,
                desks,
                env.batch_items,
            )
            .await?;
            match row {
                Some(r) => fleet_rows.push(r),
                None => {
                    progress(&format!("{backend} unreachable: its rows are skipped"));
                    break;
                }
            }
        }
    }
    if args.classic {
        let queries = measure_queries(&env, &args).await?;
        progress(&format!("batch create: {} items", env.batch_items));
        let batch = scenarios::batch_create(&env).await?;
        let r = report::Report {
            plan: env.plan,
            query: env.query,
            load_before: load_before.clone(),
            ceiling: ceiling.clone(),
            queries,
            batch,
        };
        print!("{}", report::render(&r));
    } else {
        print!("{}", report::header_only(env.plan, &load_before, &ceiling));
    }
    print!("{}", fleet_report::render(&fleet_rows, &ceiling));
    eprintln!(
        "deskd-bench: 1-min load average {} at the start, {} at the end",
        load_before,
        report::load_average()
    );
    Ok(())
}

/// Loads the bare hyper server with the same request shape deskd gets.
async fn measure_ceiling(plan: Plan) -> anyhow::Result<Summary> {
    let server = ceiling::start().await?;
    let target = Target::one(
        server.addr(),
        Method::PUT,
        "/v1/hello",
        None,
        bytes::Bytes::from_static(br#"{"content":{"page":0,"limit":20}}"#),
    );
    let summary = load::run(&target, plan).await;
    server.stop().await?;
    summary
}

/// Every (backend, size) query row; once PostgreSQL is unreachable its other rows are skipped
/// without trying again.
async fn measure_queries(env: &Env, args: &Args) -> anyhow::Result<Vec<QueryRow>> {
    let mut rows = Vec::new();
    for backend in args.backends() {
        let mut skip: Option<String> = None;
        for desks in args.sizes() {
            if let Some(why) = &skip {
                rows.push(QueryRow {
                    backend,
                    desks,
                    seeding: None,
                    outcome: Outcome::Skipped(why.clone()),
                    uncached: None,
                    notes: Vec::new(),
                });
                continue;
            }
            progress(&format!(
                "{} on {backend}, {desks} desks",
                env.query.label()
            ));
            let row = scenarios::pagequery(env, backend, desks).await?;
            if let Outcome::Skipped(why) = &row.outcome {
                skip = Some(why.clone());
            }
            rows.push(row);
        }
    }
    Ok(rows)
}

fn progress(what: &str) {
    eprintln!("deskd-bench: {what} …");
}
