//! deskd's persistence: [`SqlStore`] implements the domain's `Store` trait on SQLite (the
//! embedded default) and on PostgreSQL (for scale and replicas). One SQL text serves both; the
//! differences are kept in [`db::Backend`]. Every multi-row change runs in one transaction.

pub mod db;
mod desks;
pub mod fresh;
mod inventory;
pub mod migrate;
mod paging;
mod platform;
mod tasks;
mod terminals;
pub mod testing;
mod users;

use async_trait::async_trait;
use deskd_domain::enums::{DeskState, UserState};
use deskd_domain::error::{Error, Result};
use deskd_domain::model::*;
use deskd_domain::query::{ListQuery, Page};
use deskd_domain::store::{
    ComputeRow, HostRow, ImageRow, NetworkRow, PoolRow, Store, StrategyRow, TokenRecord,
};
use deskd_domain::task::{Claim, Event, ItemOutcome, NewTask, TaskRecord};
use sqlx::any::AnyRow;
use sqlx::AnyPool;

use db::{exec, row, rows, Backend, Col};

/// The SQL store. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct SqlStore {
    /// Writes and transactions (one connection on SQLite).
    pool: AnyPool,
    /// Reads that need no transaction: on SQLite several read-only connections, which WAL lets
    /// run beside the writer; on PostgreSQL the same pool.
    read: AnyPool,
    backend: Backend,
    /// Desk-list totals, invalidated by every desk write of this process.
    desk_counts: std::sync::Arc<paging::CountCache>,
}

impl SqlStore {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let (pool, backend) = db::connect(url).await?;
        migrate::run(&pool, backend).await?;
        let read = match backend {
            Backend::Sqlite => db::connect_readers(url).await?,
            Backend::Postgres => pool.clone(),
        };
        Ok(SqlStore {
            pool,
            read,
            backend,
            desk_counts: Default::default(),
        })
    }

    pub fn backend_kind(&self) -> Backend {
        self.backend
    }

    /// The newest applied schema version.
    pub async fn schema_version(&self) -> Result<i64> {
        migrate::current_version(&self.pool, self.backend).await
    }

    /// Refreshes the planner's statistics (and PostgreSQL's visibility map), as autovacuum
    /// would after a bulk load.
    pub async fn analyze(&self) -> Result<()> {
        let sql = match self.backend {
            Backend::Sqlite => "ANALYZE",
            Backend::Postgres => "VACUUM ANALYZE",
        };
        exec(&self.pool, self.backend, sql, vec![]).await.map(drop)
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        self.read.close().await;
        self.pool.close().await;
    }
}

fn account(r: &AnyRow) -> Result<Account> {
    Ok(Account {
        id: r.text("id")?,
        name: r.text("name")?,
        password_hash: r.text("password_hash")?,
        disabled: r.flag("disabled")?,
        created_at: r.int("created_at")?,
    })
}

