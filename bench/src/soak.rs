//! The soak (issue 19): a seeded mix of what clients do all day — desk pages, desk actions,
//! user batches, metrics queries, desks created and deleted — sent at a steady rate for a long
//! time, while the server's resident memory and open file descriptors are sampled from /proc.
//! A leak shows as a figure that keeps climbing after the warm-up instead of levelling off.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use deskd_domain::enums::DeskState;
use deskd_domain::model::Inventory;
use deskd_wire::codes;
use hyper::Method;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::client::{Answer, Client};
use crate::fleet::page_mix;

/// What one process holds, read from `/proc/<pid>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcFigures {
    pub rss_mib: f64,
    pub fds: usize,
    pub threads: usize,
}

/// `VmRSS` and `Threads` of `/proc/<pid>/status` and the entries of `/proc/<pid>/fd`; `pid` may
/// be `self`.
pub fn proc_figures(pid: &str) -> Option<ProcFigures> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |key: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some(ProcFigures {
        rss_mib: field("VmRSS:")? / 1024.0,
        fds,
        threads: field("Threads:").unwrap_or(0.0) as usize,
    })
}

/// Counters the workers share with the sampler.
#[derive(Default)]
pub struct Tally {
    pub requests: AtomicU64,
    /// Answers that are not code 0 / `success` and are not a refusal the mix expects.
    pub errors: AtomicU64,
    /// Answers in [`EXPECTED_REFUSALS`].
    pub refused: AtomicU64,
    pub first_error: Mutex<Option<String>>,
    /// Expected refusals by what was asked and the code answered.
    pub refusals: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Tally {
    fn count(&self, what: &str, result: anyhow::Result<Answer>, ok: impl Fn(&Answer) -> bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let why = match result {
            Ok(a) if ok(&a) => return,
            Ok(a) if a.code().is_some_and(|c| EXPECTED_REFUSALS.contains(&c)) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                let what = what
                    .split(['/', ':'])
                    .rfind(|p| !p.is_empty())
                    .unwrap_or(what);
                if let Ok(mut r) = self.refusals.lock() {
                    *r.entry(format!("{what} {}", a.code().unwrap_or(0)))
                        .or_default() += 1;
                }
                return;
            }
            Ok(a) => format!("{what}: {a}"),
            Err(e) => format!("{what}: {e:#}"),
        };
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert(why);
        }
    }
}

/// Refusals a mix of concurrent writers runs into: a desk still moving from an earlier action,
/// a user deleted before the task creating it ran, a user given a desk by a batch meanwhile.
const EXPECTED_REFUSALS: [u64; 3] = [
    codes::DESK_STATE_FORBIDS as u64,
    codes::USER_NOT_FOUND as u64,
    codes::USER_HAS_DESKS as u64,
];

/// Shares of the mix, in percent.
const PAGES: u32 = 45;
const ACTIONS: u32 = 20;
const USERS: u32 = 12;
const METRICS: u32 = 15;
// the rest (8 %): desks created in small batches and deleted again

/// Users a worker keeps created at most, and desks it keeps created at most.
const OWN_USERS: usize = 10;
const OWN_TASKS: usize = 4;

/// What the workers know of the fleet: the seeded desks' last accepted states.
pub struct Fleet {
    pub desks: Mutex<HashMap<String, DeskState>>,
    pub users: Vec<String>,
    pub network_id: String,
    pub image_id: String,
    pub strategy_id: String,
    pages: Vec<(String, Bytes)>,
}

impl Fleet {
    pub fn new(inv: &Inventory, network_id: &str) -> anyhow::Result<Fleet> {
        let strategy = inv
            .strategies
            .first()
            .ok_or_else(|| anyhow::anyhow!("no strategy"))?;
        let image = inv
            .images
            .iter()
            .find(|i| i.category == strategy.category)
            .ok_or_else(|| anyhow::anyhow!("no image fits strategy {}", strategy.name))?;
        Ok(Fleet {
            desks: Mutex::new(
                inv.desks
                    .iter()
                    .map(|d| (d.id.to_string(), d.state))
                    .collect(),
            ),
            users: crate::seed::desk_users(inv),
            network_id: network_id.to_string(),
            image_id: image.id.to_string(),
            strategy_id: strategy.id.to_string(),
            pages: page_mix(inv),
        })
    }
}

