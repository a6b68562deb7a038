//! Cloud desktops (chapter 6.1): records, actions and batches.

use crate::ids::{DeskId, HostId, ImageId, UserId};
use schemars::JsonSchema;

use crate::enums::{DeskCategory, DeskState, DeskType};
use serde::{Deserialize, Serialize};

/// One item of `PUT /v1/desk:pagequery` (6.1.2): every field of the document's example, plus
/// the ids and figures a client needs (DECISIONS D11).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct DeskItem {
    pub id: DeskId,
    pub desk_id: DeskId,
    pub desk_name: String,
    /// DeskState
    pub desk_state: DeskState,
    /// PERSONAL | APP_LAYER | RECOVERABLE
    pub desk_type: DeskType,
    /// VDI | IDV | TCI
    pub desk_category: DeskCategory,
    pub enable_custom: bool,
    pub need_refresh_strategy: bool,
    pub image_id: ImageId,
    pub image_name: String,
    pub desk_strategy_id: String,
    pub network_id: String,
    pub cpu_cores: i64,
    /// GB
    pub memory: i64,
    /// GB
    pub system_disk: i64,
    /// GB, 0 without a data disk
    pub data_disk: i64,
    pub user_id: UserId,
    pub user_name: String,
    pub user_type: String,
    pub vgpu_type: String,
    pub cluster_id: String,
    pub cluster_name: String,
    pub desktop_pool_type: String,
    pub host_id: HostId,
    pub host_name: String,
    pub ip: String,
    pub mac: String,
    pub terminal_ip: String,
    pub remark: String,
    /// Why the desk is in ERROR; empty otherwise.
    pub error_message: String,
    /// epoch ms
    pub create_time: i64,
}

/// Optional body of the desk actions (start, shutdown, powerOff, restart) and of desk detail.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct DeskActionRequest {
    /// RG-CDC cluster id (unified login); echoed back.
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// Desk detail only: whether the caller connects through the proxy (security gateway).
    #[serde(default)]
    pub enable_proxy: Option<serde_json::Value>,
}

/// `data` of the asynchronous desk actions: the task id and the echoed cluster id.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct DeskTaskData {
    pub task_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
}

/// Body of 6.1.4 configuration modify.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ModifyRequest {
    /// 1..32
    pub cpu_cores: i64,
    /// GB, 1..64
    pub memory: i64,
    /// GB, 20..2048
    pub system_disk: i64,
    /// GB, 20..2048; only for desks with a data disk; absent keeps the size
    #[serde(default)]
    pub data_disk: Option<i64>,
}

/// One item of 6.1.10 batch create.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CreateItem {
    /// Caller's business id, ≤ 64 characters, unique in the batch.
    #[serde(default)]
    pub id: Option<String>,
    pub user_name: String,
    pub image_id: ImageId,
    pub desk_strategy_id: String,
    pub network_id: String,
    /// deskd extension: the desk's name; `<user_name>_<n>` when absent.
    #[serde(default)]
    pub desk_name: Option<String>,
    /// deskd extension: PERSONAL | RECOVERABLE | APP_LAYER; the strategy's type when absent.
    #[serde(default)]
    #[schemars(with = "Option<DeskType>")]
    pub desk_type: Option<String>,
    /// deskd extension: label.
    #[serde(default)]
    pub remark: Option<String>,
}

/// Body of 6.1.10 batch create.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BatchCreateRequest {
    /// true: when any item fails, desks already created by this batch are deleted again.
    #[serde(default)]
    pub fail_rollback: Option<serde_json::Value>,
    pub desk_info_arr: Vec<CreateItem>,
    #[serde(default)]
    pub cluster_id: Option<String>,
}

/// One item of 6.1.11 batch delete.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DeleteItem {
    #[serde(default)]
    pub id: Option<String>,
    pub desk_id: DeskId,
}

/// Body of 6.1.11 batch delete.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BatchDeleteRequest {
    pub desk_info_arr: Vec<DeleteItem>,
    #[serde(default)]
    pub cluster_id: Option<String>,
}

/// One item of 6.1.18 batch strategy edit.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct StrategyEditItem {
    #[serde(default)]
    pub id: Option<String>,
    pub desk_id: DeskId,
    pub strategy_id: String,
}

/// Body of 6.1.18.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BatchStrategyEditRequest {
    pub desk_info_arr: Vec<StrategyEditItem>,
    #[serde(default)]
    pub cluster_id: Option<String>,
}

/// One item of 6.1.19 batch remark edit.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RemarkEditItem {
    #[serde(default)]
    pub id: Option<String>,
    pub desk_id: DeskId,
    /// ≤ 128 characters; empty clears it.
    pub remark: String,
}

/// Body of 6.1.19.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BatchRemarkEditRequest {
    pub desk_info_arr: Vec<RemarkEditItem>,
    #[serde(default)]
    pub cluster_id: Option<String>,
}

/// `data` of desk detail (page 37 of the document): the surviving fields plus the desk's state
/// and connection details.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct DeskDetail {
    pub desk_id: DeskId,
    pub desk_name: String,
    pub desk_state: DeskState,
    pub desk_type: DeskType,
    pub remark: String,
    /// true: the desk may only be reached through the proxy (from its strategy)
    pub enable_agreement_agency: bool,
    /// IDV | VDI | TCI
    pub desktop_category: DeskCategory,
    pub user_id: UserId,
    pub user_name: String,
    /// Compute cluster.
    pub cluster_id: String,
    pub cluster_name: String,
    pub host_id: HostId,
    pub host_name: String,
    pub image_id: ImageId,
    pub image_name: String,
    pub desk_strategy_id: String,
    pub ip: String,
    pub mac: String,
    pub cpu_cores: i64,
    pub memory: i64,
    pub system_disk: i64,
    pub data_disk: i64,
    /// Whether the answer is for a connection through the proxy.
    pub enable_proxy: bool,
    pub error_message: String,
    pub create_time: i64,
}

/// `data` of `PUT /v1/desk/{desk_id}/console` (extension, issue 8): a one-time credential for
/// the desk's graphical console. Open `websocket_path` on this server (no Bearer token: the
/// ticket is the credential) before `expire_time`; the socket carries RFB (VNC), as noVNC
/// expects, in binary frames. A desk with a SPICE display (a libvirt desk whose `vgpu_type`
/// is QXL) also gets `spice`: where a native SPICE client connects, and the password it
/// may use until `expire_time`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ConsoleTicket {
    /// Used once: the websocket upgrade consumes it.
    pub ticket: String,
    /// epoch ms after which the ticket is refused
    pub expire_time: i64,
    /// Path and query of the console websocket, ticket included.
    pub websocket_path: String,
    /// The protocol the websocket carries: always `vnc` (RFB).
    #[serde(default)]
    pub protocol: String,
    /// The desk's SPICE display; absent when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spice: Option<SpiceEndpoint>,
    pub desk_id: DeskId,
}

/// A SPICE display of a console ticket (extension): `spice://host:port` with `password`,
/// accepted until the ticket's `expire_time` (each ticket replaces the previous password).
/// A separate secret from the ticket: SPICE passwords hold at most 60 bytes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct SpiceEndpoint {
    pub protocol: String,
    pub host: String,
    pub port: u16,
    pub password: String,
}
