//! The route table: every endpoint deskd serves, written once. The router and the OpenAPI
//! document are both built from it, so a route cannot exist without its documentation, and
//! whether a route needs a token is decided here and nowhere else.

use axum::http::Method;
use axum::routing::{on, MethodFilter, MethodRouter};
use schemars::gen::SchemaGenerator;
use schemars::schema::Schema;
use schemars::JsonSchema;

use crate::desks;
use crate::handlers;
use crate::inventory;
use crate::users;
use crate::AppState;
use deskd_wire::desk::*;
use deskd_wire::envelope::TaskIdData;
use deskd_wire::envelope::{Empty, Reply, Request};
use deskd_wire::inventory::*;
use deskd_wire::paging::{PageData, PageQuery};
use deskd_wire::user::*;

/// Routes whose credential is a one-time ticket in the query string (`?ticket=`) instead of a
/// Bearer token: browsers cannot put headers on a websocket.
pub const TICKET_ROUTES: &[&str] = &[desks::console::WEBSOCKET_PATH];

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
            path: "/v1/desk:pagequery",
            methods: &[Method::PUT],
            operation_id: "pageQueryDesks",
            summary: "Query cloud desktops (paged)",
            section: Some("6.1.2"),
            auth: true,
            request: Some(schema::<Request<PageQuery>>),
            response: schema::<Reply<PageData<DeskItem>>>,
            handler: |f| on(f, desks::api::pagequery),
        },
        Route {
            path: "/v1/desk/{desk_id}/configuration/modify",
            methods: &[Method::PUT],
            operation_id: "modifyDeskConfiguration",
            summary: "Modify a cloud desktop's CPU, memory and disks (CLOSE only)",
            section: Some("6.1.4"),
            auth: true,
            request: Some(schema::<Request<ModifyRequest>>),
            response: schema::<Reply<DeskTaskData>>,
            handler: |f| on(f, desks::api::modify),
        },
        action_route(
            "/v1/desk/{desk_id}:start",
            "startDesk",
            "Start a cloud desktop",
            "6.1.6",
        ),
        action_route(
            "/v1/desk/{desk_id}:shutdown",
            "shutdownDesk",
            "Shut down a cloud desktop (ACPI, then power off after the grace period)",
            "6.1.7",
        ),
        action_route(
            "/v1/desk/{desk_id}:powerOff",
            "powerOffDesk",
            "Force power-off a cloud desktop",
            "6.1.8",
        ),
        action_route(
            "/v1/desk/{desk_id}:restart",
            "restartDesk",
            "Restart a cloud desktop (synchronous reply, RUNNING only)",
            "6.1.9",
        ),
        Route {
            path: "/v1/desk/batch/create",
            methods: &[Method::POST, Method::PUT],
            operation_id: "batchCreateDesks",
            summary: "Batch create cloud desktops (at most 1000)",
            section: Some("6.1.10"),
            auth: true,
            request: Some(schema::<Request<BatchCreateRequest>>),
            response: schema::<Reply<DeskTaskData>>,
            handler: |f| on(f, desks::api::batch_create),
        },
        Route {
            path: "/v1/desk/batch/delete",
            methods: &[Method::POST, Method::PUT],
            operation_id: "batchDeleteDesks",
            summary: "Batch delete cloud desktops (at most 1000)",
            section: Some("6.1.11"),
            auth: true,
            request: Some(schema::<Request<BatchDeleteRequest>>),
            response: schema::<Reply<DeskTaskData>>,
            handler: |f| on(f, desks::api::batch_delete),
        },
        Route {
            path: "/v1/desk/{desk_id}/detail",
            methods: &[Method::PUT, Method::POST, Method::GET],
            operation_id: "getDeskDetail",
            summary: "Get cloud-desktop information (cluster / proxy aware)",
            section: Some("6.1.13"),
            auth: true,
            request: Some(schema::<Request<DeskActionRequest>>),
            response: schema::<Reply<DeskDetail>>,
            handler: |f| on(f, desks::api::detail),
        },
        Route {
            path: "/v1/desk/{desk_id}/console",
            methods: &[Method::PUT],
            operation_id: "issueDeskConsoleTicket",
            summary:
                "Get a one-time ticket (60 s) for a RUNNING desk's console websocket (issue 8)",
            section: None,
            auth: true,
            request: Some(schema::<Request<DeskActionRequest>>),
            response: schema::<Reply<ConsoleTicket>>,
            handler: |f| on(f, desks::console::ticket),
        },
        Route {
            path: desks::console::WEBSOCKET_PATH,
            methods: &[Method::GET],
            operation_id: "openDeskConsole",
            summary: "Open a desk's console: `?ticket=` from the console ticket, then a websocket \
                (101; subprotocol `binary`) carrying RFB (VNC) in binary frames; no Bearer token",
            section: None,
            auth: false,
            request: None,
            response: schema::<Reply<()>>,
            handler: |f| on(f, desks::console::websocket),
        },
        Route {
            path: "/v1/osFile:pagequery",
            methods: &[Method::PUT],
            operation_id: "pageQueryOsFiles",
            summary: "Query image (OS) files (paged)",
            section: Some("6.1.16"),
            auth: true,
            request: Some(schema::<Request<PageQuery>>),
            response: schema::<Reply<PageData<deskd_wire::os_file::OsFileItem>>>,
            handler: |f| on(f, desks::api::os_files),
        },
        Route {
            path: "/v1/desk/strategy/batch/edit",
            methods: &[Method::POST],
            operation_id: "batchEditDeskStrategy",
            summary: "Batch change cloud-desktop strategy (at most 1000)",
            section: Some("6.1.18"),
            auth: true,
            request: Some(schema::<Request<BatchStrategyEditRequest>>),
            response: schema::<Reply<DeskTaskData>>,
            handler: |f| on(f, desks::api::batch_strategy),
        },
        Route {
            path: "/v1/desk/remark/batch/edit",
            methods: &[Method::POST, Method::PUT],
            operation_id: "batchEditDeskRemark",
            summary: "Batch edit cloud-desktop labels (at most 1000)",
            section: Some("6.1.19"),
            auth: true,
            request: Some(schema::<Request<BatchRemarkEditRequest>>),
            response: schema::<Reply<DeskTaskData>>,
            handler: |f| on(f, desks::api::batch_remark),
        },
        Route {
            path: "/v1/rccp/server/resource/usage",
            methods: &[Method::PUT, Method::POST],
            operation_id: "serverResourceUsage",
            summary:
                "Fleet CPU, memory or disk: capacity and share in use, from the metrics engine",
            section: Some("6.7"),
            auth: true,
            request: Some(schema::<Request<deskd_wire::usage::ResourceUsageRequest>>),
            response: schema::<Reply<deskd_wire::usage::ResourceUsageData>>,
            handler: |f| on(f, crate::handlers::usage::resource_usage),
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
    .into_iter()
    .chain(user_routes())
    .chain(inventory_routes())
    .chain(management_routes())
    .collect()
}

