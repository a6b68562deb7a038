//! Recording and alerting rules in Prometheus's rule-file format, evaluated on the embedded
//! engine, with `/api/v1/rules` and `/api/v1/alerts` in Prometheus's JSON plus the document's
//! `sendby` and `uuid` (API.md 7.4, 7.5). A reload that finds a bad file keeps the old rules and
//! says which line and why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value as J};

use crate::labels::Labels;
use crate::promql::{parse, Engine, Value};

/// Evaluation interval of a group that names none (Prometheus's default).
const DEFAULT_INTERVAL_MS: i64 = 60_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileYaml {
    groups: Vec<GroupYaml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupYaml {
    name: String,
    #[serde(default)]
    interval: Option<String>,
    rules: Vec<RuleYaml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleYaml {
    #[serde(default)]
    alert: Option<String>,
    #[serde(default)]
    record: Option<String>,
    expr: String,
    #[serde(default, rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    /// How a firing alert is sent (the document's vendor field).
    #[serde(default)]
    sendby: Option<String>,
    #[serde(default)]
    uuid: Option<String>,
}

/// A rule file that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct RuleError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum AlertState {
    Pending,
    Firing,
}

impl AlertState {
    fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

#[derive(Debug, Clone)]
struct Alert {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    state: AlertState,
    active_at_ms: i64,
    value: f64,
    /// When it was last sent to the notifier (0: never).
    sent_ms: i64,
}

#[derive(Debug, Clone)]
enum Kind {
    Alerting {
        for_ms: i64,
        annotations: BTreeMap<String, String>,
        /// Active alerts by their label set.
        alerts: BTreeMap<Vec<(String, String)>, Alert>,
    },
    Recording,
}

#[derive(Debug, Clone)]
struct Rule {
    name: String,
    query: String,
    labels: BTreeMap<String, String>,
    kind: Kind,
    sendby: String,
    uuid: String,
    health: &'static str,
    last_error: Option<String>,
    last_eval_ms: i64,
    eval_seconds: f64,
}

#[derive(Debug, Clone)]
struct Group {
    name: String,
    file: String,
    interval_ms: i64,
    rules: Vec<Rule>,
    next_due_ms: i64,
}

/// Parses and checks a rule file's text; `file` names it in errors and in `/api/v1/rules`.
fn load_text(file: &str, text: &str) -> Result<Vec<Group>, RuleError> {
    let err = |line: usize, reason: String| RuleError {
        file: file.to_string(),
        line,
        reason,
    };
    let parsed: FileYaml = serde_yaml::from_str(text).map_err(|e| {
        let line = e.location().map_or(0, |l| l.line());
        err(line, e.to_string())
    })?;
    let mut groups = Vec::new();
    for g in parsed.groups {
        let line = line_of(text, &format!("name: {}", g.name));
        if groups.iter().any(|x: &Group| x.name == g.name) {
            return Err(err(line, format!("group `{}` is defined twice", g.name)));
        }
        let interval_ms = match &g.interval {
            None => DEFAULT_INTERVAL_MS,
            Some(s) => positive_duration(s)
                .ok_or_else(|| err(line, format!("group `{}`: bad interval `{s}`", g.name)))?,
        };
        let rules = g
            .rules
            .into_iter()
            .map(|r| rule(text, &g.name, r).map_err(|(line, why)| err(line, why)))
            .collect::<Result<Vec<_>, _>>()?;
        groups.push(Group {
            name: g.name,
            file: file.to_string(),
            interval_ms,
            rules,
            next_due_ms: 0,
        });
    }
    Ok(groups)
}

/// One checked rule, or the line and reason it is refused.
fn rule(text: &str, group: &str, r: RuleYaml) -> Result<Rule, (usize, String)> {
    let (name, alerting) = match (&r.alert, &r.record) {
        (Some(a), None) => (a.clone(), true),
        (None, Some(n)) => (n.clone(), false),
        _ => {
            let line = line_of(text, &format!("expr: {}", r.expr));
            return Err((
                line,
                format!("group `{group}`: a rule needs exactly one of `alert` and `record`"),
            ));
        }
    };
    let key = if alerting { "alert" } else { "record" };
    let line = line_of(text, &format!("{key}: {name}"));
    let why = |s: String| (line, format!("group `{group}`, rule `{name}`: {s}"));
    if !alerting && !crate::labels::valid_metric_name(&name) {
        return Err(why("`record` must be a valid metric name".into()));
    }
    parse(&r.expr).map_err(|e| why(format!("expr: {e}")))?;
    if let Some(bad) = r
        .labels
        .keys()
        .find(|k| !crate::labels::valid_label_name(k))
    {
        return Err(why(format!("label name `{bad}` is not valid")));
    }
    let kind = if alerting {
        let for_ms = match &r.for_ {
            None => 0,
            Some(s) => crate::http::parse_duration(s)
                .filter(|d| *d >= 0)
                .ok_or_else(|| why(format!("bad `for` duration `{s}`")))?,
        };
        Kind::Alerting {
            for_ms,
            annotations: r.annotations,
            alerts: BTreeMap::new(),
        }
    } else {
        if r.for_.is_some() || !r.annotations.is_empty() {
            return Err(why(
                "a recording rule takes no `for` or `annotations`".into()
            ));
        }
        Kind::Recording
    };
    Ok(Rule {
        uuid: r.uuid.unwrap_or_else(|| stable_id(group, &name)),
        sendby: r.sendby.unwrap_or_default(),
        name,
        query: r.expr,
        labels: r.labels,
        kind,
        health: "unknown",
        last_error: None,
        last_eval_ms: 0,
        eval_seconds: 0.0,
    })
}

fn positive_duration(s: &str) -> Option<i64> {
    crate::http::parse_duration(s).filter(|d| *d > 0)
}

/// The 1-based line where `needle` first appears (0 when it does not).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(0, |i| i + 1)
}

/// A rule's id when the file gives none: the same for the same group and name across reloads.
fn stable_id(group: &str, name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in group.bytes().chain([0]).chain(name.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Alertmanager notifications: which alerts to send, collected at evaluation.
struct Outbox {
    /// Where `generatorURL` points: this base plus `?query=<expr>`.
    generator: String,
    /// A firing alert is sent again after this long (Prometheus: one minute).
    resend_ms: i64,
    /// Alerts in Alertmanager's JSON, waiting for [`Rules::take_notifications`].
    queue: Vec<J>,
}

/// Most alerts kept waiting for a notifier that does not come to fetch them.
const MAX_QUEUED: usize = 10_000;

/// The rule files' groups and their evaluation state.
pub struct Rules {
    engine: Arc<Engine>,
    path: PathBuf,
    groups: Mutex<Vec<Group>>,
    outbox: Mutex<Option<Outbox>>,
}

impl Rules {
    /// Loads the rule file at `path` (a missing file is no rules).
    pub fn open(engine: Arc<Engine>, path: &Path) -> Result<Rules, RuleError> {
        let rules = Rules {
            engine,
            path: path.to_path_buf(),
            groups: Mutex::new(Vec::new()),
            outbox: Mutex::new(None),
        };
        rules.reload()?;
        Ok(rules)
    }

    /// Reads the file again; on an error the rules in force stay. Alerts of rules that keep
    /// their group and name carry over.
    pub fn reload(&self) -> Result<usize, RuleError> {
        let file = self.path.display().to_string();
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::from("groups: []"),
            Err(e) => {
                return Err(RuleError {
                    file,
                    line: 0,
                    reason: e.to_string(),
                })
            }
        };
        let mut fresh = load_text(&file, &text)?;
        let mut groups = self.lock();
        for g in &mut fresh {
            for r in &mut g.rules {
                if let Some(old) = find(&groups, &g.name, &r.name) {
                    carry_over(old, r);
                }
            }
        }
        let n = fresh.iter().map(|g| g.rules.len()).sum();
        *groups = fresh;
        Ok(n)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Group>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Collects Alertmanager notifications from now on: firing alerts when they start firing
    /// and every `resend` while they fire, resolved alerts once. `generator` is the base of
    /// each alert's `generatorURL` (`<generator>?query=<expr>`).
    pub fn enable_notifications(&self, generator: &str, resend: Duration) {
        *self.outbox.lock().unwrap_or_else(|p| p.into_inner()) = Some(Outbox {
            generator: generator.to_string(),
            resend_ms: i64::try_from(resend.as_millis()).unwrap_or(i64::MAX),
            queue: Vec::new(),
        });
    }

    /// The notifications collected so far, in Alertmanager's `POST /api/v2/alerts` form.
    pub fn take_notifications(&self) -> Vec<J> {
        let mut outbox = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
        outbox
            .as_mut()
            .map(|o| std::mem::take(&mut o.queue))
            .unwrap_or_default()
    }

    /// Evaluates every group that is due at `now_ms`.
    pub fn evaluate_due(&self, now_ms: i64) {
        let mut groups = self.lock();
        let mut out = Vec::new();
        let mut outbox = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
        for g in groups.iter_mut().filter(|g| g.next_due_ms <= now_ms) {
            g.next_due_ms = now_ms + g.interval_ms;
            for r in &mut g.rules {
                let mut resolved = Vec::new();
                evaluate(&self.engine, r, now_ms, &mut out, &mut resolved);
                if let Some(o) = outbox.as_mut() {
                    o.collect(r, g.interval_ms, now_ms, resolved);
                }
            }
        }
        drop(outbox);
        drop(groups);
        if !out.is_empty() {
            if let Err(e) = self.engine.storage().append(&out) {
                tracing::warn!(error = %e, "rule results not stored");
            }
        }
    }

    /// Evaluates due groups every second until the task is aborted.
    pub fn spawn(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let me = self.clone();
                let _ = tokio::task::spawn_blocking(move || me.evaluate_due(crate::http::now_ms()))
                    .await;
            }
        })
    }

    /// `data` of `/api/v1/rules`.
    pub fn rules_json(&self) -> J {
        let groups: Vec<J> = self.lock().iter().map(group_json).collect();
        json!({ "groups": groups })
    }

    /// `data` of `/api/v1/alerts`.
    pub fn alerts_json(&self) -> J {
        let mut alerts = Vec::new();
        for g in self.lock().iter() {
            for r in &g.rules {
                if let Kind::Alerting { alerts: a, .. } = &r.kind {
                    alerts.extend(a.values().map(|x| alert_json(x, &r.sendby)));
                }
            }
        }
        json!({ "alerts": alerts })
    }
}

