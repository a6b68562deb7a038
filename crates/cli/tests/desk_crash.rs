//! SIGKILL the server in the middle of its work and start it again, on SQLite and on PostgreSQL:
//! - once during a 500-desk batch create: the task ends with every item recorded exactly once,
//!   and the hypervisor holds exactly the desks the database holds;
//! - at 20 seeded random points of a mixed workload (batch desk creates and deletes, desk
//!   start/shutdown/powerOff/restart, user creates, deletes and batch enable/disable from three
//!   clients): after every restart each answered task ends with each of its items recorded
//!   exactly once, unanswered creates sent again produce no second desk, no desk stays in a
//!   transitional state, and the hypervisor's VMs are the database's desks, powered as their
//!   states say. The seed is printed; `DESKD_CRASH_SEED=<n>` replays its operations and kill
//!   times (the interleaving still depends on the machine).
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

mod common;

use deskd_domain::ids::HostId;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::*;
use deskd_compute::{Hypervisor, PowerState, SimConfig, SimDriver};
use deskd_domain::enums::*;
use deskd_domain::model::*;
use deskd_domain::store::*;
use serde_json::{json, Value};

const DESKS: usize = 500;

fn url_of(db: &Db, dir: &std::path::Path) -> String {
    match db {
        Db::Sqlite => sqlite_url(dir),
        Db::Postgres(u) => u.clone(),
    }
}

/// A data directory migrated by one start of deskd and seeded with [`seed_room`]: the
/// directory, the store opened on it and the room's network id.
async fn seeded_dir(db: &Db) -> (std::path::PathBuf, deskd_store::SqlStore, String) {
    let dir = fresh_dir();
    assert!(Server::start_in(dir.clone(), db.clone(), &[], true)
        .terminate()
        .success());
    let store = deskd_store::SqlStore::open(&url_of(db, &dir))
        .await
        .unwrap();
    let network_id = seed_room(&store).await;
    (dir, store, network_id)
}

/// A host and a network big enough for the batch, added while the server is stopped.
async fn seed_room(store: &deskd_store::SqlStore) -> String {
    let cluster_id = store.list_hosts().await.unwrap()[0].cluster_id.clone();
    let now = now_ms();
    let host = Host {
        id: HostId::generate(),
        cluster_id: cluster_id.clone(),
        name: "crash-host".into(),
        ip: "10.20.0.99".into(),
        cpu_cores: 4096,
        memory_gb: 16384,
        storage_gb: 1_000_000,
        cpu_overcommit: 1.0,
        memory_overcommit: 1.0,
        state: HostState::ENABLED,
        driver: HostDriver::Sim,
        created_at: now,
        exporter_url: None,
        uri: None,
    };
    let net = Network {
        id: uuid::Uuid::new_v4().to_string().into(),
        cluster_id,
        name: "crash-net".into(),
        cidr: "10.64.0.0/16".into(),
        gateway: "10.64.0.1".into(),
        dns_primary: "10.64.0.2".into(),
        dns_secondary: "10.64.0.3".into(),
        vlan: None,
        pool_start: "10.64.0.10".into(),
        pool_end: "10.64.3.250".into(),
        state: NetworkState::AVAILABLE,
        creator: "test".into(),
        created_at: now,
    };
    let inv = Inventory {
        hosts: vec![host],
        networks: vec![net.clone()],
        ..Default::default()
    };
    store.load_inventory(&inv).await.unwrap();
    net.id.into()
}

async fn first(s: &Server, t: &str, path: &str) -> Value {
    let (_, b) = s
        .call(
            "PUT",
            path,
            Some(json!({"content": {"page": 0, "limit": 1}})),
            Some(t),
        )
        .await;
    b["content"]["data"]["item_arr"][0].clone()
}

async fn task(s: &Server, t: &str, id: &str) -> Value {
    let (_, b) = s
        .call("GET", &format!("/v1/task/{id}/detail"), None, Some(t))
        .await;
    b["content"]["data"].clone()
}

