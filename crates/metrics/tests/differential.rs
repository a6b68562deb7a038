//! Differential test against the installed Prometheus (Debian's 2.42): the same data loaded
//! into both (promtool `tsdb create-blocks-from openmetrics`), a generated set of queries,
//! results compared within 1e-6.
//!
//! Prometheus 2.42 counts a sample exactly on a window's left edge and v3 (whose semantics
//! deskd follows) does not, so every sample sits 3.333 s off the 15 s grid and every query
//! time at :30, which keeps all window edges (ranges, lookback, subquery steps) off samples.
//! The counters start far from zero, where 2.42's and 3's zero-clamping agree.
//!
//! Prints SKIPPED when prometheus/promtool are absent and CI is unset; fails when CI is set.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deskd_metrics::labels::Labels;
use deskd_metrics::promql::{Engine, EngineOptions, Value};
use deskd_metrics::storage::Storage;
use serde_json::Value as Json;

const T0: i64 = 1_699_999_980; // a whole minute
const SAMPLES: i64 = 240; // one hour at 15 s

type Result_ = Vec<(String, Vec<(i64, f64)>)>;

struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn available() -> bool {
    ["prometheus", "promtool"].iter().all(|b| {
        Command::new(b)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Deterministic pseudo-random numbers.
fn rnd(seed: u64) -> f64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x % 10_000) as f64 / 10_000.0
}

fn dataset() -> Vec<(Labels, i64, f64)> {
    let mut out = Vec::new();
    let t = |i: i64| T0 * 1000 + 3333 + i * 15_000;
    for d in 0..12u64 {
        let host = format!("h{}", d % 3);
        let desk = format!("d{d}");
        let cpu = Labels::from_pairs(&[
            ("__name__", "dt_cpu_seconds_total"),
            ("desk", &desk),
            ("host", &host),
        ]);
        let mem = Labels::from_pairs(&[
            ("__name__", "dt_mem_bytes"),
            ("desk", &desk),
            ("host", &host),
        ]);
        let mut c = 1000.0 + d as f64 * 10.0;
        // d11 stops early, so lookback and range edges of an ending series are compared too.
        let n = if d == 11 { 150 } else { SAMPLES };
        for i in 0..n {
            c += (rnd(d * 1000 + i as u64) * 4.0 * 4.0).round() / 4.0;
            if d == 1 && i == 100 {
                c = 3.5; // a counter reset
            }
            out.push((cpu.clone(), t(i), c));
            let g = 1.0e9 + (rnd(d * 7777 + i as u64) * 1000.0).round() * 4096.0;
            out.push((mem.clone(), t(i), g));
        }
    }
    let les = ["0.05", "0.1", "0.5", "1", "+Inf"];
    for h in 0..3u64 {
        let host = format!("h{h}");
        let mut counts = [500.0, 800.0, 1500.0, 1800.0, 2000.0];
        for i in 0..SAMPLES {
            let mut add = 0.0;
            for (k, le) in les.iter().enumerate() {
                add += (rnd(h * 99 + i as u64 * 5 + k as u64) * 3.0).round();
                counts[k] += add;
                let l = Labels::from_pairs(&[
                    ("__name__", "dt_req_bucket"),
                    ("host", &host),
                    ("le", le),
                ]);
                out.push((l, t(i), counts[k]));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    out
}

fn openmetrics(data: &[(Labels, i64, f64)]) -> String {
    let mut s = String::new();
    for (l, t, v) in data {
        let name = l.name().unwrap_or("");
        let pairs: Vec<String> = l
            .iter()
            .filter(|(n, _)| *n != "__name__")
            .map(|(n, v)| format!("{n}=\"{v}\""))
            .collect();
        let _ = writeln!(
            s,
            "{name}{{{}}} {v} {}.{:03}",
            pairs.join(","),
            t / 1000,
            t % 1000
        );
    }
    s.push_str("# EOF\n");
    s
}

fn queries() -> Vec<String> {
    let mut q = Vec::new();
    let sels = [
        "dt_mem_bytes",
        "dt_mem_bytes{host=\"h1\"}",
        "dt_mem_bytes{host=~\"h[12]\"}",
        "dt_mem_bytes{host!~\"h1\",desk!=\"d0\"}",
        "dt_cpu_seconds_total",
        "dt_cpu_seconds_total offset 7m",
    ];
    q.extend(sels.iter().map(|s| s.to_string()));
    for r in ["1m", "5m", "10m"] {
        for f in ["rate", "irate", "increase", "resets", "changes"] {
            q.push(format!("{f}(dt_cpu_seconds_total[{r}])"));
        }
        for f in ["delta", "idelta", "deriv", "changes"] {
            q.push(format!("{f}(dt_mem_bytes[{r}])"));
        }
        for f in [
            "avg", "min", "max", "sum", "count", "stddev", "stdvar", "last", "present",
        ] {
            q.push(format!("{f}_over_time(dt_mem_bytes[{r}])"));
            q.push(format!(
                "{f}_over_time(dt_cpu_seconds_total{{host=\"h2\"}}[{r}])"
            ));
        }
        q.push(format!("quantile_over_time(0.3, dt_mem_bytes[{r}])"));
        q.push(format!("predict_linear(dt_cpu_seconds_total[{r}], 600)"));
        q.push(format!(
            "absent_over_time(dt_mem_bytes{{desk=\"d11\"}}[{r}])"
        ));
        q.push(format!("rate(dt_cpu_seconds_total[{r}] offset 3m)"));
    }
    for agg in [
        "sum", "avg", "min", "max", "count", "group", "stddev", "stdvar",
    ] {
        q.push(format!("{agg}(dt_mem_bytes)"));
        q.push(format!("{agg} by (host) (rate(dt_cpu_seconds_total[5m]))"));
        q.push(format!("{agg} without (desk) (dt_mem_bytes)"));
    }
    let inner = [
        "rate(dt_cpu_seconds_total[5m])",
        "irate(dt_cpu_seconds_total[2m])",
        "delta(dt_mem_bytes[10m])",
        "max_over_time(dt_mem_bytes[3m])",
        "dt_mem_bytes",
    ];
    for agg in [
        "sum", "avg", "min", "max", "count", "group", "stddev", "stdvar",
    ] {
        for e in inner {
            for g in ["", " by (host)", " without (desk)"] {
                q.push(format!("{agg}{g} ({e})"));
            }
        }
    }
    for p in [
        "topk(3, dt_mem_bytes)",
        "bottomk(2, dt_mem_bytes) by (host)",
        "quantile(0.3, dt_mem_bytes)",
        "quantile by (host) (0.9, rate(dt_cpu_seconds_total[5m]))",
        "count_values(\"x\", floor(rate(dt_cpu_seconds_total[5m]) * 10))",
        "topk by (host) (1, rate(dt_cpu_seconds_total[2m]))",
    ] {
        q.push(p.to_string());
    }
    for b in [
        "dt_mem_bytes / on (desk, host) dt_cpu_seconds_total",
        "dt_mem_bytes / ignoring (nothing) dt_cpu_seconds_total",
        "rate(dt_cpu_seconds_total[5m]) > 0.8",
        "rate(dt_cpu_seconds_total[5m]) > bool 0.8",
        "0.8 < rate(dt_cpu_seconds_total[5m])",
        "dt_mem_bytes / on (host) group_left sum by (host) (dt_mem_bytes)",
        "sum by (host) (dt_mem_bytes) / on (host) group_right dt_mem_bytes",
        "dt_mem_bytes * on (desk) group_left (host) rate(dt_cpu_seconds_total[5m])",
        "dt_mem_bytes and on (desk) (rate(dt_cpu_seconds_total[5m]) > 0.8)",
        "dt_mem_bytes unless on (desk) (rate(dt_cpu_seconds_total[5m]) > 0.8)",
        "(dt_mem_bytes > 1.002e9) or on (desk) dt_cpu_seconds_total",
        "dt_mem_bytes % 3 + 2 ^ 2 - -1",
        "-dt_cpu_seconds_total",
        "dt_mem_bytes == bool on (desk, host) dt_mem_bytes",
        "scalar(sum(dt_mem_bytes)) / dt_mem_bytes",
        "time() - timestamp(dt_mem_bytes)",
    ] {
        q.push(b.to_string());
    }
    for f in [
        "abs", "ceil", "floor", "sqrt", "ln", "log2", "log10", "exp", "sgn", "round", "sin", "cos",
        "atan", "deg", "rad", "asinh",
    ] {
        q.push(format!("{f}(rate(dt_cpu_seconds_total[5m]))"));
    }
    for f in [
        "clamp(dt_mem_bytes, 1.001e9, 1.003e9)",
        "clamp_min(rate(dt_cpu_seconds_total[5m]), 1)",
        "clamp_max(rate(dt_cpu_seconds_total[5m]), 1)",
        "round(rate(dt_cpu_seconds_total[5m]), 0.25)",
        "label_replace(dt_mem_bytes, \"h\", \"x$1\", \"host\", \"h(.)\")",
        "label_join(dt_mem_bytes, \"hd\", \"/\", \"host\", \"desk\")",
        "absent(dt_mem_bytes{desk=\"nope\",host=\"h1\"})",
        "absent(dt_mem_bytes)",
        "vector(time())",
        "scalar(dt_mem_bytes{desk=\"d3\"})",
        "sort(dt_mem_bytes)",
        "sort_desc(rate(dt_cpu_seconds_total[5m]))",
        "timestamp(dt_mem_bytes)",
        "histogram_quantile(0.9, sum by (le, host) (rate(dt_req_bucket[5m])))",
        "histogram_quantile(0.5, rate(dt_req_bucket[10m]))",
        "histogram_quantile(0.99, sum by (le) (increase(dt_req_bucket[1m])))",
        "hour(timestamp(dt_mem_bytes))",
        "minute()",
        "year()",
        "month()",
        "day_of_week()",
        "day_of_month()",
        "day_of_year()",
        "days_in_month()",
        "max_over_time(rate(dt_cpu_seconds_total[1m])[10m:1m])",
        "avg_over_time(dt_mem_bytes[5m:20s])",
        "rate(dt_cpu_seconds_total[5m:1m])",
        "min_over_time(sum by (host) (dt_mem_bytes)[15m:2m] offset 1m)",
        "count_over_time(dt_cpu_seconds_total[10m:])",
        "deriv(dt_mem_bytes[10m:1m])",
    ] {
        q.push(f.to_string());
    }
    for off in ["1m", "90s", "13m", "-2m"] {
        q.push(format!("rate(dt_cpu_seconds_total[5m] offset {off})"));
        q.push(format!("dt_mem_bytes offset {off}"));
        q.push(format!("max_over_time(dt_mem_bytes[4m] offset {off})"));
    }
    for at in [T0 + 1234, T0 + 2500, T0 + 3001] {
        q.push(format!("dt_mem_bytes @ {at}"));
        q.push(format!("sum(rate(dt_cpu_seconds_total[5m] @ {at}))"));
        q.push(format!("dt_mem_bytes - dt_mem_bytes @ {at}"));
    }
    q.sort();
    q.dedup();
    q
}

fn normalize_json(data: &Json) -> Option<Result_> {
    let num = |v: &Json| -> Option<(i64, f64)> {
        let t = (v.get(0)?.as_f64()? * 1000.0).round() as i64;
        let s = v.get(1)?.as_str()?;
        let f = match s {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            _ => s.parse().ok()?,
        };
        Some((t, f))
    };
    let result = data.get("result")?;
    Some(match data.get("resultType")?.as_str()? {
        "scalar" => vec![("{}".into(), vec![num(result)?])],
        "vector" | "matrix" => {
            let mut out = Vec::new();
            for s in result.as_array()? {
                let m: BTreeMap<String, String> =
                    serde_json::from_value(s.get("metric")?.clone()).ok()?;
                let pairs: Vec<(String, String)> = m.into_iter().collect();
                let labels = Labels::new(pairs).to_string();
                let pts = match s.get("value") {
                    Some(v) => vec![num(v)?],
                    None => s
                        .get("values")?
                        .as_array()?
                        .iter()
                        .map(num)
                        .collect::<Option<Vec<_>>>()?,
                };
                out.push((labels, pts));
            }
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        }
        _ => return None,
    })
}

fn normalize_ours(v: Value, t: i64) -> Result_ {
    let mut out: Result_ = match v {
        Value::Scalar(f) => vec![("{}".into(), vec![(t, f)])],
        Value::Vector(v) => v
            .into_iter()
            .map(|s| (s.labels.to_string(), vec![(t, s.v)]))
            .collect(),
        Value::Matrix(m) => m
            .into_iter()
            .map(|s| (s.labels.to_string(), s.points))
            .collect(),
        Value::String(_) => Vec::new(),
    };
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-6 * a.abs().max(b.abs())
}

fn same(a: &Result_, b: &Result_) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.0 == y.0
                && x.1.len() == y.1.len()
                && x.1
                    .iter()
                    .zip(&y.1)
                    .all(|(p, q)| p.0 == q.0 && close(p.1, q.1))
        })
}

fn prom_query(port: u16, path: &str, params: &[(&str, String)]) -> Option<Json> {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-G", &format!("http://127.0.0.1:{port}{path}")]);
    for (k, v) in params {
        cmd.args(["--data-urlencode", &format!("{k}={v}")]);
    }
    let out = cmd.output().ok()?;
    let v: Json = serde_json::from_slice(&out.stdout).ok()?;
    (v.get("status")? == "success")
        .then(|| v.get("data").cloned())
        .flatten()
}

fn start_prometheus(dir: &Path) -> (Killer, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    std::fs::write(
        dir.join("empty.yml"),
        "global: {scrape_interval: 1m}\nscrape_configs: []\n",
    )
    .expect("config");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", dir.join("empty.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("bf").display()))
        .arg("--storage.tsdb.retention.time=100y")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(dir.join("prom.log"))
                .map(Stdio::from)
                .unwrap_or(Stdio::null()),
        )
        .spawn()
        .expect("start prometheus");
    let k = Killer(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let ok = Command::new("curl")
            .args(["-sf", &format!("http://127.0.0.1:{port}/-/ready")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return (k, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("prometheus did not become ready");
}

#[test]
fn same_results_as_prometheus() {
    if !available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but prometheus/promtool are not installed"
        );
        println!("SKIPPED: prometheus or promtool not installed");
        return;
    }
    let data = dataset();
    let dir = std::env::temp_dir().join(format!("deskd-metrics-diff-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("data.om"), openmetrics(&data)).expect("write data");
    let status = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(dir.join("data.om"))
        .arg(dir.join("bf"))
        .stdout(Stdio::null())
        .status()
        .expect("promtool");
    assert!(status.success(), "promtool failed");
    let (prom, port) = start_prometheus(&dir);

    let storage = Arc::new(Storage::default());
    storage.append(&data).expect("load");
    let engine = Engine::new(storage, EngineOptions::default());

    let qs = queries();
    let times: Vec<i64> = [6, 17, 33, 47, 61, 64]
        .iter()
        .map(|m| T0 + m * 60 + 30)
        .collect();
    let (mut compared, mut failures) = (0, Vec::new());
    for q in &qs {
        for &t in &times {
            let theirs = prom_query(
                port,
                "/api/v1/query",
                &[("query", q.clone()), ("time", t.to_string())],
            )
            .and_then(|d| normalize_json(&d));
            let ours = engine
                .instant(q, t * 1000)
                .ok()
                .map(|v| normalize_ours(v, t * 1000));
            compared += 1;
            if theirs
                .as_ref()
                .zip(ours.as_ref())
                .is_none_or(|(a, b)| !same(a, b))
            {
                failures.push(format!(
                    "instant {q} @ {t}\n  prometheus: {theirs:?}\n  deskd:      {ours:?}"
                ));
            }
        }
        let (s, e, step) = (T0 + 330, T0 + 4230, 60);
        let theirs = prom_query(
            port,
            "/api/v1/query_range",
            &[
                ("query", q.clone()),
                ("start", s.to_string()),
                ("end", e.to_string()),
                ("step", step.to_string()),
            ],
        )
        .and_then(|d| normalize_json(&d));
        let ours = engine
            .range(q, s * 1000, e * 1000, step * 1000)
            .ok()
            .map(|m| normalize_ours(Value::Matrix(m), 0));
        compared += 1;
        if theirs
            .as_ref()
            .zip(ours.as_ref())
            .is_none_or(|(a, b)| !same(a, b))
        {
            failures.push(format!(
                "range {q}\n  prometheus: {theirs:?}\n  deskd:      {ours:?}"
            ));
        }
    }
    drop(prom);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "differential: {} queries, {compared} comparisons, {} differ",
        qs.len(),
        failures.len()
    );
    for f in failures.iter().take(15) {
        println!("{}", f.chars().take(1500).collect::<String>());
    }
    assert!(qs.len() >= 300, "only {} queries", qs.len());
    assert!(
        failures.is_empty(),
        "{} of {compared} comparisons differ",
        failures.len()
    );
}

/// `promtool query instant` and `promtool query range`, a real Prometheus client, against the
/// router.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_queries_deskd() {
    if !available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but prometheus/promtool are not installed"
        );
        println!("SKIPPED: prometheus or promtool not installed");
        return;
    }
    let storage = Arc::new(Storage::default());
    storage.append(&dataset()).expect("load");
    let engine = Arc::new(Engine::new(storage, EngineOptions::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, deskd_metrics::http::router(engine)).await;
    });
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || Command::new("promtool").args(args).output())
    };
    let t = (T0 + 1830).to_string();
    let out = run(vec![
        "query".into(),
        "instant".into(),
        format!("--time={t}"),
        url.clone(),
        "sum by (host) (dt_mem_bytes)".into(),
    ])
    .await
    .expect("join")
    .expect("promtool");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.lines().filter(|l| l.contains("host=")).count(),
        3,
        "{text}"
    );
    let out = run(vec![
        "query".into(),
        "range".into(),
        format!("--start={}", T0 + 630),
        format!("--end={}", T0 + 930),
        "--step=60s".into(),
        url.clone(),
        "rate(dt_cpu_seconds_total{desk=\"d3\"}[5m])".into(),
    ])
    .await
    .expect("join")
    .expect("promtool");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("desk=\"d3\""), "{text}");
    assert_eq!(text.matches(" @[").count(), 6, "six points: {text}");
    server.abort();
}
