//! The fleet desks run on (chapters 6.5–6.10 and their extensions): compute [`clusters`],
//! [`hosts`] and storage [`pools`] (with their [`capacity`]), the RG-CCP [`summary`] figures,
//! the [`terminals`] desktop users sign in on, the hypervisor driver's view of the inventory
//! ([`driver`]), the [`reconcile`]r that repairs drift from it, and the simulator's fault
//! injection ([`sim`]). Clusters, hosts and pools are managed through [`crate::crud`]; [`ops`]
//! holds the cluster removal item. The RG-CCP endpoints (`/v1/rccp`) take an optional
//! `content` and answer bad input with 12000200 (DECISIONS D11).

pub mod capacity;
pub mod clusters;
pub mod driver;
pub mod hosts;
pub mod ops;
pub mod pools;
pub mod reconcile;
pub mod sim;
pub mod summary;
pub mod terminals;

use axum::http::Method;
use axum::Json;
use deskd_domain::error::Error;
use deskd_domain::model::{Cluster, Host, StoragePool};
use deskd_domain::query::{compile, ListQuery, Resource};
use deskd_wire::envelope::Reply;
use deskd_wire::paging::{PageData, PageQuery};

pub use driver::{adopt_inventory, disk_image, host_spec, register_hosts, vm_spec};
pub use reconcile::reconcile_once;

use crate::crud;
use crate::http::error::ApiResult;
use crate::http::routes::{Doc, Route};

type Paged<T> = ApiResult<Json<Reply<PageData<T>>>>;

/// A list query of an RG-CCP endpoint.
fn query(resource: &Resource, q: &PageQuery) -> Result<ListQuery, Error> {
    compile(resource, q).map_err(Error::for_ccp)
}

fn paged<T>(total: i64, item_arr: Vec<T>) -> Json<Reply<PageData<T>>> {
    Json(Reply::data(PageData { total, item_arr }))
}

/// The fleet routes.
pub fn routes() -> Vec<Route> {
    vec![
        Route::typed(
            Doc {
                path: "/v1/terminal/statistics",
                methods: &[Method::PUT],
                operation_id: "terminalStatistics",
                summary: "Terminals per category: total, online, offline, never logged in",
                section: Some("6.6"),
                auth: true,
            },
            terminals::statistics,
        ),
        Route::typed(
            Doc {
                path: "/v1/rccp/compute/summary",
                methods: &[Method::PUT],
                operation_id: "computeSummary",
                summary: "Allocated CPU and memory per compute cluster, beside its hosts' totals",
                section: Some("6.5"),
                auth: true,
            },
            summary::compute,
        ),
        Route::typed(
            Doc {
                path: "/v1/rccp/storage/summary",
                methods: &[Method::PUT],
                operation_id: "storageSummary",
                summary: "Storage pools' capacity and use per cluster",
                section: Some("6.8"),
                auth: true,
            },
            summary::storage,
        ),
        Route::typed(
            Doc {
                path: "/v1/rccp/compute/bootQueue",
                methods: &[Method::PUT, Method::GET],
                operation_id: "bootQueue",
                summary: "The boot-storm guard's queue: desk starts waiting for a slot and running, against the per-host and per-cluster limits (this server process)",
                section: None,
                auth: true,
            },
            summary::boot_queue,
        ),
        Route::typed(
            Doc {
                path: "/v1/rccp/cluster:pagequery",
                methods: &[Method::PUT],
                operation_id: "pageQueryClusters",
                summary: "List compute clusters (paged; DECISIONS D11)",
                section: Some("6.9"),
                auth: true,
            },
            clusters::pagequery,
        ),
        Route::typed(
            Doc {
                path: "/v1/rccp/storage_pool:pagequery",
                methods: &[Method::PUT],
                operation_id: "pageQueryStoragePools",
                summary: "List storage pools with capacity and use (paged; sorting not supported)",
                section: Some("6.10"),
                auth: true,
            },
            pools::pagequery,
        ),
        Route::typed(
            Doc {
                path: "/v1/terminal/register",
                methods: &[Method::POST],
                operation_id: "registerTerminal",
                summary: "Register a terminal (again: update its name, category and addresses)",
                section: None,
                auth: true,
            },
            terminals::register,
        ),
        Route::typed(
            Doc {
                path: "/v1/terminal/heartbeat",
                methods: &[Method::POST],
                operation_id: "terminalHeartbeat",
                summary: "A terminal is alive (online for the configured window)",
                section: None,
                auth: true,
            },
            terminals::heartbeat,
        ),
        Route::typed(
            Doc {
                path: "/v1/rccp/cluster/create",
                methods: &[Method::POST],
                operation_id: "createCluster",
                summary: "Create a compute cluster",
                section: None,
                auth: true,
            },
            crud::create::<Cluster>,
        ),
        Route::typed(
            Doc {
                path: "/v1/rccp/cluster/edit",
                methods: &[Method::PUT],
                operation_id: "editCluster",
                summary: "Rename, describe, enable or disable a compute cluster",
                section: None,
                auth: true,
            },
            crud::edit::<Cluster>,
        ),
        Route::typed(
            Doc {
                path: "/v1/rccp/cluster/delete",
                methods: &[Method::POST],
                operation_id: "deleteCluster",
                summary: "Delete a compute cluster with its empty hosts, networks and pools (DELETING, then gone; asynchronous)",
                section: None,
                auth: true,
            },
            clusters::delete,
        ),
        Route::typed(
            Doc {
                path: "/v1/rccp/host:pagequery",
                methods: &[Method::PUT],
                operation_id: "pageQueryHosts",
                summary: "List compute hosts with what their desks were promised (paged)",
                section: None,
                auth: true,
            },
            hosts::pagequery,
        ),
        Route::typed(
            Doc {
                path: "/v1/rccp/host/create",
                methods: &[Method::POST],
                operation_id: "createHost",
                summary: "Add a compute host to a cluster",
                section: None,
                auth: true,
            },
            crud::create::<Host>,
        ),
        Route::typed(
            Doc {
                path: "/v1/rccp/host/edit",
                methods: &[Method::PUT],
                operation_id: "editHost",
                summary: "Edit a host's capacity or state (DRAINING takes no new desks)",
                section: None,
                auth: true,
            },
            crud::edit::<Host>,
        ),
        Route::typed(
            Doc {
                path: "/v1/rccp/host/delete",
                methods: &[Method::POST],
                operation_id: "deleteHost",
                summary: "Delete a host no desk is placed on",
                section: None,
                auth: true,
            },
            crud::delete::<Host>,
        ),
        Route::typed(
            Doc {
                path: "/v1/rccp/storage_pool/create",
                methods: &[Method::POST],
                operation_id: "createStoragePool",
                summary: "Create a storage pool (directory-backed or simulated)",
                section: None,
                auth: true,
            },
            crud::create::<StoragePool>,
        ),
        Route::typed(
            Doc {
                path: "/v1/rccp/storage_pool/edit",
                methods: &[Method::PUT],
                operation_id: "editStoragePool",
                summary: "Edit a storage pool's name, capacity, redundancy or health",
                section: None,
                auth: true,
            },
            crud::edit::<StoragePool>,
        ),
        Route::typed(
            Doc {
                path: "/v1/rccp/storage_pool/delete",
                methods: &[Method::POST],
                operation_id: "deleteStoragePool",
                summary: "Delete a storage pool that keeps no OS files",
                section: None,
                auth: true,
            },
            crud::delete::<StoragePool>,
        ),
    ]
}
