//! Chapter 6.1 end to end against the real binary: the desk query, the desk actions and their
//! state machine (D8), configuration modify, the batch endpoints with their task details (D7),
//! IP-pool exhaustion and rollback, races, OS files and desk detail. Store-relevant tests run on
//! SQLite and PostgreSQL.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// How long a task may take before a test gives up.
const TASK_TIMEOUT: Duration = Duration::from_secs(30);

/// Every field a desk item of `desk:pagequery` carries, with its JSON type.
const DESK_FIELDS: &[(&str, Kind)] = &[
    ("id", Kind::Str),
    ("desk_id", Kind::Str),
    ("desk_name", Kind::Str),
    ("desk_state", Kind::Str),
    ("desk_type", Kind::Str),
    ("desk_category", Kind::Str),
    ("ip", Kind::Str),
    ("mac", Kind::Str),
    ("host_id", Kind::Str),
    ("host_name", Kind::Str),
    ("user_id", Kind::Str),
    ("user_name", Kind::Str),
    ("user_type", Kind::Str),
    ("image_id", Kind::Str),
    ("image_name", Kind::Str),
    ("desk_strategy_id", Kind::Str),
    ("network_id", Kind::Str),
    ("cluster_id", Kind::Str),
    ("cluster_name", Kind::Str),
    ("cpu_cores", Kind::Num),
    ("memory", Kind::Num),
    ("system_disk", Kind::Num),
    ("data_disk", Kind::Num),
    ("enable_custom", Kind::Bool),
    ("need_refresh_strategy", Kind::Bool),
    ("vgpu_type", Kind::Str),
    ("desktop_pool_type", Kind::Str),
    ("terminal_ip", Kind::Str),
    ("remark", Kind::Str),
    ("error_message", Kind::Str),
    ("create_time", Kind::Num),
];

/// Every field of desk detail.
const DETAIL_FIELDS: &[(&str, Kind)] = &[
    ("desk_id", Kind::Str),
    ("desk_name", Kind::Str),
    ("desk_state", Kind::Str),
    ("desk_type", Kind::Str),
    ("remark", Kind::Str),
    ("enable_agreement_agency", Kind::Bool),
    ("desktop_category", Kind::Str),
    ("user_id", Kind::Str),
    ("user_name", Kind::Str),
    ("cluster_id", Kind::Str),
    ("cluster_name", Kind::Str),
    ("host_id", Kind::Str),
    ("host_name", Kind::Str),
    ("image_id", Kind::Str),
    ("image_name", Kind::Str),
    ("desk_strategy_id", Kind::Str),
    ("ip", Kind::Str),
    ("mac", Kind::Str),
    ("cpu_cores", Kind::Num),
    ("memory", Kind::Num),
    ("system_disk", Kind::Num),
    ("data_disk", Kind::Num),
    ("enable_proxy", Kind::Bool),
    ("error_message", Kind::Str),
    ("create_time", Kind::Num),
];

/// Every documented field of an OS file (6.1.16).
const OS_FILE_FIELDS: &[(&str, Kind)] = &[
    ("id", Kind::Str),
    ("cbb_image_format", Kind::Str),
    ("image_disk_type", Kind::Str),
    ("image_file_name", Kind::Str),
    ("image_file_size", Kind::Num),
    ("image_file_state", Kind::Str),
    ("upload_time", Kind::Num),
    ("virtual_size", Kind::Num),
];

#[derive(Clone, Copy, Debug)]
enum Kind {
    Str,
    Num,
    Bool,
}

fn has_fields(v: &Value, fields: &[(&str, Kind)]) {
    for (name, kind) in fields {
        let f = &v[*name];
        let ok = match kind {
            Kind::Str => f.is_string(),
            Kind::Num => f.is_i64() || f.is_u64(),
            Kind::Bool => f.is_boolean(),
        };
        assert!(ok, "`{name}` should be a {kind:?}: {v}");
    }
}

fn is_uuid(v: &Value) -> bool {
    v.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok())
}

/// The first page (up to 1000) with these conditions.
fn query(match_arr: Vec<Value>) -> Value {
    json!({"page": 0, "limit": 1000, "match_arr": match_arr})
}

fn names(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["desk_name"].as_str().unwrap().to_string())
        .collect()
}

/// A create item.
fn create_item(id: &str, user: &str, image: &str, strategy: &str, network: &str) -> Value {
    json!({"id": id, "user_name": user, "image_id": image, "desk_strategy_id": strategy,
           "network_id": network})
}

/// The demo's ids.
struct Demo {
    cluster: String,
    office_net: String,
    lab_net: String,
    win10: String,
    ubuntu: String,
    office: String,
    lab: String,
}

type Env = Api;

impl Env {
    /// `desk:pagequery` with `q`; asserts success and returns `data`.
    async fn desks(&self, q: Value) -> Value {
        let c = self.put("/v1/desk:pagequery", q).await;
        assert_eq!(c["code"], 0, "{c}");
        c["data"].clone()
    }

    async fn total(&self) -> i64 {
        self.desks(json!({"page": 0, "limit": 1})).await["total"]
            .as_i64()
            .unwrap()
    }

    async fn all_desks(&self) -> Vec<Value> {
        let d = self.desks(json!({"page": 0, "limit": 1000})).await;
        d["item_arr"].as_array().unwrap().clone()
    }

    /// The desk named `name` (exactly one).
    async fn desk(&self, name: &str) -> Value {
        let d = self
            .desks(query(vec![eq("desktopName", json!([name]))]))
            .await;
        assert_eq!(d["total"], 1, "desk {name}: {d}");
        d["item_arr"][0].clone()
    }

    /// The desk with this id, if any.
    async fn desk_by_id(&self, id: &str) -> Option<Value> {
        let d = self.desks(query(vec![eq("deskId", json!([id]))])).await;
        d["item_arr"].as_array().unwrap().first().cloned()
    }

