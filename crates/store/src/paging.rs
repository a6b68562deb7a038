//! Turns a validated [`ListQuery`] into SQL: `WHERE col IN (…) AND …`, `ORDER BY`, `LIMIT/OFFSET`,
//! and the matching `COUNT(*)`. Column names come from the resource declarations in the domain,
//! never from the client; values are always bound.

use deskd_domain::error::Result;
use deskd_domain::query::{ListQuery, Page};
use sqlx::any::AnyRow;
use sqlx::AnyPool;

use crate::db::{count, marks, rows, Arg, Backend};
use crate::fresh::FreshCache;

/// Totals of recent list queries. Counting every matching row is the part of a page query that
/// grows with the table; the total only changes when a row does, so it is kept until this
/// process writes the table (exact on one node) or for [`COUNT_TTL`] (what another replica's
/// writes may take to show).
pub struct CountCache {
    generation: std::sync::atomic::AtomicU64,
    totals: FreshCache<i64>,
}

/// How long a cached total may be reused.
pub const COUNT_TTL: std::time::Duration = std::time::Duration::from_secs(1);
const COUNT_CACHE_ENTRIES: usize = 1024;

impl Default for CountCache {
    fn default() -> Self {
        CountCache {
            generation: Default::default(),
            totals: FreshCache::new(COUNT_TTL, COUNT_CACHE_ENTRIES),
        }
    }
}

impl CountCache {
    /// The number of table changes seen so far.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Forgets every total: the table changed.
    pub fn invalidate(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) async fn count(
        &self,
        pool: &AnyPool,
        b: Backend,
        sql: &str,
        args: Vec<Arg>,
    ) -> Result<i64> {
        let key = format!("{sql}|{args:?}");
        let generation = self.generation();
        if let Some(n) = self.totals.get(&key, generation) {
            return Ok(n);
        }
        let n = count(pool, b, sql, args).await?;
        self.totals.put(key, generation, n);
        Ok(n)
    }
}

/// `(where_clause, args)`; the clause is empty or starts with ` WHERE`.
pub fn where_clause(q: &ListQuery) -> (String, Vec<Arg>) {
    let mut parts = Vec::new();
    let mut args = Vec::new();
    for f in &q.filters {
        parts.push(format!("{} IN ({})", f.column, marks(f.values.len())));
        args.extend(f.values.iter().map(Arg::from));
    }
    if parts.is_empty() {
        (String::new(), args)
    } else {
        (format!(" WHERE {}", parts.join(" AND ")), args)
    }
}

/// ` ORDER BY …`. Queryable columns are NOT NULL (a rule of `domain::query`), so the plain
/// order is the same on both databases and an index on the column can serve it.
pub fn order_clause(backend: Backend, q: &ListQuery) -> String {
    let terms: Vec<String> = q
        .sorts
        .iter()
        .map(|s| {
            let col = if s.text {
                backend.text_order(s.column)
            } else {
                s.column.to_string()
            };
            let dir = if s.descending { "DESC" } else { "ASC" };
            format!("{col} {dir}")
        })
        .collect();
    format!(" ORDER BY {}", terms.join(", "))
}

/// ` LIMIT ? OFFSET ?` with its two arguments.
pub fn limit_clause(q: &ListQuery) -> (&'static str, Vec<Arg>) {
    (
        " LIMIT ? OFFSET ?",
        vec![Arg::Int(q.limit), Arg::Int(q.offset)],
    )
}

/// One page of a resource: `SELECT COUNT(*) {count_from}` for the total and
/// `SELECT {cols} {from}` filtered, sorted and limited for the items, each row mapped by `map`.
/// `count_from` may join less than `from` when no filter needs the joins.
pub async fn page<T>(
    pool: &AnyPool,
    b: Backend,
    q: &ListQuery,
    cols: &str,
    from: &str,
    count_from: &str,
    map: impl Fn(&AnyRow) -> Result<T>,
) -> Result<Page<T>> {
    page_with(pool, b, q, cols, from, count_from, map, false, None).await
}

/// Like [`page`]; with `prepaged` the filter, order and limit are already inside `from`
/// (a paged subquery) and only their arguments are bound here; `counts` caches the total.
#[allow(clippy::too_many_arguments)]
pub async fn page_with<T>(
    pool: &AnyPool,
    b: Backend,
    q: &ListQuery,
    cols: &str,
    from: &str,
    count_from: &str,
    map: impl Fn(&AnyRow) -> Result<T>,
    prepaged: bool,
    counts: Option<&CountCache>,
) -> Result<Page<T>> {
    let (wh, wargs) = where_clause(q);
    let count_sql = format!("SELECT COUNT(*) AS n {count_from}{wh}");
    let total = match counts {
        Some(cache) => cache.count(pool, b, &count_sql, wargs.clone()).await?,
        None => count(pool, b, &count_sql, wargs.clone()).await?,
    };
    let (lim, largs) = limit_clause(q);
    let sql = if prepaged {
        format!("SELECT {cols} {from}")
    } else {
        format!("SELECT {cols} {from}{wh}{}{lim}", order_clause(b, q))
    };
    let mut all = wargs;
    all.extend(largs);
    let items = rows(pool, b, &sql, all)
        .await?
        .iter()
        .map(map)
        .collect::<Result<_>>()?;
    Ok(Page { total, items })
}
