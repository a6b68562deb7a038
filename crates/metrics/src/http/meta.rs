//! The metadata endpoints Grafana's Prometheus data source uses besides queries: label names and
//! values, series, metric metadata, exemplars and the status pages, with Prometheus 3's
//! parameters (`match[]`, `start`, `end`, `limit`) and answers (`web/api/v1/api.go`).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use promql_parser::parser::Expr;
use serde_json::{json, Value as Json};

use super::{json_labels, success, ApiError, Params};
use crate::labels::Labels;
use crate::promql::{parse, Engine};
use crate::storage::matcher_sets;

const TRUNCATED: &str = "results truncated due to limit";

/// When the process first served the API (`runtimeinfo`'s `startTime`).
fn started() -> SystemTime {
    static START: OnceLock<SystemTime> = OnceLock::new();
    *START.get_or_init(SystemTime::now)
}

/// Marks the process start; called when a router is built.
pub(super) fn mark_start() {
    started();
}

/// `data` with Prometheus's `warnings` list when there are any.
fn success_warned(data: Json, warnings: &[&str]) -> Response {
    if warnings.is_empty() {
        return success(data);
    }
    axum::Json(json!({"status": "success", "data": data, "warnings": warnings})).into_response()
}

/// The `limit` parameter: absent or 0 means none; it must be a non-negative integer.
fn limit_param(p: &Params) -> Result<usize, ApiError> {
    match p.get("limit") {
        None | Some("") => Ok(0),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n < 0 => Err(ApiError::param("limit", "limit must be non-negative")),
            Ok(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            Err(_) => Err(ApiError::param(
                "limit",
                format!("strconv.Atoi: parsing {s:?}: invalid syntax"),
            )),
        },
    }
}

/// Cuts `v` to `limit` (0: no limit), saying whether it did.
fn truncate<T>(v: &mut Vec<T>, limit: usize) -> Vec<&'static str> {
    if limit > 0 && v.len() > limit {
        v.truncate(limit);
        return vec![TRUNCATED];
    }
    Vec::new()
}

/// The time range of a metadata request: `start` and `end`, unbounded when absent.
fn range(p: &Params) -> Result<(i64, i64, bool), ApiError> {
    let bounded = p.get("start").is_some() || p.get("end").is_some();
    let start = p.time("start", Some(i64::MIN / 2))?;
    let end = p.time("end", Some(i64::MAX / 2))?;
    Ok((start, end, bounded))
}

/// The label sets selected by the `match[]` parameters (united) that have samples in the
/// request's range; without `match[]`, every series in the range, or `None` when the request
/// is unbounded too (the index answers that faster).
fn matched_series(
    engine: &Engine,
    p: &Params,
    required: bool,
) -> Result<Option<Vec<Labels>>, ApiError> {
    let matches = p.all("match[]");
    let (start, end, bounded) = range(p)?;
    if matches.is_empty() {
        if required {
            return Err(ApiError::bad_data("no match[] parameter provided"));
        }
        return Ok(bounded.then(|| engine.storage().series(&[], start, end)));
    }
    let mut out: Vec<Labels> = Vec::new();
    for m in matches {
        let vs = match parse(m) {
            Ok(Expr::VectorSelector(vs)) => vs,
            Ok(_) => {
                return Err(ApiError::param(
                    "match[]",
                    format!("{m:?} is not a series selector"),
                ))
            }
            Err(e) => return Err(ApiError::param("match[]", e)),
        };
        for set in matcher_sets(&vs) {
            out.extend(engine.storage().series(&set, start, end));
        }
    }
    out.sort();
    out.dedup();
    Ok(Some(out))
}

pub(super) async fn labels(
    State(engine): State<Arc<Engine>>,
    p: Params,
) -> Result<Response, ApiError> {
    let limit = limit_param(&p)?;
    let mut names = match matched_series(&engine, &p, false)? {
        None => engine.storage().label_names(),
        Some(series) => {
            let mut n: Vec<String> = series
                .iter()
                .flat_map(|l| l.iter().map(|(k, _)| k.to_string()))
                .collect();
            n.sort();
            n.dedup();
            n
        }
    };
    let warnings = truncate(&mut names, limit);
    Ok(success_warned(json!(names), &warnings))
}

/// A label name in the path, `U__`-escaped when it is not a classic name (Prometheus 3).
fn unescape_name(name: &str) -> String {
    let Some(rest) = name.strip_prefix("U__") else {
        return name.to_string();
    };
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let hex: String = chars.by_ref().take_while(|c| *c != '_').collect();
        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
            Some(ch) => out.push(ch),
            None => return name.to_string(),
        }
    }
    out
}

