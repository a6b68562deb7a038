//! The platform inventory end to end against the real binary: 6.3.1 images, 6.4 networks,
//! 6.5 compute summary, 6.8 storage summary, 6.9 clusters, 6.10 storage pools — every figure
//! checked against the desks, files and addresses it is computed from — and the management
//! extensions (D10) with each refusal's code and reason.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const GIB: i64 = 1 << 30;

type Env = Api;

impl Env {
    async fn items(&self, path: &str, body: Value) -> Vec<Value> {
        let d = self.ok("PUT", path, body).await;
        d["item_arr"].as_array().unwrap().clone()
    }

    async fn desks(&self) -> Vec<Value> {
        self.items("/v1/desk:pagequery", json!({"page": 0, "limit": 1000}))
            .await
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

/// Sum of `f(desk)` over the desks matching `keep`.
fn sum(desks: &[Value], keep: impl Fn(&Value) -> bool, f: impl Fn(&Value) -> i64) -> i64 {
    desks.iter().filter(|d| keep(d)).map(f).sum()
}

/// `(size, used)` bytes of the file system holding `dir`, as `df` reports them.
fn df(dir: &std::path::Path) -> (i64, i64) {
    let out = std::process::Command::new("df")
        .args(["-B1", "--output=size,used"])
        .arg(dir)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let nums: Vec<i64> = text
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    (nums[0], nums[1])
}

#[tokio::test]
async fn image_and_network_lists_count_the_desks_and_addresses_that_use_them() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &[]).await;
        let desks = e.desks().await;
        let data = e
            .ok(
                "PUT",
                "/v1/image:pagequery",
                json!({"page": 0, "limit": 10}),
            )
            .await;
        assert_eq!(data["total"], 3, "{db:?}");
        assert_eq!(data["item_arr"], data["itemArr"], "both spellings (D4)");
        for img in data["item_arr"].as_array().unwrap() {
            let of = |t: &str| {
                sum(
                    &desks,
                    |d| d["image_id"] == img["id"] && d["desk_type"] == t,
                    |_| 1,
                )
            };
            assert_eq!(int(&img["cloud_desktop_num_of_personal"]), of("PERSONAL"));
            assert_eq!(
                int(&img["cloud_desktop_num_of_recoverable"]),
                of("RECOVERABLE")
            );
            assert_eq!(int(&img["cloud_desktop_num_of_app_layer"]), of("APP_LAYER"));
            assert_eq!(img["image_state"], "AVAILABLE");
            assert_eq!(img["newest_version"], true);
            assert_eq!(img["root_image_id"], img["id"]);
            assert_eq!(img["root_image_name"], img["image_name"]);
            assert_eq!(img["cluster_id"], desks[0]["cluster_id"]);
            for key in ["cpu", "memory", "image_system_size", "create_time"] {
                assert!(int(&img[key]) > 0, "{key}: {img}");
            }
            assert!(img["network_id"].is_string() && img["storage_pool_id"].is_string());
        }
        let win10 = &data["item_arr"].as_array().unwrap()[0];
        assert!(int(&win10["cloud_desktop_num_of_personal"]) > 0, "{win10}");
        let vdi = e
            .ok(
                "PUT",
                "/v1/image:pagequery",
                json!({"page": 0, "limit": 10, "match_arr": [eq("imageType", json!(["IDV"]))],
                       "sort_arr": [{"field_name": "imageName", "direction": "DESC"}]}),
            )
            .await;
        assert_eq!(vdi["total"], 1);
        assert_eq!(vdi["itemArr"][0]["image_name"], "IDV Windows 7");
        let c = e
            .call(
                "PUT",
                "/v1/image:pagequery",
                json!({"page": 0, "limit": 10, "match_arr": [eq("imageState", json!(["GONE"]))]}),
            )
            .await;
        assert_err(
            &c,
            22000400,
            &["content.match_arr[0].value_arr[0]", "DISABLED"],
        );

        let nets = e
            .items(
                "/v1/desk_network:pagequery",
                json!({"page": 0, "limit": 10,
                       "sort_arr": [{"field_name": "deskNetworkName", "direction": "ASC"}]}),
            )
            .await;
        let names: Vec<_> = nets
            .iter()
            .map(|n| n["desk_network_name"].clone())
            .collect();
        assert_eq!(names, [json!("lab-net"), json!("office-net")]);
        for n in &nets {
            let used = sum(&desks, |d| d["network_id"] == n["id"], |_| 1);
            assert_eq!(int(&n["ref_count"]), used, "{n}");
            assert_eq!(n["total_count"], 99, ".100–.198: {n}");
            assert_eq!(n["network_mode"], "IP_POOL");
            assert_eq!(n["desk_network_state"], "AVAILABLE");
            assert_eq!(n["cluster_id_list"], json!([desks[0]["cluster_id"]]));
            assert_eq!(n["creator_user_name"], "admin");
        }
        assert_eq!(nets[0]["vlan"], Value::Null);
        assert_eq!(nets[0]["network_type"], "FLAT");
        assert_eq!(nets[1]["vlan"], 10);
        let one = e
            .items(
                "/v1/desk_network:pagequery",
                json!({"page": 0, "limit": 10, "match_arr": [eq("deskNetworkName", json!(["office-net"]))]}),
            )
            .await;
        assert_eq!(one.len(), 1);
        assert_eq!(one[0]["ip_cidr"], "192.168.10.0/24");
        assert_eq!(one[0]["gateway"], "192.168.10.1");

        // a new desk takes an address: ref_count follows
        let lab = one[0]["id"].as_str().unwrap().to_string();
        let strategies = e
            .items(
                "/v1/desk_strategy:pagequery",
                json!({"page": 0, "limit": 10}),
            )
            .await;
        let create = e
            .call(
                "POST",
                "/v1/desk/batch/create",
                json!({"fail_rollback": false, "desk_info_arr": [{"id": "N1", "user_name": "user15",
                    "image_id": win10["id"], "desk_strategy_id": strategies[0]["id"], "network_id": lab}]}),
            )
            .await;
        assert_eq!(e.wait(&create).await["task_status"], "FINISHED");
        let after = e
            .items(
                "/v1/desk_network:pagequery",
                json!({"page": 0, "limit": 10, "match_arr": [eq("id", json!([lab]))]}),
            )
            .await;
        assert_eq!(int(&after[0]["ref_count"]), int(&one[0]["ref_count"]) + 1);
    }
}

