//! Keeps the [order index](super::order) in step with the database through `desk_changes`, a
//! feed that triggers append to in the transaction of every desk write (migration 13), whoever
//! writes: this process, a trigger renaming a user's desks, or another replica.
//!
//! Before a page is served the index reads the feed from where it left off — when this process
//! has written desks since its last look, or [`POLL_EVERY`] has passed — and re-reads the keys
//! of the desks named there. Re-reading is idempotent, so a change seen twice costs only time.
//!
//! Feed numbers are taken when a row is written, not when its transaction commits. On SQLite
//! there is one writer, so numbers become visible in order. On PostgreSQL a reader may see 11
//! before 10; a missing number is a *gap* that waits until every transaction that could still
//! fill it has ended (the snapshot's `xmin` has passed the `xmax` of the read that first saw
//! the gap); if it is still missing then, its transaction rolled back.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use deskd_domain::error::{Error, Result};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool};

use super::order::{Index, Keys, OrderBy, KEY_COLS};
use crate::db::{marks, rows, Arg, Backend, Col};

/// How stale the index may get with writes by other processes (this process's own writes are
/// seen by the next page).
pub const POLL_EVERY: Duration = Duration::from_millis(100);
/// Feed rows read per statement.
const BATCH: i64 = 5_000;
/// Rows the feed keeps; older ones are pruned (see [`prune_sql`]).
pub(crate) const FEED_KEEP: i64 = 200_000;
/// An index this far behind the feed is rebuilt rather than caught up.
const REBUILD_LAG: i64 = FEED_KEEP / 2;

/// The index and where it stands in the feed.
#[derive(Default)]
pub(crate) struct FleetOrder {
    loaded: AtomicBool,
    loading: AtomicBool,
    index: RwLock<Option<Index>>,
    feed: tokio::sync::Mutex<Feed>,
    /// Pages found by position so far (the rest were walked in the database's index).
    pub(super) served: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct Feed {
    /// Every feed number up to here has been applied (or never committed).
    low: i64,
    /// Numbers above `low` already applied.
    done: BTreeSet<i64>,
    /// Numbers above `low` not yet seen → the `xmax` of the read that first missed them.
    gaps: BTreeMap<i64, i64>,
    generation: u64,
    polled_at: Option<Instant>,
}

/// The statement that prunes the feed to its last [`FEED_KEEP`] rows.
pub(super) fn prune_sql() -> String {
    format!(
        "DELETE FROM desk_changes WHERE seq < (SELECT COALESCE(MAX(seq), 0) FROM desk_changes) - {FEED_KEEP}"
    )
}

impl FleetOrder {
    /// Brings the index up to date if this process wrote desks since the last look (its desk
    /// `generation` moved) or [`POLL_EVERY`] has passed. Answers whether the index can serve
    /// pages: until it is loaded (in the background, started by the first call) it cannot.
    pub(super) async fn refresh(
        self: &Arc<Self>,
        read: &AnyPool,
        b: Backend,
        generation: u64,
    ) -> Result<bool> {
        if !self.loaded.load(Ordering::Acquire) {
            self.load_in_background(read, b);
            return Ok(false);
        }
        let mut feed = self.feed.lock().await;
        let fresh = feed.polled_at.is_some_and(|t| t.elapsed() < POLL_EVERY);
        if feed.generation == generation && fresh {
            return Ok(true);
        }
        if !self.poll(read, b, &mut feed).await? {
            // too far behind the feed (its rows may be pruned): load afresh
            self.loaded.store(false, Ordering::Release);
            drop(feed);
            self.load_in_background(read, b);
            return Ok(false);
        }
        feed.generation = generation;
        feed.polled_at = Some(Instant::now());
        Ok(true)
    }

    /// Starts loading the index unless a load is under way. Loading 100,000 desks' keys takes
    /// seconds on SQLite; pages are walked in the database's index meanwhile.
    pub(super) fn load_in_background(self: &Arc<Self>, read: &AnyPool, b: Backend) {
        if self.loading.swap(true, Ordering::AcqRel) {
            return;
        }
        let (me, read) = (self.clone(), read.clone());
        tokio::spawn(async move {
            let mut feed = me.feed.lock().await;
            match me.load(&read, b, &mut feed).await {
                Ok(()) => me.loaded.store(true, Ordering::Release),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot load the desk order index; pages are walked")
                }
            }
            me.loading.store(false, Ordering::Release);
        });
    }

