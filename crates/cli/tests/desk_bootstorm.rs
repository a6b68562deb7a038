//! The boot-storm guard over HTTP: with one start allowed at a time, starts queue, their desks
//! stay START_UP meanwhile, and they come up in the order they were asked for; the guard's
//! queue (extension `/v1/rccp/compute/bootQueue`) shows them waiting and starting.

// clippy.toml lets #[test] functions unwrap; this file's helper does too
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// The guard's queue; checks what must hold at every moment and returns (waiting, starting).
async fn boot_queue(s: &Server, t: &str, method: &str) -> (i64, i64) {
    let (status, b) = s
        .call(method, "/v1/rccp/compute/bootQueue", None, Some(t))
        .await;
    assert_eq!((status, code(&b)), (200, 0), "{b}");
    let q = &b["content"]["data"];
    assert_eq!(
        (&q["max_starts_per_host"], &q["max_starts_per_cluster"]),
        (&json!(1), &json!(1)),
        "{q}"
    );
    let n = |v: &Value, k: &str| v[k].as_i64().unwrap();
    let (waiting, starting) = (n(q, "waiting_num"), n(q, "starting_num"));
    for (arr, limit) in [("cluster_arr", 1), ("host_arr", 1)] {
        let rows = q[arr].as_array().unwrap();
        let sum = |k| rows.iter().map(|r| n(r, k)).sum::<i64>();
        assert_eq!(
            (sum("waiting_num"), sum("starting_num")),
            (waiting, starting),
            "{q}"
        );
        for r in rows {
            assert!(n(r, "starting_num") <= limit, "over the limit: {q}");
            assert!(
                n(r, "waiting_num") + n(r, "starting_num") > 0,
                "an idle row: {q}"
            );
            let name = if arr == "host_arr" {
                "host_name"
            } else {
                "cluster_name"
            };
            assert!(r[name].as_str().is_some_and(|x| !x.is_empty()), "{q}");
        }
    }
    (waiting, starting)
}

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
    assert_eq!(
        boot_queue(&s, &t, "GET").await,
        (0, 0),
        "nothing queued yet"
    );
    for id in &ids {
        let (_, b) = s
            .call("PUT", &format!("/v1/desk/{id}:start"), None, Some(&t))
            .await;
        assert_eq!(code(&b), 0, "{b}");
    }
    let mut order: Vec<String> = Vec::new();
    let mut saw_queue = false;
    let mut saw_api_queue = false;
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
        let (waiting, in_flight) = boot_queue(&s, &t, "PUT").await;
        if waiting >= 1 && in_flight == 1 {
            saw_api_queue = true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(saw_queue, "some desks waited in START_UP while others ran");
    assert!(
        saw_api_queue,
        "the boot queue showed starts waiting behind the one running"
    );
    assert_eq!(boot_queue(&s, &t, "PUT").await, (0, 0), "the queue drained");
    assert_eq!(
        order, ids,
        "desks came up in the order their starts were asked for"
    );
}