    async fn state(&self, name: &str) -> String {
        self.desk(name).await["desk_state"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `PUT /v1/desk/{id}:{verb}` with an optional `content`.
    async fn action(&self, id: &str, verb: &str, content: Option<Value>) -> Value {
        self.send("PUT", &format!("/v1/desk/{id}:{verb}"), content)
            .await
    }

    /// An asynchronous action that must be accepted; returns the finished task.
    async fn act(&self, id: &str, verb: &str) -> Value {
        let c = self.action(id, verb, None).await;
        assert_eq!(c["code"], 0, "{verb}: {c}");
        assert!(is_uuid(&c["data"]["task_id"]), "{c}");
        self.wait(&c).await
    }

    /// A batch request that must be accepted; returns the finished task.
    async fn batch(&self, path: &str, content: Value) -> Value {
        let c = self.post(path, content).await;
        assert_eq!(c["code"], 0, "{path}: {c}");
        assert!(is_uuid(&c["data"]["task_id"]), "{c}");
        self.wait(&c).await
    }

    async fn demo(&self) -> Demo {
        let d1 = self.desk("user01_1").await;
        let d2 = self.desk("user02_1").await;
        let d5 = self.desk("user05_1").await;
        let c = self
            .put(
                "/v1/desk_strategy:pagequery",
                json!({"page": 0, "limit": 10}),
            )
            .await;
        let mut strategies = HashMap::new();
        for s in c["data"]["item_arr"].as_array().unwrap() {
            strategies.insert(
                s["desk_strategy_name"].as_str().unwrap().to_string(),
                s["id"].as_str().unwrap().to_string(),
            );
        }
        let text = |v: &Value| v.as_str().unwrap().to_string();
        Demo {
            cluster: text(&d1["cluster_id"]),
            office_net: text(&d1["network_id"]),
            lab_net: text(&d2["network_id"]),
            win10: text(&d1["image_id"]),
            ubuntu: text(&d5["image_id"]),
            office: strategies["office-standard"].clone(),
            lab: strategies["lab-recoverable"].clone(),
        }
    }
}

/// Items of a task detail.
fn items(task: &Value) -> Vec<Value> {
    task["task_item_list"].as_array().unwrap().clone()
}

/// Asserts both status spellings of an item (D4) and returns the status.
#[track_caller]
fn item_status(item: &Value) -> String {
    assert_eq!(item["item_biz_status"], item["item_status"], "{item}");
    item["item_biz_status"].as_str().unwrap().to_string()
}

/// The ids of a task's FAILURE items, in request order.
fn failed_ids(task: &Value) -> Vec<String> {
    items(task)
        .iter()
        .filter(|i| item_status(i) == "FAILURE")
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// `n` items made by `one`.
fn many(n: usize, one: impl Fn(usize) -> Value) -> Vec<Value> {
    (0..n).map(one).collect()
}

// ---------------------------------------------------------------------------------------------
// 6.1.2 desk query
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn pagequery_filters_sorts_pages_and_shows_every_field() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &[]).await;
        let demo = e.demo().await;

        // default order: creation time, then id
        let all = e.desks(json!({"page": 0, "limit": 100})).await;
        assert_eq!(all["total"], 10, "{db:?}");
        let expected: Vec<String> = (1..=10).map(|i| format!("user{i:02}_1")).collect();
        assert_eq!(names(&all["item_arr"]), expected, "{db:?}");
        let mut ips = HashSet::new();
        for d in all["item_arr"].as_array().unwrap() {
            has_fields(d, DESK_FIELDS);
            assert_eq!(d["id"], d["desk_id"]);
            assert!(is_uuid(&d["desk_id"]), "{d}");
            assert!(
                ips.insert(d["ip"].as_str().unwrap().to_string()),
                "unique ip {d}"
            );
            assert_eq!(d["desk_category"], "VDI");
            assert_eq!(d["vgpu_type"], "QXL");
            assert_eq!(d["desktop_pool_type"], "COMMON");
            assert_eq!(d["user_type"], "NORMAL");
            assert_eq!(d["cluster_name"], "demo-cluster");
            assert_eq!(d["cluster_id"], json!(demo.cluster));
            assert!(d["host_name"].as_str().unwrap().starts_with("demo-host-"));
            assert_eq!(d["mac"].as_str().unwrap().len(), 17, "{d}");
            assert!(d["create_time"].as_i64().unwrap() > 1_700_000_000_000);
            assert_eq!(d["enable_custom"], false);
            assert_eq!(d["need_refresh_strategy"], false);
        }
        let u1 = e.desk("user01_1").await;
        assert_eq!(
            (
                &u1["desk_state"],
                &u1["desk_type"],
                &u1["ip"],
                &u1["terminal_ip"]
            ),
            (
                &json!("RUNNING"),
                &json!("PERSONAL"),
                &json!("192.168.10.100"),
                &json!("172.16.8.20")
            )
        );
        assert_eq!(
            (
                &u1["cpu_cores"],
                &u1["memory"],
                &u1["system_disk"],
                &u1["data_disk"]
            ),
            (&json!(2), &json!(4), &json!(40), &json!(20))
        );
        assert_eq!(u1["image_name"], "VDI Windows 10");
        assert_eq!(u1["user_name"], "user01");
        let u2 = e.desk("user02_1").await;
        assert_eq!(u2["desk_type"], "RECOVERABLE");
        assert_eq!(u2["ip"], "192.168.20.100");
        assert_eq!(
            (
                &u2["cpu_cores"],
                &u2["memory"],
                &u2["system_disk"],
                &u2["data_disk"]
            ),
            (&json!(4), &json!(8), &json!(60), &json!(0))
        );
        let u10 = e.desk("user10_1").await;
        assert_eq!(u10["desk_state"], "ERROR");
        assert_eq!(
            u10["error_message"],
            "demo: the VM failed to boot (disk read error)"
        );
        assert_eq!(u1["error_message"], "");

        // every filter key, documented and extension
        let cases: Vec<(Vec<Value>, Vec<&str>)> = vec![
            (
                vec![eq("desktopName", json!(["user03_1", "user07_1"]))],
                vec!["user03_1", "user07_1"],
            ),
            (
                vec![eq("deskState", json!(["RUNNING"]))],
                vec!["user01_1", "user02_1", "user03_1", "user04_1"],
            ),
            (
                vec![eq("deskState", json!(["SLEEP", "ERROR"]))],
                vec!["user09_1", "user10_1"],
            ),
            (
                vec![eq("deskType", json!(["RECOVERABLE"]))],
                vec!["user02_1", "user04_1", "user06_1", "user08_1", "user10_1"],
            ),
            (vec![eq("deskType", json!(["APP_LAYER"]))], vec![]),
            (vec![eq("ip", json!(["192.168.20.101"]))], vec!["user04_1"]),
            (
                vec![eq("terminalIp", json!(["172.16.8.22"]))],
                vec!["user03_1"],
            ),
            (vec![eq("userName", json!(["user04"]))], vec!["user04_1"]),
            (
                vec![eq("imageName", json!(["VDI Ubuntu"]))],
                vec!["user05_1", "user10_1"],
            ),
            (vec![eq("deskCategory", json!(["IDV"]))], vec![]),
            (vec![eq("clusterId", json!(["no-such-cluster"]))], vec![]),
            (
                vec![eq("strategyId", json!([demo.office]))],
                vec!["user01_1", "user03_1", "user05_1", "user07_1", "user09_1"],
            ),
            (
                vec![eq("networkId", json!([demo.lab_net]))],
                vec!["user02_1", "user04_1", "user06_1", "user08_1", "user10_1"],
            ),
            (vec![eq("deskId", json!([u2["desk_id"]]))], vec!["user02_1"]),
            // conditions are ANDed
            (
                vec![
                    eq("deskState", json!(["RUNNING"])),
                    eq("networkId", json!([demo.lab_net])),
                ],
                vec!["user02_1", "user04_1"],
            ),
        ];
        for (m, want) in cases {
            let d = e.desks(query(m.clone())).await;
            assert_eq!(names(&d["item_arr"]), want, "{db:?} {m:?}");
            assert_eq!(d["total"], want.len(), "{m:?}");
        }
        let d = e
            .desks(query(vec![eq("deskCategory", json!(["VDI"]))]))
            .await;
        assert_eq!(d["total"], 10);
        let d = e
            .desks(query(vec![eq("clusterId", json!([demo.cluster]))]))
            .await;
        assert_eq!(d["total"], 10);

        // sorting and paging
        let sorted = |dir: &str, page: i64, limit: i64| {
            json!({"page": page, "limit": limit,
                   "sort_arr": [{"field_name": "desktopName", "direction": dir}]})
        };
        let d = e.desks(sorted("DESC", 0, 100)).await;
        let mut rev = expected.clone();
        rev.reverse();
        assert_eq!(names(&d["item_arr"]), rev, "{db:?}");
        let d = e.desks(sorted("ASC", 0, 100)).await;
        assert_eq!(names(&d["item_arr"]), expected);
        let d = e.desks(sorted("DESC", 1, 3)).await;
        assert_eq!(d["total"], 10);
        assert_eq!(names(&d["item_arr"]), ["user07_1", "user06_1", "user05_1"]);
        let d = e.desks(sorted("ASC", 3, 3)).await;
        assert_eq!(names(&d["item_arr"]), ["user10_1"]);
        let d = e.desks(sorted("ASC", 4, 3)).await;
        assert_eq!(d["total"], 10, "total counts every match, not the page");
        assert_eq!(d["item_arr"], json!([]));
        let d = e
            .desks(json!({"page": 2_147_483_647i64, "limit": 1000}))
            .await;
        assert_eq!(d["total"], 10, "{db:?} the largest page");
        assert_eq!(d["item_arr"], json!([]));
        // filter, sort and page together
        let d = e
            .desks(json!({"page": 1, "limit": 2,
                "match_arr": [eq("deskType", json!(["PERSONAL"]))],
                "sort_arr": [{"field_name": "desktopName", "direction": "DESC"}]}))
            .await;
        assert_eq!(d["total"], 5);
        assert_eq!(names(&d["item_arr"]), ["user05_1", "user03_1"]);

        // illegal rule or type: 23010801 for desks (D5)
        for cond in [
            json!({"field_name": "desktopName", "match_rule": "LIKE", "type": "EXACT", "value_arr": ["user"]}),
            json!({"field_name": "desktopName", "match_rule": "EQ", "type": "FUZZY", "value_arr": ["user"]}),
        ] {
            let c = e
                .put(
                    "/v1/desk:pagequery",
                    json!({"page": 0, "limit": 10, "match_arr": [cond]}),
                )
                .await;
            assert_err(&c, 23010801, &["content.match_arr[0]"]);
        }
        // unknown field names list the allowed ones
        let allowed = [
            "desktopName",
            "deskState",
            "deskType",
            "ip",
            "terminalIp",
            "userName",
            "imageName",
            "deskCategory",
            "clusterId",
            "strategyId",
            "networkId",
        ];
        let c = e
            .put(
                "/v1/desk:pagequery",
                json!({"page": 0, "limit": 10, "match_arr": [eq("nope", json!(["x"]))]}),
            )
            .await;
        let mut needles = vec!["content.match_arr[0].field_name", "nope"];
        needles.extend(allowed);
        assert_err(&c, 22000400, &needles);
        let c = e
            .put(
                "/v1/desk:pagequery",
                json!({"page": 0, "limit": 10, "sort_arr": [{"field_name": "nope", "direction": "ASC"}]}),
            )
            .await;
        let mut needles = vec!["content.sort_arr[0].field_name"];
        needles.extend(allowed);
        assert_err(&c, 22000400, &needles);
        // other bad input
        let bad = [
            (
                json!({"page": 0, "limit": 10, "match_arr": [eq("deskState", json!(["NAPPING"]))]}),
                "content.match_arr[0].value_arr[0]",
            ),
            (
                json!({"page": 0, "limit": 10, "match_arr": [eq("deskState", json!([]))]}),
                "content.match_arr[0].value_arr",
            ),
            (
                json!({"page": 0, "limit": 10, "sort_arr": [{"field_name": "ip", "direction": "UP"}]}),
                "content.sort_arr[0].direction",
            ),
            (json!({"limit": 10}), "content.page"),
            (json!({"page": 0, "limit": 1001}), "content.limit"),
            (json!({"page": 0, "limit": 0}), "content.limit"),
        ];
        for (q, field) in bad {
            let c = e.put("/v1/desk:pagequery", q.clone()).await;
            assert_err(&c, 22000400, &[field]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 6.1.6–6.1.9 desk actions and the state machine (D8)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn lifecycle_start_restart_shutdown_power_off_and_refusals() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &[]).await;
        let demo = e.demo().await;
        let d5 = e.desk("user05_1").await;
        let id5 = d5["desk_id"].as_str().unwrap().to_string();
        assert_eq!(d5["desk_state"], "CLOSE");

        // refusals name the current state and change nothing
        let c = e.action(&id5, "restart", None).await;
        assert_err(&c, 23010901, &["CLOSE", "restart"]);
        let c = e.action(&id5, "shutdown", None).await;
        assert_err(&c, 23010901, &["CLOSE", "shutdown"]);
        let c = e.action(&id5, "powerOff", None).await;
        assert_err(&c, 23010901, &["CLOSE"]);
        assert_eq!(e.state("user05_1").await, "CLOSE");

        // start: CLOSE → RUNNING
        let task = e.act(&id5, "start").await;
        assert_eq!(task["task_status"], "FINISHED", "{db:?} {task}");
        let it = items(&task);
        assert_eq!(it.len(), 1, "{task}");
        assert_eq!(item_status(&it[0]), "SUCCESS");
        assert_eq!(it[0]["item_biz_data"]["desk_id"], json!(id5));
        assert!(task.get("error_message").is_none(), "{task}");
        assert_eq!(e.state("user05_1").await, "RUNNING");

        let c = e.action(&id5, "start", None).await;
        assert_err(&c, 23010901, &["RUNNING", "start"]);
        let c = e
            .put(
                &format!("/v1/desk/{id5}/configuration/modify"),
                json!({"cpu_cores": 4, "memory": 8, "system_disk": 40}),
            )
            .await;
        assert_err(&c, 23010901, &["RUNNING"]);

        // restart: synchronous {"code":0}, stays RUNNING
        let c = e.action(&id5, "restart", None).await;
        assert_eq!(c, json!({"code": 0}), "{db:?}");
        assert_eq!(e.state("user05_1").await, "RUNNING");
        // the reboot runs in the background; the desk stays RUNNING once it is done
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(e.state("user05_1").await, "RUNNING");

        // shutdown: RUNNING → CLOSE
        let task = e.act(&id5, "shutdown").await;
        assert_eq!(task["task_status"], "FINISHED", "{task}");
        assert_eq!(e.state("user05_1").await, "CLOSE");

        // powerOff of a RUNNING desk → CLOSE
        let id1 = e.desk("user01_1").await["desk_id"]
            .as_str()
            .unwrap()
            .to_string();
        let task = e.act(&id1, "powerOff").await;
        assert_eq!(task["task_status"], "FINISHED", "{task}");
        assert_eq!(e.state("user01_1").await, "CLOSE");

        // SLEEP: shutdown and restart are refused; start wakes it (D8: CLOSE or SLEEP → RUNNING)
        let id9 = e.desk("user09_1").await["desk_id"]
            .as_str()
            .unwrap()
            .to_string();
        let c = e.action(&id9, "restart", None).await;
        assert_err(&c, 23010901, &["SLEEP"]);
        let c = e.action(&id9, "shutdown", None).await;
        assert_err(&c, 23010901, &["SLEEP"]);
        let task = e.act(&id9, "start").await;
        assert_eq!(task["task_status"], "FINISHED", "{db:?} {task}");
        let d9 = e.desk("user09_1").await;
        assert_eq!(d9["desk_state"], "RUNNING", "{d9}");
        assert_eq!(d9["error_message"], "");

        // ERROR: start refused; powerOff recovers it and clears the reason
        let id10 = e.desk("user10_1").await["desk_id"]
            .as_str()
            .unwrap()
            .to_string();
        let c = e.action(&id10, "start", None).await;
        assert_err(&c, 23010901, &["ERROR"]);
        let task = e.act(&id10, "powerOff").await;
        assert_eq!(task["task_status"], "FINISHED", "{task}");
        let d10 = e.desk("user10_1").await;
        assert_eq!(d10["desk_state"], "CLOSE");
        assert_eq!(d10["error_message"], "");

        // cluster_id: a known one is echoed, an unknown one is 23170002 and changes nothing
        let c = e
            .action(
                &id5,
                "start",
                Some(json!({"cluster_id": "no-such-cluster"})),
            )
            .await;
        assert_err(&c, 23170002, &["no-such-cluster"]);
        assert_eq!(e.state("user05_1").await, "CLOSE");
        let c = e
            .action(&id5, "start", Some(json!({"cluster_id": demo.cluster})))
            .await;
        assert_eq!(c["code"], 0, "{c}");
        assert_eq!(c["data"]["cluster_id"], json!(demo.cluster));
        let task_id = c["data"]["task_id"].as_str().unwrap().to_string();
        assert_ne!(task_id, id5, "a fresh task id, not the desk id");
        let task = e.wait_task(&task_id, TASK_TIMEOUT).await;
        assert_eq!(task["task_status"], "FINISHED");
        let c = e.action(&id5, "start", None).await;
        assert_err(&c, 23010901, &["RUNNING"]);

        // 6.1.12 answers PUT, POST and GET; echoes a known cluster, refuses an unknown one
        let detail = format!("/v1/task/{task_id}/detail");
        for method in ["PUT", "POST", "GET"] {
            let c = e.send(method, &detail, None).await;
            assert_eq!(c["data"]["task_status"], "FINISHED", "{method} {c}");
            assert_eq!(c["data"]["resource_list"], json!([]), "{c}");
            assert!(c["data"].get("cluster_id").is_none(), "{c}");
        }
        let c = e.put(&detail, json!({"cluster_id": demo.cluster})).await;
        assert_eq!(c["data"]["cluster_id"], json!(demo.cluster), "{c}");
        let c = e
            .put(&detail, json!({"cluster_id": "no-such-cluster"}))
            .await;
        assert_err(&c, 23170002, &["no-such-cluster"]);
        let ghost = uuid::Uuid::new_v4().to_string();
        let c = e
            .send("GET", &format!("/v1/task/{ghost}/detail"), None)
            .await;
        assert_err(&c, 22000400, &["does not exist"]);

        // start, shutdown, powerOff answer without cluster_id when none was sent
        let c = e.action(&id5, "powerOff", Some(json!({}))).await;
        assert_eq!(c["code"], 0, "{c}");
        assert!(c["data"].get("cluster_id").is_none(), "{c}");
        e.wait(&c).await;

        // unknown desk: 22000400 for every verb
        let ghost = uuid::Uuid::new_v4().to_string();
        for verb in ["start", "shutdown", "powerOff", "restart"] {
            let c = e.action(&ghost, verb, None).await;
            assert_err(&c, 22000400, &[&ghost, "does not exist"]);
        }
        // unknown verb: no such path
        let (status, b) =
            e.s.call("PUT", &format!("/v1/desk/{id5}:explode"), None, Some(&e.t))
                .await;
        assert_eq!((status, code(&b)), (404, 22000400), "{b}");
        // D2: :shutdown and :powerOff are documented as PUT; :start and :restart take POST too
        for (method, verb, want) in [
            ("POST", "shutdown", 405),
            ("POST", "powerOff", 405),
            ("GET", "start", 405),
            ("POST", "restart", 200),
        ] {
            let (status, b) =
                e.s.call(method, &format!("/v1/desk/{id5}:{verb}"), None, Some(&e.t))
                    .await;
            assert_eq!(status, want, "{method} :{verb} {b}");
            if want == 405 {
                assert_eq!(code(&b), 22000400, "{b}");
            } else {
                assert_err(&b["content"], 23010901, &["CLOSE"]);
            }
        }
    }
}

/// The document says nothing observable separates the two types over HTTP but `desk_type`; a
/// RECOVERABLE desk still goes through the same state machine.
#[tokio::test]
async fn recoverable_and_personal_desks_show_their_type_and_share_the_state_machine() {
    let e = Env::start(Db::Sqlite, &[]).await;
    for (name, ty) in [("user06_1", "RECOVERABLE"), ("user07_1", "PERSONAL")] {
        let d = e.desk(name).await;
        assert_eq!(d["desk_type"], ty);
        let id = d["desk_id"].as_str().unwrap().to_string();
        assert_eq!(e.act(&id, "start").await["task_status"], "FINISHED");
        assert_eq!(e.action(&id, "restart", None).await["code"], 0);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(e.desk(name).await["desk_state"], "RUNNING");
        assert_eq!(e.act(&id, "shutdown").await["task_status"], "FINISHED");
        let after = e.desk(name).await;
        assert_eq!(after["desk_state"], "CLOSE");
        assert_eq!(after["desk_type"], ty, "the type survives a cycle");
        assert_eq!(after["system_disk"], d["system_disk"]);
        assert_eq!(after["data_disk"], d["data_disk"]);
    }
    // powerOff closes a SLEEP desk
    let id9 = e.desk("user09_1").await["desk_id"]
        .as_str()
        .unwrap()
        .to_string();
    let task = e.act(&id9, "powerOff").await;
    assert_eq!(task["task_status"], "FINISHED", "{task}");
    assert_eq!(e.state("user09_1").await, "CLOSE");
}

// ---------------------------------------------------------------------------------------------
// 6.1.4 configuration modify
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn configuration_modify_changes_the_shape_and_validates() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &[]).await;
        let d7 = e.desk("user07_1").await; // CLOSE, office-standard 2/4/40 + 20
        let id7 = d7["desk_id"].as_str().unwrap().to_string();
        let path7 = format!("/v1/desk/{id7}/configuration/modify");

        let c = e
            .put(
                &path7,
                json!({"cpu_cores": 4, "memory": 8, "system_disk": 50, "data_disk": 30}),
            )
            .await;
        assert_eq!(c["code"], 0, "{c}");
        assert!(c["data"].get("cluster_id").is_none());
        let task = e.wait(&c).await;
        assert_eq!(task["task_status"], "FINISHED", "{db:?} {task}");
        let d = e.desk("user07_1").await;
        assert_eq!(
            (
                &d["cpu_cores"],
                &d["memory"],
                &d["system_disk"],
                &d["data_disk"]
            ),
            (&json!(4), &json!(8), &json!(50), &json!(30)),
            "{d}"
        );
        assert_eq!(d["enable_custom"], true);
        assert_eq!(d["desk_state"], "CLOSE");

        // without data_disk the data disk keeps its size; the extremes are accepted
        let c = e
            .put(
                &path7,
                json!({"cpu_cores": 32, "memory": 64, "system_disk": 2048}),
            )
            .await;
        assert_eq!(c["code"], 0, "{c}");
        let task = e.wait(&c).await;
        assert_eq!(task["task_status"], "FINISHED", "{task}");
        let d = e.desk("user07_1").await;
        assert_eq!(
            (
                &d["cpu_cores"],
                &d["memory"],
                &d["system_disk"],
                &d["data_disk"]
            ),
            (&json!(32), &json!(64), &json!(2048), &json!(30)),
            "{d}"
        );
        // more than the host can hold: the task fails and the desk keeps its shape
        let c = e
            .put(
                &path7,
                json!({"cpu_cores": 1, "memory": 1, "system_disk": 2048, "data_disk": 2048}),
            )
            .await;
        assert_eq!(c["code"], 0, "{c}");
        let task = e.wait(&c).await;
        assert_eq!(task["task_status"], "ERROR", "{db:?} {task}");
        assert!(
            task["error_message"].as_str().unwrap().starts_with(&id7),
            "the item id is the desk id: {task}"
        );
        assert!(
            items(&task)[0]["item_result"]
                .as_str()
                .unwrap()
                .contains("demo-host-"),
            "names the host: {task}"
        );
        let d = e.desk("user07_1").await;
        assert_eq!(
            (
                &d["cpu_cores"],
                &d["memory"],
                &d["system_disk"],
                &d["data_disk"],
                &d["desk_state"]
            ),
            (
                &json!(32),
                &json!(64),
                &json!(2048),
                &json!(30),
                &json!("CLOSE")
            ),
            "{d}"
        );
        // the smallest values and the largest data disk on another desk
        let d5 = e.desk("user05_1").await; // CLOSE, office-standard
        let c = e
            .put(
                &format!(
                    "/v1/desk/{}/configuration/modify",
                    d5["desk_id"].as_str().unwrap()
                ),
                json!({"cpu_cores": 1, "memory": 1, "system_disk": 40, "data_disk": 2048}),
            )
            .await;
        assert_eq!(c["code"], 0, "{c}");
        let task = e.wait(&c).await;
        assert_eq!(task["task_status"], "FINISHED", "{task}");
        let d = e.desk("user05_1").await;
        assert_eq!(
            (
                &d["cpu_cores"],
                &d["memory"],
                &d["system_disk"],
                &d["data_disk"]
            ),
            (&json!(1), &json!(1), &json!(40), &json!(2048)),
            "{d}"
        );

        // out-of-range values: 23010701 naming the field
        let base = json!({"cpu_cores": 2, "memory": 4, "system_disk": 2048});
        let cases = [
            ("cpu_cores", json!(0)),
            ("cpu_cores", json!(33)),
            ("memory", json!(0)),
            ("memory", json!(65)),
            ("system_disk", json!(19)),
            ("system_disk", json!(2049)),
            ("data_disk", json!(19)),
            ("data_disk", json!(2049)),
        ];
        for (field, v) in cases {
            let mut body = base.clone();
            body[field] = v.clone();
            let c = e.put(&path7, body).await;
            assert_err(&c, 23010701, &[&format!("content.{field}")]);
        }
        // a data disk on a desk without one
        let d6 = e.desk("user06_1").await; // CLOSE, lab-recoverable 4/8/60, no data disk
        assert_eq!(d6["data_disk"], 0);
        let path6 = format!(
            "/v1/desk/{}/configuration/modify",
            d6["desk_id"].as_str().unwrap()
        );
        let c = e
            .put(
                &path6,
                json!({"cpu_cores": 4, "memory": 8, "system_disk": 60, "data_disk": 20}),
            )
            .await;
        assert_err(&c, 23010701, &["content.data_disk"]);
        // shrinking a disk
        let c = e
            .put(
                &path6,
                json!({"cpu_cores": 4, "memory": 8, "system_disk": 40}),
            )
            .await;
        assert_err(&c, 23010701, &["content.system_disk", "shrink"]);
        let c = e
            .put(
                &path7,
                json!({"cpu_cores": 4, "memory": 8, "system_disk": 2048, "data_disk": 20}),
            )
            .await;
        assert_err(&c, 23010701, &["content.data_disk", "shrink"]);
        // wrong type or missing field: generic 22000400
        let c = e
            .put(&path7, json!({"memory": 4, "system_disk": 2048}))
            .await;
        assert_err(&c, 22000400, &["cpu_cores"]);
        let c = e
            .put(
                &path7,
                json!({"cpu_cores": "four", "memory": 4, "system_disk": 2048}),
            )
            .await;
        assert_err(&c, 22000400, &["content.cpu_cores"]);
        // the refusals changed nothing
        let d = e.desk("user07_1").await;
        assert_eq!(
            (
                &d["cpu_cores"],
                &d["memory"],
                &d["system_disk"],
                &d["data_disk"]
            ),
            (&json!(32), &json!(64), &json!(2048), &json!(30)),
            "{d}"
        );
        let d = e.desk("user06_1").await;
        assert_eq!(
            (&d["system_disk"], &d["data_disk"]),
            (&json!(60), &json!(0))
        );
        assert_eq!(d["enable_custom"], false);

        // only in CLOSE
        for name in ["user01_1", "user09_1", "user10_1"] {
            let d = e.desk(name).await;
            let state = d["desk_state"].as_str().unwrap().to_string();
            let c = e
                .put(
                    &format!(
                        "/v1/desk/{}/configuration/modify",
                        d["desk_id"].as_str().unwrap()
                    ),
                    json!({"cpu_cores": 4, "memory": 8, "system_disk": 60}),
                )
                .await;
            assert_err(&c, 23010901, &[&state]);
        }
        // unknown desk
        let ghost = uuid::Uuid::new_v4().to_string();
        let c = e
            .put(
                &format!("/v1/desk/{ghost}/configuration/modify"),
                json!({"cpu_cores": 4, "memory": 8, "system_disk": 60}),
            )
            .await;
        assert_err(&c, 22000400, &[&ghost]);
    }
}

