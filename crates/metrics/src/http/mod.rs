//! The Prometheus HTTP API (chapter 7, D9) as an axum `Router`.
//!
//! The router does no authentication: deskd's server mounts it behind its Bearer layer (D9),
//! which also opens the reads to configured networks and a scrape token.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value as Json};

use crate::labels::Labels;
use crate::promql::{parse, Engine, QueryError, Value};
use crate::text;
use promql_parser::parser::Expr;

mod meta;

/// Largest accepted import body.
const MAX_IMPORT_BYTES: usize = 64 << 20;

/// One endpoint of the router, for documentation (the server's OpenAPI document lists them).
pub struct Endpoint {
    pub path: &'static str,
    /// Upper-case HTTP methods.
    pub methods: &'static [&'static str],
    pub summary: &'static str,
    /// The section of the source document, if it has one (API.md 7.2, 7.3).
    pub section: Option<&'static str>,
}

/// Every route [`router`] serves; a test keeps the two in step.
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        path: "/api/v1/query",
        methods: &["GET", "POST"],
        summary: "PromQL instant query",
        section: Some("7.2"),
    },
    Endpoint {
        path: "/api/v1/query_range",
        methods: &["GET", "POST"],
        summary: "PromQL range query",
        section: Some("7.3"),
    },
    Endpoint {
        path: "/api/v1/labels",
        methods: &["GET", "POST"],
        summary: "Label names",
        section: None,
    },
    Endpoint {
        path: "/api/v1/label/{name}/values",
        methods: &["GET"],
        summary: "Values of one label",
        section: None,
    },
    Endpoint {
        path: "/api/v1/series",
        methods: &["GET", "POST"],
        summary: "Series matching selectors",
        section: None,
    },
    Endpoint {
        path: "/api/v1/metadata",
        methods: &["GET"],
        summary: "Metric metadata (TYPE, HELP, UNIT)",
        section: None,
    },
    Endpoint {
        path: "/api/v1/query_exemplars",
        methods: &["GET", "POST"],
        summary: "Exemplars of the selected series (deskd keeps none)",
        section: None,
    },
    Endpoint {
        path: "/api/v1/status/buildinfo",
        methods: &["GET"],
        summary: "Build information",
        section: None,
    },
    Endpoint {
        path: "/api/v1/status/runtimeinfo",
        methods: &["GET"],
        summary: "Runtime information",
        section: None,
    },
    Endpoint {
        path: "/api/v1/status/tsdb",
        methods: &["GET"],
        summary: "Head cardinality statistics",
        section: None,
    },
    Endpoint {
        path: "/api/v1/import/prometheus",
        methods: &["POST"],
        summary: "Import samples in the Prometheus text format (all or nothing)",
        section: None,
    },
    Endpoint {
        path: "/api/v1/write",
        methods: &["POST"],
        summary: "Prometheus remote write 1.0 (snappy protobuf, all or nothing)",
        section: None,
    },
];

/// Builds the router for `/api/v1/...` over one engine.
pub fn router(engine: Arc<Engine>) -> Router {
    meta::mark_start();
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/labels", get(meta::labels).post(meta::labels))
        .route("/api/v1/label/{name}/values", get(meta::label_values))
        .route("/api/v1/series", get(meta::series).post(meta::series))
        .route("/api/v1/metadata", get(meta::metadata))
        .route(
            "/api/v1/query_exemplars",
            get(meta::query_exemplars).post(meta::query_exemplars),
        )
        .route("/api/v1/status/buildinfo", get(meta::buildinfo))
        .route("/api/v1/status/runtimeinfo", get(meta::runtimeinfo))
        .route("/api/v1/status/tsdb", get(meta::tsdb))
        .route(
            "/api/v1/import/prometheus",
            post(import).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route(
            "/api/v1/write",
            post(remote_write).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .with_state(engine)
}

/// A failed request in Prometheus's error shape.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    msg: String,
}

impl ApiError {
    pub(super) fn bad_data(msg: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "bad_data",
            msg: msg.into(),
        }
    }

    pub(super) fn param(name: &str, msg: impl std::fmt::Display) -> Self {
        Self::bad_data(format!("invalid parameter {name:?}: {msg}"))
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        let (status, kind) = match &e {
            QueryError::BadData(_) => (StatusCode::BAD_REQUEST, "bad_data"),
            QueryError::Execution(_) => (StatusCode::UNPROCESSABLE_ENTITY, "execution"),
            QueryError::Timeout(_) => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
        };
        ApiError {
            status,
            kind,
            msg: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"status": "error", "errorType": self.kind, "error": self.msg});
        (self.status, axum::Json(body)).into_response()
    }
}

pub(super) fn success(data: Json) -> Response {
    axum::Json(json!({"status": "success", "data": data})).into_response()
}

/// Request parameters: the query string, plus the form body of a POST.
pub(super) struct Params(Vec<(String, String)>);