fn successes(task: &Value) -> usize {
    task["task_item_list"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|i| i["item_biz_status"] == "SUCCESS")
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn sigkill_during_a_500_desk_batch_create() {
    for db in Db::all().await {
        let (dir, store, network_id) = seeded_dir(&db).await;

        let flags = ["--sim-latency-ms", "10", "--task-concurrency", "8"];
        let mut s = Server::start_in(dir.clone(), db.clone(), &flags, true);
        let t = s.admin_token().await;
        let desk = first(&s, &t, "/v1/desk:pagequery").await;
        let strategy = first(&s, &t, "/v1/desk_strategy:pagequery").await;
        let items: Vec<Value> = (0..DESKS)
            .map(|i| {
                json!({"id": format!("c{i:04}"), "user_name": "user01", "image_id": desk["image_id"],
                       "desk_strategy_id": strategy["id"], "network_id": network_id})
            })
            .collect();
        let (_, b) = s
            .call(
                "POST",
                "/v1/desk/batch/create",
                Some(json!({"content": {"desk_info_arr": items}})),
                Some(&t),
            )
            .await;
        assert_eq!(code(&b), 0, "{b}");
        let task_id = b["content"]["data"]["task_id"]
            .as_str()
            .unwrap()
            .to_string();

        let deadline = Instant::now() + Duration::from_secs(120);
        while successes(&task(&s, &t, &task_id).await) < DESKS / 5 {
            assert!(Instant::now() < deadline, "no progress before the kill");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        s.child.kill().unwrap(); // SIGKILL, mid-batch
        s.child.wait().unwrap();
        drop(s);

        let s = Server::start_in(dir.clone(), db.clone(), &flags, true);
        let t = s.admin_token().await;
        let done = loop {
            let d = task(&s, &t, &task_id).await;
            if d["task_status"] != "RUNNING" {
                break d;
            }
            assert!(
                Instant::now() < deadline + Duration::from_secs(120),
                "the task did not finish after the restart"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(
            done["task_status"], "FINISHED",
            "{db:?}: {}",
            done["error_message"]
        );
        let list = done["task_item_list"].as_array().unwrap();
        assert_eq!(list.len(), DESKS);
        let mut desk_ids: Vec<&str> = list
            .iter()
            .map(|i| i["item_biz_data"]["desk_id"].as_str().unwrap())
            .collect();
        desk_ids.sort();
        desk_ids.dedup();
        assert_eq!(desk_ids.len(), DESKS, "one desk per item");
        assert_eq!(done["resource_list"].as_array().unwrap().len(), DESKS);
        assert!(s.terminate().success());

        // exactly the desks of the database, no more, on the hypervisor
        let db_desks = store.list_all_desks().await.unwrap();
        assert_eq!(db_desks.len(), 10 + DESKS, "{db:?}: no desk created twice");
        assert!(db_desks.iter().all(|d| d.state != DeskState::CREATING));
        assert_driver_matches(&db, &dir, &db_desks).await;
    }
}

/// The simulated hypervisor's VMs, read from the state it keeps in the data directory.
async fn driver_vms(dir: &std::path::Path) -> Vec<deskd_compute::VmInfo> {
    let driver = SimDriver::try_new(SimConfig {
        state_file: Some(dir.join("sim-state.json")),
        ..SimConfig::instant()
    })
    .unwrap();
    driver.list().await.unwrap()
}

/// The hypervisor holds exactly the desks of the database, each powered as its state says.
async fn assert_driver_matches(db: &Db, dir: &std::path::Path, desks: &[Desk]) {
    let vms = driver_vms(dir).await;
    let power: HashMap<&str, PowerState> = vms
        .iter()
        .map(|v| (v.spec.vm_id.as_str(), v.power))
        .collect();
    let rows: HashSet<&str> = desks.iter().map(|d| d.id.as_str()).collect();
    let only_driver: Vec<_> = power.keys().filter(|v| !rows.contains(*v)).collect();
    let only_db: Vec<_> = rows.iter().filter(|r| !power.contains_key(*r)).collect();
    assert!(
        only_driver.is_empty() && only_db.is_empty(),
        "{db:?}: VMs without a desk {only_driver:?}; desks without a VM {only_db:?}"
    );
    for d in desks {
        let p = power[d.id.as_str()];
        let agrees = match d.state {
            DeskState::RUNNING => p == PowerState::Running,
            DeskState::CLOSE => p == PowerState::Stopped,
            DeskState::SLEEP => p == PowerState::Paused,
            _ => true,
        };
        assert!(
            agrees,
            "{db:?}: desk {} is {} but its VM is {p:?}",
            d.id, d.state
        );
    }
}

// ---- SIGKILL at seeded random points of a mixed workload --------------------------------------

/// Kills per database.
const KILLS: usize = 20;

/// States a desk only passes through: none may remain once the work after a restart is done.
fn transitional(s: DeskState) -> bool {
    !matches!(
        s,
        DeskState::RUNNING
            | DeskState::CLOSE
            | DeskState::SLEEP
            | DeskState::ERROR
            | DeskState::OFF_LINE
    )
}

fn name(db: &Db) -> &'static str {
    match db {
        Db::Sqlite => "SQLite",
        Db::Postgres(_) => "PostgreSQL",
    }
}

/// `DESKD_CRASH_SEED` replays a run; otherwise a fresh seed, printed.
fn crash_seed() -> u64 {
    let seed = match std::env::var("DESKD_CRASH_SEED") {
        Ok(v) => v.parse().expect("DESKD_CRASH_SEED is an unsigned integer"),
        Err(_) => rand::random(),
    };
    println!("mixed crash test seed {seed} (replay: DESKD_CRASH_SEED={seed})");
    seed
}

/// A task whose submit was answered, not yet checked after a restart.
struct Submitted {
    task_id: String,
    what: String,
    /// The item ids the task must record, each exactly once (desk actions: the desk id).
    items: Vec<String>,
}

/// What the clients did and what the checks learnt, across every kill of one database.
#[derive(Default)]
struct Ledger {
    open: Vec<Submitted>,
    /// Batch creates whose answer never came: a client sends them again after the restart.
    unanswered_creates: Vec<Value>,
    /// Caller item id → the desk it produced, over every create task.
    produced: HashMap<String, String>,
    /// Desks the workload may act on or delete: the seed's and the produced ones.
    desks: Vec<String>,
    /// Desks a delete was sent for (answered or not).
    deleting: HashSet<String>,
    users: Vec<String>,
    user_deletes: HashSet<String>,
    /// Replies that are neither success nor a refusal the mix can cause.
    surprises: Vec<String>,
    next: usize,
    retried: usize,
    tasks_checked: usize,
}

/// Refusals concurrent clients cause each other: a desk's state moved meanwhile, a user was
/// deleted or got a desk, a user's create task has not run yet.
const REFUSALS: [i64; 4] = [23010901, 23020005, 23070002, 22000400];

struct Mixed<'a> {
    s: &'a Server,
    t: &'a str,
    ledger: &'a std::sync::Mutex<Ledger>,
    stop: &'a std::sync::atomic::AtomicBool,
    image_id: Value,
    strategy_id: Value,
    network_id: String,
}

impl Mixed<'_> {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap()
    }

    /// Sends one request; `None` when no answer came (the server was killed).
    async fn send(&self, method: &str, path: &str, content: Value) -> Option<Value> {
        let body = Some(json!({ "content": content }));
        let (status, v) = self
            .s
            .try_call(method, path, body, Some(self.t))
            .await
            .ok()?;
        let c = &v["content"]["code"];
        if status != 200 && !c.as_i64().is_some_and(|c| REFUSALS.contains(&c)) {
            self.ledger()
                .surprises
                .push(format!("{method} {path}: {status} {v}"));
        } else if c != 0 && !c.as_i64().is_some_and(|c| REFUSALS.contains(&c)) {
            self.ledger()
                .surprises
                .push(format!("{method} {path}: {v}"));
        }
        Some(v["content"].clone())
    }

    /// Records an accepted task; false when the answer never came.
    fn accepted(&self, reply: Option<Value>, what: String, items: Vec<String>) -> bool {
        let Some(c) = reply else { return false };
        if let Some(id) = c["data"]["task_id"].as_str().filter(|_| c["code"] == 0) {
            self.ledger().open.push(Submitted {
                task_id: id.to_string(),
                what,
                items,
            });
        }
        true
    }

    /// One client: seeded operations until the server dies.
    async fn client(&self, mut rng: rand::rngs::StdRng) {
        use rand::Rng;
        while !self.stop.load(std::sync::atomic::Ordering::SeqCst) {
            let answered = match rng.gen_range(0..100) {
                0..=24 => self.create_desks(&mut rng).await,
                25..=54 => self.desk_action(&mut rng).await,
                55..=62 => self.delete_desks(&mut rng).await,
                63..=79 => self.create_user().await,
                80..=94 => self.user_batch(&mut rng).await,
                _ => self.delete_user(&mut rng).await,
            };
            if !answered {
                return;
            }
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..30))).await;
        }
    }

    async fn create_desks(&self, rng: &mut rand::rngs::StdRng) -> bool {
        use rand::Rng;
        let ids: Vec<String> = {
            let mut l = self.ledger();
            let n = rng.gen_range(5..=40);
            l.next += n;
            (l.next - n..l.next).map(|i| format!("k{i:05}")).collect()
        };
        let items: Vec<Value> = ids
            .iter()
            .map(|id| {
                json!({"id": id, "user_name": format!("user0{}", rng.gen_range(1..=5)),
                       "image_id": self.image_id, "desk_strategy_id": self.strategy_id,
                       "network_id": self.network_id})
            })
            .collect();
        let body = json!({ "desk_info_arr": items });
        let reply = self
            .send("POST", "/v1/desk/batch/create", body.clone())
            .await;
        let answered = self.accepted(reply, "batch create".into(), ids);
        if !answered {
            self.ledger().unanswered_creates.push(body);
        }
        answered
    }

    fn pick_desk(&self, rng: &mut rand::rngs::StdRng) -> Option<String> {
        use rand::seq::SliceRandom;
        let l = self.ledger();
        let live: Vec<&String> = l
            .desks
            .iter()
            .filter(|d| !l.deleting.contains(*d))
            .collect();
        live.choose(rng).map(|d| d.to_string())
    }

    async fn desk_action(&self, rng: &mut rand::rngs::StdRng) -> bool {
        use rand::Rng;
        let Some(id) = self.pick_desk(rng) else {
            return true;
        };
        let verb = ["start", "start", "shutdown", "powerOff", "restart"][rng.gen_range(0..5)];
        let reply = self
            .send("PUT", &format!("/v1/desk/{id}:{verb}"), json!({}))
            .await;
        self.accepted(reply, format!("{verb} {id}"), vec![id])
    }

    async fn delete_desks(&self, rng: &mut rand::rngs::StdRng) -> bool {
        use rand::Rng;
        let mut ids = Vec::new();
        for _ in 0..rng.gen_range(1..=3) {
            if let Some(id) = self.pick_desk(rng).filter(|d| !ids.contains(d)) {
                ids.push(id);
            }
        }
        if ids.is_empty() {
            return true;
        }
        self.ledger().deleting.extend(ids.iter().cloned());
        let arr: Vec<Value> = ids.iter().map(|d| json!({"desk_id": d})).collect();
        let reply = self
            .send(
                "POST",
                "/v1/desk/batch/delete",
                json!({"desk_info_arr": arr}),
            )
            .await;
        self.accepted(reply, "batch delete".into(), ids)
    }

    async fn create_user(&self) -> bool {
        let name = {
            let mut l = self.ledger();
            l.next += 1;
            format!("cu{:05}", l.next)
        };
        let body = json!({"user_name": name, "user_group_name": "crash/users", "real_name": name,
                          "password": "Crash@2026", "user_type": "NORMAL"});
        let reply = self.send("POST", "/v1/user/create", body).await;
        self.accepted(reply, format!("create user {name}"), vec![name])
    }

    /// Disables or enables a few users: created ones and demo users without desks.
    async fn user_batch(&self, rng: &mut rand::rngs::StdRng) -> bool {
        use rand::seq::SliceRandom;
        use rand::Rng;
        let mut pool: Vec<String> = (11..=20).map(|i| format!("user{i}")).collect();
        pool.extend(self.ledger().users.iter().cloned());
        let n = rng.gen_range(1..=6);
        let names: Vec<String> = pool.choose_multiple(rng, n).cloned().collect();
        let path = ["/v1/user/batch/disableUser", "/v1/user/batch/enableUser"][rng.gen_range(0..2)];
        let reply = self.send("POST", path, json!({ "user_arr": names })).await;
        self.accepted(reply, path.into(), names)
    }

    async fn delete_user(&self, rng: &mut rand::rngs::StdRng) -> bool {
        use rand::seq::SliceRandom;
        let Some(name) = self.ledger().users.choose(rng).cloned() else {
            return true;
        };
        self.ledger().user_deletes.insert(name.clone());
        self.send("POST", "/v1/user/delete", json!({ "user_name": name }))
            .await
            .is_some()
    }
}

