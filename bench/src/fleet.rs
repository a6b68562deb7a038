//! The fleet rows (issue 16): deskd over N desks and N desktop users as a real site uses them,
//! always on the database path (the reply cache off, so no row can be a cached answer).
//!
//! Per backend and N: a mixed paged query (a seeded mix of pages up to the last, sort fields
//! and directions, half with a state filter) while a writer starts and powers off desks at a
//! steady 50 actions/s; desk detail of random desks; the user list at random pages; a batch
//! create of 1000 desks into the fleet (the submit's latency and items/s), then the detail of
//! that 1000-item task; and the start-up reconcile pass and one fleet scrape (wall and CPU).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use bytes::Bytes;
use deskd_domain::enums::DeskState;
use deskd_domain::model::Inventory;
use hyper::Method;
use serde_json::{json, Value};

use crate::client::Client;
use crate::db::{Backend, Database};
use crate::load::{self, Plan, Target};
use crate::seed;
use crate::server::{deskd_config, start_deskd, ServerThread};
use crate::stats::Summary;

/// Page size of every paged row.
const PAGE: usize = 20;
/// The writer's steady rate.
pub const WRITER_PER_SEC: u64 = 50;
/// Requests in a seeded mix.
const MIX: usize = 4096;

/// What one (backend, N) measured.
#[derive(Debug)]
pub struct FleetRow {
    pub backend: Backend,
    pub desks: usize,
    pub seeding: Duration,
    pub mixed: Summary,
    pub writer: WriterFigures,
    /// Resident set size of the process (server and generator) sampled each second during the
    /// mixed row: first, last and highest, in MiB.
    pub rss_mib: (f64, f64, f64),
    pub desk_detail: Summary,
    pub user_list: Summary,
    pub task_detail: Summary,
    pub batch_submit: Duration,
    pub batch_total: Duration,
    pub batch_success: usize,
    pub batch_items: usize,
    pub batch_first_failure: Option<String>,
    /// Wall and CPU time of one reconcile pass and of one fleet scrape.
    pub reconcile: (Duration, Duration),
    pub scrape: (Duration, Duration),
}

/// What the writer did during the mixed row.
#[derive(Debug, Default)]
pub struct WriterFigures {
    pub actions: u64,
    pub errors: u64,
    pub first_error: Option<String>,
}

/// Seeds N desks and users on `backend`, starts deskd with the reply cache off and measures
/// every fleet row; `None` when the backend is unreachable.
pub async fn measure(
    plan: Plan,
    password_hash: &str,
    backend: Backend,
    desks: usize,
    batch: usize,
) -> anyhow::Result<Option<FleetRow>> {
    let dir = tempfile::Builder::new().prefix("deskd-bench-").tempdir()?;
    let Some(db) = Database::create(backend, dir.path()).await? else {
        return Ok(None);
    };
    let row = measure_on(
        plan,
        password_hash,
        backend,
        &db.url,
        dir.path(),
        desks,
        batch,
    )
    .await;
    db.drop_schema().await;
    row.map(Some)
}

async fn measure_on(
    plan: Plan,
    password_hash: &str,
    backend: Backend,
    url: &str,
    dir: &Path,
    desks: usize,
    batch: usize,
) -> anyhow::Result<FleetRow> {
    let (inv, net) = seed::fleet(password_hash, desks)?;
    let seeding = seed::load(url, &inv).await?;
    seed::write_sim_state(dir, &inv)?;
    let mut cfg = deskd_config(dir, Some(url));
    cfg.page_cache = false;
    let server = start_deskd(cfg, desks).await?;
    let out = rows(plan, &server, &inv, &net, batch).await;
    let (reconcile, scrape) = (
        server.listening.reconcile_cost,
        server.listening.scrape_cost,
    );
    server.stop().await?;
    let r = out?;
    Ok(FleetRow {
        backend,
        desks,
        seeding,
        reconcile,
        scrape,
        ..r
    })
}