impl Outbox {
    /// Queues `r`'s alerts that are due: newly firing, firing and not sent for `resend_ms`,
    /// and the `resolved` ones that had been firing.
    fn collect(&mut self, r: &mut Rule, interval_ms: i64, now: i64, resolved: Vec<Alert>) {
        let Kind::Alerting { alerts, .. } = &mut r.kind else {
            return;
        };
        // As Prometheus: a firing alert is valid for four resend periods unless renewed.
        let valid_until = now + 4 * self.resend_ms.max(interval_ms);
        let url = format!(
            "{}?query={}",
            self.generator,
            form_urlencoded::byte_serialize(r.query.as_bytes()).collect::<String>()
        );
        for a in alerts
            .values_mut()
            .filter(|a| a.state == AlertState::Firing)
        {
            if a.sent_ms == 0 || now - a.sent_ms >= self.resend_ms {
                a.sent_ms = now;
                self.queue
                    .push(notification(a, &r.sendby, valid_until, &url));
            }
        }
        for a in resolved.iter().filter(|a| a.state == AlertState::Firing) {
            self.queue.push(notification(a, &r.sendby, now, &url));
        }
        if self.queue.len() > MAX_QUEUED {
            let extra = self.queue.len() - MAX_QUEUED;
            self.queue.drain(..extra);
        }
    }
}

