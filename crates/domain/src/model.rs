//! The entities deskd keeps. Field names follow the database; the wire shapes live in
//! `deskd-wire`. Times are epoch milliseconds; sizes are GB unless a name says otherwise.

use serde::{Deserialize, Serialize};

use crate::enums::*;
use crate::ids::{
    ClusterId, DeskId, GroupId, HostId, ImageId, NetworkId, OsFileId, PoolId, StrategyId, UserId,
};

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub id: ClusterId,
    pub name: String,
    pub state: ClusterState,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A compute host. Over-commit ratios bound what the scheduler may promise.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    pub id: HostId,
    pub cluster_id: ClusterId,
    pub name: String,
    pub ip: String,
    pub cpu_cores: i64,
    pub memory_gb: i64,
    pub storage_gb: i64,
    pub cpu_overcommit: f64,
    pub memory_overcommit: f64,
    pub state: HostState,
    /// which hypervisor driver runs this host's desks; fixed at creation
    pub driver: HostDriver,
    pub created_at: i64,
    /// A Prometheus exporter (node_exporter) on the host, scraped into the metrics engine with
    /// the host's `host_id` and `ip_addr`; `None` means the host's figures are simulated.
    pub exporter_url: Option<String>,
    /// The libvirt connection URI of a `libvirt` host (`qemu+tcp://ADDR/system`, …); None for
    /// the other drivers.
    pub uri: Option<String>,
}

/// A storage pool: `directory` set means real file-system figures, otherwise simulated.
#[derive(Debug, Clone, PartialEq)]
pub struct StoragePool {
    pub id: PoolId,
    pub cluster_id: ClusterId,
    pub name: String,
    pub directory: Option<String>,
    pub capacity_gb: i64,
    pub redundancy_strategy: RedundancyStrategy,
    pub health: PoolHealth,
    pub created_at: i64,
}

/// An uploaded QCOW2 or ISO file that images are built from.
#[derive(Debug, Clone, PartialEq)]
pub struct OsFile {
    pub id: OsFileId,
    pub name: String,
    pub format: ImageFormat,
    pub disk_type: ImageDiskType,
    pub os_name: OsName,
    pub size_bytes: i64,
    pub virtual_size_bytes: i64,
    pub sha256: String,
    pub state: ImageFileState,
    pub storage_pool_id: PoolId,
    pub created_at: i64,
}

/// One version of an image template; versions share `root_image_id`. Serialized as the payload
/// of the build and edit task items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub id: ImageId,
    pub name: String,
    pub root_image_id: ImageId,
    pub version: i64,
    pub newest: bool,
    pub category: DeskCategory,
    pub os_name: OsName,
    pub os_file_id: OsFileId,
    pub state: ImageState,
    pub system_disk_gb: i64,
    /// What a desk built from the image gets by default.
    pub cpu_cores: i64,
    pub memory_gb: i64,
    /// The network its desks use by default, if any.
    pub network_id: Option<NetworkId>,
    pub description: String,
    pub created_at: i64,
}

/// An IP-pool network: desks get addresses from `pool_start..=pool_end`.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub id: NetworkId,
    pub cluster_id: ClusterId,
    pub name: String,
    pub cidr: String,
    pub gateway: String,
    pub dns_primary: String,
    pub dns_secondary: String,
    pub vlan: Option<i64>,
    pub pool_start: String,
    pub pool_end: String,
    pub state: NetworkState,
    pub creator: String,
    pub created_at: i64,
}

/// A registered terminal (6.6). Times are epoch ms; `first_login_at` 0 = no desktop user has
/// logged in from it yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Terminal {
    pub id: String,
    pub name: String,
    pub category: TerminalCategory,
    pub ip: String,
    pub mac: String,
    pub registered_at: i64,
    pub last_heartbeat_at: i64,
    pub first_login_at: i64,
}

/// Terminal counts of one category: all, heartbeat within the online window, never logged in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TerminalTally {
    pub category: TerminalCategory,
    pub total: i64,
    pub online: i64,
    pub never_login: i64,
}

/// A desk strategy: the template of a desk's hardware and access rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Strategy {
    pub id: StrategyId,
    pub name: String,
    pub category: DeskCategory,
    pub desk_type: DeskType,
    pub cpu_cores: i64,
    pub memory_gb: i64,
    pub system_disk_gb: i64,
    pub data_disk_gb: i64,
    pub enable_agreement_agency: bool,
    pub description: String,
    pub created_at: i64,
}

/// A node of the user-group tree; `path` is the `/`-joined names from the root.
#[derive(Debug, Clone, PartialEq)]
pub struct UserGroup {
    pub id: GroupId,
    pub name: String,
    pub parent_id: Option<GroupId>,
    pub path: String,
    pub created_at: i64,
    /// Expiry its users inherit (epoch ms); 0 = never.
    pub account_expire_date: i64,
    /// Inactivity days its users inherit; 0 = never invalid.
    pub invalid_time: i64,
}

