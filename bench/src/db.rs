//! The databases a row runs on: a SQLite file in the row's data directory, or a fresh schema on
//! the PostgreSQL server the test-suites use (dropped again when the row is done).

use std::fmt;
use std::path::Path;

use anyhow::Context;
use sqlx::any::AnyPoolOptions;

/// Which database backs a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// A row's database.
pub struct Database {
    pub url: String,
    /// The PostgreSQL schema to drop afterwards.
    schema: Option<String>,
}

impl Database {
    /// A new, empty database; `None` when PostgreSQL is unreachable (the reason is on stderr).
    pub async fn create(backend: Backend, data_dir: &Path) -> anyhow::Result<Option<Database>> {
        match backend {
            Backend::Sqlite => Ok(Some(Database {
                url: deskd_server::config::default_database_url(data_dir),
                schema: None,
            })),
            Backend::Postgres => {
                Ok(deskd_store::testing::postgres_url()
                    .await
                    .map(|url| Database {
                        schema: schema_of(&url),
                        url,
                    }))
            }
        }
    }

    /// Drops the PostgreSQL schema, if any; a failure is only reported.
    pub async fn drop_schema(self) {
        let Some(schema) = self.schema else { return };
        if let Err(e) = drop_pg_schema(&schema).await {
            eprintln!("warning: could not drop PostgreSQL schema {schema}: {e:#}");
        }
    }
}

/// The schema named by the `search_path` option of a test URL.
fn schema_of(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("search_path%3D")?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

async fn drop_pg_schema(schema: &str) -> anyhow::Result<()> {
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&deskd_store::testing::pg_base_url())
        .await
        .context("connect")?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_schema() {
        let url = "postgres://127.0.0.1:5432/test?options=-c%20search_path%3Dt_abc123";
        assert_eq!(schema_of(url).as_deref(), Some("t_abc123"));
        assert_eq!(schema_of("postgres://x/test"), None);
    }
}
