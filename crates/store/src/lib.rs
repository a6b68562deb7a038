//! deskd's persistence: [`SqlStore`] implements the domain's narrow store traits on SQLite (the
//! embedded default) and on PostgreSQL (for scale and replicas). One SQL text serves both; the
//! differences are kept in [`db::Backend`]. Every multi-row change runs in one transaction.
//!
//! One file (or folder) per resource holds that resource's column list, its one row mapper and
//! its `impl …Store for SqlStore`; this file only opens and closes the pool. Files import one
//! another one way: tasks → desks → hosts, networks → clusters; images → os files → pools;
//! users → groups, terminals, desks; the inventory load uses them all and nothing uses it.

pub mod db;
pub mod fresh;
pub mod migrate;
pub mod testing;

mod auth;
mod clusters;
mod deletion;
mod desks;
mod events;
mod groups;
mod hosts;
mod images;
mod inventory;
mod networks;
mod os_files;
mod paging;
mod pools;
mod settings;
mod strategies;
mod tasks;
mod terminals;
mod users;

use deskd_domain::error::Result;
use sqlx::AnyPool;

use db::{exec, Backend};
pub use desks::feed::POLL_EVERY as DESK_ORDER_POLL_EVERY;

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
    /// Every desk's list keys in each order asked for, kept in step with the desk change feed.
    desk_order: std::sync::Arc<desks::feed::FleetOrder>,
    /// The connection the order index reads the feed and the keys through.
    feed: AnyPool,
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
        let feed = db::connect_feed(url, backend).await?;
        Ok(SqlStore {
            pool,
            read,
            feed,
            backend,
            desk_counts: Default::default(),
            desk_order: Default::default(),
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
        self.feed.close().await;
        self.read.close().await;
        self.pool.close().await;
    }

    /// Passes a write's result through once it is done, bumping the desk generation: cached
    /// desk totals and pages (see `DeskStore::desk_generation`) are stale from then on.
    fn after_desk_write<T>(&self, result: Result<T>) -> Result<T> {
        self.desk_counts.invalidate();
        result
    }
}
