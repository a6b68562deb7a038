//! The metrics benchmark, one command:
//! `cargo run --release -p deskd-bench --bin deskd-bench-metrics [-- --series 10000,100000]`
//!
//! Per fleet size (default about 10,000 and 100,000 series of the document's node_* and vm_*
//! shapes plus a request-latency histogram per host, one hour at 15 s): ingest rate, bytes per
//! sample on disk and resident memory per active series; the five catalogue queries of API.md
//! (d.1, range at 60 s steps) and ten dashboard queries (range over 1 h at 15 s steps) as
//! instant and range queries over HTTP, deskd beside Prometheus 2.42 (when `prometheus` and
//! `promtool` are on the PATH) loaded with the same data, measured in the same run.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deskd_metrics::labels::Labels;
use deskd_metrics::promql::{Engine, EngineOptions};
use deskd_metrics::storage::Storage;

const T0: i64 = 1_699_999_980;
const STEPS: i64 = 240;
/// Timed runs per query at 10,000 series (fewer for larger fleets, see `runs_for`).
const RUNS: usize = 15;

/// Ten typical dashboard panels over the same fleet.
const DASHBOARD: [(&str, &str); 10] = [
    ("CPU busy by host", "sum by (host_id) (rate(node_cpu_seconds_total{mode!='idle'}[5m]))"),
    ("CPU by cluster", "sum by (compute_cluster_id) (rate(node_cpu_seconds_total[5m]))"),
    ("top-10 VM CPU", "topk(10, vm_cpu_usage_ratio)"),
    ("p99 latency", "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"),
    ("p90 latency by host", "histogram_quantile(0.9, sum by (le, host_id) (rate(http_request_duration_seconds_bucket[5m])))"),
    ("VM mem ratio by host", "avg by (host_id) (vm_mem_used_bytes / (vm_mem_used_bytes + vm_mem_avai_bytes))"),
    ("busy VMs per host", "count by (host_id) (vm_cpu_usage_ratio > 0.8)"),
    ("disk total", "sum(vm_disk_usage_total)"),
    ("VM CPU peak 15m", "max_over_time(vm_cpu_usage_ratio{host_id='host1'}[15m])"),
    ("request rate", "sum(rate(http_request_duration_seconds_count[5m]))"),
];

/// Upper bounds of the latency histogram's buckets and the share of requests below each.
const BUCKETS: [(&str, f64); 11] = [
    ("0.005", 0.05),
    ("0.01", 0.12),
    ("0.025", 0.3),
    ("0.05", 0.5),
    ("0.1", 0.7),
    ("0.25", 0.85),
    ("0.5", 0.93),
    ("1", 0.97),
    ("2.5", 0.99),
    ("5", 0.997),
    ("+Inf", 1.0),
];

const QUERIES: [(&str, &str); 5] = [
    ("host CPU %", "max without (compute_cluster_id) ((1 - avg(rate(node_cpu_seconds_total{host_id=~'.*',mode='idle'}[5m])) by (host_id,instance,ip_addr))*100)"),
    ("system disk %", "(1- node_filesystem_free_bytes{host_id=~'.*',mountpoint=~'/|/opt',fstype=~'ext4|xfs'} /node_filesystem_size_bytes{host_id=~'.*',mountpoint=~'/|/opt',fstype=~'ext4|xfs'})*100"),
    ("top-10 VM mem %", "topk(10, vm_mem_used_bytes{host_id=~'.*',vm_id=~'.*'}/(vm_mem_used_bytes{host_id=~'.*',vm_id=~'.*'}+vm_mem_avai_bytes{host_id=~'.*',vm_id=~'.*'})*100)"),
    ("VM CPU", "max without (host_id,instance,ip_addr) (vm_cpu_usage_ratio{vm_id=~'.*'})"),
    ("VM mem %", "max without (host_id,instance,ip_addr) (vm_mem_used_bytes{vm_id=~'.*'}/(vm_mem_used_bytes{vm_id=~'.*'}+vm_mem_avai_bytes{vm_id=~'.*'})*100)"),
];

struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rnd(seed: u64) -> f64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x % 10_000) as f64 / 10_000.0
}

/// Kinds of series, for their values.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Gauge,
    Counter,
    /// A latency bucket with the share of requests below its bound.
    Bucket(f64),
}

/// The series of a fleet of about `n`: per host 8 CPUs × 2 modes, 2 filesystems × 2 metrics and
/// a latency histogram (11 buckets, count, sum); 45 VMs per host × 4 metrics.
fn series(n: usize) -> Vec<(Labels, Kind)> {
    let hosts = (n / 213).max(1);
    let mut out = Vec::new();
    for h in 0..hosts {
        let host = format!("host{h}");
        let ip = format!("10.{}.{}.{}", h / 62500, h / 250 % 250, h % 250);
        let inst = format!("{ip}:9100");
        let base = |name: &str| {
            vec![
                ("__name__".to_string(), name.to_string()),
                ("host_id".into(), host.clone()),
                ("instance".into(), inst.clone()),
                ("ip_addr".into(), ip.clone()),
                ("compute_cluster_id".into(), format!("c{}", h % 5)),
                ("job".into(), "node".into()),
            ]
        };
        for cpu in 0..8 {
            for mode in ["idle", "user"] {
                let mut l = base("node_cpu_seconds_total");
                l.push(("cpu".into(), cpu.to_string()));
                l.push(("mode".into(), mode.into()));
                out.push((Labels::new(l), Kind::Counter));
            }
        }
        for (mp, fs) in [("/", "ext4"), ("/opt", "xfs")] {
            for name in ["node_filesystem_free_bytes", "node_filesystem_size_bytes"] {
                let mut l = base(name);
                l.push(("mountpoint".into(), mp.into()));
                l.push(("fstype".into(), fs.into()));
                out.push((Labels::new(l), Kind::Gauge));
            }
        }
        for (le, share) in BUCKETS {
            let mut l = base("http_request_duration_seconds_bucket");
            l.push(("le".into(), le.into()));
            out.push((Labels::new(l), Kind::Bucket(share)));
        }
        out.push((
            Labels::new(base("http_request_duration_seconds_count")),
            Kind::Bucket(1.0),
        ));
        out.push((
            Labels::new(base("http_request_duration_seconds_sum")),
            Kind::Bucket(0.08),
        ));
        for v in 0..45 {
            let vm = h * 45 + v;
            for name in [
                "vm_mem_used_bytes",
                "vm_mem_avai_bytes",
                "vm_cpu_usage_ratio",
                "vm_disk_usage_total",
            ] {
                let ip = ip.clone();
                let l = vec![
                    ("__name__".to_string(), name.to_string()),
                    ("host_id".into(), host.clone()),
                    ("instance".into(), format!("{ip}:9177")),
                    ("ip_addr".into(), ip),
                    ("vm_id".into(), format!("vm-{vm:06}")),
                    ("job".into(), "vm".into()),
                ];
                out.push((Labels::new(l), Kind::Gauge));
            }
        }
    }
    out
}

fn value(i: usize, name: &str, kind: Kind, step: i64) -> f64 {
    let r = rnd(i as u64 * 100_003 + step as u64);
    match kind {
        Kind::Counter => return 1000.0 + step as f64 * 12.0 + (r * 8.0).round() / 4.0,
        // Requests so far (the same for every bucket of a host, so buckets stay cumulative).
        Kind::Bucket(share) => {
            let host = i as u64 / 213;
            let total =
                5000.0 + step as f64 * (50.0 + (rnd(host * 7 + step as u64) * 20.0).round());
            return (total * share).floor();
        }
        Kind::Gauge => {}
    }
    match name {
        "vm_cpu_usage_ratio" => (r * 100.0).round() / 100.0,
        "node_filesystem_size_bytes" => 1.0e11,
        _ => 4.0e9 + (r * 1000.0).round() * 1.0e6,
    }
}

/// The scrape of every series at one step: the ingest load.
fn scrape(series: &[(Labels, Kind)], s: i64) -> Vec<(Labels, i64, f64)> {
    let t = T0 * 1000 + 3333 + s * 15_000;
    series
        .iter()
        .enumerate()
        .map(|(i, (l, k))| (l.clone(), t, value(i, l.name().unwrap_or(""), *k, s)))
        .collect()
}

