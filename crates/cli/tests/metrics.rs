//! The embedded metrics engine behind deskd's Prometheus HTTP API (chapter 7, D9): mounted behind
//! the Bearer check, answering in Prometheus's JSON, and keeping acknowledged samples across a
//! restart.

mod common;

use common::*;
use serde_json::json;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

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