#[tokio::test]
async fn rccp_summaries_and_lists_are_computed_from_the_inventory() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &[]).await;
        let desks = e.desks().await;
        let cluster = desks[0]["cluster_id"].clone();

        let clusters = e.ok("PUT", "/v1/rccp/cluster:pagequery", json!({})).await;
        assert_eq!(clusters["total"], 1, "{db:?}");
        let c = &clusters["item_arr"][0];
        assert_eq!(c["id"], cluster);
        assert_eq!(c["cluster_name"], "demo-cluster");
        assert_eq!(c["cluster_state"], "ENABLED");
        assert_eq!(c["cluster_desc"], "deskd demo cluster");
        assert_eq!(c["last_update_time"], c["create_time"]);
        // POST too (the method is inferred, D2); paging optional; 12000200 for bad input
        let (_, v) =
            e.s.call("POST", "/v1/rccp/cluster:pagequery", None, Some(&e.t))
                .await;
        assert_eq!(v["content"]["data"]["total"], 1, "{v}");
        let bad = e
            .call("PUT", "/v1/rccp/cluster:pagequery", json!({"limit": 0}))
            .await;
        assert_err(&bad, 12000200, &["content.limit", "between 1 and 1000"]);
        let bad = e
            .call("PUT", "/v1/rccp/cluster:pagequery", json!({"page": "x"}))
            .await;
        assert_err(&bad, 12000200, &["content.page"]);

        let compute = e
            .items("/v1/rccp/compute/summary", json!({"page": 0}))
            .await;
        assert_eq!(compute.len(), 1);
        let s = &compute[0];
        assert_eq!(s["cluster_id"], cluster);
        assert_eq!(s["cluster_name"], "demo-cluster");
        assert_eq!(
            int(&s["allocated_cpu_cores"]),
            sum(&desks, |_| true, |d| int(&d["cpu_cores"]))
        );
        assert_eq!(
            int(&s["allocated_memory"]),
            sum(&desks, |_| true, |d| int(&d["memory"]))
        );
        assert_eq!(s["total_cpu_cores"], 96);
        assert_eq!(s["total_memory"], 384);
        assert_eq!(s["host_num"], 3);
        assert_eq!(int(&s["desk_num"]), desks.len() as i64);

        let files = e
            .items("/v1/osFile:pagequery", json!({"page": 0, "limit": 100}))
            .await;
        let file_bytes: i64 = files.iter().map(|f| int(&f["image_file_size"])).sum();
        let disk_bytes = sum(
            &desks,
            |_| true,
            |d| int(&d["system_disk"]) + int(&d["data_disk"]),
        ) * GIB;
        let pools = e
            .items(
                "/v1/rccp/storage_pool:pagequery",
                json!({"sort_arr": [{"field_name": "whatever", "direction": "ASC"}]}),
            )
            .await;
        assert_eq!(pools.len(), 1);
        let p = &pools[0];
        assert_eq!(p["Id"], p["id"], "the printed key and ours");
        assert_eq!(p["cluster_id"], cluster);
        assert_eq!(p["name"], "demo-pool");
        assert_eq!(p["redundancy_strategy"], "RAID1_1D0B");
        assert_eq!(p["storage_pool_health_state"], "HEALTHY");
        assert_eq!(int(&p["total_capacity"]), 12288 * GIB);
        assert_eq!(int(&p["used_capacity"]), file_bytes + disk_bytes);
        assert_eq!(p["directory"], Value::Null);

        let storage = e
            .ok(
                "PUT",
                "/v1/rccp/storage/summary",
                json!({"page": 0, "limit": 10}),
            )
            .await;
        assert_eq!(storage["total"], 1);
        let item = &storage["item_arr"][0];
        assert_eq!(item["cluster_id"], cluster);
        assert_eq!(
            item["storage_pool_arr"],
            json!([{"pool_id": p["id"], "total_capacity": p["total_capacity"], "used_capacity": p["used_capacity"]}])
        );
        let bad = e
            .call("PUT", "/v1/rccp/storage/summary", json!({"page": -1}))
            .await;
        assert_err(&bad, 12000200, &["content.page"]);
    }
}

