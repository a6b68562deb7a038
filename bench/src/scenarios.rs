//! The rows of the report that involve deskd: the paged desk query over N seeded desks, and
//! batch creation. Each row gets its own data directory, database and server, so rows never
//! see each other's data, caches or leftover tasks.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use bytes::Bytes;
use clap::ValueEnum;
use deskd_domain::model::Inventory;
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::client::{Answer, Client};
use crate::db::{Backend, Database};
use crate::load::{self, Plan, Target};
use crate::seed;
use crate::server::{deskd_config, start_deskd, ServerThread};
use crate::stats::Summary;

/// How long a batch may take before the run gives up on it.
const BATCH_TIMEOUT: Duration = Duration::from_secs(600);
/// Page size of the measured query.
const PAGE: usize = 20;

/// Which paged query the rows measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueryKind {
    /// `PUT /v1/desk:pagequery`, RUNNING desks sorted by name (the real target).
    Desk,
    /// `PUT /v1/desk_strategy:pagequery`, the first page (a stand-in while the desk query is
    /// being written).
    Strategy,
}

impl QueryKind {
    pub fn path(self) -> &'static str {
        match self {
            QueryKind::Desk => "/v1/desk:pagequery",
            QueryKind::Strategy => "/v1/desk_strategy:pagequery",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            QueryKind::Desk => "desk:pagequery",
            QueryKind::Strategy => "desk_strategy:pagequery",
        }
    }

    fn body(self) -> Value {
        match self {
            QueryKind::Desk => json!({"content": {
                "page": 0,
                "limit": PAGE,
                "match_arr": [{"field_name": "deskState", "match_rule": "EQ", "type": "EXACT",
                               "value_arr": ["RUNNING"]}],
                "sort_arr": [{"field_name": "desktopName", "direction": "ASC"}],
            }}),
            QueryKind::Strategy => json!({"content": {"page": 0, "limit": PAGE}}),
        }
    }

    /// The `total` the first answer must report.
    fn expected_total(self, inv: &Inventory) -> usize {
        match self {
            QueryKind::Desk => seed::running(inv),
            QueryKind::Strategy => inv.strategies.len(),
        }
    }
}

/// What the deskd rows share.
pub struct Env {
    pub plan: Plan,
    pub query: QueryKind,
    /// The one argon2 hash every seeded desktop user gets.
    pub password_hash: String,
    pub batch_items: usize,
}

/// A row's result: measured, or why not.
#[derive(Debug)]
pub enum Outcome<T> {
    Done(T),
    /// The endpoint does not exist yet (HTTP 404).
    NotAvailable(String),
    Skipped(String),
}

/// One paged-query row.
#[derive(Debug)]
pub struct QueryRow {
    pub backend: Backend,
    pub desks: usize,
    pub seeding: Option<Duration>,
    /// With the page cache on (deskd's default): what a polling client sees.
    pub outcome: Outcome<Summary>,
    /// The same load with the page cache off: the database path, for reference.
    pub uncached: Option<Summary>,
    pub notes: Vec<String>,
}

/// The figures of one batch.
#[derive(Debug)]
pub struct BatchFigures {
    pub items: usize,
    pub elapsed: Duration,
    pub task_status: String,
    pub success: usize,
    pub failure: usize,
    pub first_failure: Option<String>,
}

