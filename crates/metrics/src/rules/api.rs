//! The rule routes: `/api/v1/rules`, `/api/v1/alerts` and `POST /-/reload`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value as J};

use super::Rules;

/// Every route of [`router`], for documentation.
pub const ENDPOINTS: &[crate::http::Endpoint] = &[
    crate::http::Endpoint {
        path: "/api/v1/rules",
        methods: &["GET"],
        summary: "Recording and alerting rule groups",
        section: Some("7.4"),
    },
    crate::http::Endpoint {
        path: "/api/v1/alerts",
        methods: &["GET"],
        summary: "Active alerts",
        section: Some("7.5"),
    },
    crate::http::Endpoint {
        path: "/-/reload",
        methods: &["POST"],
        summary: "Reload the rule file (a bad file is refused and the rules in force stay)",
        section: None,
    },
];

/// `/api/v1/rules`, `/api/v1/alerts` and `POST /-/reload` over one rule set.
pub fn router(rules: Arc<Rules>) -> Router {
    Router::new()
        .route("/api/v1/rules", get(rules_handler))
        .route("/api/v1/alerts", get(alerts_handler))
        .route("/-/reload", post(reload_handler))
        .with_state(rules)
}

async fn rules_handler(State(r): State<Arc<Rules>>) -> Json<J> {
    Json(json!({"status": "success", "data": r.rules_json()}))
}

async fn alerts_handler(State(r): State<Arc<Rules>>) -> Json<J> {
    Json(json!({"status": "success", "data": r.alerts_json()}))
}

async fn reload_handler(State(r): State<Arc<Rules>>) -> Response {
    match r.reload() {
        Ok(n) => Json(json!({"status": "success", "data": {"rules": n}})).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"status": "error", "errorType": "bad_data", "error": e.to_string()})),
        )
            .into_response(),
    }
}