/// As an extractor (the last of a handler's, since it reads the body).
impl<S: Send + Sync> axum::extract::FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let method = req.method().clone();
        let query = req.uri().query().map(str::to_string);
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_data(e.body_text()))?;
        Ok(Params::new(&method, query, &body))
    }
}

impl Params {
    pub(super) fn new(method: &Method, query: Option<String>, body: &[u8]) -> Self {
        let mut v: Vec<(String, String)> =
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        if method == Method::POST {
            match serde_json::from_slice::<Json>(body) {
                Ok(Json::Object(o)) => json_params(o, &mut v),
                _ => v.extend(form_urlencoded::parse(body).into_owned()),
            }
        }
        Params(v)
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(super) fn time(&self, name: &str, default: Option<i64>) -> Result<i64, ApiError> {
        match (self.get(name), default) {
            (Some(s), _) => parse_time(s).ok_or_else(|| {
                ApiError::param(name, format!("cannot parse {s:?} to a valid timestamp"))
            }),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(ApiError::param(
                name,
                "cannot parse \"\" to a valid timestamp",
            )),
        }
    }

    pub(super) fn duration(&self, name: &str) -> Result<Option<i64>, ApiError> {
        let Some(s) = self.get(name) else {
            return Ok(None);
        };
        parse_duration(s)
            .map(Some)
            .ok_or_else(|| ApiError::param(name, format!("cannot parse {s:?} to a valid duration")))
    }
}

/// The document's JSON form (API.md d.2): `{"content":{"query":"up","time":"…"}}`, or the
/// same keys without the wrapper; arrays (`match[]`) give one parameter per element.
fn json_params(mut o: Map<String, Json>, out: &mut Vec<(String, String)>) {
    if let Some(Json::Object(inner)) = o.remove("content") {
        o = inner;
    }
    for (k, v) in o {
        let items = match v {
            Json::Array(a) => a,
            other => vec![other],
        };
        for item in items {
            match item {
                Json::String(s) => out.push((k.clone(), s)),
                Json::Number(n) => out.push((k.clone(), n.to_string())),
                _ => {}
            }
        }
    }
}

/// Wall-clock time in epoch ms.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A time as Unix seconds (fractions allowed) or RFC 3339, in ms.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() || f.abs() > 9.2e15 {
            return None;
        }
        return Some((f * 1000.0).round() as i64);
    }
    parse_rfc3339(s)
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, sec) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        let f = &frac[..digits];
        if f.is_empty() {
            return None;
        }
        ms = format!("{f:0<3}")[..3].parse::<i64>().ok()?;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let oh = rest.get(1..3)?.parse::<i64>().ok()?;
            let om = rest.get(4..6)?.parse::<i64>().ok()?;
            let o = (oh * 60 + om) * 60;
            if rest.starts_with('-') {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec - offset) * 1000) + ms)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A duration as seconds (fractions allowed) or in PromQL's `1m30s` form, in ms.
pub fn parse_duration(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() || f.abs() > 9.2e15 {
            return None;
        }
        return Some((f * 1000.0).round() as i64);
    }
    promql_parser::util::duration::parse_duration(s)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
}

pub(super) fn json_labels(l: &Labels) -> Json {
    Json::Object(
        l.iter()
            .map(|(n, v)| (n.to_string(), Json::from(v)))
            .collect::<Map<_, _>>(),
    )
}

/// Result bodies are written straight into one string: a range query can return hundreds of
/// thousands of points, and a `serde_json::Value` per point costs more than the query.
mod render {
    use std::fmt::Write;

    use crate::labels::Labels;
    use crate::promql::{format_value, Notes, Series, Value};

    pub(super) fn string(out: &mut String, s: &str) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }

    /// A time in seconds as Prometheus writes it: an integer when whole.
    fn time(out: &mut String, ms: i64) {
        if ms % 1000 == 0 {
            let _ = write!(out, "{}", ms / 1000);
        } else {
            let _ = write!(out, "{}", ms as f64 / 1000.0);
        }
    }

    fn point(out: &mut String, t: i64, v: f64) {
        out.push('[');
        time(out, t);
        out.push_str(",\"");
        out.push_str(&format_value(v));
        out.push_str("\"]");
    }

    fn labels(out: &mut String, l: &Labels) {
        out.push('{');
        for (i, (n, v)) in l.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            string(out, n);
            out.push(':');
            string(out, v);
        }
        out.push('}');
    }

    fn matrix(out: &mut String, m: &[Series]) {
        out.push('[');
        for (i, s) in m.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"metric\":");
            labels(out, &s.labels);
            out.push_str(",\"values\":[");
            for (k, (t, v)) in s.points.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                point(out, *t, *v);
            }
            out.push_str("]}");
        }
        out.push(']');
    }

    /// The whole success body of a query.
    /// The success body of a query, with Prometheus 3's `warnings` and `infos` when there are.
    pub(super) fn query(v: &Value, t: i64, notes: &Notes) -> String {
        let mut out = String::from("{\"status\":\"success\",\"data\":{\"resultType\":\"");
        out.push_str(v.type_name());
        out.push_str("\",\"result\":");
        match v {
            Value::Scalar(f) => point(&mut out, t, *f),
            Value::String(s) => {
                out.push('[');
                time(&mut out, t);
                out.push(',');
                string(&mut out, s);
                out.push(']');
            }
            Value::Vector(v) => {
                out.push('[');
                for (i, s) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str("{\"metric\":");
                    labels(&mut out, &s.labels);
                    out.push_str(",\"value\":");
                    point(&mut out, t, s.v);
                    out.push('}');
                }
                out.push(']');
            }
            Value::Matrix(m) => matrix(&mut out, m),
        }
        out.push('}');
        for (key, list) in [("warnings", &notes.warnings), ("infos", &notes.infos)] {
            if list.is_empty() {
                continue;
            }
            out.push_str(",\"");
            out.push_str(key);
            out.push_str("\":[");
            for (i, m) in list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(&mut out, m);
            }
            out.push(']');
        }
        out.push('}');
        out
    }
}