/// A desktop user (chapter 6.2), not an API account. Serialized in the payload of the create
/// task item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub real_name: String,
    pub user_type: UserType,
    pub state: UserState,
    pub group_id: GroupId,
    pub password_hash: String,
    pub email: String,
    pub phone: String,
    pub description: String,
    pub created_at: i64,
    /// Own expiry (epoch ms, 0 = never); `None` inherits the group's.
    pub account_expire_date: Option<i64>,
    /// Own inactivity days (0 = never); `None` inherits the group's.
    pub invalid_time: Option<i64>,
    pub login_identity_level: String,
    pub auth: AuthSwitches,
    /// Consecutive wrong passwords since the last success or lock.
    pub pwd_failures: i64,
    /// Locked against password use until this time (epoch ms); 0 = not locked.
    pub locked_until: i64,
    /// Last desktop-user login (epoch ms); 0 = never.
    pub last_login_at: i64,
}

/// A user's authentication switches (`primary_certification`, `assist_certification`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthSwitches {
    pub account_password: bool,
    pub cas: bool,
    pub hardware: bool,
    pub max_hardware_num: i64,
    pub otp: bool,
    pub sms: bool,
    pub radius: bool,
}

impl Default for AuthSwitches {
    fn default() -> Self {
        AuthSwitches {
            account_password: true,
            cas: false,
            hardware: false,
            max_hardware_num: 0,
            otp: false,
            sms: false,
            radius: false,
        }
    }
}

/// A user with its group and desk count, as the list and detail endpoints show it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserView {
    pub user: User,
    pub group: UserGroup,
    pub desktop_num: i64,
}

/// A group with its direct user count, for the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    pub group: UserGroup,
    pub user_num: i64,
}

/// Where users are moved to (6.2.10).
#[derive(Debug, Clone, PartialEq)]
pub enum GroupTarget {
    /// A `/` path; missing groups are created.
    Path(String),
    Id(GroupId),
}

/// What deleting a user found.
#[derive(Debug, Clone, PartialEq)]
pub enum UserDeletion {
    Deleted,
    Missing,
    /// The user still owns these desks (names).
    HasDesks(Vec<String>),
}

/// One desk of a user (6.2.11), with what the terminal needs to connect.
#[derive(Debug, Clone, PartialEq)]
pub struct UserDesk {
    pub desk: Desk,
    pub image_name: String,
    pub os_name: OsName,
    pub enable_agreement_agency: bool,
    pub cluster_name: String,
}

/// A cloud desktop.
#[derive(Debug, Clone, PartialEq)]
pub struct Desk {
    pub id: DeskId,
    pub name: String,
    pub user_id: UserId,
    pub image_id: ImageId,
    pub strategy_id: StrategyId,
    pub network_id: NetworkId,
    pub cluster_id: ClusterId,
    pub host_id: HostId,
    pub ip: String,
    pub mac: String,
    pub desk_type: DeskType,
    pub category: DeskCategory,
    pub state: DeskState,
    pub cpu_cores: i64,
    pub memory_gb: i64,
    pub system_disk_gb: i64,
    pub data_disk_gb: i64,
    pub remark: String,
    /// Why the desk is in ERROR, kept until it leaves ERROR.
    pub error_reason: String,
    /// The configuration was changed from the strategy's (6.1.4).
    pub enable_custom: bool,
    /// The strategy changed while the desk ran; applied at its next start.
    pub need_refresh_strategy: bool,
    pub vgpu_type: String,
    pub desktop_pool_type: String,
    /// IP of the terminal the desk was last used from.
    pub terminal_ip: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A desk with the names of what it refers to, as the list and detail endpoints show it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeskView {
    pub desk: Desk,
    pub user_name: String,
    pub user_type: String,
    pub image_name: String,
    pub cluster_name: String,
    pub host_name: String,
    pub enable_agreement_agency: bool,
}

/// Everything needed to reserve a new desk: the store places it on a host and gives it an
/// address in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct DeskReservation {
    /// The desk row to insert; `host_id`, `ip` and `mac` are filled in by the reservation.
    pub desk: Desk,
    /// The caller's item id, for idempotency (DECISIONS D7).
    pub item_key: Option<String>,
    pub task_id: String,
    pub policy: crate::scheduler::Policy,
    /// The owner's name, which a generated desk name starts with (`<user>_<n>`).
    pub user_name: String,
}

/// What a desk reservation produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Reserved {
    /// A new desk row (state CREATING).
    New(Desk),
    /// The item key already produced this desk, in the task `task_id`.
    Existing { desk: Desk, task_id: String },
}

/// An API account: a caller of the API (administrator, integration).
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: i64,
}

/// Everything the demo inventory (or an import) loads in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub clusters: Vec<Cluster>,
    pub hosts: Vec<Host>,
    pub storage_pools: Vec<StoragePool>,
    pub os_files: Vec<OsFile>,
    pub images: Vec<Image>,
    pub networks: Vec<Network>,
    pub strategies: Vec<Strategy>,
    pub groups: Vec<UserGroup>,
    pub users: Vec<User>,
    pub desks: Vec<Desk>,
}

/// How long a batch-create item id keeps pointing at the desk it produced (DECISIONS D7).
pub const ITEM_KEY_TTL_MS: i64 = 24 * 3600 * 1000;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
