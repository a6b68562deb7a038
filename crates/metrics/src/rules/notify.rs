//! Alertmanager notifications: which alerts are due to be sent, in Alertmanager's API v2 form.

use serde_json::{json, Value as J};

use super::json::rfc3339;
use super::{Alert, AlertState, Kind, Rule};

/// Alertmanager notifications: which alerts to send, collected at evaluation.
pub(super) struct Outbox {
    /// Where `generatorURL` points: this base plus `?query=<expr>`.
    pub(super) generator: String,
    /// A firing alert is sent again after this long (Prometheus: one minute).
    pub(super) resend_ms: i64,
    /// Alerts in Alertmanager's JSON, waiting for
    /// [`super::Rules::take_notifications`].
    pub(super) queue: Vec<J>,
}

/// Most alerts kept waiting for a notifier that does not come to fetch them.
const MAX_QUEUED: usize = 10_000;

impl Outbox {
    /// Queues `r`'s alerts that are due: newly firing, firing and not sent for `resend_ms`,
    /// and the `resolved` ones that had been firing.
    pub(super) fn collect(
        &mut self,
        r: &mut Rule,
        interval_ms: i64,
        now: i64,
        resolved: Vec<Alert>,
    ) {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::labels::Labels;
    use crate::promql::{Engine, EngineOptions};
    use crate::rules::Rules;
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
