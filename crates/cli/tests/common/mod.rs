//! Boots the real `deskd` binary on an ephemeral port and talks HTTP to it.
#![allow(dead_code)]

pub mod console;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

pub const ADMIN_PASSWORD: &str = "Adm1n-secret";

/// Which database a server under test uses.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite inside the data directory.
    Sqlite,
    /// This PostgreSQL URL (a fresh schema).
    Postgres(String),
}

impl Db {
    /// SQLite always; PostgreSQL when reachable (in CI it must be).
    pub async fn all() -> Vec<Db> {
        let mut v = vec![Db::Sqlite];
        if let Some(url) = deskd_store::testing::postgres_url().await {
            v.push(Db::Postgres(url));
        }
        v
    }
}

pub struct Server {
    pub child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    pub db: Db,
    pub http: reqwest::Client,
    pub stdout: Vec<String>,
}

pub fn fresh_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("deskd_it_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The server's log, appended to across restarts of one data directory.
fn log_file(dir: &Path) -> Stdio {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("deskd.log"))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

pub fn deskd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_deskd"))
}

impl Server {
    /// Starts `deskd serve --http` on a fresh data directory.
    pub fn start(db: Db, extra: &[&str]) -> Server {
        Server::start_in(fresh_dir(), db, extra, true)
    }

    /// Starts on `data_dir` (which may hold an earlier run's state).
    pub fn start_in(data_dir: PathBuf, db: Db, extra: &[&str], http: bool) -> Server {
        let mut cmd = deskd();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .args(extra)
            .env("DESKD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("DESKD_LOG", "info,sqlx=warn")
            .stdout(Stdio::piped())
            .stderr(log_file(&data_dir));
        if !extra.contains(&"--sim-latency-ms") {
            cmd.args(["--sim-latency-ms", "0"]);
        }
        if http {
            cmd.arg("--http");
        }
        if let Db::Postgres(url) = &db {
            cmd.args(["--database-url", url]);
        }
        let mut child = cmd.spawn().expect("spawn deskd");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        let base = loop {
            let Some(line) = lines.next() else {
                let log = std::fs::read_to_string(data_dir.join("deskd.log")).unwrap_or_default();
                panic!("deskd exited before listening:\n{log}");
            };
            let line = line.expect("read stdout");
            seen.push(line.clone());
            if let Some(rest) = line.strip_prefix("deskd listening on ") {
                break rest.trim().to_string();
            }
        };
        // keep draining stdout so the child never blocks on a full pipe
        std::thread::spawn(move || for _ in lines {});
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Server {
            child,
            base,
            data_dir,
            db,
            http,
            stdout: seen,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends `method path` with an optional JSON body and token; returns (status, json body).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(m, self.url(path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// `PUT /v1/desk_strategy:pagequery` with `body`.
    pub async fn strategies(&self, body: Value, token: Option<&str>) -> (u16, Value) {
        self.call("PUT", "/v1/desk_strategy:pagequery", Some(body), token)
            .await
    }

    /// The served OpenAPI document.
    pub async fn openapi(&self) -> Value {
        self.http
            .get(self.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Sends raw bytes.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        body: impl Into<reqwest::Body>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(m, self.url(path)).body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn token_for(&self, user: &str, password: &str) -> (u16, Value) {
        self.call(
            "POST",
            "/v1/auth/token",
            Some(json!({"content": {"user_name": user, "password": password}})),
            None,
        )
        .await
    }

    pub async fn admin_token(&self) -> String {
        let (status, body) = self.token_for("admin", ADMIN_PASSWORD).await;
        assert_eq!(status, 200, "{body}");
        body["content"]["data"]["token"]
            .as_str()
            .expect("token")
            .to_string()
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        signal(&self.child, "TERM");
        let status = wait_timeout(&mut self.child, Duration::from_secs(20))
            .expect("deskd did not stop after SIGTERM");
        std::mem::forget(self);
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// The data directory's SQLite URL, to inspect or seed the database from a test.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("deskd.db").display())
}

/// `{"content":{"code":…}}`.
pub fn code(v: &Value) -> i64 {
    v["content"]["code"].as_i64().unwrap_or(-1)
}