/// One alert as Alertmanager's API v2 takes it; `sendby` rides along as an annotation.
fn notification(a: &Alert, sendby: &str, ends_ms: i64, url: &str) -> J {
    let mut annotations = a.annotations.clone();
    if !sendby.is_empty() {
        annotations.insert("sendby".into(), sendby.into());
    }
    json!({
        "labels": a.labels,
        "annotations": annotations,
        "startsAt": rfc3339(a.active_at_ms),
        "endsAt": rfc3339(ends_ms),
        "generatorURL": url,
    })
}

fn find<'a>(groups: &'a [Group], group: &str, name: &str) -> Option<&'a Rule> {
    groups
        .iter()
        .filter(|g| g.name == group)
        .flat_map(|g| g.rules.iter())
        .find(|r| r.name == name)
}

fn carry_over(old: &Rule, new: &mut Rule) {
    if let (Kind::Alerting { alerts: a, .. }, Kind::Alerting { alerts: b, .. }) =
        (&old.kind, &mut new.kind)
    {
        *b = a.clone();
    }
    new.health = old.health;
    new.last_error = old.last_error.clone();
    new.last_eval_ms = old.last_eval_ms;
}

/// Runs one rule at `now`, updating its alerts or adding its recorded samples to `out`
/// (alerting rules add their `ALERTS` series, as Prometheus does); alerts that ended go to
/// `resolved`.
fn evaluate(
    engine: &Engine,
    r: &mut Rule,
    now: i64,
    out: &mut Vec<(Labels, i64, f64)>,
    resolved: &mut Vec<Alert>,
) {
    let started = std::time::Instant::now();
    let result = engine.instant(&r.query, now);
    r.last_eval_ms = now;
    r.eval_seconds = started.elapsed().as_secs_f64();
    let samples = match result {
        Ok(Value::Vector(v)) => v.into_iter().map(|s| (s.labels, s.v)).collect(),
        Ok(Value::Scalar(v)) => vec![(Labels::new(Vec::new()), v)],
        Ok(other) => {
            r.health = "err";
            r.last_error = Some(format!(
                "rule result is a {}, not a vector",
                other.type_name()
            ));
            return;
        }
        Err(e) => {
            r.health = "err";
            r.last_error = Some(e.to_string());
            return;
        }
    };
    r.health = "ok";
    r.last_error = None;
    match &mut r.kind {
        Kind::Recording => {
            for (labels, v) in samples {
                out.push((with_labels(&labels, &r.name, &r.labels), now, v));
            }
        }
        Kind::Alerting {
            for_ms,
            annotations,
            alerts,
        } => {
            let mut seen = BTreeMap::new();
            for (labels, v) in samples {
                let mut set = base_labels(&labels);
                set.extend(r.labels.clone());
                set.insert("alertname".into(), r.name.clone());
                let key: Vec<(String, String)> = set.clone().into_iter().collect();
                let active_at = alerts.get(&key).map_or(now, |a| a.active_at_ms);
                let sent_ms = alerts.get(&key).map_or(0, |a| a.sent_ms);
                let state = if now - active_at >= *for_ms {
                    AlertState::Firing
                } else {
                    AlertState::Pending
                };
                let annotations = annotations
                    .iter()
                    .map(|(k, t)| (k.clone(), expand(t, &set, v)))
                    .collect();
                seen.insert(
                    key,
                    Alert {
                        labels: set,
                        annotations,
                        state,
                        active_at_ms: active_at,
                        value: v,
                        sent_ms,
                    },
                );
            }
            let old = std::mem::replace(alerts, seen);
            resolved.extend(
                old.into_iter()
                    .filter(|(k, _)| !alerts.contains_key(k))
                    .map(|(_, a)| a),
            );
            for a in alerts.values() {
                let mut pairs: Vec<(String, String)> = a.labels.clone().into_iter().collect();
                pairs.push(("__name__".into(), "ALERTS".into()));
                pairs.push(("alertstate".into(), a.state.as_str().into()));
                out.push((Labels::new(pairs), now, 1.0));
            }
        }
    }
}

