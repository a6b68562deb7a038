//! The QEMU driver against a real qemu-system-x86_64 and the tiny test guest
//! of scripts/build-test-guest.sh. Without QEMU these tests print SKIPPED,
//! unless CI is set: then a missing QEMU or guest fails them.

mod common;

use common::shape;
use deskd_compute::{
    Accel, DiskImage, DriverError, HostSpec, Hypervisor, PowerState, QemuConfig, QemuDriver,
    ShutdownOutcome, VmSpec,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The tests boot real guests on few cores: one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
static GUEST: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

const MARKER: &str = "DESKD-GUEST-READY boot=";
/// Generous: a disk boot through SeaBIOS and syslinux takes 20 to 30 s under
/// TCG on a loaded 2-core machine, and several guests boot at once.
const BOOT_TIMEOUT: Duration = Duration::from_secs(300);

fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The guest directory, built once per cache dir; None means skip.
fn guest() -> Option<PathBuf> {
    let ci = std::env::var_os("CI").is_some();
    if !have("qemu-system-x86_64") || !have("qemu-img") {
        assert!(
            !ci,
            "CI is set but qemu-system-x86_64 / qemu-img are not installed"
        );
        println!("SKIPPED: qemu-system-x86_64 not installed");
        return None;
    }
    let mut cached = GUEST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = cached.as_ref() {
        return Some(dir.clone());
    }
    let dir = std::env::temp_dir().join("deskd-test-guest");
    if !dir.join("disk.qcow2").is_file() {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-test-guest.sh");
        let ok = Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(!ci, "CI is set but the test guest could not be built");
            println!("SKIPPED: the test guest could not be built");
            return None;
        }
    }
    *cached = Some(dir.clone());
    Some(dir)
}

/// A scratch area with an image pool holding the guest as image `tiny` v1.
struct Lab {
    root: PathBuf,
}