async fn rows(
    plan: Plan,
    server: &ServerThread,
    inv: &Inventory,
    net: &str,
    batch: usize,
) -> anyhow::Result<FleetRow> {
    let mut client = Client::new(server.addr());
    client.login().await?;
    let auth = client.authorization();
    let target = |mix: Vec<(String, Bytes)>, method: Method| Target {
        mix: Arc::new(mix),
        ..Target::one(server.addr(), method, "/", auth.clone(), Bytes::new())
    };
    // the start-up reconcile pass runs in the background: let it finish first
    let warm = plan
        .warmup
        .max(server.listening.reconcile_cost.0.mul_f64(1.5));
    let plan = Plan {
        warmup: warm,
        ..plan
    };

    let rss = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sampler = tokio::spawn(sample_rss(rss.clone(), plan.warmup + plan.duration));
    let writer = tokio::spawn(write_states(
        Client::new(server.addr()),
        inv.clone(),
        plan.warmup + plan.duration,
    ));
    let mixed = load::run(&target(page_mix(inv), Method::PUT), plan).await?;
    let writer = writer.await.context("the writer panicked")??;
    let _ = sampler.await;
    let rss_mib = {
        let v = rss.lock().map(|v| v.clone()).unwrap_or_default();
        let max = v.iter().copied().fold(0.0, f64::max);
        (
            v.first().copied().unwrap_or(0.0),
            v.last().copied().unwrap_or(0.0),
            max,
        )
    };

    let short = Plan {
        warmup: Duration::from_secs(1),
        duration: plan.duration.min(Duration::from_secs(5)),
        ..plan
    };
    let desk_detail = load::run(&target(desk_detail_mix(inv), Method::PUT), short).await?;
    let user_list = load::run(&target(user_mix(inv), Method::POST), short).await?;

    let body = batch_body(inv, net, batch)?;
    let (submit, total, detail, task_id) = run_batch(&mut client, &body).await?;
    let list = detail["task_item_list"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let success = list
        .iter()
        .filter(|i| i["item_status"] == "SUCCESS")
        .count();
    let first_failure = list
        .iter()
        .find(|i| i["item_status"] == "FAILURE")
        .map(|i| i["item_result"].to_string());
    let path = format!("/v1/task/{task_id}/detail");
    let task_mix = vec![(path, Bytes::from_static(br#"{"content":{}}"#))];
    let task_detail = load::run(&target(task_mix, Method::PUT), short).await?;
    Ok(FleetRow {
        backend: Backend::Sqlite,
        desks: 0,
        seeding: Duration::ZERO,
        mixed,
        writer,
        rss_mib,
        desk_detail,
        user_list,
        task_detail,
        batch_submit: submit,
        batch_total: total,
        batch_success: success,
        batch_items: batch,
        batch_first_failure: first_failure,
        reconcile: Default::default(),
        scrape: Default::default(),
    })
}

/// A small deterministic generator, so every run sends the same mix.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// The mixed desk pages: a sort field (or none) and direction, half of them filtered by one
/// state, and a page anywhere from the first to the last of what the filter matches.
pub fn page_mix(inv: &Inventory) -> Vec<(String, Bytes)> {
    const SORTS: [&str; 7] = [
        "desktopName",
        "deskState",
        "ip",
        "userName",
        "imageName",
        "createTime",
        "",
    ];
    const STATES: [DeskState; 4] = [
        DeskState::RUNNING,
        DeskState::CLOSE,
        DeskState::SLEEP,
        DeskState::ERROR,
    ];
    let count = |s: DeskState| inv.desks.iter().filter(|d| d.state == s).count();
    let by_state: Vec<usize> = STATES.iter().map(|s| count(*s)).collect();
    let mut rng = Lcg(16);
    (0..MIX)
        .map(|_| {
            let mut q = json!({"page": 0, "limit": PAGE});
            let sort = SORTS[rng.below(SORTS.len())];
            if !sort.is_empty() {
                let dir = ["ASC", "DESC"][rng.below(2)];
                q["sort_arr"] = json!([{"field_name": sort, "direction": dir}]);
            }
            let matching = if rng.below(2) == 0 {
                let i = rng.below(STATES.len());
                q["match_arr"] = json!([{"field_name": "deskState", "match_rule": "EQ",
                    "type": "EXACT", "value_arr": [STATES[i].as_str()]}]);
                by_state[i]
            } else {
                inv.desks.len()
            };
            q["page"] = json!(rng.below(matching.div_ceil(PAGE).max(1)));
            let body = serde_json::to_vec(&json!({ "content": q })).unwrap_or_default();
            ("/v1/desk:pagequery".to_string(), Bytes::from(body))
        })
        .collect()
}

fn desk_detail_mix(inv: &Inventory) -> Vec<(String, Bytes)> {
    let mut rng = Lcg(17);
    (0..MIX)
        .map(|_| {
            let d = &inv.desks[rng.below(inv.desks.len())];
            (
                format!("/v1/desk/{}/detail", d.id),
                Bytes::from_static(br#"{"content":{}}"#),
            )
        })
        .collect()
}

fn user_mix(inv: &Inventory) -> Vec<(String, Bytes)> {
    let mut rng = Lcg(18);
    let pages = inv.users.len().div_ceil(PAGE);
    (0..MIX)
        .map(|_| {
            let q = json!({"content": {"page": rng.below(pages), "limit": PAGE}});
            let body = serde_json::to_vec(&q).unwrap_or_default();
            ("/v1/user/list".to_string(), Bytes::from(body))
        })
        .collect()
}

/// Starts CLOSE desks and powers off RUNNING ones, alternately, at [`WRITER_PER_SEC`] through
/// the API until `for_how_long` has passed; each seeded desk is acted on at most once, so the
/// state the writer expects is the state the desk has.
async fn write_states(
    mut client: Client,
    inv: Inventory,
    for_how_long: Duration,
) -> anyhow::Result<WriterFigures> {
    client.login().await?;
    let pick = |s: DeskState| -> Vec<String> {
        inv.desks
            .iter()
            .filter(|d| d.state == s)
            .map(|d| d.id.to_string())
            .collect()
    };
    let (mut closed, mut running) = (pick(DeskState::CLOSE), pick(DeskState::RUNNING));
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / WRITER_PER_SEC));
    let until = Instant::now() + for_how_long;
    let mut f = WriterFigures::default();
    while Instant::now() < until {
        tick.tick().await;
        let (list, verb) = match f.actions % 2 {
            0 => (&mut closed, "start"),
            _ => (&mut running, "powerOff"),
        };
        let Some(id) = list.pop() else { break };
        let path = format!("/v1/desk/{id}:{verb}");
        f.actions += 1;
        match client
            .call(Method::PUT, &path, &json!({"content": {}}))
            .await
        {
            Ok(a) if a.ok() => {}
            Ok(a) => {
                f.errors += 1;
                f.first_error.get_or_insert(format!("PUT {path}: {a}"));
            }
            Err(e) => {
                f.errors += 1;
                f.first_error.get_or_insert(format!("PUT {path}: {e:#}"));
            }
        }
    }
    Ok(f)
}

/// Samples this process's resident set size (MiB) once a second.
async fn sample_rss(out: Arc<std::sync::Mutex<Vec<f64>>>, for_how_long: Duration) {
    let until = Instant::now() + for_how_long;
    while Instant::now() < until {
        if let Some(mib) = rss_mib() {
            if let Ok(mut v) = out.lock() {
                v.push(mib);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `VmRSS` of `/proc/self/status`, in MiB.
pub fn rss_mib() -> Option<f64> {
    crate::soak::proc_figures("self").map(|f| f.rss_mib)
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat` (in clock
/// ticks of 1/100 s, Linux's `USER_HZ`).
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // the fields after the command name (which may hold spaces) start after the last ')';
    // utime and stime are fields 14 and 15, the 12th and 13th after it
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// `desk_info_arr` of `n` items for users that have one desk each (so names are generated),
/// on the bench network.
fn batch_body(inv: &Inventory, network_id: &str, n: usize) -> anyhow::Result<Value> {
    let users = seed::desk_users(inv);
    ensure!(!users.is_empty(), "the inventory has no desktop user");
    let items = (0..n)
        .map(|i| {
            let s = &inv.strategies[i % inv.strategies.len()];
            let image = inv
                .images
                .iter()
                .find(|im| im.category == s.category)
                .with_context(|| format!("no image fits strategy {}", s.name))?;
            Ok(json!({
                "id": format!("fb{:04}", i + 1),
                "user_name": users[(i * 97) % users.len()],
                "image_id": image.id,
                "desk_strategy_id": s.id,
                "network_id": network_id,
            }))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(json!({"content": {"fail_rollback": false, "desk_info_arr": items}}))
}

/// Submits a batch; returns the submit's latency, the time to the task's end, its last detail
/// and its id.
async fn run_batch(
    client: &mut Client,
    body: &Value,
) -> anyhow::Result<(Duration, Duration, Value, String)> {
    const PATH: &str = "/v1/desk/batch/create";
    let started = Instant::now();
    let submitted = client.call(Method::POST, PATH, body).await?;
    let submit = started.elapsed();
    ensure!(submitted.ok(), "POST {PATH} failed: {submitted}");
    let task_id = submitted.data()["task_id"]
        .as_str()
        .context("no task_id")?
        .to_string();
    let detail =
        crate::scenarios::poll_task(client, &task_id, started, Duration::from_millis(20)).await?;
    Ok((submit, started.elapsed(), detail, task_id))
}
