//! The collectors: what one scrape of the fleet measures, and the state that turns counters into
//! rates and keeps cluster counters monotonic while desks come and go.

use std::collections::{HashMap, HashSet};

use deskd_compute::{HostStats, Hypervisor, PowerState, VmInfo, VmStats};
use deskd_domain::enums::DeskState;
use deskd_domain::model::{now_ms, Host};
use deskd_domain::store::{DeskStore, TaskStore};

/// What the control-plane samples read: desk counts per state and open task items.
pub trait CollectStore: DeskStore + TaskStore {}
impl<T: DeskStore + TaskStore + ?Sized> CollectStore for T {}
use deskd_metrics::labels::Labels;
use deskd_metrics::storage::stale_nan;

use super::exposition::{series_labels, Kind, Scrape};

const GB: f64 = 1024.0 * 1024.0 * 1024.0;
/// Simulated storage latency per completed operation, for `pos_cluster_*_time_seconds_total`.
const SIM_OP_SECONDS: f64 = 0.0005;
/// Most `cpu` series per host (the largest real hosts have this many threads).
const MAX_CPUS: i64 = 256;
/// The port a node exporter answers on, for `instance`.
const NODE_PORT: u16 = 9100;

/// Storage-cluster counters, grown by each VM's I/O since the previous scrape.
#[derive(Debug, Default, Clone, Copy)]
struct Io {
    reads: f64,
    writes: f64,
    read_bytes: f64,
    written_bytes: f64,
}

/// What persists between scrapes.
#[derive(Default)]
pub struct Collector {
    /// Per VM: CPU seconds and the time they were read, for `vm_cpu_usage_ratio`.
    cpu: HashMap<String, (f64, f64)>,
    /// Per VM: its I/O counters at the previous scrape.
    vm_io: HashMap<String, Io>,
    /// Per compute cluster: its storage counters so far.
    cluster_io: HashMap<String, Io>,
    /// deskd's own CPU seconds at the previous scrape.
    own_cpu: Option<(f64, f64)>,
    /// The series of the previous scrape, to mark the vanished ones stale.
    previous: HashSet<Labels>,
    /// Per running VM: the label sets of its series.
    vm_labels: HashMap<String, VmLabels>,
}

/// A VM's label sets and the host they name.
struct VmLabels {
    host_id: String,
    ip: String,
    sets: Vec<Labels>,
}

/// The `vm_*` families of the catalogue, in the order `vm_samples` computes their values.
const VM_FAMILIES: [(&str, Kind, &str); 9] = [
    (
        "vm_cpu_usage_ratio",
        Kind::Gauge,
        "Share of the VM's vCPUs in use (0..1).",
    ),
    (
        "vm_cpu_seconds_total",
        Kind::Counter,
        "CPU time the VM used.",
    ),
    ("vm_mem_used_bytes", Kind::Gauge, "Guest memory in use."),
    ("vm_mem_avai_bytes", Kind::Gauge, "Guest memory available."),
    (
        "vm_disk_reads_completed_total",
        Kind::Counter,
        "Disk reads completed.",
    ),
    (
        "vm_disk_writes_completed_total",
        Kind::Counter,
        "Disk writes completed.",
    ),
    (
        "vm_disk_usage_total",
        Kind::Gauge,
        "Disk bytes allocated to the VM.",
    ),
    (
        "vm_network_receive_bytes_total",
        Kind::Counter,
        "Bytes received.",
    ),
    (
        "vm_network_transmit_bytes_total",
        Kind::Counter,
        "Bytes sent.",
    ),
];

impl Collector {
    /// Scrapes the inventory's `hosts`, every running VM, the clusters and deskd itself.
    pub async fn collect<S: CollectStore + ?Sized>(
        &mut self,
        store: &S,
        driver: &dyn Hypervisor,
        hosts: &[Host],
    ) -> Scrape {
        let mut s = Scrape::new(now_ms());
        // A host with its own exporter is scraped from it (`scrape`), not simulated.
        for h in hosts.iter().filter(|h| h.exporter_url.is_none()) {
            let stats = driver.host_stats(&h.id).await.ok();
            host_samples(&mut s, h, stats.as_ref());
        }
        let vms = driver.list().await.unwrap_or_default();
        let by_id: HashMap<&str, &Host> = hosts.iter().map(|h| (h.id.as_str(), h)).collect();
        let mut running = HashSet::new();
        for vm in vms.iter().filter(|v| v.power == PowerState::Running) {
            let Some(host) = by_id.get(vm.spec.host_id.as_str()) else {
                continue;
            };
            if let Ok(stats) = driver.vm_stats(&vm.spec.vm_id).await {
                self.vm_samples(&mut s, vm, host, &stats);
                running.insert(vm.spec.vm_id.as_str());
            }
        }
        let defined = vms.iter().map(|v| v.spec.vm_id.as_str()).collect();
        self.prune(&running, &defined);
        self.cluster_samples(&mut s, hosts, &vms);
        self.own_samples(&mut s);
        control_plane_samples(&mut s, store).await;
        s
    }