// ---------------------------------------------------------------------------------------------
// 6.1.10 batch create
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn batch_create_makes_desks_reports_items_and_is_idempotent() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &[]).await;
        let demo = e.demo().await;
        let mut c_item = create_item(
            "AA123458",
            "user13",
            &demo.win10,
            &demo.office,
            &demo.office_net,
        );
        c_item["desk_name"] = json!("Zed.desk-1");
        c_item["remark"] = json!("前台");
        c_item["desk_type"] = json!("RECOVERABLE");
        let batch = json!({"fail_rollback": false, "desk_info_arr": [
            create_item("AA123456", "user11", &demo.win10, &demo.office, &demo.office_net),
            create_item(" AA123457 ", "user12", &demo.ubuntu, &demo.lab, &demo.lab_net),
            c_item,
        ]});
        let task = e.batch("/v1/desk/batch/create", batch.clone()).await;
        assert_eq!(task["task_status"], "FINISHED", "{db:?} {task}");
        assert_eq!(task["task_result"], "成功[3]，失败[0]");
        assert!(task.get("error_message").is_none());
        let it = items(&task);
        assert_eq!(
            it.iter().map(|i| i["id"].clone()).collect::<Vec<_>>(),
            [json!("AA123456"), json!("AA123457"), json!("AA123458")],
            "caller ids, trimmed, in request order"
        );
        let mut created = HashMap::new();
        for (i, user) in it.iter().zip(["user11", "user12", "user13"]) {
            assert_eq!(item_status(i), "SUCCESS", "{i}");
            assert!(i["item_result"].as_str().is_some_and(|s| !s.is_empty()));
            let b = &i["item_biz_data"];
            assert_eq!(b["user_name"], user, "{i}");
            assert!(is_uuid(&b["desk_id"]), "{i}");
            created.insert(
                i["id"].as_str().unwrap().to_string(),
                (
                    b["desk_id"].as_str().unwrap().to_string(),
                    b["desk_name"].as_str().unwrap().to_string(),
                ),
            );
        }
        let resources = task["resource_list"].as_array().unwrap();
        assert_eq!(resources.len(), 3, "{task}");
        let listed: HashSet<(String, String)> = resources
            .iter()
            .map(|r| {
                (
                    r["desk_id"].as_str().unwrap().to_string(),
                    r["desk_name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(listed, created.values().cloned().collect::<HashSet<_>>());
        assert_eq!(created["AA123456"].1, "user11_1");
        assert_eq!(created["AA123457"].1, "user12_1");
        assert_eq!(created["AA123458"].1, "Zed.desk-1");

        // the desks are there, closed, shaped by their strategy, with unique pool addresses
        assert_eq!(e.total().await, 13);
        let a = e.desk_by_id(&created["AA123456"].0).await.unwrap();
        has_fields(&a, DESK_FIELDS);
        assert_eq!(a["desk_state"], "CLOSE");
        assert_eq!(a["desk_type"], "PERSONAL");
        assert_eq!(a["user_name"], "user11");
        assert_eq!(a["image_name"], "VDI Windows 10");
        assert_eq!(a["network_id"], json!(demo.office_net));
        assert_eq!(a["desk_strategy_id"], json!(demo.office));
        assert_eq!(a["cluster_id"], json!(demo.cluster));
        assert!(
            a["host_name"].as_str().unwrap().starts_with("demo-host-"),
            "{a}"
        );
        assert!(is_uuid(&a["host_id"]), "{a}");
        assert_eq!(a["mac"].as_str().unwrap().len(), 17, "{a}");
        assert_eq!(
            (
                &a["cpu_cores"],
                &a["memory"],
                &a["system_disk"],
                &a["data_disk"]
            ),
            (&json!(2), &json!(4), &json!(40), &json!(20))
        );
        let b = e.desk_by_id(&created["AA123457"].0).await.unwrap();
        assert_eq!(b["desk_type"], "RECOVERABLE");
        assert_eq!(b["image_name"], "VDI Ubuntu");
        assert_eq!(b["ip"], "192.168.20.105", "lowest free address of lab-net");
        assert_eq!(
            (
                &b["cpu_cores"],
                &b["memory"],
                &b["system_disk"],
                &b["data_disk"]
            ),
            (&json!(4), &json!(8), &json!(60), &json!(0))
        );
        let c = e.desk_by_id(&created["AA123458"].0).await.unwrap();
        assert_eq!(c["remark"], "前台");
        assert_eq!(
            c["desk_type"], "RECOVERABLE",
            "desk_type overrides the strategy"
        );
        let office_ips: BTreeSet<_> = [&a, &c]
            .iter()
            .map(|d| d["ip"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            office_ips,
            ["192.168.10.105", "192.168.10.106"]
                .map(String::from)
                .into_iter()
                .collect::<BTreeSet<_>>()
        );
        let all = e.all_desks().await;
        let ips: HashSet<_> = all.iter().map(|d| d["ip"].clone()).collect();
        assert_eq!(ips.len(), all.len(), "every address is unique");
        let macs: HashSet<_> = all.iter().map(|d| d["mac"].clone()).collect();
        assert_eq!(macs.len(), all.len(), "every MAC is unique");
        // text sorts byte-wise on every database (D5): `Zed.desk-1` before `user…`
        let mut bytewise: Vec<String> = all
            .iter()
            .map(|d| d["desk_name"].as_str().unwrap().to_string())
            .collect();
        bytewise.sort();
        assert_eq!(bytewise[0], "Zed.desk-1");
        let sorted = e
            .desks(json!({"page": 0, "limit": 100,
                "sort_arr": [{"field_name": "desktopName", "direction": "ASC"}]}))
            .await;
        assert_eq!(names(&sorted["item_arr"]), bytewise, "{db:?}");

        // the same batch again creates nothing and reports the same desks (D7)
        let again = e.batch("/v1/desk/batch/create", batch.clone()).await;
        assert_eq!(again["task_status"], "FINISHED", "{again}");
        for i in items(&again) {
            assert_eq!(item_status(&i), "SUCCESS", "{i}");
            let (id, name) = &created[i["id"].as_str().unwrap()];
            assert_eq!(i["item_biz_data"]["desk_id"], json!(id), "{i}");
            assert_eq!(i["item_biz_data"]["desk_name"], json!(name), "{i}");
        }
        assert_eq!(again["resource_list"].as_array().unwrap().len(), 3);
        assert_eq!(e.total().await, 13, "{db:?}: no second desk");

        // a malformed item refuses the whole request, naming the item and field; nothing is
        // created (an item naming something missing fails alone: see
        // `batch_create_fails_items_naming_missing_things_alone`)
        let good =
            |id: &str| create_item(id, "user14", &demo.win10, &demo.office, &demo.office_net);
        let named = |id: &str, name: &str| {
            let mut v = good(id);
            v["desk_name"] = json!(name);
            v
        };
        let mut bad_type = good("B5");
        bad_type["desk_type"] = json!("SHARED");
        let mut bad_name = good("B6");
        bad_name["desk_name"] = json!("_hidden");
        let mut long_remark = good("B7");
        long_remark["remark"] = json!("x".repeat(129));
        let cases = [
            (vec![bad_type], "content.desk_info_arr[0].desk_type"),
            (
                vec![good("G1"), bad_name],
                "content.desk_info_arr[1].desk_name",
            ),
            (vec![long_remark], "content.desk_info_arr[0].remark"),
            (
                vec![named("G1", "twin"), named("G2", "twin")],
                "content.desk_info_arr[1].desk_name",
            ),
            (vec![good("G1"), good("G1")], "content.desk_info_arr[1].id"),
            (vec![good(&"x".repeat(65))], "content.desk_info_arr[0].id"),
            (vec![], "content.desk_info_arr"),
        ];
        for (arr, field) in cases {
            let c = e
                .post(
                    "/v1/desk/batch/create",
                    json!({"fail_rollback": false, "desk_info_arr": arr}),
                )
                .await;
            assert_err(&c, 22000400, &[field]);
        }
        let c = e
            .post("/v1/desk/batch/create", json!({"fail_rollback": false}))
            .await;
        assert_err(&c, 22000400, &["desk_info_arr"]);
        let arr = many(1001, |i| good(&format!("L{i}")));
        let c = e
            .post(
                "/v1/desk/batch/create",
                json!({"fail_rollback": false, "desk_info_arr": arr}),
            )
            .await;
        assert_err(&c, 23010703, &["1001", "1000"]);
        assert_eq!(e.total().await, 13, "refused requests create nothing");

        // a desk name already taken fails that item at run time
        let mut taken = good("T1");
        taken["desk_name"] = json!("user01_1");
        let task = e
            .batch(
                "/v1/desk/batch/create",
                json!({"fail_rollback": false, "desk_info_arr": [taken, good("T2")]}),
            )
            .await;
        assert_eq!(task["task_status"], "ERROR", "{task}");
        assert_eq!(failed_ids(&task), ["T1"]);
        assert!(
            task["error_message"].as_str().unwrap().starts_with("T1 "),
            "{task}"
        );
        assert!(
            task.get("resource_list").is_none(),
            "only FINISHED carries resource_list"
        );
        assert_eq!(e.total().await, 14);

        // cluster_id: unknown → 23170002; known → echoed
        let c = e
            .post(
                "/v1/desk/batch/create",
                json!({"cluster_id": "no-such-cluster", "desk_info_arr": [good("C1")]}),
            )
            .await;
        assert_err(&c, 23170002, &["no-such-cluster"]);
        let c = e
            .post(
                "/v1/desk/batch/create",
                json!({"cluster_id": demo.cluster, "fail_rollback": "TRUE", "desk_info_arr": [good("C2")]}),
            )
            .await;
        assert_eq!(c["code"], 0, "{c}");
        assert_eq!(c["data"]["cluster_id"], json!(demo.cluster));
        let task_id = c["data"]["task_id"].as_str().unwrap().to_string();
        e.wait_task(&task_id, TASK_TIMEOUT).await;
        let c = e
            .put(
                &format!("/v1/task/{task_id}/detail"),
                json!({"cluster_id": demo.cluster}),
            )
            .await;
        assert_eq!(c["code"], 0, "{c}");
        assert_eq!(c["data"]["cluster_id"], json!(demo.cluster));
        assert_eq!(c["data"]["task_status"], "FINISHED");
        assert_eq!(
            e.total().await,
            15,
            "fail_rollback keeps the desks of a batch without failures"
        );

        // a repeated item id with another user reports the existing desk with its own owner
        let again = e
            .batch(
                "/v1/desk/batch/create",
                json!({"desk_info_arr": [create_item("AA123456", "user12", &demo.win10, &demo.office, &demo.office_net)]}),
            )
            .await;
        let i = &items(&again)[0];
        assert_eq!(
            i["item_biz_data"]["desk_id"],
            json!(created["AA123456"].0),
            "{i}"
        );
        assert_eq!(
            i["item_biz_data"]["user_name"], "user11",
            "item_biz_data describes the desk it reports: {i}"
        );
        assert_eq!(e.total().await, 15);
    }
}

/// An item naming a user, image, strategy or network that does not exist fails alone (a.8,
/// B.6): the good items are created, the bad ones are FAILURE with their reason, the task is
/// ERROR with `error_message`; with `fail_rollback` the batch's desks are removed again.
#[tokio::test]
async fn batch_create_fails_items_naming_missing_things_alone() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &[]).await;
        let demo = e.demo().await;
        let before = e.total().await;
        let good =
            |id: &str| create_item(id, "user14", &demo.win10, &demo.office, &demo.office_net);
        let mut bad_user = good("B1");
        bad_user["user_name"] = json!("nobody");
        let ghost_image = uuid::Uuid::new_v4().to_string();
        let mut bad_image = good("B2");
        bad_image["image_id"] = json!(ghost_image);
        let mut bad_strategy = good("B3");
        bad_strategy["desk_strategy_id"] = json!("nope-strategy");
        let mut bad_network = good("B4");
        bad_network["network_id"] = json!("nope-network");
        let arr = vec![
            good("G1"),
            bad_user,
            bad_image,
            bad_strategy,
            bad_network,
            good("G2"),
        ];
        let task = e
            .batch(
                "/v1/desk/batch/create",
                json!({"fail_rollback": false, "desk_info_arr": arr}),
            )
            .await;
        assert_eq!(task["task_status"], "ERROR", "{db:?} {task}");
        assert_eq!(failed_ids(&task), ["B1", "B2", "B3", "B4"], "{task}");
        let reasons: HashMap<String, String> = items(&task)
            .iter()
            .map(|i| {
                let id = i["id"].as_str().unwrap().to_string();
                (id, i["item_result"].as_str().unwrap_or("").to_string())
            })
            .collect();
        for (id, says) in [
            ("B1", "nobody"),
            ("B2", ghost_image.as_str()),
            ("B3", "nope-strategy"),
            ("B4", "nope-network"),
        ] {
            assert!(
                reasons[id].contains(says) && reasons[id].contains("does not exist"),
                "{db:?} {id}: {}",
                reasons[id]
            );
        }
        for i in items(&task) {
            if i["id"].as_str().unwrap().starts_with('G') {
                assert_eq!(item_status(&i), "SUCCESS", "{i}");
            }
        }
        assert!(
            task["error_message"].as_str().unwrap().starts_with("B1"),
            "{task}"
        );
        assert_eq!(e.total().await, before + 2, "{db:?}: the good items' desks");

        // with fail_rollback the desks this batch created are removed again
        let mut bad = good("R2");
        bad["image_id"] = json!(uuid::Uuid::new_v4().to_string());
        let task = e
            .batch(
                "/v1/desk/batch/create",
                json!({"fail_rollback": true, "desk_info_arr": [good("R1"), bad]}),
            )
            .await;
        assert_eq!(task["task_status"], "ERROR", "{db:?} {task}");
        assert_eq!(
            failed_ids(&task),
            ["R1", "R2"],
            "the rolled-back item is reported too: {task}"
        );
        assert_eq!(e.total().await, before + 2, "{db:?}: R1 rolled back");

        // a batch whose only item names a missing user still gets a task that ends in ERROR
        let mut lone = good("L1");
        lone["user_name"] = json!("nobody");
        let task = e
            .batch("/v1/desk/batch/create", json!({"desk_info_arr": [lone]}))
            .await;
        assert_eq!(task["task_status"], "ERROR", "{db:?} {task}");
        assert_eq!(failed_ids(&task), ["L1"], "{task}");
    }
}

