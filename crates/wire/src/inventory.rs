//! The platform inventory: image templates (6.3.1), network strategies (6.4), compute and storage
//! summaries (6.5, 6.8), terminal statistics (6.6), clusters (6.9), storage pools (6.10), and
//! the management extensions of DECISIONS D10.

use crate::ids::{HostId, ImageId};
use schemars::JsonSchema;

use crate::enums::{
    ClusterState, DeskCategory, DeskType, HostDriver, HostState, ImageState, NetworkState, OsName,
    PoolHealth, RedundancyStrategy, TerminalCategory,
};
use serde::{Deserialize, Serialize};

/// One item of `PUT /v1/image:pagequery` (6.3.1).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ImageItem {
    pub id: ImageId,
    /// IDV | VDI | TCI
    pub image_type: DeskCategory,
    /// desks of type APP_LAYER using this version
    pub cloud_desktop_num_of_app_layer: i64,
    /// desks of type PERSONAL using this version
    pub cloud_desktop_num_of_personal: i64,
    /// desks of type RECOVERABLE using this version
    pub cloud_desktop_num_of_recoverable: i64,
    pub image_name: String,
    /// AVAILABLE | DELETING | EDITING | CREATING | ERROR | DISABLED | PUBLISHING
    pub image_state: ImageState,
    /// GB
    pub image_system_size: i64,
    pub cpu: i64,
    /// GB, as the document's example shows
    pub memory: i64,
    pub network_id: Option<String>,
    /// epoch ms
    pub create_time: i64,
    pub note: Option<String>,
    pub cluster_id: String,
    pub storage_pool_id: String,
    pub newest_version: bool,
    pub root_image_id: ImageId,
    pub root_image_name: String,
    /// deskd: 1 for the first version, counting up with each publish
    pub version: i64,
    pub os_name: OsName,
}

/// `data` of 6.3.1: the list under `item_arr` and, as the document's example shows, `itemArr`
/// (DECISIONS D4).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ImagePageData {
    pub total: i64,
    pub item_arr: Vec<ImageItem>,
    #[serde(rename = "itemArr")]
    pub item_arr_camel: Vec<ImageItem>,
}

/// One item of `PUT /v1/desk_network:pagequery` (6.4).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct NetworkItem {
    pub id: String,
    /// epoch ms
    pub create_time: i64,
    pub creator_user_name: String,
    pub desk_network_name: String,
    /// AVAILABLE
    pub desk_network_state: NetworkState,
    pub dns_primary: String,
    pub dns_secondary: String,
    pub gateway: String,
    pub ip_cidr: String,
    /// IP_POOL
    pub network_mode: String,
    /// FLAT without a VLAN, VLAN with one (deskd)
    pub network_type: String,
    /// addresses of the pool given to desks
    pub ref_count: i64,
    /// addresses in the pool
    pub total_count: i64,
    pub vlan: Option<i64>,
    pub cluster_id_list: Vec<String>,
    /// deskd: first and last address of the pool
    pub ip_pool_start: String,
    pub ip_pool_end: String,
}

/// One item of `PUT /v1/rccp/compute/summary` (6.5).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ComputeSummaryItem {
    pub cluster_id: String,
    pub cluster_name: String,
    /// CPU cores of the desks placed on the cluster's hosts
    pub allocated_cpu_cores: i64,
    /// GB of memory of the desks placed on the cluster's hosts
    pub allocated_memory: i64,
    /// deskd: physical cores of the cluster's hosts
    pub total_cpu_cores: i64,
    /// deskd: GB of memory of the cluster's hosts
    pub total_memory: i64,
    /// deskd: hosts in the cluster
    pub host_num: i64,
    /// deskd: desks placed on the cluster's hosts
    pub desk_num: i64,
}