    /// The scrape as samples for the engine, plus a staleness marker for every series of the
    /// previous scrape that is gone.
    pub fn batch(&mut self, s: &Scrape) -> Vec<(Labels, i64, f64)> {
        let mut out: Vec<(Labels, i64, f64)> = s.series().map(|(l, v)| (l, s.at_ms, v)).collect();
        let now: HashSet<Labels> = out.iter().map(|(l, _, _)| l.clone()).collect();
        for gone in self.previous.difference(&now) {
            out.push((gone.clone(), s.at_ms, stale_nan()));
        }
        self.previous = now;
        out
    }

    fn vm_samples(&mut self, s: &mut Scrape, vm: &VmInfo, host: &Host, st: &VmStats) {
        let id = vm.spec.vm_id.as_str();
        let ratio = self.cpu_ratio(id, st, vm.spec.cpu_cores);
        let disk_gb = vm.spec.system_disk_gb + vm.spec.data_disk_gb.unwrap_or(0);
        let values = [
            ratio,
            st.cpu_seconds_total,
            st.memory_used_bytes as f64,
            st.memory_total_bytes.saturating_sub(st.memory_used_bytes) as f64,
            st.disk_read_ops_total as f64,
            st.disk_write_ops_total as f64,
            disk_gb as f64 * GB,
            st.net_rx_bytes_total as f64,
            st.net_tx_bytes_total as f64,
        ];
        let sets = self.vm_label_sets(id, host);
        for ((name, kind, help), (labels, v)) in VM_FAMILIES.iter().zip(sets.iter().zip(values)) {
            s.add_labeled(name, *kind, help, labels.clone(), v);
        }
        self.count_io(&host.cluster_id, id, st);
    }

    /// The label sets of a VM's series, one per [`VM_FAMILIES`] entry: built on its first
    /// scrape and reused while it stays on the same host, since a scrape at fleet scale is
    /// mostly label sets.
    fn vm_label_sets(&mut self, id: &str, host: &Host) -> &[Labels] {
        let stale = self
            .vm_labels
            .get(id)
            .is_none_or(|c| c.host_id != host.id || c.ip != host.ip);
        if stale {
            let instance = format!("{}:{NODE_PORT}", host.ip);
            let base = [
                ("vm_id", id),
                ("host_id", host.id.as_str()),
                ("instance", instance.as_str()),
                ("ip_addr", host.ip.as_str()),
                ("job", "vm"),
            ];
            let sets = VM_FAMILIES
                .iter()
                .map(|(name, _, _)| series_labels(name, &base))
                .collect();
            let cached = VmLabels {
                host_id: host.id.clone().into(),
                ip: host.ip.clone(),
                sets,
            };
            self.vm_labels.insert(id.to_string(), cached);
        }
        self.vm_labels
            .get(id)
            .map(|c| c.sets.as_slice())
            .unwrap_or(&[])
    }

    /// Forgets the label sets and CPU readings of VMs that are not running any more, and the
    /// I/O totals of VMs that are gone (a stopped VM keeps its counters, so its totals stay, or
    /// its next start would count its old I/O again).
    fn prune(&mut self, running: &HashSet<&str>, defined: &HashSet<&str>) {
        self.vm_labels.retain(|id, _| running.contains(id.as_str()));
        self.cpu.retain(|id, _| running.contains(id.as_str()));
        self.vm_io.retain(|id, _| defined.contains(id.as_str()));
    }