#[tokio::test]
async fn strategies_and_networks_are_managed_and_refused_while_in_use() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &[]).await;
        let desks = e.desks().await;
        let cluster = desks[0]["cluster_id"].clone();
        let body = json!({"desk_strategy_name": "exam", "desk_category": "VDI",
            "desk_type": "RECOVERABLE", "cpu_cores": 2, "memory": 4, "system_disk": 40});
        let id = e.create("/v1/desk_strategy/create", body.clone()).await;
        let listed = e
            .items(
                "/v1/desk_strategy:pagequery",
                json!({"page": 0, "limit": 10, "match_arr": [eq("id", json!([id]))]}),
            )
            .await;
        assert_eq!(listed[0]["desk_strategy_name"], "exam", "{db:?}");
        assert_eq!(listed[0]["data_disk"], 0);
        assert_eq!(listed[0]["desk_num"], 0);
        let dup = e
            .call("POST", "/v1/desk_strategy/create", body.clone())
            .await;
        assert_err(&dup, 23010000, &["`exam` is already taken"]);
        for (field, value, needle) in [
            ("cpu_cores", json!(0), "between 1 and 64"),
            ("memory", json!(513), "between 1 and 512"),
            ("desk_type", json!("SHARED"), "PERSONAL"),
            ("desk_strategy_name", json!(" "), "must not be empty"),
        ] {
            let mut b = body.clone();
            b[field] = value;
            let c = e.call("POST", "/v1/desk_strategy/create", b).await;
            assert_err(&c, 22000400, &[&format!("content.{field}"), needle]);
        }
        let c = e
            .call(
                "POST",
                "/v1/desk_strategy/create",
                json!({"desk_category": "VDI"}),
            )
            .await;
        assert_err(&c, 22000400, &["content.desk_strategy_name", "required"]);
        e.ok(
            "PUT",
            "/v1/desk_strategy/edit",
            json!({"id": id, "cpu_cores": 8, "enable_agreement_agency": true}),
        )
        .await;
        let listed = e
            .items(
                "/v1/desk_strategy:pagequery",
                json!({"page": 0, "limit": 10, "match_arr": [eq("id", json!([id]))]}),
            )
            .await;
        assert_eq!(
            (
                listed[0]["cpu_cores"].clone(),
                listed[0]["enable_agreement_agency"].clone()
            ),
            (json!(8), json!(true))
        );
        assert_eq!(
            listed[0]["desk_type"], "RECOVERABLE",
            "untouched fields keep their value"
        );
        let used = desks[0]["desk_strategy_id"].as_str().unwrap();
        let c = e
            .call("POST", "/v1/desk_strategy/delete", json!({"id": used}))
            .await;
        assert_err(&c, 23010000, &["still used by", "desks", "user01_1"]);
        e.ok("POST", "/v1/desk_strategy/delete", json!({"id": id}))
            .await;
        let c = e
            .call("POST", "/v1/desk_strategy/delete", json!({"id": id}))
            .await;
        assert_err(&c, 22000400, &["does not exist"]);
        let c = e
            .call("PUT", "/v1/desk_strategy/edit", json!({"cpu_cores": 2}))
            .await;
        assert_err(&c, 22000400, &["content.id", "required"]);

        // networks
        let net = json!({"desk_network_name": "exam-net", "cluster_id": cluster, "ip_cidr": "10.9.0.0/16",
            "gateway": "10.9.0.1", "dns_primary": "10.9.0.53", "vlan": 30,
            "ip_pool_start": "10.9.1.1", "ip_pool_end": "10.9.1.10"});
        let nid = e.create("/v1/desk_network/create", net.clone()).await;
        let listed = e
            .items(
                "/v1/desk_network:pagequery",
                json!({"page": 0, "limit": 10, "match_arr": [eq("id", json!([nid]))]}),
            )
            .await;
        let n = &listed[0];
        assert_eq!(
            (n["ref_count"].clone(), n["total_count"].clone()),
            (json!(0), json!(10))
        );
        assert_eq!(
            (n["vlan"].clone(), n["network_type"].clone()),
            (json!(30), json!("VLAN"))
        );
        for (field, value, needle) in [
            ("ip_pool_end", json!("10.10.0.1"), "outside 10.9.0.0/16"),
            ("ip_cidr", json!("10.9.0.0/33"), ""),
            ("gateway", json!("nine"), "not an IPv4 address"),
            ("vlan", json!(4095), "between 1 and 4094"),
        ] {
            let mut b = net.clone();
            b[field] = value;
            b["desk_network_name"] = json!("other");
            let c = e.call("POST", "/v1/desk_network/create", b).await;
            assert_err(&c, 22000400, &[&format!("content.{field}"), needle]);
        }
        let mut b = net.clone();
        b["cluster_id"] = json!("nope");
        b["desk_network_name"] = json!("other");
        assert_err(
            &e.call("POST", "/v1/desk_network/create", b).await,
            22000400,
            &["cluster nope does not exist"],
        );
        // shrinking the office pool below its allocations is refused, growing is fine
        let office = desks[0]["network_id"].as_str().unwrap();
        let c = e
            .call(
                "PUT",
                "/v1/desk_network/edit",
                json!({"id": office, "ip_pool_start": "192.168.10.150"}),
            )
            .await;
        assert_err(&c, 23010000, &["leaves out", "192.168.10.100"]);
        e.ok(
            "PUT",
            "/v1/desk_network/edit",
            json!({"id": office, "ip_pool_end": "192.168.10.250", "vlan": 0}),
        )
        .await;
        let listed = e
            .items(
                "/v1/desk_network:pagequery",
                json!({"page": 0, "limit": 10, "match_arr": [eq("id", json!([office]))]}),
            )
            .await;
        assert_eq!(
            (listed[0]["total_count"].clone(), listed[0]["vlan"].clone()),
            (json!(151), Value::Null)
        );
        let c = e
            .call("POST", "/v1/desk_network/delete", json!({"id": office}))
            .await;
        assert_err(&c, 23010000, &["still used by", "desks", "images"]);
        e.ok("POST", "/v1/desk_network/delete", json!({"id": nid}))
            .await;
        let left = e
            .ok(
                "PUT",
                "/v1/desk_network:pagequery",
                json!({"page": 0, "limit": 10}),
            )
            .await;
        assert_eq!(left["total"], 2);
    }
}