/// Polls `probe` until it yields a value; panics with `what` after `limit`.
async fn within<T, F, Fut>(limit: Duration, what: impl Fn() -> String, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < end, "{}", what());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// After a restart: the unanswered batch creates are sent again (as a client retries), every
/// answered task ends with each of its items recorded exactly once, no desk stays in a
/// transitional state, no item produced two desks, and the driver holds exactly the database's
/// desks.
async fn recovered(m: &Mixed<'_>, db: &Db, store: &deskd_store::SqlStore) {
    let retries = std::mem::take(&mut m.ledger().unanswered_creates);
    m.ledger().retried += retries.len();
    for body in retries {
        let ids = body["desk_info_arr"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect();
        let reply = m.send("POST", "/v1/desk/batch/create", body).await;
        assert_eq!(
            reply.as_ref().map(|r| r["code"].clone()),
            Some(json!(0)),
            "{db:?}: retry {reply:?}"
        );
        m.accepted(reply, "retried batch create".into(), ids);
    }
    let open = std::mem::take(&mut m.ledger().open);
    m.ledger().tasks_checked += open.len();
    for sub in open {
        let done = within(
            Duration::from_secs(120),
            || format!("{db:?}: task {} ({}) never ended", sub.task_id, sub.what),
            || async {
                let d = task(m.s, m.t, &sub.task_id).await;
                (d["task_status"] != "RUNNING").then_some(d)
            },
        )
        .await;
        check_items(db, &sub, &done, &mut m.ledger());
    }
    let desks = within(
        Duration::from_secs(60),
        || format!("{db:?}: desks stay in a transitional state"),
        || async {
            let desks = store.list_all_desks().await.unwrap();
            (!desks.iter().any(|d| transitional(d.state))).then_some(desks)
        },
    )
    .await;
    check_desks(db, &desks, &m.ledger());
    assert_driver_matches(db, &m.s.data_dir, &desks).await;
}

/// Every desk was produced by a known item (none twice), every produced desk is still there
/// unless a delete was sent for it, and no reply surprised.
fn check_desks(db: &Db, desks: &[Desk], l: &Ledger) {
    let rows: HashSet<&str> = desks.iter().map(|d| d.id.as_str()).collect();
    let produced: HashSet<&str> = l.produced.values().map(String::as_str).collect();
    for d in desks {
        assert!(
            produced.contains(d.id.as_str()) || l.desks.contains(&d.id.to_string()),
            "{db:?}: desk {} ({}) was made by no known item: created twice?",
            d.id,
            d.name
        );
    }
    for p in &produced {
        assert!(
            rows.contains(p) || l.deleting.contains(*p),
            "{db:?}: desk {p} vanished without a delete"
        );
    }
    assert!(
        l.surprises.is_empty(),
        "{db:?}: unexpected replies {:?}",
        l.surprises
    );
}

/// The task records exactly its items, each ended; a create's items each name one desk, the
/// same one every time the item id comes back.
fn check_items(db: &Db, sub: &Submitted, done: &Value, l: &mut Ledger) {
    let list = done["task_item_list"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut ids: Vec<String> = list
        .iter()
        .map(|i| i["id"].as_str().unwrap_or_default().to_string())
        .collect();
    let mut want = sub.items.clone();
    ids.sort();
    want.sort();
    assert_eq!(
        ids, want,
        "{db:?}: {} {}: items {done}",
        sub.what, sub.task_id
    );
    for i in &list {
        let status = i["item_biz_status"].as_str().unwrap_or_default();
        assert!(
            status == "SUCCESS" || status == "FAILURE",
            "{db:?}: {} item {i} still {status}",
            sub.what
        );
        if status != "SUCCESS" {
            continue;
        }
        let id = i["id"].as_str().unwrap_or_default().to_string();
        if sub.what.ends_with("batch create") {
            let desk = i["item_biz_data"]["desk_id"].as_str().unwrap().to_string();
            let first = l.produced.entry(id.clone()).or_insert_with(|| desk.clone());
            assert_eq!(*first, desk, "{db:?}: item {id} produced two desks");
            if !l.desks.contains(&desk) {
                l.desks.push(desk);
            }
        } else if sub.what.starts_with("create user") {
            l.users.push(id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_20_random_points_of_a_mixed_workload() {
    use rand::{Rng, SeedableRng};
    let seed = crash_seed();
    for (n, db) in Db::all().await.into_iter().enumerate() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed.wrapping_add(n as u64));
        let (dir, store, network_id) = seeded_dir(&db).await;
        let seeded = store.list_all_desks().await.unwrap();
        let ledger = std::sync::Mutex::new(Ledger {
            desks: seeded.iter().map(|d| d.id.to_string()).collect(),
            ..Ledger::default()
        });
        let stop = std::sync::atomic::AtomicBool::new(false);
        let flags = ["--sim-latency-ms", "20", "--task-concurrency", "8"];
        let mut refs = None;
        for round in 0..=KILLS {
            let mut s = Server::start_in(dir.clone(), db.clone(), &flags, true);
            let t = s.admin_token().await;
            if refs.is_none() {
                let desk = first(&s, &t, "/v1/desk:pagequery").await;
                let strategy = first(&s, &t, "/v1/desk_strategy:pagequery").await;
                refs = Some((desk["image_id"].clone(), strategy["id"].clone()));
            }
            let (image_id, strategy_id) = refs.clone().unwrap();
            let m = Mixed {
                s: &s,
                t: &t,
                ledger: &ledger,
                stop: &stop,
                image_id,
                strategy_id,
                network_id: network_id.clone(),
            };
            recovered(&m, &db, &store).await;
            if round == KILLS {
                break;
            }
            stop.store(false, std::sync::atomic::Ordering::SeqCst);
            let after = Duration::from_millis(rng.gen_range(200..1500));
            let clients: Vec<_> = (0..3)
                .map(|_| m.client(rand::rngs::StdRng::seed_from_u64(rng.gen())))
                .collect();
            let killer = async {
                tokio::time::sleep(after).await;
                signal(&m.s.child, "KILL");
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            };
            tokio::join!(futures::future::join_all(clients), killer);
            drop(m);
            s.child.wait().unwrap();
            println!("{}: killed #{} after {after:?}", name(&db), round + 1);
        }
        let l = ledger.lock().unwrap();
        println!(
            "{}: {KILLS} kills survived; {} tasks checked, {} unanswered creates sent again, \
             {} desks produced, {} deleted, {} users created",
            name(&db),
            l.tasks_checked,
            l.retried,
            l.produced.len(),
            l.deleting.len(),
            l.users.len()
        );
    }
}