/// `fail_rollback` deletes what *this* batch created. An item whose caller id already produced a
/// desk in an earlier batch (D7) created nothing now, so a rollback must leave that desk alone.
#[tokio::test]
async fn rollback_spares_desks_of_earlier_batches() {
    let e = Env::start(Db::Sqlite, &[]).await;
    let demo = e.demo().await;
    let k1 = create_item("K1", "user11", &demo.win10, &demo.office, &demo.office_net);
    let first = e
        .batch(
            "/v1/desk/batch/create",
            json!({"fail_rollback": false, "desk_info_arr": [k1.clone()]}),
        )
        .await;
    assert_eq!(first["task_status"], "FINISHED", "{first}");
    let desk_id = items(&first)[0]["item_biz_data"]["desk_id"]
        .as_str()
        .unwrap()
        .to_string();
    // the retry adds an item that fails at run time (its name is taken)
    let mut k2 = create_item("K2", "user12", &demo.win10, &demo.office, &demo.office_net);
    k2["desk_name"] = json!("user01_1");
    let retry = e
        .batch(
            "/v1/desk/batch/create",
            json!({"fail_rollback": true, "desk_info_arr": [k1, k2]}),
        )
        .await;
    assert_eq!(retry["task_status"], "ERROR", "{retry}");
    assert!(
        e.desk_by_id(&desk_id).await.is_some(),
        "the desk of the first batch survives the second batch's rollback: {retry}"
    );
    assert_eq!(e.total().await, 11);
}

