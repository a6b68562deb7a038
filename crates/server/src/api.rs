//! The route table: every endpoint deskd serves, written once. The router and the OpenAPI
//! document are both built from it, so a route cannot exist without its documentation, and
//! whether a route needs a token is decided here and nowhere else.

use axum::http::Method;
use axum::routing::{on, MethodFilter, MethodRouter};
use schemars::gen::SchemaGenerator;
use schemars::schema::Schema;
use schemars::JsonSchema;

use crate::handlers;
use crate::AppState;
use deskd_wire::envelope::{Empty, Reply, Request};
use deskd_wire::paging::{PageData, PageQuery};

/// Produces the JSON schema of a body type.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// One endpoint.
pub struct Route {
    pub path: &'static str,
    /// The documented method first; others are accepted as DECISIONS D2 says.
    pub methods: &'static [Method],
    pub operation_id: &'static str,
    pub summary: &'static str,
    /// Section of the document, or `None` for a deskd extension (DECISIONS D10).
    pub section: Option<&'static str>,
    pub auth: bool,
    pub request: Option<SchemaFn>,
    pub response: SchemaFn,
    pub handler: fn(MethodFilter) -> MethodRouter<AppState>,
}

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// Every route deskd serves.
pub fn routes() -> Vec<Route> {
    vec![
        Route {
            path: "/v1/auth/token",
            methods: &[Method::POST],
            operation_id: "issueToken",
            summary: "Get an access token (DECISIONS D1; section 5.1 of the document is lost)",
            section: Some("5.1"),
            auth: false,
            request: Some(schema::<Request<deskd_wire::token::TokenRequest>>),
            response: schema::<Reply<deskd_wire::token::TokenData>>,
            handler: |f| on(f, crate::auth::issue_token),
        },
        Route {
            path: "/v1/auth/token:revoke",
            methods: &[Method::POST],
            operation_id: "revokeToken",
            summary: "End the caller's token early",
            section: None,
            auth: true,
            request: Some(schema::<Request<Empty>>),
            response: schema::<Reply<()>>,
            handler: |f| on(f, crate::auth::revoke_token),
        },
        Route {
            path: "/v1/desk_strategy:pagequery",
            methods: &[Method::PUT],
            operation_id: "pageQueryDeskStrategies",
            summary: "Query cloud-desktop strategies (paged)",
            section: Some("6.1.1"),
            auth: true,
            request: Some(schema::<Request<PageQuery>>),
            response: schema::<Reply<PageData<deskd_wire::strategy::StrategyItem>>>,
            handler: |f| on(f, handlers::strategy::pagequery),
        },
        Route {
            path: "/v1/task/{task_id}/detail",
            methods: &[Method::PUT, Method::GET, Method::POST],
            operation_id: "getTaskDetail",
            summary: "Get asynchronous task status",
            section: Some("6.1.12"),
            auth: true,
            request: Some(schema::<Request<deskd_wire::task::TaskDetailRequest>>),
            response: schema::<Reply<deskd_wire::task::TaskDetail>>,
            handler: |f| on(f, handlers::task::detail),
        },
    ]
}

/// The axum filter of one method.
pub fn filter(m: &Method) -> MethodFilter {
    match *m {
        Method::GET => MethodFilter::GET,
        Method::POST => MethodFilter::POST,
        Method::PUT => MethodFilter::PUT,
        Method::DELETE => MethodFilter::DELETE,
        Method::PATCH => MethodFilter::PATCH,
        _ => MethodFilter::GET,
    }
}
