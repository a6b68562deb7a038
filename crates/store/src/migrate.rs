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
        version: 8,
        name: "desk_scale",
        sql: include_str!("../migrations/0008_desk_scale.sql"),
        sqlite: include_str!("../migrations/0008_desk_scale.sqlite.sql"),
        postgres: include_str!("../migrations/0008_desk_scale.postgres.sql"),
    },
    Migration {
        version: 10,
        name: "host_uri",
        sql: include_str!("../migrations/0010_host_uri.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 13,
        name: "desk_changes",
        sql: "",
        sqlite: include_str!("../migrations/0013_desk_changes.sqlite.sql"),
        postgres: include_str!("../migrations/0013_desk_changes.postgres.sql"),
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

/// Splits a migration file into statements, dropping comments. A statement ends at a `;`,
/// except inside a trigger body (from a line `BEGIN` to a line `END;`) or a `$$`-quoted
/// function body, which end at the `;` after them.
fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let (mut dollar, mut body) = (false, false);
    let mut finish = |current: &mut String| {
        let s = current.trim();
        if !s.is_empty() {
            out.push(s.to_string());
        }
        current.clear();
    };
    for line in sql.lines().filter(|l| !l.trim_start().starts_with("--")) {
        let trimmed = line.trim();
        if line.matches("$$").count() % 2 == 1 {
            dollar = !dollar;
        } else if !dollar && trimmed.eq_ignore_ascii_case("BEGIN") {
            body = true;
        }
        if dollar || body {
            current.push_str(line);
            current.push('\n');
            if body && trimmed.to_ascii_uppercase().starts_with("END") && trimmed.ends_with(';') {
                body = false;
                current.truncate(current.trim_end().len() - 1);
                finish(&mut current);
            }
            continue;
        }
        let mut parts = line.split(';').peekable();
        while let Some(part) = parts.next() {
            current.push_str(part);
            if parts.peek().is_some() {
                finish(&mut current);
            } else {
                current.push('\n');
            }
        }
    }
    finish(&mut current);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_statements() {
        let s = super::statements("-- c\nCREATE TABLE a (x TEXT);\n\nCREATE INDEX i ON a(x);\n");
        assert_eq!(s, vec!["CREATE TABLE a (x TEXT)", "CREATE INDEX i ON a(x)"]);
    }

    #[test]
    fn keeps_trigger_and_function_bodies_whole() {
        let sql = "CREATE TRIGGER t AFTER INSERT ON a\nBEGIN\n  UPDATE b SET n = n + 1;\n  DELETE FROM c;\nEND;\n\
                   CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN NULL;\nEND\n$$;\n\
                   CREATE INDEX i ON a(x);";
        let s = super::statements(sql);
        assert_eq!(s.len(), 3, "{s:?}");
        assert!(s[0].ends_with("DELETE FROM c;\nEND"), "{}", s[0]);
        assert!(s[1].ends_with("END\n$$"), "{}", s[1]);
        assert_eq!(s[2], "CREATE INDEX i ON a(x)");
    }
}
