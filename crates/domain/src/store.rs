//! The persistence boundary. The domain and the server talk to storage only through [`Store`];
//! `deskd-store` implements it on SQLite and on PostgreSQL with one shared test-suite.

use async_trait::async_trait;

use crate::enums::DeskState;
use crate::error::Result;
use crate::model::*;
use crate::query::{ListQuery, Page};
use crate::task::{Claim, DeskMove, Event, ItemOutcome, MoveRefusal, NewTask, TaskRecord};

/// A stored token: only the hash of the secret is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub token_hash: String,
    pub account_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A strategy with the number of desks that use it.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyRow {
    pub strategy: Strategy,
    pub desk_num: i64,
}

/// An image version with what 6.3.1 shows beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRow {
    pub image: Image,
    pub root_image_name: String,
    /// The cluster and pool of the OS file the image is built on.
    pub cluster_id: String,
    pub storage_pool_id: String,
    /// Desks using this version, by desk type.
    pub personal: i64,
    pub recoverable: i64,
    pub app_layer: i64,
}

/// A network with the number of its pool's addresses given to desks.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkRow {
    pub network: Network,
    pub ref_count: i64,
}

/// A cluster's hosts and what the desks placed on them use (6.5).
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeRow {
    pub cluster: Cluster,
    pub host_num: i64,
    pub total_cpu_cores: i64,
    pub total_memory_gb: i64,
    pub desk_num: i64,
    pub allocated_cpu_cores: i64,
    pub allocated_memory_gb: i64,
}

/// A storage pool with the bytes the inventory keeps on it (its OS files and the disks of the
/// desks built from them): the use of a simulated pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolRow {
    pub pool: StoragePool,
    pub inventory_bytes: i64,
}

