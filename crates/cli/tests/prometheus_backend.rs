//! `--metrics-backend prometheus`: a real Prometheus scrapes deskd's `/metrics` (opened to
//! loopback) and deskd forwards the Prometheus read API to it. The catalogue queries of
//! API.md (d.1) and 6.7 answer through deskd. Skipped (with a "SKIPPED:" line) when
//! `prometheus` is not on the PATH, unless CI is set.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::json;

/// Kills the Prometheus child when the test ends, panics included.
struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn start_prometheus(bin: &Path, dir: &Path, port: u16, deskd: &str) -> Prometheus {
    let config = dir.join("prometheus.yml");
    // honor_labels: deskd's series carry their own job and instance (node, vm, storage…).
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             scrape_configs:\n\
             \x20 - job_name: deskd\n\
             \x20   honor_labels: true\n\
             \x20   scrape_interval: 1s\n\
             \x20   static_configs: [{{targets: ['{deskd}']}}]\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    Prometheus(child)
}

#[tokio::test]
async fn the_catalogue_answers_through_an_external_prometheus() {
    let Some(bin) = on_path("prometheus") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus is not on the PATH, and CI needs this test"
        );
        println!("SKIPPED: prometheus is not on the PATH");
        return;
    };
    let port = free_port();
    let upstream = format!("http://127.0.0.1:{port}");
    let s = Server::start(
        Db::Sqlite,
        &[
            "--scrape-interval-secs",
            "1",
            "--metrics-backend",
            "prometheus",
            "--prometheus-url",
            &upstream,
            "--metrics-open-to",
            "127.0.0.1/32",
        ],
    );
    assert!(
        !s.data_dir.join("metrics").exists(),
        "the embedded store is not opened"
    );
    // Before Prometheus runs, forwarded reads fail as Prometheus-style 503s.
    let (status, v) = s.call("GET", "/api/v1/query?query=up", None, None).await;
    assert_eq!((status, v["status"].clone()), (503, json!("error")), "{v}");

    let dir = fresh_dir();
    let deskd = s.base.trim_start_matches("http://").to_string();
    let _prometheus = start_prometheus(&bin, &dir, port, &deskd);

    let t = s.admin_token().await;
    eventually(
        Duration::from_secs(90),
        "the catalogue through deskd",
        || async {
            for (name, query, expect) in CATALOGUE {
                let rows = match try_instant(&s, None, query).await {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("{name}: {e}");
                        return None;
                    }
                };
                if let Err(why) = check_expect(&rows, *expect) {
                    eprintln!("{name}: {why}");
                    return None;
                }
            }
            Some(())
        },
    )
    .await;

    // Answers are Prometheus's own, verbatim: errors, POST forms, targets, rules.
    let (status, v) = s.call("GET", "/api/v1/query?query=sum(", None, None).await;
    assert_eq!(
        (status, v["errorType"].clone()),
        (400, json!("bad_data")),
        "{v}"
    );
    let r = s
        .http
        .post(s.url("/api/v1/query"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("query=count(up%7Bjob%3D%22node%22%7D)")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["data"]["resultType"], "vector", "{v}");
    let (status, v) = s.call("GET", "/api/v1/targets", None, None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["data"]["activeTargets"][0]["labels"]["job"], "deskd",
        "{v}"
    );
    let (status, v) = s
        .call("GET", "/api/v1/label/job/values", None, Some(&t))
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(
        v["data"].as_array().unwrap().contains(&json!("node")),
        "{v}"
    );
    // Writes are not forwarded.
    let (status, _) = s
        .raw("POST", "/api/v1/import/prometheus", "x 1\n", Some(&t))
        .await;
    assert_eq!(status, 404);

    // 6.7 asks the external engine too.
    for kind in ["CPU", "MEM", "DISK"] {
        let body = json!({"content": {"server_resource_type": kind}});
        let (_, v) = s
            .call(
                "PUT",
                "/v1/rccp/server/resource/usage",
                Some(body),
                Some(&t),
            )
            .await;
        assert_eq!(code(&v), 0, "{kind}: {v}");
        let data = &v["content"]["data"];
        let total = sample_value(&data["total"]["result"][0]);
        let used = sample_value(&data["used"]["result"][0]);
        assert!(total > 0.0, "{kind}: {v}");
        assert!((0.0..=100.0).contains(&used), "{kind}: used {used}%");
    }
}
