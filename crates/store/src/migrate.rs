//! Versioned migrations. Each migration runs once, in its own transaction, and is recorded in
//! `schema_migrations`; on PostgreSQL an advisory lock keeps replicas from racing.

use deskd_domain::error::{Error, Result};
use sqlx::AnyPool;

use crate::args;
use crate::db::{exec, row, Backend, Col};

/// One migration: portable SQL plus optional statements for one backend only.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Every migration, in order. Never edit a released one: add the next.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/0001_init.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 2,
        name: "desks",
        sql: include_str!("../migrations/0002_desks.sql"),
        sqlite: include_str!("../migrations/0002_desks.sqlite.sql"),
        postgres: include_str!("../migrations/0002_desks.postgres.sql"),
    },
    Migration {
        version: 3,
        name: "users",
        sql: include_str!("../migrations/0003_users.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 4,
        name: "task_items_open",
        sql: include_str!("../migrations/0004_task_items_open.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 5,
        name: "inventory",
        sql: include_str!("../migrations/0005_inventory.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 6,
        name: "host_driver",
        sql: include_str!("../migrations/0006_host_driver.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 7,
        name: "host_exporter",
        sql: include_str!("../migrations/0007_host_exporter.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 10,
        name: "host_uri",
        sql: include_str!("../migrations/0010_host_uri.sql"),
        sqlite: "",
        postgres: "",
    },
];

/// Applies the migrations the database lacks; returns how many ran.
pub async fn run(pool: &AnyPool, backend: Backend) -> Result<usize> {
    exec(
        pool,
        backend,
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        vec![],
    )
    .await?;
    let mut applied = 0;
    for m in MIGRATIONS {
        let (version, name) = (&m.version, &m.name);
        let own = if backend == Backend::Postgres {
            m.postgres
        } else {
            m.sqlite
        };
        let mut tx = pool.begin().await.map_err(crate::db::db_err)?;
        if backend == Backend::Postgres {
            exec(
                &mut *tx,
                backend,
                "SELECT pg_advisory_xact_lock(7390001)",
                vec![],
            )
            .await?;
        }
        let done = row(
            &mut *tx,
            backend,
            "SELECT version FROM schema_migrations WHERE version = ?",
            args![*version],
        )
        .await?
        .is_some();
        if done {
            continue;
        }
        for statement in statements(m.sql).into_iter().chain(statements(own)) {
            exec(&mut *tx, backend, &statement, vec![])
                .await
                .map_err(|e| Error::internal(format!("migration {version} ({name}): {e}")))?;
        }
        exec(
            &mut *tx,
            backend,
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            args![*version, *name, deskd_domain::model::now_ms()],
        )
        .await?;
        tx.commit().await.map_err(crate::db::db_err)?;
        tracing::info!(version, name, "applied migration");
        applied += 1;
    }
    Ok(applied)
}

/// The version the newest migration of this build brings the schema to.
pub fn latest_version() -> i64 {
    MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The newest schema version in the database.
pub async fn current_version(pool: &AnyPool, backend: Backend) -> Result<i64> {
    let r = row(
        pool,
        backend,
        "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) AS v FROM schema_migrations",
        vec![],
    )
    .await?;
    r.map(|r| r.int("v")).transpose().map(|v| v.unwrap_or(0))
}

/// Splits a migration file into statements, dropping comments.
fn statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_statements() {
        let s = super::statements("-- c\nCREATE TABLE a (x TEXT);\n\nCREATE INDEX i ON a(x);\n");
        assert_eq!(s, vec!["CREATE TABLE a (x TEXT)", "CREATE INDEX i ON a(x)"]);
    }
}
