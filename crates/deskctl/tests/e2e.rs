//! deskctl against a real deskd: the `deskd` binary of the same build (beside `deskctl` in the
//! target directory; `cargo test --workspace` builds both) on an ephemeral port with its
//! self-signed certificate and the demo inventory.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use assert_cmd::assert::Assert;
use serde_json::Value;

const ADMIN_PASSWORD: &str = "Adm1n-secret";

struct Deskd {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Drop for Deskd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_deskctl"))
        .parent()
        .unwrap()
        .to_path_buf()
}

impl Deskd {
    /// `deskd serve` over HTTPS (its generated certificate) on 127.0.0.1:0.
    fn start() -> Deskd {
        let deskd = bin_dir().join("deskd");
        assert!(
            deskd.exists(),
            "{} is missing: build it first (cargo build -p deskd, or cargo test --workspace)",
            deskd.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("deskd.log")).unwrap();
        let mut child = Command::new(deskd)
            .args(["serve", "--listen", "127.0.0.1:0", "--sim-latency-ms", "20"])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("DESKD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| {
                    let log = std::fs::read_to_string(dir.path().join("deskd.log"));
                    panic!("deskd exited before listening: {log:?}")
                })
                .unwrap();
            if let Some(rest) = line.strip_prefix("deskd listening on ") {
                break rest.trim().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Deskd { child, url, dir }
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("data/tls/cert.pem")
    }

    /// `deskctl` with this test's own configuration directory.
    fn ctl(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::new(env!("CARGO_BIN_EXE_deskctl"));
        c.env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env_remove("DESKCTL_PASSWORD")
            .env_remove("DESKCTL_SERVER")
            .env_remove("DESKCTL_PROFILE");
        c
    }

    /// Logs the default profile in as admin, trusting the server's certificate.
    fn login(&self) {
        self.ctl()
            .args(["--server", &self.url, "--ca-file"])
            .arg(self.cert())
            .args(["login", "--user", "admin"])
            .env("DESKCTL_PASSWORD", ADMIN_PASSWORD)
            .assert()
            .success();
    }

    /// Runs deskctl with `args`; returns the assertion to check.
    fn run(&self, args: &[&str]) -> Assert {
        self.ctl().args(args).assert()
    }

    /// `args -o json`, parsed.
    fn json(&self, args: &[&str]) -> Value {
        let out = self.ctl().args(args).args(["-o", "json"]).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn stderr(a: &Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).to_string()
}

fn stdout(a: &Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).to_string()
}

#[test]
fn login_with_a_wrong_then_the_right_password_and_list_as_table_and_json() {
    let d = Deskd::start();
    let wrong = d
        .ctl()
        .args(["--server", &d.url, "--insecure", "login", "--user", "admin"])
        .env("DESKCTL_PASSWORD", "not-the-password")
        .assert()
        .code(1);
    assert!(stderr(&wrong).contains("22000401"), "{}", stderr(&wrong));
    // without a login nothing is listed, and the command says how to log in
    let none = d.run(&["desk", "list"]).code(2);
    assert!(stderr(&none).contains("login"), "{}", stderr(&none));

    d.login();
    let file = d.dir.path().join("config/deskctl/config.toml");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "config file mode");
    let cfg = std::fs::read_to_string(&file).unwrap();
    assert!(
        cfg.contains(&d.url) && cfg.contains("token") && cfg.contains("expire_time"),
        "{cfg}"
    );

    let table = d.run(&["desk", "list"]).success();
    let out = stdout(&table);
    let header = out.lines().next().unwrap();
    assert!(
        header.contains("DESK_NAME") && header.contains("DESK_STATE"),
        "{out}"
    );
    assert!(out.contains("user01_1"), "{out}");

    let desks = d.json(&["desk", "list", "--all"]);
    let arr = desks.as_array().unwrap();
    assert_eq!(arr.len(), 10, "{desks}");
    assert!(arr
        .iter()
        .all(|x| x["desk_name"].is_string() && x["desk_state"].is_string()));

    let running = d.json(&[
        "desk",
        "list",
        "--state",
        "RUNNING",
        "--sort",
        "desk_name:desc",
    ]);
    let names: Vec<&str> = running
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["desk_name"].as_str().unwrap())
        .collect();
    assert!(!names.is_empty());
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted);
    assert!(running
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["desk_state"] == "RUNNING"));

    let yaml = d
        .run(&["desk", "list", "--user", "user05", "-o", "yaml"])
        .success();
    assert!(
        stdout(&yaml).contains("desk_name: user05_1"),
        "{}",
        stdout(&yaml)
    );

    d.run(&["logout"]).success();
    d.run(&["desk", "list"]).code(2);
}