/// Chapter 6.2 and its extensions (D10: `section: None`).
fn user_routes() -> Vec<Route> {
    vec![
        Route {
            path: "/v1/user/exist",
            methods: &[Method::POST],
            operation_id: "userExists",
            summary: "Check whether a user exists",
            section: Some("6.2.1"),
            auth: true,
            request: Some(schema::<Request<UserNameRequest>>),
            response: schema::<Reply<ExistData>>,
            handler: |f| on(f, users::api::exist),
        },
        Route {
            path: "/v1/user/passwordKey",
            methods: &[Method::POST, Method::PUT],
            operation_id: "getPasswordKey",
            summary: "Get the password-encryption key (DECISIONS D6)",
            section: Some("6.2.3"),
            auth: true,
            request: Some(schema::<Request<Empty>>),
            response: schema::<Reply<PasswordKeyData>>,
            handler: |f| on(f, users::api::password_key),
        },
        Route {
            path: "/v1/user/passwordKey:rotate",
            methods: &[Method::POST],
            operation_id: "rotatePasswordKey",
            summary: "Replace the password-encryption key (the previous one decrypts for 10 more minutes)",
            section: None,
            auth: true,
            request: Some(schema::<Request<Empty>>),
            response: schema::<Reply<PasswordKeyData>>,
            handler: |f| on(f, users::api::rotate_password_key),
        },
        Route {
            path: "/v1/user/create",
            methods: &[Method::POST, Method::PUT],
            operation_id: "createUser",
            summary: "Create a user (asynchronous; missing groups are created)",
            section: Some("6.2.4"),
            auth: true,
            request: Some(schema::<Request<CreateUserRequest>>),
            response: schema::<Reply<TaskIdData>>,
            handler: |f| on(f, users::api::create),
        },
        Route {
            path: "/v1/user/delete",
            methods: &[Method::POST, Method::PUT],
            operation_id: "deleteUser",
            summary: "Delete a user that owns no desktops (DECISIONS D11)",
            section: Some("6.2.5"),
            auth: true,
            request: Some(schema::<Request<UserNameRequest>>),
            response: schema::<Reply<()>>,
            handler: |f| on(f, users::api::delete),
        },
        Route {
            path: "/v1/user/edit",
            methods: &[Method::POST, Method::PUT],
            operation_id: "editUser",
            summary: "Edit a user (asynchronous)",
            section: Some("6.2.6"),
            auth: true,
            request: Some(schema::<Request<EditUserRequest>>),
            response: schema::<Reply<TaskIdData>>,
            handler: |f| on(f, users::api::edit),
        },
        Route {
            path: "/v1/user/batch/enableUser",
            methods: &[Method::POST, Method::PUT],
            operation_id: "batchEnableUsers",
            summary: "Batch enable users (at most 1000)",
            section: Some("6.2.7"),
            auth: true,
            request: Some(schema::<Request<UserBatchRequest>>),
            response: schema::<Reply<TaskIdData>>,
            handler: |f| on(f, users::api::enable),
        },
        Route {
            path: "/v1/user/batch/disableUser",
            methods: &[Method::POST],
            operation_id: "batchDisableUsers",
            summary: "Batch disable users (at most 1000)",
            section: Some("6.2.8"),
            auth: true,
            request: Some(schema::<Request<UserBatchRequest>>),
            response: schema::<Reply<TaskIdData>>,
            handler: |f| on(f, users::api::disable),
        },
        Route {
            path: "/v1/user/modify:password",
            methods: &[Method::PUT, Method::POST],
            operation_id: "changeUserPassword",
            summary: "Change a user's password (lockout after repeated wrong passwords; DECISIONS D11)",
            section: Some("6.2.9"),
            auth: true,
            request: Some(schema::<Request<ChangePasswordRequest>>),
            response: schema::<Reply<ChangePasswordData>>,
            handler: |f| on(f, users::api::change_password),
        },
        Route {
            path: "/v1/user/modify:usergroup",
            methods: &[Method::PUT],
            operation_id: "changeUserGroup",
            summary: "Move users to another group (DECISIONS D11)",
            section: Some("6.2.10"),
            auth: true,
            request: Some(schema::<Request<ChangeGroupRequest>>),
            response: schema::<Reply<()>>,
            handler: |f| on(f, users::api::change_group),
        },
        Route {
            path: "/v1/user/desktop/list",
            methods: &[Method::POST, Method::PUT],
            operation_id: "listUserDesktops",
            summary: "List a user's cloud desktops (DECISIONS D11)",
            section: Some("6.2.11"),
            auth: true,
            request: Some(schema::<Request<UserDesktopRequest>>),
            response: schema::<Reply<Vec<UserDesktop>>>,
            handler: |f| on(f, users::api::desktops),
        },
        Route {
            path: "/v1/usergroup/create",
            methods: &[Method::POST],
            operation_id: "createUserGroup",
            summary: "Create a user group",
            section: Some("6.2.12"),
            auth: true,
            request: Some(schema::<Request<CreateGroupRequest>>),
            response: schema::<Reply<CreateGroupData>>,
            handler: |f| on(f, users::api::create_group),
        },
        Route {
            path: "/v1/usergroup/list",
            methods: &[Method::GET],
            operation_id: "getUserGroupTree",
            summary: "Get the user-group tree",
            section: Some("6.2.13"),
            auth: true,
            request: None,
            response: schema::<Reply<GroupTreeData>>,
            handler: |f| on(f, users::api::group_tree),
        },
        Route {
            path: "/v1/user/list",
            methods: &[Method::POST],
            operation_id: "listUsers",
            summary: "List users (paged)",
            section: Some("6.2.15"),
            auth: true,
            request: Some(schema::<Request<PageQuery>>),
            response: schema::<Reply<PageData<UserItem>>>,
            handler: |f| on(f, users::api::list),
        },
        Route {
            path: "/v1/user/detail",
            methods: &[Method::POST],
            operation_id: "getUserDetail",
            summary: "Get user detail by userId and/or userName",
            section: Some("6.2.16"),
            auth: true,
            request: Some(schema::<Request<UserDetailRequest>>),
            response: schema::<Reply<UserDetail>>,
            handler: |f| on(f, users::api::detail),
        },
        Route {
            path: "/v1/user/login",
            methods: &[Method::POST],
            operation_id: "loginDesktopUser",
            summary: "Sign a desktop user in on a terminal and list their desktops",
            section: None,
            auth: true,
            request: Some(schema::<Request<LoginRequest>>),
            response: schema::<Reply<LoginData>>,
            handler: |f| on(f, users::api::login),
        },
        Route {
            path: "/v1/user/globalStrategy/detail",
            methods: &[Method::POST, Method::GET],
            operation_id: "getUserGlobalStrategy",
            summary: "Read the global user strategy (authentication switches, password policy, lockout, maintenance mode)",
            section: None,
            auth: true,
            request: Some(schema::<Request<Empty>>),
            response: schema::<Reply<GlobalStrategy>>,
            handler: |f| on(f, users::api::global_detail),
        },
        Route {
            path: "/v1/user/globalStrategy/edit",
            methods: &[Method::PUT, Method::POST],
            operation_id: "setUserGlobalStrategy",
            summary: "Replace the global user strategy",
            section: None,
            auth: true,
            request: Some(schema::<Request<GlobalStrategy>>),
            response: schema::<Reply<GlobalStrategy>>,
            handler: |f| on(f, users::api::global_edit),
        },
    ]
}

