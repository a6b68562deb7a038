//! SIGKILL the server in the middle of a 500-desk batch create, start it again: the task ends
//! with every item recorded exactly once, and the hypervisor holds exactly the desks the
//! database holds. On SQLite and on PostgreSQL.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

mod common;

use deskd_domain::ids::HostId;
use std::time::{Duration, Instant};

use common::*;
use deskd_compute::{Hypervisor, SimConfig, SimDriver};
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
        let dir = fresh_dir();
        assert!(Server::start_in(dir.clone(), db.clone(), &[], true)
            .terminate()
            .success());
        let store = deskd_store::SqlStore::open(&url_of(&db, &dir))
            .await
            .unwrap();
        let network_id = seed_room(&store).await;

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
        let driver = SimDriver::try_new(SimConfig {
            state_file: Some(dir.join("sim-state.json")),
            ..SimConfig::instant()
        })
        .unwrap();
        let mut vms: Vec<String> = driver
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.spec.vm_id)
            .collect();
        let mut rows: Vec<String> = db_desks.into_iter().map(|d| d.id.into_string()).collect();
        vms.sort();
        rows.sort();
        let only_driver: Vec<_> = vms.iter().filter(|v| !rows.contains(v)).collect();
        let only_db: Vec<_> = rows.iter().filter(|r| !vms.contains(r)).collect();
        assert!(
            only_driver.is_empty() && only_db.is_empty(),
            "{db:?}: VMs without a desk {only_driver:?}; desks without a VM {only_db:?}"
        );
    }
}