pub(super) async fn label_values(
    State(engine): State<Arc<Engine>>,
    Path(name): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let name = unescape_name(&name);
    if name.is_empty() || name.contains('\u{0}') {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let limit = limit_param(&p)?;
    let mut values = match matched_series(&engine, &p, false)? {
        None => engine.storage().label_values(&name),
        Some(series) => {
            let mut v: Vec<String> = series
                .iter()
                .filter_map(|l| l.get(&name).map(str::to_string))
                .collect();
            v.sort();
            v.dedup();
            v
        }
    };
    let warnings = truncate(&mut values, limit);
    Ok(success_warned(json!(values), &warnings))
}

pub(super) async fn series(
    State(engine): State<Arc<Engine>>,
    p: Params,
) -> Result<Response, ApiError> {
    if p.all("match[]").is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let limit = limit_param(&p)?;
    let mut series = matched_series(&engine, &p, true)?.unwrap_or_default();
    let warnings = truncate(&mut series, limit);
    Ok(success_warned(
        Json::Array(series.iter().map(json_labels).collect()),
        &warnings,
    ))
}

/// An integer parameter of `/metadata`, -1 when absent.
fn number_param(p: &Params, name: &str) -> Result<i64, ApiError> {
    match p.get(name) {
        None | Some("") => Ok(-1),
        Some(s) => s
            .parse::<i64>()
            .map_err(|_| ApiError::bad_data(format!("{name} must be a number"))),
    }
}

pub(super) async fn metadata(
    State(engine): State<Arc<Engine>>,
    p: Params,
) -> Result<Response, ApiError> {
    let limit = number_param(&p, "limit")?;
    let per_metric = number_param(&p, "limit_per_metric")?;
    let metric = p.get("metric").filter(|m| !m.is_empty());
    let mut out = BTreeMap::new();
    for (name, metas) in engine.storage().metadata() {
        if metric.is_some_and(|m| m != name) {
            continue;
        }
        if limit >= 0 && out.len() as i64 >= limit {
            break;
        }
        let list: Vec<Json> = metas
            .iter()
            .take(if per_metric > 0 {
                per_metric as usize
            } else {
                usize::MAX
            })
            .map(|m| {
                let kind = if m.kind.is_empty() {
                    "unknown"
                } else {
                    &m.kind
                };
                json!({"type": kind, "help": m.help, "unit": m.unit})
            })
            .collect();
        out.insert(name, Json::Array(list));
    }
    Ok(success(json!(out)))
}

/// deskd keeps no exemplars: a query with selectors gets an empty list, one without any gets
/// no `data` at all, as Prometheus answers.
pub(super) async fn query_exemplars(p: Params) -> Result<Response, ApiError> {
    let start = p.time("start", Some(i64::MIN / 2))?;
    let end = p.time("end", Some(i64::MAX / 2))?;
    if end < start {
        return Err(ApiError::bad_data(
            "end timestamp must not be before start timestamp",
        ));
    }
    let expr =
        parse(p.get("query").unwrap_or("")).map_err(|e| ApiError::bad_data(e.to_string()))?;
    if !has_selector(&expr) {
        return Ok(axum::Json(json!({"status": "success"})).into_response());
    }
    Ok(success(json!([])))
}

fn has_selector(e: &Expr) -> bool {
    match e {
        Expr::VectorSelector(_) | Expr::MatrixSelector(_) => true,
        Expr::Aggregate(a) => has_selector(&a.expr) || a.param.as_deref().is_some_and(has_selector),
        Expr::Unary(u) => has_selector(&u.expr),
        Expr::Binary(b) => has_selector(&b.lhs) || has_selector(&b.rhs),
        Expr::Paren(p) => has_selector(&p.expr),
        Expr::Subquery(s) => has_selector(&s.expr),
        Expr::Call(c) => c.args.args.iter().any(|a| has_selector(a)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => false,
    }
}

pub(super) async fn buildinfo() -> Response {
    success(json!({
        "version": "3.0.0",
        "revision": concat!("deskd-metrics ", env!("CARGO_PKG_VERSION")),
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": ""
    }))
}

fn rfc3339(t: SystemTime) -> String {
    let ms = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    crate::rules::json::rfc3339(ms)
}

/// Prometheus's duration notation for the retention (`15d`, `36h`, `90m`, `10s`).
fn duration_text(ms: i64) -> String {
    for (unit, size) in [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= size && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// Threads of this process (what Go's goroutine count stands for), from `/proc`.
fn thread_count() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(1)
}

/// Prometheus's runtime fields, filled with what holds for deskd: no configuration file to
/// reload (so it never failed), the process's threads and cores for goroutines and GOMAXPROCS.
pub(super) async fn runtimeinfo(State(engine): State<Arc<Engine>>) -> Response {
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    success(json!({
        "startTime": rfc3339(started()),
        "CWD": cwd,
        "hostname": host,
        "serverTime": rfc3339(SystemTime::now()),
        "reloadConfigSuccess": true,
        "lastConfigTime": rfc3339(started()),
        "corruptionCount": 0,
        "goroutineCount": thread_count(),
        "GOMAXPROCS": cores,
        "GOMEMLIMIT": i64::MAX,
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": duration_text(engine.storage().config().retention_ms),
    }))
}

fn stat_list(v: &[(String, u64)]) -> Json {
    Json::Array(
        v.iter()
            .map(|(n, c)| json!({"name": n, "value": c}))
            .collect(),
    )
}

/// Head statistics and the `limit` (default 10) largest cardinalities.
pub(super) async fn tsdb(
    State(engine): State<Arc<Engine>>,
    p: Params,
) -> Result<Response, ApiError> {
    let limit = match p.get("limit") {
        None | Some("") => 10,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ApiError::bad_data("limit must be a positive number"))?,
    };
    let storage = engine.storage().clone();
    let st = super::blocking(move || Ok(storage.tsdb_status(limit))).await?;
    let c = &st.cardinality;
    Ok(success(json!({
        "headStats": {
            "numSeries": st.num_series,
            "numLabelPairs": c.num_label_pairs,
            "chunkCount": st.chunk_count,
            // deskd's additions: what the head's retention costs in memory
            "numSamples": st.num_samples,
            "chunkMemoryBytes": st.chunk_memory,
            "minTime": st.min_time,
            "maxTime": st.max_time,
        },
        "seriesCountByMetricName": stat_list(&c.series_by_metric_name),
        "labelValueCountByLabelName": stat_list(&c.values_by_label_name),
        "memoryInBytesByLabelName": stat_list(&c.bytes_by_label_name),
        "seriesCountByLabelValuePair": stat_list(&c.series_by_label_pair),
    })))
}