/// Chapters 6.3–6.10 (the platform inventory).
fn inventory_routes() -> Vec<Route> {
    vec![
        Route {
            path: "/v1/terminal/statistics",
            methods: &[Method::PUT, Method::POST],
            operation_id: "terminalStatistics",
            summary: "Terminals per category: total, online, offline, never logged in",
            section: Some("6.6"),
            auth: true,
            request: Some(schema::<Request<Empty>>),
            response: schema::<Reply<TerminalStatistics>>,
            handler: |f| on(f, inventory::terminals::statistics),
        },
        Route {
            path: "/v1/image:pagequery",
            methods: &[Method::PUT],
            operation_id: "pageQueryImages",
            summary: "Query image templates with their versions and desk counts (paged)",
            section: Some("6.3.1"),
            auth: true,
            request: Some(schema::<Request<PageQuery>>),
            response: schema::<Reply<ImagePageData>>,
            handler: |f| on(f, inventory::catalog::images),
        },
        Route {
            path: "/v1/desk_network:pagequery",
            methods: &[Method::PUT],
            operation_id: "pageQueryDeskNetworks",
            summary: "Query desktop network strategies with their address use (paged)",
            section: Some("6.4"),
            auth: true,
            request: Some(schema::<Request<PageQuery>>),
            response: schema::<Reply<PageData<NetworkItem>>>,
            handler: |f| on(f, inventory::catalog::networks),
        },
        Route {
            path: "/v1/rccp/compute/summary",
            methods: &[Method::PUT],
            operation_id: "computeSummary",
            summary: "Allocated CPU and memory per compute cluster, beside its hosts' totals",
            section: Some("6.5"),
            auth: true,
            request: Some(schema::<Request<PageQuery>>),
            response: schema::<Reply<PageData<ComputeSummaryItem>>>,
            handler: |f| on(f, inventory::ccp::compute),
        },
        Route {
            path: "/v1/rccp/storage/summary",
            methods: &[Method::PUT, Method::POST],
            operation_id: "storageSummary",
            summary: "Storage pools' capacity and use per cluster",
            section: Some("6.8"),
            auth: true,
            request: Some(schema::<Request<PageQuery>>),
            response: schema::<Reply<PageData<StorageSummaryItem>>>,
            handler: |f| on(f, inventory::ccp::storage),
        },
        Route {
            path: "/v1/rccp/cluster:pagequery",
            methods: &[Method::PUT, Method::POST],
            operation_id: "pageQueryClusters",
            summary: "List compute clusters (paged; DECISIONS D11)",
            section: Some("6.9"),
            auth: true,
            request: Some(schema::<Request<PageQuery>>),
            response: schema::<Reply<PageData<ClusterItem>>>,
            handler: |f| on(f, inventory::ccp::clusters),
        },
        Route {
            path: "/v1/rccp/storage_pool:pagequery",
            methods: &[Method::PUT, Method::POST],
            operation_id: "pageQueryStoragePools",
            summary: "List storage pools with capacity and use (paged; sorting not supported)",
            section: Some("6.10"),
            auth: true,
            request: Some(schema::<Request<PageQuery>>),
            response: schema::<Reply<PageData<StoragePoolItem>>>,
            handler: |f| on(f, inventory::ccp::pools),
        },
    ]
}