impl BatchFigures {
    /// Items per second from submission to the task's end.
    pub fn items_per_sec(&self) -> f64 {
        self.items as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Seeds `desks` desks on `backend`, starts deskd and loads the paged query.
pub async fn pagequery(env: &Env, backend: Backend, desks: usize) -> anyhow::Result<QueryRow> {
    let dir = tempfile::Builder::new().prefix("deskd-bench-").tempdir()?;
    let Some(db) = Database::create(backend, dir.path()).await? else {
        return Ok(QueryRow {
            backend,
            desks,
            seeding: None,
            outcome: Outcome::Skipped("PostgreSQL unreachable".into()),
            uncached: None,
            notes: Vec::new(),
        });
    };
    let row = pagequery_on(env, &db.url, dir.path(), desks).await;
    db.drop_schema().await;
    let (seeding, outcome, uncached, notes) = row?;
    Ok(QueryRow {
        backend,
        desks,
        seeding: Some(seeding),
        outcome,
        uncached,
        notes,
    })
}

type QueryParts = (Duration, Outcome<Summary>, Option<Summary>, Vec<String>);

async fn pagequery_on(
    env: &Env,
    url: &str,
    dir: &Path,
    desks: usize,
) -> anyhow::Result<QueryParts> {
    let inv = seed::with_desks(&env.password_hash, desks)?;
    let seeding = seed::load(url, &inv).await?;
    seed::write_sim_state(dir, &inv)?;
    let expected = env.query.expected_total(&inv);
    let server = start_deskd(deskd_config(dir, Some(url)), desks).await?;
    let outcome = load_query(env, &server, expected).await;
    let notes = server.listening.notes.clone();
    server.stop().await?;
    let outcome = outcome?;
    // The same data again with the page cache off: the cost of the database path.
    let uncached = match outcome {
        Outcome::Done(_) => {
            let mut cfg = deskd_config(dir, Some(url));
            cfg.page_cache = false;
            let server = start_deskd(cfg, desks).await?;
            let again = load_query(env, &server, expected).await;
            server.stop().await?;
            match again? {
                Outcome::Done(s) => Some(s),
                _ => None,
            }
        }
        _ => None,
    };
    Ok((seeding, outcome, uncached, notes))
}

/// Checks the first answer, then runs the load.
async fn load_query(
    env: &Env,
    server: &ServerThread,
    expected: usize,
) -> anyhow::Result<Outcome<Summary>> {
    let mut client = Client::new(server.addr());
    client.login().await?;
    let (path, body) = (env.query.path(), env.query.body());
    let first = client.call(Method::PUT, path, &body).await?;
    if first.status == StatusCode::NOT_FOUND {
        return Ok(Outcome::NotAvailable(format!("PUT {path}: {first}")));
    }
    check_first(&first, expected).with_context(|| format!("PUT {path}"))?;
    let target = Target::one(
        server.addr(),
        Method::PUT,
        path,
        client.authorization(),
        Bytes::from(serde_json::to_vec(&body)?),
    );
    // The server's own start-up reconciliation pass runs in the background; measure after it.
    let plan = Plan {
        warmup: env
            .plan
            .warmup
            .max(server.listening.reconcile_pass.mul_f64(1.5)),
        ..env.plan
    };
    Ok(Outcome::Done(load::run(&target, plan).await?))
}

/// The first answer must be code 0 with the expected `total` and a full first page.
fn check_first(a: &Answer, expected: usize) -> anyhow::Result<()> {
    ensure!(a.ok(), "the first answer is not code 0: {a}");
    let total = a.data()["total"].as_u64();
    ensure!(
        total == Some(expected as u64),
        "the first answer reports total {total:?}, expected {expected}: {a}"
    );
    let items = a.data()["item_arr"].as_array().map_or(0, Vec::len);
    ensure!(
        items == expected.min(PAGE),
        "the first page holds {items} items, expected {}",
        expected.min(PAGE)
    );
    Ok(())
}

/// Creates `env.batch_items` desks in one batch on a fresh SQLite database.
pub async fn batch_create(env: &Env) -> anyhow::Result<Outcome<BatchFigures>> {
    let dir = tempfile::Builder::new().prefix("deskd-bench-").tempdir()?;
    let mut inv = seed::base(&env.password_hash);
    let network_id = seed::add_bench_net(&mut inv);
    let cfg = deskd_config(dir.path(), None);
    seed::load(&cfg.database_url, &inv).await?;
    let server = start_deskd(cfg, 0).await?;
    let body = batch_body(&inv, &network_id, env.batch_items)?;
    let outcome = run_batch(&server, &body, env.batch_items).await;
    server.stop().await?;
    outcome
}

/// `desk_info_arr` of `n` items cycling over the enabled users, the strategies and the images
/// of each strategy's category, all on the bench network.
fn batch_body(inv: &Inventory, network_id: &str, n: usize) -> anyhow::Result<Value> {
    let users = seed::desk_users(inv);
    ensure!(
        !users.is_empty(),
        "the inventory has no enabled desktop user"
    );
    let items = (0..n)
        .map(|i| {
            let s = &inv.strategies[i % inv.strategies.len()];
            let images: Vec<_> = inv
                .images
                .iter()
                .filter(|im| im.category == s.category)
                .collect();
            let image = images
                .get(i % images.len().max(1))
                .with_context(|| format!("no image fits strategy {}", s.name))?;
            Ok(json!({
                "id": format!("b{:04}", i + 1),
                "user_name": users[i % users.len()],
                "image_id": image.id,
                "desk_strategy_id": s.id,
                "network_id": network_id,
            }))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(json!({"content": {"fail_rollback": false, "desk_info_arr": items}}))
}

/// Submits the batch and polls its task until it ends.
async fn run_batch(
    server: &ServerThread,
    body: &Value,
    items: usize,
) -> anyhow::Result<Outcome<BatchFigures>> {
    const PATH: &str = "/v1/desk/batch/create";
    let mut client = Client::new(server.addr());
    client.login().await?;
    let started = Instant::now();
    let submitted = client.call(Method::POST, PATH, body).await?;
    if submitted.status == StatusCode::NOT_FOUND {
        return Ok(Outcome::NotAvailable(format!("POST {PATH}: {submitted}")));
    }
    ensure!(submitted.ok(), "POST {PATH} failed: {submitted}");
    let task_id = submitted.data()["task_id"]
        .as_str()
        .with_context(|| format!("POST {PATH} answered no content.data.task_id: {submitted}"))?
        .to_string();
    let detail = poll_task(&mut client, &task_id, started, Duration::from_millis(50)).await?;
    Ok(Outcome::Done(figures(&detail, items, started.elapsed())))
}

/// Polls the task every `every` until FINISHED or ERROR (at most `BATCH_TIMEOUT` after
/// `started`); returns its last `data`.
pub(crate) async fn poll_task(
    client: &mut Client,
    task_id: &str,
    started: Instant,
    every: Duration,
) -> anyhow::Result<Value> {
    let path = format!("/v1/task/{task_id}/detail");
    loop {
        tokio::time::sleep(every).await;
        let a = client
            .call(Method::PUT, &path, &json!({"content": {}}))
            .await?;
        ensure!(a.ok(), "PUT {path} failed: {a}");
        if matches!(a.data()["task_status"].as_str(), Some("FINISHED" | "ERROR")) {
            return Ok(a.data().clone());
        }
        ensure!(
            started.elapsed() < BATCH_TIMEOUT,
            "task {task_id} still running after {BATCH_TIMEOUT:?}"
        );
    }
}

fn figures(detail: &Value, items: usize, elapsed: Duration) -> BatchFigures {
    let list = detail["task_item_list"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let with = |s: &str| list.iter().filter(|i| i["item_status"] == s).count();
    let first_failure = list
        .iter()
        .find(|i| i["item_status"] == "FAILURE")
        .map(|i| i["item_result"].as_str().unwrap_or_default().to_string());
    BatchFigures {
        items,
        elapsed,
        task_status: detail["task_status"].as_str().unwrap_or("?").to_string(),
        success: with("SUCCESS"),
        failure: with("FAILURE"),
        first_failure,
    }
}