    /// CPU use since the previous scrape; on the first, the average since boot.
    fn cpu_ratio(&mut self, id: &str, st: &VmStats, vcpus: u32) -> f64 {
        let vcpus = f64::from(vcpus.max(1));
        let now = now_ms() as f64 / 1e3;
        let ratio = match self.cpu.get(id) {
            Some((cpu, at)) if now > *at && st.cpu_seconds_total >= *cpu => {
                (st.cpu_seconds_total - cpu) / (now - at) / vcpus
            }
            _ if st.uptime_seconds > 0.0 => st.cpu_seconds_total / st.uptime_seconds / vcpus,
            _ => 0.0,
        };
        self.cpu.insert(id.to_string(), (st.cpu_seconds_total, now));
        ratio.clamp(0.0, 1.0)
    }

    /// Adds the VM's I/O since the previous scrape to its cluster (a counter that restarted,
    /// as after a reboot, counts from zero).
    fn count_io(&mut self, cluster: &str, id: &str, st: &VmStats) {
        let now = Io {
            reads: st.disk_read_ops_total as f64,
            writes: st.disk_write_ops_total as f64,
            read_bytes: st.disk_read_bytes_total as f64,
            written_bytes: st.disk_write_bytes_total as f64,
        };
        let before = self.vm_io.insert(id.to_string(), now).unwrap_or_default();
        let delta = |n: f64, b: f64| if n >= b { n - b } else { n };
        let c = self.cluster_io.entry(cluster.to_string()).or_default();
        c.reads += delta(now.reads, before.reads);
        c.writes += delta(now.writes, before.writes);
        c.read_bytes += delta(now.read_bytes, before.read_bytes);
        c.written_bytes += delta(now.written_bytes, before.written_bytes);
    }

    /// `pos_cluster_*` per compute cluster: its storage I/O and the disk capacity of its hosts.
    fn cluster_samples(&mut self, s: &mut Scrape, hosts: &[Host], vms: &[VmInfo]) {
        let mut clusters: Vec<&str> = hosts.iter().map(|h| h.cluster_id.as_str()).collect();
        clusters.sort_unstable();
        clusters.dedup();
        for c in clusters {
            let io = self.cluster_io.get(c).copied().unwrap_or_default();
            let total: i64 = hosts
                .iter()
                .filter(|h| h.cluster_id == c)
                .map(|h| h.storage_gb)
                .sum();
            let host_ids: HashSet<&str> = hosts
                .iter()
                .filter(|h| h.cluster_id == c)
                .map(|h| h.id.as_str())
                .collect();
            let used_gb: u64 = vms
                .iter()
                .filter(|v| host_ids.contains(v.spec.host_id.as_str()))
                .map(|v| v.spec.system_disk_gb + v.spec.data_disk_gb.unwrap_or(0))
                .sum();
            let l = [
                ("cluster_id", c),
                ("instance", "deskd"),
                ("ip_addr", "127.0.0.1"),
                ("job", "storage"),
            ];
            let counters = [
                (
                    "pos_cluster_reads_completed_total",
                    "Reads completed by the storage cluster.",
                    io.reads,
                ),
                (
                    "pos_cluster_writes_completed_total",
                    "Writes completed by the storage cluster.",
                    io.writes,
                ),
                (
                    "pos_cluster_read_bytes_total",
                    "Bytes read from the storage cluster.",
                    io.read_bytes,
                ),
                (
                    "pos_cluster_written_bytes_total",
                    "Bytes written to the storage cluster.",
                    io.written_bytes,
                ),
                (
                    "pos_cluster_reads_time_seconds_total",
                    "Time spent on reads.",
                    io.reads * SIM_OP_SECONDS,
                ),
                (
                    "pos_cluster_writes_time_seconds_total",
                    "Time spent on writes.",
                    io.writes * SIM_OP_SECONDS,
                ),
                (
                    "pos_cluster_cache_l1_hits_total",
                    "Reads served by the first cache level.",
                    io.reads * 0.6,
                ),
                (
                    "pos_cluster_cache_l2_hits_total",
                    "Reads served by the second cache level.",
                    io.reads * 0.3,
                ),
                (
                    "pos_cluster_cache_data_misses_total",
                    "Reads that missed the caches.",
                    io.reads * 0.1,
                ),
            ];
            for (name, help, v) in counters {
                s.add(name, Kind::Counter, help, &l, v);
            }
            s.add(
                "pos_cluster_capacity_used",
                Kind::Gauge,
                "Bytes allocated in the storage cluster.",
                &l,
                used_gb as f64 * GB,
            );
            s.add(
                "pos_cluster_capacity_total",
                Kind::Gauge,
                "Bytes the storage cluster holds.",
                &l,
                total as f64 * GB,
            );
        }
    }

