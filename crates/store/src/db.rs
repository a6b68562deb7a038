//! The connection pool and the few helpers every query goes through.
//!
//! deskd writes its SQL once, with `?` placeholders and portable types, and runs it on SQLite or
//! PostgreSQL through sqlx's `Any` driver. The [`Backend`] knows the handful of differences:
//! placeholder syntax, byte-wise text ordering, and connection set-up.

use deskd_domain::error::{Error, Missing, Result};
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Arguments, Connection, Executor, Transaction};

/// A write transaction on the pool.
pub type Tx = Transaction<'static, Any>;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::invalid(
                "database_url",
                "must start with sqlite:// or postgres://",
            ))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// Rewrites `?` placeholders into `$1, $2, …` for PostgreSQL. deskd's SQL never has `?`
    /// inside a literal.
    pub fn sql(self, sql: &str) -> String {
        match self {
            Backend::Sqlite => sql.to_string(),
            Backend::Postgres => {
                let mut out = String::with_capacity(sql.len() + 8);
                let mut n = 0;
                for ch in sql.chars() {
                    if ch == '?' {
                        n += 1;
                        out.push('$');
                        out.push_str(&n.to_string());
                    } else {
                        out.push(ch);
                    }
                }
                out
            }
        }
    }

    /// An aggregate joining a text column's values with commas.
    pub fn join_text(self, column: &str) -> String {
        match self {
            Backend::Sqlite => format!("group_concat({column}, ',')"),
            Backend::Postgres => format!("string_agg({column}, ',')"),
        }
    }

    /// An ORDER BY term that sorts text byte-wise on both databases (SQLite's default).
    pub fn text_order(self, column: &str) -> String {
        match self {
            Backend::Sqlite => column.to_string(),
            Backend::Postgres => format!("{column} COLLATE \"C\""),
        }
    }
}

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Float(f64),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_string())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(v.clone())
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Int(i64::from(v))
    }
}
impl From<f64> for Arg {
    fn from(v: f64) -> Self {
        Arg::Float(v)
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::OptText(v)
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::OptInt(v)
    }
}
/// Every typed id binds as its text.
macro_rules! id_args {
    ($($id:ident),+) => {$(
        impl From<&deskd_domain::ids::$id> for Arg {
            fn from(v: &deskd_domain::ids::$id) -> Self {
                Arg::Text(v.as_str().to_string())
            }
        }
        impl From<deskd_domain::ids::$id> for Arg {
            fn from(v: deskd_domain::ids::$id) -> Self {
                Arg::Text(v.into_string())
            }
        }
        impl From<Option<deskd_domain::ids::$id>> for Arg {
            fn from(v: Option<deskd_domain::ids::$id>) -> Self {
                Arg::OptText(v.map(String::from))
            }
        }
        impl From<&Option<deskd_domain::ids::$id>> for Arg {
            fn from(v: &Option<deskd_domain::ids::$id>) -> Self {
                Arg::OptText(v.as_ref().map(|id| id.as_str().to_string()))
            }
        }
    )+};
}
id_args!(
    DeskId, HostId, UserId, ImageId, ClusterId, NetworkId, PoolId, OsFileId, StrategyId, GroupId,
    TaskId
);

impl From<&deskd_domain::query::Value> for Arg {
    fn from(v: &deskd_domain::query::Value) -> Self {
        match v {
            deskd_domain::query::Value::Text(s) => Arg::Text(s.clone()),
            deskd_domain::query::Value::Int(i) => Arg::Int(*i),
        }
    }
}

/// Builds an argument list: `args![a, b, c]`.
#[macro_export]
macro_rules! args {
    ($($v:expr),* $(,)?) => { vec![$($crate::db::Arg::from($v)),*] };
}

fn bind(args: Vec<Arg>) -> Result<AnyArguments<'static>> {
    let mut out = AnyArguments::default();
    for a in args {
        let r = match a {
            Arg::Text(v) => out.add(v),
            Arg::OptText(v) => out.add(v),
            Arg::Int(v) => out.add(v),
            Arg::OptInt(v) => out.add(v),
            Arg::Float(v) => out.add(v),
        };
        r.map_err(|e| Error::internal(format!("bind: {e}")))?;
    }
    Ok(out)
}

