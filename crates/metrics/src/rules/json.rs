//! `/api/v1/rules` and `/api/v1/alerts` data in Prometheus's JSON, with its number and time
//! formats.

use serde_json::{json, Value as J};

use super::{Alert, AlertState, Group, Kind, Rule};

pub(super) fn group_json(g: &Group) -> J {
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

pub(super) fn alert_json(a: &Alert, sendby: &str) -> J {
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
}
