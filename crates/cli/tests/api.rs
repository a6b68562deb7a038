//! The foundation's wire behaviour against the real binary, on SQLite and PostgreSQL.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;

fn page(limit: i64) -> serde_json::Value {
    json!({"content": {"page": 0, "limit": limit}})
}

#[tokio::test]
async fn token_then_strategies_on_both_databases() {
    for db in Db::all().await {
        let s = Server::start(db.clone(), &[]);
        let (status, body) = s.strategies(page(10), None).await;
        assert_eq!((status, code(&body)), (401, 22000401), "{db:?} {body}");
        assert!(body["content"]["message"]
            .as_str()
            .unwrap()
            .contains("Bearer"));

        let (status, body) = s.token_for("admin", ADMIN_PASSWORD).await;
        assert_eq!((status, code(&body)), (200, 0), "{body}");
        let data = &body["content"]["data"];
        assert_eq!(data["token_type"], "Bearer");
        assert_eq!(data["expires_in"], 1800);
        assert!(data["expire_time"].as_i64().unwrap() > 1_700_000_000_000);
        let token = data["token"].as_str().unwrap();

        let (status, body) = s.strategies(page(10), Some(token)).await;
        assert_eq!((status, code(&body)), (200, 0), "{body}");
        assert_eq!(body["content"]["data"]["total"], 2);
        let names: Vec<_> = body["content"]["data"]["item_arr"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["desk_strategy_name"].clone())
            .collect();
        assert_eq!(names, [json!("office-standard"), json!("lab-recoverable")]);
        let desks: i64 = body["content"]["data"]["item_arr"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["desk_num"].as_i64().unwrap())
            .sum();
        assert_eq!(desks, 10, "the demo's ten desks use the two strategies");
    }
}

#[tokio::test]
async fn strategy_queries_filter_sort_and_page() {
    let s = Server::start(Db::Sqlite, &[]);
    let t = s.admin_token().await;
    let q = |body| s.call("PUT", "/v1/desk_strategy:pagequery", Some(body), Some(&t));
    let (_, b) = q(json!({"content": {"page": 0, "limit": 10, "match_arr": [
        {"field_name": "enableAgreementAgency", "match_rule": "EQ", "type": "EXACT", "value_arr": ["TRUE"]}]}})).await;
    assert_eq!(b["content"]["data"]["total"], 1, "{b}");
    assert_eq!(
        b["content"]["data"]["item_arr"][0]["desk_strategy_name"],
        "lab-recoverable"
    );
    let (_, b) = q(json!({"content": {"page": 1, "limit": 1, "sort_arr": [{"field_name": "cpuCores", "direction": "DESC"}]}})).await;
    assert_eq!(b["content"]["data"]["total"], 2);
    assert_eq!(
        b["content"]["data"]["item_arr"][0]["cpu_cores"], 2,
        "second page of cpu DESC"
    );
    let (_, b) = q(json!({"content": {"page": 0, "limit": 10, "match_arr": [
        {"field_name": "deskStrategyName", "match_rule": "LIKE", "type": "EXACT", "value_arr": ["x"]}]}})).await;
    assert_eq!(code(&b), 22000400, "{b}");
    assert!(b["content"]["message"]
        .as_str()
        .unwrap()
        .contains("match_rule"));
    let (_, b) = q(json!({"content": {"page": 0, "limit": 10, "sort_arr": [{"field_name": "nope", "direction": "ASC"}]}})).await;
    assert_eq!(code(&b), 22000400);
    assert!(
        b["content"]["message"]
            .as_str()
            .unwrap()
            .contains("deskStrategyName"),
        "lists the allowed names: {b}"
    );
}

