//! Fleet monitoring over HTTP: exporters scraped into the embedded engine (a host's own and a
//! configured one), the metrics API opened to loopback scrapers or a scrape token, and the
//! host-down alert driven through the simulator's fault-injection extension.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(40);

/// What a fake exporter does when scraped.
#[derive(Clone)]
enum Behaviour {
    Serve(String),
    /// Answers after this long (longer than deskd's scrape timeout).
    Hang(Duration),
}

/// A node_exporter stand-in on 127.0.0.1:0 that closes every connection after its answer, so
/// stopping it really makes the next scrape fail.
struct FakeExporter {
    url: String,
    behaviour: Arc<Mutex<Behaviour>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeExporter {
    async fn start(b: Behaviour) -> FakeExporter {
        let behaviour = Arc::new(Mutex::new(b));
        let shared = behaviour.clone();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let b = shared.lock().unwrap().clone();
                async move {
                    let text = match b {
                        Behaviour::Serve(t) => t,
                        Behaviour::Hang(d) => {
                            tokio::time::sleep(d).await;
                            String::new()
                        }
                    };
                    ([("connection", "close")], text)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/metrics", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeExporter {
            url,
            behaviour,
            task,
        }
    }

    fn set(&self, b: Behaviour) {
        *self.behaviour.lock().unwrap() = b;
    }

    fn instance(&self) -> String {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches("/metrics")
            .to_string()
    }

    /// Closes the listening socket: scrapes are refused from now on.
    fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for FakeExporter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn node_text(load: f64, extra: bool) -> String {
    let mut t = format!(
        "# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\nnode_load1 {load}\n\
         # TYPE node_cpu_seconds_total counter\n\
         node_cpu_seconds_total{{cpu=\"0\",mode=\"idle\"}} 1234.5\n\
         node_cpu_seconds_total{{cpu=\"0\",mode=\"user\"}} 100\n"
    );
    if extra {
        t.push_str("# TYPE node_extra_gauge gauge\nnode_extra_gauge{instance=\"inside\"} 7\n");
    }
    t
}

async fn demo_hosts(s: &Server, t: &str) -> Vec<Value> {
    let (_, v) = s
        .call(
            "PUT",
            "/v1/rccp/host:pagequery",
            Some(json!({"content": {}})),
            Some(t),
        )
        .await;
    assert_eq!(code(&v), 0, "{v}");
    v["content"]["data"]["item_arr"].as_array().unwrap().clone()
}

/// Waits until `query` answers exactly one sample and returns it.
async fn one(s: &Server, t: &str, query: &str) -> Value {
    eventually(WAIT, query, || async {
        let rows = instant(s, Some(t), query).await;
        (rows.len() == 1).then(|| rows[0].clone())
    })
    .await
}

/// Waits until `query` answers nothing (its series are stale or gone).
async fn none(s: &Server, t: &str, query: &str) {
    eventually(WAIT, &format!("{query} to be empty"), || async {
        instant(s, Some(t), query).await.is_empty().then_some(())
    })
    .await
}

#[tokio::test]
async fn exporters_are_scraped_relabelled_and_go_stale() {
    let on_host = FakeExporter::start(Behaviour::Serve(node_text(0.5, false))).await;
    let configured = FakeExporter::start(Behaviour::Serve(node_text(1.5, true))).await;
    let slow = FakeExporter::start(Behaviour::Hang(Duration::from_secs(5))).await;
    // One target on the command line, one in the TOML file.
    let cfg_target = format!("{},host_id=rack-7,ip_addr=10.9.9.9", configured.url);
    let dir = fresh_dir();
    let toml = dir.join("deskd.toml");
    std::fs::write(
        &toml,
        format!(
            "scrape_timeout_ms = 400\n[[scrape_targets]]\nurl = \"{}\"\njob = \"slow\"\n",
            slow.url
        ),
    )
    .unwrap();
    let toml = toml.display().to_string();
    let s = Server::start_in(
        dir,
        Db::Sqlite,
        &[
            "--config",
            &toml,
            "--scrape-interval-secs",
            "1",
            "--scrape-target",
            &cfg_target,
        ],
        true,
    );
    let t = s.admin_token().await;
    let hosts = demo_hosts(&s, &t).await;
    let host = &hosts[0];
    let hid = host["id"].as_str().unwrap().to_string();
    let ip = host["ip"].as_str().unwrap().to_string();

    // A host registers its exporter; a bad URL is refused naming the field.
    let (_, v) = s
        .call(
            "PUT",
            "/v1/rccp/host/edit",
            Some(json!({"content": {"id": hid, "exporter_url": "10.0.0.1:9100"}})),
            Some(&t),
        )
        .await;
    assert_ne!(code(&v), 0, "{v}");
    assert!(v.to_string().contains("exporter_url"), "{v}");
    let (_, v) = s
        .call(
            "PUT",
            "/v1/rccp/host/edit",
            Some(json!({"content": {"id": hid, "exporter_url": on_host.url}})),
            Some(&t),
        )
        .await;
    assert_eq!(code(&v), 0, "{v}");
    let listed = demo_hosts(&s, &t).await;
    let me = listed.iter().find(|h| h["id"] == json!(hid)).unwrap();
    assert_eq!(me["exporter_url"], json!(on_host.url));

    // Its series carry the host's id and address, job node and the exporter's instance.
    // (The simulated series of the host go stale at the next scrape.)
    let row = eventually(WAIT, "the exporter's series alone", || async {
        let rows = instant(&s, Some(&t), &format!("node_load1{{host_id='{hid}'}}")).await;
        (rows.len() == 1 && rows[0]["metric"]["instance"] == json!(on_host.instance()))
            .then(|| rows[0].clone())
    })
    .await;
    let m = &row["metric"];
    assert_eq!(m["ip_addr"], json!(ip), "{row}");
    assert_eq!(m["job"], "node");
    assert_eq!(m["instance"], json!(on_host.instance()));
    assert_eq!(sample_value(&row), 0.5);
    let up = one(&s, &t, &format!("up{{host_id='{hid}',job='node'}}")).await;
    assert_eq!(
        sample_value(&up),
        1.0,
        "the exporter, not the simulation: {up}"
    );
    let n = one(
        &s,
        &t,
        &format!("scrape_samples_scraped{{host_id='{hid}'}}"),
    )
    .await;
    assert_eq!(sample_value(&n), 3.0);
    one(
        &s,
        &t,
        &format!("scrape_duration_seconds{{host_id='{hid}'}}"),
    )
    .await;

    // The configured target: its labels from the configuration, the exporter's own
    // `instance` kept as exported_instance.
    let row = one(&s, &t, "node_load1{host_id='rack-7'}").await;
    assert_eq!(row["metric"]["ip_addr"], "10.9.9.9", "{row}");
    assert_eq!(row["metric"]["job"], "node");
    let extra = one(&s, &t, "node_extra_gauge{host_id='rack-7'}").await;
    assert_eq!(extra["metric"]["exported_instance"], "inside", "{extra}");
    // A series the exporter stops exposing goes stale.
    configured.set(Behaviour::Serve(node_text(1.5, false)));
    none(&s, &t, "node_extra_gauge{host_id='rack-7'}").await;
    one(&s, &t, "node_load1{host_id='rack-7'}").await;

    // A target slower than the scrape timeout is down.
    let up = one(&s, &t, "up{job='slow'}").await;
    assert_eq!(sample_value(&up), 0.0, "{up}");
    // `/api/v1/targets` tells how each exporter's latest scrape went.
    let (status, v) = s.call("GET", "/api/v1/targets", None, Some(&t)).await;
    assert_eq!(status, 200, "{v}");
    let active = v["data"]["activeTargets"].as_array().unwrap().clone();
    assert_eq!(active.len(), 3, "{v}");
    let by_url = |u: &str| {
        active
            .iter()
            .find(|x| x["scrapeUrl"] == json!(u))
            .unwrap()
            .clone()
    };
    let slow_state = by_url(&slow.url);
    assert_eq!(slow_state["health"], "down");
    assert!(
        slow_state["lastError"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{slow_state}"
    );
    assert_eq!(by_url(&configured.url)["health"], "up");
    assert_eq!(by_url(&on_host.url)["labels"]["host_id"], json!(hid));

    // The host's exporter stops: up 0, its series stale.
    on_host.stop();
    eventually(WAIT, "up 0 for the stopped exporter", || async {
        let rows = instant(&s, Some(&t), &format!("up{{host_id='{hid}',job='node'}}")).await;
        (rows.len() == 1 && sample_value(&rows[0]) == 0.0).then_some(())
    })
    .await;
    none(&s, &t, &format!("node_load1{{host_id='{hid}'}}")).await;
    none(
        &s,
        &t,
        &format!("node_cpu_seconds_total{{host_id='{hid}'}}"),
    )
    .await;

    // The host drops its exporter: the target's own series go stale, the simulation is back.
    let (_, v) = s
        .call(
            "PUT",
            "/v1/rccp/host/edit",
            Some(json!({"content": {"id": hid, "exporter_url": ""}})),
            Some(&t),
        )
        .await;
    assert_eq!(code(&v), 0, "{v}");
    let gone = format!("up{{host_id='{hid}',instance='{}'}}", on_host.instance());
    none(&s, &t, &gone).await;
    let up = one(&s, &t, &format!("up{{host_id='{hid}',job='node'}}")).await;
    assert_eq!(sample_value(&up), 1.0, "simulated again: {up}");
    assert_eq!(up["metric"]["instance"], json!(format!("{ip}:9100")));
}

#[tokio::test]
async fn metrics_reads_open_to_loopback_and_to_the_scrape_token() {
    let token = "scrape-token-0123456789";
    let dir = fresh_dir();
    let toml = dir.join("deskd.toml");
    std::fs::write(&toml, "metrics_open_to = [\"127.0.0.0/8\", \"::1/128\"]\n").unwrap();
    let toml = toml.display().to_string();
    let s = Server::start_in(
        dir,
        Db::Sqlite,
        &[
            "--config",
            &toml,
            "--scrape-interval-secs",
            "1",
            "--metrics-token",
            token,
        ],
        true,
    );
    let metrics = eventually(WAIT, "/metrics without a token", || async {
        let r = reqwest::get(s.url("/metrics")).await.unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        text.contains("node_cpu_seconds_total").then_some(text)
    })
    .await;
    assert!(metrics.contains("# TYPE up gauge"));
    let rows = instant(&s, None, "up{job='node'}").await;
    assert!(!rows.is_empty(), "the read API without a token");
    let (status, _) = s.call("GET", "/api/v1/rules", None, None).await;
    assert_eq!(status, 200);
    // Writes still need an API token.
    let (status, _) = s
        .raw("POST", "/api/v1/import/prometheus", "x 1\n", None)
        .await;
    assert_eq!(status, 401);
    let (status, _) = s.call("POST", "/-/reload", None, None).await;
    assert_eq!(status, 401);
    drop(s);

    // Not opened: the scrape token works, a wrong one does not.
    let s = Server::start(
        Db::Sqlite,
        &["--metrics-token", token, "--scrape-interval-secs", "1"],
    );
    let (status, _) = s.call("GET", "/api/v1/query?query=up", None, None).await;
    assert_eq!(status, 401);
    let (status, _) = s
        .call("GET", "/api/v1/query?query=up", None, Some(token))
        .await;
    assert_eq!(status, 200);
    let (status, _) = s
        .call(
            "GET",
            "/api/v1/query?query=up",
            None,
            Some("scrape-token-012345678X"),
        )
        .await;
    assert_eq!(status, 401);
    let r = s
        .http
        .get(s.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The scrape token is not an API token.
    let (status, _) = s
        .call(
            "PUT",
            "/v1/rccp/host:pagequery",
            Some(json!({"content": {}})),
            Some(token),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn bad_monitoring_settings_are_refused_naming_the_setting() {
    for (args, setting) in [
        (&["--metrics-open-to", "10.0.0.0/40"][..], "metrics_open_to"),
        (&["--metrics-backend", "influx"][..], "metrics_backend"),
        (&["--metrics-backend", "prometheus"][..], "prometheus_url"),
        (&["--scrape-target", "ftp://x/metrics"][..], "scrape_target"),
        (&["--scrape-timeout-ms", "20000"][..], "scrape_timeout_ms"),
        (&["--metrics-token", "short"][..], "metrics_token"),
    ] {
        let out = deskd()
            .args(["serve", "--http", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(fresh_dir())
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(setting), "{args:?}: {err}");
    }
}

const HOST_DOWN_RULES: &str = r#"groups:
- name: test
  interval: 1s
  rules:
  - alert: host_running_status
    expr: up{host_id=~".*",job="node"} != 1
    for: 2s
    labels:
      severity: critical
    annotations:
      summary: "host {{ $labels.host_id }} unreachable"
    sendby: email
"#;

/// The alerts of `/api/v1/alerts` for `host`.
async fn host_alerts(s: &Server, t: &str, host: &str) -> Vec<Value> {
    let (status, v) = s.call("GET", "/api/v1/alerts", None, Some(t)).await;
    assert_eq!(status, 200, "{v}");
    v["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["host_id"] == json!(host))
        .cloned()
        .collect()
}

/// An Alertmanager stand-in: keeps every alert POSTed to /api/v2/alerts.
async fn fake_alertmanager() -> (String, Arc<Mutex<Vec<Value>>>, tokio::task::JoinHandle<()>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/api/v2/alerts",
        axum::routing::post(move |body: axum::Json<Vec<Value>>| {
            keep.lock().unwrap().extend(body.0);
            async { "" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, got, task)
}

/// With `alertmanager_url`, the host-down alert is also sent to Alertmanager: once when it
/// fires (endsAt in the future), once resolved (endsAt no later than now).
#[tokio::test]
async fn a_host_that_goes_down_fires_its_alert_and_resolves_when_back() {
    let (am_url, received, am_task) = fake_alertmanager().await;
    let dir = fresh_dir();
    let rules = dir.join("test-rules.yaml");
    std::fs::write(&rules, HOST_DOWN_RULES).unwrap();
    let rules = rules.display().to_string();
    let s = Server::start_in(
        dir,
        Db::Sqlite,
        &[
            "--scrape-interval-secs",
            "1",
            "--rules-file",
            &rules,
            "--alertmanager-url",
            &am_url,
            "--enable-test-hooks",
        ],
        true,
    );
    let t = s.admin_token().await;
    let hosts = demo_hosts(&s, &t).await;
    let hid = hosts[0]["id"].as_str().unwrap().to_string();
    let other = hosts[1]["id"].as_str().unwrap().to_string();
    one(&s, &t, &format!("up{{host_id='{hid}',job='node'}} == 1")).await;
    assert!(host_alerts(&s, &t, &hid).await.is_empty());

    let (_, v) = s
        .call("PUT", "/v1/sim/host/nohost:down", None, Some(&t))
        .await;
    assert_ne!(code(&v), 0, "{v}");
    let (_, v) = s
        .call("PUT", &format!("/v1/sim/host/{hid}:down"), None, Some(&t))
        .await;
    assert_eq!(code(&v), 0, "{v}");

    // The alert shows up pending (for `for: 2s`), then firing.
    let first = eventually(WAIT, "the host-down alert", || async {
        host_alerts(&s, &t, &hid).await.into_iter().next()
    })
    .await;
    let firing = eventually(WAIT, "the host-down alert to fire", || async {
        let a = host_alerts(&s, &t, &hid).await;
        a.into_iter().find(|a| a["state"] == "firing")
    })
    .await;
    // Only a stalled poll can miss the two seconds of pending; the ALERTS series below has it.
    if first["state"] == "pending" {
        assert_eq!(
            first["activeAt"], firing["activeAt"],
            "one alert: {first} {firing}"
        );
    }
    assert_eq!(firing["labels"]["alertname"], "host_running_status");
    assert_eq!(firing["sendby"], "email");
    assert_eq!(
        firing["annotations"]["summary"],
        json!(format!("host {hid} unreachable"))
    );
    // It was pending first (the ALERTS series keeps the history).
    let pending = instant(
        &s,
        Some(&t),
        &format!("count_over_time(ALERTS{{alertstate='pending',host_id='{hid}'}}[5m])"),
    )
    .await;
    assert!(!pending.is_empty(), "pending before firing");
    assert!(
        host_alerts(&s, &t, &other).await.is_empty(),
        "other hosts are fine"
    );

    let (_, v) = s
        .call("PUT", &format!("/v1/sim/host/{hid}:up"), None, Some(&t))
        .await;
    assert_eq!(code(&v), 0, "{v}");
    eventually(WAIT, "the alert to resolve", || async {
        host_alerts(&s, &t, &hid).await.is_empty().then_some(())
    })
    .await;
    let (_, v) = s.call("GET", "/api/v1/rules", None, Some(&t)).await;
    assert_eq!(
        v["data"]["groups"][0]["rules"][0]["state"], "inactive",
        "{v}"
    );

    // Alertmanager heard of it: firing, then resolved.
    let mine = |a: &Value| a["labels"]["host_id"] == json!(hid);
    let resolved = eventually(WAIT, "the resolved notification", || async {
        let got = received.lock().unwrap().clone();
        let now = now_rfc3339_prefix();
        got.iter()
            .filter(|a| mine(a))
            .find(|a| a["endsAt"].as_str().is_some_and(|e| e <= now.as_str()))
            .cloned()
    })
    .await;
    let got = received.lock().unwrap().clone();
    let first = got.iter().find(|a| mine(a)).unwrap();
    assert_eq!(first["labels"]["alertname"], "host_running_status");
    assert_eq!(first["labels"]["severity"], "critical");
    assert_eq!(first["annotations"]["sendby"], "email");
    assert!(
        first["endsAt"].as_str().unwrap() > resolved["endsAt"].as_str().unwrap(),
        "{first}"
    );
    assert_eq!(first["startsAt"], resolved["startsAt"]);
    assert!(first["generatorURL"]
        .as_str()
        .unwrap()
        .contains("/api/v1/query?query="));
    assert!(
        got.iter().all(mine),
        "only the host that went down: {got:?}"
    );
    am_task.abort();
}

/// Now in RFC 3339 (UTC, milliseconds), as the alerts print their times; strings compare
/// in time order.
fn now_rfc3339_prefix() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (secs, milli) = (ms / 1000, ms % 1000);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // civil from days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
