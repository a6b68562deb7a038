//! Real desktops end to end (issue 8): a deskd started with `--qemu` runs the test guest of
//! scripts/build-test-guest.sh on a `driver = "qemu"` host, driven only over HTTP — OS-file
//! upload, image build, batch create, start, ACPI shutdown, the console's RFB through the
//! websocket proxy, metrics, delete — and keeps its desks across a SIGKILL. Without QEMU these
//! tests print SKIPPED, unless CI is set: then a missing QEMU or guest fails them.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::console::{connect, handshake, Rfb};
use common::*;
use serde_json::{json, Value};

/// The guests boot under TCG on two cores: one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const MARKER: &str = "DESKD-GUEST-READY boot=";
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);

fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The bootable guest disk built by scripts/build-test-guest.sh; None means skip.
fn guest_disk() -> Option<PathBuf> {
    let ci = std::env::var_os("CI").is_some();
    if !have("qemu-system-x86_64") || !have("qemu-img") {
        assert!(
            !ci,
            "CI is set but qemu-system-x86_64 / qemu-img are missing"
        );
        println!("SKIPPED: qemu-system-x86_64 not installed");
        return None;
    }
    let dir = std::env::temp_dir().join("deskd-test-guest");
    let disk = dir.join("disk.qcow2");
    if !disk.is_file() {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-test-guest.sh");
        let built = Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !built || !disk.is_file() {
            assert!(!ci, "CI is set but the test guest could not be built");
            println!("SKIPPED: the test guest could not be built");
            return None;
        }
    }
    Some(disk)
}