/// Item ids are optional (6.1.10); the server names an item without one itself, and that name
/// must not collide with an id the caller did send.
#[tokio::test]
async fn an_item_without_id_does_not_clash_with_a_caller_id() {
    let e = Env::start(Db::Sqlite, &[]).await;
    let demo = e.demo().await;
    let mut second = create_item("", "user12", &demo.win10, &demo.office, &demo.office_net);
    second.as_object_mut().unwrap().remove("id");
    let c = e
        .post(
            "/v1/desk/batch/create",
            json!({"desk_info_arr": [
                create_item("item-2", "user11", &demo.win10, &demo.office, &demo.office_net),
                second,
            ]}),
        )
        .await;
    assert_eq!(c["code"], 0, "the caller's only id is unique: {c}");
    let task = e.wait(&c).await;
    assert_eq!(task["task_status"], "FINISHED", "{task}");
    let ids: HashSet<_> = items(&task).iter().map(|i| i["id"].clone()).collect();
    assert_eq!(ids.len(), 2, "every item is told apart: {task}");
}

// ---------------------------------------------------------------------------------------------
// IP pool exhaustion and fail_rollback
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn ip_pool_exhaustion_fails_the_overflow_and_rollback_removes_the_batch() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &[]).await;
        let demo = e.demo().await;
        let users = ["user11", "user12", "user13", "user14", "user15", "user16"];
        let item = |prefix: &str, i: usize| {
            create_item(
                &format!("{prefix}{i}"),
                users[i % users.len()],
                &demo.win10,
                &demo.office,
                &demo.lab_net,
            )
        };
        let lab = query(vec![eq("networkId", json!([demo.lab_net]))]);
        assert_eq!(
            e.desks(lab.clone()).await["total"],
            5,
            "the demo has 5 desks on lab-net"
        );

        // 94 addresses are free: 96 items leave 2 without one
        let task = e
            .batch(
                "/v1/desk/batch/create",
                json!({"fail_rollback": false, "desk_info_arr": many(96, |i| item("X", i))}),
            )
            .await;
        assert_eq!(task["task_status"], "ERROR", "{db:?} {task}");
        assert_eq!(task["task_result"], "成功[94]，失败[2]");
        let failed = failed_ids(&task);
        assert_eq!(failed.len(), 2, "{task}");
        for i in items(&task) {
            if failed.contains(&i["id"].as_str().unwrap().to_string()) {
                let r = i["item_result"].as_str().unwrap();
                assert!(r.contains("lab-net") && r.contains("exhausted"), "{i}");
                assert!(
                    r.contains("192.168.20.100") && r.contains("192.168.20.198"),
                    "{i}"
                );
            }
        }
        let msg = task["error_message"].as_str().unwrap();
        assert!(
            msg.starts_with(&format!("{} ", failed.join(","))),
            "error_message starts with the failed ids: {msg}"
        );
        assert!(msg.contains("lab-net"), "{msg}");
        let on_lab = e.desks(lab.clone()).await;
        assert_eq!(on_lab["total"], 99);
        let ips: BTreeSet<String> = on_lab["item_arr"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["ip"].as_str().unwrap().to_string())
            .collect();
        let pool: BTreeSet<String> = (100..=198).map(|n| format!("192.168.20.{n}")).collect();
        assert_eq!(ips, pool, "every pool address exactly once");
        assert_eq!(e.total().await, 104);

        // free three addresses
        let victims: Vec<Value> = on_lab["item_arr"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                ["192.168.20.150", "192.168.20.120", "192.168.20.190"]
                    .contains(&d["ip"].as_str().unwrap())
            })
            .cloned()
            .collect();
        assert_eq!(victims.len(), 3);
        let del = e
            .batch(
                "/v1/desk/batch/delete",
                json!({"desk_info_arr": victims.iter().map(|d| json!({"desk_id": d["desk_id"]})).collect::<Vec<_>>()}),
            )
            .await;
        assert_eq!(del["task_status"], "FINISHED", "{del}");
        assert_eq!(e.total().await, 101);

        // fail_rollback: 3 of 5 get an address, 2 do not; all 5 end FAILURE and nothing stays
        let task = e
            .batch(
                "/v1/desk/batch/create",
                json!({"fail_rollback": true, "desk_info_arr": many(5, |i| item("R", i))}),
            )
            .await;
        assert_eq!(task["task_status"], "ERROR", "{db:?} {task}");
        let it = items(&task);
        assert_eq!(it.len(), 5);
        let mut exhausted = 0;
        let mut rolled_back = 0;
        for i in &it {
            assert_eq!(item_status(i), "FAILURE", "{i}");
            let r = i["item_result"].as_str().unwrap();
            if r.contains("exhausted") {
                exhausted += 1;
            } else {
                assert!(r.contains("回滚"), "says it was rolled back: {i}");
                rolled_back += 1;
            }
        }
        assert_eq!((exhausted, rolled_back), (2, 3), "{task}");
        assert_eq!(task["task_result"], "成功[0]，失败[5]");
        let msg = task["error_message"].as_str().unwrap();
        assert!(msg.starts_with("R0,R1,R2,R3,R4 "), "{msg}");
        assert_eq!(
            e.total().await,
            101,
            "{db:?}: the rollback removed every desk of the batch"
        );
        assert_eq!(e.desks(lab.clone()).await["total"], 96);

        // the rolled-back addresses are free again: the next three desks take exactly them
        let task = e
            .batch(
                "/v1/desk/batch/create",
                json!({"desk_info_arr": many(3, |i| item("Z", i))}),
            )
            .await;
        assert_eq!(task["task_status"], "FINISHED", "{task}");
        let mut got = BTreeSet::new();
        for i in items(&task) {
            let d = e
                .desk_by_id(i["item_biz_data"]["desk_id"].as_str().unwrap())
                .await
                .unwrap();
            got.insert(d["ip"].as_str().unwrap().to_string());
        }
        assert_eq!(
            got,
            ["192.168.20.120", "192.168.20.150", "192.168.20.190"]
                .map(String::from)
                .into_iter()
                .collect::<BTreeSet<_>>()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 6.1.11 batch delete
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn batch_delete_removes_desks_frees_addresses_and_reports_unknown_ones() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &[]).await;
        let demo = e.demo().await;
        let d2 = e.desk("user02_1").await; // RUNNING, lab .100
        let d6 = e.desk("user06_1").await; // CLOSE, lab .102
        let d10 = e.desk("user10_1").await; // ERROR, lab .104
        let ghost = uuid::Uuid::new_v4().to_string();
        let task = e
            .batch(
                "/v1/desk/batch/delete",
                json!({"desk_info_arr": [
                    {"id": "D1", "desk_id": d2["desk_id"]},
                    {"id": "ghost", "desk_id": ghost},
                    {"id": "D3", "desk_id": d6["desk_id"]},
                    {"desk_id": d10["desk_id"]},
                ]}),
            )
            .await;
        assert_eq!(task["task_status"], "ERROR", "{db:?} {task}");
        let it = items(&task);
        assert_eq!(
            it.iter().map(|i| i["id"].clone()).collect::<Vec<_>>(),
            [
                json!("D1"),
                json!("ghost"),
                json!("D3"),
                d10["desk_id"].clone()
            ],
            "an item without id is reported under its desk id"
        );
        assert_eq!(
            it.iter().map(item_status).collect::<Vec<_>>(),
            ["SUCCESS", "FAILURE", "SUCCESS", "SUCCESS"]
        );
        assert_eq!(it[0]["item_biz_data"]["desk_id"], d2["desk_id"]);
        assert!(it[1]["item_result"].as_str().unwrap().contains(&ghost));
        assert!(
            task["error_message"]
                .as_str()
                .unwrap()
                .starts_with("ghost "),
            "{task}"
        );
        assert_eq!(task["task_result"], "成功[3]，失败[1]");
        for d in [&d2, &d6, &d10] {
            assert!(e.desk_by_id(d["desk_id"].as_str().unwrap()).await.is_none());
        }
        assert_eq!(e.total().await, 7);

        // the freed addresses are handed out again, lowest first
        let create = |id: &str| json!({"desk_info_arr": [create_item(id, "user02", &demo.ubuntu, &demo.lab, &demo.lab_net)]});
        let mut ips = Vec::new();
        for id in ["N1", "N2"] {
            let task = e.batch("/v1/desk/batch/create", create(id)).await;
            assert_eq!(task["task_status"], "FINISHED", "{task}");
            let d = e
                .desk_by_id(
                    items(&task)[0]["item_biz_data"]["desk_id"]
                        .as_str()
                        .unwrap(),
                )
                .await
                .unwrap();
            ips.push(d["ip"].as_str().unwrap().to_string());
        }
        assert_eq!(ips, ["192.168.20.100", "192.168.20.102"], "{db:?}");

        // deleting a deleted desk fails that item
        let task = e
            .batch(
                "/v1/desk/batch/delete",
                json!({"desk_info_arr": [{"id": "again", "desk_id": d2["desk_id"]}]}),
            )
            .await;
        assert_eq!(task["task_status"], "ERROR");
        assert_eq!(failed_ids(&task), ["again"]);

        // request-level refusals
        let one = |i: usize| json!({"id": format!("I{i}"), "desk_id": ghost});
        let c = e
            .post(
                "/v1/desk/batch/delete",
                json!({"desk_info_arr": many(1001, one)}),
            )
            .await;
        assert_err(&c, 23010703, &["1001"]);
        let c = e
            .post("/v1/desk/batch/delete", json!({"desk_info_arr": []}))
            .await;
        assert_err(&c, 22000400, &["content.desk_info_arr"]);
        let c = e
            .post(
                "/v1/desk/batch/delete",
                json!({"desk_info_arr": [one(1), one(1)]}),
            )
            .await;
        assert_err(&c, 22000400, &["content.desk_info_arr[1].id"]);
        let c = e
            .post(
                "/v1/desk/batch/delete",
                json!({"cluster_id": "no-such-cluster", "desk_info_arr": [one(1)]}),
            )
            .await;
        assert_err(&c, 23170002, &[]);
        assert_eq!(e.total().await, 9);
    }
}