/// Maps a database error: a unique violation is [`Error::AlreadyExists`] of the table's kind
/// (the caller names the taken value with [`taken`]), a full disk [`Error::NoSpace`], the rest
/// internal. The database's own text never reaches a message.
pub fn db_err(e: sqlx::Error) -> Error {
    if disk_full(&e) {
        return Error::NoSpace("the database".into());
    }
    if let Some(d) = e.as_database_error() {
        if d.is_unique_violation() {
            // PostgreSQL names the table; SQLite says `UNIQUE constraint failed: table.column`.
            let table = d.table().map(str::to_string).or_else(|| {
                let m = d.message();
                let cols = m.split_once(": ")?.1;
                Some(cols.split('.').next()?.to_string())
            });
            return match table.as_deref().and_then(table_kind) {
                Some(what) => Error::already_exists(what, ""),
                None => Error::internal("database: a unique key of an unknown table was violated"),
            };
        }
    }
    Error::internal(format!("database: {e}"))
}

/// SQLite's `SQLITE_FULL` (13, the low byte of an extended code), PostgreSQL's `disk_full`
/// (53100), or the operating system's `ENOSPC` on the connection's own I/O.
fn disk_full(e: &sqlx::Error) -> bool {
    if let sqlx::Error::Io(io) = e {
        return io.kind() == std::io::ErrorKind::StorageFull;
    }
    let Some(d) = e.as_database_error() else {
        return false;
    };
    if let Some(pg) = d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return pg.code() == "53100";
    }
    d.try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .and_then(sqlx::error::DatabaseError::code)
        .and_then(|c| c.parse::<i64>().ok())
        .is_some_and(|n| n & 0xff == 13)
}

/// The kind of thing a table's rows are (or belong to).
fn table_kind(table: &str) -> Option<Missing> {
    Some(match table {
        "api_accounts" | "api_tokens" => Missing::Account,
        "users" => Missing::User,
        "user_groups" => Missing::UserGroup,
        "desks" | "desk_requests" => Missing::Desk,
        "images" => Missing::Image,
        "os_files" => Missing::OsFile,
        "networks" | "ip_allocations" => Missing::Network,
        "clusters" => Missing::Cluster,
        "hosts" => Missing::Host,
        "storage_pools" => Missing::StoragePool,
        "desk_strategies" => Missing::Strategy,
        "terminals" | "user_terminals" => Missing::Terminal,
        "tasks" | "task_items" | "events" => Missing::Task,
        _ => return None,
    })
}

/// Names the taken value of a unique violation of `what`'s table (see [`db_err`]).
pub fn taken(what: Missing, name: &str) -> impl Fn(Error) -> Error {
    let name = name.to_string();
    move |e| match e {
        Error::AlreadyExists { what: w, .. } if w == what => Error::already_exists(what, &name),
        e => e,
    }
}

/// Opens a write transaction.
pub async fn begin(pool: &AnyPool) -> Result<Tx> {
    pool.begin().await.map_err(db_err)
}

/// `CAST(COALESCE(expr, 0) AS BIGINT)`: a sum that is 0 over no rows and a BIGINT on both
/// databases (PostgreSQL sums BIGINT as NUMERIC).
pub fn sum0(expr: &str) -> String {
    format!("CAST(COALESCE({expr}, 0) AS BIGINT)")
}

/// `?, ?, …`: `n` placeholders.
pub fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Locks that serialize writers across connections and replicas.
#[derive(Debug, Clone, Copy)]
pub enum Lock {
    /// Placements, shape changes, host edits and cluster removal: whatever reads host capacity
    /// and writes it back.
    Placement = 7_390_002,
}

/// Takes `lock` until `tx` ends (a PostgreSQL advisory lock; SQLite has one writer anyway).
pub async fn lock(tx: &mut Tx, backend: Backend, lock: Lock) -> Result<()> {
    if backend == Backend::Postgres {
        exec(
            &mut **tx,
            backend,
            "SELECT pg_advisory_xact_lock(?)",
            vec![Arg::Int(lock as i64)],
        )
        .await?;
    }
    Ok(())
}

/// `INSERT INTO table (cols…) VALUES (?…)`.
pub async fn insert<'c, E>(
    e: E,
    backend: Backend,
    table: &str,
    values: Vec<(&str, Arg)>,
) -> Result<()>
where
    E: Executor<'c, Database = Any>,
{
    insert_with(e, backend, table, values, "").await
}