#[tokio::test]
async fn clusters_hosts_and_pools_are_managed_and_draining_hosts_take_no_desks() {
    for db in Db::all().await {
        // a one-second simulated teardown makes DELETING observable
        let s = Server::start(db.clone(), &["--sim-latency-ms", "1000"]);
        let t = s.admin_token().await;
        let e = Env { s, t };
        let desks = e.desks().await;
        let demo = desks[0]["cluster_id"].as_str().unwrap().to_string();

        // a second cluster, edited, shown by every RG-CCP list
        let cid = e
            .create(
                "/v1/rccp/cluster/create",
                json!({"cluster_name": "lab", "cluster_desc": "lab rack"}),
            )
            .await;
        e.ok(
            "PUT",
            "/v1/rccp/cluster/edit",
            json!({"id": cid, "cluster_state": "DISABLED"}),
        )
        .await;
        let listed = e
            .items(
                "/v1/rccp/cluster:pagequery",
                json!({"match_arr": [eq("id", json!([cid]))]}),
            )
            .await;
        assert_eq!(listed[0]["cluster_state"], "DISABLED", "{db:?}");
        assert!(int(&listed[0]["last_update_time"]) >= int(&listed[0]["create_time"]));
        let c = e
            .call(
                "PUT",
                "/v1/rccp/cluster/edit",
                json!({"id": cid, "cluster_state": "DELETING"}),
            )
            .await;
        assert_err(&c, 12000200, &["content.cluster_state", "delete"]);
        let c = e
            .call(
                "POST",
                "/v1/rccp/cluster/create",
                json!({"cluster_name": "lab"}),
            )
            .await;
        assert_err(&c, 23010000, &["`lab` is already taken"]);
        let c = e.call("POST", "/v1/rccp/cluster/create", json!({})).await;
        assert_err(&c, 12000200, &["content.cluster_name", "required"]);

        // a host in it shows in the compute summary
        let host = json!({"host_name": "lab-1", "cluster_id": cid, "ip": "10.30.0.1",
            "cpu_cores": 16, "memory": 64, "storage": 1000});
        let hid = e.create("/v1/rccp/host/create", host.clone()).await;
        let compute = e
            .items(
                "/v1/rccp/compute/summary",
                json!({"match_arr": [eq("id", json!([cid]))]}),
            )
            .await;
        assert_eq!(
            (
                compute[0]["total_cpu_cores"].clone(),
                compute[0]["allocated_cpu_cores"].clone(),
                compute[0]["host_num"].clone()
            ),
            (json!(16), json!(0), json!(1))
        );
        let mut bad = host.clone();
        bad["cpu_overcommit"] = json!(20.0);
        bad["host_name"] = json!("lab-2");
        assert_err(
            &e.call("POST", "/v1/rccp/host/create", bad).await,
            12000200,
            &["content.cpu_overcommit", "between 1 and 16"],
        );
        // the driver: sim unless asked, qemu only on a server started with --qemu, fixed later
        for (driver, needle) in [("xen", "not one of sim, qemu"), ("qemu", "--qemu")] {
            let mut b = host.clone();
            b["host_name"] = json!("lab-2");
            b["driver"] = json!(driver);
            assert_err(
                &e.call("POST", "/v1/rccp/host/create", b).await,
                12000200,
                &["content.driver", needle],
            );
        }
        // libvirt: a uri is required, checked, and taken by no other driver
        for (driver, uri, needle) in [
            ("libvirt", None, "is required with driver libvirt"),
            ("libvirt", Some("xen:///system"), "scheme \"xen\""),
            (
                "libvirt",
                Some("qemu+tcp://10.0.0.5/"),
                "/system or /session",
            ),
            (
                "sim",
                Some("qemu:///system"),
                "only taken with driver libvirt",
            ),
        ] {
            let mut b = host.clone();
            b["host_name"] = json!("lab-2");
            b["driver"] = json!(driver);
            if let Some(u) = uri {
                b["uri"] = json!(u);
            }
            assert_err(
                &e.call("POST", "/v1/rccp/host/create", b).await,
                12000200,
                &["content.uri", needle],
            );
        }
        let c = e
            .call(
                "PUT",
                "/v1/rccp/host/edit",
                json!({"id": hid, "driver": "qemu"}),
            )
            .await;
        assert_err(
            &c,
            12000200,
            &["content.driver", "fixed when the host is created"],
        );
        let listed = e
            .items(
                "/v1/rccp/host:pagequery",
                json!({"match_arr": [eq("id", json!([hid]))]}),
            )
            .await;
        assert_eq!(listed[0]["driver"], "sim", "{db:?}");
        // delete: DELETING (nothing new may join), then gone with its empty host
        let c = e
            .call("POST", "/v1/rccp/cluster/delete", json!({"id": cid}))
            .await;
        assert_eq!(c["data"]["id"], json!(cid), "{c}");
        let listed = e
            .items(
                "/v1/rccp/cluster:pagequery",
                json!({"match_arr": [eq("id", json!([cid]))]}),
            )
            .await;
        assert_eq!(listed[0]["cluster_state"], "DELETING", "{db:?}");
        let mut late = host.clone();
        late["host_name"] = json!("lab-2");
        let refused = e.call("POST", "/v1/rccp/host/create", late).await;
        assert_err(&refused, 23010000, &["cluster `lab` is DELETING"]);
        assert_eq!(e.wait(&c).await["task_status"], "FINISHED");
        let left = e.ok("PUT", "/v1/rccp/cluster:pagequery", json!({})).await;
        assert_eq!(left["total"], 1);
        let hosts_left = e.items("/v1/rccp/host:pagequery", json!({})).await;
        assert_eq!(hosts_left.len(), 3, "{hosts_left:?}");
        assert!(
            hosts_left.iter().all(|h| h["id"] != json!(hid)),
            "lab-1 went with its cluster"
        );
        let c = e
            .call("POST", "/v1/rccp/cluster/delete", json!({"id": demo}))
            .await;
        assert_err(
            &c,
            23010000,
            &["cluster `demo-cluster` is still used by", "desks"],
        );

        // hosts: shrinking below the desks' promises is refused; draining stops placements
        let hosts = e.items("/v1/rccp/host:pagequery", json!({})).await;
        assert_eq!(hosts.len(), 3);
        let placed: i64 = hosts.iter().map(|h| int(&h["desk_num"])).sum();
        assert_eq!(placed, desks.len() as i64);
        let busy = hosts.iter().find(|h| int(&h["desk_num"]) > 0).unwrap();
        let c = e
            .call(
                "PUT",
                "/v1/rccp/host/edit",
                json!({"id": busy["id"], "memory": 1, "memory_overcommit": 1.0}),
            )
            .await;
        assert_err(
            &c,
            23010000,
            &["less than its desks were promised", "memory"],
        );
        let c = e
            .call("POST", "/v1/rccp/host/delete", json!({"id": busy["id"]}))
            .await;
        assert_err(&c, 23010000, &["still used by", "desks"]);
        for (h, state) in hosts.iter().zip(["DRAINING", "DISABLED", "DRAINING"]) {
            e.ok(
                "PUT",
                "/v1/rccp/host/edit",
                json!({"id": h["id"], "host_state": state}),
            )
            .await;
        }
        let states: Vec<_> = e
            .items("/v1/rccp/host:pagequery", json!({}))
            .await
            .iter()
            .map(|h| h["host_state"].clone())
            .collect();
        assert_eq!(
            states,
            [json!("DRAINING"), json!("DISABLED"), json!("DRAINING")]
        );
        let create = e
            .call(
                "POST",
                "/v1/desk/batch/create",
                json!({"fail_rollback": false, "desk_info_arr": [{"id": "D1", "user_name": "user15",
                    "image_id": desks[0]["image_id"], "desk_strategy_id": desks[0]["desk_strategy_id"],
                    "network_id": desks[0]["network_id"]}]}),
            )
            .await;
        let task = e.wait(&create).await;
        assert_eq!(task["task_status"], "ERROR", "{task}");
        let result = task["task_item_list"][0]["item_result"].as_str().unwrap();
        assert!(
            result.contains("DRAINING hosts take no new placements"),
            "{task}"
        );
        e.ok(
            "PUT",
            "/v1/rccp/host/edit",
            json!({"id": hosts[0]["id"], "host_state": "ENABLED"}),
        )
        .await;
        let again = e
            .call(
                "POST",
                "/v1/desk/batch/create",
                json!({"fail_rollback": false, "desk_info_arr": [{"id": "D2", "user_name": "user15",
                    "image_id": desks[0]["image_id"], "desk_strategy_id": desks[0]["desk_strategy_id"],
                    "network_id": desks[0]["network_id"]}]}),
            )
            .await;
        assert_eq!(e.wait(&again).await["task_status"], "FINISHED");
        let on_first = e
            .items(
                "/v1/rccp/host:pagequery",
                json!({"match_arr": [eq("id", json!([hosts[0]["id"]]))]}),
            )
            .await;
        assert_eq!(
            int(&on_first[0]["desk_num"]),
            int(&hosts[0]["desk_num"]) + 1
        );

        // pools: a directory-backed pool reports its file system
        let dir = e.s.data_dir.clone();
        let pid = e
            .create(
                "/v1/rccp/storage_pool/create",
                json!({"name": "local", "cluster_id": demo, "directory": dir.to_str().unwrap(),
                       "redundancy_strategy": "EC_4D2P"}),
            )
            .await;
        let pools = e
            .items(
                "/v1/rccp/storage_pool:pagequery",
                json!({"match_arr": [eq("id", json!([pid]))]}),
            )
            .await;
        let (size, used) = df(&dir);
        assert_eq!(int(&pools[0]["total_capacity"]), size, "{}", pools[0]);
        assert!(
            (int(&pools[0]["used_capacity"]) - used).abs() < GIB,
            "{} vs {used}",
            pools[0]
        );
        assert_eq!(pools[0]["redundancy_strategy"], "EC_4D2P");
        assert_eq!(pools[0]["directory"], dir.to_str().unwrap());
        e.ok(
            "PUT",
            "/v1/rccp/storage_pool/edit",
            json!({"id": pid, "storage_pool_health_state": "WARNING"}),
        )
        .await;
        let summary = e.items("/v1/rccp/storage/summary", json!({})).await;
        assert_eq!(summary[0]["storage_pool_arr"].as_array().unwrap().len(), 2);
        let c = e
            .call(
                "POST",
                "/v1/rccp/storage_pool/create",
                json!({"name": "x", "cluster_id": demo, "directory": "/no/such/dir"}),
            )
            .await;
        assert_err(
            &c,
            12000200,
            &["content.directory", "not an existing directory"],
        );
        let c = e
            .call(
                "POST",
                "/v1/rccp/storage_pool/create",
                json!({"name": "x", "cluster_id": demo}),
            )
            .await;
        assert_err(&c, 12000200, &["content.capacity", "required"]);
        let c = e
            .call(
                "PUT",
                "/v1/rccp/storage_pool/edit",
                json!({"id": pid, "directory": "/tmp"}),
            )
            .await;
        assert_err(&c, 12000200, &["directory cannot change"]);
        let demo_pool = e
            .items(
                "/v1/rccp/storage_pool:pagequery",
                json!({"match_arr": [eq("name", json!(["demo-pool"]))]}),
            )
            .await;
        let c = e
            .call(
                "POST",
                "/v1/rccp/storage_pool/delete",
                json!({"id": demo_pool[0]["id"]}),
            )
            .await;
        assert_err(&c, 23010000, &["still used by 3 OS files"]);
        e.ok("POST", "/v1/rccp/storage_pool/delete", json!({"id": pid}))
            .await;
        let c = e
            .call("POST", "/v1/rccp/storage_pool/delete", json!({"id": pid}))
            .await;
        assert_err(&c, 22000400, &["storage pool", "does not exist"]);
    }
}