/// `data` of the boot-storm queue (extension, `PUT /v1/rccp/compute/bootQueue`): the guard's
/// limits and the desk starts of this server process that wait for a slot or hold one, in all
/// and per cluster and host that has any. Each replica has its own guard and answers its own.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct BootQueueData {
    /// Driver starts allowed at once per host (`max_starts_per_host`).
    pub max_starts_per_host: i64,
    /// Driver starts allowed at once per cluster (`max_starts_per_cluster`).
    pub max_starts_per_cluster: i64,
    /// Starts waiting for a slot; their desks stay START_UP meanwhile.
    pub waiting_num: i64,
    /// Starts holding a slot: the driver is starting the desk.
    pub starting_num: i64,
    /// Clusters with a start waiting or running, by id.
    pub cluster_arr: Vec<BootQueueCluster>,
    /// Hosts with a start waiting or running, by id.
    pub host_arr: Vec<BootQueueHost>,
}

/// One cluster of the boot-storm queue; `starting_num` is at most `max_starts_per_cluster`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct BootQueueCluster {
    pub cluster_id: String,
    /// Empty when the cluster is gone.
    pub cluster_name: String,
    pub waiting_num: i64,
    pub starting_num: i64,
}

/// One host of the boot-storm queue; `starting_num` is at most `max_starts_per_host`. A start
/// waiting for its cluster's slot counts as waiting for its host too.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct BootQueueHost {
    pub host_id: HostId,
    /// Empty when the host is gone.
    pub host_name: String,
    pub cluster_id: String,
    pub waiting_num: i64,
    pub starting_num: i64,
}

/// One pool of a 6.8 item.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct PoolCapacity {
    pub pool_id: String,
    /// bytes
    pub total_capacity: i64,
    /// bytes
    pub used_capacity: i64,
}

/// One item of `PUT /v1/rccp/storage/summary` (6.8).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct StorageSummaryItem {
    pub cluster_id: String,
    pub cluster_name: String,
    pub storage_pool_arr: Vec<PoolCapacity>,
}

/// One item of `PUT /v1/rccp/cluster:pagequery` (6.9).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ClusterItem {
    pub id: String,
    pub cluster_name: String,
    pub cluster_desc: String,
    /// ENABLED | DISABLED | DELETING
    pub cluster_state: ClusterState,
    /// epoch ms
    pub create_time: i64,
    /// epoch ms
    pub last_update_time: i64,
}

/// One item of `PUT /v1/rccp/storage_pool:pagequery` (6.10). The id is printed `Id`; `id` is
/// given beside it (DECISIONS D11).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct StoragePoolItem {
    #[serde(rename = "Id")]
    pub id_printed: String,
    pub id: String,
    pub cluster_id: String,
    pub name: String,
    /// RAID1_1D0B | CARBON_2B | CARBON_3B | EC_2D1P | EC_4D1P | EC_4D2P | EC_8D2P
    pub redundancy_strategy: RedundancyStrategy,
    /// HEALTHY | WARNING | ERROR
    pub storage_pool_health_state: PoolHealth,
    /// bytes
    pub total_capacity: i64,
    /// bytes
    pub used_capacity: i64,
    /// deskd: the directory whose file system backs the pool; null for a simulated pool
    pub directory: Option<String>,
}

/// `{total, online, offline, never_login}` of one terminal category (6.6).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct TerminalCount {
    pub total: i64,
    pub online: i64,
    pub offline: i64,
    pub never_login: i64,
}

/// `data` of `PUT /v1/terminal/statistics` (6.6).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct TerminalStatistics {
    pub total: i64,
    pub total_online: i64,
    pub app: TerminalCount,
    pub idv: TerminalCount,
    pub pc: TerminalCount,
    pub rca: TerminalCount,
    pub vdi: TerminalCount,
    pub voi: TerminalCount,
}

/// `{"content":{"id":…}}`: the target of a delete extension.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct IdRequest {
    #[serde(default)]
    pub id: String,
}

/// `data` of a create extension: the new id.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct IdData {
    pub id: String,
}

