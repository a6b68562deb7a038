//! The embedded metrics engine behind deskd's Prometheus HTTP API (chapter 7, D9): mounted behind
//! the Bearer check, answering in Prometheus's JSON, and keeping acknowledged samples across a
//! restart.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn prometheus_api_needs_a_token_answers_queries_and_keeps_samples_over_a_restart() {
    let dir = fresh_dir();
    let s = Server::start_in(dir.clone(), Db::Sqlite, &[], true);
    let (status, _) = s.call("GET", "/api/v1/query?query=up", None, None).await;
    assert_eq!(status, 401, "D9: the Bearer token is required");
    let t = s.admin_token().await;

    let at = now_ms() - 5_000;
    let body = format!(
        "# TYPE deskd_test_gauge gauge\n\
         deskd_test_gauge{{host_id=\"h1\"}} 42 {at}\n\
         deskd_test_gauge{{host_id=\"h2\"}} 8 {at}\n"
    );
    let (status, _) = s
        .raw("POST", "/api/v1/import/prometheus", body, Some(&t))
        .await;
    assert!((200..300).contains(&status), "import: HTTP {status}");

    let q = "/api/v1/query?query=sum(deskd_test_gauge)";
    let (status, v) = s.call("GET", q, None, Some(&t)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "vector");
    assert_eq!(v["data"]["result"][0]["value"][1], json!("50"), "{v}");

    let (status, v) = s
        .call("GET", "/api/v1/query?query=sum(", None, Some(&t))
        .await;
    assert_eq!(
        (status, v["errorType"].clone()),
        (400, json!("bad_data")),
        "{v}"
    );
    let (status, _) = s.call("DELETE", "/api/v1/query", None, Some(&t)).await;
    assert_eq!(status, 405);

    assert!(s.terminate().success());
    let again = Server::start_in(dir, Db::Sqlite, &[], true);
    let t = again.admin_token().await;
    let (status, v) = again.call("GET", q, None, Some(&t)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["data"]["result"][0]["value"][1],
        json!("50"),
        "after a restart: {v}"
    );
}

