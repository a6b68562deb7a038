//! Running one rule on the engine: recorded samples, alert states and the `ALERTS` series.

use std::collections::BTreeMap;

use super::{Alert, AlertState, Kind, Rule};
use crate::labels::Labels;
use crate::promql::{Engine, Value};

/// Runs one rule at `now`, updating its alerts or adding its recorded samples to `out`
/// (alerting rules add their `ALERTS` series, as Prometheus does); alerts that ended go to
/// `resolved`.
pub(super) fn evaluate(
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
