//! The web console and the desktop-user portal in a real browser (issue 20): Debian's Chromium
//! driven by Playwright for Python (`tests/web/browser.py`) against a real `deskd serve`.
//!
//! The browser, the Python venv with Playwright and axe-core are installed by `.ci/run`; on a
//! machine without them these tests print SKIPPED, and under `CI` they fail. Screenshots of
//! every screen land in `target/web-screenshots/` (listed in the output).

// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Prints SKIPPED (None) for a missing piece, or fails under CI.
fn skip<T>(why: &str) -> Option<T> {
    assert!(std::env::var_os("CI").is_none(), "CI is set but {why}");
    println!("SKIPPED: {why}");
    None
}

/// What drives the browser.
struct Browser {
    python: PathBuf,
    chromium: PathBuf,
    axe: Option<PathBuf>,
}

/// The system Chromium, a Python with Playwright (`DESKD_WEB_PYTHON`, else the venv `.ci/run`
/// makes in `target/web-test-venv`) and axe-core from `web/node_modules`.
fn browser() -> Option<Browser> {
    let chromium = std::env::var_os("DESKD_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.is_file() {
        return skip(&format!("no Chromium at {}", chromium.display()));
    }
    let python = std::env::var_os("DESKD_WEB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/web-test-venv/bin/python"));
    let has_playwright = Command::new(&python)
        .args(["-c", "import playwright.sync_api"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_playwright {
        return skip(&format!("no Playwright for {}", python.display()));
    }
    let axe = workspace().join("web/node_modules/axe-core/axe.min.js");
    let axe = if axe.is_file() {
        Some(axe)
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but axe-core is not in web/node_modules (npm ci)"
        );
        println!("WARNING: no axe-core in web/node_modules: the accessibility pass is skipped");
        None
    };
    Some(Browser {
        python,
        chromium,
        axe,
    })
}