#[tokio::test]
async fn terminal_statistics_follow_registrations_heartbeats_and_logins() {
    for db in Db::all().await {
        let s = Server::start(db.clone(), &["--terminal-online-secs", "2"]);
        let t = s.admin_token().await;
        let e = Env { s, t };
        let stats = e.ok("PUT", "/v1/terminal/statistics", json!({})).await;
        let zero = json!({"total": 0, "online": 0, "offline": 0, "never_login": 0});
        for cat in ["app", "idv", "pc", "rca", "vdi", "voi"] {
            assert_eq!(stats[cat], zero, "{db:?} {cat}");
        }
        assert_eq!(
            (stats["total"].clone(), stats["total_online"].clone()),
            (json!(0), json!(0))
        );
        for (id, cat) in [
            ("T-1", "vdi"),
            ("T-2", "vdi"),
            ("T-3", "idv"),
            ("T-4", "voi"),
            ("T-5", "app"),
        ] {
            let d = e
                .ok("POST", "/v1/terminal/register",
                    json!({"terminal_id": id, "terminal_category": cat, "ip": "172.16.0.9", "mac": "AA-BB-CC-00-11-22"}))
                .await;
            assert_eq!(d, json!({"terminal_id": id, "created": true}));
        }
        let again = e
            .ok(
                "POST",
                "/v1/terminal/register",
                json!({"terminal_id": "T-5", "terminal_category": "rca"}),
            )
            .await;
        assert_eq!(again["created"], false);
        for (body, field, needle) in [
            (
                json!({"terminal_id": "T-9", "terminal_category": "tv"}),
                "content.terminal_category",
                "app, idv, pc, rca, vdi, voi",
            ),
            (
                json!({"terminal_id": "", "terminal_category": "pc"}),
                "content.terminal_id",
                "1 to 64",
            ),
            (
                json!({"terminal_id": "T-9", "terminal_category": "pc", "mac": "zz"}),
                "content.mac",
                "not a MAC",
            ),
        ] {
            let c = e.call("POST", "/v1/terminal/register", body).await;
            assert_err(&c, 22000400, &[field, needle]);
        }
        let c = e
            .call(
                "POST",
                "/v1/terminal/heartbeat",
                json!({"terminal_id": "T-404"}),
            )
            .await;
        assert_err(&c, 22000400, &["terminal T-404 does not exist"]);

        let stats = e.ok("POST", "/v1/terminal/statistics", json!({})).await;
        assert_eq!(
            stats["vdi"],
            json!({"total": 2, "online": 2, "offline": 0, "never_login": 2})
        );
        assert_eq!(
            stats["rca"],
            json!({"total": 1, "online": 1, "offline": 0, "never_login": 1})
        );
        assert_eq!(stats["app"], zero);
        assert_eq!(
            (stats["total"].clone(), stats["total_online"].clone()),
            (json!(5), json!(5))
        );

        // past the window every terminal is offline; a heartbeat or a login brings one back
        tokio::time::sleep(Duration::from_millis(2200)).await;
        let stats = e.ok("PUT", "/v1/terminal/statistics", json!({})).await;
        assert_eq!(
            stats["vdi"],
            json!({"total": 2, "online": 0, "offline": 2, "never_login": 2})
        );
        e.ok(
            "POST",
            "/v1/terminal/heartbeat",
            json!({"terminal_id": "T-1"}),
        )
        .await;
        let login = e
            .call(
                "POST",
                "/v1/user/login",
                json!({"user_name": "user03", "password": "Demo@2026", "terminal_id": "T-2"}),
            )
            .await;
        assert_eq!(login["code"], 0, "{login}");
        let stats = e.ok("PUT", "/v1/terminal/statistics", json!({})).await;
        assert_eq!(
            stats["vdi"],
            json!({"total": 2, "online": 2, "offline": 0, "never_login": 1})
        );
        assert_eq!(
            stats["idv"],
            json!({"total": 1, "online": 0, "offline": 1, "never_login": 1})
        );
        assert_eq!(
            (stats["total"].clone(), stats["total_online"].clone()),
            (json!(5), json!(2))
        );
    }
}

