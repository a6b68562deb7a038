//! deskd-bench-libvirt: how long a desk on a libvirt host takes to boot through deskd, beside
//! `virsh start` of the very same domain, in one run; then a boot storm across two hosts behind
//! the boot-storm guard.
//!
//! Two libvirt "hosts" run in network namespaces (scripts/libvirt-hosts.sh, reached over
//! qemu+tcp); deskd runs in-process with the libvirt driver and TCG domains. The test guest is
//! uploaded and built into an image as a client would; "ready" is the guest's
//! `DESKD-GUEST-READY` line in the domain's serial log. The reference boots the domain deskd
//! defined, with its disks, through `virsh -c URI start`, so both sides differ only by deskd's
//! own work (the HTTP request, the task, the boot guard, the driver's calls); runs alternate.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use clap::Parser;
use deskd_bench::client::Client;
use deskd_bench::desks::{
    act, boot_storm, boot_table, guest_disk, lab, ready, script, serve, wait,
};
use deskd_bench::report::load_average;
use deskd_bench::server::{deskd_config, ServerThread};
use hyper::Method;
use serde_json::json;

/// Measure libvirt desk boots through deskd against `virsh start`.
#[derive(Debug, Parser)]
#[command(name = "deskd-bench-libvirt", version)]
struct Args {
    /// Boots measured on each side (deskd and virsh), alternating.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Desks in the boot storm, spread over the two hosts.
    #[arg(long, default_value_t = 10)]
    storm: usize,
    /// Boot-storm guard: driver starts at once per host during the storm.
    #[arg(long, default_value_t = 2)]
    max_starts_per_host: usize,
    /// The bootable guest disk [default: $TMPDIR/deskd-test-guest/disk.qcow2, built if missing].
    #[arg(long)]
    disk: Option<PathBuf>,
}