impl Browser {
    /// Runs browser.py against `base` with `args`; asserts it passed and returns its output.
    fn run(&self, base: &str, args: &[&str]) -> String {
        let shots = workspace().join("target/web-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        let mut cmd = Command::new(&self.python);
        cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web/browser.py"))
            .args(["--base", base, "--admin-password", ADMIN_PASSWORD])
            .arg("--shots")
            .arg(&shots)
            .arg("--chromium")
            .arg(&self.chromium)
            .args(args);
        if let Some(axe) = &self.axe {
            cmd.arg("--axe").arg(axe);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!("{stdout}");
        assert!(
            out.status.success(),
            "browser.py failed:\n{stdout}\n{stderr}"
        );
        assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
        stdout
    }
}

/// Sign-in (operator, desktop user, wrong passwords), the compressed first screen, the
/// overview, the desk table (paging, sort, filter, start with its progress bar, batch-create of
/// 20), ten starts queued by the boot-storm guard on the overview, the CSV import with a bad
/// row, editing a user, disabling and enabling them, changing their password and signing in
/// with the new one, an operator's password reset (policy refusal, AD refusal, the user signs in
/// with it), a network and a strategy through their forms (bad input refused at its field),
/// deleting from every catalogue and fleet screen (refusals shown, rows gone), every catalog
/// screen, charts, the language switch, the portal (start a desk, open its console, non-uniform
/// canvas) and axe-core, on the simulated driver.
#[tokio::test(flavor = "multi_thread")]
async fn operator_console_and_user_portal_in_chromium() {
    let Some(b) = browser() else { return };
    // Some latency, so a started desk is seen starting before it runs; one start at a time,
    // so a handful of starts makes a boot-storm queue the overview shows.
    let flags = [
        "--sim-latency-ms",
        "300",
        "--max-starts-per-host",
        "1",
        "--max-starts-per-cluster",
        "1",
    ];
    let api = Api::start(Db::Sqlite, &flags).await;
    spare_records(&api).await;
    // user01's desks start powered off, for the portal to start one.
    let desks = api
        .ok(
            "PUT",
            "/v1/desk:pagequery",
            json!({"page": 0, "limit": 100, "match_arr": [eq("userName", json!(["user01"]))]}),
        )
        .await;
    for d in desks["item_arr"].as_array().unwrap() {
        if d["desk_state"] == "RUNNING" {
            let c = api
                .put(
                    &format!("/v1/desk/{}:powerOff", d["desk_id"].as_str().unwrap()),
                    json!({}),
                )
                .await;
            let task = api.wait(&c).await;
            assert_eq!(task["task_status"], "FINISHED", "{task}");
        }
    }
    let out = b.run(&api.s.base, &["--mode", "full"]);
    assert!(out.contains("screenshot: "), "{out}");
}

/// What browser.py deletes or is refused on besides the demo: an empty cluster with a host and a
/// pool of its own (no desk is ever placed there), and an AD user whose password deskd does
/// not keep.
async fn spare_records(api: &Api) {
    let cluster = api
        .create(
            "/v1/rccp/cluster/create",
            json!({"cluster_name": "web-spare-cluster"}),
        )
        .await;
    api.create(
        "/v1/rccp/host/create",
        json!({"host_name": "web-spare-host", "cluster_id": cluster, "ip": "10.99.0.9",
               "cpu_cores": 8, "memory": 16, "storage": 100}),
    )
    .await;
    api.create(
        "/v1/rccp/storage_pool/create",
        json!({"name": "web-spare-pool", "cluster_id": cluster, "capacity": 100}),
    )
    .await;
    let c = api
        .post(
            "/v1/user/create",
            json!({"user_name": "webad", "user_group_name": "webdir", "real_name": "Web AD",
                   "user_type": "AD"}),
        )
        .await;
    let task = api.wait(&c).await;
    assert_eq!(task["task_status"], "FINISHED", "{task}");
}

/// A QEMU desk's console in the browser shows the guest's screen.
#[tokio::test(flavor = "multi_thread")]
async fn a_qemu_desks_screen_in_chromium() {
    let Some(b) = browser() else { return };
    let Some(disk) = guest_disk() else { return };
    let lab = qemu_lab(&disk).await;
    let desk = lab.running_desk().await;
    b.run(&lab.api.s.base, &["--mode", "console", "--desk", &desk]);
    // deleting the desk ends its QEMU process, which would outlive the server
    let c = lab
        .api
        .post(
            "/v1/desk/batch/delete",
            json!({"desk_info_arr": [{"id": "1", "desk_id": desk}]}),
        )
        .await;
    let task = lab
        .api
        .wait_task(c["data"]["task_id"].as_str().unwrap(), BOOT_TIMEOUT)
        .await;
    assert_eq!(task["task_status"], "FINISHED", "delete: {task}");
}

// --- a QEMU desk over HTTP, as crates/cli/tests/qemu_desks.rs makes one ---

const BOOT_TIMEOUT: Duration = Duration::from_secs(240);

fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn guest_disk() -> Option<PathBuf> {
    if !have("qemu-system-x86_64") || !have("qemu-img") {
        return skip("qemu-system-x86_64 / qemu-img are not installed");
    }
    let disk = std::env::temp_dir().join("deskd-test-guest/disk.qcow2");
    if !disk.is_file() {
        return skip("the test guest is not built (scripts/build-test-guest.sh)");
    }
    Some(disk)
}

struct QemuLab {
    api: Api,
    image: String,
    strategy: String,
    network: String,
}

/// A deskd with one QEMU host, a network, a tiny strategy and an image of the test guest.
async fn qemu_lab(disk: &Path) -> QemuLab {
    let dir = PathBuf::from(format!(
        "/tmp/dw{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    std::fs::create_dir_all(dir.join("files")).unwrap();
    let s = Server::start_in(
        dir.clone(),
        Db::Sqlite,
        &["--qemu", "--qemu-accel", "tcg"],
        true,
    );
    let api = Api::with(s).await;
    let cluster = api
        .create(
            "/v1/rccp/cluster/create",
            json!({"cluster_name": "web-qemu"}),
        )
        .await;
    api.create(
        "/v1/rccp/host/create",
        json!({"host_name": "this-machine", "cluster_id": cluster, "ip": "127.0.0.1",
               "cpu_cores": 8, "memory": 16, "storage": 100, "driver": "qemu"}),
    )
    .await;
    let network = api
        .create(
            "/v1/desk_network/create",
            json!({"desk_network_name": "web-qemu-net", "cluster_id": cluster,
                   "ip_cidr": "10.78.0.0/24", "gateway": "10.78.0.1", "dns_primary": "10.78.0.53",
                   "ip_pool_start": "10.78.0.10", "ip_pool_end": "10.78.0.50"}),
        )
        .await;
    let strategy = api
        .create(
            "/v1/desk_strategy/create",
            json!({"desk_strategy_name": "web-tiny", "desk_category": "VDI",
                   "desk_type": "PERSONAL", "cpu_cores": 1, "memory": 1, "system_disk": 20}),
        )
        .await;
    let pool = api
        .create(
            "/v1/rccp/storage_pool/create",
            json!({"name": "web-files", "cluster_id": cluster,
                   "directory": dir.join("files").to_str().unwrap()}),
        )
        .await;
    let bytes = std::fs::read(disk).unwrap();
    let sha: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let q = format!(
        "name=web-guest.qcow2&format=QCOW2&disk_type=SYSTEM&os_name=UBUNTU_64&size={}&sha256={sha}&storage_pool_id={pool}",
        bytes.len()
    );
    let v: Value = api
        .s
        .http
        .post(api.s.url(&format!("/v1/osFile/upload?{q}")))
        .bearer_auth(&api.t)
        .body(bytes)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let file = v["content"]["data"]["id"]
        .as_str()
        .expect("file id")
        .to_string();
    let c = api
        .post(
            "/v1/image/create",
            json!({"image_name": "web-guest", "os_file_id": file, "cpu": 1, "memory": 1,
                   "network_id": network}),
        )
        .await;
    let image = c["data"]["id"].as_str().expect("image id").to_string();
    let task = api
        .wait_task(c["data"]["task_id"].as_str().unwrap(), BOOT_TIMEOUT)
        .await;
    assert_eq!(task["task_status"], "FINISHED", "image build: {task}");
    QemuLab {
        api,
        image,
        strategy,
        network,
    }
}

impl QemuLab {
    /// Creates and starts one desk; returns its id once the guest printed its ready marker.
    async fn running_desk(&self) -> String {
        let c = self
            .api
            .post(
                "/v1/desk/batch/create",
                json!({"desk_info_arr": [{"id": "1", "user_name": "user01", "image_id": self.image,
                        "desk_strategy_id": self.strategy, "network_id": self.network}]}),
            )
            .await;
        let task = self
            .api
            .wait_task(c["data"]["task_id"].as_str().unwrap(), BOOT_TIMEOUT)
            .await;
        assert_eq!(task["task_status"], "FINISHED", "create: {task}");
        let desk = task["task_item_list"][0]["item_biz_data"]["desk_id"]
            .as_str()
            .expect("desk id")
            .to_string();
        let detail = self
            .api
            .send("GET", &format!("/v1/desk/{desk}/detail"), None)
            .await;
        if detail["data"]["desk_state"] != "RUNNING" {
            let c = self
                .api
                .put(&format!("/v1/desk/{desk}:start"), json!({}))
                .await;
            let task = self
                .api
                .wait_task(c["data"]["task_id"].as_str().unwrap(), BOOT_TIMEOUT)
                .await;
            assert_eq!(task["task_status"], "FINISHED", "start: {task}");
        }
        let log = self
            .api
            .s
            .data_dir
            .join("qemu/vms")
            .join(&desk)
            .join("serial.log");
        let end = Instant::now() + BOOT_TIMEOUT;
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("DESKD-GUEST-READY")
        {
            assert!(Instant::now() < end, "{desk} did not boot: {log:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        desk
    }
}
