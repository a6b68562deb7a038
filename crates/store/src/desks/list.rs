//! The desk list (6.1.2) and one desk's view: a desk with the names it refers to.

use deskd_domain::error::Result;
use deskd_domain::model::DeskView;
use deskd_domain::query::{ListQuery, Page, Sort, Value};
use sqlx::any::AnyRow;
use sqlx::AnyPool;

use super::feed::FleetOrder;
use super::order::{OrderBy, StateMask};
use super::rows::{desk_row, COLS};
use crate::args;
use crate::db::{count, marks, row, rows, Arg, Backend, Col};
use crate::paging;

/// The joins that give a desk its names; `d` is the desk (a table or a page of it).
const VIEW_JOINS: &str = "LEFT JOIN users u ON u.id = d.user_id \
    LEFT JOIN images i ON i.id = d.image_id \
    LEFT JOIN clusters c ON c.id = d.cluster_id \
    LEFT JOIN hosts h ON h.id = d.host_id \
    LEFT JOIN desk_strategies s ON s.id = d.strategy_id";

fn view_cols() -> String {
    format!(
        "{COLS}, u.name AS v_user_name, u.user_type AS v_user_type, i.name AS v_image_name, \
         c.name AS v_cluster_name, h.name AS v_host_name, s.enable_agreement_agency AS v_agency"
    )
}

fn view_row(r: &AnyRow) -> Result<DeskView> {
    Ok(DeskView {
        desk: desk_row(r)?,
        user_name: r.opt_text("v_user_name")?.unwrap_or_default(),
        user_type: r.opt_text("v_user_type")?.unwrap_or_default(),
        image_name: r.opt_text("v_image_name")?.unwrap_or_default(),
        cluster_name: r.opt_text("v_cluster_name")?.unwrap_or_default(),
        host_name: r.opt_text("v_host_name")?.unwrap_or_default(),
        enable_agreement_agency: r.opt_int("v_agency")?.unwrap_or(0) != 0,
    })
}

/// The desk columns [`desk_tallies`](tally_total) counts by: a total filtered only by these is
/// summed from a few tally rows instead of counted over the fleet.
const TALLIED: [&str; 6] = [
    "d.state",
    "d.desk_type",
    "d.category",
    "d.cluster_id",
    "d.strategy_id",
    "d.network_id",
];

/// What a page needs besides the query: the desk-list totals (whose generation is this
/// process's desk generation, see [`FleetOrder::refresh`]) and the order index.
pub(super) struct Lists<'a> {
    pub counts: &'a paging::CountCache,
    pub order: &'a std::sync::Arc<FleetOrder>,
    pub feed: &'a AnyPool,
}

/// 6.1.2: one page of desks. A page in one order (any single sort field) of the whole fleet or
/// of the desks in some states is found by position in the [order index](super::order) and its
/// rows read by id. Other pages (filters on other fields, several sort fields) are taken from
/// the desks alone, where an index `(column, created_at, id)` serves the order and stops after
/// the page, and only that page is joined to the names it shows (every field a list filters or
/// sorts by is on the desk row); their total comes from the tallies when it can, and a page
/// past the middle is read backwards from the end, so no page walks more than half the index.
pub(super) async fn page(
    pool: &AnyPool,
    b: Backend,
    q: &ListQuery,
    lists: Lists<'_>,
) -> Result<Page<DeskView>> {
    let position = match by_position(q) {
        Some(p) => lists
            .order
            .refresh(lists.feed, b, lists.counts.generation())
            .await?
            .then_some(p),
        None => None,
    };
    if let Some((by, states)) = position {
        let found = lists.order.with_order(by, |ix| {
            let mask = match &states {
                Some(s) => ix.mask(s),
                None => StateMask::All,
            };
            let total = ix.total(mask);
            let ids = ix.page(by, mask, clamp(q.offset), clamp(q.limit));
            (total, ids)
        })?;
        if let Some((total, Some(ids))) = found {
            let items = views_by_id(pool, b, &ids).await?;
            lists
                .order
                .served
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(Page {
                total: total as i64,
                items,
            });
        }
    }
    walked(pool, b, q, lists.counts).await
}