/// The image version with this id, as 6.3.1 lists it.
async fn image(e: &Env, id: &str) -> Option<Value> {
    let d = e
        .ok(
            "PUT",
            "/v1/image:pagequery",
            json!({"page": 0, "limit": 10, "match_arr": [eq("id", json!([id]))]}),
        )
        .await;
    d["item_arr"].as_array().unwrap().first().cloned()
}

#[tokio::test]
async fn images_are_built_published_disabled_and_deleted_through_their_states() {
    for db in Db::all().await {
        // a one-second simulated build makes the transitional states observable
        let s = Server::start(db.clone(), &["--sim-latency-ms", "1000"]);
        let t = s.admin_token().await;
        let e = Env { s, t };
        let files = e
            .items("/v1/osFile:pagequery", json!({"page": 0, "limit": 10}))
            .await;
        let file = files
            .iter()
            .find(|f| f["image_file_name"] == "win10-x64.qcow2")
            .unwrap();
        let body =
            json!({"image_name": "exam-image", "os_file_id": file["id"], "cpu": 4, "memory": 8});
        let c = e.call("POST", "/v1/image/create", body.clone()).await;
        let id = c["data"]["id"].as_str().expect("id").to_string();
        let img = image(&e, &id).await.unwrap();
        assert_eq!(
            (img["image_state"].clone(), img["newest_version"].clone()),
            (json!("CREATING"), json!(false)),
            "{db:?}"
        );
        let task = e.wait(&c).await;
        assert_eq!(task["task_status"], "FINISHED", "{db:?} {task}");
        let img = image(&e, &id).await.unwrap();
        assert_eq!(img["image_state"], "AVAILABLE");
        assert_eq!(img["newest_version"], true);
        assert_eq!(
            (img["version"].clone(), img["root_image_id"].clone()),
            (json!(1), json!(id))
        );
        assert_eq!(
            (
                img["cpu"].clone(),
                img["memory"].clone(),
                img["image_system_size"].clone()
            ),
            (json!(4), json!(8), json!(40))
        );
        assert_eq!(
            (img["os_name"].clone(), img["image_type"].clone()),
            (json!("WIN_10_64"), json!("VDI"))
        );
        assert_eq!(img["storage_pool_id"], file["storage_pool_id"]);

        for (field, value, code, needle) in [
            (
                "image_system_size",
                json!(10),
                22000400,
                "between 40 and 2048",
            ),
            ("image_type", json!("XX"), 22000400, "VDI, IDV, TCI"),
            (
                "os_file_id",
                json!("nope"),
                22000400,
                "OS file nope does not exist",
            ),
            (
                "network_id",
                json!("nope"),
                22000400,
                "network nope does not exist",
            ),
            ("image_name", json!(""), 22000400, "must not be empty"),
        ] {
            let mut b = body.clone();
            b[field] = value;
            let c = e.call("POST", "/v1/image/create", b).await;
            assert_err(&c, code, &[needle]);
        }

        // publish: PUBLISHING while the old version stays the newest, then the new one is
        let c = e
            .call(
                "POST",
                "/v1/image/publish",
                json!({"id": id, "image_name": "exam-image v2", "memory": 16}),
            )
            .await;
        let v2 = c["data"]["id"].as_str().expect("id").to_string();
        let second = e.call("POST", "/v1/image/publish", json!({"id": id})).await;
        assert_err(&second, 23010000, &["PUBLISHING", "wait until it is done"]);
        let pending = image(&e, &v2).await.unwrap();
        assert_eq!(pending["image_state"], "PUBLISHING");
        assert_eq!(image(&e, &id).await.unwrap()["newest_version"], true);
        assert_eq!(e.wait(&c).await["task_status"], "FINISHED");
        let new = image(&e, &v2).await.unwrap();
        assert_eq!(
            (new["image_state"].clone(), new["newest_version"].clone()),
            (json!("AVAILABLE"), json!(true))
        );
        assert_eq!(
            (
                new["version"].clone(),
                new["memory"].clone(),
                new["cpu"].clone()
            ),
            (json!(2), json!(16), json!(4))
        );
        assert_eq!(
            (new["root_image_id"].clone(), new["root_image_name"].clone()),
            (json!(id), json!("exam-image"))
        );
        assert_eq!(image(&e, &id).await.unwrap()["newest_version"], false);

        // disable: no new desks from it
        e.ok("PUT", "/v1/image/disable", json!({"id": v2})).await;
        assert_eq!(image(&e, &v2).await.unwrap()["image_state"], "DISABLED");
        let c = e.call("PUT", "/v1/image/disable", json!({"id": v2})).await;
        assert_err(&c, 23010000, &["is DISABLED, not AVAILABLE"]);
        let desks = e.desks().await;
        let c = e
            .call(
                "POST",
                "/v1/desk/batch/create",
                json!({"fail_rollback": false, "desk_info_arr": [{"id": "I1", "user_name": "user15",
                    "image_id": v2, "desk_strategy_id": desks[0]["desk_strategy_id"], "network_id": desks[0]["network_id"]}]}),
            )
            .await;
        assert_err(&c, 22000400, &["image_id", "DISABLED"]);
        e.ok("PUT", "/v1/image/enable", json!({"id": v2})).await;
        assert_eq!(image(&e, &v2).await.unwrap()["image_state"], "AVAILABLE");

        // edit: EDITING with the new values, then back to AVAILABLE
        let c = e
            .call(
                "PUT",
                "/v1/image/edit",
                json!({"id": v2, "image_name": "exam-image v2b", "cpu": 6, "network_id": ""}),
            )
            .await;
        let editing = image(&e, &v2).await.unwrap();
        assert_eq!(editing["image_state"], "EDITING", "{editing}");
        assert_eq!(editing["image_name"], "exam-image v2b");
        let again = e
            .call("PUT", "/v1/image/edit", json!({"id": v2, "cpu": 2}))
            .await;
        assert_err(&again, 23010000, &["is EDITING", "AVAILABLE or DISABLED"]);
        assert_eq!(e.wait(&c).await["task_status"], "FINISHED");
        let edited = image(&e, &v2).await.unwrap();
        assert_eq!(
            (
                edited["image_state"].clone(),
                edited["cpu"].clone(),
                edited["network_id"].clone()
            ),
            (json!("AVAILABLE"), json!(6), Value::Null)
        );
        let c = e
            .call("PUT", "/v1/image/edit", json!({"id": v2, "cpu": 99}))
            .await;
        assert_err(&c, 22000400, &["content.cpu", "between 1 and 64"]);

        // delete: refused while desks or later versions use it; DELETING, then gone
        let c = e
            .call(
                "POST",
                "/v1/image/delete",
                json!({"id": desks[0]["image_id"]}),
            )
            .await;
        assert_err(&c, 23010000, &["still used by", "desks"]);
        let c = e.call("POST", "/v1/image/delete", json!({"id": id})).await;
        assert_err(&c, 23010000, &["root of 1 later version", "exam-image v2b"]);
        let c = e.call("POST", "/v1/image/delete", json!({"id": v2})).await;
        assert_eq!(image(&e, &v2).await.unwrap()["image_state"], "DELETING");
        assert_eq!(e.wait(&c).await["task_status"], "FINISHED");
        assert!(image(&e, &v2).await.is_none());
        assert_eq!(
            image(&e, &id).await.unwrap()["newest_version"],
            true,
            "the remaining version is the newest again"
        );
        let c = e.call("POST", "/v1/image/delete", json!({"id": id})).await;
        assert_eq!(e.wait(&c).await["task_status"], "FINISHED");
        let left = e
            .ok(
                "PUT",
                "/v1/image:pagequery",
                json!({"page": 0, "limit": 10}),
            )
            .await;
        assert_eq!(left["total"], 3);
        let c = e.call("POST", "/v1/image/delete", json!({"id": id})).await;
        assert_err(&c, 22000400, &["image", "does not exist"]);
    }
}

