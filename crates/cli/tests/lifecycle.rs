//! Starting, restarting and stopping the real binary: first-start steps, TLS, graceful
//! shutdown, offline account management, configuration sources and log format.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;

use common::*;
use serde_json::json;

#[tokio::test]
async fn https_with_a_generated_certificate() {
    let s = Server::start_in(fresh_dir(), Db::Sqlite, &["--no-demo"], false);
    assert!(s.base.starts_with("https://"), "{}", s.base);
    assert!(s.data_dir.join("tls/cert.pem").exists());
    let t = s.admin_token().await;
    let (status, b) = s
        .strategies(json!({"content": {"page": 0, "limit": 5}}), Some(&t))
        .await;
    assert_eq!((status, code(&b)), (200, 0));
    assert_eq!(b["content"]["data"]["total"], 0, "--no-demo loads nothing");
}

#[tokio::test]
async fn first_start_generates_a_password_once_and_restart_keeps_everything() {
    let dir = fresh_dir();
    let mut cmd = deskd();
    cmd.args([
        "serve",
        "--http",
        "--listen",
        "127.0.0.1:0",
        "--sim-latency-ms",
        "0",
        "--data-dir",
    ])
    .arg(&dir)
    .env_remove("DESKD_ADMIN_PASSWORD")
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let out = run_until_listening(cmd);
    let line = out
        .iter()
        .find(|l| l.contains("with password: "))
        .expect("password printed on first start");
    let password = line
        .rsplit("with password: ")
        .next()
        .unwrap()
        .trim()
        .to_string();
    assert!(password.len() >= 16);
    assert!(out
        .iter()
        .any(|l| l.starts_with("loaded the demo inventory")));

    // second start on the same directory: no new password, no second demo
    let s = Server::start_in(dir, Db::Sqlite, &[], true);
    assert!(
        !s.stdout
            .iter()
            .any(|l| l.contains("with password") || l.contains("demo inventory")),
        "{:?}",
        s.stdout
    );
    let (status, _) = s.token_for("admin", &password).await;
    assert_eq!(
        status, 200,
        "the generated password still works; DESKD_ADMIN_PASSWORD does not replace it"
    );
    let (status, _) = s.token_for("admin", ADMIN_PASSWORD).await;
    assert_eq!(status, 401);
}

/// Starts a command, collects stdout up to the listening line, then kills it.
fn run_until_listening(mut cmd: std::process::Command) -> Vec<String> {
    use std::io::BufRead;
    let mut child = cmd.spawn().unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = Vec::new();
    for l in lines {
        let l = l.unwrap();
        let done = l.starts_with("deskd listening on");
        out.push(l);
        if done {
            break;
        }
    }
    signal(&child, "TERM");
    assert!(
        wait_timeout(&mut child, std::time::Duration::from_secs(20)).is_some_and(|s| s.success())
    );
    out
}

#[tokio::test]
async fn sigterm_stops_cleanly_after_in_flight_requests() {
    let s = Server::start(Db::Sqlite, &[]);
    let t = s.admin_token().await;
    let client = s.http.clone();
    let url = s.url("/v1/desk_strategy:pagequery");
    let in_flight = tokio::spawn(async move {
        client
            .put(url)
            .bearer_auth(t)
            .json(&json!({"content": {"page": 0, "limit": 5}}))
            .send()
            .await
            .map(|r| r.status())
    });
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let status = s.terminate();
    assert!(status.success(), "exit status {status:?}");
    // the request sent before the signal was answered (or never reached the server)
    if let Ok(Ok(code)) = in_flight.await {
        assert_eq!(code.as_u16(), 200);
    }
}

