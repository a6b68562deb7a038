//! `metrics_backend = prometheus`: the Prometheus read API is answered by an external
//! Prometheus. Each request is forwarded as it came (method, path, query string, form body)
//! and its answer returned verbatim (status, content type, body); an engine that does not
//! answer in time is 503 in Prometheus's error shape.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
use serde_json::{json, Value as J};

/// Largest forwarded request body (a PromQL form is small).
const MAX_FORWARD_BODY: usize = 1 << 20;

/// The read endpoints of the Prometheus API that are forwarded, with their methods: those the
/// embedded engine serves, minus the writes (import, remote write, reload), plus `targets`.
pub const FORWARDED: &[(&str, &[&str])] = &[
    ("/api/v1/query", &["GET", "POST"]),
    ("/api/v1/query_range", &["GET", "POST"]),
    ("/api/v1/labels", &["GET", "POST"]),
    ("/api/v1/label/{name}/values", &["GET"]),
    ("/api/v1/series", &["GET", "POST"]),
    ("/api/v1/metadata", &["GET"]),
    ("/api/v1/status/buildinfo", &["GET"]),
    ("/api/v1/targets", &["GET"]),
    ("/api/v1/rules", &["GET"]),
    ("/api/v1/alerts", &["GET"]),
];

/// The external engine and the client that reaches it.
pub struct Upstream {
    base: String,
    client: reqwest::Client,
    timeout: Duration,
}

impl Upstream {
    /// `url` is `http(s)://host:port[/prefix]`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        super::scrape::check_url(url).map_err(|e| format!("prometheus_url `{url}`: {e}"))?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("prometheus_url: cannot build the HTTP client: {e}"))?;
        Ok(Upstream {
            base: url.trim().trim_end_matches('/').to_string(),
            client,
            timeout,
        })
    }

    /// Sends one request; the upstream's status, content type and body.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        content_type: Option<HeaderValue>,
        body: Bytes,
    ) -> Result<(StatusCode, Option<HeaderValue>, Bytes), String> {
        let url = format!("{}{}", self.base, path_and_query);
        let mut req = self.client.request(method, &url);
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        if !body.is_empty() {
            req = req.body(body);
        }
        let resp = tokio::time::timeout(self.timeout, req.send())
            .await
            .map_err(|_| format!("the metrics engine did not answer in {:?}", self.timeout))?
            .map_err(|e| format!("the metrics engine is unreachable: {e}"))?;
        let status = resp.status();
        let ct = resp.headers().get(header::CONTENT_TYPE).cloned();
        let body = resp
            .bytes()
            .await
            .map_err(|e| format!("the metrics engine's answer broke off: {e}"))?;
        Ok((status, ct, body))
    }

    /// `GET /api/v1/query?query=…&time=…` and its `data` (a vector or a scalar).
    pub async fn instant(&self, query: &str, at_ms: i64) -> Result<J, String> {
        let qs: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("query", query)
            .append_pair("time", &format!("{:.3}", at_ms as f64 / 1e3))
            .finish();
        let (status, _, body) = self
            .send(
                Method::GET,
                &format!("/api/v1/query?{qs}"),
                None,
                Bytes::new(),
            )
            .await?;
        let v: J = serde_json::from_slice(&body)
            .map_err(|e| format!("the metrics engine answered HTTP {status}, not JSON: {e}"))?;
        if v["status"] != "success" {
            return Err(format!(
                "the metrics engine refused `{query}`: {}",
                v["error"].as_str().unwrap_or("no reason given")
            ));
        }
        Ok(v["data"].clone())
    }
}

/// The forwarded routes (no auth: the server adds it).
pub fn router(up: Arc<Upstream>) -> Router {
    let mut r = Router::new();
    for (path, methods) in FORWARDED {
        let filter = methods
            .iter()
            .map(|m| match *m {
                "POST" => MethodFilter::POST,
                _ => MethodFilter::GET,
            })
            .reduce(|a, b| a.or(b))
            .unwrap_or(MethodFilter::GET);
        r = r.route(path, on(filter, forward));
    }
    r.with_state(up)
}

async fn forward(State(up): State<Arc<Upstream>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
    let ct = req.headers().get(header::CONTENT_TYPE).cloned();
    let body = match axum::body::to_bytes(req.into_body(), MAX_FORWARD_BODY).await {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_data", e.to_string()),
    };
    match up.send(method, &path, ct, body).await {
        Ok((status, ct, body)) => {
            let mut resp = (status, body).into_response();
            if let Some(ct) = ct {
                resp.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            resp
        }
        Err(e) => {
            tracing::warn!(error = %e, path, "metrics request not forwarded");
            error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e)
        }
    }
}

fn error(status: StatusCode, kind: &str, msg: String) -> Response {
    (
        status,
        axum::Json(json!({"status": "error", "errorType": kind, "error": msg})),
    )
        .into_response()
}
