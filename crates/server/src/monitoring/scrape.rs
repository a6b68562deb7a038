//! Scraping external Prometheus exporters (node_exporter on real compute hosts) into the
//! embedded engine, as Prometheus would: target labels `job` and `instance`, plus `host_id` and
//! `ip_addr` (and `compute_cluster_id` for host-registered exporters); per target `up`,
//! `scrape_duration_seconds` and `scrape_samples_scraped`; staleness markers for series that
//! vanish, and for all of a target's series when it goes down or is removed.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use deskd_domain::model::Host;
use deskd_domain::Error;
use deskd_metrics::labels::Labels;
use deskd_metrics::storage::{stale_nan, Metadata};

use crate::config::ScrapeTarget;

/// Largest exposition body read from one exporter.
const MAX_BODY_BYTES: usize = 32 << 20;

/// Labels a target puts on every series it yields.
const TARGET_LABELS: [&str; 5] = [
    "job",
    "instance",
    "host_id",
    "ip_addr",
    "compute_cluster_id",
];

/// One exporter to scrape and the labels it gives its series.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub url: String,
    /// `(name, value)` target labels, `job` and `instance` included.
    pub labels: Vec<(String, String)>,
}

/// An http(s) URL with a host, or why not.
pub fn check_url(url: &str) -> Result<reqwest::Url, String> {
    let u = reqwest::Url::parse(url.trim()).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!(
            "scheme must be http or https, not `{}`",
            u.scheme()
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(u)
}

/// A host's `exporter_url` as given on create/edit: `""` removes it.
pub fn exporter_url(v: &str, field: &str) -> Result<Option<String>, Error> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.len() > 1024 {
        return Err(Error::invalid(field, "at most 1024 characters"));
    }
    check_url(v)
        .map(|_| Some(v.to_string()))
        .map_err(|e| Error::invalid(field, e))
}

/// `host:port` of a URL, as Prometheus's `instance` label.
fn instance(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or_default();
            match u.port_or_known_default() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_string(),
            }
        }
        Err(_) => url.to_string(),
    }
}

/// The targets of one scrape: the configured ones (a `host_id` without `ip_addr` takes the
/// host's address) and every host that registered an exporter.
pub fn targets(configured: &[ScrapeTarget], hosts: &[Host]) -> Vec<Target> {
    let mut out = Vec::new();
    for t in configured {
        let mut labels = vec![
            ("job".to_string(), t.job.clone()),
            ("instance".to_string(), instance(&t.url)),
        ];
        let host = t
            .host_id
            .as_deref()
            .and_then(|id| hosts.iter().find(|h| h.id == id));
        if let Some(id) = &t.host_id {
            labels.push(("host_id".into(), id.clone()));
        }
        if let Some(ip) = t.ip_addr.clone().or_else(|| host.map(|h| h.ip.clone())) {
            labels.push(("ip_addr".into(), ip));
        }
        if let Some(h) = host {
            labels.push(("compute_cluster_id".into(), h.cluster_id.clone().into()));
        }
        out.push(Target {
            url: t.url.clone(),
            labels,
        });
    }
    for h in hosts {
        let Some(url) = &h.exporter_url else {
            continue;
        };
        out.push(Target {
            url: url.clone(),
            labels: vec![
                ("job".into(), "node".into()),
                ("instance".into(), instance(url)),
                ("host_id".into(), h.id.clone().into()),
                ("ip_addr".into(), h.ip.clone()),
                ("compute_cluster_id".into(), h.cluster_id.clone().into()),
            ],
        });
    }
    // The same exporter listed twice with the same labels is scraped once.
    let mut seen = HashSet::new();
    out.retain(|t| seen.insert(t.clone()));
    out
}

/// What one scrape of all targets yields for the engine.
#[derive(Default)]
pub struct Scraped {
    pub samples: Vec<(Labels, i64, f64)>,
    pub metadata: Vec<(String, Metadata)>,
}

/// The state of every target after the latest scrape, for `/api/v1/targets`.
#[derive(Default)]
pub struct Health(std::sync::Mutex<Vec<serde_json::Value>>);

impl Health {
    /// `data` of `/api/v1/targets`, in Prometheus's shape.
    pub fn targets_json(&self) -> serde_json::Value {
        let active = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        serde_json::json!({"activeTargets": active, "droppedTargets": []})
    }

    fn set(&self, v: Vec<serde_json::Value>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = v;
    }
}

/// One target's entry of `/api/v1/targets`.
fn target_json(t: &Target, at_ms: i64, took: Duration, error: Option<&str>) -> serde_json::Value {
    let labels: serde_json::Map<String, serde_json::Value> = t
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let job = t
        .labels
        .iter()
        .find(|(k, _)| k == "job")
        .map_or("", |(_, v)| v.as_str());
    serde_json::json!({
        "labels": labels,
        "scrapePool": job,
        "scrapeUrl": t.url,
        "globalUrl": t.url,
        "lastError": error.unwrap_or(""),
        "lastScrape": deskd_metrics::rules::rfc3339(at_ms),
        "lastScrapeDuration": took.as_secs_f64(),
        "health": if error.is_none() { "up" } else { "down" },
    })
}

/// Scrapes targets and remembers each target's series for staleness.
pub struct Scraper {
    client: reqwest::Client,
    timeout: Duration,
    /// Per target: the series it yielded last time (its `up` & co. included).
    previous: HashMap<Target, HashSet<Labels>>,
}

