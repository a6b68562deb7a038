//! What a delete checks, shared by every resource: the rows that still refer to one, the plain
//! delete of an unused row, and the two-phase delete (mark DELETING, remove once the driver's
//! work is done, restore when something came to need the row meanwhile) whose states come
//! from the domain's lifecycle tables.

use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::lifecycle::{DeleteStep, TwoPhaseDelete};
use deskd_domain::model::now_ms;
use sqlx::AnyPool;

use crate::args;
use crate::db::{begin, count, db_err, exec, lock, marks, row, rows, Arg, Backend, Col, Lock, Tx};

/// Rows of `table` whose `column` holds the id, called `noun` in a refusal.
pub(crate) struct Referrer {
    pub table: &'static str,
    pub column: &'static str,
    pub noun: &'static str,
}

/// Refuses with `Conflict` ("`what` `name` is still used by N `noun` (a, b, …)") when anything
/// refers to row `id`.
pub(crate) async fn refuse_if_used(
    tx: &mut Tx,
    b: Backend,
    (what, name): (Missing, &str),
    referrers: &[Referrer],
    id: &str,
) -> Result<()> {
    let mut reasons = Vec::new();
    for r in referrers {
        let (table, column) = (r.table, r.column);
        let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = ?");
        let n = count(&mut **tx, b, &sql, args![id]).await?;
        if n > 0 {
            let sql = format!("SELECT name FROM {table} WHERE {column} = ? ORDER BY name LIMIT 5");
            let names = rows(&mut **tx, b, &sql, args![id])
                .await?
                .iter()
                .map(|r| r.text("name"))
                .collect::<Result<Vec<_>>>()?;
            reasons.push(format!("{n} {} ({})", r.noun, names.join(", ")));
        }
    }
    if reasons.is_empty() {
        return Ok(());
    }
    let reason = format!("is still used by {}", reasons.join(" and "));
    Err(Error::conflict(what, name, reason))
}

/// Deletes row `id` of `table` after finding nothing referring to it; false when it is gone.
pub(crate) async fn delete_unused(
    pool: &AnyPool,
    b: Backend,
    (table, what): (&str, Missing),
    referrers: &[Referrer],
    id: &str,
) -> Result<bool> {
    let mut tx = begin(pool).await?;
    let sql = format!("SELECT name FROM {table} WHERE id = ?");
    let Some(found) = row(&mut *tx, b, &sql, args![id]).await? else {
        return Ok(false);
    };
    refuse_if_used(&mut tx, b, (what, &found.text("name")?), referrers, id).await?;
    exec(
        &mut *tx,
        b,
        &format!("DELETE FROM {table} WHERE id = ?"),
        args![id],
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

/// A table whose rows are deleted in two phases.
pub(crate) trait Phased {
    type State: TwoPhaseDelete;
    const TABLE: &'static str;
    const WHAT: Missing;
    /// The row has an `updated_at` that a state change stamps.
    const STAMPED: bool;
    /// Removal reads and frees host capacity: it holds the placement lock.
    const PLACEMENT: bool;

    fn parse(state: &str) -> Result<Self::State>;
    /// Refuses (`Conflict`) while something still needs row `id`, called `name`.
    async fn blockers(tx: &mut Tx, b: Backend, id: &str, name: &str) -> Result<()>;
    /// Deletes the row and what goes with it.
    async fn remove_rows(tx: &mut Tx, b: Backend, id: &str) -> Result<()>;
}

/// Marks row `id` DELETING unless something needs it; true when it is DELETING now (or was
/// already), false when it is gone.
pub(crate) async fn begin_delete<P: Phased>(pool: &AnyPool, b: Backend, id: &str) -> Result<bool> {
    let rule = P::State::delete_rule(DeleteStep::Begin);
    let Some(deleting) = rule.target() else {
        return Err(Error::internal("a delete begins by moving to a state"));
    };
    let mut tx = begin(pool).await?;
    let sql = format!("SELECT name, state FROM {} WHERE id = ?", P::TABLE);
    let Some(r) = row(&mut *tx, b, &sql, args![id]).await? else {
        return Ok(false);
    };
    let (name, state) = (r.text("name")?, P::parse(&r.text("state")?)?);
    if state == deleting {
        return Ok(true);
    }
    if !rule.accepts(state) {
        let reason = format!("is {state}; delete it once that is done");
        return Err(Error::conflict(P::WHAT, name, reason));
    }
    P::blockers(&mut tx, b, id, &name).await?;
    set_state::<P>(&mut tx, b, id, deleting).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

/// Removes a DELETING row. When something came to need it meanwhile, the row is restored and
/// the refusal names what; false when there is no such row.
pub(crate) async fn remove<P: Phased>(pool: &AnyPool, b: Backend, id: &str) -> Result<bool> {
    let rule = P::State::delete_rule(DeleteStep::Remove);
    let mut tx = begin(pool).await?;
    if P::PLACEMENT {
        lock(&mut tx, b, Lock::Placement).await?;
    }
    let sql = format!(
        "SELECT name FROM {} WHERE id = ? AND state IN ({})",
        P::TABLE,
        marks(rule.from.len())
    );
    let mut a = args![id];
    a.extend(rule.from.iter().map(|s| Arg::from(s.to_string())));
    let Some(r) = row(&mut *tx, b, &sql, a).await? else {
        return Ok(false);
    };
    match P::blockers(&mut tx, b, id, &r.text("name")?).await {
        Ok(()) => {}
        Err(e @ Error::Conflict { .. }) => {
            if let Some(back) = P::State::delete_rule(DeleteStep::Restore).target() {
                set_state::<P>(&mut tx, b, id, back).await?;
            }
            tx.commit().await.map_err(db_err)?;
            return Err(e);
        }
        Err(e) => return Err(e),
    }
    P::remove_rows(&mut tx, b, id).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

async fn set_state<P: Phased>(tx: &mut Tx, b: Backend, id: &str, to: P::State) -> Result<()> {
    let table = P::TABLE;
    let (sql, a) = if P::STAMPED {
        let sql = format!("UPDATE {table} SET state = ?, updated_at = ? WHERE id = ?");
        (sql, args![to.to_string(), now_ms(), id])
    } else {
        (
            format!("UPDATE {table} SET state = ? WHERE id = ?"),
            args![to.to_string(), id],
        )
    };
    exec(&mut **tx, b, &sql, a).await.map(drop)
}