/// Inventory management extensions (D10: `section: None`).
fn management_routes() -> Vec<Route> {
    vec![
        Route {
            path: "/v1/osFile/upload",
            methods: &[Method::POST],
            operation_id: "uploadOsFile",
            summary: "Upload a QCOW2 or ISO file as the raw body (query: name, format, disk_type, os_name, size, sha256, storage_pool_id); UPLOADING, then AVAILABLE once size and SHA-256 match",
            section: None,
            auth: true,
            request: None,
            response: schema::<Reply<IdData>>,
            handler: |f| on(f, inventory::os_files::upload),
        },
        Route {
            path: "/v1/osFile/delete",
            methods: &[Method::POST],
            operation_id: "deleteOsFile",
            summary: "Delete an OS file no image is built on",
            section: None,
            auth: true,
            request: Some(schema::<Request<IdRequest>>),
            response: schema::<Reply<()>>,
            handler: |f| on(f, inventory::os_files::delete),
        },
        Route {
            path: "/v1/image/create",
            methods: &[Method::POST],
            operation_id: "createImage",
            summary: "Build an image template from an OS file (CREATING, then AVAILABLE; asynchronous)",
            section: None,
            auth: true,
            request: Some(schema::<Request<ImageCreateRequest>>),
            response: schema::<Reply<InventoryTaskData>>,
            handler: |f| on(f, inventory::images::create),
        },
        Route {
            path: "/v1/image/publish",
            methods: &[Method::POST],
            operation_id: "publishImage",
            summary: "Publish a new version of an image (PUBLISHING, then AVAILABLE and newest; asynchronous)",
            section: None,
            auth: true,
            request: Some(schema::<Request<ImagePublishRequest>>),
            response: schema::<Reply<InventoryTaskData>>,
            handler: |f| on(f, inventory::images::publish),
        },
        Route {
            path: "/v1/image/edit",
            methods: &[Method::PUT],
            operation_id: "editImage",
            summary: "Edit an image version's name, CPU, memory, system disk, network or note (EDITING, then its previous state; asynchronous)",
            section: None,
            auth: true,
            request: Some(schema::<Request<ImageEditRequest>>),
            response: schema::<Reply<InventoryTaskData>>,
            handler: |f| on(f, inventory::images::edit),
        },
        Route {
            path: "/v1/image/disable",
            methods: &[Method::PUT],
            operation_id: "disableImage",
            summary: "Disable an image version (no new desks from it)",
            section: None,
            auth: true,
            request: Some(schema::<Request<IdRequest>>),
            response: schema::<Reply<()>>,
            handler: |f| on(f, inventory::images::disable),
        },
        Route {
            path: "/v1/image/enable",
            methods: &[Method::PUT],
            operation_id: "enableImage",
            summary: "Enable a disabled image version",
            section: None,
            auth: true,
            request: Some(schema::<Request<IdRequest>>),
            response: schema::<Reply<()>>,
            handler: |f| on(f, inventory::images::enable),
        },
        Route {
            path: "/v1/image/delete",
            methods: &[Method::POST],
            operation_id: "deleteImage",
            summary: "Delete an image version no desk uses (DELETING, then gone; asynchronous)",
            section: None,
            auth: true,
            request: Some(schema::<Request<IdRequest>>),
            response: schema::<Reply<InventoryTaskData>>,
            handler: |f| on(f, inventory::images::delete),
        },
        Route {
            path: "/v1/terminal/register",
            methods: &[Method::POST],
            operation_id: "registerTerminal",
            summary: "Register a terminal (again: update its name, category and addresses)",
            section: None,
            auth: true,
            request: Some(schema::<Request<TerminalRegisterRequest>>),
            response: schema::<Reply<TerminalRegisterData>>,
            handler: |f| on(f, inventory::terminals::register),
        },
        Route {
            path: "/v1/terminal/heartbeat",
            methods: &[Method::POST],
            operation_id: "terminalHeartbeat",
            summary: "A terminal is alive (online for the configured window)",
            section: None,
            auth: true,
            request: Some(schema::<Request<TerminalHeartbeatRequest>>),
            response: schema::<Reply<()>>,
            handler: |f| on(f, inventory::terminals::heartbeat),
        },
        Route {
            path: "/v1/desk_strategy/create",
            methods: &[Method::POST],
            operation_id: "createDeskStrategy",
            summary: "Create a desk strategy",
            section: None,
            auth: true,
            request: Some(schema::<Request<StrategyRequest>>),
            response: schema::<Reply<IdData>>,
            handler: |f| on(f, inventory::manage::create_strategy),
        },
        Route {
            path: "/v1/desk_strategy/edit",
            methods: &[Method::PUT],
            operation_id: "editDeskStrategy",
            summary: "Edit a desk strategy (absent fields keep their value)",
            section: None,
            auth: true,
            request: Some(schema::<Request<StrategyRequest>>),
            response: schema::<Reply<()>>,
            handler: |f| on(f, inventory::manage::edit_strategy),
        },
        Route {
            path: "/v1/desk_strategy/delete",
            methods: &[Method::POST],
            operation_id: "deleteDeskStrategy",
            summary: "Delete a desk strategy no desk uses",
            section: None,
            auth: true,
            request: Some(schema::<Request<IdRequest>>),
            response: schema::<Reply<()>>,
            handler: |f| on(f, inventory::manage::delete_strategy),
        },
        Route {
            path: "/v1/desk_network/create",
            methods: &[Method::POST],
            operation_id: "createDeskNetwork",
            summary: "Create an IP-pool network (CIDR, gateway, DNS, VLAN, pool range)",
            section: None,
            auth: true,
            request: Some(schema::<Request<NetworkRequest>>),
            response: schema::<Reply<IdData>>,
            handler: |f| on(f, inventory::manage::create_network),
        },
        Route {
            path: "/v1/desk_network/edit",
            methods: &[Method::PUT],
            operation_id: "editDeskNetwork",
            summary: "Edit a network; the pool may not leave out an address in use",
            section: None,
            auth: true,
            request: Some(schema::<Request<NetworkRequest>>),
            response: schema::<Reply<()>>,
            handler: |f| on(f, inventory::manage::edit_network),
        },
        Route {
            path: "/v1/desk_network/delete",
            methods: &[Method::POST],
            operation_id: "deleteDeskNetwork",
            summary: "Delete a network no desk or image uses",
            section: None,
            auth: true,
            request: Some(schema::<Request<IdRequest>>),
            response: schema::<Reply<()>>,
            handler: |f| on(f, inventory::manage::delete_network),
        },
        Route {
            path: "/v1/rccp/cluster/create",
            methods: &[Method::POST],
            operation_id: "createCluster",
            summary: "Create a compute cluster",
            section: None,
            auth: true,
            request: Some(schema::<Request<ClusterRequest>>),
            response: schema::<Reply<IdData>>,
            handler: |f| on(f, inventory::manage::create_cluster),
        },
        Route {
            path: "/v1/rccp/cluster/edit",
            methods: &[Method::PUT],
            operation_id: "editCluster",
            summary: "Rename, describe, enable or disable a compute cluster",
            section: None,
            auth: true,
            request: Some(schema::<Request<ClusterRequest>>),
            response: schema::<Reply<()>>,
            handler: |f| on(f, inventory::manage::edit_cluster),
        },
        Route {
            path: "/v1/rccp/cluster/delete",
            methods: &[Method::POST],
            operation_id: "deleteCluster",
            summary: "Delete a compute cluster with its empty hosts, networks and pools (DELETING, then gone; asynchronous)",
            section: None,
            auth: true,
            request: Some(schema::<Request<IdRequest>>),
            response: schema::<Reply<InventoryTaskData>>,
            handler: |f| on(f, inventory::manage::delete_cluster),
        },
        Route {
            path: "/v1/rccp/host:pagequery",
            methods: &[Method::PUT],
            operation_id: "pageQueryHosts",
            summary: "List compute hosts with what their desks were promised (paged)",
            section: None,
            auth: true,
            request: Some(schema::<Request<PageQuery>>),
            response: schema::<Reply<PageData<HostItem>>>,
            handler: |f| on(f, inventory::ccp::hosts),
        },
        Route {
            path: "/v1/rccp/host/create",
            methods: &[Method::POST],
            operation_id: "createHost",
            summary: "Add a compute host to a cluster",
            section: None,
            auth: true,
            request: Some(schema::<Request<HostRequest>>),
            response: schema::<Reply<IdData>>,
            handler: |f| on(f, inventory::manage::create_host),
        },
        Route {
            path: "/v1/rccp/host/edit",
            methods: &[Method::PUT],
            operation_id: "editHost",
            summary: "Edit a host's capacity or state (DRAINING takes no new desks)",
            section: None,
            auth: true,
            request: Some(schema::<Request<HostRequest>>),
            response: schema::<Reply<()>>,
            handler: |f| on(f, inventory::manage::edit_host),
        },
        Route {
            path: "/v1/rccp/host/delete",
            methods: &[Method::POST],
            operation_id: "deleteHost",
            summary: "Delete a host no desk is placed on",
            section: None,
            auth: true,
            request: Some(schema::<Request<IdRequest>>),
            response: schema::<Reply<()>>,
            handler: |f| on(f, inventory::manage::delete_host),
        },
        Route {
            path: "/v1/sim/host/{host_id}:down",
            methods: &[Method::PUT],
            operation_id: "simHostDown",
            summary: "Simulator: the host stops answering (its up{job=\"node\"} becomes 0); fault injection for tests",
            section: None,
            auth: true,
            request: None,
            response: schema::<Reply<()>>,
            handler: |f| on(f, handlers::sim::host_reachability),
        },
        Route {
            path: "/v1/sim/host/{host_id}:up",
            methods: &[Method::PUT],
            operation_id: "simHostUp",
            summary: "Simulator: the host answers again",
            section: None,
            auth: true,
            request: None,
            response: schema::<Reply<()>>,
            handler: |f| on(f, handlers::sim::host_reachability),
        },
        Route {
            path: "/v1/rccp/storage_pool/create",
            methods: &[Method::POST],
            operation_id: "createStoragePool",
            summary: "Create a storage pool (directory-backed or simulated)",
            section: None,
            auth: true,
            request: Some(schema::<Request<StoragePoolRequest>>),
            response: schema::<Reply<IdData>>,
            handler: |f| on(f, inventory::manage::create_pool),
        },
        Route {
            path: "/v1/rccp/storage_pool/edit",
            methods: &[Method::PUT],
            operation_id: "editStoragePool",
            summary: "Edit a storage pool's name, capacity, redundancy or health",
            section: None,
            auth: true,
            request: Some(schema::<Request<StoragePoolRequest>>),
            response: schema::<Reply<()>>,
            handler: |f| on(f, inventory::manage::edit_pool),
        },
        Route {
            path: "/v1/rccp/storage_pool/delete",
            methods: &[Method::POST],
            operation_id: "deleteStoragePool",
            summary: "Delete a storage pool that keeps no OS files",
            section: None,
            auth: true,
            request: Some(schema::<Request<IdRequest>>),
            response: schema::<Reply<()>>,
            handler: |f| on(f, inventory::manage::delete_pool),
        },
    ]
}

