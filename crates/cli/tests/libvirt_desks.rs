//! Real desktops on many hosts (issue 18): two libvirt "hosts" (a libvirtd each, in network
//! namespaces this test creates with scripts/libvirt-hosts.sh, reached over qemu+tcp at the
//! namespaces' addresses only) run the test guest for a deskd driven only over HTTP — OS-file
//! upload, image build (uploaded into both hosts' pools), a batch of desks spread over both
//! hosts, start, the address deskd allocated seen inside the guest through the libvirt
//! network's DHCP, ACPI shutdown, boot counters of PERSONAL and RECOVERABLE desks, the console's
//! RFB through the websocket, vm_* metrics from libvirt's domain stats, delete leaving no domain
//! and no volume — and keeps its desks across a SIGKILL. Without root or libvirt these tests
//! print SKIPPED, unless CI is set: then they fail.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::guest::{guest_disk, guest_ip, have, ready, skip, Lab};
use common::*;
use serde_json::json;

/// The guests boot under TCG on two cores: one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const FLAGS: &[&str] = &[
    "--libvirt-domain-type",
    "qemu",
    "--scrape-interval-secs",
    "1",
    "--desk-shutdown-timeout-secs",
    "60",
];

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/libvirt-hosts.sh")
}

/// libvirt hosts in network namespaces; stopped and removed on drop.
struct Hosts {
    dir: PathBuf,
    tag: String,
    uris: Vec<String>,
}

