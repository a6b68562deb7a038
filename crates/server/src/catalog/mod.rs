//! The catalogue desks are made from (chapters 6.1.1, 6.1.16, 6.3, 6.4 and their extensions):
//! desk [`strategies`], [`images`] and their versions, the [`os_files`] images are built from,
//! and desk [`networks`]. Each module holds its handlers and rules; [`ops`] holds the image
//! task items; strategies and networks are managed through [`crate::crud`].

pub mod images;
pub mod networks;
pub mod ops;
pub mod os_files;
pub mod strategies;

use axum::http::Method;
use deskd_domain::model::{Network, Strategy};

use crate::crud;
use crate::http::routes::{Doc, Route};

/// The catalogue routes.
pub fn routes() -> Vec<Route> {
    vec![
        Route::typed(
            Doc {
                path: "/v1/desk_strategy:pagequery",
                methods: &[Method::PUT],
                operation_id: "pageQueryDeskStrategies",
                summary: "Query cloud-desktop strategies (paged)",
                section: Some("6.1.1"),
                auth: true,
            },
            strategies::pagequery,
        ),
        Route::typed(
            Doc {
                path: "/v1/osFile:pagequery",
                methods: &[Method::PUT],
                operation_id: "pageQueryOsFiles",
                summary: "Query image (OS) files (paged)",
                section: Some("6.1.16"),
                auth: true,
            },
            os_files::pagequery,
        ),
        Route::typed(
            Doc {
                path: "/v1/image:pagequery",
                methods: &[Method::PUT],
                operation_id: "pageQueryImages",
                summary: "Query image templates with their versions and desk counts (paged)",
                section: Some("6.3.1"),
                auth: true,
            },
            images::pagequery,
        ),
        Route::typed(
            Doc {
                path: "/v1/desk_network:pagequery",
                methods: &[Method::PUT],
                operation_id: "pageQueryDeskNetworks",
                summary: "Query desktop network strategies with their address use (paged)",
                section: Some("6.4"),
                auth: true,
            },
            networks::pagequery,
        ),
        Route::typed(
            Doc {
                path: "/v1/osFile/upload",
                methods: &[Method::POST],
                operation_id: "uploadOsFile",
                summary: "Upload a QCOW2 or ISO file as the raw body (query: name, format, disk_type, os_name, size, sha256, storage_pool_id); UPLOADING, then AVAILABLE once size and SHA-256 match",
                section: None,
                auth: true,
            },
            os_files::upload,
        ),
        Route::typed(
            Doc {
                path: "/v1/osFile/delete",
                methods: &[Method::POST],
                operation_id: "deleteOsFile",
                summary: "Delete an OS file no image is built on",
                section: None,
                auth: true,
            },
            os_files::delete,
        ),
        Route::typed(
            Doc {
                path: "/v1/image/create",
                methods: &[Method::POST],
                operation_id: "createImage",
                summary: "Build an image template from an OS file (CREATING, then AVAILABLE; asynchronous)",
                section: None,
                auth: true,
            },
            images::create,
        ),
        Route::typed(
            Doc {
                path: "/v1/image/publish",
                methods: &[Method::POST],
                operation_id: "publishImage",
                summary: "Publish a new version of an image (PUBLISHING, then AVAILABLE and newest; asynchronous)",
                section: None,
                auth: true,
            },
            images::publish,
        ),
        Route::typed(
            Doc {
                path: "/v1/image/edit",
                methods: &[Method::PUT],
                operation_id: "editImage",
                summary: "Edit an image version's name, CPU, memory, system disk, network or note (EDITING, then its previous state; asynchronous)",
                section: None,
                auth: true,
            },
            images::edit,
        ),
        Route::typed(
            Doc {
                path: "/v1/image/disable",
                methods: &[Method::PUT],
                operation_id: "disableImage",
                summary: "Disable an image version (no new desks from it)",
                section: None,
                auth: true,
            },
            images::disable,
        ),
        Route::typed(
            Doc {
                path: "/v1/image/enable",
                methods: &[Method::PUT],
                operation_id: "enableImage",
                summary: "Enable a disabled image version",
                section: None,
                auth: true,
            },
            images::enable,
        ),
        Route::typed(
            Doc {
                path: "/v1/image/delete",
                methods: &[Method::POST],
                operation_id: "deleteImage",
                summary: "Delete an image version no desk uses (DELETING, then gone; asynchronous)",
                section: None,
                auth: true,
            },
            images::delete,
        ),
        Route::typed(
            Doc {
                path: "/v1/desk_strategy/create",
                methods: &[Method::POST],
                operation_id: "createDeskStrategy",
                summary: "Create a desk strategy",
                section: None,
                auth: true,
            },
            crud::create::<Strategy>,
        ),
        Route::typed(
            Doc {
                path: "/v1/desk_strategy/edit",
                methods: &[Method::PUT],
                operation_id: "editDeskStrategy",
                summary: "Edit a desk strategy (absent fields keep their value)",
                section: None,
                auth: true,
            },
            crud::edit::<Strategy>,
        ),
        Route::typed(
            Doc {
                path: "/v1/desk_strategy/delete",
                methods: &[Method::POST],
                operation_id: "deleteDeskStrategy",
                summary: "Delete a desk strategy no desk uses",
                section: None,
                auth: true,
            },
            crud::delete::<Strategy>,
        ),
        Route::typed(
            Doc {
                path: "/v1/desk_network/create",
                methods: &[Method::POST],
                operation_id: "createDeskNetwork",
                summary: "Create an IP-pool network (CIDR, gateway, DNS, VLAN, pool range)",
                section: None,
                auth: true,
            },
            crud::create::<Network>,
        ),
        Route::typed(
            Doc {
                path: "/v1/desk_network/edit",
                methods: &[Method::PUT],
                operation_id: "editDeskNetwork",
                summary: "Edit a network; the pool may not leave out an address in use",
                section: None,
                auth: true,
            },
            crud::edit::<Network>,
        ),
        Route::typed(
            Doc {
                path: "/v1/desk_network/delete",
                methods: &[Method::POST],
                operation_id: "deleteDeskNetwork",
                summary: "Delete a network no desk or image uses",
                section: None,
                auth: true,
            },
            crud::delete::<Network>,
        ),
    ]
}