fn raw_json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The engine, with the request's `timeout` when it is shorter than the configured one.
fn engine_for(engine: &Engine, p: &Params) -> Result<Engine, ApiError> {
    let mut e = engine.clone();
    if let Some(ms) = p.duration("timeout")? {
        let d = Duration::from_millis(u64::try_from(ms.max(0)).unwrap_or(0));
        e.set_timeout(d.min(engine.options().timeout));
    }
    Ok(e)
}

/// Runs CPU-bound evaluation off the async workers.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "internal",
            msg: format!("query task failed: {e}"),
        })
    })
}

fn query_param(p: &Params) -> Result<Expr, ApiError> {
    parse(p.get("query").unwrap_or("")).map_err(|e| ApiError::param("query", e))
}

async fn query(State(engine): State<Arc<Engine>>, p: Params) -> Result<Response, ApiError> {
    let t = p.time("time", Some(now_ms()))?;
    let query = query_param(&p)?;
    let e = engine_for(&engine, &p)?;
    let body = blocking(move || {
        e.instant_noted(&query, t)
            .map(|(v, notes)| render::query(&v, t, &notes))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(raw_json(body))
}

async fn query_range(State(engine): State<Arc<Engine>>, p: Params) -> Result<Response, ApiError> {
    let start = p.time("start", None)?;
    let end = p.time("end", None)?;
    if end < start {
        return Err(ApiError::param(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step = p
        .duration("step")?
        .ok_or_else(|| ApiError::param("step", "cannot parse \"\" to a valid duration"))?;
    if step <= 0 {
        return Err(ApiError::param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    let query = query_param(&p)?;
    let e = engine_for(&engine, &p)?;
    let body = blocking(move || {
        e.range_noted(&query, start, end, step)
            .map(|(m, notes)| render::query(&Value::Matrix(m), end, &notes))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(raw_json(body))
}

/// Stores a text-format body; samples without a timestamp get the `timestamp` parameter (ms)
/// or the arrival time. Nothing is stored unless every line parses and every sample is
/// accepted.
async fn import(
    State(engine): State<Arc<Engine>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::new(&Method::GET, q, &[]);
    let default_t = match p.get("timestamp") {
        Some(s) => s
            .parse::<i64>()
            .map_err(|_| ApiError::param("timestamp", "must be milliseconds"))?,
        None => now_ms(),
    };
    let body = std::str::from_utf8(&body).map_err(|_| ApiError::bad_data("body is not UTF-8"))?;
    let parsed = text::parse(body).map_err(|e| ApiError::bad_data(e.to_string()))?;
    let batch: Vec<(Labels, i64, f64)> = parsed
        .samples
        .into_iter()
        .map(|s| (s.labels, s.t.unwrap_or(default_t), s.v))
        .collect();
    store(&engine, batch, parsed.metadata).await
}

/// Appends a decoded batch all-or-nothing, then records its metadata.
async fn store(
    engine: &Engine,
    batch: Vec<(Labels, i64, f64)>,
    metas: Vec<(String, crate::storage::Metadata)>,
) -> Result<Response, ApiError> {
    let storage = engine.storage().clone();
    blocking(move || {
        storage
            .append(&batch)
            .map_err(|e| ApiError::bad_data(e.to_string()))?;
        for (name, m) in metas {
            storage.set_metadata(&name, m);
        }
        Ok(())
    })
    .await?;
    Ok((StatusCode::NO_CONTENT, [(header::CONTENT_LENGTH, "0")]).into_response())
}

/// Prometheus remote write: a snappy-compressed protobuf `WriteRequest`.
async fn remote_write(
    State(engine): State<Arc<Engine>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let decoded = crate::remote::decode(&body).map_err(ApiError::bad_data)?;
    store(&engine, decoded.samples, decoded.metadata).await
}