/// A sample's labels without its metric name.
fn base_labels(l: &Labels) -> BTreeMap<String, String> {
    l.iter()
        .filter(|(n, _)| *n != "__name__")
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn with_labels(l: &Labels, name: &str, extra: &BTreeMap<String, String>) -> Labels {
    let mut set = base_labels(l);
    set.extend(extra.clone());
    let mut pairs: Vec<(String, String)> = set.into_iter().collect();
    pairs.push(("__name__".into(), name.into()));
    Labels::new(pairs)
}

/// The templates Prometheus's annotations use most: `{{ $labels.name }}` and `{{ $value }}`.
fn expand(template: &str, labels: &BTreeMap<String, String>, value: f64) -> String {
    let mut out = template.to_string();
    for (k, v) in labels {
        for form in [
            format!("{{{{ $labels.{k} }}}}"),
            format!("{{{{$labels.{k}}}}}"),
        ] {
            out = out.replace(&form, v);
        }
    }
    for form in ["{{ $value }}", "{{$value}}"] {
        out = out.replace(form, &format!("{value}"));
    }
    out
}

fn group_json(g: &Group) -> J {
    let rules: Vec<J> = g.rules.iter().map(rule_json).collect();
    json!({
        "name": g.name,
        "file": g.file,
        "rules": rules,
        "interval": g.interval_ms as f64 / 1e3,
        "limit": 0,
        "evaluationTime": g.rules.iter().map(|r| r.eval_seconds).sum::<f64>(),
        "lastEvaluation": rfc3339(g.rules.iter().map(|r| r.last_eval_ms).max().unwrap_or(0)),
    })
}

fn rule_json(r: &Rule) -> J {
    let mut j = json!({
        "name": r.name,
        "query": r.query,
        "labels": r.labels,
        "health": r.health,
        "evaluationTime": r.eval_seconds,
        "lastEvaluation": rfc3339(r.last_eval_ms),
        "sendby": r.sendby,
        "uuid": r.uuid,
    });
    if let Some(e) = &r.last_error {
        j["lastError"] = json!(e);
    }
    match &r.kind {
        Kind::Recording => j["type"] = json!("recording"),
        Kind::Alerting {
            for_ms,
            annotations,
            alerts,
        } => {
            let state = alerts
                .values()
                .map(|a| a.state)
                .fold("inactive", |s, a| match (s, a) {
                    (_, AlertState::Firing) | ("firing", _) => "firing",
                    _ => "pending",
                });
            j["type"] = json!("alerting");
            j["state"] = json!(state);
            j["duration"] = json!(*for_ms as f64 / 1e3);
            j["annotations"] = json!(annotations);
            j["alerts"] = J::Array(alerts.values().map(|a| alert_json(a, &r.sendby)).collect());
        }
    }
    j
}

fn alert_json(a: &Alert, sendby: &str) -> J {
    json!({
        "labels": a.labels,
        "annotations": a.annotations,
        "state": a.state.as_str(),
        "activeAt": rfc3339(a.active_at_ms),
        "value": go_exp(a.value),
        "severity": a.labels.get("severity").cloned().unwrap_or_default(),
        "sendby": sendby,
    })
}

/// A float the way Prometheus prints alert values (Go's `%e` with the shortest precision).
fn go_exp(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let s = format!("{v:e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let exp: i32 = e.parse().unwrap_or(0);
            let sign = if exp < 0 { '-' } else { '+' };
            format!("{m}e{sign}{:02}", exp.abs())
        }
        None => s,
    }
}

