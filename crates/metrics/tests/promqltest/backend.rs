//! Where a test case's queries go: the engine in process, or the HTTP API's router.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use deskd_metrics::labels::Labels;
use deskd_metrics::promql::{Engine, EngineOptions, Notes, Sample, Series, Value};
use deskd_metrics::storage::Storage;
use http_body_util::BodyExt;
use promql_parser::parser::Expr;
use serde_json::Value as Json;
use tower::ServiceExt;

pub trait Backend {
    /// An instant query at `t` (ms); `parsed` is `q` parsed when it parses.
    fn instant(
        &self,
        s: &Arc<Storage>,
        q: &str,
        parsed: Option<&Expr>,
        t: i64,
    ) -> Result<(Value, Notes), String>;
    /// A range query; the result is a `Value::Matrix`.
    fn range(
        &self,
        s: &Arc<Storage>,
        q: &str,
        parsed: Option<&Expr>,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<(Value, Notes), String>;
    /// Whether instant cases also run with `@` and in range mode, as `promqltest` does.
    fn at_variants(&self) -> bool;
}

fn engine(s: &Arc<Storage>) -> Engine {
    Engine::new(s.clone(), EngineOptions::default())
}

/// The engine called directly, with the parsed (possibly `@`-rewritten) expression.
pub struct InProcess;

impl Backend for InProcess {
    fn instant(
        &self,
        s: &Arc<Storage>,
        q: &str,
        parsed: Option<&Expr>,
        t: i64,
    ) -> Result<(Value, Notes), String> {
        match parsed {
            Some(e) => engine(s).instant_noted(e, t),
            None => engine(s).instant(q, t).map(|v| (v, Notes::default())),
        }
        .map_err(|e| e.to_string())
    }

    fn range(
        &self,
        s: &Arc<Storage>,
        q: &str,
        parsed: Option<&Expr>,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<(Value, Notes), String> {
        match parsed {
            Some(e) => engine(s).range_noted(e, start, end, step),
            None => engine(s)
                .range(q, start, end, step)
                .map(|m| (m, Notes::default())),
        }
        .map(|(m, n)| (Value::Matrix(m), n))
        .map_err(|e| e.to_string())
    }

    fn at_variants(&self) -> bool {
        true
    }
}

/// `GET /api/v1/query` and `/api/v1/query_range` through the router, results read back from
/// the JSON.
pub struct Http {
    rt: tokio::runtime::Runtime,
}

impl Http {
    pub fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Http { rt }
    }

    fn get(&self, s: &Arc<Storage>, path: &str, params: &[(&str, String)]) -> Result<Json, String> {
        let app = deskd_metrics::http::router(Arc::new(engine(s)));
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let req = Request::get(format!("{path}?{query}"))
            .body(Body::empty())
            .map_err(|e| e.to_string())?;
        let (status, bytes) = self.rt.block_on(async move {
            let resp = app.oneshot(req).await.expect("response");
            let status = resp.status();
            (
                status,
                resp.into_body().collect().await.expect("body").to_bytes(),
            )
        });
        let v: Json = serde_json::from_slice(&bytes).map_err(|e| format!("{status}: {e}"))?;
        if status != StatusCode::OK {
            return Err(v["error"].as_str().unwrap_or("").to_string());
        }
        Ok(v)
    }
}

fn secs(ms: i64) -> String {
    format!("{}", ms as f64 / 1000.0)
}

fn float(v: &Json) -> Result<f64, String> {
    let s = v.as_str().ok_or("value is not a string")?;
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => s.parse().map_err(|e| format!("{s:?}: {e}")),
    }
}

fn labels(v: &Json) -> Labels {
    let pairs = v
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    Labels::new(pairs)
}

/// A `[t, "v"]` pair as (ms, value).
fn point(p: &Json) -> Result<(i64, f64), String> {
    let t = p[0].as_f64().ok_or("bad time")?;
    Ok(((t * 1000.0).round() as i64, float(&p[1])?))
}

/// The result and the `warnings`/`infos` of a query's JSON answer.
fn answer(body: &Json) -> Result<(Value, Notes), String> {
    let list = |k: &str| {
        body[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let notes = Notes {
        warnings: list("warnings"),
        infos: list("infos"),
    };
    Ok((value(&body["data"])?, notes))
}

fn value(data: &Json) -> Result<Value, String> {
    let r = &data["result"];
    let items = || r.as_array().cloned().unwrap_or_default();
    match data["resultType"].as_str() {
        Some("scalar") => Ok(Value::Scalar(point(r)?.1)),
        Some("string") => Ok(Value::String(r[1].as_str().unwrap_or("").to_string())),
        Some("vector") => items()
            .iter()
            .map(|s| {
                let (t, v) = point(&s["value"])?;
                Ok(Sample {
                    labels: labels(&s["metric"]),
                    t,
                    v,
                })
            })
            .collect::<Result<_, String>>()
            .map(Value::Vector),
        Some("matrix") => items()
            .iter()
            .map(|s| {
                let points = s["values"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(point)
                    .collect::<Result<_, _>>()?;
                Ok(Series {
                    labels: labels(&s["metric"]),
                    points,
                })
            })
            .collect::<Result<_, String>>()
            .map(Value::Matrix),
        other => Err(format!("unknown resultType {other:?}")),
    }
}

impl Backend for Http {
    fn instant(
        &self,
        s: &Arc<Storage>,
        q: &str,
        _: Option<&Expr>,
        t: i64,
    ) -> Result<(Value, Notes), String> {
        answer(&self.get(
            s,
            "/api/v1/query",
            &[("query", q.to_string()), ("time", secs(t))],
        )?)
    }

    fn range(
        &self,
        s: &Arc<Storage>,
        q: &str,
        _: Option<&Expr>,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<(Value, Notes), String> {
        let params = [
            ("query", q.to_string()),
            ("start", secs(start)),
            ("end", secs(end)),
            ("step", secs(step)),
        ];
        answer(&self.get(s, "/api/v1/query_range", &params)?)
    }

    fn at_variants(&self) -> bool {
        false
    }
}