// ---------------------------------------------------------------------------------------------
// 6.1.18 strategy and 6.1.19 remark batch edits
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn strategy_and_remark_batch_edits() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &[]).await;
        let demo = e.demo().await;
        let d1 = e.desk("user01_1").await; // RUNNING office
        let d3 = e.desk("user03_1").await; // RUNNING office
        let d5 = e.desk("user05_1").await; // CLOSE office
        let ghost = uuid::Uuid::new_v4().to_string();

        let task = e
            .batch(
                "/v1/desk/strategy/batch/edit",
                json!({"desk_info_arr": [
                    {"id": "S1", "desk_id": d5["desk_id"], "strategy_id": demo.lab},
                    {"id": "S2", "desk_id": d1["desk_id"], "strategy_id": demo.lab},
                    {"id": "S3", "desk_id": ghost, "strategy_id": demo.lab},
                    {"id": "S4", "desk_id": d3["desk_id"], "strategy_id": "no-such-strategy"},
                ]}),
            )
            .await;
        assert_eq!(task["task_status"], "ERROR", "{db:?} {task}");
        assert_eq!(
            items(&task).iter().map(item_status).collect::<Vec<_>>(),
            ["SUCCESS", "SUCCESS", "FAILURE", "FAILURE"]
        );
        assert_eq!(items(&task)[0]["item_biz_data"]["desk_id"], d5["desk_id"]);
        assert!(
            task["error_message"]
                .as_str()
                .unwrap()
                .starts_with("S3,S4 "),
            "{task}"
        );
        assert_eq!(task["task_result"], "成功[2]，失败[2]");
        let a = e.desk("user05_1").await;
        assert_eq!(a["desk_strategy_id"], json!(demo.lab));
        assert_eq!(
            a["need_refresh_strategy"], false,
            "a CLOSE desk takes it at once"
        );
        let b = e.desk("user01_1").await;
        assert_eq!(b["desk_strategy_id"], json!(demo.lab));
        assert_eq!(
            b["need_refresh_strategy"], true,
            "a RUNNING desk at its next start"
        );
        assert_eq!(
            e.desk("user03_1").await["desk_strategy_id"],
            json!(demo.office)
        );
        let d = e
            .desks(query(vec![eq("strategyId", json!([demo.lab]))]))
            .await;
        assert_eq!(d["total"], 7);
        let c = e
            .put(
                "/v1/desk_strategy:pagequery",
                json!({"page": 0, "limit": 10}),
            )
            .await;
        let nums: HashMap<String, i64> = c["data"]["item_arr"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["desk_strategy_name"].as_str().unwrap().to_string(),
                    s["desk_num"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(nums["office-standard"], 3);
        assert_eq!(nums["lab-recoverable"], 7);
        // the next start takes the new strategy
        let id1 = b["desk_id"].as_str().unwrap();
        assert_eq!(e.act(id1, "shutdown").await["task_status"], "FINISHED");
        assert_eq!(e.act(id1, "start").await["task_status"], "FINISHED");
        assert_eq!(e.desk("user01_1").await["need_refresh_strategy"], false);
        // all good: FINISHED
        let task = e
            .batch(
                "/v1/desk/strategy/batch/edit",
                json!({"desk_info_arr": [{"desk_id": d3["desk_id"], "strategy_id": demo.lab}]}),
            )
            .await;
        assert_eq!(task["task_status"], "FINISHED", "{task}");
        assert_eq!(items(&task)[0]["id"], d3["desk_id"]);

        // remarks
        let long = "字".repeat(128);
        let task = e
            .batch(
                "/v1/desk/remark/batch/edit",
                json!({"desk_info_arr": [
                    {"id": "M1", "desk_id": d1["desk_id"], "remark": "教室 A-101"},
                    {"id": "M2", "desk_id": ghost, "remark": "x"},
                    {"id": "M3", "desk_id": d3["desk_id"], "remark": long},
                ]}),
            )
            .await;
        assert_eq!(task["task_status"], "ERROR", "{db:?} {task}");
        assert_eq!(
            items(&task).iter().map(item_status).collect::<Vec<_>>(),
            ["SUCCESS", "FAILURE", "SUCCESS"]
        );
        assert!(task["error_message"].as_str().unwrap().starts_with("M2 "));
        assert_eq!(e.desk("user01_1").await["remark"], "教室 A-101");
        assert_eq!(e.desk("user03_1").await["remark"], json!(long));
        // an empty remark clears it
        let task = e
            .batch(
                "/v1/desk/remark/batch/edit",
                json!({"desk_info_arr": [{"id": "M4", "desk_id": d1["desk_id"], "remark": ""}]}),
            )
            .await;
        assert_eq!(task["task_status"], "FINISHED", "{task}");
        assert_eq!(e.desk("user01_1").await["remark"], "");

        // request-level refusals
        let c = e
            .post(
                "/v1/desk/remark/batch/edit",
                json!({"desk_info_arr": [
                    {"id": "L1", "desk_id": d1["desk_id"], "remark": "ok"},
                    {"id": "L2", "desk_id": d3["desk_id"], "remark": "字".repeat(129)},
                ]}),
            )
            .await;
        assert_err(&c, 22000400, &["content.desk_info_arr[1].remark", "128"]);
        assert_eq!(e.desk("user01_1").await["remark"], "", "refused as a whole");
        let c = e
            .post(
                "/v1/desk/remark/batch/edit",
                json!({"desk_info_arr": many(1001, |i| json!({"id": format!("R{i}"), "desk_id": ghost, "remark": "r"}))}),
            )
            .await;
        assert_err(&c, 23010703, &["1001"]);
        let c = e
            .post(
                "/v1/desk/strategy/batch/edit",
                json!({"desk_info_arr": many(1001, |i| json!({"id": format!("R{i}"), "desk_id": ghost, "strategy_id": demo.lab}))}),
            )
            .await;
        assert_err(&c, 23010703, &["1001"]);
        for path in ["/v1/desk/remark/batch/edit", "/v1/desk/strategy/batch/edit"] {
            let c = e.post(path, json!({"desk_info_arr": []})).await;
            assert_err(&c, 22000400, &["content.desk_info_arr"]);
        }
        let c = e
            .post(
                "/v1/desk/strategy/batch/edit",
                json!({"desk_info_arr": [
                    {"id": "same", "desk_id": ghost, "strategy_id": demo.lab},
                    {"id": "same", "desk_id": ghost, "strategy_id": demo.lab},
                ]}),
            )
            .await;
        assert_err(&c, 22000400, &["content.desk_info_arr[1].id"]);
    }
}