/// Epoch ms as RFC 3339 in UTC with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::promql::functions::civil(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Every route of [`router`], for documentation.
pub const ENDPOINTS: &[crate::http::Endpoint] = &[
    crate::http::Endpoint {
        path: "/api/v1/rules",
        methods: &["GET"],
        summary: "Recording and alerting rule groups",
        section: Some("7.4"),
    },
    crate::http::Endpoint {
        path: "/api/v1/alerts",
        methods: &["GET"],
        summary: "Active alerts",
        section: Some("7.5"),
    },
    crate::http::Endpoint {
        path: "/-/reload",
        methods: &["POST"],
        summary: "Reload the rule file (a bad file is refused and the rules in force stay)",
        section: None,
    },
];

/// `/api/v1/rules`, `/api/v1/alerts` and `POST /-/reload` over one rule set.
pub fn router(rules: Arc<Rules>) -> Router {
    Router::new()
        .route("/api/v1/rules", get(rules_handler))
        .route("/api/v1/alerts", get(alerts_handler))
        .route("/-/reload", post(reload_handler))
        .with_state(rules)
}

async fn rules_handler(State(r): State<Arc<Rules>>) -> Json<J> {
    Json(json!({"status": "success", "data": r.rules_json()}))
}

async fn alerts_handler(State(r): State<Arc<Rules>>) -> Json<J> {
    Json(json!({"status": "success", "data": r.alerts_json()}))
}