/// [`insert`] followed by `tail` (an `ON CONFLICT …` clause).
pub async fn insert_with<'c, E>(
    e: E,
    backend: Backend,
    table: &str,
    values: Vec<(&str, Arg)>,
    tail: &str,
) -> Result<()>
where
    E: Executor<'c, Database = Any>,
{
    let cols: Vec<&str> = values.iter().map(|(c, _)| *c).collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({}) {tail}",
        cols.join(", "),
        marks(cols.len())
    );
    exec(
        e,
        backend,
        &sql,
        values.into_iter().map(|(_, v)| v).collect(),
    )
    .await
    .map(drop)
}

/// The `n` column of a `SELECT COUNT(*) AS n …` (0 when there is no row).
pub async fn count<'c, E>(e: E, backend: Backend, sql: &str, args: Vec<Arg>) -> Result<i64>
where
    E: Executor<'c, Database = Any>,
{
    Ok(row(e, backend, sql, args)
        .await?
        .map(|r| r.int("n"))
        .transpose()?
        .unwrap_or(0))
}

/// Runs a statement; returns the number of affected rows.
pub async fn exec<'c, E>(e: E, backend: Backend, sql: &str, args: Vec<Arg>) -> Result<u64>
where
    E: Executor<'c, Database = Any>,
{
    let sql = backend.sql(sql);
    let q = sqlx::query_with(&sql, bind(args)?);
    e.execute(q)
        .await
        .map(|r| r.rows_affected())
        .map_err(db_err)
}

/// The most parameters one multi-row statement binds: well under SQLite's 32,766 and
/// PostgreSQL's 65,535, so each statement stays a modest size.
const MAX_PARAMS: usize = 8_000;

/// Inserts rows of the same columns with multi-row `VALUES` statements: n rows cost
/// ⌈n·width / MAX_PARAMS⌉ statements instead of n. `head` is `INSERT INTO t (a, b, …)`; `tail`
/// (an `ON CONFLICT …` clause, or empty) follows the values.
pub async fn insert_rows(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    head: &str,
    tail: &str,
    rows: Vec<Vec<Arg>>,
) -> Result<()> {
    let Some(width) = rows.first().map(Vec::len).filter(|w| *w > 0) else {
        return Ok(());
    };
    let tuple = format!("({})", marks(width));
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Arg>> = rows.by_ref().take((MAX_PARAMS / width).max(1)).collect();
        if chunk.iter().any(|r| r.len() != width) {
            return Err(Error::internal(format!("{head}: rows of unequal width")));
        }
        let values = vec![tuple.as_str(); chunk.len()].join(", ");
        let sql = format!("{head} VALUES {values} {tail}");
        exec(
            &mut **tx,
            backend,
            &sql,
            chunk.into_iter().flatten().collect(),
        )
        .await?;
    }
    Ok(())
}

/// Runs a query and returns every row.
pub async fn rows<'c, E>(e: E, backend: Backend, sql: &str, args: Vec<Arg>) -> Result<Vec<AnyRow>>
where
    E: Executor<'c, Database = Any>,
{
    let sql = backend.sql(sql);
    let q = sqlx::query_with(&sql, bind(args)?);
    e.fetch_all(q).await.map_err(db_err)
}

/// Runs a query and returns the first row, if any.
pub async fn row<'c, E>(e: E, backend: Backend, sql: &str, args: Vec<Arg>) -> Result<Option<AnyRow>>
where
    E: Executor<'c, Database = Any>,
{
    let sql = backend.sql(sql);
    let q = sqlx::query_with(&sql, bind(args)?);
    e.fetch_optional(q).await.map_err(db_err)
}

/// The values of `column` over `from`, joined with commas by the database: one row instead of
/// one per value (for values that never contain a comma: desk names, IP addresses).
pub async fn joined(
    tx: &mut Tx,
    b: Backend,
    column: &str,
    from: &str,
    a: Vec<Arg>,
) -> Result<String> {
    let sql = format!("SELECT {} AS v {from}", b.join_text(column));
    Ok(row(&mut **tx, b, &sql, a)
        .await?
        .map(|r| r.opt_text("v"))
        .transpose()?
        .flatten()
        .unwrap_or_default())
}

