//! The terminal registry of 6.6: registration, heartbeats and the per-category counts.

use async_trait::async_trait;
use deskd_domain::enums::TerminalCategory;
use deskd_domain::error::Result;
use deskd_domain::model::{Terminal, TerminalTally};
use deskd_domain::store::TerminalStore;

use crate::args;
use crate::db::{begin, db_err, exec, insert, rows, Backend, Col, Tx};
use crate::SqlStore;

/// A desktop user logged in from terminal `id`: it is alive, and has been logged in from.
pub(crate) async fn logged_in(tx: &mut Tx, b: Backend, id: &str, now: i64) -> Result<()> {
    exec(
        &mut **tx,
        b,
        "UPDATE terminals SET last_heartbeat_at = ?, \
         first_login_at = CASE WHEN first_login_at = 0 THEN ? ELSE first_login_at END WHERE id = ?",
        args![now, now, id],
    )
    .await
    .map(drop)
}

#[async_trait]
impl TerminalStore for SqlStore {
    /// Inserts or refreshes a terminal; true when it is new.
    async fn register_terminal(&self, t: &Terminal) -> Result<bool> {
        let mut tx = begin(&self.pool).await?;
        let updated = exec(
            &mut *tx,
            self.backend,
            "UPDATE terminals SET name = ?, category = ?, ip = ?, mac = ?, last_heartbeat_at = ? \
             WHERE id = ?",
            args![
                &t.name,
                t.category.as_str(),
                &t.ip,
                &t.mac,
                t.last_heartbeat_at,
                &t.id
            ],
        )
        .await?;
        if updated == 0 {
            let values = vec![
                ("id", t.id.as_str().into()),
                ("name", t.name.as_str().into()),
                ("category", t.category.as_str().into()),
                ("ip", t.ip.as_str().into()),
                ("mac", t.mac.as_str().into()),
                ("registered_at", t.registered_at.into()),
                ("last_heartbeat_at", t.last_heartbeat_at.into()),
                ("first_login_at", t.first_login_at.into()),
            ];
            insert(&mut *tx, self.backend, "terminals", values).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(updated == 0)
    }

    async fn terminal_heartbeat(&self, id: &str, now: i64) -> Result<bool> {
        let sql = "UPDATE terminals SET last_heartbeat_at = ? WHERE id = ?";
        Ok(exec(&self.pool, self.backend, sql, args![now, id]).await? == 1)
    }

    async fn terminal_tallies(&self, online_since: i64) -> Result<Vec<TerminalTally>> {
        let rs = rows(
            &self.read,
            self.backend,
            "SELECT category, COUNT(*) AS total, \
             CAST(COALESCE(SUM(CASE WHEN last_heartbeat_at >= ? THEN 1 ELSE 0 END), 0) AS BIGINT) AS online, \
             CAST(COALESCE(SUM(CASE WHEN first_login_at = 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS never \
             FROM terminals GROUP BY category",
            args![online_since],
        )
        .await?;
        rs.iter()
            .map(|r| {
                Ok(TerminalTally {
                    category: TerminalCategory::parse(&r.text("category")?, "terminals.category")?,
                    total: r.int("total")?,
                    online: r.int("online")?,
                    never_login: r.int("never")?,
                })
            })
            .collect()
    }
}
