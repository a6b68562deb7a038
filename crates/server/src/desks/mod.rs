//! Cloud desktops (chapter 6.1): the HTTP handlers ([`api`]), the use cases they call
//! ([`plan`]), the task items that carry out every desk operation ([`ops`]), the boot-storm
//! guard ([`guard`]) and the consoles ([`console`]: tickets and the RFB websocket proxy,
//! issue 8).

pub mod api;
pub mod console;
pub mod guard;
pub mod ops;
pub mod plan;

use axum::http::Method;
use deskd_wire::envelope::Reply;

use crate::http::routes::{schema, Doc, Route};

/// Task kinds of desk operations; one handler each in [`ops`].
pub mod kinds {
    pub const CREATE: &str = "desk.create";
    pub const DELETE: &str = "desk.delete";
    pub const START: &str = "desk.start";
    pub const SHUTDOWN: &str = "desk.shutdown";
    pub const POWER_OFF: &str = "desk.power_off";
    pub const RESTART: &str = "desk.restart";
    pub const MODIFY: &str = "desk.modify";
    pub const STRATEGY: &str = "desk.strategy";
    pub const REMARK: &str = "desk.remark";
}

/// One of the `/v1/desk/{desk_id}:verb` actions; its methods come from [`api::ACTIONS`].
fn action(
    path: &'static str,
    operation_id: &'static str,
    summary: &'static str,
    section: &'static str,
) -> Doc {
    let verb = crate::http::routes::verb(path).unwrap_or_default();
    let methods = api::ACTIONS
        .iter()
        .find(|(v, _, _)| *v == verb)
        .map(|(_, _, m)| *m)
        .unwrap_or(&[]);
    Doc {
        path,
        methods,
        operation_id,
        summary,
        section: Some(section),
        auth: true,
    }
}

/// The desk routes of chapter 6.1 and the console extension.
pub fn routes() -> Vec<Route> {
    vec![
        Route::typed(
            Doc {
                path: "/v1/desk:pagequery",
                methods: &[Method::PUT],
                operation_id: "pageQueryDesks",
                summary: "Query cloud desktops (paged)",
                section: Some("6.1.2"),
                auth: true,
            },
            api::pagequery,
        ),
        Route::typed(
            Doc {
                path: "/v1/desk/{desk_id}/configuration/modify",
                methods: &[Method::PUT],
                operation_id: "modifyDeskConfiguration",
                summary: "Modify a cloud desktop's CPU, memory and disks (CLOSE only)",
                section: Some("6.1.4"),
                auth: true,
            },
            api::modify,
        ),
        Route::typed(
            action(
                "/v1/desk/{desk_id}:start",
                "startDesk",
                "Start a cloud desktop",
                "6.1.6",
            ),
            api::act,
        ),
        Route::typed(
            action(
                "/v1/desk/{desk_id}:shutdown",
                "shutdownDesk",
                "Shut down a cloud desktop (ACPI, then power off after the grace period)",
                "6.1.7",
            ),
            api::act,
        ),
        Route::typed(
            action(
                "/v1/desk/{desk_id}:powerOff",
                "powerOffDesk",
                "Force power-off a cloud desktop",
                "6.1.8",
            ),
            api::act,
        ),
        Route::typed(
            action(
                "/v1/desk/{desk_id}:restart",
                "restartDesk",
                "Restart a cloud desktop (synchronous reply, RUNNING only)",
                "6.1.9",
            ),
            api::restart,
        ),
        Route::typed(
            Doc {
                path: "/v1/desk/batch/create",
                methods: &[Method::POST],
                operation_id: "batchCreateDesks",
                summary: "Batch create cloud desktops (at most 1000)",
                section: Some("6.1.10"),
                auth: true,
            },
            api::batch_create,
        ),
        Route::typed(
            Doc {
                path: "/v1/desk/batch/delete",
                methods: &[Method::POST],
                operation_id: "batchDeleteDesks",
                summary: "Batch delete cloud desktops (at most 1000)",
                section: Some("6.1.11"),
                auth: true,
            },
            api::batch_delete,
        ),
        Route::typed(
            Doc {
                path: "/v1/desk/{desk_id}/detail",
                methods: &[Method::PUT, Method::GET],
                operation_id: "getDeskDetail",
                summary: "Get cloud-desktop information (cluster / proxy aware)",
                section: Some("6.1.13"),
                auth: true,
            },
            api::detail,
        ),
        Route::typed(
            Doc {
                path: "/v1/desk/{desk_id}/console",
                methods: &[Method::PUT],
                operation_id: "issueDeskConsoleTicket",
                summary:
                    "Get a one-time ticket (60 s) for a RUNNING desk's console websocket (issue 8)",
                section: None,
                auth: true,
            },
            console::ticket,
        ),
        // A websocket upgrade, not a JSON reply: its schemas are stated.
        Route::raw(
            Doc {
                path: console::WEBSOCKET_PATH,
                methods: &[Method::GET],
                operation_id: "openDeskConsole",
                summary: "Open a desk's console: `?ticket=` from the console ticket, then a websocket \
                    (101; subprotocol `binary`) carrying RFB (VNC) in binary frames; no Bearer token",
                section: None,
                auth: false,
            },
            |_| None,
            schema::<Reply<()>>,
            console::websocket,
        ),
        Route::typed(
            Doc {
                path: "/v1/desk/strategy/batch/edit",
                methods: &[Method::POST],
                operation_id: "batchEditDeskStrategy",
                summary: "Batch change cloud-desktop strategy (at most 1000)",
                section: Some("6.1.18"),
                auth: true,
            },
            api::batch_strategy,
        ),
        Route::typed(
            Doc {
                path: "/v1/desk/remark/batch/edit",
                methods: &[Method::POST],
                operation_id: "batchEditDeskRemark",
                summary: "Batch edit cloud-desktop labels (at most 1000)",
                section: Some("6.1.19"),
                auth: true,
            },
            api::batch_remark,
        ),
    ]
}
