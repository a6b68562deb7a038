//! Alerting and recording rules on the engine: pending, firing after `for`, resolved when the
//! condition ends; recorded series; reloads that keep the old rules on a bad file.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use deskd_metrics::labels::Labels;
use deskd_metrics::promql::{Engine, EngineOptions};
use deskd_metrics::rules::Rules;
use deskd_metrics::storage::Storage;

const T0: i64 = 1_700_000_000_000;

fn up(host: &str, t: i64, v: f64) -> (Labels, i64, f64) {
    let pairs = [("__name__", "up"), ("job", "node"), ("host_id", host)];
    let l = Labels::new(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    (l, t, v)
}

const RULES: &str = r#"groups:
- name: defaults
  interval: 15s
  rules:
  - alert: host_running_status
    expr: up{host_id=~".*",job="node"} != 1
    for: 30s
    labels:
      severity: critical
    annotations:
      summary: "host {{ $labels.host_id }} is down ({{ $value }})"
    sendby: email
  - record: job:up:sum
    expr: sum by (job) (up)
"#;

fn setup() -> (tempfile::TempDir, Arc<Engine>, Rules) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, RULES).unwrap();
    let engine = Arc::new(Engine::new(
        Arc::new(Storage::default()),
        EngineOptions::default(),
    ));
    let rules = Rules::open(engine.clone(), &path).unwrap();
    (dir, engine, rules)
}

fn state(rules: &Rules) -> String {
    rules.rules_json()["groups"][0]["rules"][0]["state"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_alert_goes_pending_then_firing_and_resolves() {
    let (_dir, engine, rules) = setup();
    let store = engine.storage();
    // h1 is up throughout; h2 goes down at T0+15s and comes back at T0+75s.
    for i in 0..8 {
        let t = T0 + i * 15_000;
        let h2 = if (1..5).contains(&i) { 0.0 } else { 1.0 };
        store.append(&[up("h1", t, 1.0), up("h2", t, h2)]).unwrap();
    }
    rules.evaluate_due(T0 + 1_000);
    assert_eq!(state(&rules), "inactive");
    rules.evaluate_due(T0 + 16_000);
    assert_eq!(state(&rules), "pending");
    let alerts = rules.alerts_json();
    assert_eq!(alerts["alerts"][0]["state"], "pending");
    assert_eq!(alerts["alerts"][0]["labels"]["host_id"], "h2");
    assert_eq!(
        alerts["alerts"][0]["labels"]["alertname"],
        "host_running_status"
    );
    assert_eq!(
        alerts["alerts"][0]["annotations"]["summary"],
        "host h2 is down (0)"
    );
    assert_eq!(alerts["alerts"][0]["value"], "0e+00");
    rules.evaluate_due(T0 + 31_000);
    assert_eq!(state(&rules), "pending", "for: 30s has not passed");
    rules.evaluate_due(T0 + 46_000);
    assert_eq!(state(&rules), "firing");
    assert_eq!(rules.alerts_json()["alerts"][0]["sendby"], "email");
    rules.evaluate_due(T0 + 76_000);
    assert_eq!(state(&rules), "inactive", "resolved once h2 is back");
    assert!(rules.alerts_json()["alerts"].as_array().unwrap().is_empty());

    // The recording rule wrote its series, and the alert its ALERTS series.
    let v = engine.instant("job:up:sum", T0 + 76_000).unwrap();
    assert!(format!("{v:?}").contains('2'), "{v:?}");
    let fired = engine
        .instant("ALERTS{alertstate=\"firing\"}", T0 + 46_000)
        .unwrap();
    assert!(format!("{fired:?}").contains("h2"), "{fired:?}");
    let rule = &rules.rules_json()["groups"][0]["rules"][0];
    assert_eq!(rule["uuid"].as_str().map(str::len), Some(16));
    assert_eq!(rule["health"], "ok");
    assert_eq!(rule["duration"], 30.0);
}

#[test]
fn a_bad_reload_keeps_the_rules_in_force() {
    let (dir, _engine, rules) = setup();
    let path = dir.path().join("rules.yaml");
    std::fs::write(
        &path,
        "groups:\n- name: defaults\n  rules:\n  - alert: x\n    expr: up{\n",
    )
    .unwrap();
    let e = rules.reload().unwrap_err();
    assert_eq!(e.line, 4, "{e}");
    assert_eq!(
        rules.rules_json()["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    std::fs::write(&path, RULES.replace("for: 30s", "for: 1m")).unwrap();
    assert_eq!(rules.reload().unwrap(), 2);
    assert_eq!(
        rules.rules_json()["groups"][0]["rules"][0]["duration"],
        60.0
    );
}
