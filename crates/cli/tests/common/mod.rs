//! Boots the real `deskd` binary on an ephemeral port and talks HTTP to it.
#![allow(dead_code, clippy::unwrap_used)] // fixtures: unwrap as the tests do

pub mod console;
pub mod guest;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

/// Milliseconds since the Unix epoch, as the API's timestamps are.
#[allow(unused_imports)] // used by some test files only
pub use deskd_domain::model::now_ms;

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
        self.try_call(method, path, body, token).await.unwrap()
    }

    /// [`Server::call`], or the transport error when no answer came (the server died).
    pub async fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Result<(u16, Value), reqwest::Error> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(m, self.url(path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
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

/// Asserts an error reply: its code, a `message` holding every needle, and a `user_tip`.
#[track_caller]
pub fn assert_err(c: &Value, code: i64, needles: &[&str]) {
    assert_eq!(c["code"], code, "{c}");
    let msg = c["message"].as_str().unwrap_or_default();
    for n in needles {
        assert!(msg.contains(n), "message lacks `{n}`: {c}");
    }
    assert!(
        c["user_tip"].as_str().is_some_and(|s| !s.is_empty()),
        "user_tip: {c}"
    );
}

/// A pagequery filter: `field` equal to one of `values`.
pub fn eq(field: &str, values: Value) -> Value {
    json!({"field_name": field, "match_rule": "EQ", "type": "EXACT", "value_arr": values})
}

/// How long [`Api::wait`] lets a task run.
pub const TASK_LIMIT: Duration = Duration::from_secs(30);

/// A running server and an admin token: the calls every API test makes. A test file adds its
/// own helpers in an `impl Api` block of its own.
pub struct Api {
    pub s: Server,
    pub t: String,
}

impl Api {
    /// Starts a server (see [`Server::start`]) and logs in as admin.
    pub async fn start(db: Db, extra: &[&str]) -> Api {
        Api::with(Server::start(db, extra)).await
    }

    /// Logs in as admin on a server already started.
    pub async fn with(s: Server) -> Api {
        let t = s.admin_token().await;
        Api { s, t }
    }

    /// `method path` with the admin token and `{"content": content}` when given; asserts HTTP
    /// 200 and returns the reply's `content`.
    pub async fn send(&self, method: &str, path: &str, content: Option<Value>) -> Value {
        let body = content.map(|c| json!({ "content": c }));
        let (status, v) = self.s.call(method, path, body, Some(&self.t)).await;
        assert_eq!(status, 200, "{method} {path}: {v}");
        v["content"].clone()
    }

    /// [`Api::send`] with a `content`.
    pub async fn call(&self, method: &str, path: &str, content: Value) -> Value {
        self.send(method, path, Some(content)).await
    }

    pub async fn put(&self, path: &str, content: Value) -> Value {
        self.call("PUT", path, content).await
    }

    pub async fn post(&self, path: &str, content: Value) -> Value {
        self.call("POST", path, content).await
    }

    /// A call that must succeed (code 0); returns its `data`.
    pub async fn ok(&self, method: &str, path: &str, content: Value) -> Value {
        let c = self.call(method, path, content).await;
        assert_eq!(c["code"], 0, "{method} {path}: {c}");
        c["data"].clone()
    }

    /// Creates through `POST path` and returns the new `data.id`.
    pub async fn create(&self, path: &str, content: Value) -> String {
        let d = self.ok("POST", path, content).await;
        d["id"].as_str().expect("id").to_string()
    }

    /// Polls a task until it leaves RUNNING, for at most `limit`; returns its `data`.
    pub async fn wait_task(&self, task_id: &str, limit: Duration) -> Value {
        let end = std::time::Instant::now() + limit;
        let path = format!("/v1/task/{task_id}/detail");
        loop {
            let c = self.send("GET", &path, None).await;
            assert_eq!(c["code"], 0, "{c}");
            if c["data"]["task_status"] != "RUNNING" {
                return c["data"].clone();
            }
            assert!(
                std::time::Instant::now() < end,
                "task {task_id} still RUNNING: {c}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits (up to [`TASK_LIMIT`]) for the task an accepted reply names; returns its `data`.
    pub async fn wait(&self, reply: &Value) -> Value {
        assert_eq!(reply["code"], 0, "{reply}");
        let id = reply["data"]["task_id"].as_str().expect("task_id");
        self.wait_task(id, TASK_LIMIT).await
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

/// Percent-encodes a PromQL expression for a query string.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /api/v1/query?query=…` at now (with `token`, or none on an opened metrics API); the
/// result vector, or the error body.
pub async fn try_instant(
    s: &Server,
    token: Option<&str>,
    query: &str,
) -> Result<Vec<Value>, Value> {
    let q = format!("/api/v1/query?query={}", urlencode(query));
    let (status, v) = s.call("GET", &q, None, token).await;
    if status != 200 {
        return Err(v);
    }
    Ok(v["data"]["result"].as_array().cloned().unwrap_or_default())
}

/// Like [`try_instant`], failing the test on an error.
pub async fn instant(s: &Server, token: Option<&str>, query: &str) -> Vec<Value> {
    try_instant(s, token, query)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// A sample's value as a number.
pub fn sample_value(row: &Value) -> f64 {
    row["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Polls `probe` every 200 ms until it yields a value or `limit` passes (then panics with
/// `what`).
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = std::time::Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(std::time::Instant::now() < end, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What a catalogue query must answer.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    /// At least one sample.
    Some,
    /// At least one sample, each a percentage (0..=100).
    Percent,
    /// At most this many samples.
    AtMost(usize),
    /// Exactly this many samples.
    Exactly(usize),
}

/// The metric catalogue of API.md (d.1): the document's queries, as a dashboard sends them.
pub const CATALOGUE: &[(&str, &str, Expect)] = &[
    ("host CPU %", "max without (compute_cluster_id) ((1 - avg(rate(node_cpu_seconds_total{host_id=~'.*',mode='idle'}[5m])) by (host_id,instance,ip_addr))*100)", Expect::Percent),
    ("host system disk %", "(1- node_filesystem_free_bytes{host_id=~'.*',mountpoint=~'/|/opt',fstype=~'ext4|xfs'} /node_filesystem_size_bytes{host_id=~'.*',mountpoint=~'/|/opt',fstype=~'ext4|xfs'})*100", Expect::Percent),
    ("host clock source", "node_ntp_dispersion_state{host_id=~'.*'}", Expect::Some),
    ("VM memory %", "max without (host_id,instance,ip_addr) (vm_mem_used_bytes{vm_id=~'.*'}/(vm_mem_used_bytes{vm_id=~'.*'}+vm_mem_avai_bytes{vm_id=~'.*'})*100)", Expect::Percent),
    ("top 10 VM memory %", "topk(10, vm_mem_used_bytes{host_id=~'.*',vm_id=~'.*'}/(vm_mem_used_bytes{host_id=~'.*',vm_id=~'.*'}+vm_mem_avai_bytes{host_id=~'.*',vm_id=~'.*'})*100)", Expect::AtMost(10)),
    ("storage capacity", "max without (instance,ip_addr) (pos_cluster_capacity_used{})", Expect::Some),
    ("storage IOPS", "max without (instance,ip_addr) (rate(pos_cluster_reads_completed_total{}[5m]))", Expect::Some),
    ("service status", "max without (host_id,instance,ip_addr,docker_id, docker_addr) (docker_status{docker_name=~'.*'})", Expect::Exactly(4)),
    ("hosts up", "up{host_id=~'.*',job='node'} == 1", Expect::Some),
];

/// Whether `rows` satisfy `expect` (a reason when not).
pub fn check_expect(rows: &[Value], expect: Expect) -> Result<(), String> {
    match expect {
        Expect::Some if rows.is_empty() => Err("no samples".into()),
        Expect::Percent if rows.is_empty() => Err("no samples".into()),
        Expect::Percent => match rows
            .iter()
            .map(sample_value)
            .find(|v| !(0.0..=100.0).contains(v))
        {
            Some(v) => Err(format!("{v} is not a percentage")),
            None => Ok(()),
        },
        Expect::AtMost(n) if rows.len() > n => Err(format!("{} samples > {n}", rows.len())),
        Expect::Exactly(n) if rows.len() != n => Err(format!("{} samples, not {n}", rows.len())),
        _ => Ok(()),
    }
}