fn clamp(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// The order and state filter of a page the order index serves: one sort field (or none)
/// before the creation time and id, and no filter but one on the state.
fn by_position(q: &ListQuery) -> Option<(OrderBy, Option<Vec<&str>>)> {
    let (first, ties) = match q.sorts.len() {
        2 => (None, &q.sorts[..]),
        3 => (Some(q.sorts[0]), &q.sorts[1..]),
        _ => return None,
    };
    let plain_ties = ties[0].column == super::order::CREATED
        && !ties[0].descending
        && ties[1].column == "d.id"
        && !ties[1].descending;
    if !plain_ties {
        return None;
    }
    let by = match first {
        Some(s) => OrderBy::of(s.column, s.descending)?,
        None => OrderBy::of(super::order::CREATED, false)?,
    };
    let states = match q.filters.as_slice() {
        [] => None,
        [f] if f.column == "d.state" => Some(
            f.values
                .iter()
                .map(|v| match v {
                    Value::Text(t) => Some(t.as_str()),
                    Value::Int(_) => None,
                })
                .collect::<Option<Vec<_>>>()?,
        ),
        _ => return None,
    };
    Some((by, states))
}

/// The views of the desks `ids` names, in that order (a desk removed since the index was read
/// is left out).
async fn views_by_id(
    pool: &AnyPool,
    b: Backend,
    ids: &[std::sync::Arc<str>],
) -> Result<Vec<DeskView>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {} FROM desks d {VIEW_JOINS} WHERE d.id IN ({})",
        view_cols(),
        marks(ids.len())
    );
    let args = ids.iter().map(|id| Arg::Text(id.to_string())).collect();
    let mut found: std::collections::HashMap<String, DeskView> = rows(pool, b, &sql, args)
        .await?
        .iter()
        .map(|r| view_row(r).map(|v| (v.desk.id.to_string(), v)))
        .collect::<Result<_>>()?;
    Ok(ids.iter().filter_map(|id| found.remove(&**id)).collect())
}

/// A page walked in the database's index (see [`page`]).
async fn walked(
    pool: &AnyPool,
    b: Backend,
    q: &ListQuery,
    counts: &paging::CountCache,
) -> Result<Page<DeskView>> {
    let total = match tally_total(pool, b, q).await? {
        Some(n) => n,
        None => {
            let (wh, wargs) = filter_clause(b, q);
            let sql = format!("SELECT COUNT(*) AS n FROM desks d{wh}");
            counts.count(pool, b, &sql, wargs).await?
        }
    };
    if q.offset >= total {
        return Ok(Page {
            total,
            items: Vec::new(),
        });
    }
    let (sql, args, backwards) = page_sql(b, q, total);
    let mut items = rows(pool, b, &sql, args)
        .await?
        .iter()
        .map(view_row)
        .collect::<Result<Vec<_>>>()?;
    if backwards {
        items.reverse();
    }
    Ok(Page { total, items })
}

/// The page's statement and arguments, and whether it walks the order backwards (a page past
/// the middle is read from the end: `total` tells where that is).
pub(super) fn page_sql(b: Backend, q: &ListQuery, total: i64) -> (String, Vec<Arg>, bool) {
    let (wh, wargs) = filter_clause(b, q);
    let backwards = q.offset > 0 && q.offset + q.limit / 2 > total / 2;
    let (sorts, offset, limit) = if backwards {
        let end = (q.offset + q.limit).min(total);
        let reversed = q
            .sorts
            .iter()
            .map(|s| Sort {
                descending: !s.descending,
                ..*s
            })
            .collect();
        (reversed, (total - end).max(0), (end - q.offset).max(0))
    } else {
        (q.sorts.clone(), q.offset, q.limit)
    };
    let walk = ListQuery {
        filters: q.filters.clone(),
        sorts,
        offset,
        limit,
    };
    let order = paging::order_clause(b, &walk);
    let sql = format!(
        "SELECT {} FROM ({}) d {VIEW_JOINS}{order}",
        view_cols(),
        desks_sql(&wh, &order)
    );
    let mut args = wargs;
    args.extend([Arg::Int(limit), Arg::Int(offset)]);
    (sql, args, backwards)
}

/// The part of a page that reads the desks: filtered, ordered and limited on the desk row
/// alone, so an index serves it; the names are joined to its rows only.
fn desks_sql(wh: &str, order: &str) -> String {
    format!("SELECT {COLS}, d.user_name, d.image_name FROM desks d{wh}{order} LIMIT ? OFFSET ?")
}