/// Create (no `id`) or edit (with `id`) a desk strategy (extension). On edit, absent fields keep
/// their value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct StrategyRequest {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub desk_strategy_name: Option<String>,
    /// VDI | IDV | TCI
    #[serde(default)]
    #[schemars(with = "Option<DeskCategory>")]
    pub desk_category: Option<String>,
    /// PERSONAL | RECOVERABLE | APP_LAYER
    #[serde(default)]
    #[schemars(with = "Option<DeskType>")]
    pub desk_type: Option<String>,
    /// 1..64
    #[serde(default)]
    pub cpu_cores: Option<i64>,
    /// GB, 1..512
    #[serde(default)]
    pub memory: Option<i64>,
    /// GB, 20..2048
    #[serde(default)]
    pub system_disk: Option<i64>,
    /// GB, 0..4096
    #[serde(default)]
    pub data_disk: Option<i64>,
    #[serde(default)]
    pub enable_agreement_agency: Option<bool>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Create or edit an IP-pool network (extension). On edit, absent fields keep their value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct NetworkRequest {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub desk_network_name: Option<String>,
    /// required on create
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// e.g. 192.168.10.0/24
    #[serde(default)]
    pub ip_cidr: Option<String>,
    #[serde(default)]
    pub gateway: Option<String>,
    #[serde(default)]
    pub dns_primary: Option<String>,
    #[serde(default)]
    pub dns_secondary: Option<String>,
    /// 1..4094; 0 removes the VLAN on edit
    #[serde(default)]
    pub vlan: Option<i64>,
    #[serde(default)]
    pub ip_pool_start: Option<String>,
    #[serde(default)]
    pub ip_pool_end: Option<String>,
}

/// Create or edit a compute cluster (extension).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ClusterRequest {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub cluster_name: Option<String>,
    #[serde(default)]
    pub cluster_desc: Option<String>,
    /// ENABLED | DISABLED (DELETING is set by delete)
    #[serde(default)]
    #[schemars(with = "Option<ClusterState>")]
    pub cluster_state: Option<String>,
}

/// Create or edit a compute host (extension).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct HostRequest {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub host_name: Option<String>,
    /// required on create; fixed afterwards
    #[serde(default)]
    pub cluster_id: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    /// 1..4096
    #[serde(default)]
    pub cpu_cores: Option<i64>,
    /// GB, 1..65536
    #[serde(default)]
    pub memory: Option<i64>,
    /// GB, 1..1048576
    #[serde(default)]
    pub storage: Option<i64>,
    /// 1.0..16.0
    #[serde(default)]
    pub cpu_overcommit: Option<f64>,
    /// 1.0..4.0
    #[serde(default)]
    pub memory_overcommit: Option<f64>,
    /// ENABLED | DRAINING | DISABLED
    #[serde(default)]
    #[schemars(with = "Option<HostState>")]
    pub host_state: Option<String>,
    /// Hypervisor driver of the host's desks: sim (default) | qemu | libvirt; fixed after creation.
    #[serde(default)]
    #[schemars(with = "Option<HostDriver>")]
    pub driver: Option<String>,
    /// libvirt connection URI of a `libvirt` host (`qemu:///system`, `qemu+tcp://ADDR/system`,
    /// `qemu+tls://…`, `qemu+ssh://…`); required with that driver, refused with the others
    #[serde(default)]
    pub uri: Option<String>,
    /// http(s) URL of a Prometheus exporter on the host (node_exporter, e.g.
    /// `http://10.0.0.5:9100/metrics`), scraped with the host's `host_id` and `ip_addr`; `""`
    /// on edit removes it
    #[serde(default)]
    pub exporter_url: Option<String>,
}

/// One host of `PUT /v1/rccp/host:pagequery` (extension).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct HostItem {
    pub id: HostId,
    pub host_name: String,
    pub cluster_id: String,
    pub ip: String,
    pub cpu_cores: i64,
    /// GB
    pub memory: i64,
    /// GB
    pub storage: i64,
    pub cpu_overcommit: f64,
    pub memory_overcommit: f64,
    /// ENABLED | DRAINING | DISABLED
    pub host_state: HostState,
    /// sim | qemu | libvirt
    pub driver: HostDriver,
    /// the libvirt connection URI of a `libvirt` host
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// cores promised to the desks placed here
    pub allocated_cpu_cores: i64,
    /// GB promised to the desks placed here
    pub allocated_memory: i64,
    pub desk_num: i64,
    /// epoch ms
    pub create_time: i64,
    /// the host's Prometheus exporter, when it registered one
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporter_url: Option<String>,
}