const TAG: &str = "lvb";
const NET: &str = "63";
const HOSTS: usize = 2;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.runs > 0 && args.storm > 0,
        "--runs and --storm must be positive"
    );
    let disk = guest_disk(args.disk.clone())?;
    let dir = PathBuf::from(format!(
        "/tmp/dlb{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    std::fs::create_dir_all(&dir)?;
    let hosts = dir.join("hosts");
    let result = match hosts_up(&hosts) {
        Ok(uris) => run(&args, &disk, &dir, &hosts, &uris).await,
        Err(e) => Err(e),
    };
    let _ = Command::new("bash")
        .arg(script("libvirt-hosts.sh"))
        .args(["save-caps", path(&hosts), TAG])
        .status();
    let _ = Command::new("bash")
        .arg(script("libvirt-hosts.sh"))
        .args(["down", path(&hosts), TAG, &HOSTS.to_string()])
        .status();
    let _ = std::fs::remove_dir_all(&dir);
    println!("{}", result?);
    Ok(())
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

fn progress(what: &str) {
    eprintln!("deskd-bench-libvirt: {what}…");
}

/// Starts the hosts; returns their qemu+tcp URIs.
fn hosts_up(dir: &Path) -> anyhow::Result<Vec<String>> {
    progress("two libvirt hosts");
    std::fs::create_dir_all(dir)?;
    let out = Command::new("bash")
        .arg(script("libvirt-hosts.sh"))
        .args(["up", path(dir), TAG, NET, &HOSTS.to_string()])
        .output()?;
    ensure!(
        out.status.success(),
        "libvirt-hosts.sh up: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

async fn run(
    args: &Args,
    disk: &Path,
    dir: &Path,
    hosts: &Path,
    uris: &[String],
) -> anyhow::Result<String> {
    let server = start(dir, args.max_starts_per_host).await?;
    let mut c = Client::new(server.addr());
    c.login().await?;
    let lab = Lab::build(&mut c, dir, hosts, uris, disk, args.storm + 1).await?;
    progress("single boots");
    let single = &lab.desks[0];
    let (h, _) = lab.host_of(&mut c, single).await?;
    let (mut via_deskd, mut via_virsh) = (Vec::new(), Vec::new());
    for _ in 0..args.runs {
        via_deskd.push(lab.boot_via_deskd(&mut c, single, h).await?);
        act(&mut c, single, "powerOff").await?;
        via_virsh.push(lab.boot_via_virsh(single, h).await?);
    }
    progress("boot storm");
    let others = &lab.desks[1..];
    let mut logs = Vec::new();
    let mut per_host = [0usize; HOSTS];
    for d in others {
        let (i, _) = lab.host_of(&mut c, d).await?;
        per_host[i] += 1;
        let log = lab.serial(i, d);
        let _ = std::fs::remove_file(&log);
        logs.push(log);
    }
    let storm = boot_storm(&mut c, others, logs).await?;
    let load = load_average();
    for d in others {
        act(&mut c, d, "powerOff").await?;
    }
    server.stop().await?;
    Ok(report(
        args, &via_deskd, &via_virsh, &storm, &per_host, &load,
    ))
}

/// deskd in-process with the libvirt driver and TCG domains.
async fn start(dir: &Path, max_starts_per_host: usize) -> anyhow::Result<ServerThread> {
    let mut cfg = deskd_config(dir, None);
    // the demo's desktop users own the desks; its simulated desks stay idle
    cfg.demo = true;
    cfg.libvirt_domain_type = "qemu".into();
    cfg.max_starts_per_host = max_starts_per_host;
    serve(cfg).await
}

/// Two libvirt hosts with what desks on them need, and the desks (PERSONAL, user01's).
struct Lab {
    hosts_dir: PathBuf,
    uris: Vec<String>,
    host_ids: Vec<String>,
    desks: Vec<String>,
}

impl Lab {
    async fn build(
        c: &mut Client,
        dir: &Path,
        hosts_dir: &Path,
        uris: &[String],
        disk: &Path,
        desks: usize,
    ) -> anyhow::Result<Lab> {
        progress("cluster, hosts, network, image, desks");
        let bodies: Vec<_> = uris
            .iter()
            .enumerate()
            .map(|(i, uri)| {
                let ip = uri
                    .trim_start_matches("qemu+tcp://")
                    .split('/')
                    .next()
                    .unwrap_or_default();
                json!({"host_name": format!("lv{}", i + 1), "ip": ip, "cpu_cores": 16,
                       "memory": 32, "storage": 500, "driver": "libvirt", "uri": uri})
            })
            .collect();
        let (host_ids, desks) = lab(c, dir, disk, &bodies, desks).await?;
        Ok(Lab {
            hosts_dir: hosts_dir.to_path_buf(),
            uris: uris.to_vec(),
            host_ids,
            desks,
        })
    }

    /// The host (index, URI) a desk was placed on.
    async fn host_of(&self, c: &mut Client, desk: &str) -> anyhow::Result<(usize, String)> {
        let a = c
            .call(Method::GET, &format!("/v1/desk/{desk}/detail"), &json!({}))
            .await?;
        let h = a.data()["host_id"].as_str().unwrap_or_default().to_string();
        let i = self
            .host_ids
            .iter()
            .position(|x| *x == h)
            .with_context(|| format!("desk {desk} on unknown host {h}"))?;
        Ok((i, self.uris[i].clone()))
    }

    fn serial(&self, host: usize, desk: &str) -> PathBuf {
        self.hosts_dir
            .join(format!("h{}/log/qemu/deskd-{desk}.serial.log", host + 1))
    }

    /// One start request through deskd until the marker.
    async fn boot_via_deskd(
        &self,
        c: &mut Client,
        desk: &str,
        h: usize,
    ) -> anyhow::Result<Duration> {
        let log = self.serial(h, desk);
        let _ = std::fs::remove_file(&log);
        let t0 = Instant::now();
        let a = c
            .call(Method::PUT, &format!("/v1/desk/{desk}:start"), &json!({}))
            .await?;
        ensure!(a.ok(), "start: {a}");
        let at = ready(log).await?;
        wait(c, &a).await?;
        Ok(at - t0)
    }

    /// `virsh start` of the same domain until the marker; then `virsh destroy`.
    async fn boot_via_virsh(&self, desk: &str, h: usize) -> anyhow::Result<Duration> {
        let log = self.serial(h, desk);
        let _ = std::fs::remove_file(&log);
        let name = format!("deskd-{desk}");
        let t0 = Instant::now();
        let out = tokio::process::Command::new("virsh")
            .args(["-c", &self.uris[h], "start", &name])
            .output()
            .await?;
        ensure!(
            out.status.success(),
            "virsh start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let at = ready(log).await?;
        let _ = tokio::process::Command::new("virsh")
            .args(["-c", &self.uris[h], "destroy", &name])
            .output()
            .await?;
        Ok(at - t0)
    }
}

fn report(
    args: &Args,
    deskd: &[Duration],
    virsh: &[Duration],
    storm: &[Duration],
    per_host: &[usize],
    load: &str,
) -> String {
    let mut out = String::new();
    out.push_str("## deskd-bench-libvirt (libvirt 2 hosts over qemu+tcp, TCG)\n\n");
    out.push_str(&format!(
        "{} boots per side, alternating; storm of {} desks ({} per host), at most {} starts per host at once; load average after the storm: {load}\n\n",
        args.runs,
        args.storm,
        per_host.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" + "),
        args.max_starts_per_host
    ));
    out.push_str(&boot_table(
        deskd,
        "`virsh start` of the same domain → ready",
        "virsh",
        virsh,
        storm,
    ));
    out
}