impl Hosts {
    /// `n` hosts on 10.213.`net`.0/24 named `tag`; None (SKIPPED) without root or libvirt.
    fn up(tag: &str, net: u8, n: usize) -> Option<Hosts> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return skip("libvirt hosts in network namespaces need root");
        }
        if !have("libvirtd") || !have("virsh") || !Path::new("/usr/sbin/dnsmasq").exists() {
            return skip("libvirt is not installed (scripts/install-libvirt.sh)");
        }
        let dir = PathBuf::from(format!("/tmp/dl{tag}"));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("bash")
            .arg(script())
            .args([
                "up",
                dir.to_str().unwrap(),
                tag,
                &net.to_string(),
                &n.to_string(),
            ])
            .output()
            .unwrap();
        let hosts = Hosts {
            dir,
            tag: tag.into(),
            uris: String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_string)
                .collect(),
        };
        assert!(
            out.status.success() && hosts.uris.len() == n,
            "libvirt-hosts.sh up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(hosts)
    }

    /// The host-create bodies of these hosts.
    fn bodies(&self) -> Vec<serde_json::Value> {
        self.uris
            .iter()
            .enumerate()
            .map(|(i, uri)| {
                json!({"host_name": format!("lv{}", i + 1), "ip": uri_addr(uri), "cpu_cores": 8,
                       "memory": 16, "storage": 200, "driver": "libvirt", "uri": uri})
            })
            .collect()
    }

    /// The serial log of a desk's domain on host `i` (0-based), as the host's QEMU writes it.
    fn serial_log(&self, i: usize, desk: &str) -> PathBuf {
        self.dir
            .join(format!("h{}/log/qemu/deskd-{desk}.serial.log", i + 1))
    }

    fn virsh(&self, i: usize, args: &[&str]) -> String {
        let out = Command::new("virsh")
            .args(["-c", &self.uris[i]])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Names of the host's domains, all of them or only the running ones.
    fn domains(&self, i: usize, all: bool) -> Vec<String> {
        let flag = if all { "--all" } else { "--state-running" };
        self.virsh(i, &["list", "--name", flag])
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()
    }

    fn volumes(&self, i: usize) -> String {
        self.virsh(i, &["vol-list", "deskd"])
    }

    /// Restarts host `i`'s libvirtd: deskd's connection to it drops, its guests keep running.
    fn restart(&self, i: usize) {
        let out = Command::new("bash")
            .arg(script())
            .args(["restart", self.dir.to_str().unwrap(), &self.tag])
            .arg((i + 1).to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "libvirt-hosts.sh restart: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn dom_id(&self, i: usize, desk: &str) -> String {
        self.virsh(i, &["domid", &format!("deskd-{desk}")])
            .trim()
            .to_string()
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        // keep the QEMU capability probe for the next hosts
        let _ = Command::new("bash")
            .arg(script())
            .args([
                "save-caps",
                self.dir.to_str().unwrap_or_default(),
                &self.tag,
            ])
            .status();
        let _ = Command::new("bash")
            .arg(script())
            .args(["down", self.dir.to_str().unwrap_or_default(), &self.tag])
            .arg(self.uris.len().max(2).to_string())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn uri_addr(uri: &str) -> String {
    uri.trim_start_matches("qemu+tcp://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

async fn lab(hosts: &Hosts, disk: &Path, dir: Option<PathBuf>) -> Lab {
    let s = match dir {
        Some(d) => Server::start_in(d, Db::Sqlite, FLAGS, true),
        None => Server::start(Db::Sqlite, FLAGS),
    };
    Lab::start(Api::with(s).await, &hosts.bodies(), disk).await
}

/// Waits (at most a minute, far below the hour-long reconcile interval of the events test)
/// until the desk reads `want`.
async fn wait_state(lab: &Lab, desk: &str, want: &str) {
    let end = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let now = lab.state(desk).await;
        if now == want {
            return;
        }
        assert!(
            std::time::Instant::now() < end,
            "desk {desk} stays {now}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Which of the lab's hosts (0-based) a desk was placed on.
async fn host_of(lab: &Lab, desk: &str) -> usize {
    let h = lab.detail(desk).await["host_id"]
        .as_str()
        .unwrap()
        .to_string();
    lab.hosts.iter().position(|x| *x == h).unwrap()
}

#[tokio::test]
async fn desks_spread_over_two_libvirt_hosts_with_their_own_addresses() {
    let Some(disk) = guest_disk() else { return };
    let _one = SERIAL.lock().await;
    let Some(hosts) = Hosts::up("lve", 61, 2) else {
        return;
    };
    let lab = lab(&hosts, &disk, None).await;
    // the image build uploaded the base into both hosts' pools
    for i in 0..2 {
        assert!(
            hosts.volumes(i).contains("base-"),
            "host {i}: {}",
            hosts.volumes(i)
        );
    }
    let desks = lab
        .create_desks(&[
            ("P1", "PERSONAL"),
            ("P2", "PERSONAL"),
            ("R1", "RECOVERABLE"),
            ("R2", "RECOVERABLE"),
        ])
        .await;
    let mut on = Vec::new();
    for d in &desks {
        assert_eq!(lab.state(d).await, "CLOSE");
        let h = host_of(&lab, d).await;
        assert!(hosts.domains(h, true).contains(&format!("deskd-{d}")));
        on.push(h);
    }
    assert!(
        on.contains(&0) && on.contains(&1),
        "spread over both hosts: {on:?}"
    );

    for round in 1..=2u64 {
        for (d, h) in desks.iter().zip(&on) {
            let _ = std::fs::remove_file(hosts.serial_log(*h, d));
            lab.act(d, "start").await;
        }
        for (i, (d, h)) in desks.iter().zip(&on).enumerate() {
            assert_eq!(lab.state(d).await, "RUNNING");
            let log = hosts.serial_log(*h, d);
            let expect = if i < 2 { round } else { 1 };
            assert_eq!(ready(&log).await, expect, "round {round}, desk {i}");
            // the address deskd allocated is the one the guest got from the host's DHCP
            let ip = lab.detail(d).await["ip"].as_str().unwrap().to_string();
            assert_eq!(guest_ip(&log).await, ip, "desk {i}");
        }
        if round == 1 {
            let q = |m: &str| format!("{m}{{vm_id=\"{}\"}}", desks[0]);
            lab.positive(&q("vm_cpu_seconds_total")).await;
            lab.positive(&q("vm_network_receive_bytes_total")).await;
            lab.positive(&q("vm_disk_reads_completed_total")).await;
            // the domain's VNC display on its remote host, through the console endpoint
            lab.console_works(&desks[0]).await;
            lab.console_works(&desks[3]).await;
        }
        for (d, h) in desks.iter().zip(&on) {
            lab.act(d, "shutdown").await;
            assert_eq!(lab.state(d).await, "CLOSE");
            assert!(!hosts.domains(*h, false).contains(&format!("deskd-{d}")));
        }
    }

    lab.delete_desks(&desks).await;
    for i in 0..2 {
        assert!(hosts.domains(i, true).is_empty(), "host {i}: domains left");
        let vols = hosts.volumes(i);
        for d in &desks {
            assert!(
                !vols.contains(d.as_str()),
                "host {i}: volumes of {d} left:\n{vols}"
            );
        }
    }
}

#[tokio::test]
async fn libvirt_desks_keep_running_across_a_sigkill_of_deskd() {
    let Some(disk) = guest_disk() else { return };
    let _one = SERIAL.lock().await;
    let Some(hosts) = Hosts::up("lvk", 62, 1) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("deskd-lvk-{}", uuid::Uuid::new_v4()));
    let lab = lab(&hosts, &disk, Some(dir.clone())).await;
    let desks = lab.create_desks(&[("K1", "PERSONAL")]).await;
    let d = &desks[0];
    lab.act(d, "start").await;
    assert_eq!(ready(&hosts.serial_log(0, d)).await, 1);
    let before = hosts.dom_id(0, d);
    assert!(!before.is_empty() && before != "-", "running: {before}");

    let Lab {
        api: Api { s, .. },
        hosts: host_ids,
        image,
        strategy,
        network,
    } = lab;
    signal(&s.child, "KILL");
    drop(s);

    let lab = Lab {
        api: Api::with(Server::start_in(dir, Db::Sqlite, FLAGS, true)).await,
        hosts: host_ids,
        image,
        strategy,
        network,
    };
    assert_eq!(lab.state(d).await, "RUNNING");
    // a reconcile pass must not disturb the adopted domain
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(hosts.dom_id(0, d), before, "re-adopted, not restarted");
    lab.act(d, "shutdown").await;
    assert_eq!(lab.state(d).await, "CLOSE");
    let _ = std::fs::remove_file(hosts.serial_log(0, d));
    lab.act(d, "start").await;
    assert_eq!(
        ready(&hosts.serial_log(0, d)).await,
        2,
        "the personal disk survived"
    );
    lab.act(d, "powerOff").await;
    assert!(hosts.domains(0, false).is_empty());
    lab.delete_desks(&desks).await;
}

/// A QXL desk (every desk's `vgpu_type` by default) has a SPICE display beside VNC: in its
/// domain XML, in its console ticket with a password, and answering SPICE's link handshake at
/// the address the ticket gives (the host's spice_listen, reached like a client would).
async fn spice_works(lab: &Lab, hosts: &Hosts, desk: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let xml = hosts.virsh(0, &["dumpxml", &format!("deskd-{desk}")]);
    assert!(xml.contains("<graphics type='spice'"), "{xml}");
    assert!(xml.contains("<graphics type='vnc'"), "{xml}");
    let c = lab
        .call("PUT", &format!("/v1/desk/{desk}/console"), json!({}))
        .await;
    assert_eq!(c["code"], 0, "console ticket: {c}");
    assert_eq!(c["data"]["protocol"], "vnc", "{c}");
    let spice = &c["data"]["spice"];
    assert_eq!(spice["protocol"], "spice", "{c}");
    assert!(spice["password"].as_str().unwrap().len() >= 16, "{c}");
    let host = spice["host"].as_str().unwrap();
    let port = u16::try_from(spice["port"].as_u64().unwrap()).unwrap();
    let mut s = tokio::net::TcpStream::connect((host, port)).await.unwrap();
    // SpiceLinkHeader (magic, version 2.2, size) + SpiceLinkMess for the main channel
    let mut link = b"REDQ".to_vec();
    for v in [2u32, 2, 18, 0] {
        link.extend_from_slice(&v.to_le_bytes());
    }
    link.extend_from_slice(&[1, 0]);
    for v in [0u32, 0, 18] {
        link.extend_from_slice(&v.to_le_bytes());
    }
    s.write_all(&link).await.unwrap();
    let mut reply = [0u8; 20];
    s.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply[..4], b"REDQ", "a SPICE server answers: {reply:?}");
    assert_eq!(reply[4..8], 2u32.to_le_bytes(), "protocol 2");
    assert_eq!(reply[16..20], 0u32.to_le_bytes(), "SPICE_LINK_ERR_OK");
}

/// Desk states follow libvirt's lifecycle events. The reconcile interval is an hour, so only
/// an event can move a desk whose guest was powered off outside deskd: here by the guest itself
/// (ACPI sent with virsh, the guest's acpid powers off) and by `virsh destroy` after libvirtd
/// restarted under deskd (the connection drops; deskd reconnects and subscribes again).
#[tokio::test]
async fn desk_states_follow_libvirt_events_across_a_libvirtd_restart() {
    let Some(disk) = guest_disk() else { return };
    let _one = SERIAL.lock().await;
    let Some(hosts) = Hosts::up("lvv", 63, 1) else {
        return;
    };
    let flags = [FLAGS, &["--reconcile-interval-secs", "3600"]].concat();
    let api = Api::with(Server::start(Db::Sqlite, &flags)).await;
    let lab = Lab::start(api, &hosts.bodies(), &disk).await;
    let desks = lab.create_desks(&[("V1", "PERSONAL")]).await;
    let (d, dom) = (&desks[0], format!("deskd-{}", desks[0]));
    let log = hosts.serial_log(0, d);

    lab.act(d, "start").await;
    assert_eq!(ready(&log).await, 1);
    spice_works(&lab, &hosts, d).await;
    hosts.virsh(0, &["shutdown", &dom]);
    wait_state(&lab, d, "CLOSE").await;
    assert!(hosts.domains(0, false).is_empty(), "the guest powered off");

    hosts.restart(0);
    let _ = std::fs::remove_file(&log);
    lab.act(d, "start").await;
    assert_eq!(ready(&log).await, 2);
    hosts.virsh(0, &["destroy", &dom]);
    wait_state(&lab, d, "CLOSE").await;
    lab.delete_desks(&desks).await;
}