async fn reload_handler(State(r): State<Arc<Rules>>) -> Response {
    match r.reload() {
        Ok(n) => Json(json!({"status": "success", "data": {"rules": n}})).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"status": "error", "errorType": "bad_data", "error": e.to_string()})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_prometheus() {
        assert_eq!(go_exp(1.0), "1e+00");
        assert_eq!(go_exp(0.5), "5e-01");
        assert_eq!(go_exp(1234.5), "1.2345e+03");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn bad_files_name_the_line_and_the_reason() {
        let e = load_text(
            "r.yaml",
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: sum(\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(
            e.reason.contains("rule `A`") && e.reason.contains("expr"),
            "{e}"
        );
        let e = load_text(
            "r.yaml",
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    for: soon\n",
        )
        .unwrap_err();
        assert!(e.reason.contains("`for`"), "{e}");
        let e = load_text("r.yaml", "groups:\n  - name: g\n    rulez: []\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let e = load_text("r.yaml", "groups:\n- name: g\n  rules:\n  - expr: up\n").unwrap_err();
        assert!(e.reason.contains("exactly one"), "{e}");
    }
}

#[cfg(test)]
mod notification_tests {
    use super::*;
    use crate::promql::EngineOptions;
    use crate::storage::{Storage, StorageConfig};

    #[test]
    fn firing_alerts_are_sent_then_resent_and_resolved_once() {
        let storage = Arc::new(Storage::new(StorageConfig::default()));
        let engine = Arc::new(Engine::new(storage.clone(), EngineOptions::default()));
        let path = std::env::temp_dir().join(format!("deskd-rules-{}.yaml", std::process::id()));
        std::fs::write(
            &path,
            "groups:\n- name: g\n  interval: 1s\n  rules:\n  - alert: Down\n    expr: up == 0\n    sendby: email\n",
        )
        .unwrap();
        let rules = Rules::open(engine, &path).unwrap();
        let _ = std::fs::remove_file(&path);
        rules.enable_notifications("http://deskd/api/v1/query", Duration::from_secs(60));
        let up = |v: f64, t: i64| {
            let l = Labels::new(vec![
                ("__name__".into(), "up".into()),
                ("job".into(), "node".into()),
            ]);
            storage.append(&[(l, t, v)]).unwrap();
        };
        let t0 = 1_700_000_000_000;
        up(0.0, t0);
        rules.evaluate_due(t0);
        let sent = rules.take_notifications();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0]["labels"]["alertname"], "Down");
        assert_eq!(sent[0]["annotations"]["sendby"], "email");
        assert_eq!(sent[0]["startsAt"], "2023-11-14T22:13:20.000Z");
        assert!(sent[0]["generatorURL"]
            .as_str()
            .unwrap()
            .ends_with("?query=up+%3D%3D+0"));
        up(0.0, t0 + 1_000);
        rules.evaluate_due(t0 + 1_000);
        assert!(
            rules.take_notifications().is_empty(),
            "not again before the resend"
        );
        up(0.0, t0 + 61_000);
        rules.evaluate_due(t0 + 61_000);
        assert_eq!(rules.take_notifications().len(), 1, "resent after a minute");
        up(1.0, t0 + 62_000);
        rules.evaluate_due(t0 + 62_000);
        let sent = rules.take_notifications();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0]["endsAt"], "2023-11-14T22:14:22.000Z",
            "resolved now"
        );
        rules.evaluate_due(t0 + 63_000);
        assert!(rules.take_notifications().is_empty());
    }
}