/// One worker: a seeded stream of operations at `per_sec` until `until`.
pub struct Worker {
    pub n: usize,
    pub client: Client,
    pub rng: StdRng,
    pub fleet: Arc<Fleet>,
    pub tally: Arc<Tally>,
    users: VecDeque<String>,
    created: u64,
    create_tasks: VecDeque<String>,
}

impl Worker {
    pub async fn new(
        n: usize,
        seed: u64,
        addr: SocketAddr,
        fleet: Arc<Fleet>,
        tally: Arc<Tally>,
    ) -> anyhow::Result<Worker> {
        let mut client = Client::new(addr);
        client.login().await?;
        Ok(Worker {
            n,
            client,
            rng: StdRng::seed_from_u64(seed.wrapping_add(n as u64)),
            fleet,
            tally,
            users: VecDeque::new(),
            created: 0,
            create_tasks: VecDeque::new(),
        })
    }

    /// Sends operations at `per_sec` until `until`; without `churn` the desk create/delete
    /// share goes to desk pages.
    pub async fn run(mut self, per_sec: f64, until: Instant, churn: bool) {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_sec.max(0.01)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while Instant::now() < until {
            tick.tick().await;
            let roll = self.rng.gen_range(0..100);
            match roll {
                r if r < PAGES => self.page().await,
                r if r < PAGES + ACTIONS => self.desk_action().await,
                r if r < PAGES + ACTIONS + USERS => self.user_batch().await,
                r if r < PAGES + ACTIONS + USERS + METRICS => self.metrics().await,
                _ if churn => self.desk_churn().await,
                _ => self.page().await,
            }
        }
    }

    async fn page(&mut self) {
        let (path, body) = self.fleet.pages[self.rng.gen_range(0..self.fleet.pages.len())].clone();
        let r = self.client.send(Method::PUT, &path, body).await;
        self.tally.count("desk:pagequery", r, Answer::ok);
    }

    /// Starts a CLOSE/SLEEP desk, shuts down or powers off a RUNNING one, powers off an ERROR
    /// one; the desk's state as this process last made it decides.
    async fn desk_action(&mut self) {
        let (id, state) = {
            let desks = self.fleet.desks.lock().unwrap_or_else(|e| e.into_inner());
            let i = self.rng.gen_range(0..desks.len().max(1));
            match desks.iter().nth(i) {
                Some((id, s)) => (id.clone(), *s),
                None => return,
            }
        };
        let (verb, after) = match state {
            DeskState::CLOSE | DeskState::SLEEP => ("start", DeskState::RUNNING),
            DeskState::RUNNING if self.rng.gen_bool(0.5) => ("shutdown", DeskState::CLOSE),
            _ => ("powerOff", DeskState::CLOSE),
        };
        let path = format!("/v1/desk/{id}:{verb}");
        let r = self
            .client
            .call(Method::PUT, &path, &json!({"content": {}}))
            .await;
        if r.as_ref().is_ok_and(Answer::ok) {
            if let Ok(mut desks) = self.fleet.desks.lock() {
                desks.insert(id, after);
            }
        }
        self.tally.count(&path, r, Answer::ok);
    }

    /// Creates a user of its own, deletes its oldest one once it holds [`OWN_USERS`], or
    /// disables/enables a handful of fleet users in one batch.
    async fn user_batch(&mut self) {
        match self.rng.gen_range(0..3) {
            0 if self.users.len() >= OWN_USERS => {
                let Some(name) = self.users.pop_front() else {
                    return;
                };
                let body = json!({"content": {"user_name": name}});
                let r = self
                    .client
                    .call(Method::POST, "/v1/user/delete", &body)
                    .await;
                self.tally.count("/v1/user/delete", r, Answer::ok);
            }
            0 => {
                self.created += 1;
                let name = format!("soak{}u{}", self.n, self.created);
                let body = json!({"content": {"user_name": name, "user_group_name": "soak/users",
                    "real_name": name, "password": "Soak@2026", "user_type": "NORMAL"}});
                let r = self
                    .client
                    .call(Method::POST, "/v1/user/create", &body)
                    .await;
                if r.as_ref().is_ok_and(Answer::ok) {
                    self.users.push_back(name);
                }
                self.tally.count("/v1/user/create", r, Answer::ok);
            }
            verb => {
                let path = if verb == 1 {
                    "/v1/user/batch/disableUser"
                } else {
                    "/v1/user/batch/enableUser"
                };
                let start = self.rng.gen_range(0..self.fleet.users.len().max(1));
                let names: Vec<&String> = self
                    .fleet
                    .users
                    .iter()
                    .cycle()
                    .skip(start)
                    .take(5)
                    .collect();
                let body = json!({"content": {"user_arr": names}});
                let r = self.client.call(Method::POST, path, &body).await;
                self.tally.count(path, r, Answer::ok);
            }
        }
    }

