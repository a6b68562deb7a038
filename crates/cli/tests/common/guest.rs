//! Real desks over HTTP, shared by the QEMU and libvirt driver tests: the test guest of
//! scripts/build-test-guest.sh, a lab (a cluster with real hosts, a network, a strategy for tiny
//! desks and an image built from the uploaded guest) and the desk calls those tests make.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::Api;

/// The guests boot under TCG on two cores: as long as a task may wait for them.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(240);
/// What the guest prints once booted, followed by its boot count.
pub const MARKER: &str = "DESKD-GUEST-READY boot=";
/// What the guest prints once DHCP gave it an address: `DESKD-GUEST-IP eth0 <ip> mac=<mac>`.
pub const IP_MARKER: &str = "DESKD-GUEST-IP eth0 ";
/// The version of the guest these tests need (scripts/build-test-guest.sh writes it).
const GUEST_VERSION: &str = "2";

pub fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Prints SKIPPED (None) for a missing piece, or fails under CI.
pub fn skip<T>(why: &str) -> Option<T> {
    assert!(std::env::var_os("CI").is_none(), "CI is set but {why}");
    println!("SKIPPED: {why}");
    None
}

/// The bootable guest disk built by scripts/build-test-guest.sh (rebuilt when older than
/// this suite needs); None means skip.
pub fn guest_disk() -> Option<PathBuf> {
    if !have("qemu-system-x86_64") || !have("qemu-img") {
        return skip("qemu-system-x86_64 / qemu-img are not installed");
    }
    let dir = std::env::temp_dir().join("deskd-test-guest");
    let disk = dir.join("disk.qcow2");
    let version = std::fs::read_to_string(dir.join("guest-version")).unwrap_or_default();
    if !disk.is_file() || version.trim() != GUEST_VERSION {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-test-guest.sh");
        let built = Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !built || !disk.is_file() {
            return skip("the test guest could not be built");
        }
    }
    Some(disk)
}

/// A server with real hosts in a cluster of their own, their network (10.77.0.0/24), a
/// strategy for tiny desks and an image built from the uploaded guest disk.
pub struct Lab {
    pub api: Api,
    pub hosts: Vec<String>,
    pub image: String,
    pub strategy: String,
    pub network: String,
}