/// One of the `/v1/desk/{desk_id}:verb` actions; its methods come from `desks::api::ACTIONS`.
fn action_route(
    path: &'static str,
    operation_id: &'static str,
    summary: &'static str,
    section: &'static str,
) -> Route {
    let verb = path.rsplit(':').next().unwrap_or_default();
    let methods = desks::api::ACTIONS
        .iter()
        .find(|(v, _, _)| *v == verb)
        .map(|(_, _, m)| *m)
        .unwrap_or(&[]);
    let restart = verb == "restart";
    Route {
        path,
        methods,
        operation_id,
        summary,
        section: Some(section),
        auth: true,
        request: Some(schema::<Request<DeskActionRequest>>),
        response: if restart {
            schema::<Reply<()>>
        } else {
            schema::<Reply<DeskTaskData>>
        },
        handler: |f| on(f, desks::api::action),
    }
}

/// The path axum routes a documented path on: a segment with a parameter and a `:verb` suffix
/// becomes one parameter, split again by the handler.
pub fn mount_path(path: &str) -> String {
    match path.find("}:") {
        Some(end) => {
            let start = path[..end].rfind('{').unwrap_or(end);
            format!("{}{{target}}", &path[..start])
        }
        None => path.to_string(),
    }
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
            let r = routes()
                .into_iter()
                .find(|r| r.path.ends_with(&format!(":{verb}")))
                .expect("a route per action");
            assert_eq!(r.methods, *methods);
        }
    }
}