/// The desk filter as SQL. On PostgreSQL text is compared byte-wise (`COLLATE "C"`), as the
/// list's indexes are built, so that an index serves the filter and the order together.
fn filter_clause(b: Backend, q: &ListQuery) -> (String, Vec<Arg>) {
    let mut parts = Vec::new();
    let mut args = Vec::new();
    for f in &q.filters {
        let text = f.values.iter().any(|v| matches!(v, Value::Text(_)));
        let col = match text {
            true => b.text_order(f.column),
            false => f.column.to_string(),
        };
        parts.push(format!("{col} IN ({})", marks(f.values.len())));
        args.extend(f.values.iter().map(Arg::from));
    }
    match parts.is_empty() {
        true => (String::new(), args),
        false => (format!(" WHERE {}", parts.join(" AND ")), args),
    }
}

/// The exact total from `desk_tallies` (kept by triggers in every desk write's transaction)
/// when every filter is on a tallied column; `None` otherwise.
async fn tally_total(pool: &AnyPool, b: Backend, q: &ListQuery) -> Result<Option<i64>> {
    if !q.filters.iter().all(|f| TALLIED.contains(&f.column)) {
        return Ok(None);
    }
    let mut parts = Vec::new();
    let mut args = Vec::new();
    for f in &q.filters {
        let col = f.column.trim_start_matches("d.");
        parts.push(format!("{col} IN ({})", marks(f.values.len())));
        args.extend(f.values.iter().map(Arg::from));
    }
    let wh = match parts.is_empty() {
        true => String::new(),
        false => format!(" WHERE {}", parts.join(" AND ")),
    };
    let sql = format!("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM desk_tallies{wh}");
    count(pool, b, &sql, args).await.map(Some)
}

pub(super) async fn view(pool: &AnyPool, b: Backend, id: &str) -> Result<Option<DeskView>> {
    let sql = format!(
        "SELECT {} FROM desks d {VIEW_JOINS} WHERE d.id = ?",
        view_cols()
    );
    row(pool, b, &sql, args![id])
        .await?
        .map(|r| view_row(&r))
        .transpose()
}

/// The database's plan of the statements behind one desk page (its total, unless the tallies
/// give it, and its rows), as `EXPLAIN QUERY PLAN` (SQLite) or `EXPLAIN` (PostgreSQL) prints it.
/// PostgreSQL plans with sequential scans and sorts priced out, so the plan shows whether an
/// index *can* serve the page at all, whatever the table's size.
pub(super) async fn explain(
    pool: &AnyPool,
    b: Backend,
    q: &ListQuery,
    total: i64,
) -> Result<String> {
    // the desk part of the page (the outer query only joins and orders its ≤ limit rows)
    let (_, args, backwards) = page_sql(b, q, total);
    let walk = ListQuery {
        sorts: q
            .sorts
            .iter()
            .map(|s| Sort {
                descending: s.descending != backwards,
                ..*s
            })
            .collect(),
        ..q.clone()
    };
    let (wh, _) = filter_clause(b, q);
    let sql = desks_sql(&wh, &paging::order_clause(b, &walk));
    let mut statements = vec![(sql, args)];
    if !q.filters.iter().all(|f| TALLIED.contains(&f.column)) {
        let (wh, wargs) = filter_clause(b, q);
        statements.push((format!("SELECT COUNT(*) AS n FROM desks d{wh}"), wargs));
    }
    let mut tx = crate::db::begin(pool).await?;
    if b == Backend::Postgres {
        for set in [
            "SET LOCAL enable_seqscan = off",
            "SET LOCAL enable_sort = off",
        ] {
            crate::db::exec(&mut *tx, b, set, vec![]).await?;
        }
    }
    let mut plan = String::new();
    for (sql, args) in statements {
        let sql = match b {
            Backend::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
            Backend::Postgres => format!("EXPLAIN {sql}"),
        };
        for r in rows(&mut *tx, b, &sql, args).await? {
            let line = match b {
                Backend::Sqlite => r.text("detail")?,
                Backend::Postgres => r.text("QUERY PLAN")?,
            };
            plan.push_str(&line);
            plan.push('\n');
        }
        plan.push_str("--\n");
    }
    Ok(plan)
}