/// The calls of [`Api`], on the lab's server.
impl std::ops::Deref for Lab {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Lab {
    /// Creates the cluster, the hosts (`/v1/rccp/host/create` bodies without `cluster_id`),
    /// the network, the strategy, a storage pool, uploads `disk` and builds the image.
    pub async fn start(api: Api, hosts: &[Value], disk: &Path) -> Lab {
        let mut lab = Lab {
            api,
            hosts: Vec::new(),
            image: String::new(),
            strategy: String::new(),
            network: String::new(),
        };
        let cluster = lab
            .create(
                "/v1/rccp/cluster/create",
                json!({"cluster_name": "guest-lab"}),
            )
            .await;
        for h in hosts {
            let mut h = h.clone();
            h["cluster_id"] = json!(cluster);
            let id = lab.create("/v1/rccp/host/create", h).await;
            lab.hosts.push(id);
        }
        lab.network = lab
            .create(
                "/v1/desk_network/create",
                json!({"desk_network_name": "guest-net", "cluster_id": cluster,
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
                json!({"name": "guest-files", "cluster_id": cluster,
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
        let task = lab.wait_boot(&c).await;
        assert_eq!(task["task_status"], "FINISHED", "image build: {task}");
        lab
    }

    /// Uploads the guest disk as a QCOW2 SYSTEM OS file; returns its id.
    pub async fn upload(&self, disk: &Path, pool: &str) -> String {
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
    pub async fn wait_boot(&self, reply: &Value) -> Value {
        assert_eq!(reply["code"], 0, "{reply}");
        let id = reply["data"]["task_id"].as_str().expect("task_id");
        self.wait_task(id, BOOT_TIMEOUT).await
    }

    /// Batch-creates desks `(caller id, desk type)` for user01; returns their desk ids.
    pub async fn create_desks(&self, desks: &[(&str, &str)]) -> Vec<String> {
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
        let task = self.wait_boot(&c).await;
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

    /// Deletes the desks in one batch; asserts the task finished.
    pub async fn delete_desks(&self, desks: &[String]) {
        let c = self
            .call(
                "POST",
                "/v1/desk/batch/delete",
                json!({"desk_info_arr": desks.iter().map(|d| json!({"desk_id": d})).collect::<Vec<_>>()}),
            )
            .await;
        let task = self.wait_boot(&c).await;
        assert_eq!(task["task_status"], "FINISHED", "delete: {task}");
    }

    /// `:verb` on a desk; asserts its task finished.
    pub async fn act(&self, desk: &str, verb: &str) {
        let c = self
            .call("PUT", &format!("/v1/desk/{desk}:{verb}"), json!({}))
            .await;
        let task = self.wait_boot(&c).await;
        assert_eq!(task["task_status"], "FINISHED", "{verb} {desk}: {task}");
    }

    /// The desk's detail (6.1.2).
    pub async fn detail(&self, desk: &str) -> Value {
        let c = self
            .call("GET", &format!("/v1/desk/{desk}/detail"), json!({}))
            .await;
        assert_eq!(c["code"], 0, "detail {desk}: {c}");
        c["data"].clone()
    }

    pub async fn state(&self, desk: &str) -> String {
        self.detail(desk).await["desk_state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// One instant query through the metrics API.
    pub async fn query(&self, q: &str) -> Vec<Value> {
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

    /// Waits until the instant query `q` has a first sample above zero.
    pub async fn positive(&self, q: &str) {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self.query(q).await;
            let v = r
                .first()
                .and_then(|s| s["value"][1].as_str()?.parse::<f64>().ok());
            if v.is_some_and(|v| v > 0.0) {
                return;
            }
            assert!(Instant::now() < end, "{q} stays at {r:?}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The console's RFB handshake through the websocket, and one framebuffer update.
    pub async fn console_works(&self, desk: &str) {
        use super::console::{connect, handshake, Rfb};
        let c = self
            .call("PUT", &format!("/v1/desk/{desk}/console"), json!({}))
            .await;
        assert_eq!(c["code"], 0, "console ticket: {c}");
        let path = c["data"]["websocket_path"]
            .as_str()
            .expect("websocket_path");
        let mut rfb = Rfb::new(connect(&self.s, path).await.expect("upgrade"));
        let (w, h, name) = handshake(&mut rfb).await;
        assert!(w > 0 && h > 0 && !name.is_empty(), "{w}x{h} {name}");
        // one non-incremental update of the top-left pixel
        rfb.send(&[3, 0, 0, 0, 0, 0, 0, 1, 0, 1]).await;
        assert_eq!(rfb.read_n(1).await, [0], "FramebufferUpdate");
    }
}

/// Waits for the serial log at `log` to show the ready marker; returns the boot number.
pub async fn ready(log: &Path) -> u64 {
    let text = wait_for(log, MARKER).await;
    let n = text.split(MARKER).nth(1).unwrap_or_default();
    let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("{log:?}: {text}"))
}

/// Waits for the guest's DHCP line in the serial log at `log`; returns the address.
pub async fn guest_ip(log: &Path) -> String {
    let text = wait_for(log, IP_MARKER).await;
    let rest = text.split(IP_MARKER).nth(1).unwrap_or_default();
    rest.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The text of `log` once it holds `what` (and the line it starts is complete).
async fn wait_for(log: &Path, what: &str) -> String {
    let end = Instant::now() + BOOT_TIMEOUT;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let done = text
            .split(what)
            .nth(1)
            .is_some_and(|rest| rest.contains('\n'));
        if done {
            return text;
        }
        assert!(Instant::now() < end, "no {what:?} in {log:?}:\n{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