#[test]
fn start_with_wait_by_name_then_a_refused_start() {
    let d = Deskd::start();
    d.login();
    let closed = d.json(&["desk", "list", "--state", "CLOSE", "--all"]);
    let name = closed[0]["desk_name"].as_str().unwrap().to_string();
    let id = closed[0]["desk_id"].as_str().unwrap().to_string();
    let a = d.run(&["desk", "start", &name, "--wait"]).success();
    // piped: plain lines, one per item, no progress bar escape codes
    let out = stdout(&a);
    assert!(out.contains("SUCCESS") && !out.contains('\u{1b}'), "{out}");
    let shown = d.json(&["desk", "show", &id]);
    assert_eq!(shown["desk_state"], "RUNNING", "{shown}");
    assert_eq!(shown["desk_name"], name.as_str());

    let again = d.run(&["desk", "start", &name]).code(1);
    assert!(stderr(&again).contains("23010901"), "{}", stderr(&again));

    let started = d.run(&["desk", "shutdown", &id]).success();
    let task = stdout(&started)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    d.run(&["task", "wait", &task]).success();
    let listed = d.run(&["task", "list"]).success();
    assert!(stdout(&listed).contains(&task), "{}", stdout(&listed));
    d.run(&["desk", "show", "no-such-desk"]).code(2);
}

#[test]
fn csv_batch_reports_each_row_and_a_bad_row_fails_the_command() {
    let d = Deskd::start();
    d.login();
    let strategy = d.json(&["strategy", "list"])[0]["desk_strategy_name"]
        .as_str()
        .unwrap()
        .to_string();
    let network = d.json(&["network", "list"])[0]["desk_network_name"]
        .as_str()
        .unwrap()
        .to_string();
    let image = d.json(&["image", "list"])[0]["image_name"]
        .as_str()
        .unwrap()
        .to_string();
    let csv = d.dir.path().join("school.csv");
    std::fs::write(
        &csv,
        format!(
            "user,image,strategy,network,name\n\
             user11,{image},{strategy},{network},lab-01\n\
             user12,no-such-image,{strategy},{network},lab-02\n\
             user13,{image},{strategy},{network},lab-03\n"
        ),
    )
    .unwrap();
    let a = d
        .run(&[
            "desk",
            "create",
            "--from-csv",
            csv.to_str().unwrap(),
            "--wait",
        ])
        .code(4);
    let err = stderr(&a);
    assert!(
        err.contains("line 3") && err.contains("no-such-image"),
        "{err}"
    );
    let out = stdout(&a);
    assert!(
        out.contains("line-2: SUCCESS") && out.contains("line-4: SUCCESS"),
        "{out}"
    );
    for (user, desk) in [("user11", "lab-01"), ("user13", "lab-03")] {
        let mine = d.json(&["desk", "list", "--user", user]);
        assert!(
            mine.as_array()
                .unwrap()
                .iter()
                .any(|x| x["desk_name"] == desk),
            "{mine}"
        );
    }
    assert_eq!(
        d.json(&["desk", "list", "--user", "user12"])
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // user import: one refused row, the other created
    let users = d.dir.path().join("users.csv");
    std::fs::write(&users, "user_name,group,real_name,password\npupil-1,/school/class-1,Pupil One,Pupil@2026x\n,/school,Nobody,Pupil@2026x\n").unwrap();
    let a = d
        .run(&["user", "import", users.to_str().unwrap(), "--wait"])
        .code(4);
    assert!(stderr(&a).contains("line 3"), "{}", stderr(&a));
    let shown = d.json(&["user", "show", "pupil-1"]);
    assert_eq!(shown["user_name"], "pupil-1", "{shown}");
}

#[test]
fn upload_an_os_file_and_unreachable_server() {
    let d = Deskd::start();
    d.login();
    let file = d.dir.path().join("tiny.iso");
    let bytes: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&file, &bytes).unwrap();
    let pool = d.json(&["pool", "list"])[0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    d.run(&[
        "osfile",
        "upload",
        file.to_str().unwrap(),
        "--pool",
        &pool,
        "--os-name",
        "UBUNTU_64",
    ])
    .success();
    let files = d.json(&["osfile", "list", "--all"]);
    let f = files
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["image_file_name"] == "tiny.iso")
        .unwrap_or_else(|| panic!("{files}"));
    assert_eq!(f["image_file_state"], "AVAILABLE");
    assert_eq!(f["image_file_size"], 3_000_000);
    assert_eq!(f["cbb_image_format"], "ISO");

    // a profile pointing at a port nobody listens on: exit 3
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    d.ctl()
        .args([
            "--profile",
            "gone",
            "--server",
            &format!("https://127.0.0.1:{port}"),
            "login",
            "--user",
            "admin",
        ])
        .env("DESKCTL_PASSWORD", ADMIN_PASSWORD)
        .assert()
        .code(3);
}

#[test]
fn completions_and_man_page_come_from_the_command_definition() {
    let c = assert_cmd::Command::new(env!("CARGO_BIN_EXE_deskctl"))
        .args(["completion", "bash"])
        .assert()
        .success();
    let out = String::from_utf8_lossy(&c.get_output().stdout).to_string();
    assert!(
        out.contains("deskctl") && out.contains("poweroff"),
        "bash completion"
    );
    let m = assert_cmd::Command::new(env!("CARGO_BIN_EXE_deskctl"))
        .arg("man")
        .assert()
        .success();
    let man = String::from_utf8_lossy(&m.get_output().stdout).to_string();
    assert!(
        man.contains(".TH deskctl") && man.contains("Exit codes"),
        "man page"
    );
}