/// Typed column access that turns a decoding failure into an internal error naming the column.
pub trait Col {
    fn text(&self, col: &str) -> Result<String>;
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn int(&self, col: &str) -> Result<i64>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    fn float(&self, col: &str) -> Result<f64>;
    /// A text column as a typed id.
    fn id<T: From<String>>(&self, col: &str) -> Result<T> {
        self.text(col).map(T::from)
    }
    /// A nullable text column as a typed id.
    fn opt_id<T: From<String>>(&self, col: &str) -> Result<Option<T>> {
        Ok(self.opt_text(col)?.map(T::from))
    }
    fn flag(&self, col: &str) -> Result<bool> {
        Ok(self.int(col)? != 0)
    }
    fn json(&self, col: &str) -> Result<Option<serde_json::Value>> {
        match self.opt_text(col)? {
            None => Ok(None),
            Some(s) => serde_json::from_str(&s)
                .map(Some)
                .map_err(|e| Error::internal(format!("column {col}: {e}"))),
        }
    }
}

impl Col for AnyRow {
    fn text(&self, col: &str) -> Result<String> {
        get(self, col)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        get(self, col)
    }
    fn int(&self, col: &str) -> Result<i64> {
        get(self, col)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        get(self, col)
    }
    fn float(&self, col: &str) -> Result<f64> {
        get(self, col)
    }
}

fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    use sqlx::Row;
    row.try_get::<T, _>(col)
        .map_err(|e| Error::internal(format!("column {col}: {e}")))
}

/// Opens a pool on `url` with the backend's connection settings.
pub async fn connect(url: &str) -> Result<(AnyPool, Backend)> {
    sqlx::any::install_default_drivers();
    let backend = Backend::from_url(url)?;
    let opts = match backend {
        // One connection: SQLite has a single writer, and one connection means no SQLITE_BUSY
        // on transaction upgrades. Every statement deskd runs is short.
        Backend::Sqlite => AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = NORMAL",
                        "PRAGMA foreign_keys = ON",
                        "PRAGMA busy_timeout = 5000",
                    ] {
                        conn.execute(pragma).await?;
                    }
                    Ok(())
                })
            }),
        Backend::Postgres => AnyPoolOptions::new().max_connections(10),
    };
    let pool = opts
        .after_release(|conn, _| Box::pin(still_usable(conn)))
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(|e| Error::internal(format!("cannot open database {}: {e}", redact(url))))?;
    Ok((pool, backend))
}

/// Whether a connection handed back to the pool may be used again: not when it is still inside
/// a transaction. On SQLite a failed write (`SQLITE_FULL` on a full disk) can roll the whole
/// transaction back inside SQLite; the driver's `ROLLBACK` then fails and it keeps counting the
/// transaction as open, so the next transaction on that connection became a savepoint of a
/// transaction that never committed: later writes were answered as done and never reached the
/// file. Such a connection is closed; the pool opens a fresh one.
async fn still_usable(conn: &mut sqlx::AnyConnection) -> Result<bool, sqlx::Error> {
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    // a rollback queued by a dropped transaction runs before the ping's answer
    if conn.ping().await.is_err() {
        return Ok(false);
    }
    let usable = !conn.is_in_transaction();
    if !usable {
        tracing::warn!("closing a database connection left inside a failed transaction");
    }
    Ok(usable)
}

/// Read-only SQLite connections beside the single writer (WAL lets readers run concurrently
/// with it); created after migrations, so the database is already in WAL mode.
pub async fn connect_readers(url: &str) -> Result<AnyPool> {
    connect_read_only(url, 4).await
}

/// One connection of its own for reading the desk change feed: the order index reads it before
/// pages are served, and must not queue behind the pages for a connection.
pub async fn connect_feed(url: &str, backend: Backend) -> Result<AnyPool> {
    match backend {
        Backend::Sqlite => connect_read_only(url, 1).await,
        Backend::Postgres => AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| Error::internal(format!("cannot open database {}: {e}", redact(url)))),
    }
}

async fn connect_read_only(url: &str, n: u32) -> Result<AnyPool> {
    AnyPoolOptions::new()
        .max_connections(n)
        .after_connect(|conn, _| {
            Box::pin(async move {
                for pragma in ["PRAGMA query_only = ON", "PRAGMA busy_timeout = 5000"] {
                    conn.execute(pragma).await?;
                }
                Ok(())
            })
        })
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(|e| Error::internal(format!("cannot open database {}: {e}", redact(url))))
}

/// The URL without a password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            Backend::Postgres.sql("a = ? AND b IN (?, ?)"),
            "a = $1 AND b IN ($2, $3)"
        );
        assert_eq!(Backend::Sqlite.sql("a = ?"), "a = ?");
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:pw@h:5432/db"),
            "postgres://***@h:5432/db"
        );
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