/// A host with the desks placed on it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostRow {
    pub host: Host,
    pub allocated_cpu_cores: i64,
    pub allocated_memory_gb: i64,
    pub desk_num: i64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    // Settings: small named values (transport keys, node identity, feature switches).
    async fn get_setting(&self, key: &str) -> Result<Option<String>>;
    async fn put_setting(&self, key: &str, value: &str) -> Result<()>;

    // API accounts and their tokens (D1).
    /// Fails with `Refused` when the name is taken.
    async fn create_account(&self, account: &Account) -> Result<()>;
    async fn account_by_name(&self, name: &str) -> Result<Option<Account>>;
    async fn list_accounts(&self) -> Result<Vec<Account>>;
    /// Disables or enables; disabling revokes every token. False when the account is unknown.
    async fn set_account_disabled(&self, name: &str, disabled: bool) -> Result<bool>;
    /// Replaces the password hash and revokes every token. False when the account is unknown.
    async fn set_account_password(&self, name: &str, password_hash: &str) -> Result<bool>;
    async fn insert_token(&self, token: &TokenRecord) -> Result<()>;
    /// The enabled account a live (unexpired, unrevoked) token belongs to, and when the token
    /// expires.
    async fn token_account(&self, token_hash: &str, now: i64) -> Result<Option<(Account, i64)>>;
    async fn revoke_token(&self, token_hash: &str) -> Result<()>;

    // Inventory.
    /// True when no cluster exists yet: the first start loads the demo inventory then.
    async fn inventory_is_empty(&self) -> Result<bool>;
    /// Inserts everything in one transaction.
    async fn load_inventory(&self, inventory: &Inventory) -> Result<()>;
    async fn cluster_exists(&self, id: &str) -> Result<bool>;
    async fn list_hosts(&self) -> Result<Vec<Host>>;
    async fn list_strategies(&self, query: &ListQuery) -> Result<Page<StrategyRow>>;
    async fn get_desk(&self, id: &str) -> Result<Option<Desk>>;
    /// Every desk, for the reconciler and the driver's start-up sync.
    async fn list_all_desks(&self) -> Result<Vec<Desk>>;
    /// Moves a desk to `to` only if it is in one of `from` (compare-and-set); false otherwise.
    async fn set_desk_state(
        &self,
        id: &str,
        from: &[DeskState],
        to: DeskState,
        reason: &str,
    ) -> Result<bool>;
    async fn get_image(&self, id: &str) -> Result<Option<Image>>;

    // Desks (chapter 6.1).
    /// A number that changes with every write this process makes to desks or to what a desk
    /// record shows; readers that cache desk pages compare it to know they are still current.
    fn desk_generation(&self) -> u64;
    async fn list_desks(&self, query: &ListQuery) -> Result<Page<DeskView>>;
    async fn desk_view(&self, id: &str) -> Result<Option<DeskView>>;
    async fn user_by_name(&self, name: &str) -> Result<Option<User>>;
    /// The users with any of `names` (one round trip per few hundred names), in no order.
    async fn users_by_names(&self, names: &[String]) -> Result<Vec<User>>;
    async fn get_strategy(&self, id: &str) -> Result<Option<Strategy>>;
    async fn get_network(&self, id: &str) -> Result<Option<Network>>;
    /// Places a new desk on a host, gives it an address and inserts it (state CREATING), all in
    /// one transaction; or returns the desk its item key already produced. `Refused` when no
    /// host has room or the network's pool is exhausted.
    async fn reserve_desk(&self, reservation: &DeskReservation) -> Result<Reserved>;
    /// Records a batch-create task and reserves its desks in one transaction, each as
    /// `reserve_desk` would: `reservations[i]` belongs to `task.items[i]` (None: nothing to
    /// reserve). A reserved desk becomes its item's subject; a refused reservation (no room, pool
    /// exhausted, name taken) makes its item a FAILURE: `refusal_prefix` then the reason. Returns each item's
    /// refusal. The items then find their desk by item key.
    async fn submit_create_batch(
        &self,
        task: &NewTask,
        reservations: &[Option<DeskReservation>],
        refusal_prefix: &str,
    ) -> Result<Vec<Option<String>>>;
    /// Removes a desk and releases its address, capacity and item keys; false when it is gone.
    async fn remove_desk(&self, id: &str) -> Result<bool>;
    /// Changes a CLOSE desk's shape within its host's over-commit limits (`Refused` otherwise).
    async fn modify_desk(
        &self,
        id: &str,
        cpu_cores: i64,
        memory_gb: i64,
        system_disk_gb: i64,
        data_disk_gb: i64,
    ) -> Result<()>;
    /// Gives a desk another strategy; `need_refresh` marks it for its next start.
    async fn set_desk_strategy(
        &self,
        id: &str,
        strategy_id: &str,
        need_refresh: bool,
    ) -> Result<bool>;
    async fn set_desk_remark(&self, id: &str, remark: &str) -> Result<bool>;
    /// Forgets batch-create item keys older than `before` (DECISIONS D7 keeps them 24 hours).
    async fn prune_desk_requests(&self, before: i64) -> Result<u64>;
    async fn list_os_files(&self, query: &ListQuery) -> Result<Page<OsFile>>;

    // Monitoring.
    /// How many desks are in each state (states without desks are left out).
    async fn desk_state_counts(&self) -> Result<Vec<(DeskState, i64)>>;
    /// Task items not finished yet (pending or running).
    async fn open_task_items(&self) -> Result<i64>;

    // Tasks (D7).
    async fn create_task(&self, task: &NewTask) -> Result<()>;
    /// Records `task` and applies `moves` in one transaction. A refused move makes its item a
    /// FAILURE naming the desk's state; with `all_or_nothing` any refusal writes nothing.
    /// Returns each move's refusal, if any, in order.
    async fn submit_with_moves(
        &self,
        task: &NewTask,
        moves: &[DeskMove],
        all_or_nothing: bool,
    ) -> Result<Vec<Option<MoveRefusal>>>;
    async fn get_task(&self, id: &str) -> Result<Option<TaskRecord>>;
    /// Claims up to `max` runnable items (pending, or running with an expired lease) for `node`.
    async fn claim_items(
        &self,
        node: &str,
        lease_until: i64,
        max: usize,
        now: i64,
    ) -> Result<Vec<Claim>>;
    /// Extends the leases of the given claims that `node` still holds.
    async fn renew_leases(
        &self,
        node: &str,
        lease_tokens: &[String],
        lease_until: i64,
    ) -> Result<()>;
    /// Records the outcome and applies its effects atomically; false when the lease was lost
    /// (nothing is written then).
    async fn finish_item(&self, claim: &Claim, outcome: &ItemOutcome) -> Result<bool>;
    /// Records several outcomes, in one transaction where it can (group commit); each result
    /// means what `finish_item`'s does.
    async fn finish_items(&self, items: &[(Claim, ItemOutcome)]) -> Vec<Result<bool>>;
    /// Makes the items `node` held before a restart claimable at once.
    async fn release_node_claims(&self, node: &str) -> Result<u64>;
    /// RUNNING tasks whose items are all done, as (id, kind): ready to be closed.
    async fn ready_tasks(&self) -> Result<Vec<(String, String)>>;
    /// Closes a ready task: FINISHED, or ERROR with the summary; false when it was closed already.
    async fn close_task(&self, id: &str, now: i64) -> Result<bool>;
    /// Closes every ready task; returns the ids it closed.
    async fn finalize_tasks(&self, now: i64) -> Result<Vec<String>> {
        let mut closed = Vec::new();
        for (id, _) in self.ready_tasks().await? {
            if self.close_task(&id, now).await? {
                closed.push(id);
            }
        }
        Ok(closed)
    }
    /// Rewrites a finished item's outcome (a batch rolled back after its items ran).
    async fn amend_item(&self, task_id: &str, seq: i64, success: bool, result: &str) -> Result<()>;
    /// Subjects (desk ids) with a pending or running item.
    async fn busy_subjects(&self) -> Result<Vec<String>>;
    /// Audit-log entries about `subject`, oldest first.
    async fn events_for(&self, subject: &str) -> Result<Vec<Event>>;
    /// Appends to the audit log outside any task.
    async fn record_event(&self, event: &Event) -> Result<()>;

    // ---------------------------------------------------------------------------------------
    // Users and groups (chapter 6.2).
    // ---------------------------------------------------------------------------------------
    /// Every group with its direct user count, oldest first.
    async fn list_groups(&self) -> Result<Vec<GroupRow>>;
    async fn group_by_id(&self, id: &str) -> Result<Option<UserGroup>>;
    /// Inserts one group; `Refused` when its path exists, `NotFound` when the parent is missing.
    async fn create_group(&self, group: &UserGroup) -> Result<()>;
    /// Inserts `user` into the group at `group_path`, creating missing groups in the same
    /// transaction. False (and nothing written) when a user with this id exists already, so a
    /// repeated task item is harmless; `Refused` when the name is taken.
    async fn insert_user(&self, user: &User, group_path: &str) -> Result<bool>;
    async fn user_by_id(&self, id: &str) -> Result<Option<User>>;
    /// A user with its group and desk count.
    async fn user_view(&self, id: &str) -> Result<Option<UserView>>;
    async fn list_users(&self, query: &ListQuery) -> Result<Page<UserView>>;
    /// Deletes a user that owns no desks, checked in the same transaction.
    async fn delete_user(&self, name: &str) -> Result<UserDeletion>;
    /// Writes the editable profile (names, contacts, switches, expiry, inactivity); false when
    /// the user is gone.
    async fn update_user_profile(&self, user: &User) -> Result<bool>;
    /// False when the user is unknown.
    async fn set_user_state(&self, name: &str, state: crate::enums::UserState) -> Result<bool>;
    /// Moves users to a group (created when a path names a missing one), in one transaction;
    /// returns the group. `NotFound` for an unknown user or group id.
    async fn move_users(&self, user_ids: &[String], target: &GroupTarget) -> Result<UserGroup>;
    /// Counts one wrong password; at `limit` the user is locked until `lock_until` and the
    /// count restarts. Returns the user as updated.
    async fn record_password_failure(
        &self,
        id: &str,
        limit: i64,
        lock_until: i64,
    ) -> Result<Option<User>>;
    /// Replaces the password hash and clears failures and lock.
    async fn set_user_password(&self, id: &str, password_hash: &str) -> Result<bool>;
    /// Records a desktop-user login (clears failures); with a terminal, that terminal's login
    /// lives until `terminal_until`, and a registered terminal counts as alive and logged in
    /// from (6.6).
    async fn record_user_login(
        &self,
        id: &str,
        terminal_id: Option<&str>,
        now: i64,
        terminal_until: i64,
    ) -> Result<()>;
    /// The user id a terminal is logged in as, when its login is still live at `now`.
    async fn terminal_user(&self, terminal_id: &str, now: i64) -> Result<Option<String>>;
    /// A user's desks with image, OS, proxy flag and cluster name, by creation.
    async fn user_desks(&self, user_id: &str) -> Result<Vec<UserDesk>>;

    // ---------------------------------------------------------------------------------------
    // Platform inventory (6.3–6.10) and its management extensions (D10). Writes that change
    // what a desk record shows (names, strategies) invalidate the desk pages.
    // ---------------------------------------------------------------------------------------
    async fn list_images(&self, query: &ListQuery) -> Result<Page<ImageRow>>;
    async fn list_networks(&self, query: &ListQuery) -> Result<Page<NetworkRow>>;
    async fn list_clusters(&self, query: &ListQuery) -> Result<Page<Cluster>>;
    async fn get_cluster(&self, id: &str) -> Result<Option<Cluster>>;
    async fn compute_summary(&self, query: &ListQuery) -> Result<Page<ComputeRow>>;
    async fn list_pools(&self, query: &ListQuery) -> Result<Page<PoolRow>>;
    /// The pools of these clusters, oldest first.
    async fn pools_of_clusters(&self, cluster_ids: &[String]) -> Result<Vec<PoolRow>>;
    async fn list_host_rows(&self, query: &ListQuery) -> Result<Page<HostRow>>;
    async fn get_host(&self, id: &str) -> Result<Option<Host>>;
    async fn get_pool(&self, id: &str) -> Result<Option<StoragePool>>;

    /// `Refused` when the name is taken.
    async fn create_strategy(&self, s: &Strategy) -> Result<()>;
    /// False when the strategy is gone.
    async fn update_strategy(&self, s: &Strategy) -> Result<bool>;
    /// `Refused` naming the desks that still use it; false when it is gone.
    async fn delete_strategy(&self, id: &str) -> Result<bool>;
    /// `NotFound` for an unknown cluster; `Refused` when the name is taken.
    async fn create_network(&self, n: &Network) -> Result<()>;
    /// `Refused` when an address given to a desk would fall outside the new pool, in the same
    /// transaction as the write; false when the network is gone.
    async fn update_network(&self, n: &Network) -> Result<bool>;
    /// `Refused` while desks or images use it; false when it is gone.
    async fn delete_network(&self, id: &str) -> Result<bool>;
    async fn create_cluster(&self, c: &Cluster) -> Result<()>;
    async fn update_cluster(&self, c: &Cluster) -> Result<bool>;
    /// → DELETING unless desks, images on its networks or OS files in its pools need it
    /// (`Refused` naming them); nothing new may join a DELETING cluster. False when it is gone.
    async fn begin_cluster_delete(&self, id: &str) -> Result<bool>;
    /// Removes a DELETING cluster with its (empty) hosts, networks and pools; false when there
    /// is none.
    async fn remove_cluster(&self, id: &str) -> Result<bool>;
    /// `NotFound` for an unknown cluster.
    async fn create_host(&self, h: &Host) -> Result<()>;
    /// `Refused` when the new capacity is below what its desks were promised.
    async fn update_host(&self, h: &Host) -> Result<bool>;
    /// `Refused` while desks are placed on it.
    async fn delete_host(&self, id: &str) -> Result<bool>;
    async fn create_pool(&self, p: &StoragePool) -> Result<()>;
    async fn update_pool(&self, p: &StoragePool) -> Result<bool>;
    /// `Refused` while OS files are kept on it.
    async fn delete_pool(&self, id: &str) -> Result<bool>;

    // Image versions (extensions).
    async fn get_os_file(&self, id: &str) -> Result<Option<OsFile>>;
    /// Inserts a CREATING or PUBLISHING version after checking its OS file (AVAILABLE, SYSTEM),
    /// network and root (a later version gets the family's next number; refused while another
    /// version is in progress). False when the id exists (a repeated task item).
    async fn insert_image(&self, image: &Image) -> Result<bool>;
    /// CREATING or PUBLISHING → AVAILABLE, and the newest of its family; false otherwise.
    async fn complete_image(&self, id: &str) -> Result<bool>;
    /// Compare-and-set of an image's state.
    async fn set_image_state(
        &self,
        id: &str,
        from: &[crate::enums::ImageState],
        to: crate::enums::ImageState,
    ) -> Result<bool>;
    /// Writes an edit of an AVAILABLE or DISABLED (or already EDITING) version and marks it
    /// EDITING (`Refused` naming any other state).
    async fn begin_image_edit(&self, image: &Image) -> Result<bool>;
    /// → DELETING unless desks use it or later versions name it as root (`Refused`, naming
    /// them); false when it is gone.
    async fn begin_image_delete(&self, id: &str) -> Result<bool>;
    /// Removes a DELETING image; false when there is none.
    async fn remove_image(&self, id: &str) -> Result<bool>;

    // OS files (extensions).
    /// Inserts an UPLOADING file; `NotFound` for an unknown pool.
    async fn insert_os_file(&self, file: &OsFile) -> Result<()>;
    /// UPLOADING → AVAILABLE with its virtual size; false otherwise.
    async fn finish_os_file(&self, id: &str, virtual_size_bytes: i64) -> Result<bool>;
    /// Removes an upload that did not complete (only while UPLOADING).
    async fn drop_upload(&self, id: &str) -> Result<bool>;
    /// → DELETING unless images are built on it (`Refused`); false when it is gone.
    async fn begin_os_file_delete(&self, id: &str) -> Result<bool>;
    /// Removes a DELETING file's row.
    async fn remove_os_file(&self, id: &str) -> Result<bool>;

    // ---------------------------------------------------------------------------------------
    // Terminal registry (6.6).
    // ---------------------------------------------------------------------------------------
    /// Registers a terminal, or updates its name, category and addresses when the id is known
    /// (registration time and first login are kept). True when it is new.
    async fn register_terminal(&self, t: &Terminal) -> Result<bool>;
    /// Records a heartbeat; false when the terminal is not registered.
    async fn terminal_heartbeat(&self, id: &str, now: i64) -> Result<bool>;
    /// Counts per category; online = last heartbeat at or after `online_since`.
    async fn terminal_tallies(&self, online_since: i64) -> Result<Vec<TerminalTally>>;
}
