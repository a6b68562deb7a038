//! Desks (chapter 6.1): the desk row, the list and its views, placement on a host with an
//! address, shape and state changes, removal.

pub(crate) mod feed;
mod list;
mod order;
pub(crate) mod placement;
pub(crate) mod rows;

use async_trait::async_trait;
use deskd_domain::enums::DeskState;
use deskd_domain::error::Result;
use deskd_domain::ids::{DeskId, StrategyId};
use deskd_domain::model::{now_ms, Desk, DeskReservation, DeskView, Reserved};
use deskd_domain::query::{ListQuery, Page};
use deskd_domain::store::DeskStore;

pub(crate) use rows::{desk_row, COLS};

use crate::args;
use crate::db::{begin, db_err, exec, row, rows as all_rows, Col};
use crate::SqlStore;

impl SqlStore {
    /// The database's plan of one desk page (see `list::explain`), for the plan tests and
    /// ARCHITECTURE.md; `total` decides whether the page is read backwards.
    pub async fn explain_desk_page(&self, q: &ListQuery, total: i64) -> Result<String> {
        list::explain(&self.pool, self.backend, q, total).await
    }

    /// Starts loading the desk list's order index in the background (it also starts with the
    /// first page that can use it): a server calls this at start, so that its first pages
    /// need not be walked while the index loads.
    pub fn warm_desk_order(&self) {
        self.desk_order.load_in_background(&self.feed, self.backend);
    }

    /// How many desk pages this store found by position in its order index (the others were
    /// walked in the database's index): for tests and the process's metrics.
    pub fn desk_pages_by_position(&self) -> u64 {
        self.desk_order
            .served
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[async_trait]
impl DeskStore for SqlStore {
    fn desk_generation(&self) -> u64 {
        self.desk_counts.generation()
    }

    async fn get_desk(&self, id: &DeskId) -> Result<Option<Desk>> {
        let sql = format!("SELECT {COLS} FROM desks d WHERE d.id = ?");
        row(&self.read, self.backend, &sql, args![id])
            .await?
            .map(|r| desk_row(&r))
            .transpose()
    }

    async fn list_all_desks(&self) -> Result<Vec<Desk>> {
        let sql = format!("SELECT {COLS} FROM desks d ORDER BY d.created_at, d.id");
        all_rows(&self.read, self.backend, &sql, vec![])
            .await?
            .iter()
            .map(desk_row)
            .collect()
    }

    async fn set_desk_state(
        &self,
        id: &DeskId,
        from: &[DeskState],
        to: DeskState,
        reason: &str,
    ) -> Result<bool> {
        let moved = rows::set_state(&self.pool, self.backend, id, from, to, reason).await;
        self.after_desk_write(moved)
    }

    async fn list_desks(&self, q: &ListQuery) -> Result<Page<DeskView>> {
        let lists = list::Lists {
            counts: &self.desk_counts,
            order: &self.desk_order,
            feed: &self.feed,
        };
        list::page(&self.read, self.backend, q, lists).await
    }

    async fn desk_view(&self, id: &DeskId) -> Result<Option<DeskView>> {
        list::view(&self.read, self.backend, id).await
    }

    async fn reserve_desk(&self, r: &DeskReservation) -> Result<Reserved> {
        let reserved = placement::reserve(&self.pool, &self.read, self.backend, r).await;
        self.after_desk_write(reserved)
    }

    async fn remove_desk(&self, id: &DeskId) -> Result<bool> {
        let removed = async {
            let mut tx = begin(&self.pool).await?;
            let removed = rows::remove(&mut tx, self.backend, id).await?;
            tx.commit().await.map_err(db_err)?;
            Ok(removed)
        }
        .await;
        self.after_desk_write(removed)
    }

    async fn modify_desk(
        &self,
        id: &DeskId,
        cpu: i64,
        mem: i64,
        sys: i64,
        data: i64,
    ) -> Result<()> {
        let shape = (cpu, mem, sys, data);
        let modified = placement::modify(&self.pool, self.backend, id, shape).await;
        self.after_desk_write(modified)
    }

    async fn set_desk_strategy(
        &self,
        id: &DeskId,
        strategy_id: &StrategyId,
        need_refresh: bool,
    ) -> Result<bool> {
        let n = exec(
            &self.pool,
            self.backend,
            "UPDATE desks SET strategy_id = ?, need_refresh_strategy = ?, updated_at = ? WHERE id = ?",
            args![strategy_id, need_refresh, now_ms(), id],
        )
        .await;
        self.after_desk_write(n.map(|n| n == 1))
    }

    async fn set_desk_remark(&self, id: &DeskId, remark: &str) -> Result<bool> {
        let n = exec(
            &self.pool,
            self.backend,
            "UPDATE desks SET remark = ?, updated_at = ? WHERE id = ?",
            args![remark, now_ms(), id],
        )
        .await;
        self.after_desk_write(n.map(|n| n == 1))
    }

    async fn prune_desk_requests(&self, before: i64) -> Result<u64> {
        let sql = "DELETE FROM desk_requests WHERE created_at < ?";
        let n = exec(&self.pool, self.backend, sql, args![before]).await?;
        exec(&self.pool, self.backend, &feed::prune_sql(), vec![]).await?;
        Ok(n)
    }

    async fn desk_state_counts(&self) -> Result<Vec<(DeskState, i64)>> {
        let sql = "SELECT state, COUNT(*) AS n FROM desks GROUP BY state";
        all_rows(&self.read, self.backend, sql, vec![])
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
}