#[tokio::test]
async fn bad_input_names_the_field_and_the_rule() {
    let s = Server::start(Db::Sqlite, &[]);
    let t = s.admin_token().await;
    let path = "/v1/desk_strategy:pagequery";
    let cases: Vec<(&'static str, &str, &str)> = vec![
        ("{not json", "body", "not valid JSON"),
        ("", "content", "is required"),
        ("{\"page\":0}", "content", "is required"),
        (
            "{\"content\":{\"page\":0,\"limit\":\"ten\"}}",
            "content.limit",
            "invalid type",
        ),
        (
            "{\"content\":{\"page\":0,\"limit\":1001}}",
            "content.limit",
            "between 1 and 1000",
        ),
        (
            "{\"content\":{\"page\":-1,\"limit\":10}}",
            "content.page",
            "between 0 and 2147483647",
        ),
        (
            "{\"content\":{\"limit\":10}}",
            "content.page",
            "is required",
        ),
    ];
    for (body, field, rule) in cases {
        let (status, b) = s.raw("PUT", path, body, Some(&t)).await;
        assert_eq!((status, code(&b)), (200, 22000400), "{body}: {b}");
        let msg = b["content"]["message"].as_str().unwrap();
        assert!(msg.contains(field) && msg.contains(rule), "{body}: {msg}");
        assert!(b["content"]["user_tip"]
            .as_str()
            .unwrap()
            .starts_with("参数错误"));
    }
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let s = Server::start(Db::Sqlite, &[]);
    let t = s.admin_token().await;
    let (status, b) = s
        .call("PUT", "/v1/no/such/thing", Some(page(1)), Some(&t))
        .await;
    assert_eq!((status, code(&b)), (404, 22000400));
    let (status, b) = s
        .call("DELETE", "/v1/desk_strategy:pagequery", None, Some(&t))
        .await;
    assert_eq!((status, code(&b)), (405, 22000400));
    // paths are case-sensitive
    let (status, _) = s
        .call(
            "PUT",
            "/v1/desk_strategy:PageQuery",
            Some(page(1)),
            Some(&t),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let s = Server::start(Db::Sqlite, &[]);
    let r = s
        .http
        .put(s.url("/v1/desk_strategy:pagequery"))
        .body("{}")
        .send()
        .await
        .unwrap();
    let id = r
        .headers()
        .get("x-request-id")
        .expect("request id")
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 36);
    let r = s
        .http
        .get(s.url("/v1/x"))
        .header("x-request-id", "caller-chosen-id")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("x-request-id").unwrap(), "caller-chosen-id");
}

#[tokio::test]
async fn wrong_credentials_and_garbled_tokens_are_401() {
    let s = Server::start(Db::Sqlite, &[]);
    for (u, p) in [
        ("admin", "wrong-password"),
        ("ghost", ADMIN_PASSWORD),
        ("", ""),
    ] {
        let (status, b) = s.token_for(u, p).await;
        assert_eq!((status, code(&b)), (401, 22000401), "{u}: {b}");
    }
    for header in ["Bearer", "Bearer nope", "Basic YWRtaW46eA==", "bearer "] {
        let r = s
            .http
            .put(s.url("/v1/desk_strategy:pagequery"))
            .header("authorization", header)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{header}");
    }
}

#[tokio::test]
async fn aes_encrypted_password_is_accepted() {
    let s = Server::start(Db::Sqlite, &[]);
    let store = deskd_store::SqlStore::open(&sqlite_url(&s.data_dir))
        .await
        .unwrap();
    let key = deskd_server_key(&store).await;
    let enc = deskd_domain::auth::encrypt_transport(ADMIN_PASSWORD, &key).unwrap();
    let (status, b) = s.token_for("admin", &enc).await;
    assert_eq!((status, code(&b)), (200, 0), "{b}");
}