impl Lab {
    /// An empty image pool.
    fn bare(name: &str) -> Lab {
        let root = std::env::temp_dir().join(format!("dq-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("lab dir");
        Lab { root }
    }

    /// The pool holds image `tiny` v1: a blank disk and the guest's kernel
    /// beside it (direct kernel boot).
    fn new(name: &str, guest: &Path) -> Lab {
        let lab = Lab::bare(name);
        let img = lab.root.join("images/tiny/1");
        std::fs::create_dir_all(&img).expect("image dir");
        let status = Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2"])
            .arg(img.join("disk.qcow2"))
            .arg("64M")
            .status()
            .expect("qemu-img");
        assert!(status.success());
        let kernel = if guest.join("vmlinux").is_file() {
            "vmlinux"
        } else {
            "vmlinuz"
        };
        for f in [kernel, "initrd.gz"] {
            std::os::unix::fs::symlink(guest.join(f), img.join(f)).expect("symlink");
        }
        lab
    }

    fn config(&self) -> QemuConfig {
        let mut cfg = QemuConfig::new(self.root.join("state"), self.root.join("images"));
        cfg.accel = Accel::Auto;
        cfg
    }

    async fn driver(&self) -> QemuDriver {
        let hv = QemuDriver::open(self.config()).await.expect("open driver");
        hv.add_host(HostSpec {
            host_id: "h1".into(),
            name: "h1".into(),
            driver: deskd_compute::DriverKind::Qemu,
            cpu_cores: 2,
            memory_mb: 4096,
            storage_gb: 100,
            memory_overcommit: 1.0,
            uri: None,
        })
        .await
        .expect("host");
        hv
    }
}

impl Drop for Lab {
    /// Also kills what a failed test left running.
    fn drop(&mut self) {
        for dir in std::fs::read_dir(self.root.join("state"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(pid) = std::fs::read_to_string(dir.path().join("qemu.pid")) {
                let _ = Command::new("kill").args(["-9", pid.trim()]).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn spec(vm_id: &str, recoverable: bool, data_disk_gb: Option<u64>) -> VmSpec {
    spec_of(vm_id, recoverable, data_disk_gb, tiny())
}

fn tiny() -> DiskImage {
    DiskImage {
        image_id: "tiny".into(),
        version: 1,
        size_gb: 1,
    }
}

fn spec_of(vm_id: &str, recoverable: bool, data_disk_gb: Option<u64>, image: DiskImage) -> VmSpec {
    VmSpec {
        vm_id: vm_id.into(),
        name: vm_id.into(),
        host_id: "h1".into(),
        cpu_cores: 1,
        memory_mb: 128,
        system_disk_gb: 1,
        data_disk_gb,
        image,
        recoverable,
        video: Default::default(),
        nic: None,
    }
}

/// Waits for the ready marker in the serial log; returns the boot counter.
async fn ready(hv: &QemuDriver, vm: &str) -> u64 {
    let deadline = Instant::now() + BOOT_TIMEOUT;
    loop {
        let log = std::fs::read(hv.serial_log(vm)).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        if let Some(rest) = log.split(MARKER).nth(1) {
            let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
            return n.parse().expect("boot counter");
        }
        let power = hv.info(vm).await.expect("info").map(|i| i.power);
        assert_eq!(
            power,
            Some(PowerState::Running),
            "{vm} stopped before its marker:\n{log}"
        );
        assert!(Instant::now() < deadline, "{vm}: no ready marker:\n{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn power(hv: &QemuDriver, vm: &str) -> Option<PowerState> {
    hv.info(vm).await.expect("info").map(|i| i.power)
}

/// True while the process exists and is not a zombie waiting for init.
fn pid_alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .next();
    !matches!(state, None | Some("Z" | "X"))
}

async fn start_all(hv: &QemuDriver, ids: &[&str]) -> Vec<u64> {
    let t = Instant::now();
    for id in ids {
        hv.start(id).await.expect("start");
    }
    let mut boots = Vec::new();
    for id in ids {
        boots.push(ready(hv, id).await);
    }
    println!(
        "{} guests ready {:.1} s after the first start",
        ids.len(),
        t.elapsed().as_secs_f64()
    );
    boots
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_desks_keep_their_disk_recoverable_ones_do_not() {
    let _one = SERIAL.lock().await;
    let Some(guest) = guest() else { return };
    let lab = Lab::new("life", &guest);
    let hv = lab.driver().await;
    assert_eq!(hv.kind(), "qemu");
    println!("accel: {}", hv.accel());
    let ids = ["p1", "p2", "r1"];
    hv.define(&spec("p1", false, Some(1)))
        .await
        .expect("define p1");
    hv.define(&spec("p2", false, None))
        .await
        .expect("define p2");
    let r1 = hv.define(&spec("r1", true, None)).await.expect("define r1");
    assert_eq!(r1.power, PowerState::Stopped);

    assert_eq!(start_all(&hv, &ids).await, vec![1, 1, 1]);
    let usage = hv.host_usage().await.expect("usage");
    assert_eq!(
        (usage[0].running_vms, usage[0].memory_allocated_mb),
        (3, 384)
    );
    let stats = hv.vm_stats("p1").await.expect("stats");
    assert!(
        stats.cpu_seconds_total > 0.5 && stats.memory_used_bytes > 50 << 20,
        "{stats:?}"
    );
    assert!(stats.disk_write_ops_total > 0, "{stats:?}");

    vnc_banner(&hv, "r1");
    let pids: Vec<u32> = ids.iter().map(|id| hv.pid(id).expect("pid")).collect();
    for id in ids {
        let t = Instant::now();
        let outcome = hv
            .shutdown(id, Duration::from_secs(30))
            .await
            .expect("shutdown");
        println!(
            "{id}: ACPI shutdown {:?} in {} ms",
            outcome,
            t.elapsed().as_millis()
        );
        assert_eq!(outcome, ShutdownOutcome::Graceful);
        assert_eq!(power(&hv, id).await, Some(PowerState::Stopped));
    }
    assert!(
        pids.iter().all(|p| !pid_alive(*p)),
        "a qemu outlived its shutdown"
    );

    let gen_before = hv
        .info("r1")
        .await
        .expect("info")
        .map(|i| i.disk_generation);
    assert_eq!(
        start_all(&hv, &ids).await,
        vec![2, 2, 1],
        "personal counters grow, recoverable not"
    );
    let gen_after = hv
        .info("r1")
        .await
        .expect("info")
        .map(|i| i.disk_generation);
    assert!(gen_after > gen_before);

    resets(&hv).await;
    let t = Instant::now();
    let forced = hv.shutdown("p2", Duration::ZERO).await.expect("shutdown");
    println!(
        "p2: shutdown without grace {forced:?} in {} ms",
        t.elapsed().as_millis()
    );
    assert_eq!(forced, ShutdownOutcome::Forced);
    assert_eq!(power(&hv, "p2").await, Some(PowerState::Stopped));

    let p1 = hv.pid("p1").expect("pid");
    hv.power_off("p1").await.expect("power off");
    assert_eq!(power(&hv, "p1").await, Some(PowerState::Stopped));
    assert!(!pid_alive(p1));
    hv.power_off("p1").await.expect("power off twice");

    resize_while_stopped(&hv).await;

    for id in ids {
        hv.destroy(id).await.expect("destroy");
        assert_eq!(power(&hv, id).await, None);
    }
    let left: Vec<_> = std::fs::read_dir(lab.root.join("state"))
        .expect("state dir")
        .collect();
    assert!(left.is_empty(), "files left: {left:?}");
    assert!(pids.iter().all(|p| !pid_alive(*p)));
    hv.destroy("p1").await.expect("destroy twice");
}

/// Waits until the serial log of `vm` contains `needle`.
async fn wait_log(hv: &QemuDriver, vm: &str, needle: &str) {
    let deadline = Instant::now() + BOOT_TIMEOUT;
    loop {
        let log = String::from_utf8_lossy(&std::fs::read(hv.serial_log(vm)).unwrap_or_default())
            .into_owned();
        if log.contains(needle) {
            return;
        }
        assert!(Instant::now() < deadline, "{vm}: no {needle:?} in:\n{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A PERSONAL VM reboots in its process and keeps its disk; a RECOVERABLE
/// one gets a new process on a fresh disk.
async fn resets(hv: &QemuDriver) {
    let (p2, r1) = (hv.pid("p2"), hv.pid("r1"));
    let gen = hv
        .info("r1")
        .await
        .expect("info")
        .map(|i| i.disk_generation);
    let t = Instant::now();
    hv.reset("p2").await.expect("reset p2");
    hv.reset("r1").await.expect("reset r1");
    wait_log(hv, "p2", &format!("{MARKER}3")).await;
    assert_eq!(ready(hv, "r1").await, 1);
    println!(
        "reset: both guests ready again after {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(hv.pid("p2"), p2, "personal reset keeps the process");
    assert_ne!(
        hv.pid("r1"),
        r1,
        "recoverable reset relaunches on a fresh overlay"
    );
    let gen_after = hv
        .info("r1")
        .await
        .expect("info")
        .map(|i| i.disk_generation);
    assert!(gen_after > gen);
}

async fn resize_while_stopped(hv: &QemuDriver) {
    let err = hv
        .resize("r1", shape(1, 128, 2, None))
        .await
        .expect_err("r1 runs");
    assert!(matches!(err, DriverError::InvalidState { .. }), "{err}");
    hv.resize("p1", shape(1, 256, 3, Some(2)))
        .await
        .expect("resize");
    let shrink = hv
        .resize("p1", shape(1, 256, 2, Some(2)))
        .await
        .expect_err("shrink");
    assert!(matches!(shrink, DriverError::DiskShrink { .. }), "{shrink}");
    let out = Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(lab_file(hv, "p1", "data.qcow2"))
        .output()
        .expect("qemu-img info");
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(info["virtual-size"], 2u64 << 30);
    let info = hv.info("p1").await.expect("info").expect("p1");
    assert_eq!((info.spec.memory_mb, info.spec.system_disk_gb), (256, 3));
}

/// The VNC unix socket speaks RFB: a console proxy can be put in front of it.
fn vnc_banner(hv: &QemuDriver, vm: &str) {
    use std::io::Read;
    let mut sock = std::os::unix::net::UnixStream::connect(hv.vnc_socket(vm)).expect("vnc socket");
    let mut banner = [0u8; 12];
    sock.read_exact(&mut banner).expect("rfb banner");
    assert_eq!(&banner, b"RFB 003.008\n");
}

fn lab_file(hv: &QemuDriver, vm: &str, name: &str) -> PathBuf {
    hv.serial_log(vm).with_file_name(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_driver_readopts_running_vms_and_sees_crashes() {
    let _one = SERIAL.lock().await;
    let Some(guest) = guest() else { return };
    let lab = Lab::new("adopt", &guest);
    let first = lab.driver().await;
    first
        .define(&spec("v1", false, None))
        .await
        .expect("define");
    first
        .define(&spec("v2", false, None))
        .await
        .expect("define");
    start_all(&first, &["v1", "v2"]).await;
    let (pid1, pid2) = (first.pid("v1").expect("pid"), first.pid("v2").expect("pid"));
    drop(first); // a deskd restart: the QEMU processes keep running

    let t = Instant::now();
    let second = lab.driver().await;
    println!("re-adopted 2 VMs in {} ms", t.elapsed().as_millis());
    assert_eq!(
        second.pid("v1"),
        Some(pid1),
        "same process, not a second one"
    );
    assert_eq!(power(&second, "v1").await, Some(PowerState::Running));
    second.pause("v1").await.expect("pause");
    assert_eq!(power(&second, "v1").await, Some(PowerState::Paused));
    second.resume("v1").await.expect("resume");
    second
        .start("v1")
        .await
        .expect("start of a running VM is a no-op");
    assert_eq!(second.pid("v1"), Some(pid1));
    let outcome = second
        .shutdown("v1", Duration::from_secs(30))
        .await
        .expect("shutdown");
    assert_eq!(outcome, ShutdownOutcome::Graceful);

    // QEMU dies under a running driver: the VM is Crashed with a reason.
    kill9(pid2);
    let deadline = Instant::now() + Duration::from_secs(10);
    while power(&second, "v2").await != Some(PowerState::Crashed) {
        assert!(Instant::now() < deadline, "crash not noticed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let info = second.info("v2").await.expect("info").expect("v2");
    println!("crash reason: {:?}", info.crash_reason);
    assert!(info.crash_reason.is_some());

    // QEMU dies while no driver runs: the next driver reports it.
    second.start("v2").await.expect("restart after crash");
    assert_eq!(ready(&second, "v2").await, 2);
    let pid2 = second.pid("v2").expect("pid");
    drop(second);
    kill9(pid2);
    let third = lab.driver().await;
    assert_eq!(power(&third, "v2").await, Some(PowerState::Crashed));
    orphans_are_killed(&lab, third).await;
}

/// A QEMU in a VM directory without a record belongs to no VM: the next
/// driver kills it.
async fn orphans_are_killed(lab: &Lab, hv: QemuDriver) {
    hv.start("v1").await.expect("start v1");
    let pid = hv.pid("v1").expect("pid");
    drop(hv);
    let dir = lab.root.join("state/v1");
    std::fs::remove_file(dir.join("vm.json")).expect("forget v1");
    let hv = lab.driver().await;
    kill_wait(pid);
    assert!(!pid_alive(pid), "orphan qemu {pid} still runs");
    assert_eq!(power(&hv, "v1").await, None);
    hv.destroy("v2").await.expect("destroy");
    assert!(!lab.root.join("state/v2").exists());
}

fn kill9(pid: u32) {
    let ok = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -9 {pid}");
    kill_wait(pid);
}

/// Waits up to 5 s for a process to be gone.
fn kill_wait(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn uploaded(version: u32) -> DiskImage {
    DiskImage {
        image_id: "uploaded".into(),
        version,
        size_gb: 1,
    }
}

/// The issue's end-to-end path on the driver: the guest's bootable disk is
/// uploaded as an OS file, becomes an image, and desks boot it through
/// SeaBIOS with no kernel beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_bootable_disk_becomes_an_image_desks_boot() {
    let _one = SERIAL.lock().await;
    let Some(guest) = guest() else { return };
    let lab = Lab::bare("import");
    let hv = lab.driver().await;
    let image = uploaded(1);
    refuses_what_is_not_a_disk(&hv, &lab).await;

    let t = Instant::now();
    hv.import_image(&image, &guest.join("disk.qcow2"))
        .await
        .expect("import qcow2");
    println!("import of disk.qcow2: {} ms", t.elapsed().as_millis());
    let version_dir = lab.root.join("images/uploaded/1");
    let files: Vec<String> = std::fs::read_dir(&version_dir)
        .expect("image dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, vec!["disk.qcow2"], "a base, no kernel, no .part");
    hv.import_image(&image, Path::new("/nonexistent"))
        .await
        .expect("an existing base makes import a no-op");
    raw_sources_import_too(&hv, &lab, &guest).await;

    hv.define(&spec_of("up-p", false, Some(1), image.clone()))
        .await
        .expect("define personal");
    hv.define(&spec_of("up-r", true, None, image.clone()))
        .await
        .expect("define recoverable");
    let ids = ["up-p", "up-r"];
    assert_eq!(start_all(&hv, &ids).await, vec![1, 1]);
    let first = guest_stats(&hv, "up-p").await;

    let busy = hv.remove_image(&image).await.expect_err("image in use");
    assert!(
        matches!(&busy, DriverError::Invalid(m) if m.contains("up-")),
        "{busy}"
    );
    for id in ids {
        let outcome = hv
            .shutdown(id, Duration::from_secs(60))
            .await
            .expect("shutdown");
        assert_eq!(outcome, ShutdownOutcome::Graceful, "{id}: ACPI shutdown");
    }
    let stopped = hv.vm_stats("up-p").await.expect("stats");
    assert!(stopped.cpu_seconds_total >= first.cpu_seconds_total);
    assert!(stopped.disk_read_bytes_total >= first.disk_read_bytes_total);

    assert_eq!(
        start_all(&hv, &ids).await,
        vec![2, 1],
        "the PERSONAL boot counter grew, the RECOVERABLE one did not"
    );
    let again = hv.vm_stats("up-p").await.expect("stats");
    assert!(
        again.cpu_seconds_total >= stopped.cpu_seconds_total
            && again.disk_read_bytes_total >= stopped.disk_read_bytes_total
            && again.disk_write_ops_total >= stopped.disk_write_ops_total,
        "counters went down across stop/start: {stopped:?} -> {again:?}"
    );

    for id in ids {
        hv.destroy(id).await.expect("destroy");
    }
    let left: Vec<_> = std::fs::read_dir(lab.root.join("state"))
        .expect("state dir")
        .collect();
    assert!(left.is_empty(), "files left: {left:?}");
    hv.remove_image(&image).await.expect("remove image");
    assert!(!version_dir.exists(), "the base is gone");
    hv.remove_image(&image).await.expect("remove twice");
}

async fn refuses_what_is_not_a_disk(hv: &QemuDriver, lab: &Lab) {
    let text = lab.root.join("notes.txt");
    std::fs::write(
        &text,
        "these are not the sectors you are looking for\n".repeat(40),
    )
    .expect("write");
    // a qcow2 that reads another file, and one larger than the image's 1 GB
    let backed = lab.root.join("backed.qcow2");
    let big = lab.root.join("big.qcow2");
    for args in [
        vec!["create", "-q", "-f", "qcow2", "-F", "raw", "-b"],
        vec!["create", "-q", "-f", "qcow2"],
    ] {
        let mut cmd = Command::new("qemu-img");
        cmd.args(&args);
        if args.contains(&"-b") {
            cmd.arg(&text).arg(&backed).arg("64M");
        } else {
            cmd.arg(&big).arg("2G");
        }
        assert!(cmd.status().is_ok_and(|s| s.success()), "qemu-img {args:?}");
    }
    for source in [text, backed, big, lab.root.join("missing.qcow2")] {
        let err = hv
            .import_image(&uploaded(1), &source)
            .await
            .expect_err("not a disk");
        println!("refused {}: {err}", source.display());
        assert!(matches!(err, DriverError::Invalid(_)), "{err}");
    }
    assert!(!lab.root.join("images/uploaded/1/disk.qcow2").exists());
}

/// A raw upload converts too; an image no VM uses is removed at once.
async fn raw_sources_import_too(hv: &QemuDriver, lab: &Lab, guest: &Path) {
    let raw = lab.root.join("upload.img");
    let ok = Command::new("qemu-img")
        .args(["convert", "-O", "raw"])
        .arg(guest.join("disk.qcow2"))
        .arg(&raw)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "qemu-img convert to raw");
    hv.import_image(&uploaded(2), &raw)
        .await
        .expect("import raw");
    let base = lab.root.join("images/uploaded/2/disk.qcow2");
    let out = Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(&base)
        .output()
        .expect("qemu-img info");
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(info["format"], "qcow2");
    assert_eq!(info["virtual-size"], 64u64 << 20);
    hv.remove_image(&uploaded(2)).await.expect("remove unused");
    assert!(!base.exists());
}

/// Real counters of a booted guest; waits for the guest's balloon driver to
/// report its free memory (then used < total).
async fn guest_stats(hv: &QemuDriver, vm: &str) -> deskd_compute::VmStats {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = hv.vm_stats(vm).await.expect("stats");
        assert!(s.memory_used_bytes <= s.memory_total_bytes, "{s:?}");
        assert_eq!(s.memory_total_bytes, 128 << 20, "{s:?}");
        if s.memory_used_bytes < s.memory_total_bytes {
            println!("{vm} stats: {s:?}");
            assert!(s.cpu_seconds_total > 0.0, "{s:?}");
            assert!(s.disk_read_bytes_total > 0, "{s:?}");
            assert!(s.memory_used_bytes > 0, "{s:?}");
            assert!(s.uptime_seconds > 0.0, "{s:?}");
            assert_eq!((s.net_rx_bytes_total, s.net_tx_bytes_total), (0, 0));
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{vm}: the guest never reported its memory: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `Hypervisor::console` is QEMU's own VNC server: a full RFB 3.8 handshake and one update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_speaks_rfb_from_qemus_display() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _one = SERIAL.lock().await;
    let Some(guest) = guest() else { return };
    let lab = Lab::new("console", &guest);
    let hv = lab.driver().await;
    hv.define(&spec("c1", false, None)).await.expect("define");
    let stopped = hv.console("c1").await.err();
    assert!(
        matches!(
            stopped,
            Some(DriverError::InvalidState { op: "console", .. })
        ),
        "{stopped:?}"
    );
    assert!(matches!(
        hv.console("nope").await.err(),
        Some(DriverError::NotFound(_))
    ));
    hv.start("c1").await.expect("start");

    let mut s = hv.console("c1").await.expect("console");
    let limit = Duration::from_secs(30);
    let mut buf = vec![0u8; 12];
    let read = tokio::time::timeout(limit, s.read_exact(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(_))), "{read:?}");
    assert_eq!(&buf, b"RFB 003.008\n");
    s.write_all(b"RFB 003.008\n").await.expect("version");
    let mut n = [0u8; 1];
    s.read_exact(&mut n).await.expect("security count");
    let mut types = vec![0u8; usize::from(n[0])];
    s.read_exact(&mut types).await.expect("security types");
    assert!(types.contains(&1), "security None offered: {types:?}");
    s.write_all(&[1]).await.expect("choose None");
    let mut result = [0u8; 4];
    s.read_exact(&mut result).await.expect("SecurityResult");
    assert_eq!(result, [0, 0, 0, 0]);
    s.write_all(&[1]).await.expect("ClientInit");
    let mut init = [0u8; 24];
    s.read_exact(&mut init).await.expect("ServerInit");
    let (w, h) = (
        u16::from_be_bytes([init[0], init[1]]),
        u16::from_be_bytes([init[2], init[3]]),
    );
    assert!(w > 0 && h > 0, "{w}x{h}");
    let len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]) as usize;
    let mut name = vec![0u8; len];
    s.read_exact(&mut name).await.expect("name");
    println!("qemu console: {w}x{h} {:?}", String::from_utf8_lossy(&name));
    // one non-incremental update of the top-left pixel, in the server's own format
    s.write_all(&[3, 0, 0, 0, 0, 0, 0, 1, 0, 1])
        .await
        .expect("request");
    let mut head = [0u8; 4];
    let read = tokio::time::timeout(limit, s.read_exact(&mut head)).await;
    assert!(matches!(read, Ok(Ok(_))), "{read:?}");
    assert_eq!(head[0], 0, "FramebufferUpdate");
    drop(s);

    hv.power_off("c1").await.expect("power off");
    assert!(matches!(
        hv.console("c1").await.err(),
        Some(DriverError::InvalidState { .. })
    ));
    hv.destroy("c1").await.expect("destroy");
}
