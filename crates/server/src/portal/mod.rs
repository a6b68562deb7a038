//! The desktop-user portal (issue 20, extension): the routes the web portal calls with a
//! desktop user's session instead of an API token. Sessions are [`sessions`]; the handlers
//! ([`api`]) reuse the user login, desk start, task view and console ticket of the API.

pub mod api;
pub mod sessions;

use axum::http::Method;

use crate::http::routes::{Doc, Route};

fn doc(
    path: &'static str,
    methods: &'static [Method],
    operation_id: &'static str,
    summary: &'static str,
) -> Doc {
    Doc {
        path,
        methods,
        operation_id,
        summary,
        section: None,
        // The portal's own session token, checked by `sessions::PortalUser`, not an API token.
        auth: false,
    }
}

/// Where a desktop user signs in; every other portal route needs the session it answers.
pub const LOGIN: &str = "/v1/portal/login";

/// Whether `path` is a portal route that takes a portal session token.
pub fn needs_session(path: &str) -> bool {
    path.starts_with("/v1/portal/") && path != LOGIN
}

/// The portal routes.
pub fn routes() -> Vec<Route> {
    vec![
        Route::typed(
            doc(
                LOGIN,
                &[Method::POST],
                "portalLogin",
                "A desktop user signs in to the web portal with their own password",
            ),
            api::login,
        ),
        Route::typed(
            doc(
                "/v1/portal/logout",
                &[Method::POST],
                "portalLogout",
                "End the desktop user's portal session",
            ),
            api::logout,
        ),
        Route::typed(
            doc(
                "/v1/portal/desktop/list",
                &[Method::POST, Method::GET],
                "portalDesktops",
                "The signed-in desktop user's desks and their states",
            ),
            api::desktops,
        ),
        Route::typed(
            doc(
                "/v1/portal/desk/{desk_id}:start",
                &[Method::PUT, Method::POST],
                "portalStartDesk",
                "Start one of the signed-in desktop user's desks",
            ),
            api::start,
        ),
        Route::typed(
            doc(
                "/v1/portal/task/{task_id}/detail",
                &[Method::GET, Method::POST],
                "portalTaskDetail",
                "A task the portal session started",
            ),
            api::task,
        ),
        Route::typed(
            doc(
                "/v1/portal/desk/{desk_id}/console",
                &[Method::PUT],
                "portalDeskConsole",
                "A console ticket for the signed-in desktop user's running desk",
            ),
            api::console,
        ),
    ]
}
