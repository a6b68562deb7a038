//! RECOVERABLE desks come back with a clean system disk after a shutdown and a restart;
//! PERSONAL desks keep theirs. The simulated driver shows it as the system disk's generation,
//! read from its state file once the server has stopped.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use deskd_compute::{Hypervisor, SimConfig, SimDriver};
use serde_json::{json, Value};

async fn desks(s: &Server, t: &str) -> Vec<Value> {
    let (_, b) = s
        .strategies(json!({"content": {"page": 0, "limit": 10}}), Some(t))
        .await;
    let recoverable = b["content"]["data"]["item_arr"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["desk_type"] == "RECOVERABLE")
        .unwrap()["id"]
        .clone();
    let q = json!({"content": {"page": 0, "limit": 100, "match_arr": [
        {"field_name": "deskState", "match_rule": "EQ", "type": "EXACT", "value_arr": ["CLOSE"]}]}});
    let (_, b) = s.call("PUT", "/v1/desk:pagequery", Some(q), Some(t)).await;
    let items = b["content"]["data"]["item_arr"].as_array().unwrap().clone();
    let r = items
        .iter()
        .find(|d| d["desk_strategy_id"] == recoverable && d["desk_type"] == "RECOVERABLE")
        .unwrap();
    let p = items.iter().find(|d| d["desk_type"] == "PERSONAL").unwrap();
    vec![r.clone(), p.clone()]
}

async fn act(s: &Server, t: &str, desk: &str, verb: &str) {
    let (_, b) = s
        .call("PUT", &format!("/v1/desk/{desk}:{verb}"), None, Some(t))
        .await;
    assert_eq!(code(&b), 0, "{verb}: {b}");
    if verb == "restart" {
        tokio::time::sleep(Duration::from_millis(300)).await;
        return;
    }
    let task = b["content"]["data"]["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, d) = s
            .call("GET", &format!("/v1/task/{task}/detail"), None, Some(t))
            .await;
        match d["content"]["data"]["task_status"].as_str() {
            Some("FINISHED") => return,
            Some("ERROR") => panic!("{verb} failed: {d}"),
            _ => {}
        }
        assert!(Instant::now() < end, "{verb} did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn generations(dir: &std::path::Path, ids: &[&str]) -> Vec<u64> {
    let driver = SimDriver::try_new(SimConfig {
        state_file: Some(dir.join("sim-state.json")),
        ..SimConfig::instant()
    })
    .unwrap();
    let mut out = Vec::new();
    for id in ids {
        out.push(
            driver
                .info(id)
                .await
                .unwrap()
                .expect("VM defined")
                .disk_generation,
        );
    }
    out
}

#[tokio::test]
async fn recoverable_desks_get_a_clean_disk_personal_desks_keep_theirs() {
    let s = Server::start(Db::Sqlite, &[]);
    let t = s.admin_token().await;
    let pair = desks(&s, &t).await;
    let ids: Vec<String> = pair
        .iter()
        .map(|d| d["desk_id"].as_str().unwrap().to_string())
        .collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let dir = s.data_dir.clone();
    for id in &ids {
        act(&s, &t, id, "start").await;
        act(&s, &t, id, "shutdown").await;
        act(&s, &t, id, "start").await;
    }
    assert!(s.terminate().success());
    let after_cycle = generations(&dir, &ids).await;
    assert!(
        after_cycle[0] >= 1,
        "recoverable: a fresh disk at the start after a run ({after_cycle:?})"
    );
    assert_eq!(
        after_cycle[1], 0,
        "personal: the same disk ({after_cycle:?})"
    );

    let s = Server::start_in(dir.clone(), Db::Sqlite, &[], true);
    let t = s.admin_token().await;
    for id in &ids {
        act(&s, &t, id, "restart").await;
    }
    assert!(s.terminate().success());
    let after_restart = generations(&dir, &ids).await;
    assert_eq!(
        after_restart[0],
        after_cycle[0] + 1,
        "recoverable: restart discards the changes"
    );
    assert_eq!(after_restart[1], 0, "personal: restart keeps the disk");
}