    /// A dashboard's question: an instant catalogue query or ten minutes of a range.
    async fn metrics(&mut self) {
        const QUERIES: [&str; 4] = [
            "up{job='node'}",
            "max without (compute_cluster_id) ((1 - avg(rate(node_cpu_seconds_total{mode='idle'}[5m])) by (host_id,instance,ip_addr))*100)",
            "topk(10, vm_mem_used_bytes/(vm_mem_used_bytes+vm_mem_avai_bytes)*100)",
            "sum by (state) (deskd_desks)",
        ];
        let q: String = form_urlencoded::byte_serialize(
            QUERIES[self.rng.gen_range(0..QUERIES.len())].as_bytes(),
        )
        .collect();
        let now = deskd_domain::model::now_ms() / 1000;
        let path = if self.rng.gen_bool(0.5) {
            format!("/api/v1/query?query={q}")
        } else {
            format!(
                "/api/v1/query_range?query={q}&start={}&end={now}&step=15",
                now - 600
            )
        };
        let r = self.client.send(Method::GET, &path, Bytes::new()).await;
        self.tally.count("/api/v1/query", r, |a| {
            a.status.is_success() && a.body["status"] == "success"
        });
    }

    /// Creates five desks in one batch, or deletes the desks of its oldest finished batch.
    async fn desk_churn(&mut self) {
        if self.create_tasks.len() >= OWN_TASKS
            || (self.rng.gen_bool(0.5) && !self.create_tasks.is_empty())
        {
            if let Some(task) = self.create_tasks.pop_front() {
                self.delete_created(&task).await;
            }
            return;
        }
        let items: Vec<Value> = (0..5)
            .map(|_| {
                let user = &self.fleet.users[self.rng.gen_range(0..self.fleet.users.len().max(1))];
                json!({"user_name": user, "image_id": self.fleet.image_id,
                       "desk_strategy_id": self.fleet.strategy_id, "network_id": self.fleet.network_id})
            })
            .collect();
        let body = json!({"content": {"desk_info_arr": items}});
        let r = self
            .client
            .call(Method::POST, "/v1/desk/batch/create", &body)
            .await;
        if let Ok(a) = &r {
            if let Some(t) = a.data()["task_id"].as_str().filter(|_| a.ok()) {
                self.create_tasks.push_back(t.to_string());
            }
        }
        self.tally.count("/v1/desk/batch/create", r, Answer::ok);
    }

    /// Deletes the desks a create task made (once it has ended; else it is kept for later).
    async fn delete_created(&mut self, task: &str) {
        let path = format!("/v1/task/{task}/detail");
        let r = self
            .client
            .call(Method::PUT, &path, &json!({"content": {}}))
            .await;
        let ids: Option<Vec<Value>> = match &r {
            Ok(a) if a.ok() && a.data()["task_status"] != "RUNNING" => Some(
                a.data()["task_item_list"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i["item_biz_data"]["desk_id"].as_str())
                    .map(|id| json!({"desk_id": id}))
                    .collect(),
            ),
            _ => None,
        };
        self.tally.count(&path, r, Answer::ok);
        match ids {
            None => self.create_tasks.push_back(task.to_string()),
            Some(ids) if ids.is_empty() => {}
            Some(ids) => {
                let body = json!({"content": {"desk_info_arr": ids}});
                let r = self
                    .client
                    .call(Method::POST, "/v1/desk/batch/delete", &body)
                    .await;
                self.tally.count("/v1/desk/batch/delete", r, Answer::ok);
            }
        }
    }
}
