//! deskd-bench-boot: how long a real desk takes to boot through deskd, beside the same QEMU
//! command line launched by hand, in one run; then a boot storm behind the boot-storm guard.
//!
//! deskd runs in-process with `--qemu` and a QEMU host; the test guest's bootable disk
//! (scripts/build-test-guest.sh) is uploaded as an OS file and built into an image, exactly as a
//! client would do it. "Ready" is the guest's `DESKD-GUEST-READY` line on its serial console.
//! The direct launch reuses the argv deskd gave QEMU (read from /proc), so both sides boot the
//! same guest from the same overlay with the same options; runs alternate to share the noise.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure};
use clap::Parser;
use deskd_bench::client::Client;
use deskd_bench::desks::{act, boot_storm, boot_table, guest_disk, lab, ready, serve, wait};
use deskd_bench::report::load_average;
use deskd_bench::server::{deskd_config, ServerThread};
use deskd_server::config::{Accel, QemuSettings};
use hyper::Method;
use serde_json::json;

/// Measure desk boots through deskd against direct QEMU launches.
#[derive(Debug, Parser)]
#[command(name = "deskd-bench-boot", version)]
struct Args {
    /// Boots measured on each side (deskd and direct), alternating.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Desks in the boot storm.
    #[arg(long, default_value_t = 5)]
    storm: usize,
    /// Boot-storm guard: driver starts at once per host during the storm.
    #[arg(long, default_value_t = 2)]
    max_starts_per_host: usize,
    /// The bootable guest disk [default: $TMPDIR/deskd-test-guest/disk.qcow2, built if missing].
    #[arg(long)]
    disk: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.runs > 0 && args.storm > 0,
        "--runs and --storm must be positive"
    );
    let disk = guest_disk(args.disk.clone())?;
    let dir = PathBuf::from(format!(
        "/tmp/dqb{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    std::fs::create_dir_all(&dir)?;
    let result = run(&args, &disk, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    println!("{}", result?);
    Ok(())
}

async fn run(args: &Args, disk: &Path, dir: &Path) -> anyhow::Result<String> {
    let server = start(dir, args.max_starts_per_host).await?;
    let mut c = Client::new(server.addr());
    c.login().await?;
    let lab = Lab::build(&mut c, dir, disk, args.storm + 1).await?;
    progress("single boots");
    let single = &lab.desks[0];
    let (mut via_deskd, mut direct) = (Vec::new(), Vec::new());
    for _ in 0..args.runs {
        let (t, argv) = boot_via_deskd(&mut c, &lab, single).await?;
        via_deskd.push(t);
        act(&mut c, single, "powerOff").await?;
        direct.push(boot_direct(&lab, single, &argv).await?);
    }
    progress("boot storm");
    let others = &lab.desks[1..];
    let logs = others.iter().map(|d| lab.serial(d)).collect();
    let storm = boot_storm(&mut c, others, logs).await?;
    let load = load_average();
    for d in &lab.desks[1..] {
        act(&mut c, d, "powerOff").await?;
    }
    server.stop().await?;
    Ok(report(args, &via_deskd, &direct, &storm, &load))
}

fn progress(what: &str) {
    eprintln!("deskd-bench-boot: {what}…");
}

/// deskd in-process with the QEMU driver (TCG: KVM cannot boot guests on these machines).
async fn start(dir: &Path, max_starts_per_host: usize) -> anyhow::Result<ServerThread> {
    let mut cfg = deskd_config(dir, None);
    // the demo's desktop users own the desks; its simulated desks stay idle
    cfg.demo = true;
    cfg.qemu = Some(QemuSettings {
        accel: Accel::Tcg,
        ..QemuSettings::default()
    });
    cfg.max_starts_per_host = max_starts_per_host;
    serve(cfg).await
}

/// A QEMU host and what desks on it need, and the desks themselves (all PERSONAL, owned by
/// the demo user `user01`).
struct Lab {
    vms: PathBuf,
    desks: Vec<String>,
}

impl Lab {
    async fn build(c: &mut Client, dir: &Path, disk: &Path, desks: usize) -> anyhow::Result<Lab> {
        progress("cluster, host, network, image, desks");
        let host = json!({"host_name": "this-machine", "ip": "127.0.0.1", "cpu_cores": 16,
                          "memory": 32, "storage": 500, "driver": "qemu"});
        let (_, desks) = lab(c, dir, disk, &[host], desks).await?;
        Ok(Lab {
            vms: dir.join("qemu/vms"),
            desks,
        })
    }

    fn serial(&self, desk: &str) -> PathBuf {
        self.vms.join(desk).join("serial.log")
    }

    fn pid(&self, desk: &str) -> Option<u32> {
        let text = std::fs::read_to_string(self.vms.join(desk).join("qemu.pid")).ok()?;
        text.trim().parse().ok()
    }
}

/// One start request through deskd until the marker; also returns QEMU's argv.
async fn boot_via_deskd(
    c: &mut Client,
    lab: &Lab,
    desk: &str,
) -> anyhow::Result<(Duration, Vec<String>)> {
    // the last (direct) boot's marker must not count: QEMU truncates the log only at launch
    std::fs::write(lab.serial(desk), b"")?;
    let t0 = Instant::now();
    let a = c
        .call(Method::PUT, &format!("/v1/desk/{desk}:start"), &json!({}))
        .await?;
    ensure!(a.ok(), "start: {a}");
    let at = ready(lab.serial(desk)).await?;
    wait(c, &a).await?;
    let pid = lab
        .pid(desk)
        .ok_or_else(|| anyhow!("no pid file for {desk}"))?;
    let raw = std::fs::read(format!("/proc/{pid}/cmdline"))?;
    let argv = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    Ok((at - t0, argv))
}

/// The same QEMU command line started by hand, until the marker; then the process is stopped.
async fn boot_direct(lab: &Lab, desk: &str, argv: &[String]) -> anyhow::Result<Duration> {
    let (program, rest) = argv.split_first().ok_or_else(|| anyhow!("empty argv"))?;
    let log = lab.serial(desk);
    std::fs::write(&log, b"")?;
    let t0 = Instant::now();
    let mut child = tokio::process::Command::new(program).args(rest).spawn()?;
    let at = ready(log).await?;
    // -daemonize: the launcher has exited, the VM runs under the pid file's pid
    let _ = child.wait().await;
    if let Some(pid) = lab.pid(desk) {
        stop_process(pid).await;
    }
    Ok(at - t0)
}

async fn stop_process(pid: u32) {
    let _ = Command::new("kill").arg(pid.to_string()).status();
    for _ in 0..200 {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}

fn report(
    args: &Args,
    deskd: &[Duration],
    direct: &[Duration],
    storm: &[Duration],
    load: &str,
) -> String {
    let mut out = String::new();
    out.push_str("## deskd-bench-boot (QEMU, TCG)\n\n");
    out.push_str(&format!(
        "{} boots per side, alternating; storm of {} desks, at most {} starts per host at once; load average after the storm: {load}\n\n",
        args.runs, args.storm, args.max_starts_per_host
    ));
    out.push_str(&boot_table(
        deskd,
        "same qemu argv launched directly → ready",
        "direct",
        direct,
        storm,
    ));
    out
}
