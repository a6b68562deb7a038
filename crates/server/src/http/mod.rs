//! The HTTP plumbing every slice shares: the router built from the slices' route tables
//! ([`routes`]), the body extractors ([`extract`]), the one error table ([`error`]), token
//! checks ([`auth`]), the throttles ([`throttle`]), transport limits ([`transport`]), the
//! OpenAPI document ([`openapi`]), TLS ([`tls`]) and the rendered-reply cache ([`reply_cache`]).

pub mod auth;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod reply_cache;
pub mod routes;
pub mod throttle;
pub mod tls;
pub mod transport;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderName;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, on, MethodFilter, MethodRouter};
use axum::Router;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::{accounts, catalog, desks, fleet, monitoring, portal, tasks, users, AppState};
use error::ApiError;
use routes::{mount_path, verb, Route};

/// Routes whose credential is a one-time ticket in the query string (`?ticket=`) instead of a
/// Bearer token: browsers cannot put headers on a websocket.
pub const TICKET_ROUTES: &[&str] = &[desks::console::WEBSOCKET_PATH];

const REQUEST_ID: &str = "x-request-id";

/// Every route deskd serves, slice by slice; the simulator's fault injection only with
/// `test_hooks` (`--enable-test-hooks`).
pub fn table(test_hooks: bool) -> Vec<Route> {
    let hooks = if test_hooks {
        fleet::sim::routes()
    } else {
        Vec::new()
    };
    [
        accounts::routes(),
        desks::routes(),
        catalog::routes(),
        monitoring::routes(),
        tasks::routes(),
        users::routes(),
        fleet::routes(),
        portal::routes(),
        hooks,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The routes that share one mount path (the `:verb` routes of one resource share it).
struct Mount {
    path: String,
    routes: Vec<Route>,
}

fn mounts(table: Vec<Route>) -> Vec<Mount> {
    let mut mounts: Vec<Mount> = Vec::new();
    for r in table {
        let path = mount_path(r.doc.path);
        match mounts.iter_mut().find(|m| m.path == path) {
            Some(m) => m.routes.push(r),
            None => mounts.push(Mount {
                path,
                routes: vec![r],
            }),
        }
    }
    mounts
}

impl Mount {
    /// One route serves its mount itself. Routes sharing a mount each serve their own `:verb`
    /// (answering 405 for a method that verb does not take); a verb none of them has goes to
    /// the first, which answers for it as it sees fit.
    fn method_router(self) -> MethodRouter<AppState> {
        let filter = self
            .routes
            .iter()
            .map(Route::filter)
            .reduce(|a, b| a.or(b))
            .unwrap_or(MethodFilter::GET);
        if let [only] = self.routes.as_slice() {
            return (only.serve)(filter);
        }
        let by_verb: Arc<Vec<(String, MethodRouter<AppState>)>> = Arc::new(
            self.routes
                .iter()
                .map(|r| {
                    let verb = verb(r.doc.path).unwrap_or_default().to_string();
                    let serve = (r.serve)(r.filter()).fallback(|req: Request| async move {
                        ApiError::BadMethod(req.method().to_string())
                    });
                    (verb, serve)
                })
                .collect(),
        );
        on(
            filter,
            move |State(state): State<AppState>, req: Request| {
                let by_verb = by_verb.clone();
                async move {
                    let asked = req.uri().path().rsplit_once(':').map(|(_, v)| v);
                    let chosen = by_verb
                        .iter()
                        .find(|(v, _)| Some(v.as_str()) == asked)
                        .or(by_verb.first())
                        .map(|(_, serve)| serve.clone());
                    match chosen {
                        Some(serve) => match serve.with_state(state).oneshot(req).await {
                            Ok(resp) => resp,
                            Err(never) => match never {},
                        },
                        None => ApiError::NoRoute(req.uri().path().to_string()).into_response(),
                    }
                }
            },
        )
    }
}

/// The router: every route of the table, the 404/405 answers of DECISIONS D2, `/openapi.json`,
/// and the middleware that gives each request an id, a log span and panic safety.
pub fn router(state: AppState) -> Router {
    let mut app = Router::new();
    let test_hooks = state.cfg.test_hooks;
    for m in mounts(table(test_hooks)) {
        let auth = m.routes.first().is_some_and(|r| r.doc.auth);
        let path = m.path.clone();
        let mut mr = m.method_router();
        if auth {
            mr = mr.route_layer(middleware::from_fn_with_state(
                state.clone(),
                auth::require_token,
            ));
        }
        app = app.route(&path, mr);
    }
    let request_id = HeaderName::from_static(REQUEST_ID);
    let body_limit = axum::extract::DefaultBodyLimit::max(state.cfg.transport.max_body_bytes);
    // rendered once: the document is the same for the process's life
    let doc = bytes::Bytes::from(openapi::document(test_hooks).to_string());
    let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
    let app = app.route("/openapi.json", get(move || async move { (json, doc.clone()) }))
        .merge(crate::web::router())
        .fallback(|req: Request| async move { ApiError::NoRoute(req.uri().path().to_string()) })
        .method_not_allowed_fallback(|req: Request| async move { ApiError::BadMethod(req.method().to_string()) })
        .with_state(state.clone())
        .layer(body_limit)
        .merge(monitoring::router(&state))
        .layer(middleware::from_fn_with_state(state.clone(), throttle::guard))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Domain(deskd_domain::Error::internal("handler panicked")).into_response()
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
        }).on_response(DefaultOnResponse::new().level(tracing::Level::INFO)))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid));
    transport::security_headers(!state.cfg.http)
        .into_iter()
        .fold(app, |app, layer| app.layer(layer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_paths_share_one_mount() {
        assert_eq!(mount_path("/v1/desk/{desk_id}:start"), "/v1/desk/{target}");
        assert_eq!(
            mount_path("/v1/desk/{desk_id}/detail"),
            "/v1/desk/{desk_id}/detail"
        );
        for (verb, _, methods) in desks::api::ACTIONS {
            let r = table(false)
                .into_iter()
                .find(|r| r.doc.path.ends_with(&format!(":{verb}")))
                .expect("a route per action");
            assert_eq!(r.doc.methods, *methods);
        }
    }
}