/// The collectors feed the engine from the live demo fleet: the catalogue queries of API.md (d.1)
/// answer with plausible figures, `/metrics` exposes the scrape, and a desk that stops leaves
/// the VM series (they go stale).
#[tokio::test]
async fn the_catalogue_queries_answer_from_the_live_demo_fleet() {
    let s = Server::start(Db::Sqlite, &["--scrape-interval-secs", "1"]);
    let t = s.admin_token().await;
    let token = Some(t.as_str());
    // Rates need two scrapes; every query must then answer as the catalogue says.
    eventually(
        std::time::Duration::from_secs(30),
        "the catalogue",
        || async {
            for (name, query, expect) in CATALOGUE {
                let rows = instant(&s, token, query).await;
                if let Err(why) = check_expect(&rows, *expect) {
                    eprintln!("{name}: {why}");
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    let mem = "max without (host_id,instance,ip_addr) (vm_mem_used_bytes{vm_id=~'.*'}/(vm_mem_used_bytes{vm_id=~'.*'}+vm_mem_avai_bytes{vm_id=~'.*'})*100)";
    let vms = instant(&s, token, mem).await;

    let resp = reqwest::Client::new()
        .get(s.url("/metrics"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("# TYPE node_cpu_seconds_total counter"),
        "{text}"
    );
    assert!(text.contains("vm_mem_used_bytes{"));

    // Power a running desk off: its VM series go stale at the next scrape.
    let vm = vms[0]["metric"]["vm_id"].as_str().unwrap().to_string();
    let (_, c) = s
        .call("PUT", &format!("/v1/desk/{vm}:powerOff"), None, Some(&t))
        .await;
    assert_eq!(c["content"]["code"], 0, "{c}");
    let one = format!("vm_mem_used_bytes{{vm_id='{vm}'}}");
    eventually(
        std::time::Duration::from_secs(30),
        "a stopped desk's series are stale",
        || async { instant(&s, token, &one).await.is_empty().then_some(()) },
    )
    .await;
}

/// `/api/v1/rules` shows the default rules (the document's `host_running_status` among them)
/// with `sendby` and `uuid`; `/api/v1/alerts` lists none while every host is up; a reload of a
/// broken file is refused with its line and the rules in force stay.
#[tokio::test]
async fn rules_and_alerts_in_prometheus_json_and_safe_reloads() {
    let dir = fresh_dir();
    let s = Server::start_in(
        dir.clone(),
        Db::Sqlite,
        &["--scrape-interval-secs", "1"],
        true,
    );
    let t = s.admin_token().await;
    let (status, v) = s.call("GET", "/api/v1/rules", None, Some(&t)).await;
    assert_eq!(status, 200, "{v}");
    let rules = v["data"]["groups"][0]["rules"].as_array().unwrap().clone();
    let host = rules
        .iter()
        .find(|r| r["name"] == "host_running_status")
        .expect("the document's rule");
    assert_eq!(host["query"], r#"up{host_id=~".*",job="node"} != 1"#);
    assert_eq!(host["type"], "alerting");
    assert_eq!(host["state"], "inactive");
    assert_eq!(host["sendby"], "email");
    assert!(host["uuid"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(rules.len() >= 4, "fleet alerts too: {rules:?}");
    // "no alerts" means something only once the rules have run over scraped `up` series; the
    // default group runs every 15 s, so this test runs it every second
    let file = dir.join("rules.yaml");
    let good = std::fs::read_to_string(&file).unwrap();
    assert!(good.contains("interval: 15s"), "{good}");
    std::fs::write(&file, good.replace("interval: 15s", "interval: 1s")).unwrap();
    let (status, v) = s.call("POST", "/-/reload", None, Some(&t)).await;
    assert_eq!(status, 200, "{v}");
    let limit = std::time::Duration::from_secs(20);
    eventually(limit, "up{job=\"node\"} scraped", || async {
        let up = instant(&s, Some(&t), r#"up{job="node"}"#).await;
        (!up.is_empty()).then_some(())
    })
    .await;
    let scraped_at = last_evaluation(&s, &t).await;
    eventually(limit, "the rules evaluated after the scrape", || async {
        (last_evaluation(&s, &t).await != scraped_at).then_some(())
    })
    .await;
    let (status, v) = s.call("GET", "/api/v1/alerts", None, Some(&t)).await;
    assert_eq!(
        (status, v["status"].clone()),
        (200, json!("success")),
        "{v}"
    );
    assert!(v["data"]["alerts"].as_array().unwrap().is_empty(), "{v}");

    std::fs::write(
        &file,
        "groups:\n- name: g\n  rules:\n  - alert: broken\n    expr: up{\n",
    )
    .unwrap();
    let (status, v) = s.call("POST", "/-/reload", None, Some(&t)).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains(":4:"), "{v}");
    let (_, v) = s.call("GET", "/api/v1/rules", None, Some(&t)).await;
    assert_eq!(
        v["data"]["groups"][0]["rules"].as_array().unwrap().len(),
        rules.len()
    );
    std::fs::write(&file, good.replace("for: 1m", "for: 2m")).unwrap();
    let (status, _) = s.call("POST", "/-/reload", None, Some(&t)).await;
    assert_eq!(status, 200);
    let (_, v) = s.call("GET", "/api/v1/rules", None, Some(&t)).await;
    assert_eq!(v["data"]["groups"][0]["rules"][0]["duration"], 120.0);
    let (status, _) = s.call("GET", "/api/v1/rules", None, None).await;
    assert_eq!(status, 401);
}

/// The first rule group's `lastEvaluation`.
async fn last_evaluation(s: &Server, t: &str) -> serde_json::Value {
    let (_, v) = s.call("GET", "/api/v1/rules", None, Some(t)).await;
    v["data"]["groups"][0]["lastEvaluation"].clone()
}

/// 6.7's CPU use is there from a host's first scrape (the counters' start point), not only
/// once a rate has two samples: with one scrape an hour, only the first one happens.
#[tokio::test]
async fn cpu_usage_is_present_from_the_first_scrape() {
    let s = Server::start(Db::Sqlite, &["--scrape-interval-secs", "3600"]);
    let t = s.admin_token().await;
    let usage = |kind: &'static str| {
        let (s, t) = (&s, &t);
        async move {
            let body = json!({"content": {"server_resource_type": kind}});
            let (_, v) = s
                .call("PUT", "/v1/rccp/server/resource/usage", Some(body), Some(t))
                .await;
            v["content"]["data"]["used"]["result"][0]["value"][1].clone()
        }
    };
    let limit = std::time::Duration::from_secs(20);
    eventually(limit, "the first scrape (MEM)", || async {
        usage("MEM").await.is_string().then_some(())
    })
    .await;
    let cpu = usage("CPU").await;
    let used: f64 = cpu
        .as_str()
        .expect("CPU used after one scrape")
        .parse()
        .unwrap();
    assert!((0.0..=100.0).contains(&used), "{used}");
}

/// 6.7: CPU, MEM and DISK as the document's vectors, from the collected `node_*` series.
#[tokio::test]
async fn server_resource_usage_comes_from_the_engine() {
    let s = Server::start(Db::Sqlite, &["--scrape-interval-secs", "1"]);
    let t = s.admin_token().await;
    let usage = |kind: &'static str| {
        let (s, t) = (&s, &t);
        async move {
            let body = json!({"content": {"server_resource_type": kind}});
            s.call("PUT", "/v1/rccp/server/resource/usage", Some(body), Some(t))
                .await
        }
    };
    let limit = std::time::Duration::from_secs(20);
    eventually(limit, "CPU usage from the first scrapes", || async {
        let (_, v) = usage("CPU").await;
        v["content"]["data"]["used"]["result"][0]["value"][1]
            .is_string()
            .then_some(())
    })
    .await;
    for kind in ["CPU", "MEM", "DISK"] {
        let (status, v) = usage(kind).await;
        assert_eq!(status, 200);
        let data = &v["content"]["data"];
        assert_eq!(v["content"]["code"], 0, "{kind}: {v}");
        assert_eq!(data["total"]["result_type"], "vector");
        let total: f64 = data["total"]["result"][0]["value"][1]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let used: f64 = data["used"]["result"][0]["value"][1]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(total > 0.0, "{kind}: {v}");
        assert!((0.0..=100.0).contains(&used), "{kind}: used {used}%");
        assert!(data["used"]["result"][0]["value"][0]
            .as_str()
            .unwrap()
            .contains('.'));
    }
    let body = json!({"content": {"server_resource_type": "GPU"}});
    let (_, v) = s
        .call(
            "PUT",
            "/v1/rccp/server/resource/usage",
            Some(body),
            Some(&t),
        )
        .await;
    assert_eq!(v["content"]["code"], 22000400, "{v}");
    assert!(v["content"]["message"]
        .as_str()
        .unwrap()
        .contains("server_resource_type"));
}

/// `--metrics-retention-secs` reaches the embedded store: its retention is what the runtime
/// information reports (the head's memory bound, see ARCHITECTURE.md).
#[tokio::test]
async fn the_metrics_retention_is_configurable() {
    let s = Server::start(Db::Sqlite, &["--metrics-retention-secs", "7200"]);
    let t = s.admin_token().await;
    let (_, v) = s
        .call("GET", "/api/v1/status/runtimeinfo", None, Some(&t))
        .await;
    assert_eq!(v["data"]["storageRetention"], "2h");
    let (_, v) = s.call("GET", "/api/v1/status/tsdb", None, Some(&t)).await;
    let head = &v["data"]["headStats"];
    assert!(head["numSamples"].is_u64(), "{head}");
    assert!(head["chunkMemoryBytes"].is_u64(), "{head}");
}
