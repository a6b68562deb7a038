//! Recording and alerting rules in Prometheus's rule-file format, evaluated on the embedded
//! engine, with `/api/v1/rules` and `/api/v1/alerts` in Prometheus's JSON plus the document's
//! `sendby` and `uuid` (API.md 7.4, 7.5). A reload that finds a bad file keeps the old rules and
//! says which line and why.
//!
//! `parse` reads and checks a rule file, `eval` runs a rule against the engine, `notify` queues
//! Alertmanager notifications, `json` renders Prometheus's JSON, `api` serves the routes.

mod api;
mod eval;
pub(crate) mod json;
mod notify;
mod parse;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value as J};

use crate::promql::Engine;

pub use api::{router, ENDPOINTS};
pub use json::rfc3339;

use eval::evaluate;
use json::{alert_json, group_json};
use notify::Outbox;
use parse::load_text;

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

/// The rule files' groups and their evaluation state.
pub struct Rules {
    engine: Arc<Engine>,
    path: PathBuf,
    groups: Mutex<Vec<Group>>,
    outbox: Mutex<Option<Outbox>>,
}

/// Checks a rule file's text as [`Rules::reload`] would, without loading it; the number of
/// rules it holds. For checkers and the fuzzer.
pub fn check_text(file: &str, text: &str) -> Result<usize, RuleError> {
    Ok(parse::load_text(file, text)?
        .iter()
        .map(|g| g.rules.len())
        .sum())
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