// ---------------------------------------------------------------------------------------------
// races
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn concurrent_starts_on_one_desk_accept_exactly_one() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &[]).await;
        for name in ["user05_1", "user06_1", "user07_1", "user08_1"] {
            let id = e.desk(name).await["desk_id"].as_str().unwrap().to_string();
            let (a, b) = tokio::join!(e.action(&id, "start", None), e.action(&id, "start", None));
            let (ok, refused) = match (a["code"].as_i64(), b["code"].as_i64()) {
                (Some(0), Some(23010901)) => (a, b),
                (Some(23010901), Some(0)) => (b, a),
                other => {
                    panic!("{db:?} {name}: expected one 0 and one 23010901, got {other:?}: {a} {b}")
                }
            };
            let msg = refused["message"].as_str().unwrap();
            assert!(
                msg.contains("START_UP") || msg.contains("RUNNING"),
                "the loser names the state it saw: {msg}"
            );
            let task = e.wait(&ok).await;
            assert_eq!(task["task_status"], "FINISHED", "{task}");
            assert_eq!(e.state(name).await, "RUNNING");
        }
        // the same for two configuration changes of one CLOSE desk
        let id = e.desk("user10_1").await["desk_id"]
            .as_str()
            .unwrap()
            .to_string();
        let off = e.act(&id, "powerOff").await;
        assert_eq!(off["task_status"], "FINISHED", "{off}");
        let path = format!("/v1/desk/{id}/configuration/modify");
        let (a, b) = tokio::join!(
            e.put(
                &path,
                json!({"cpu_cores": 6, "memory": 8, "system_disk": 60})
            ),
            e.put(
                &path,
                json!({"cpu_cores": 8, "memory": 8, "system_disk": 60})
            )
        );
        let codes: BTreeSet<i64> = [&a, &b]
            .iter()
            .map(|c| c["code"].as_i64().unwrap())
            .collect();
        assert_eq!(codes, BTreeSet::from([0, 23010901]), "{db:?} {a} {b}");
        let (ok, cores) = if a["code"] == 0 { (&a, 6) } else { (&b, 8) };
        let task = e.wait(ok).await;
        assert_eq!(task["task_status"], "FINISHED", "{task}");
        assert_eq!(e.desk("user10_1").await["cpu_cores"], cores);
    }
}

/// Two different batches racing for one pool get distinct addresses; the same batch sent twice
/// at once creates each desk once (D7).
#[tokio::test]
async fn concurrent_batch_creates_share_the_pool_and_stay_idempotent() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &["--task-concurrency", "4"]).await;
        let demo = e.demo().await;
        let batch = |prefix: &str| {
            let arr = many(10, |i| {
                create_item(
                    &format!("{prefix}{i}"),
                    ["user11", "user12", "user13"][i % 3],
                    &demo.win10,
                    &demo.office,
                    &demo.office_net,
                )
            });
            json!({ "desk_info_arr": arr })
        };
        let (a, b, a2) = tokio::join!(
            e.post("/v1/desk/batch/create", batch("A")),
            e.post("/v1/desk/batch/create", batch("B")),
            e.post("/v1/desk/batch/create", batch("A")),
        );
        let mut reported: HashMap<String, String> = HashMap::new();
        for c in [&a, &b, &a2] {
            assert_eq!(c["code"], 0, "{c}");
            let task = e.wait(c).await;
            assert_eq!(task["task_status"], "FINISHED", "{db:?} {task}");
            for i in items(&task) {
                let id = i["id"].as_str().unwrap().to_string();
                let desk = i["item_biz_data"]["desk_id"].as_str().unwrap().to_string();
                if let Some(before) = reported.insert(id.clone(), desk.clone()) {
                    assert_eq!(before, desk, "{db:?}: item {id} reported two desks");
                }
            }
        }
        assert_eq!(reported.len(), 20);
        assert_eq!(e.total().await, 30, "{db:?}: twenty new desks, not thirty");
        let on_office = e
            .desks(query(vec![eq("networkId", json!([demo.office_net]))]))
            .await;
        let ips: BTreeSet<String> = on_office["item_arr"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["ip"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(on_office["total"], 25);
        let want: BTreeSet<String> = (100..125).map(|n| format!("192.168.10.{n}")).collect();
        assert_eq!(ips, want, "distinct addresses, lowest first");
        let all = e.all_desks().await;
        let names: HashSet<_> = all.iter().map(|d| d["desk_name"].clone()).collect();
        assert_eq!(names.len(), all.len(), "distinct generated names");
    }
}