    /// `docker_*` for deskd's own services (one process here) and its `up`.
    fn own_samples(&mut self, s: &mut Scrape) {
        let own = process_figures();
        let now = now_ms() as f64 / 1e3;
        let cpu_rate = match self.own_cpu {
            Some((cpu, at)) if now > at => ((own.cpu_seconds - cpu) / (now - at)).max(0.0),
            _ => 0.0,
        };
        self.own_cpu = Some((own.cpu_seconds, now));
        let mem_limit = own.mem_total_bytes.max(1.0);
        for service in [
            "deskd-api",
            "deskd-tasks",
            "deskd-metrics",
            "deskd-collector",
        ] {
            let l = [
                ("docker_name", service),
                ("docker_id", "deskd"),
                ("docker_addr", "127.0.0.1"),
                ("host_id", "deskd"),
                ("instance", "deskd"),
                ("ip_addr", "127.0.0.1"),
                ("job", "docker"),
            ];
            s.add(
                "docker_status",
                Kind::Gauge,
                "Service state: 0 running (API.md container status).",
                &l,
                0.0,
            );
            s.add(
                "docker_mem_usage",
                Kind::Gauge,
                "Resident memory of the deskd process.",
                &l,
                own.rss_bytes,
            );
            s.add(
                "docker_mem_limit",
                Kind::Gauge,
                "Memory the process may use (the machine's).",
                &l,
                mem_limit,
            );
            s.add(
                "docker_mem_usage_rate",
                Kind::Gauge,
                "Memory use over the limit (0..1).",
                &l,
                own.rss_bytes / mem_limit,
            );
            s.add(
                "docker_cpu_usage_rate",
                Kind::Gauge,
                "CPU seconds per second of the process.",
                &l,
                cpu_rate,
            );
            s.add(
                "docker_net_in",
                Kind::Counter,
                "Bytes received by the machine's interfaces.",
                &l,
                own.net_in,
            );
            s.add(
                "docker_net_out",
                Kind::Counter,
                "Bytes sent by the machine's interfaces.",
                &l,
                own.net_out,
            );
            s.add(
                "docker_block_in",
                Kind::Counter,
                "Bytes the process read from block devices.",
                &l,
                own.block_in,
            );
            s.add(
                "docker_block_out",
                Kind::Counter,
                "Bytes the process wrote to block devices.",
                &l,
                own.block_out,
            );
        }
    }
}

