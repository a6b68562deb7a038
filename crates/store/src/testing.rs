//! Test databases for deskd's own test-suites: a fresh SQLite file, and a fresh schema on the
//! PostgreSQL server named by `DESKD_TEST_PG_URL` (default `postgres://127.0.0.1:5432/test`).
//!
//! When PostgreSQL cannot be reached the PostgreSQL half of a suite is skipped with a message on
//! a user's machine, and fails in CI (`CI` set), where the server must be there.

use std::path::PathBuf;

use sqlx::any::AnyPoolOptions;

/// The PostgreSQL server the suites use.
pub fn pg_base_url() -> String {
    std::env::var("DESKD_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".to_string())
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A URL of a new, empty SQLite database in a new temporary directory.
pub fn sqlite_url() -> (String, PathBuf) {
    let dir = std::env::temp_dir().join(unique("deskd_test"));
    let _ = std::fs::create_dir_all(&dir);
    (
        format!("sqlite://{}?mode=rwc", dir.join("deskd.db").display()),
        dir,
    )
}

/// A URL of a new, empty schema on the test PostgreSQL server, or `None` (with the reason
/// printed) when the server is unreachable outside CI.
pub async fn postgres_url() -> Option<String> {
    sqlx::any::install_default_drivers();
    let base = pg_base_url();
    let pool = match AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(&base)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!("CI needs PostgreSQL at {base}: {e}");
            }
            eprintln!("SKIPPED the PostgreSQL half: cannot reach {base}: {e}");
            return None;
        }
    };
    let schema = unique("t");
    if let Err(e) = sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
    {
        panic!("cannot create schema on {base}: {e}");
    }
    pool.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

/// The URLs of every backend the suite should run on: SQLite always, PostgreSQL when reachable.
pub async fn backend_urls() -> Vec<String> {
    let mut urls = vec![sqlite_url().0];
    if let Some(pg) = postgres_url().await {
        urls.push(pg);
    }
    urls
}
