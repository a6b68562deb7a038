//! The metrics benchmark, one command:
//! `cargo run --release -p deskd-bench --bin deskd-bench-metrics`
//!
//! 10,000 series of the document's node_* and vm_* shapes, one hour at 15 s; ingest rate and
//! bytes per sample; the five catalogue queries of API.md (d.1) as instant and as range
//! (step 60 s) queries over HTTP, deskd beside Prometheus 2.42 (when `prometheus` and
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
const RUNS: usize = 15;

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

/// The series: 50 hosts × (8 CPUs × 2 modes + 2 filesystems × 2 metrics) = 1,000 node series and
/// 2,250 VMs × 4 metrics = 9,000 vm series.
fn series() -> Vec<(Labels, bool)> {
    let mut out = Vec::new();
    for h in 0..50 {
        let host = format!("host{h}");
        let ip = format!("10.0.{}.{}", h / 250, h % 250);
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
                out.push((Labels::new(l), true));
            }
        }
        for (mp, fs) in [("/", "ext4"), ("/opt", "xfs")] {
            for name in ["node_filesystem_free_bytes", "node_filesystem_size_bytes"] {
                let mut l = base(name);
                l.push(("mountpoint".into(), mp.into()));
                l.push(("fstype".into(), fs.into()));
                out.push((Labels::new(l), false));
            }
        }
    }
    for v in 0..2250 {
        let h = v % 50;
        for name in [
            "vm_mem_used_bytes",
            "vm_mem_avai_bytes",
            "vm_cpu_usage_ratio",
            "vm_disk_usage_total",
        ] {
            let ip = format!("10.0.0.{h}");
            let l = vec![
                ("__name__".to_string(), name.to_string()),
                ("host_id".into(), format!("host{h}")),
                ("instance".into(), format!("{ip}:9177")),
                ("ip_addr".into(), ip),
                ("vm_id".into(), format!("vm-{v:05}")),
                ("job".into(), "vm".into()),
            ];
            out.push((Labels::new(l), false));
        }
    }
    out
}

fn value(i: usize, name: &str, counter: bool, step: i64) -> f64 {
    let r = rnd(i as u64 * 100_003 + step as u64);
    if counter {
        return 1000.0 + step as f64 * 12.0 + (r * 8.0).round() / 4.0;
    }
    match name {
        "vm_cpu_usage_ratio" => (r * 100.0).round() / 100.0,
        "node_filesystem_size_bytes" => 1.0e11,
        _ => 4.0e9 + (r * 1000.0).round() * 1.0e6,
    }
}

/// A scrape of every series at each step: the ingest load.
fn batches(series: &[(Labels, bool)]) -> Vec<Vec<(Labels, i64, f64)>> {
    (0..STEPS)
        .map(|s| {
            let t = T0 * 1000 + 3333 + s * 15_000;
            series
                .iter()
                .enumerate()
                .map(|(i, (l, c))| (l.clone(), t, value(i, l.name().unwrap_or(""), *c, s)))
                .collect()
        })
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

fn median(port: u16, path: &str) -> Option<f64> {
    let _ = http_get(port, path); // warm-up
    let mut v = Vec::new();
    for _ in 0..RUNS {
        let (d, _, ok) = http_get(port, path);
        if !ok {
            return None;
        }
        v.push(d.as_secs_f64() * 1000.0);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

fn start_prometheus(
    batches: &[Vec<(Labels, i64, f64)>],
) -> Option<(Killer, u16, std::path::PathBuf)> {
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
    for i in 0..batches[0].len() {
        for b in batches {
            let (l, t, v) = &b[i];
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
    let k = Killer(child);
    for _ in 0..600 {
        if http_get(port, "/-/ready").2 {
            return Some((k, port, dir));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn main() {
    let series = series();
    println!(
        "{} series, {} samples each (1 h at 15 s)",
        series.len(),
        STEPS
    );
    let batches = batches(&series);
    let storage = Arc::new(Storage::default());
    let t = Instant::now();
    for b in &batches {
        if let Err(e) = storage.append(b) {
            eprintln!("append failed: {e}");
            return;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let st = storage.stats();
    println!(
        "ingest: {} samples in {:.2} s = {:.0} samples/s; {:.2} bytes/sample in chunks",
        st.samples,
        secs,
        st.samples as f64 / secs,
        st.chunk_bytes as f64 / st.samples as f64
    );

    // DESKD_BENCH_LOOP=instant|range: evaluate the queries in a loop without HTTP (for perf).
    if let Ok(kind) = std::env::var("DESKD_BENCH_LOOP") {
        let engine = Engine::new(storage, EngineOptions::default());
        for (name, q) in QUERIES {
            let t = Instant::now();
            for _ in 0..20 {
                let ok = if kind == "range" {
                    engine
                        .range(q, (T0 + 300) * 1000, (T0 + STEPS * 15) * 1000, 60_000)
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
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio: {e}");
            return;
        }
    };
    let engine = Arc::new(Engine::new(storage, EngineOptions::default()));
    let listener = match rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bind: {e}");
            return;
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    rt.spawn(async move {
        let _ = axum::serve(listener, deskd_metrics::http::router(engine)).await;
    });
    let prom = start_prometheus(&batches);
    drop(batches);
    if prom.is_none() {
        println!("prometheus/promtool not on PATH: deskd only");
    }

    let at = T0 + 3000;
    let (start, end) = (T0 + 300, T0 + STEPS * 15);
    println!("\n| query | kind | deskd median ms | Prometheus 2.42 median ms |");
    println!("|---|---|---|---|");
    for (name, q) in QUERIES {
        let instant = format!("/api/v1/query?query={}&time={at}", enc(q));
        let range = format!(
            "/api/v1/query_range?query={}&start={start}&end={end}&step=60",
            enc(q)
        );
        for (kind, path) in [("instant", &instant), ("range", &range)] {
            let ours = median(port, path)
                .map(|m| format!("{m:.2}"))
                .unwrap_or("failed".into());
            let theirs = prom
                .as_ref()
                .map(|(_, p, _)| {
                    median(*p, path)
                        .map(|m| format!("{m:.2}"))
                        .unwrap_or("failed".into())
                })
                .unwrap_or("-".into());
            println!("| {name} | {kind} | {ours} | {theirs} |");
        }
    }
    if let Some((k, _, dir)) = prom {
        drop(k);
        let _ = std::fs::remove_dir_all(dir);
    }
}