    /// Runs `f` on the index with order `by` built (building it on first use); `None` if the
    /// index is not loaded.
    pub(super) fn with_order<T>(
        &self,
        by: OrderBy,
        f: impl FnOnce(&Index) -> T,
    ) -> Result<Option<T>> {
        {
            let guard = self.index.read().map_err(poisoned)?;
            match guard.as_ref() {
                Some(ix) if ix.has_order(by) => return Ok(Some(f(ix))),
                Some(_) => {}
                None => return Ok(None),
            }
        }
        let mut guard = self.index.write().map_err(poisoned)?;
        let Some(ix) = guard.as_mut() else {
            return Ok(None);
        };
        if !ix.has_order(by) {
            let started = Instant::now();
            ix.build_order(by);
            let ms = started.elapsed().as_millis() as u64;
            tracing::info!(?by, desks = ix.len(), ms, "built a desk order");
        }
        Ok(Some(f(ix)))
    }

    /// Loads every desk's keys and the feed's position in one snapshot of the database.
    async fn load(&self, read: &AnyPool, b: Backend, feed: &mut Feed) -> Result<()> {
        let started = Instant::now();
        let mut tx = read.begin().await.map_err(crate::db::db_err)?;
        if b == Backend::Postgres {
            let sql = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ";
            crate::db::exec(&mut *tx, b, sql, vec![]).await?;
        }
        let sql = "SELECT COALESCE(MAX(seq), 0) AS n FROM desk_changes";
        let top = crate::db::count(&mut *tx, b, sql, vec![]).await?;
        let (low, seen) = match b {
            // one writer: every number up to the newest is settled
            Backend::Sqlite => (top, Seen::nothing(top)),
            // rows below the newest FEED_KEEP may have been pruned; a number above that not
            // seen now is a gap (in flight, or rolled back)
            Backend::Postgres => {
                let low = (top - FEED_KEEP - 1).max(0);
                (low, window(&mut tx, b, low, top).await?)
            }
        };
        let desks = rows(&mut *tx, b, &keys_sql(""), vec![]).await?;
        tx.commit().await.map_err(crate::db::db_err)?;
        let keys = desks.iter().map(keys_row).collect::<Result<Vec<_>>>()?;
        let index = Index::new(keys).ok_or_else(too_many_states)?;
        *feed = Feed {
            low,
            done: seen.rows.iter().map(|(s, _)| *s).collect(),
            ..Feed::default()
        };
        feed.settle(&seen);
        let ms = started.elapsed().as_millis() as u64;
        tracing::info!(desks = index.len(), ms, "loaded the desk order index");
        *self.index.write().map_err(poisoned)? = Some(index);
        Ok(())
    }

    /// Applies the feed's rows past the last look; `false` when the index is too far behind.
    async fn poll(&self, read: &AnyPool, b: Backend, feed: &mut Feed) -> Result<bool> {
        let mut conn = read.acquire().await.map_err(crate::db::db_err)?;
        let started = Instant::now();
        let seen = read_feed(&mut conn, b, feed.low).await?;
        drop(conn);
        let slow = started.elapsed() > Duration::from_millis(200);
        if seen.top - feed.low > REBUILD_LAG {
            return Ok(false);
        }
        let mut changed = HashSet::new();
        for (seq, desk) in &seen.rows {
            if feed.done.insert(*seq) {
                changed.insert(desk.clone());
            }
        }
        feed.settle(&seen);
        if slow {
            tracing::info!(
                rows = seen.rows.len(),
                ms = started.elapsed().as_millis() as u64,
                low = feed.low,
                "slow desk feed read"
            );
        }
        if changed.is_empty() {
            return Ok(true);
        }
        let ids: Vec<String> = changed.into_iter().collect();
        let mut current = Vec::new();
        for part in ids.chunks(500) {
            let sql = keys_sql(&format!(" WHERE d.id IN ({})", marks(part.len())));
            let args = part.iter().map(Arg::from).collect();
            for r in rows(read, b, &sql, args).await? {
                current.push(keys_row(&r)?);
            }
        }
        let mut guard = self.index.write().map_err(poisoned)?;
        let Some(ix) = guard.as_mut() else {
            return Ok(false);
        };
        let mut gone: HashSet<&str> = ids.iter().map(String::as_str).collect();
        for k in &current {
            gone.remove(k.id());
        }
        for id in gone {
            ix.apply(id, None);
        }
        for k in current {
            let id = k.id().to_string();
            ix.apply(&id, Some(k)).ok_or_else(too_many_states)?;
        }
        Ok(true)
    }
}