/// deskd's own state: desks per state and unfinished task items, for the fleet alerts.
async fn control_plane_samples<S: CollectStore + ?Sized>(s: &mut Scrape, store: &S) {
    let l = [("instance", "deskd"), ("job", "deskd")];
    match store.desk_state_counts().await {
        Ok(counts) => {
            for st in DeskState::ALL {
                let n = counts.iter().find(|(x, _)| x == st).map_or(0, |c| c.1);
                let mut ls = l.to_vec();
                ls.push(("state", st.as_str()));
                s.add(
                    "deskd_desks",
                    Kind::Gauge,
                    "Desks in each state.",
                    &ls,
                    n as f64,
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "monitoring: cannot count desks"),
    }
    match store.open_task_items().await {
        Ok(n) => s.add(
            "deskd_task_items_open",
            Kind::Gauge,
            "Task items pending or running.",
            &l,
            n as f64,
        ),
        Err(e) => tracing::warn!(error = %e, "monitoring: cannot count task items"),
    }
}

/// `node_*` and `up` of one host; `up` is 0 when the hypervisor did not answer for it.
fn host_samples(s: &mut Scrape, h: &Host, st: Option<&HostStats>) {
    let instance = format!("{}:{NODE_PORT}", h.ip);
    let l = [
        ("host_id", h.id.as_str()),
        ("instance", instance.as_str()),
        ("ip_addr", h.ip.as_str()),
        ("compute_cluster_id", h.cluster_id.as_str()),
        ("job", "node"),
    ];
    s.add(
        "up",
        Kind::Gauge,
        "1 when the target answered its last scrape.",
        &l,
        f64::from(u8::from(st.is_some())),
    );
    let Some(st) = st else {
        return;
    };
    // Per CPU, as node_exporter reports: the catalogue averages the idle rate over CPUs. An
    // inventory may declare more cores than any real host has; the split stops at MAX_CPUS
    // series, which keeps the average right.
    let cpus = h.cpu_cores.clamp(1, MAX_CPUS);
    for cpu in 0..cpus {
        let cpu = cpu.to_string();
        for (mode, secs) in &st.cpu_seconds_by_mode {
            let mut lc = l.to_vec();
            lc.push(("cpu", cpu.as_str()));
            lc.push(("mode", mode.as_str()));
            s.add(
                "node_cpu_seconds_total",
                Kind::Counter,
                "Seconds the CPUs spent in each mode.",
                &lc,
                secs / cpus as f64,
            );
        }
    }
    let mut fs = l.to_vec();
    fs.extend([
        ("mountpoint", "/"),
        ("fstype", "ext4"),
        ("device", "/dev/sda1"),
    ]);
    s.add(
        "node_filesystem_size_bytes",
        Kind::Gauge,
        "File-system size.",
        &fs,
        st.fs_size_bytes as f64,
    );
    s.add(
        "node_filesystem_free_bytes",
        Kind::Gauge,
        "File-system free space.",
        &fs,
        st.fs_avail_bytes as f64,
    );
    s.add(
        "node_filesystem_avail_bytes",
        Kind::Gauge,
        "File-system space available to users.",
        &fs,
        st.fs_avail_bytes as f64,
    );
    s.add(
        "node_memory_MemTotal_bytes",
        Kind::Gauge,
        "Memory of the host.",
        &l,
        st.memory_total_bytes as f64,
    );
    s.add(
        "node_memory_MemAvailable_bytes",
        Kind::Gauge,
        "Memory available.",
        &l,
        st.memory_available_bytes as f64,
    );
    let mut nic = l.to_vec();
    nic.push(("device", "eth0"));
    s.add(
        "node_network_receive_bytes_total",
        Kind::Counter,
        "Bytes received.",
        &nic,
        st.net_rx_bytes_total as f64,
    );
    s.add(
        "node_network_transmit_bytes_total",
        Kind::Counter,
        "Bytes sent.",
        &nic,
        st.net_tx_bytes_total as f64,
    );
    let mut disk = l.to_vec();
    disk.push(("device", "sda"));
    s.add(
        "node_disk_read_bytes_total",
        Kind::Counter,
        "Bytes read from disk.",
        &disk,
        st.disk_read_bytes_total as f64,
    );
    s.add(
        "node_disk_written_bytes_total",
        Kind::Counter,
        "Bytes written to disk.",
        &disk,
        st.disk_written_bytes_total as f64,
    );
    s.add(
        "node_load1",
        Kind::Gauge,
        "One-minute load average.",
        &l,
        st.load1,
    );
    s.add(
        "node_boot_time_seconds",
        Kind::Gauge,
        "Boot time, seconds since the epoch.",
        &l,
        st.boot_time_seconds,
    );
    s.add(
        "node_ntp_dispersion_state",
        Kind::Gauge,
        "Clock source: 0 available, 1 unavailable.",
        &l,
        0.0,
    );
}

/// deskd's own figures from /proc (zeros where /proc is absent).
#[derive(Debug, Default)]
struct Process {
    cpu_seconds: f64,
    rss_bytes: f64,
    mem_total_bytes: f64,
    block_in: f64,
    block_out: f64,
    net_in: f64,
    net_out: f64,
}

fn process_figures() -> Process {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let field = |text: &str, key: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0)
    };
    let stat = read("/proc/self/stat");
    // utime and stime are fields 14 and 15, after the parenthesised command name.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let ticks: Vec<f64> = after
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let cpu_ticks = ticks.get(11).copied().unwrap_or(0.0) + ticks.get(12).copied().unwrap_or(0.0);
    let io = read("/proc/self/io");
    let (net_in, net_out) = net_totals(&read("/proc/net/dev"));
    Process {
        cpu_seconds: cpu_ticks / 100.0,
        rss_bytes: field(&read("/proc/self/status"), "VmRSS:") * 1024.0,
        mem_total_bytes: field(&read("/proc/meminfo"), "MemTotal:") * 1024.0,
        block_in: field(&io, "read_bytes:"),
        block_out: field(&io, "write_bytes:"),
        net_in,
        net_out,
    }
}

/// Received and sent bytes over every interface but loopback.
fn net_totals(dev: &str) -> (f64, f64) {
    dev.lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.trim() != "lo")
        .map(|(_, rest)| {
            let f: Vec<f64> = rest
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (
                f.first().copied().unwrap_or(0.0),
                f.get(8).copied().unwrap_or(0.0),
            )
        })
        .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
}