/// A short data directory: QEMU's unix sockets live under it (108-byte limit).
fn short_dir() -> PathBuf {
    let d = PathBuf::from(format!(
        "/tmp/dq{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const FLAGS: &[&str] = &[
    "--qemu",
    "--qemu-accel",
    "tcg",
    "--scrape-interval-secs",
    "1",
    "--desk-shutdown-timeout-secs",
    "60",
];

/// A server with a QEMU host in a cluster of its own, its network, a strategy for tiny desks
/// and an image built from the uploaded guest disk.
struct Lab {
    api: Api,
    image: String,
    strategy: String,
    network: String,
}

/// The calls of [`Api`], on the lab's server.
impl std::ops::Deref for Lab {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Lab {
    async fn start(disk: &Path) -> Lab {
        let s = Server::start_in(short_dir(), Db::Sqlite, FLAGS, true);
        let mut lab = Lab {
            api: Api::with(s).await,
            image: String::new(),
            strategy: String::new(),
            network: String::new(),
        };
        let cluster = lab
            .create(
                "/v1/rccp/cluster/create",
                json!({"cluster_name": "qemu-lab"}),
            )
            .await;
        lab.create(
            "/v1/rccp/host/create",
            json!({"host_name": "this-machine", "cluster_id": cluster, "ip": "127.0.0.1",
                   "cpu_cores": 8, "memory": 16, "storage": 100, "driver": "qemu"}),
        )
        .await;
        lab.network = lab
            .create(
                "/v1/desk_network/create",
                json!({"desk_network_name": "qemu-net", "cluster_id": cluster,
                       "ip_cidr": "10.77.0.0/24", "gateway": "10.77.0.1",
                       "dns_primary": "10.77.0.53", "ip_pool_start": "10.77.0.10",
                       "ip_pool_end": "10.77.0.50"}),
            )
            .await;
        lab.strategy = lab
            .create(
                "/v1/desk_strategy/create",
                json!({"desk_strategy_name": "tiny", "desk_category": "VDI",
                       "desk_type": "PERSONAL", "cpu_cores": 1, "memory": 1, "system_disk": 20}),
            )
            .await;
        std::fs::create_dir_all(lab.s.data_dir.join("files")).unwrap();
        let pool = lab
            .create(
                "/v1/rccp/storage_pool/create",
                json!({"name": "qemu-files", "cluster_id": cluster,
                       "directory": lab.s.data_dir.join("files").to_str().unwrap()}),
            )
            .await;
        let file = lab.upload(disk, &pool).await;
        let c = lab
            .call(
                "POST",
                "/v1/image/create",
                json!({"image_name": "tiny-guest", "os_file_id": file, "cpu": 1, "memory": 1,
                       "network_id": lab.network}),
            )
            .await;
        lab.image = c["data"]["id"].as_str().expect("image id").to_string();
        let task = lab.wait(&c).await;
        assert_eq!(task["task_status"], "FINISHED", "image build: {task}");
        lab
    }

    /// Uploads the guest disk as a QCOW2 SYSTEM OS file; returns its id.
    async fn upload(&self, disk: &Path, pool: &str) -> String {
        let bytes = std::fs::read(disk).unwrap();
        let sha = {
            use sha2::Digest;
            hex(&sha2::Sha256::digest(&bytes))
        };
        let q = format!(
            "name=tiny-guest.qcow2&format=QCOW2&disk_type=SYSTEM&os_name=UBUNTU_64&size={}&sha256={sha}&storage_pool_id={pool}",
            bytes.len()
        );
        let resp = self
            .s
            .http
            .post(self.s.url(&format!("/v1/osFile/upload?{q}")))
            .bearer_auth(&self.t)
            .body(bytes)
            .send()
            .await
            .unwrap();
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["content"]["code"], 0, "upload: {v}");
        v["content"]["data"]["id"]
            .as_str()
            .expect("file id")
            .to_string()
    }

    /// Waits for the task of `reply` to end, as long as guests may take to boot; returns its
    /// detail.
    async fn wait(&self, reply: &Value) -> Value {
        assert_eq!(reply["code"], 0, "{reply}");
        let id = reply["data"]["task_id"].as_str().expect("task_id");
        self.wait_task(id, BOOT_TIMEOUT).await
    }

    /// Batch-creates desks `(caller id, desk type)` for user01; returns their desk ids.
    async fn create_desks(&self, desks: &[(&str, &str)]) -> Vec<String> {
        let items: Vec<Value> = desks
            .iter()
            .map(|(id, ty)| {
                json!({"id": id, "user_name": "user01", "image_id": self.image,
                       "desk_strategy_id": self.strategy, "network_id": self.network,
                       "desk_type": ty})
            })
            .collect();
        let c = self
            .call(
                "POST",
                "/v1/desk/batch/create",
                json!({"fail_rollback": false, "desk_info_arr": items}),
            )
            .await;
        let task = self.wait(&c).await;
        assert_eq!(task["task_status"], "FINISHED", "batch create: {task}");
        // items come back in request order, each naming its desk
        task["task_item_list"]
            .as_array()
            .expect("task_item_list")
            .iter()
            .map(|i| {
                let id = i["item_biz_data"]["desk_id"].as_str();
                id.unwrap_or_else(|| panic!("no desk: {i}")).to_string()
            })
            .collect()
    }

    /// `:verb` on a desk; asserts its task finished.
    async fn act(&self, desk: &str, verb: &str) {
        let c = self
            .call("PUT", &format!("/v1/desk/{desk}:{verb}"), json!({}))
            .await;
        let task = self.wait(&c).await;
        assert_eq!(task["task_status"], "FINISHED", "{verb} {desk}: {task}");
    }

    async fn state(&self, desk: &str) -> String {
        let c = self
            .call("GET", &format!("/v1/desk/{desk}/detail"), json!({}))
            .await;
        c["data"]["desk_state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn vm_dir(&self, desk: &str) -> PathBuf {
        self.s.data_dir.join("qemu/vms").join(desk)
    }

    /// The boot number the guest printed on its serial console this launch.
    async fn ready(&self, desk: &str) -> u64 {
        let log = self.vm_dir(desk).join("serial.log");
        let end = Instant::now() + BOOT_TIMEOUT;
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(n) = text.split(MARKER).nth(1) {
                let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(n) = digits.parse() {
                    return n;
                }
            }
            assert!(
                Instant::now() < end,
                "{desk}: no ready marker in {log:?}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// One instant query through the metrics API.
    async fn query(&self, q: &str) -> Vec<Value> {
        let resp = self
            .s
            .http
            .get(self.s.url("/api/v1/query"))
            .query(&[("query", q)])
            .bearer_auth(&self.t)
            .send()
            .await
            .unwrap();
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["status"], "success", "{q}: {v}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Pids of the QEMU processes whose command line names `desk`.
fn qemu_pids(desk: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c);
                c.contains("qemu-system") && c.contains(desk)
            })
        })
        .collect()
}

#[tokio::test]
async fn personal_desks_keep_their_disk_recoverable_ones_start_clean() {
    let Some(disk) = guest_disk() else { return };
    let _one = SERIAL.lock().await;
    let lab = Lab::start(&disk).await;
    let desks = lab
        .create_desks(&[
            ("P1", "PERSONAL"),
            ("P2", "PERSONAL"),
            ("R1", "RECOVERABLE"),
        ])
        .await;
    assert_eq!(desks.len(), 3);
    for d in &desks {
        assert_eq!(lab.state(d).await, "CLOSE");
        assert!(
            lab.vm_dir(d).join("system.qcow2").is_file(),
            "{d}: no overlay"
        );
    }

    for round in 1..=2u64 {
        for d in &desks {
            lab.act(d, "start").await;
        }
        for (i, d) in desks.iter().enumerate() {
            assert_eq!(lab.state(d).await, "RUNNING");
            let expect = if i < 2 { round } else { 1 };
            assert_eq!(lab.ready(d).await, expect, "round {round}, desk {i}");
            assert_eq!(qemu_pids(d).len(), 1, "one QEMU per desk");
        }
        if round == 1 {
            // the collectors read the running VMs' real figures
            let end = Instant::now() + Duration::from_secs(30);
            loop {
                let cpu = lab
                    .query(&format!("vm_cpu_seconds_total{{vm_id=\"{}\"}}", desks[0]))
                    .await;
                let busy = cpu
                    .first()
                    .and_then(|s| s["value"][1].as_str()?.parse::<f64>().ok());
                if busy.is_some_and(|v| v > 0.0) {
                    break;
                }
                assert!(
                    Instant::now() < end,
                    "no vm_cpu_seconds_total for the desk: {cpu:?}"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            let used = lab
                .query(&format!("vm_mem_used_bytes{{vm_id=\"{}\"}}", desks[0]))
                .await;
            assert!(!used.is_empty(), "vm_mem_used_bytes");
            // QEMU's own display through the console endpoint, as noVNC reaches it
            let c = lab
                .call("PUT", &format!("/v1/desk/{}/console", desks[0]), json!({}))
                .await;
            assert_eq!(c["code"], 0, "console ticket: {c}");
            let path = c["data"]["websocket_path"]
                .as_str()
                .expect("websocket_path");
            let mut rfb = Rfb::new(connect(&lab.s, path).await.expect("upgrade"));
            let (w, h, name) = handshake(&mut rfb).await;
            assert!(w > 0 && h > 0 && !name.is_empty(), "{w}x{h} {name}");
            // one non-incremental update of the top-left pixel
            rfb.send(&[3, 0, 0, 0, 0, 0, 0, 1, 0, 1]).await;
            assert_eq!(rfb.read_n(1).await, [0], "FramebufferUpdate");
        }
        for d in &desks {
            lab.act(d, "shutdown").await;
            assert_eq!(lab.state(d).await, "CLOSE");
            assert!(qemu_pids(d).is_empty(), "QEMU of {d} still runs");
        }
    }

    let c = lab
        .call(
            "POST",
            "/v1/desk/batch/delete",
            json!({"desk_info_arr": desks.iter().map(|d| json!({"desk_id": d})).collect::<Vec<_>>()}),
        )
        .await;
    let task = lab.wait(&c).await;
    assert_eq!(task["task_status"], "FINISHED", "delete: {task}");
    for d in &desks {
        assert!(!lab.vm_dir(d).exists(), "{d}: files left behind");
        assert!(qemu_pids(d).is_empty(), "{d}: process left behind");
    }
}

#[tokio::test]
async fn desks_keep_running_across_a_sigkill_of_deskd() {
    let Some(disk) = guest_disk() else { return };
    let _one = SERIAL.lock().await;
    let lab = Lab::start(&disk).await;
    let desks = lab.create_desks(&[("K1", "PERSONAL")]).await;
    let d = &desks[0];
    lab.act(d, "start").await;
    assert_eq!(lab.ready(d).await, 1);
    let before = qemu_pids(d);
    assert_eq!(before.len(), 1);

    let Lab {
        api: Api { s, .. },
        image,
        strategy,
        network,
        ..
    } = lab;
    let dir = s.data_dir.clone();
    signal(&s.child, "KILL");
    drop(s);
    assert_eq!(qemu_pids(d), before, "the guest outlives deskd");

    let s = Server::start_in(dir, Db::Sqlite, FLAGS, true);
    let lab = Lab {
        api: Api::with(s).await,
        image,
        strategy,
        network,
    };
    assert_eq!(lab.state(d).await, "RUNNING");
    // a reconcile pass must not disturb the adopted VM
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(qemu_pids(d), before, "re-adopted, not relaunched");
    lab.act(d, "shutdown").await;
    assert_eq!(lab.state(d).await, "CLOSE");
    assert!(qemu_pids(d).is_empty());
    lab.act(d, "start").await;
    assert_eq!(lab.ready(d).await, 2, "the personal disk survived");
    lab.act(d, "powerOff").await;
    assert!(qemu_pids(d).is_empty());
}
