//! Reading a rule file: the YAML it must have, checked rule by rule, with the line and reason of
//! the first thing that is wrong.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Group, Kind, Rule, RuleError};
use crate::promql::parse;

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

/// Parses and checks a rule file's text; `file` names it in errors and in `/api/v1/rules`.
pub(super) fn load_text(file: &str, text: &str) -> Result<Vec<Group>, RuleError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