#[tokio::test]
async fn batch_delete_of_a_desk_whose_start_is_running_leaves_no_desk() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &["--sim-latency-ms", "300"]).await;
        let before = e.total().await;
        let d = e.desk("user05_1").await;
        let id = d["desk_id"].as_str().unwrap().to_string();
        let start = e.action(&id, "start", None).await;
        assert_eq!(start["code"], 0, "{start}");
        assert_eq!(
            e.state("user05_1").await,
            "START_UP",
            "the start is still running"
        );
        for verb in ["start", "restart", "shutdown"] {
            let c = e.action(&id, verb, None).await;
            assert_err(&c, 23010901, &["START_UP"]);
        }
        let del = e
            .post(
                "/v1/desk/batch/delete",
                json!({"desk_info_arr": [{"id": "del", "desk_id": id}]}),
            )
            .await;
        assert_eq!(del["code"], 0, "{del}");
        assert_eq!(e.state("user05_1").await, "DELETING");
        for verb in ["start", "powerOff"] {
            let c = e.action(&id, verb, None).await;
            assert_err(&c, 23010901, &["DELETING"]);
        }
        let c = e
            .put(
                &format!("/v1/desk/{id}/configuration/modify"),
                json!({"cpu_cores": 4, "memory": 8, "system_disk": 60}),
            )
            .await;
        assert_err(&c, 23010901, &["DELETING"]);
        let del = e.wait(&del).await;
        assert_eq!(del["task_status"], "FINISHED", "{db:?} {del}");
        let start = e.wait(&start).await;
        assert_ne!(start["task_status"], "RUNNING");
        assert!(
            e.desk_by_id(&id).await.is_none(),
            "{db:?}: the desk is gone"
        );
        assert_eq!(e.total().await, before - 1);
        // and it does not come back once the start has given up
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(e.desk_by_id(&id).await.is_none());
        assert_eq!(e.total().await, before - 1);
        // a start of the deleted desk is refused as unknown
        let c = e.action(&id, "start", None).await;
        assert_err(&c, 22000400, &["does not exist"]);

        // a desk that is shutting down cannot be deleted; powerOff cuts the shutdown short
        let id1 = e.desk("user01_1").await["desk_id"]
            .as_str()
            .unwrap()
            .to_string();
        let shut = e.action(&id1, "shutdown", None).await;
        assert_eq!(shut["code"], 0, "{shut}");
        assert_eq!(e.state("user01_1").await, "SHUTTING");
        let del = e
            .batch(
                "/v1/desk/batch/delete",
                json!({"desk_info_arr": [{"id": "busy", "desk_id": id1}]}),
            )
            .await;
        assert_eq!(del["task_status"], "ERROR", "{del}");
        assert!(
            items(&del)[0]["item_result"]
                .as_str()
                .unwrap()
                .contains("SHUTTING"),
            "{del}"
        );
        assert!(del["error_message"].as_str().unwrap().starts_with("busy "));
        let off = e.action(&id1, "powerOff", None).await;
        assert_eq!(off["code"], 0, "{off}");
        let off = e.wait(&off).await;
        let shut = e.wait(&shut).await;
        assert_eq!(off["task_status"], "FINISHED", "{db:?} {off}");
        assert_eq!(shut["task_status"], "FINISHED", "{db:?} {shut}");
        assert_eq!(e.state("user01_1").await, "CLOSE");

        // a desk being modified refuses every other action
        let modify = e
            .put(
                &format!("/v1/desk/{id1}/configuration/modify"),
                json!({"cpu_cores": 4, "memory": 8, "system_disk": 60}),
            )
            .await;
        assert_eq!(modify["code"], 0, "{modify}");
        assert_eq!(e.state("user01_1").await, "UPDATING");
        for verb in ["start", "powerOff", "restart"] {
            let c = e.action(&id1, verb, None).await;
            assert_err(&c, 23010901, &["UPDATING"]);
        }
        let c = e
            .put(
                &format!("/v1/desk/{id1}/configuration/modify"),
                json!({"cpu_cores": 8, "memory": 8, "system_disk": 60}),
            )
            .await;
        assert_err(&c, 23010901, &["UPDATING"]);
        let modify = e.wait(&modify).await;
        assert_eq!(modify["task_status"], "FINISHED", "{modify}");
        let d1 = e.desk("user01_1").await;
        assert_eq!(
            (&d1["cpu_cores"], &d1["desk_state"]),
            (&json!(4), &json!("CLOSE"))
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 6.1.16 OS files and desk detail
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn os_file_pagequery_lists_the_demo_files() {
    let e = Env::start(Db::Sqlite, &[]).await;
    let c = e
        .put("/v1/osFile:pagequery", json!({"page": 0, "limit": 10}))
        .await;
    assert_eq!(c["code"], 0, "{c}");
    assert_eq!(c["data"]["total"], 3);
    let files = c["data"]["item_arr"].as_array().unwrap();
    let mut by_name = HashMap::new();
    for f in files {
        has_fields(f, OS_FILE_FIELDS);
        assert!(is_uuid(&f["id"]), "{f}");
        assert_eq!(f["cbb_image_format"], "QCOW2");
        assert_eq!(f["image_disk_type"], "SYSTEM");
        assert_eq!(f["image_file_state"], "AVAILABLE");
        assert!(f["image_file_size"].as_i64().unwrap() > 0);
        assert!(f["upload_time"].as_i64().unwrap() > 1_700_000_000_000);
        by_name.insert(
            f["image_file_name"].as_str().unwrap().to_string(),
            f["virtual_size"].as_i64().unwrap(),
        );
    }
    let gib = 1_073_741_824;
    assert_eq!(
        by_name,
        HashMap::from([
            ("win10-x64.qcow2".to_string(), 40 * gib),
            ("ubuntu-22.04.qcow2".to_string(), 40 * gib),
            ("win7-x64.qcow2".to_string(), 60 * gib),
        ])
    );
    let c = e
        .put("/v1/osFile:pagequery", json!({"page": 1, "limit": 2}))
        .await;
    assert_eq!(c["data"]["total"], 3);
    assert_eq!(c["data"]["item_arr"].as_array().unwrap().len(), 1);
    let c = e
        .put(
            "/v1/osFile:pagequery",
            json!({"page": 0, "limit": 10, "match_arr": [eq("imageFileName", json!(["win7-x64.qcow2"]))]}),
        )
        .await;
    assert_eq!(c["data"]["total"], 1, "{c}");
    // not a desk query: an illegal rule is the generic code (D5)
    let c = e
        .put(
            "/v1/osFile:pagequery",
            json!({"page": 0, "limit": 10, "match_arr": [
                {"field_name": "imageFileName", "match_rule": "LIKE", "type": "EXACT", "value_arr": ["w"]}]}),
        )
        .await;
    assert_err(&c, 22000400, &["match_rule"]);
    let c = e.put("/v1/osFile:pagequery", json!({"limit": 10})).await;
    assert_err(&c, 22000400, &["content.page"]);
}

#[tokio::test]
async fn desk_detail_shows_every_field_and_checks_the_cluster() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &[]).await;
        let demo = e.demo().await;
        for name in ["user02_1", "user10_1"] {
            let item = e.desk(name).await;
            let id = item["desk_id"].as_str().unwrap().to_string();
            let path = format!("/v1/desk/{id}/detail");
            let c = e.put(&path, json!({})).await;
            assert_eq!(c["code"], 0, "{c}");
            let d = &c["data"];
            has_fields(d, DETAIL_FIELDS);
            for f in [
                "desk_id",
                "desk_name",
                "desk_state",
                "desk_type",
                "remark",
                "user_id",
                "user_name",
                "cluster_id",
                "cluster_name",
                "host_id",
                "host_name",
                "image_id",
                "image_name",
                "desk_strategy_id",
                "ip",
                "mac",
                "cpu_cores",
                "memory",
                "system_disk",
                "data_disk",
                "error_message",
                "create_time",
            ] {
                assert_eq!(d[f], item[f], "{db:?} {name} {f}");
            }
            assert_eq!(d["desktop_category"], item["desk_category"]);
            assert_eq!(d["enable_proxy"], false);
            // lab-recoverable asks for the proxy; user02 and user10 both use it
            assert_eq!(d["enable_agreement_agency"], true, "{d}");
            // every method, the proxy flag in both spellings, a known cluster
            for (method, body) in [
                ("GET", None),
                ("POST", Some(json!({"enable_proxy": "TRUE"}))),
                (
                    "PUT",
                    Some(json!({"enable_proxy": true, "cluster_id": demo.cluster})),
                ),
            ] {
                let proxy = body.is_some();
                let c = e.send(method, &path, body).await;
                assert_eq!(c["code"], 0, "{method} {c}");
                assert_eq!(c["data"]["enable_proxy"], proxy, "{method} {c}");
                assert_eq!(c["data"]["desk_id"], json!(id));
            }
            let c = e.put(&path, json!({"cluster_id": "no-such-cluster"})).await;
            assert_err(&c, 23170002, &["no-such-cluster"]);
            let c = e.put(&path, json!({"enable_proxy": "maybe"})).await;
            assert_err(&c, 22000400, &["content.enable_proxy"]);
        }
        let d1 = e
            .put(
                &format!(
                    "/v1/desk/{}/detail",
                    e.desk("user01_1").await["desk_id"].as_str().unwrap()
                ),
                json!({}),
            )
            .await;
        assert_eq!(
            d1["data"]["enable_agreement_agency"], false,
            "office-standard"
        );
        assert_eq!(d1["data"]["desk_state"], "RUNNING");
        let ghost = uuid::Uuid::new_v4().to_string();
        let c = e.put(&format!("/v1/desk/{ghost}/detail"), json!({})).await;
        assert_err(&c, 22000400, &[&ghost, "does not exist"]);
    }
}

/// A page that was just served is reused, but never after a desk it shows changed: the
/// answer right after a write shows the write (the reply cache's generation check).
#[tokio::test]
async fn a_repeated_page_shows_a_change_at_once() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &[]).await;
        let page = query(vec![eq("desktopName", json!(["user05_1"]))]);
        let before = e.desks(page.clone()).await;
        assert_eq!(e.desks(page.clone()).await, before, "{db:?}: same answer");
        let id = before["item_arr"][0]["desk_id"].clone();
        for round in 0..3 {
            let remark = format!("round {round}");
            e.batch(
                "/v1/desk/remark/batch/edit",
                json!({"desk_info_arr": [{"id": "R", "desk_id": id, "remark": remark}]}),
            )
            .await;
            let after = e.desks(page.clone()).await;
            assert_eq!(after["item_arr"][0]["remark"], json!(remark), "{db:?}");
        }
        let started = e.action(id.as_str().unwrap(), "start", None).await;
        assert_eq!(started["code"], 0, "{started}");
        let state = e.desks(page.clone()).await["item_arr"][0]["desk_state"].clone();
        assert_ne!(state, json!("CLOSE"), "{db:?}: the start shows at once");
    }
}

/// A batch's desks are placed when it is submitted: a name that another desk has, or that an
/// earlier item of the same batch generated, fails only its own item (on PostgreSQL too, where
/// a failed statement would abort the whole transaction), and the rest are created.
#[tokio::test]
async fn a_taken_desk_name_fails_only_its_item() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &[]).await;
        let demo = e.demo().await;
        let before = e.total().await;
        let mut taken = create_item("N2", "user12", &demo.win10, &demo.office, &demo.office_net);
        taken["desk_name"] = json!("user01_1");
        let mut clash = create_item("N4", "user13", &demo.win10, &demo.office, &demo.office_net);
        clash["desk_name"] = json!("user11_1");
        let batch = json!({"desk_info_arr": [
            create_item("N1", "user11", &demo.win10, &demo.office, &demo.office_net),
            taken,
            create_item("N3", "user11", &demo.win10, &demo.office, &demo.office_net),
            clash,
        ]});
        let task = e.batch("/v1/desk/batch/create", batch).await;
        assert_eq!(
            items(&task).iter().map(item_status).collect::<Vec<_>>(),
            ["SUCCESS", "FAILURE", "SUCCESS", "FAILURE"],
            "{db:?} {task}"
        );
        for i in [1, 3] {
            let r = items(&task)[i]["item_result"].as_str().unwrap().to_string();
            assert!(r.contains("already exists"), "{db:?} {r}");
        }
        assert_eq!(e.total().await, before + 2, "{db:?}");
        assert_eq!(e.state("user11_1").await, "CLOSE");
        assert_eq!(e.state("user11_2").await, "CLOSE");
    }
}
