//! API accounts (DECISIONS D1): a token for an account's name and password, and revoking it.
//! The Bearer check on every other route is [`crate::http::auth`].

pub mod api;

use axum::http::Method;

use crate::http::routes::{Doc, Route};

/// The token routes.
pub fn routes() -> Vec<Route> {
    vec![
        Route::typed(
            Doc {
                path: "/v1/auth/token",
                methods: &[Method::POST],
                operation_id: "issueToken",
                summary: "Get an access token (DECISIONS D1; section 5.1 of the document is lost)",
                section: Some("5.1"),
                auth: false,
            },
            api::issue_token,
        ),
        Route::typed(
            Doc {
                path: "/v1/auth/token:revoke",
                methods: &[Method::POST],
                operation_id: "revokeToken",
                summary: "End the caller's token early",
                section: None,
                auth: true,
            },
            api::revoke_token,
        ),
    ]
}
