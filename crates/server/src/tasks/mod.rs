//! Asynchronous tasks (6.1.12): how a caller follows what its request started. The engine that
//! runs them is `deskd_tasks`; each slice registers its own task items.

pub mod api;

use axum::http::Method;

use crate::http::routes::{Doc, Route};

/// The task route.
pub fn routes() -> Vec<Route> {
    vec![Route::typed(
        Doc {
            path: "/v1/task/{task_id}/detail",
            methods: &[Method::PUT, Method::GET],
            operation_id: "getTaskDetail",
            summary: "Get asynchronous task status",
            section: Some("6.1.12"),
            auth: true,
        },
        api::detail,
    )]
}
