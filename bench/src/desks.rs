//! The desk calls the boot benchmarks make over HTTP, as a client would: the test guest,
//! creating inventory, uploading the guest as an OS file, batch-creating desks, acting on them
//! and waiting for their tasks and for the guest's ready marker on a serial console.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context};
use bytes::Bytes;
use hyper::Method;
use serde_json::{json, Value};
use sha2::Digest;

use crate::client::{Answer, Client};
use crate::server::{Listening, ServerThread};
use deskd_server::config::ServerConfig;

/// What the test guest prints once booted.
pub const MARKER: &str = "DESKD-GUEST-READY boot=";
/// How long a boot (and any task) may take under TCG.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(300);

/// The guest disk, built by the repository's script when it is missing.
pub fn guest_disk(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(d) = given {
        return Ok(d);
    }
    let dir = std::env::temp_dir().join("deskd-test-guest");
    let disk = dir.join("disk.qcow2");
    if !disk.is_file() {
        let script = script("build-test-guest.sh");
        let ok = Command::new("bash").arg(script).arg(&dir).status()?;
        ensure!(ok.success(), "scripts/build-test-guest.sh failed");
    }
    Ok(disk)
}

/// A script of the repository's `scripts/`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts")
        .join(name)
}

pub async fn create(c: &mut Client, path: &str, body: Value) -> anyhow::Result<String> {
    let a = c
        .call(Method::POST, path, &json!({"content": body}))
        .await?;
    ensure!(a.ok(), "POST {path}: {a}");
    a.data()["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("POST {path} answered no id: {a}"))
}

pub async fn upload(c: &mut Client, disk: &Path, pool: &str) -> anyhow::Result<String> {
    let bytes = std::fs::read(disk).with_context(|| format!("read {}", disk.display()))?;
    let sha: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = format!(
        "/v1/osFile/upload?name=tiny-guest.qcow2&format=QCOW2&disk_type=SYSTEM&os_name=UBUNTU_64&size={}&sha256={sha}&storage_pool_id={pool}",
        bytes.len()
    );
    let a = c.send(Method::POST, &path, Bytes::from(bytes)).await?;
    ensure!(a.ok(), "upload: {a}");
    a.data()["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("upload answered no id: {a}"))
}

/// Polls the task of `submitted` until it ends; an ERROR task is an error.
pub async fn wait(c: &mut Client, submitted: &Answer) -> anyhow::Result<Value> {
    ensure!(submitted.ok(), "{submitted}");
    let id = submitted.data()["task_id"]
        .as_str()
        .ok_or_else(|| anyhow!("no task_id: {submitted}"))?
        .to_string();
    let end = Instant::now() + BOOT_TIMEOUT;
    loop {
        let a = c
            .call(Method::GET, &format!("/v1/task/{id}/detail"), &json!({}))
            .await?;
        let status = a.data()["task_status"].as_str().unwrap_or_default();
        match status {
            "RUNNING" => {}
            "FINISHED" => return Ok(a.data().clone()),
            _ => bail!("task {id} ended {status}: {a}"),
        }
        ensure!(Instant::now() < end, "task {id} still running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn act(c: &mut Client, desk: &str, verb: &str) -> anyhow::Result<()> {
    let a = c
        .call(Method::PUT, &format!("/v1/desk/{desk}:{verb}"), &json!({}))
        .await?;
    wait(c, &a).await.map(drop)
}

/// Waits until the serial log shows the ready marker; returns when it appeared.
pub async fn ready(log: PathBuf) -> anyhow::Result<Instant> {
    let end = Instant::now() + BOOT_TIMEOUT;
    loop {
        if std::fs::read_to_string(&log).is_ok_and(|t| t.contains(MARKER)) {
            return Ok(Instant::now());
        }
        ensure!(Instant::now() < end, "no ready marker in {}", log.display());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Batch-creates `n` PERSONAL desks (`B0`, `B1`, …) for the demo user `user01`; returns their ids.
pub async fn batch_desks(
    c: &mut Client,
    image: &str,
    strategy: &str,
    network: &str,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let items: Vec<Value> = (0..n)
        .map(|i| {
            json!({"id": format!("B{i}"), "user_name": "user01", "image_id": image,
                   "desk_strategy_id": strategy, "network_id": network})
        })
        .collect();
    let body = json!({"content": {"fail_rollback": true, "desk_info_arr": items}});
    let created = c.call(Method::POST, "/v1/desk/batch/create", &body).await?;
    let task = wait(c, &created).await?;
    let desks = task["task_item_list"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["item_biz_data"]["desk_id"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    ensure!(
        desks.len() == n,
        "batch create made {} desks: {task}",
        desks.len()
    );
    Ok(desks)
}

pub fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s[s.len() / 2]
}

pub fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

/// The rows both boot benchmarks print: deskd's start → ready beside `reference` (the same
/// VM started without deskd, named by `reference_row`), their ratio against the 1.1× target,
/// and the boot storm's per-desk and overall times.
pub fn boot_table(
    deskd: &[Duration],
    reference_row: &str,
    reference_name: &str,
    reference: &[Duration],
    storm: &[Duration],
) -> String {
    let ratio = median(deskd).as_secs_f64() / median(reference).as_secs_f64();
    let verdict = if ratio <= 1.1 { "PASS" } else { "MISS" };
    let list = |v: &[Duration]| v.iter().map(|d| secs(*d)).collect::<Vec<_>>().join(", ");
    let total = storm.iter().max().copied().unwrap_or_default();
    let mut out = String::from("| row | median (s) | runs (s) | target |\n|---|---|---|---|\n");
    let mut row = |name: &str, v: &[Duration]| {
        out.push_str(&format!(
            "| {name} | {} | {} | |\n",
            secs(median(v)),
            list(v)
        ));
    };
    row("start request → ready, through deskd", deskd);
    row(reference_row, reference);
    out.push_str(&format!(
        "| ratio deskd / {reference_name} | {ratio:.3}× | | ≤ 1.1× {verdict} |\n"
    ));
    out.push_str(&format!(
        "| boot storm: per-desk request → ready | {} | {} | |\n",
        secs(median(storm)),
        list(storm)
    ));
    out.push_str(&format!(
        "| boot storm: all {} ready | {} | | |\n",
        storm.len(),
        secs(total)
    ));
    out
}

/// Starts every desk at once; returns each desk's time from its request to the ready marker
/// in its serial log (`logs`, in the order of `desks`).
pub async fn boot_storm(
    c: &mut Client,
    desks: &[String],
    logs: Vec<PathBuf>,
) -> anyhow::Result<Vec<Duration>> {
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for d in desks {
        let a = c
            .call(Method::PUT, &format!("/v1/desk/{d}:start"), &json!({}))
            .await?;
        ensure!(a.ok(), "start {d}: {a}");
        tasks.push(a);
    }
    let waits: Vec<_> = logs.into_iter().map(|l| tokio::spawn(ready(l))).collect();
    let mut marks = Vec::with_capacity(waits.len());
    for w in waits {
        marks.push(w.await??);
    }
    for a in &tasks {
        wait(c, a).await?;
    }
    Ok(marks.into_iter().map(|at| at - t0).collect())
}

/// deskd in-process on its own runtime with `cfg` (as a real server, with first start and demo
/// inventory as configured).
pub async fn serve(cfg: ServerConfig) -> anyhow::Result<ServerThread> {
    ServerThread::spawn("deskd", move |stop, ready| async move {
        let parts = deskd_server::assemble(cfg).await.context("assemble")?;
        let shutdown = async move {
            let _ = stop.await;
        };
        deskd_server::serve(parts, shutdown, move |addr| {
            let _ = ready.send(Listening {
                addr,
                notes: Vec::new(),
                reconcile_pass: Duration::ZERO,
                reconcile_cost: Default::default(),
                scrape_cost: Default::default(),
            });
        })
        .await
    })
    .await
}

/// A cluster with `hosts` (host-create bodies without `cluster_id`), a network, a strategy for
/// tiny PERSONAL desks, a storage pool in `dir/files`, an image built from the uploaded `disk`
/// and `desks` desks on it; returns the host ids and the desk ids.
pub async fn lab(
    c: &mut Client,
    dir: &Path,
    disk: &Path,
    hosts: &[Value],
    desks: usize,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let cluster = create(
        c,
        "/v1/rccp/cluster/create",
        json!({"cluster_name": "bench"}),
    )
    .await?;
    let mut host_ids = Vec::new();
    for h in hosts {
        let mut h = h.clone();
        h["cluster_id"] = json!(cluster);
        host_ids.push(create(c, "/v1/rccp/host/create", h).await?);
    }
    let network = create(
        c,
        "/v1/desk_network/create",
        json!({"desk_network_name": "bench-net", "cluster_id": cluster,
               "ip_cidr": "10.78.0.0/24", "gateway": "10.78.0.1", "dns_primary": "10.78.0.53",
               "ip_pool_start": "10.78.0.10", "ip_pool_end": "10.78.0.200"}),
    )
    .await?;
    let strategy = create(
        c,
        "/v1/desk_strategy/create",
        json!({"desk_strategy_name": "tiny", "desk_category": "VDI", "desk_type": "PERSONAL",
               "cpu_cores": 1, "memory": 1, "system_disk": 20}),
    )
    .await?;
    let files = dir.join("files");
    std::fs::create_dir_all(&files)?;
    let pool = create(
        c,
        "/v1/rccp/storage_pool/create",
        json!({"name": "files", "cluster_id": cluster, "directory": files}),
    )
    .await?;
    let file = upload(c, disk, &pool).await?;
    let body = json!({"image_name": "tiny-guest", "os_file_id": file, "cpu": 1, "memory": 1,
                      "network_id": network});
    let built = c
        .call(Method::POST, "/v1/image/create", &json!({"content": body}))
        .await?;
    let image = built.data()["id"].as_str().unwrap_or_default().to_string();
    wait(c, &built).await?;
    let desks = batch_desks(c, &image, &strategy, &network, desks).await?;
    Ok((host_ids, desks))
}