async fn deskd_server_key(store: &deskd_store::SqlStore) -> String {
    use deskd_domain::store::*;
    let raw = store
        .get_setting("transport_key")
        .await
        .unwrap()
        .expect("key created at first start");
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    v["current"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn revoked_and_expired_tokens_stop_working() {
    let s = Server::start(Db::Sqlite, &["--token-ttl-secs", "1"]);
    let t = s.admin_token().await;
    let (status, _) = s.strategies(page(1), Some(&t)).await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let (status, b) = s.strategies(page(1), Some(&t)).await;
    assert_eq!((status, code(&b)), (401, 22000401), "expired");

    let t = s.admin_token().await;
    let (status, b) = s
        .call(
            "POST",
            "/v1/auth/token:revoke",
            Some(json!({"content": {}})),
            Some(&t),
        )
        .await;
    assert_eq!((status, code(&b)), (200, 0), "{b}");
    let (status, _) = s.strategies(page(1), Some(&t)).await;
    assert_eq!(status, 401, "revoked");
}

#[tokio::test]
async fn task_detail_renders_items_and_echoes_the_cluster() {
    use deskd_domain::store::*;
    use deskd_domain::task::*;
    for db in Db::all().await {
        // first start, then stop: the task is seeded while no worker of the server runs
        let first = Server::start(db.clone(), &[]);
        let dir = first.data_dir.clone();
        assert!(first.terminate().success());
        let url = match &db {
            Db::Sqlite => sqlite_url(&dir),
            Db::Postgres(u) => u.clone(),
        };
        let store = deskd_store::SqlStore::open(&url).await.unwrap();
        let task = NewTask {
            id: uuid::Uuid::new_v4().to_string(),
            kind: "seeded".into(),
            cluster_id: None,
            items: vec![
                NewItem {
                    item_id: "AA123456".into(),
                    subject: None,
                    payload: json!({}),
                    failed: None,
                },
                NewItem {
                    item_id: "AA123457".into(),
                    subject: None,
                    payload: json!({}),
                    failed: None,
                },
            ],
        };
        store.create_task(&task).await.unwrap();
        // another node holds both items for an hour, so the server's own workers leave them be
        let far = deskd_domain::model::now_ms() + 3_600_000;
        let claims = store
            .claim_items("test", far, 10, deskd_domain::model::now_ms())
            .await
            .unwrap();
        assert_eq!(claims.len(), 2);

        let s = Server::start_in(dir, db.clone(), &[], true);
        let t = s.admin_token().await;
        let (status, b) = s
            .call(
                "GET",
                &format!("/v1/task/{}/detail", task.id),
                None,
                Some(&t),
            )
            .await;
        assert_eq!((status, code(&b)), (200, 0), "{b}");
        assert_eq!(b["content"]["data"]["task_status"], "RUNNING");
        assert_eq!(
            b["content"]["data"]["task_item_list"][0]["item_biz_status"],
            "RUNNING"
        );
        assert!(b["content"]["data"].get("resource_list").is_none());

        for c in &claims {
            let o = if c.item_id == "AA123456" {
                ItemOutcome::failure("创建云桌面[CAS6_12]失败")
            } else {
                ItemOutcome {
                    biz_data: Some(
                        json!({"desk_name": "CAS6_2", "user_name": "user2", "desk_id": "d-2"}),
                    ),
                    resource: Some(json!({"desk_name": "CAS6_2", "desk_id": "d-2"})),
                    ..ItemOutcome::success("创建云桌面[CAS6_2]成功")
                }
            };
            assert!(store.finish_item(c, &o).await.unwrap());
        }
        store
            .finalize_tasks(deskd_domain::model::now_ms())
            .await
            .unwrap();
        let cluster_id = known_cluster(&store).await;
        for method in ["PUT", "POST", "GET"] {
            let body = (method != "GET").then(|| json!({"content": {"cluster_id": cluster_id}}));
            let (status, b) = s
                .call(
                    method,
                    &format!("/v1/task/{}/detail", task.id),
                    body,
                    Some(&t),
                )
                .await;
            assert_eq!((status, code(&b)), (200, 0), "{method} {b}");
            let d = &b["content"]["data"];
            assert_eq!(d["task_status"], "ERROR");
            assert_eq!(d["task_result"], "成功[1]，失败[1]");
            assert!(d["error_message"]
                .as_str()
                .unwrap()
                .starts_with("AA123456 "));
            let items = d["task_item_list"].as_array().unwrap();
            assert_eq!(items[0]["item_biz_status"], "FAILURE");
            assert_eq!(items[0]["item_status"], "FAILURE");
            assert_eq!(items[1]["item_biz_data"]["desk_id"], "d-2");
            if method == "GET" {
                assert!(d.get("cluster_id").is_none());
            } else {
                assert_eq!(d["cluster_id"], json!(cluster_id));
            }
        }
        let (_, b) = s
            .call(
                "PUT",
                &format!("/v1/task/{}/detail", task.id),
                Some(json!({"content": {"cluster_id": "nope"}})),
                Some(&t),
            )
            .await;
        assert_eq!(code(&b), 23170002, "{b}");
        let (_, b) = s
            .call(
                "PUT",
                &format!("/v1/task/{}/detail", uuid::Uuid::new_v4()),
                None,
                Some(&t),
            )
            .await;
        assert_eq!(code(&b), 22000400);
        assert!(b["content"]["message"]
            .as_str()
            .unwrap()
            .contains("does not exist"));
    }
}

async fn known_cluster(store: &deskd_store::SqlStore) -> String {
    use deskd_domain::store::*;
    let hosts = store.list_hosts().await.unwrap();
    hosts[0].cluster_id.to_string()
}
