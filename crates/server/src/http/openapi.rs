//! The OpenAPI 3.1 document of the real wire, generated from the route table and the wire types.
//! It is committed as `api/openapi.json` and compared by a test, so every wire change is a
//! reviewed diff.

use schemars::gen::SchemaSettings;
use serde_json::{json, Map, Value};

use super::routes::Route;

/// Builds the document: the routes of a default start, and the test hooks with `test_hooks`.
pub fn document(test_hooks: bool) -> Value {
    let mut settings = SchemaSettings::draft07();
    settings.definitions_path = "#/components/schemas/".into();
    settings.option_add_null_type = true;
    let mut gen = settings.into_generator();
    let mut paths = Map::new();
    for r in super::table(test_hooks) {
        let item = paths
            .entry(r.doc.path.to_string())
            .or_insert_with(|| json!({}));
        for (i, m) in r.methods().iter().enumerate() {
            let op = operation(&r, i, m, &mut gen);
            item[m.as_str().to_lowercase()] = op;
        }
    }
    let prometheus = deskd_metrics::http::ENDPOINTS
        .iter()
        .chain(deskd_metrics::rules::ENDPOINTS)
        .chain(crate::monitoring::ENDPOINTS);
    for e in prometheus {
        let item = paths.entry(e.path.to_string()).or_insert_with(|| json!({}));
        for (i, m) in e.methods.iter().enumerate() {
            item[m.to_lowercase()] = prometheus_operation(e, i);
        }
    }
    let schemas: Map<String, Value> = gen
        .take_definitions()
        .into_iter()
        .map(|(k, mut v)| {
            schemars::visit::Visitor::visit_schema(&mut deskd_wire::enums::NullInEnums, &mut v);
            (k, serde_json::to_value(v).unwrap_or(Value::Null))
        })
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "deskd — RG-CDC / RG-CCP OpenAPI v1",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Wire-compatible implementation of the RG-CDC / RG-CCP OpenAPI v1. Operations marked \
                x-deskd-extension are not in the source document (DECISIONS D10). Every /v1 reply is \
                {\"content\":{\"code\":0,\"data\":…}}; a non-zero code is an error with message and user_tip."
        },
        "servers": [{"url": "https://localhost:9390"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "console_ticket": {"type": "apiKey", "in": "query", "name": "ticket"},
                "portal_session": {"type": "http", "scheme": "bearer",
                    "description": "a desktop user's portal token from POST /v1/portal/login"},
            },
            "schemas": schemas,
        },
    })
}

fn operation(
    route: &Route,
    method_index: usize,
    method: &axum::http::Method,
    gen: &mut schemars::gen::SchemaGenerator,
) -> Value {
    let r = &route.doc;
    let suffix = if method_index == 0 {
        String::new()
    } else {
        format!("_{}", method.as_str())
    };
    let mut op = json!({
        "operationId": format!("{}{}", r.operation_id, suffix),
        "summary": r.summary,
        "responses": {
            "200": {
                "description": "code 0 with data, or a business error (non-zero code, message, user_tip)",
                // anyOf, not oneOf: an error body is also a valid reply envelope (`data` is
                // optional there), so exactly-one-of would refuse every error reply
                "content": {"application/json": {"schema": {"anyOf": [
                    (route.response)(gen),
                    gen.subschema_for::<deskd_wire::envelope::ErrorBody>(),
                ]}}}
            },
            "default": {
                "description": "401 authentication, 404 unknown path, 405 wrong method, 429, 500",
                "content": {"application/json": {"schema": gen.subschema_for::<deskd_wire::envelope::ErrorBody>()}}
            }
        }
    });
    match r.section {
        Some(s) => op["x-rg-section"] = json!(s),
        None => op["x-deskd-extension"] = json!(true),
    }
    if method_index > 0 {
        op["description"] =
            json!("Also accepted (DECISIONS D2); the documented method is listed first.");
    }
    op["security"] = if r.auth {
        json!([{"bearer": []}])
    } else if crate::portal::needs_session(r.path) {
        json!([{"portal_session": []}])
    } else if super::TICKET_ROUTES.contains(&r.path) {
        op["responses"]["101"] = json!({"description": "switching to the websocket"});
        json!([{"console_ticket": []}])
    } else {
        json!([])
    };
    add_path_params(&mut op, r.path);
    if let Some(req) = (route.request)(gen) {
        op["requestBody"] =
            json!({"required": false, "content": {"application/json": {"schema": req}}});
    }
    op
}

/// An operation of the Prometheus HTTP API (D9): Prometheus's own JSON, not the `/v1` envelope.
fn prometheus_operation(e: &deskd_metrics::http::Endpoint, method_index: usize) -> Value {
    let method = e.methods[method_index].to_lowercase();
    let id = e
        .path
        .trim_start_matches("/api/v1/")
        .replace(['/', '{', '}'], "_");
    let mut op = json!({
        "operationId": format!("prometheus_{id}_{method}"),
        "summary": e.summary,
        "description": "Prometheus HTTP API (DECISIONS D9): parameters as a query string or a \
            form body, replies {\"status\":\"success\",\"data\":…} or {\"status\":\"error\",\
            \"errorType\":…,\"error\":…} with HTTP 400 (bad_data), 422 (execution), 503 (timeout).",
        "security": [{"bearer": []}],
        "responses": {
            "200": {"description": "Prometheus JSON", "content": {"application/json": {"schema": {"type": "object"}}}},
            "default": {"description": "a Prometheus error, or 401 without a valid token"}
        }
    });
    match e.section {
        Some(s) => op["x-rg-section"] = json!(s),
        None => op["x-deskd-extension"] = json!(true),
    }
    let forwarded = crate::monitoring::proxy::FORWARDED
        .iter()
        .any(|(path, methods)| *path == e.path && methods.contains(&e.methods[method_index]));
    if forwarded {
        op["x-deskd-forwarded"] = json!(
            "with metrics_backend = prometheus, answered by the external Prometheus as it answers"
        );
    }
    add_path_params(&mut op, e.path);
    op
}

/// Declares the path's `{name}` parameters on the operation.
fn add_path_params(op: &mut Value, path: &str) {
    let params = path_params(path);
    if !params.is_empty() {
        op["parameters"] = Value::Array(
            params
                .into_iter()
                .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
                .collect(),
        );
    }
}

/// The `{name}` parameters of a path template.
pub fn path_params(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(n, _)| n.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_path_params() {
        assert_eq!(
            super::path_params("/v1/desk/{desk_id}:start"),
            vec!["desk_id"]
        );
        assert!(super::path_params("/v1/x").is_empty());
    }
}
