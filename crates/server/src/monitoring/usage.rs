//! 6.7 server resource usage, answered from the embedded metrics engine.

use axum::extract::State;
use axum::Json;
use deskd_domain::Error;
use deskd_metrics::promql::Value;
use deskd_wire::envelope::Reply;
use deskd_wire::usage::{PromSample, PromVector, ResourceUsageData, ResourceUsageRequest};

use crate::http::error::ApiResult;
use crate::http::extract::Content;
use crate::AppState;

/// [inferred] What `total` and `used` mean per type: the document's example pairs an absolute
/// total with a percentage, so `total` is the fleet's capacity (CPUs, bytes) and `used` the
/// share in use, in percent, over the collected `node_*` series.
///
/// CPU use is a rate of the CPU counters over the last 5 minutes; until a host has two samples
/// (right after its first scrape) it is the share since the counters' start point instead —
/// the counters count from the host's start, so idle seconds over all seconds is the average
/// since then — never an empty answer while a host is up.
const QUERIES: &[(&str, &str, &str)] = &[
    (
        "CPU",
        "count(count by (host_id, cpu) (node_cpu_seconds_total))",
        "(1 - avg(rate(node_cpu_seconds_total{mode=\"idle\"}[5m]))) * 100 \
         or (1 - sum(node_cpu_seconds_total{mode=\"idle\"}) / sum(node_cpu_seconds_total)) * 100",
    ),
    (
        "MEM",
        "sum(node_memory_MemTotal_bytes)",
        "(1 - sum(node_memory_MemAvailable_bytes) / sum(node_memory_MemTotal_bytes)) * 100",
    ),
    (
        "DISK",
        "sum(node_filesystem_size_bytes{mountpoint=\"/\"})",
        "(1 - sum(node_filesystem_free_bytes{mountpoint=\"/\"}) / sum(node_filesystem_size_bytes{mountpoint=\"/\"})) * 100",
    ),
];

/// `PUT /v1/rccp/server/resource/usage` (6.7).
pub async fn resource_usage(
    State(app): State<AppState>,
    Content(req): Content<ResourceUsageRequest>,
) -> ApiResult<Json<Reply<ResourceUsageData>>> {
    let kind = req.server_resource_type.trim();
    let Some((_, total, used)) = QUERIES.iter().find(|(k, _, _)| *k == kind) else {
        return Err(Error::invalid(
            "content.server_resource_type",
            format!("must be one of CPU, MEM, DISK, not `{kind}`"),
        )
        .into());
    };
    let now = deskd_metrics::http::now_ms();
    Ok(Json(Reply::data(ResourceUsageData {
        total: vector(&app, total, now).await?,
        used: vector(&app, used, now).await?,
    })))
}

async fn vector(app: &AppState, query: &'static str, at: i64) -> Result<PromVector, Error> {
    if let Some(up) = &app.prometheus {
        let data = up
            .instant(query, at)
            .await
            .map_err(|e| Error::internal(format!("resource usage query: {e}")))?;
        return Ok(external_vector(&data, at));
    }
    let engine = app.metrics.clone();
    let value = tokio::task::spawn_blocking(move || engine.instant(query, at))
        .await
        .map_err(|e| Error::internal(format!("resource usage query: {e}")))?
        .map_err(|e| Error::internal(format!("resource usage query `{query}`: {e}")))?;
    let samples = match value {
        Value::Vector(v) => v.into_iter().map(|s| (s.labels, s.t, s.v)).collect(),
        Value::Scalar(v) => vec![(deskd_metrics::labels::Labels::new(Vec::new()), at, v)],
        _ => Vec::new(),
    };
    let result = samples
        .into_iter()
        .map(|(labels, t, v)| PromSample {
            metric: labels
                .iter()
                .filter(|(n, _)| *n != "__name__")
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            value: (format!("{:.3}", t as f64 / 1e3), format!("{v}")),
        })
        .collect();
    Ok(PromVector {
        result,
        result_type: "vector".into(),
    })
}

/// The `data` of an external engine's instant query as the document's vector: its samples, or
/// a scalar as one sample without labels.
fn external_vector(data: &serde_json::Value, at: i64) -> PromVector {
    let show = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let pair = |v: &serde_json::Value| {
        let t = v[0].as_f64().unwrap_or(at as f64 / 1e3);
        (format!("{t:.3}"), show(&v[1]))
    };
    let result = match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| PromSample {
                        metric: r["metric"]
                            .as_object()
                            .map(|m| {
                                m.iter()
                                    .filter(|(k, _)| k.as_str() != "__name__")
                                    .map(|(k, v)| (k.clone(), show(v)))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        value: pair(&r["value"]),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Some("scalar") => vec![PromSample {
            metric: Default::default(),
            value: pair(&data["result"]),
        }],
        _ => Vec::new(),
    };
    PromVector {
        result,
        result_type: "vector".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_external_answer_becomes_the_documents_vector() {
        let data = serde_json::json!({"resultType": "vector", "result": [
            {"metric": {"__name__": "x", "host_id": "h1"}, "value": [1700000000.5, "42"]}]});
        let v = external_vector(&data, 0);
        assert_eq!(v.result.len(), 1);
        assert_eq!(v.result[0].value, ("1700000000.500".into(), "42".into()));
        assert_eq!(
            v.result[0].metric.get("host_id").map(String::as_str),
            Some("h1")
        );
        assert!(!v.result[0].metric.contains_key("__name__"));
        let s = external_vector(
            &serde_json::json!({"resultType": "scalar", "result": [1.0, "7"]}),
            0,
        );
        assert_eq!(s.result[0].value.1, "7");
    }
}