impl Feed {
    /// Records the gaps below the newest number seen, lets go of those that can no longer be
    /// filled, and moves `low` past every number that is settled.
    fn settle(&mut self, seen: &Seen) {
        let newest = self.done.last().copied().unwrap_or(self.low);
        for s in self.low + 1..newest {
            if self.done.contains(&s) {
                self.gaps.remove(&s);
                continue;
            }
            match self.gaps.get(&s) {
                Some(horizon) if seen.xmin >= *horizon => {
                    self.gaps.remove(&s);
                    self.done.insert(s);
                }
                Some(_) => {}
                None => {
                    self.gaps.insert(s, seen.xmax);
                }
            }
        }
        while self.done.remove(&(self.low + 1)) {
            self.low += 1;
        }
    }
}

/// One read of the feed: its rows past a number, its newest number, and the reading snapshot's
/// bounds (SQLite: every gap is final at once).
struct Seen {
    rows: Vec<(i64, String)>,
    top: i64,
    xmin: i64,
    xmax: i64,
}

impl Seen {
    fn nothing(top: i64) -> Seen {
        Seen {
            rows: Vec::new(),
            top,
            xmin: i64::MAX,
            xmax: 0,
        }
    }
}

/// PostgreSQL: the feed numbers in `(low, top]` that the snapshot of `tx` sees, and its bounds.
async fn window(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    b: Backend,
    low: i64,
    top: i64,
) -> Result<Seen> {
    let sql =
        "SELECT CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS TEXT) AS BIGINT) AS xmin, \
               CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS TEXT) AS BIGINT) AS xmax";
    let bounds = crate::db::row(&mut **tx, b, sql, vec![])
        .await?
        .ok_or_else(|| Error::internal("no snapshot bounds"))?;
    let sql = "SELECT seq FROM desk_changes WHERE seq > ? AND seq <= ? ORDER BY seq";
    let rows = rows(&mut **tx, b, sql, vec![Arg::Int(low), Arg::Int(top)])
        .await?
        .iter()
        .map(|r| Ok((r.int("seq")?, String::new())))
        .collect::<Result<Vec<_>>>()?;
    Ok(Seen {
        rows,
        top,
        xmin: bounds.int("xmin")?,
        xmax: bounds.int("xmax")?,
    })
}

/// Reads the feed past `after`, at most about [`REBUILD_LAG`] rows (an index further behind is
/// loaded afresh).
async fn read_feed(conn: &mut AnyConnection, b: Backend, after: i64) -> Result<Seen> {
    let snapshot = match b {
        Backend::Sqlite => "CAST(9223372036854775807 AS BIGINT) AS xmin, CAST(0 AS BIGINT) AS xmax",
        Backend::Postgres => {
            "CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS TEXT) AS BIGINT) AS xmin, \
             CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS TEXT) AS BIGINT) AS xmax"
        }
    };
    let mut seen = Seen::nothing(after);
    let mut cursor = after;
    loop {
        let sql = format!(
            "SELECT {snapshot}, (SELECT COALESCE(MAX(seq), 0) FROM desk_changes) AS top, c.seq, c.desk_id \
             FROM (SELECT 1 AS one) o LEFT JOIN \
             (SELECT seq, desk_id FROM desk_changes WHERE seq > ? ORDER BY seq LIMIT ?) c ON 1 = 1 \
             ORDER BY c.seq"
        );
        let got = rows(&mut *conn, b, &sql, vec![Arg::Int(cursor), Arg::Int(BATCH)]).await?;
        let mut n = 0;
        for r in &got {
            // the first read's snapshot bounds the gaps: later reads only add rows
            if cursor == after {
                seen.xmin = r.int("xmin")?;
                seen.xmax = r.int("xmax")?;
                seen.top = seen.top.max(r.int("top")?);
            }
            if let (Some(seq), Some(desk)) = (r.opt_int("seq")?, r.opt_text("desk_id")?) {
                seen.rows.push((seq, desk));
                n += 1;
            }
        }
        match seen.rows.last() {
            Some((last, _)) if n == BATCH as usize && (seen.rows.len() as i64) < REBUILD_LAG => {
                cursor = *last
            }
            _ => return Ok(seen),
        }
    }
}

/// `SELECT` of the keys the index keeps, for every desk or those `wh` picks.
fn keys_sql(wh: &str) -> String {
    format!(
        "SELECT {}, d.created_at FROM desks d{wh}",
        KEY_COLS.join(", ")
    )
}

fn keys_row(r: &AnyRow) -> Result<Keys> {
    let mut text: [Arc<str>; 13] = Default::default();
    for (i, col) in KEY_COLS.iter().enumerate() {
        text[i] = r.text(col.trim_start_matches("d."))?.into();
    }
    Ok(Keys {
        text,
        created_at: r.int("created_at")?,
    })
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> Error {
    Error::internal("the desk order index was poisoned by a panic")
}

fn too_many_states() -> Error {
    Error::internal("the desk order index counts at most 32 distinct states")
}