#[tokio::test]
async fn accounts_are_managed_offline() {
    let dir = fresh_dir();
    assert!(
        Server::start_in(dir.clone(), Db::Sqlite, &["--no-demo"], true)
            .terminate()
            .success()
    );
    let account = |args: &[&str], password: Option<&str>| {
        let mut c = deskd();
        c.arg("account").arg("--data-dir").arg(&dir).args(args);
        if let Some(p) = password {
            c.env("DESKD_ACCOUNT_PASSWORD", p);
        }
        let o = c.output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    assert!(account(&["create", "ops"], Some("0ps-password")).0);
    let (ok, out) = account(&["create", "ops"], Some("0ps-password"));
    assert!(!ok && out.contains("already exists"), "{out}");
    assert!(
        !account(&["create", "short"], Some("1234")).0,
        "password policy"
    );
    let (ok, out) = account(&["list"], None);
    assert!(ok && out.contains("admin") && out.contains("ops"), "{out}");

    let s = Server::start_in(dir.clone(), Db::Sqlite, &[], true);
    let t = s.admin_token().await;
    assert_eq!(s.token_for("ops", "0ps-password").await.0, 200);
    assert!(s.terminate().success());

    assert!(account(&["disable", "ops"], None).0);
    assert!(account(&["passwd", "admin"], Some("n3w-admin-pass")).0);
    assert!(!account(&["disable", "ghost"], None).0);

    let s = Server::start_in(dir, Db::Sqlite, &[], true);
    assert_eq!(s.token_for("ops", "0ps-password").await.0, 401, "disabled");
    assert_eq!(
        s.token_for("admin", ADMIN_PASSWORD).await.0,
        401,
        "old password"
    );
    assert_eq!(s.token_for("admin", "n3w-admin-pass").await.0, 200);
    let (status, _) = s
        .strategies(json!({"content": {"page": 0, "limit": 1}}), Some(&t))
        .await;
    assert_eq!(status, 401, "the password change revoked the old token");
}

#[tokio::test]
async fn settings_come_from_a_toml_file_and_flags_win() {
    let dir = fresh_dir();
    let cfg = dir.join("deskd.toml");
    std::fs::write(&cfg, "no_demo = true\ntoken_ttl_secs = 120\n").unwrap();
    let s = Server::start_in(
        dir.clone(),
        Db::Sqlite,
        &["--config", cfg.to_str().unwrap(), "--token-ttl-secs", "60"],
        true,
    );
    let (_, b) = s.token_for("admin", ADMIN_PASSWORD).await;
    assert_eq!(b["content"]["data"]["expires_in"], 60, "flag beats file");
    let t = b["content"]["data"]["token"].as_str().unwrap().to_string();
    let (_, b) = s
        .strategies(json!({"content": {"page": 0, "limit": 1}}), Some(&t))
        .await;
    assert_eq!(b["content"]["data"]["total"], 0, "no_demo from the file");
    drop(s);

    std::fs::write(&cfg, "no_such_setting = 1\n").unwrap();
    let o = deskd()
        .args(["serve", "--http", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no_such_setting"));
}

#[tokio::test]
async fn json_logs_carry_the_request_id() {
    let dir = fresh_dir();
    let log = std::fs::File::create(dir.join("log.json")).unwrap();
    let mut child = deskd()
        .args([
            "serve",
            "--http",
            "--listen",
            "127.0.0.1:0",
            "--no-demo",
            "--log-format",
            "json",
            "--data-dir",
        ])
        .arg(&dir)
        .env("DESKD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let l = lines.next().unwrap().unwrap();
        if let Some(b) = l.strip_prefix("deskd listening on ") {
            break b.to_string();
        }
    };
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/auth/token"))
        .header("x-request-id", "rid-json-test")
        .json(&json!({"content": {"user_name": "admin", "password": ADMIN_PASSWORD}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    signal(&child, "TERM");
    wait_timeout(&mut child, std::time::Duration::from_secs(20)).unwrap();
    let text = std::fs::read_to_string(dir.join("log.json")).unwrap();
    let mine: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["span"]["request_id"] == "rid-json-test")
        .collect();
    assert!(
        mine.len() >= 2,
        "issued-token and response lines carry the id:\n{text}"
    );
    assert!(
        !text.contains(ADMIN_PASSWORD),
        "no password in any log line"
    );
}

#[tokio::test]
async fn a_second_server_on_the_same_data_directory_is_refused() {
    let s = Server::start(Db::Sqlite, &["--no-demo"]);
    let o = deskd()
        .args(["serve", "--http", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&s.data_dir)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already running"));
}