const ACCOUNT_COLS: &str = "a.id, a.name, a.password_hash, a.disabled, a.created_at";

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        self.backend.name()
    }

    async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        let r = row(
            &self.read,
            self.backend,
            "SELECT value FROM settings WHERE key = ?",
            args![key],
        )
        .await?;
        r.map(|r| r.text("value")).transpose()
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<()> {
        exec(
            &self.pool,
            self.backend,
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            args![key, value, now_ms()],
        )
        .await
        .map(drop)
    }

    async fn create_account(&self, a: &Account) -> Result<()> {
        exec(
            &self.pool,
            self.backend,
            "INSERT INTO api_accounts (id, name, password_hash, disabled, created_at) VALUES (?, ?, ?, ?, ?)",
            args![&a.id, &a.name, &a.password_hash, a.disabled, a.created_at],
        )
        .await
        .map_err(|e| match e {
            Error::Refused(_) => Error::Refused(format!("API account `{}` already exists", a.name)),
            e => e,
        })
        .map(drop)
    }

    async fn account_by_name(&self, name: &str) -> Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM api_accounts a WHERE a.name = ?");
        row(&self.read, self.backend, &sql, args![name])
            .await?
            .map(|r| account(&r))
            .transpose()
    }

    async fn list_accounts(&self) -> Result<Vec<Account>> {
        let sql =
            format!("SELECT {ACCOUNT_COLS} FROM api_accounts a ORDER BY a.created_at, a.name");
        rows(&self.read, self.backend, &sql, vec![])
            .await?
            .iter()
            .map(account)
            .collect()
    }

    async fn set_account_disabled(&self, name: &str, disabled: bool) -> Result<bool> {
        self.update_account_and_revoke(
            name,
            "UPDATE api_accounts SET disabled = ? WHERE name = ?",
            args![disabled, name],
        )
        .await
    }

    async fn set_account_password(&self, name: &str, password_hash: &str) -> Result<bool> {
        self.update_account_and_revoke(
            name,
            "UPDATE api_accounts SET password_hash = ? WHERE name = ?",
            args![password_hash, name],
        )
        .await
    }

    async fn insert_token(&self, t: &TokenRecord) -> Result<()> {
        exec(
            &self.pool,
            self.backend,
            "INSERT INTO api_tokens (token_hash, account_id, created_at, expires_at, revoked) VALUES (?, ?, ?, ?, 0)",
            args![&t.token_hash, &t.account_id, t.created_at, t.expires_at],
        )
        .await
        .map(drop)
    }

    async fn token_account(&self, token_hash: &str, now: i64) -> Result<Option<(Account, i64)>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLS}, t.expires_at AS t_expires_at FROM api_tokens t \
             JOIN api_accounts a ON a.id = t.account_id \
             WHERE t.token_hash = ? AND t.revoked = 0 AND t.expires_at > ? AND a.disabled = 0"
        );
        let found = row(&self.read, self.backend, &sql, args![token_hash, now]).await?;
        found
            .map(|r| Ok((account(&r)?, r.int("t_expires_at")?)))
            .transpose()
    }

    async fn revoke_token(&self, token_hash: &str) -> Result<()> {
        exec(
            &self.pool,
            self.backend,
            "UPDATE api_tokens SET revoked = 1 WHERE token_hash = ?",
            args![token_hash],
        )
        .await
        .map(drop)
    }

    async fn inventory_is_empty(&self) -> Result<bool> {
        let r = row(
            &self.read,
            self.backend,
            "SELECT id FROM clusters LIMIT 1",
            vec![],
        )
        .await?;
        Ok(r.is_none())
    }

    async fn load_inventory(&self, inv: &Inventory) -> Result<()> {
        self.after_desk_write(inventory::load(&self.pool, self.backend, inv).await)
    }

    async fn cluster_exists(&self, id: &str) -> Result<bool> {
        Ok(row(
            &self.read,
            self.backend,
            "SELECT id FROM clusters WHERE id = ?",
            args![id],
        )
        .await?
        .is_some())
    }

    async fn list_hosts(&self) -> Result<Vec<Host>> {
        inventory::hosts(&self.read, self.backend).await
    }

    async fn list_strategies(&self, q: &ListQuery) -> Result<Page<StrategyRow>> {
        inventory::strategies(&self.read, self.backend, q).await
    }

    async fn get_desk(&self, id: &str) -> Result<Option<Desk>> {
        inventory::desk(&self.read, self.backend, id).await
    }

    async fn list_all_desks(&self) -> Result<Vec<Desk>> {
        inventory::all_desks(&self.read, self.backend).await
    }

    async fn set_desk_state(
        &self,
        id: &str,
        from: &[DeskState],
        to: DeskState,
        reason: &str,
    ) -> Result<bool> {
        self.after_desk_write(
            inventory::set_desk_state(&self.pool, self.backend, id, from, to, reason).await,
        )
    }

    async fn get_image(&self, id: &str) -> Result<Option<Image>> {
        inventory::image(&self.read, self.backend, id).await
    }

    fn desk_generation(&self) -> u64 {
        self.desk_counts.generation()
    }

    async fn list_desks(&self, q: &ListQuery) -> Result<Page<DeskView>> {
        desks::list(&self.read, self.backend, q, &self.desk_counts).await
    }

    async fn desk_view(&self, id: &str) -> Result<Option<DeskView>> {
        desks::view_one(&self.read, self.backend, id).await
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        inventory::user_by_name(&self.read, self.backend, name).await
    }

    async fn users_by_names(&self, names: &[String]) -> Result<Vec<User>> {
        inventory::users_by_names(&self.read, self.backend, names).await
    }

    async fn get_strategy(&self, id: &str) -> Result<Option<Strategy>> {
        inventory::strategy(&self.read, self.backend, id).await
    }

    async fn get_network(&self, id: &str) -> Result<Option<Network>> {
        inventory::network(&self.read, self.backend, id).await
    }

    async fn reserve_desk(&self, r: &DeskReservation) -> Result<Reserved> {
        self.after_desk_write(desks::reserve(&self.pool, &self.read, self.backend, r).await)
    }

    async fn submit_create_batch(
        &self,
        task: &NewTask,
        reservations: &[Option<DeskReservation>],
        refusal_prefix: &str,
    ) -> Result<Vec<Option<String>>> {
        self.after_desk_write(
            desks::submit_create_batch(
                &self.pool,
                &self.read,
                self.backend,
                task,
                reservations,
                refusal_prefix,
            )
            .await,
        )
    }

    async fn remove_desk(&self, id: &str) -> Result<bool> {
        self.after_desk_write(desks::remove_desk(&self.pool, self.backend, id).await)
    }

    async fn modify_desk(&self, id: &str, cpu: i64, mem: i64, sys: i64, data: i64) -> Result<()> {
        self.after_desk_write(
            desks::modify(&self.pool, self.backend, id, cpu, mem, sys, data).await,
        )
    }

    async fn set_desk_strategy(
        &self,
        id: &str,
        strategy_id: &str,
        need_refresh: bool,
    ) -> Result<bool> {
        self.after_desk_write(
            desks::set_strategy(&self.pool, self.backend, id, strategy_id, need_refresh).await,
        )
    }

    async fn set_desk_remark(&self, id: &str, remark: &str) -> Result<bool> {
        self.after_desk_write(desks::set_remark(&self.pool, self.backend, id, remark).await)
    }

    async fn prune_desk_requests(&self, before: i64) -> Result<u64> {
        desks::prune_requests(&self.pool, self.backend, before).await
    }

    async fn list_os_files(&self, q: &ListQuery) -> Result<Page<OsFile>> {
        inventory::os_files(&self.read, self.backend, q).await
    }

    async fn desk_state_counts(&self) -> Result<Vec<(DeskState, i64)>> {
        let sql = "SELECT state, COUNT(*) AS n FROM desks GROUP BY state";
        rows(&self.read, self.backend, sql, vec![])
            .await?
            .iter()
            .map(|r| {
                Ok((
                    DeskState::parse(&r.text("state")?, "desks.state")?,
                    r.int("n")?,
                ))
            })
            .collect()
    }

    async fn open_task_items(&self) -> Result<i64> {
        let sql = "SELECT COUNT(*) AS n FROM task_items WHERE status IN ('PENDING', 'RUNNING')";
        row(&self.read, self.backend, sql, vec![])
            .await?
            .map(|r| r.int("n"))
            .transpose()
            .map(|n| n.unwrap_or(0))
    }

    async fn create_task(&self, t: &NewTask) -> Result<()> {
        tasks::create(&self.pool, self.backend, t).await
    }

    async fn submit_with_moves(
        &self,
        t: &NewTask,
        moves: &[deskd_domain::task::DeskMove],
        all_or_nothing: bool,
    ) -> Result<Vec<Option<deskd_domain::task::MoveRefusal>>> {
        self.after_desk_write(
            tasks::create_with_moves(&self.pool, self.backend, t, moves, all_or_nothing).await,
        )
    }

    async fn get_task(&self, id: &str) -> Result<Option<TaskRecord>> {
        tasks::get(&self.read, self.backend, id).await
    }

    async fn claim_items(
        &self,
        node: &str,
        lease_until: i64,
        max: usize,
        now: i64,
    ) -> Result<Vec<Claim>> {
        tasks::claim(
            &self.pool,
            &self.read,
            self.backend,
            node,
            lease_until,
            max,
            now,
        )
        .await
    }

    async fn renew_leases(
        &self,
        node: &str,
        lease_tokens: &[String],
        lease_until: i64,
    ) -> Result<()> {
        tasks::renew(&self.pool, self.backend, node, lease_tokens, lease_until).await
    }

    async fn finish_item(&self, claim: &Claim, outcome: &ItemOutcome) -> Result<bool> {
        self.after_desk_write(tasks::finish(&self.pool, self.backend, claim, outcome).await)
    }

    async fn finish_items(&self, items: &[(Claim, ItemOutcome)]) -> Vec<Result<bool>> {
        let recorded = tasks::finish_many(&self.pool, self.backend, items).await;
        self.desk_counts.invalidate();
        recorded
    }

    async fn release_node_claims(&self, node: &str) -> Result<u64> {
        exec(
            &self.pool,
            self.backend,
            "UPDATE task_items SET lease_until = 0 WHERE status = 'RUNNING' AND lease_owner = ?",
            args![node],
        )
        .await
    }

    async fn ready_tasks(&self) -> Result<Vec<(String, String)>> {
        tasks::ready(&self.read, self.backend).await
    }

    async fn close_task(&self, id: &str, now: i64) -> Result<bool> {
        tasks::close(&self.pool, self.backend, id, now).await
    }

    async fn amend_item(&self, task_id: &str, seq: i64, success: bool, result: &str) -> Result<()> {
        tasks::amend(&self.pool, self.backend, task_id, seq, success, result).await
    }

    async fn busy_subjects(&self) -> Result<Vec<String>> {
        let rs = rows(
            &self.read,
            self.backend,
            "SELECT DISTINCT subject FROM task_items WHERE subject IS NOT NULL AND status IN ('PENDING', 'RUNNING')",
            vec![],
        )
        .await?;
        rs.iter().map(|r| r.text("subject")).collect()
    }

    async fn events_for(&self, subject: &str) -> Result<Vec<Event>> {
        tasks::events_for(&self.read, self.backend, subject).await
    }

    async fn record_event(&self, event: &Event) -> Result<()> {
        tasks::insert_event(&self.pool, self.backend, event).await
    }

    // Users and groups (chapter 6.2).

    async fn list_groups(&self) -> Result<Vec<GroupRow>> {
        users::list_groups(&self.read, self.backend).await
    }

    async fn group_by_id(&self, id: &str) -> Result<Option<UserGroup>> {
        users::group_by_id(&self.read, self.backend, id).await
    }

    async fn create_group(&self, group: &UserGroup) -> Result<()> {
        users::create_group(&self.pool, self.backend, group).await
    }

    async fn insert_user(&self, user: &User, group_path: &str) -> Result<bool> {
        users::insert_user(&self.pool, self.backend, user, group_path).await
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<User>> {
        users::user_by_id(&self.read, self.backend, id).await
    }

    async fn user_view(&self, id: &str) -> Result<Option<UserView>> {
        users::user_view(&self.read, self.backend, id).await
    }

    async fn list_users(&self, q: &ListQuery) -> Result<Page<UserView>> {
        users::list_users(&self.read, self.backend, q).await
    }

    async fn delete_user(&self, name: &str) -> Result<UserDeletion> {
        users::delete_user(&self.pool, self.backend, name).await
    }

    async fn update_user_profile(&self, user: &User) -> Result<bool> {
        // A desk record shows its user's name and type.
        self.after_desk_write(users::update_profile(&self.pool, self.backend, user).await)
    }

    async fn set_user_state(&self, name: &str, state: UserState) -> Result<bool> {
        users::set_state(&self.pool, self.backend, name, state).await
    }

    async fn move_users(&self, user_ids: &[String], target: &GroupTarget) -> Result<UserGroup> {
        users::move_users(&self.pool, self.backend, user_ids, target).await
    }

    async fn record_password_failure(
        &self,
        id: &str,
        limit: i64,
        lock_until: i64,
    ) -> Result<Option<User>> {
        users::record_failure(&self.pool, self.backend, id, limit, lock_until).await
    }

    async fn set_user_password(&self, id: &str, password_hash: &str) -> Result<bool> {
        users::set_password(&self.pool, self.backend, id, password_hash).await
    }

    async fn record_user_login(
        &self,
        id: &str,
        terminal_id: Option<&str>,
        now: i64,
        terminal_until: i64,
    ) -> Result<()> {
        users::record_login(
            &self.pool,
            self.backend,
            id,
            terminal_id,
            now,
            terminal_until,
        )
        .await
    }

    async fn terminal_user(&self, terminal_id: &str, now: i64) -> Result<Option<String>> {
        users::terminal_user(&self.read, self.backend, terminal_id, now).await
    }

    async fn user_desks(&self, user_id: &str) -> Result<Vec<UserDesk>> {
        users::user_desks(&self.read, self.backend, user_id).await
    }

    // Platform inventory (6.3–6.10) and its management extensions.

    async fn list_images(&self, q: &ListQuery) -> Result<Page<ImageRow>> {
        platform::images(&self.read, self.backend, q).await
    }

    async fn list_networks(&self, q: &ListQuery) -> Result<Page<NetworkRow>> {
        platform::networks(&self.read, self.backend, q).await
    }

    async fn list_clusters(&self, q: &ListQuery) -> Result<Page<Cluster>> {
        platform::clusters(&self.read, self.backend, q).await
    }

    async fn get_cluster(&self, id: &str) -> Result<Option<Cluster>> {
        platform::cluster(&self.read, self.backend, id).await
    }

    async fn compute_summary(&self, q: &ListQuery) -> Result<Page<ComputeRow>> {
        platform::compute(&self.read, self.backend, q).await
    }

    async fn list_pools(&self, q: &ListQuery) -> Result<Page<PoolRow>> {
        platform::pools(&self.read, self.backend, q).await
    }

    async fn pools_of_clusters(&self, cluster_ids: &[String]) -> Result<Vec<PoolRow>> {
        platform::pools_of(&self.read, self.backend, cluster_ids).await
    }

    async fn list_host_rows(&self, q: &ListQuery) -> Result<Page<HostRow>> {
        platform::host_rows(&self.read, self.backend, q).await
    }

    async fn get_host(&self, id: &str) -> Result<Option<Host>> {
        platform::host_by_id(&self.read, self.backend, id).await
    }

    async fn get_pool(&self, id: &str) -> Result<Option<StoragePool>> {
        platform::pool_by_id(&self.read, self.backend, id).await
    }

    async fn create_strategy(&self, s: &Strategy) -> Result<()> {
        platform::create_strategy(&self.pool, self.backend, s).await
    }

    async fn update_strategy(&self, s: &Strategy) -> Result<bool> {
        // A desk record shows its strategy's proxy flag.
        self.after_desk_write(platform::update_strategy(&self.pool, self.backend, s).await)
    }

    async fn delete_strategy(&self, id: &str) -> Result<bool> {
        platform::delete_strategy(&self.pool, self.backend, id).await
    }

    async fn create_network(&self, n: &Network) -> Result<()> {
        platform::create_network(&self.pool, self.backend, n).await
    }

    async fn update_network(&self, n: &Network) -> Result<bool> {
        self.after_desk_write(platform::update_network(&self.pool, self.backend, n).await)
    }

    async fn delete_network(&self, id: &str) -> Result<bool> {
        platform::delete_network(&self.pool, self.backend, id).await
    }

    async fn create_cluster(&self, c: &Cluster) -> Result<()> {
        platform::create_cluster(&self.pool, self.backend, c).await
    }

    async fn update_cluster(&self, c: &Cluster) -> Result<bool> {
        // A desk record shows its cluster's name.
        self.after_desk_write(platform::update_cluster(&self.pool, self.backend, c).await)
    }

    async fn begin_cluster_delete(&self, id: &str) -> Result<bool> {
        platform::begin_cluster_delete(&self.pool, self.backend, id).await
    }

    async fn remove_cluster(&self, id: &str) -> Result<bool> {
        platform::remove_cluster(&self.pool, self.backend, id).await
    }

    async fn create_host(&self, h: &Host) -> Result<()> {
        platform::create_host(&self.pool, self.backend, h).await
    }

    async fn update_host(&self, h: &Host) -> Result<bool> {
        // A desk record shows its host's name.
        self.after_desk_write(platform::update_host(&self.pool, self.backend, h).await)
    }

    async fn delete_host(&self, id: &str) -> Result<bool> {
        platform::delete_host(&self.pool, self.backend, id).await
    }

    async fn create_pool(&self, p: &StoragePool) -> Result<()> {
        platform::create_pool(&self.pool, self.backend, p).await
    }

    async fn update_pool(&self, p: &StoragePool) -> Result<bool> {
        platform::update_pool(&self.pool, self.backend, p).await
    }

    async fn delete_pool(&self, id: &str) -> Result<bool> {
        platform::delete_pool(&self.pool, self.backend, id).await
    }

    async fn get_os_file(&self, id: &str) -> Result<Option<OsFile>> {
        inventory::os_file(&self.read, self.backend, id).await
    }

    async fn insert_image(&self, image: &Image) -> Result<bool> {
        platform::insert_image(&self.pool, self.backend, image).await
    }

    async fn complete_image(&self, id: &str) -> Result<bool> {
        // A desk record shows its image's name; the newest flag moves.
        self.after_desk_write(platform::complete_image(&self.pool, self.backend, id).await)
    }

    async fn set_image_state(
        &self,
        id: &str,
        from: &[deskd_domain::enums::ImageState],
        to: deskd_domain::enums::ImageState,
    ) -> Result<bool> {
        platform::set_image_state(&self.pool, self.backend, id, from, to).await
    }

    async fn begin_image_edit(&self, image: &Image) -> Result<bool> {
        // A desk record shows its image's name.
        self.after_desk_write(platform::begin_image_edit(&self.pool, self.backend, image).await)
    }

    async fn begin_image_delete(&self, id: &str) -> Result<bool> {
        platform::begin_image_delete(&self.pool, self.backend, id).await
    }

    async fn remove_image(&self, id: &str) -> Result<bool> {
        platform::remove_image(&self.pool, self.backend, id).await
    }

    async fn insert_os_file(&self, f: &OsFile) -> Result<()> {
        platform::insert_os_file(&self.pool, self.backend, f).await
    }

    async fn finish_os_file(&self, id: &str, virtual_size: i64) -> Result<bool> {
        platform::finish_os_file(&self.pool, self.backend, id, virtual_size).await
    }

    async fn drop_upload(&self, id: &str) -> Result<bool> {
        platform::drop_upload(&self.pool, self.backend, id).await
    }

    async fn begin_os_file_delete(&self, id: &str) -> Result<bool> {
        platform::begin_os_file_delete(&self.pool, self.backend, id).await
    }

    async fn remove_os_file(&self, id: &str) -> Result<bool> {
        platform::remove_os_file(&self.pool, self.backend, id).await
    }

    // Terminal registry (6.6).

    async fn register_terminal(&self, t: &Terminal) -> Result<bool> {
        terminals::register(&self.pool, self.backend, t).await
    }

    async fn terminal_heartbeat(&self, id: &str, now: i64) -> Result<bool> {
        terminals::heartbeat(&self.pool, self.backend, id, now).await
    }

    async fn terminal_tallies(&self, online_since: i64) -> Result<Vec<TerminalTally>> {
        terminals::tallies(&self.read, self.backend, online_since).await
    }
}

impl SqlStore {
    /// Passes a write's result through once it is done, bumping the desk generation: cached
    /// desk totals and pages (see `Store::desk_generation`) are stale from then on.
    fn after_desk_write<T>(&self, result: Result<T>) -> Result<T> {
        self.desk_counts.invalidate();
        result
    }

    /// Runs an account update and revokes the account's tokens in one transaction.
    async fn update_account_and_revoke(
        &self,
        name: &str,
        sql: &str,
        a: Vec<db::Arg>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db::db_err)?;
        if exec(&mut *tx, self.backend, sql, a).await? == 0 {
            return Ok(false);
        }
        exec(
            &mut *tx,
            self.backend,
            "UPDATE api_tokens SET revoked = 1 WHERE account_id = (SELECT id FROM api_accounts WHERE name = ?)",
            args![name],
        )
        .await?;
        tx.commit().await.map_err(db::db_err)?;
        Ok(true)
    }
}