/// Create or edit a storage pool (extension). A pool with `directory` reports that file
/// system's figures; without, `capacity` (GB) is simulated.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct StoragePoolRequest {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// required on create; fixed afterwards
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// absolute path of an existing directory; fixed afterwards
    #[serde(default)]
    pub directory: Option<String>,
    /// GB, 1..1048576 (simulated pools)
    #[serde(default)]
    pub capacity: Option<i64>,
    #[serde(default)]
    #[schemars(with = "Option<RedundancyStrategy>")]
    pub redundancy_strategy: Option<String>,
    /// HEALTHY | WARNING | ERROR
    #[serde(default)]
    #[schemars(with = "Option<PoolHealth>")]
    pub storage_pool_health_state: Option<String>,
}

/// `POST /v1/terminal/register` (extension).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct TerminalRegisterRequest {
    /// the id the terminal also sends as `terminal_id` at desktop-user login; at most 64 characters
    #[serde(default)]
    pub terminal_id: String,
    #[serde(default)]
    pub terminal_name: Option<String>,
    /// app | idv | pc | rca | vdi | voi
    #[serde(default)]
    #[schemars(with = "TerminalCategory")]
    pub terminal_category: String,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub mac: Option<String>,
}

/// `POST /v1/terminal/heartbeat` (extension).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct TerminalHeartbeatRequest {
    #[serde(default)]
    pub terminal_id: String,
}

/// `data` of a terminal registration.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TerminalRegisterData {
    pub terminal_id: String,
    /// true on the first registration of this id
    pub created: bool,
}

/// `POST /v1/image/create` (extension): a new image template built from an OS file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ImageCreateRequest {
    #[serde(default)]
    pub image_name: String,
    /// an AVAILABLE OS file holding a SYSTEM disk
    #[serde(default)]
    pub os_file_id: String,
    /// VDI | IDV | TCI (default VDI)
    #[serde(default)]
    #[schemars(with = "Option<DeskCategory>")]
    pub image_type: Option<String>,
    /// 1..64 (default 2)
    #[serde(default)]
    pub cpu: Option<i64>,
    /// GB, 1..512 (default 4)
    #[serde(default)]
    pub memory: Option<i64>,
    /// GB, 20..2048, at least the OS file's virtual size (default: that size, at least 20)
    #[serde(default)]
    pub image_system_size: Option<i64>,
    #[serde(default)]
    pub network_id: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /v1/image/publish` (extension): a new version of the image `id`'s family; absent
/// fields are copied from `id`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ImagePublishRequest {
    #[serde(default)]
    pub id: ImageId,
    #[serde(default)]
    pub image_name: Option<String>,
    #[serde(default)]
    pub os_file_id: Option<String>,
    #[serde(default)]
    pub cpu: Option<i64>,
    #[serde(default)]
    pub memory: Option<i64>,
    #[serde(default)]
    pub image_system_size: Option<i64>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `data` of an asynchronous inventory call: the resource (image version, cluster) and the
/// task that builds or removes it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct InventoryTaskData {
    pub id: String,
    pub task_id: String,
}

/// `PUT /v1/image/edit` (extension): changes an AVAILABLE or DISABLED version (EDITING, then
/// its previous state; asynchronous). Absent fields keep their value; `network_id` "" removes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ImageEditRequest {
    #[serde(default)]
    pub id: ImageId,
    #[serde(default)]
    pub image_name: Option<String>,
    #[serde(default)]
    pub cpu: Option<i64>,
    #[serde(default)]
    pub memory: Option<i64>,
    #[serde(default)]
    pub image_system_size: Option<i64>,
    #[serde(default)]
    pub network_id: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}