fn http_get(port: u16, path_and_query: &str) -> (Duration, usize, bool) {
    let start = Instant::now();
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (start.elapsed(), 0, false);
    };
    let req =
        format!("GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let _ = s.write_all(req.as_bytes());
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let ok = buf.starts_with(b"HTTP/1.1 200");
    (start.elapsed(), buf.len(), ok)
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn median(port: u16, path: &str, runs: usize) -> Option<f64> {
    let _ = http_get(port, path); // warm-up
    let mut v = Vec::new();
    for _ in 0..runs {
        let (d, _, ok) = http_get(port, path);
        if !ok {
            return None;
        }
        v.push(d.as_secs_f64() * 1000.0);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

/// A throwaway Prometheus loaded with the same samples, with its process id and data size.
struct Prom {
    _k: Killer,
    port: u16,
    pid: u32,
    dir: std::path::PathBuf,
}

fn start_prometheus(series: &[(Labels, Kind)]) -> Option<Prom> {
    let have = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !have.is_ok_and(|s| s.success()) {
        return None;
    }
    let dir = std::env::temp_dir().join(format!("deskd-metrics-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).ok()?;
    let mut om = std::io::BufWriter::new(std::fs::File::create(dir.join("data.om")).ok()?);
    // OpenMetrics wants each series' samples together.
    for (i, (l, k)) in series.iter().enumerate() {
        for step in 0..STEPS {
            let t = &(T0 * 1000 + 3333 + step * 15_000);
            let v = value(i, l.name().unwrap_or(""), *k, step);
            let pairs: Vec<String> = l
                .iter()
                .filter(|(n, _)| *n != "__name__")
                .map(|(n, v)| format!("{n}=\"{v}\""))
                .collect();
            writeln!(
                om,
                "{}{{{}}} {v} {}.{:03}",
                l.name().unwrap_or(""),
                pairs.join(","),
                t / 1000,
                t % 1000
            )
            .ok()?;
        }
    }
    writeln!(om, "# EOF").ok()?;
    om.flush().ok()?;
    drop(om);
    let t = Instant::now();
    let st = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(dir.join("data.om"))
        .arg(dir.join("tsdb"))
        .stdout(Stdio::null())
        .status()
        .ok()?;
    if !st.success() {
        return None;
    }
    println!(
        "promtool create-blocks-from openmetrics: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_file(dir.join("data.om"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    std::fs::write(
        dir.join("empty.yml"),
        "global: {scrape_interval: 1m}\nscrape_configs: []\n",
    )
    .ok()?;
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", dir.join("empty.yml").display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg("--storage.tsdb.retention.time=100y")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let pid = child.id();
    let k = Killer(child);
    for _ in 0..6000 {
        if http_get(port, "/-/ready").2 {
            return Some(Prom {
                _k: k,
                port,
                pid,
                dir,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Resident memory of a process in bytes (`VmRSS`).
fn rss(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Bytes of the files under `dir`.
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn runs_for(series: usize) -> usize {
    if series > 20_000 {
        5
    } else {
        RUNS
    }
}

fn sizes() -> Vec<usize> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--series")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000])
}

fn main() {
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio: {e}");
            return;
        }
    };
    println!(
        "load average at start: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    for n in sizes() {
        run_fleet(&rt, n);
    }
    println!(
        "load average at end: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
}

fn run_fleet(rt: &tokio::runtime::Runtime, n: usize) {
    let series = series(n);
    let runs = runs_for(series.len());
    println!(
        "\n## {} series, {} samples each (1 h at 15 s), median of {runs} runs",
        series.len(),
        STEPS
    );
    let dir = std::env::temp_dir().join(format!("deskd-metrics-bench-d{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rss_before = rss("self");
    let storage = match Storage::open(&dir, Default::default()) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("open store: {e}");
            return;
        }
    };
    let t = Instant::now();
    for s in 0..STEPS {
        if let Err(e) = storage.append(&scrape(&series, s)) {
            eprintln!("append failed: {e}");
            return;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let st = storage.stats();
    let _ = storage.sync();
    let _ = storage.snapshot();
    let ours_disk = dir_bytes(&dir);
    let ours_rss = rss("self").saturating_sub(rss_before);
    println!(
        "deskd ingest: {} samples in {:.2} s = {:.0} samples/s; {:.2} bytes/sample in chunks",
        st.samples,
        secs,
        st.samples as f64 / secs,
        st.chunk_bytes as f64 / st.samples as f64
    );

    // DESKD_BENCH_LOOP=instant|range: evaluate the queries in a loop without HTTP (for perf).
    if let Ok(kind) = std::env::var("DESKD_BENCH_LOOP") {
        let engine = Engine::new(storage, EngineOptions::default());
        for (name, q) in QUERIES.iter().chain(DASHBOARD.iter()) {
            let t = Instant::now();
            for _ in 0..20 {
                let ok = if kind == "range" {
                    engine
                        .range(q, (T0 + 300) * 1000, (T0 + STEPS * 15) * 1000, 15_000)
                        .is_ok()
                } else {
                    engine.instant(q, (T0 + 3000) * 1000).is_ok()
                };
                if !ok {
                    eprintln!("{name} failed");
                }
            }
            println!(
                "{name}: {:.2} ms",
                t.elapsed().as_secs_f64() * 1000.0 / 20.0
            );
        }
        return;
    }
    let engine = Arc::new(Engine::new(storage, EngineOptions::default()));
    let listener = match rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bind: {e}");
            return;
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let server = rt.spawn(async move {
        let _ = axum::serve(listener, deskd_metrics::http::router(engine)).await;
    });
    let prom = start_prometheus(&series);
    if prom.is_none() {
        println!("prometheus/promtool not on PATH: deskd only");
    }
    let samples = series.len() as f64 * STEPS as f64;
    let at = T0 + 3000;
    let (start, end) = (T0 + 300, T0 + STEPS * 15);
    let (hour_start, hour_end) = (T0 + 3333 / 1000 + 15, T0 + STEPS * 15);
    println!("\n| query | kind | deskd median ms | Prometheus 2.42 median ms | ratio |");
    println!("|---|---|---|---|---|");
    let rows = QUERIES
        .iter()
        .map(|q| (q, start, 60))
        .chain(DASHBOARD.iter().map(|q| (q, hour_start, 15)));
    for ((name, q), from, step) in rows {
        let instant = format!("/api/v1/query?query={}&time={at}", enc(q));
        let to = if step == 15 { hour_end } else { end };
        let range = format!(
            "/api/v1/query_range?query={}&start={from}&end={to}&step={step}",
            enc(q)
        );
        for (kind, path) in [("instant", &instant), ("range", &range)] {
            let ours = median(port, path, runs);
            let theirs = prom.as_ref().and_then(|p| median(p.port, path, runs));
            let fmt = |m: Option<f64>| m.map(|m| format!("{m:.2}")).unwrap_or("failed".into());
            let ratio = match (ours, theirs) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
                _ => "-".into(),
            };
            println!(
                "| {name} | {kind} | {} | {} | {ratio} |",
                fmt(ours),
                fmt(theirs)
            );
        }
    }
    println!("\n| figure | deskd | Prometheus 2.42 |\n|---|---|---|");
    let (p_disk, p_rss) = prom
        .as_ref()
        .map(|p| (dir_bytes(&p.dir.join("tsdb")), rss(&p.pid.to_string())))
        .unwrap_or((0, 0));
    println!(
        "| bytes per sample on disk | {:.2} | {:.2} |",
        ours_disk as f64 / samples,
        p_disk as f64 / samples
    );
    println!(
        "| resident memory per active series (bytes, after the queries) | {:.0} | {:.0} |",
        ours_rss as f64 / series.len() as f64,
        p_rss as f64 / series.len() as f64
    );
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(p) = prom {
        let d = p.dir.clone();
        drop(p);
        let _ = std::fs::remove_dir_all(d);
    }
}