/// A QCOW2 file of `len` bytes whose header names a 40 GiB virtual disk.
fn qcow2(len: usize) -> Vec<u8> {
    let mut v = b"QFI\xfb".to_vec();
    v.extend(3u32.to_be_bytes());
    v.resize(24, 0);
    v.extend((40 * GIB as u64).to_be_bytes());
    v.extend((0..len - v.len()).map(|i| (i % 251) as u8));
    v
}

fn sha256_hex(bytes: &[u8], dir: &std::path::Path) -> String {
    let f = dir.join("probe.bin");
    std::fs::write(&f, bytes).unwrap();
    let out = std::process::Command::new("sha256sum")
        .arg(&f)
        .output()
        .unwrap();
    std::fs::remove_file(&f).unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

impl Env {
    /// `POST /v1/osFile/upload?query` with `bytes`; returns `content`.
    async fn upload(&self, query: &str, bytes: Vec<u8>) -> Value {
        let resp = self
            .s
            .http
            .post(self.s.url(&format!("/v1/osFile/upload?{query}")))
            .bearer_auth(&self.t)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().await.unwrap()["content"].clone()
    }

    async fn files(&self) -> Vec<Value> {
        self.items("/v1/osFile:pagequery", json!({"page": 0, "limit": 100}))
            .await
    }
}

/// The files of `dir` (names).
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn os_files_stream_into_their_pool_and_failed_uploads_leave_nothing() {
    for db in Db::all().await {
        let e = Env::start(db.clone(), &[]).await;
        let desks = e.desks().await;
        let dir = fresh_dir();
        let pid = e
            .create(
                "/v1/rccp/storage_pool/create",
                json!({"name": "uploads", "cluster_id": desks[0]["cluster_id"], "directory": dir.to_str().unwrap()}),
            )
            .await;
        let bytes = qcow2(3 * 1024 * 1024 + 17);
        let sha = sha256_hex(&bytes, &std::env::temp_dir());
        let q = |size: usize, sha: &str| {
            format!("name=exam.qcow2&format=QCOW2&os_name=UBUNTU_64&size={size}&sha256={sha}&storage_pool_id={pid}")
        };
        // wrong size, wrong checksum, not QCOW2, bad parameters: refused, nothing left behind
        let small = qcow2(1024);
        let small_sha = sha256_hex(&small, &std::env::temp_dir());
        let c = e.upload(&q(small.len() - 1, &small_sha), small).await;
        assert_err(&c, 22000400, &["query.size", "more arrived"]);
        let c = e.upload(&q(bytes.len() + 1, &sha), bytes.clone()).await;
        assert_err(&c, 22000400, &["query.size", "received"]);
        let c = e
            .upload(&q(bytes.len(), &"0".repeat(64)), bytes.clone())
            .await;
        assert_err(&c, 22000400, &["query.sha256", &sha]);
        let iso_as_qcow = vec![7u8; 64];
        let c = e
            .upload(
                &q(64, &sha256_hex(&iso_as_qcow, &std::env::temp_dir())),
                iso_as_qcow,
            )
            .await;
        assert_err(&c, 22000400, &["query.format", "not QCOW2"]);
        // (refused before the body is read: a small body, so the client is done sending)
        let c = e
            .upload(
                &q(bytes.len(), &sha).replace("UBUNTU_64", "DOS"),
                vec![1; 8],
            )
            .await;
        assert_err(&c, 22000400, &["query.os_name"]);
        let c = e.upload("name=x", vec![1; 8]).await;
        assert_err(&c, 22000400, &["query.size", "required"]);
        // an upload cut off half way
        {
            use std::io::Write;
            let addr = e.s.base.trim_start_matches("http://").to_string();
            let mut tcp = std::net::TcpStream::connect(&addr).unwrap();
            write!(
                tcp,
                "POST /v1/osFile/upload?{} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
                q(bytes.len(), &sha),
                e.t,
                bytes.len()
            )
            .unwrap();
            tcp.write_all(&bytes[..100_000]).unwrap();
            tcp.flush().unwrap();
            let end = Instant::now() + Duration::from_secs(10);
            loop {
                let files = e.files().await;
                if files.iter().any(|f| f["image_file_state"] == "UPLOADING") {
                    assert_eq!(files.len(), 4);
                    break;
                }
                assert!(Instant::now() < end, "no UPLOADING file: {files:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(listing(&dir).len(), 1, "the part file");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            e.files().await.len(),
            3,
            "{db:?}: no UPLOADING or AVAILABLE file left"
        );
        assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));

        // a good upload: AVAILABLE, bytes in the pool's directory, virtual size from the header
        let c = e.upload(&q(bytes.len(), &sha), bytes.clone()).await;
        assert_eq!(c["code"], 0, "{c}");
        let fid = c["data"]["id"].as_str().unwrap().to_string();
        let f = e
            .files()
            .await
            .into_iter()
            .find(|f| f["id"] == json!(fid))
            .unwrap();
        assert_eq!(f["image_file_state"], "AVAILABLE");
        assert_eq!(
            (f["image_file_size"].clone(), f["virtual_size"].clone()),
            (json!(bytes.len()), json!(40 * GIB))
        );
        assert_eq!(
            (f["sha256"].clone(), f["cbb_image_format"].clone()),
            (json!(sha), json!("QCOW2"))
        );
        assert_eq!(listing(&dir), [format!("{fid}.qcow2")]);
        assert_eq!(
            std::fs::read(dir.join(format!("{fid}.qcow2"))).unwrap(),
            bytes
        );
        // an image is built on it; the file cannot go while it is
        let c = e
            .call(
                "POST",
                "/v1/image/create",
                json!({"image_name": "uploaded", "os_file_id": fid}),
            )
            .await;
        assert_eq!(e.wait(&c).await["task_status"], "FINISHED");
        let img = c["data"]["id"].as_str().unwrap().to_string();
        let c = e
            .call("POST", "/v1/osFile/delete", json!({"id": fid}))
            .await;
        assert_err(&c, 23010000, &["still used by 1 images (uploaded)"]);
        let c = e
            .call("POST", "/v1/rccp/storage_pool/delete", json!({"id": pid}))
            .await;
        assert_err(&c, 23010000, &["still used by 1 OS files"]);
        let c = e.call("POST", "/v1/image/delete", json!({"id": img})).await;
        assert_eq!(e.wait(&c).await["task_status"], "FINISHED");
        e.ok("POST", "/v1/osFile/delete", json!({"id": fid})).await;
        assert!(listing(&dir).is_empty());
        assert_eq!(e.files().await.len(), 3);
        // a pool whose directory is gone shows ERROR and no capacity
        std::fs::remove_dir(&dir).unwrap();
        let pools = e
            .items(
                "/v1/rccp/storage_pool:pagequery",
                json!({"match_arr": [eq("id", json!([pid]))]}),
            )
            .await;
        assert_eq!(
            pools[0]["storage_pool_health_state"], "ERROR",
            "{}",
            pools[0]
        );
        assert_eq!(
            (
                pools[0]["total_capacity"].clone(),
                pools[0]["used_capacity"].clone()
            ),
            (json!(0), json!(0))
        );
        e.ok("POST", "/v1/rccp/storage_pool/delete", json!({"id": pid}))
            .await;
    }
}
