//! The terminal registry of 6.6: registration, heartbeats and the per-category counts.

use deskd_domain::enums::TerminalCategory;
use deskd_domain::error::Result;
use deskd_domain::model::{Terminal, TerminalTally};
use sqlx::{Any, AnyPool, Executor};

use crate::args;
use crate::db::{exec, rows, Backend, Col};

/// Inserts or refreshes a terminal; true when it is new.
pub async fn register(pool: &AnyPool, b: Backend, t: &Terminal) -> Result<bool> {
    let mut tx = pool.begin().await.map_err(crate::db::db_err)?;
    let updated = exec(
        &mut *tx,
        b,
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
        crate::inventory::insert(
            &mut *tx,
            b,
            "terminals",
            vec![
                ("id", t.id.as_str().into()),
                ("name", t.name.as_str().into()),
                ("category", t.category.as_str().into()),
                ("ip", t.ip.as_str().into()),
                ("mac", t.mac.as_str().into()),
                ("registered_at", t.registered_at.into()),
                ("last_heartbeat_at", t.last_heartbeat_at.into()),
                ("first_login_at", t.first_login_at.into()),
            ],
        )
        .await?;
    }
    tx.commit().await.map_err(crate::db::db_err)?;
    Ok(updated == 0)
}

pub async fn heartbeat(pool: &AnyPool, b: Backend, id: &str, now: i64) -> Result<bool> {
    let n = exec(
        pool,
        b,
        "UPDATE terminals SET last_heartbeat_at = ? WHERE id = ?",
        args![now, id],
    )
    .await?;
    Ok(n == 1)
}

/// A desktop user logged in from terminal `id`: it is alive, and has been logged in from.
pub async fn logged_in<'c, E>(e: E, b: Backend, id: &str, now: i64) -> Result<()>
where
    E: Executor<'c, Database = Any>,
{
    exec(
        e,
        b,
        "UPDATE terminals SET last_heartbeat_at = ?, \
         first_login_at = CASE WHEN first_login_at = 0 THEN ? ELSE first_login_at END WHERE id = ?",
        args![now, now, id],
    )
    .await
    .map(drop)
}

pub async fn tallies(pool: &AnyPool, b: Backend, online_since: i64) -> Result<Vec<TerminalTally>> {
    let rs = rows(
        pool,
        b,
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
