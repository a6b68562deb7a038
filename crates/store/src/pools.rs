//! Storage pools (6.8, 6.10, D10), each with the bytes the inventory keeps on it.

use async_trait::async_trait;
use deskd_domain::enums::{PoolHealth, RedundancyStrategy};
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::ids::{ClusterId, PoolId};
use deskd_domain::model::StoragePool;
use deskd_domain::query::{ListQuery, Page};
use deskd_domain::store::{PoolRow, PoolStore};
use sqlx::any::AnyRow;

use crate::args;
use crate::clusters;
use crate::db::{
    begin, db_err, exec, insert, marks, row, rows, sum0, taken, Arg, Backend, Col, Tx,
};
use crate::deletion::{self, Referrer};
use crate::{paging, SqlStore};

const COLS: &str = "p.id, p.cluster_id, p.name, p.directory, p.capacity_gb, \
    p.redundancy_strategy, p.health, p.created_at";
const FROM: &str = "FROM storage_pools p";
const GIB: i64 = 1 << 30;

/// A pool's columns and the bytes the inventory keeps on it: its OS files, and the disks of
/// the desks whose image is built on one of them.
fn cols() -> String {
    format!(
        "{COLS}, {} + {} * {GIB} AS inventory_bytes",
        sum0("(SELECT SUM(f.size_bytes) FROM os_files f WHERE f.storage_pool_id = p.id)"),
        sum0(
            "(SELECT SUM(d.system_disk_gb + d.data_disk_gb) FROM desks d \
             JOIN images i ON i.id = d.image_id JOIN os_files f ON f.id = i.os_file_id \
             WHERE f.storage_pool_id = p.id)"
        ),
    )
}

fn pool_row(r: &AnyRow) -> Result<PoolRow> {
    Ok(PoolRow {
        pool: StoragePool {
            id: r.id("id")?,
            cluster_id: r.id("cluster_id")?,
            name: r.text("name")?,
            directory: r.opt_text("directory")?,
            capacity_gb: r.int("capacity_gb")?,
            redundancy_strategy: RedundancyStrategy::parse(
                &r.text("redundancy_strategy")?,
                "storage_pools.redundancy_strategy",
            )?,
            health: PoolHealth::parse(&r.text("health")?, "storage_pools.health")?,
            created_at: r.int("created_at")?,
        },
        inventory_bytes: r.int("inventory_bytes")?,
    })
}

/// The column values of a storage pool row (create and the inventory load share them).
pub(crate) fn pool_values(p: &StoragePool) -> Vec<(&'static str, Arg)> {
    vec![
        ("id", p.id.as_str().into()),
        ("cluster_id", p.cluster_id.as_str().into()),
        ("name", p.name.as_str().into()),
        ("directory", p.directory.clone().into()),
        ("capacity_gb", p.capacity_gb.into()),
        ("redundancy_strategy", p.redundancy_strategy.as_str().into()),
        ("health", p.health.as_str().into()),
        ("created_at", p.created_at.into()),
    ]
}

/// The pool must exist (something is about to be kept on it).
pub(crate) async fn must_exist(tx: &mut Tx, b: Backend, id: &str) -> Result<()> {
    let sql = "SELECT id FROM storage_pools WHERE id = ?";
    match row(&mut **tx, b, sql, args![id]).await? {
        Some(_) => Ok(()),
        None => Err(Error::not_found(Missing::StoragePool, id)),
    }
}

#[async_trait]
impl PoolStore for SqlStore {
    /// 6.10.
    async fn list_pools(&self, q: &ListQuery) -> Result<Page<PoolRow>> {
        paging::page(&self.read, self.backend, q, &cols(), FROM, FROM, pool_row).await
    }

    /// 6.8: the pools of one page of clusters.
    async fn pools_of_clusters(&self, cluster_ids: &[ClusterId]) -> Result<Vec<PoolRow>> {
        if cluster_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {} {FROM} WHERE p.cluster_id IN ({}) ORDER BY p.created_at, p.id",
            cols(),
            marks(cluster_ids.len())
        );
        let a = cluster_ids.iter().map(Arg::from).collect();
        rows(&self.read, self.backend, &sql, a)
            .await?
            .iter()
            .map(pool_row)
            .collect()
    }

    async fn get_pool(&self, id: &PoolId) -> Result<Option<StoragePool>> {
        let sql = format!("SELECT {} {FROM} WHERE p.id = ?", cols());
        row(&self.read, self.backend, &sql, args![id])
            .await?
            .map(|r| pool_row(&r).map(|p| p.pool))
            .transpose()
    }

    async fn create_pool(&self, p: &StoragePool) -> Result<()> {
        let mut tx = begin(&self.pool).await?;
        clusters::must_accept_members(&mut tx, self.backend, &p.cluster_id).await?;
        insert(&mut *tx, self.backend, "storage_pools", pool_values(p))
            .await
            .map_err(taken(Missing::StoragePool, &p.name))?;
        tx.commit().await.map_err(db_err)
    }

    async fn update_pool(&self, p: &StoragePool) -> Result<bool> {
        let n = exec(
            &self.pool,
            self.backend,
            "UPDATE storage_pools SET name = ?, capacity_gb = ?, redundancy_strategy = ?, health = ? \
             WHERE id = ?",
            args![
                &p.name,
                p.capacity_gb,
                p.redundancy_strategy.as_str(),
                p.health.as_str(),
                &p.id
            ],
        )
        .await
        .map_err(taken(Missing::StoragePool, &p.name))?;
        Ok(n == 1)
    }

    async fn delete_pool(&self, id: &PoolId) -> Result<bool> {
        let files = Referrer {
            table: "os_files",
            column: "storage_pool_id",
            noun: "OS files",
        };
        let table = ("storage_pools", Missing::StoragePool);
        deletion::delete_unused(&self.pool, self.backend, table, &[files], id).await
    }
}