impl Scraper {
    pub fn new(timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("deskd/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Scraper {
            client,
            timeout,
            previous: HashMap::new(),
        }
    }

    /// Scrapes every target at once; samples are stamped `at_ms`. Each target's outcome goes
    /// to `health`.
    pub async fn scrape(&mut self, targets: Vec<Target>, at_ms: i64, health: &Health) -> Scraped {
        let mut states = Vec::with_capacity(targets.len());
        let fetches = targets.iter().map(|t| self.fetch(&t.url));
        let bodies = futures::future::join_all(fetches).await;
        let mut out = Scraped::default();
        let mut seen: HashMap<Target, HashSet<Labels>> = HashMap::new();
        for (t, (body, took)) in targets.into_iter().zip(bodies) {
            let parsed = body.and_then(|text| {
                deskd_metrics::text::parse(&text).map_err(|e| format!("bad exposition: {e}"))
            });
            let mut series = HashSet::new();
            states.push(target_json(
                &t,
                at_ms,
                took,
                parsed.as_ref().err().map(String::as_str),
            ));
            let (up, count) = match parsed {
                Ok(exp) => {
                    let n = exp.samples.len();
                    for s in exp.samples {
                        let labels = relabel(&s.labels, &t.labels);
                        if series.insert(labels.clone()) {
                            out.samples.push((labels, at_ms, s.v));
                        }
                    }
                    out.metadata.extend(exp.metadata);
                    (1.0, n as f64)
                }
                Err(e) => {
                    tracing::debug!(target = %t.url, error = %e, "exporter scrape failed");
                    (0.0, 0.0)
                }
            };
            for (name, v) in [
                ("up", up),
                ("scrape_duration_seconds", took.as_secs_f64()),
                ("scrape_samples_scraped", count),
            ] {
                let mut pairs = t.labels.clone();
                pairs.push(("__name__".into(), name.into()));
                let labels = Labels::new(pairs);
                series.insert(labels.clone());
                out.samples.push((labels, at_ms, v));
            }
            seen.insert(t, series);
        }
        // Series gone since the previous scrape, from a live, a down or a removed target.
        for (t, before) in &self.previous {
            let now = seen.get(t);
            for l in before {
                if now.is_none_or(|n| !n.contains(l)) {
                    out.samples.push((l.clone(), at_ms, stale_nan()));
                }
            }
        }
        self.previous = seen;
        health.set(states);
        out
    }

    /// The body of one exporter, or why not, and how long it took.
    async fn fetch(&self, url: &str) -> (Result<String, String>, Duration) {
        let started = Instant::now();
        let result = tokio::time::timeout(self.timeout, async {
            let resp = self
                .client
                .get(url)
                .header(
                    reqwest::header::ACCEPT,
                    "text/plain;version=0.0.4;q=1,*/*;q=0.1",
                )
                .send()
                .await
                .map_err(|e| describe(&e, self.timeout))?;
            if !resp.status().is_success() {
                return Err(format!("HTTP {}", resp.status()));
            }
            if resp
                .content_length()
                .is_some_and(|n| n > MAX_BODY_BYTES as u64)
            {
                return Err("body too large".into());
            }
            let bytes = resp.bytes().await.map_err(|e| describe(&e, self.timeout))?;
            if bytes.len() > MAX_BODY_BYTES {
                return Err("body too large".into());
            }
            String::from_utf8(bytes.to_vec()).map_err(|_| "body is not UTF-8".to_string())
        })
        .await
        .unwrap_or_else(|_| Err(format!("timed out after {:?}", self.timeout)));
        (result, started.elapsed())
    }
}

/// A failed request with its causes (reqwest's own message leaves them out).
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {timeout:?}");
    }
    let mut msg = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        cause = c.source();
    }
    msg
}

/// The target's labels over the sample's; a sample label they would replace is kept as
/// `exported_<name>` (Prometheus's `honor_labels: false`).
fn relabel(sample: &Labels, target: &[(String, String)]) -> Labels {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, v) in sample.iter() {
        let clash = target.iter().any(|(n, _)| n == k) && TARGET_LABELS.contains(&k);
        if clash {
            pairs.push((format!("exported_{k}"), v.to_string()));
        } else {
            pairs.push((k.to_string(), v.to_string()));
        }
    }
    pairs.extend(target.iter().cloned());
    Labels::new(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_labels_win_and_the_exporters_are_kept_as_exported() {
        let sample = Labels::new(vec![
            ("__name__".into(), "node_load1".into()),
            ("instance".into(), "inside".into()),
            ("cpu".into(), "0".into()),
        ]);
        let l = relabel(
            &sample,
            &[
                ("job".into(), "node".into()),
                ("instance".into(), "10.0.0.5:9100".into()),
            ],
        );
        let got: Vec<(String, String)> = l
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert!(got.contains(&("instance".into(), "10.0.0.5:9100".into())));
        assert!(got.contains(&("exported_instance".into(), "inside".into())));
        assert!(got.contains(&("cpu".into(), "0".into())));
        assert_eq!(instance("http://10.0.0.5:9100/metrics"), "10.0.0.5:9100");
        assert_eq!(instance("https://node.example/metrics"), "node.example:443");
    }

    #[test]
    fn exporter_urls_are_checked() {
        assert_eq!(exporter_url(" ", "f").unwrap(), None);
        assert!(exporter_url("http://10.0.0.5:9100/metrics", "f")
            .unwrap()
            .is_some());
        assert!(exporter_url("10.0.0.5:9100", "f").is_err());
    }
}
