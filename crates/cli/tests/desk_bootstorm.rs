//! The boot-storm guard over HTTP: with one start allowed at a time, starts queue, their desks
//! stay START_UP meanwhile, and they come up in the order they were asked for.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

#[tokio::test]
async fn queued_starts_stay_start_up_and_run_in_order() {
    let flags = [
        "--sim-latency-ms",
        "250",
        "--max-starts-per-host",
        "1",
        "--max-starts-per-cluster",
        "1",
    ];
    let s = Server::start(Db::Sqlite, &flags);
    let t = s.admin_token().await;
    let q = json!({"content": {"page": 0, "limit": 100, "match_arr": [
        {"field_name": "deskState", "match_rule": "EQ", "type": "EXACT", "value_arr": ["CLOSE"]}],
        "sort_arr": [{"field_name": "desktopName", "direction": "ASC"}]}});
    let (_, b) = s.call("PUT", "/v1/desk:pagequery", Some(q), Some(&t)).await;
    let ids: Vec<String> = b["content"]["data"]["item_arr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["desk_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 4);
    for id in &ids {
        let (_, b) = s
            .call("PUT", &format!("/v1/desk/{id}:start"), None, Some(&t))
            .await;
        assert_eq!(code(&b), 0, "{b}");
    }
    let mut order: Vec<String> = Vec::new();
    let mut saw_queue = false;
    let end = Instant::now() + Duration::from_secs(60);
    while order.len() < ids.len() {
        assert!(Instant::now() < end, "starts did not finish: {order:?}");
        let mut running = 0;
        let mut starting = 0;
        for id in &ids {
            let (_, d) = s
                .call("PUT", &format!("/v1/desk/{id}/detail"), None, Some(&t))
                .await;
            match d["content"]["data"]["desk_state"].as_str().unwrap() {
                "RUNNING" => {
                    running += 1;
                    if !order.contains(id) {
                        order.push(id.clone());
                    }
                }
                "START_UP" => starting += 1,
                other => panic!("unexpected state {other}"),
            }
        }
        if running >= 1 && starting >= 1 {
            saw_queue = true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(saw_queue, "some desks waited in START_UP while others ran");
    assert_eq!(
        order, ids,
        "desks came up in the order their starts were asked for"
    );
}
