//! Compute clusters (6.5, 6.9, D10): the list, the compute summary summed in SQL from hosts and
//! desks, the guard that keeps new rows out of a DELETING cluster, and the two-phase delete
//! that takes the cluster's empty hosts, networks and pools with it.

use async_trait::async_trait;
use deskd_domain::enums::ClusterState;
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::ids::ClusterId;
use deskd_domain::lifecycle::ClusterAction;
use deskd_domain::model::Cluster;
use deskd_domain::query::{ListQuery, Page};
use deskd_domain::store::{ClusterStore, ComputeRow};
use sqlx::any::AnyRow;

use crate::args;
use crate::db::{count, exec, insert, row, sum0, taken, Arg, Backend, Col, Tx};
use crate::deletion::{self, Phased, Referrer};
use crate::{paging, SqlStore};

const COLS: &str = "c.id, c.name, c.state, c.description, c.created_at, c.updated_at";
const FROM: &str = "FROM clusters c";

fn cluster_row(r: &AnyRow) -> Result<Cluster> {
    Ok(Cluster {
        id: r.id("id")?,
        name: r.text("name")?,
        state: ClusterState::parse(&r.text("state")?, "clusters.state")?,
        description: r.text("description")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

/// The column values of a cluster row (create and the inventory load share them).
pub(crate) fn cluster_values(c: &Cluster) -> Vec<(&'static str, Arg)> {
    vec![
        ("id", c.id.as_str().into()),
        ("name", c.name.as_str().into()),
        ("state", c.state.as_str().into()),
        ("description", c.description.as_str().into()),
        ("created_at", c.created_at.into()),
        ("updated_at", c.updated_at.into()),
    ]
}

/// The cluster must exist and accept new members (not DELETING: nothing new goes into a
/// cluster being removed).
pub(crate) async fn must_accept_members(tx: &mut Tx, b: Backend, id: &str) -> Result<()> {
    let sql = format!("SELECT {COLS} {FROM} WHERE c.id = ?");
    let Some(r) = row(&mut **tx, b, &sql, args![id]).await? else {
        return Err(Error::not_found(Missing::Cluster, id));
    };
    let c = cluster_row(&r)?;
    if !ClusterAction::Join.rule().accepts(c.state) {
        return Err(Error::conflict(
            Missing::Cluster,
            c.name,
            format!("is {}", c.state),
        ));
    }
    Ok(())
}

#[async_trait]
impl ClusterStore for SqlStore {
    async fn cluster_exists(&self, id: &ClusterId) -> Result<bool> {
        let sql = "SELECT id FROM clusters WHERE id = ?";
        Ok(row(&self.read, self.backend, sql, args![id])
            .await?
            .is_some())
    }

    /// 6.9.
    async fn list_clusters(&self, q: &ListQuery) -> Result<Page<Cluster>> {
        paging::page(&self.read, self.backend, q, COLS, FROM, FROM, cluster_row).await
    }

    async fn get_cluster(&self, id: &ClusterId) -> Result<Option<Cluster>> {
        let sql = format!("SELECT {COLS} {FROM} WHERE c.id = ?");
        row(&self.read, self.backend, &sql, args![id])
            .await?
            .map(|r| cluster_row(&r))
            .transpose()
    }

    /// 6.5: per cluster, its hosts' totals and the shape of the desks placed on them.
    async fn compute_summary(&self, q: &ListQuery) -> Result<Page<ComputeRow>> {
        let on_hosts = |expr: &str| {
            format!(
                "(SELECT {} FROM hosts h WHERE h.cluster_id = c.id)",
                sum0(expr)
            )
        };
        let on_desks = |expr: &str| {
            format!(
                "(SELECT {} FROM desks d JOIN hosts h ON h.id = d.host_id WHERE h.cluster_id = c.id)",
                sum0(expr)
            )
        };
        let cols = format!(
            "{COLS}, {} AS host_num, {} AS total_cpu, {} AS total_mem, {} AS desk_num, \
             {} AS alloc_cpu, {} AS alloc_mem",
            on_hosts("COUNT(*)"),
            on_hosts("SUM(h.cpu_cores)"),
            on_hosts("SUM(h.memory_gb)"),
            on_desks("COUNT(*)"),
            on_desks("SUM(d.cpu_cores)"),
            on_desks("SUM(d.memory_gb)"),
        );
        paging::page(&self.read, self.backend, q, &cols, FROM, FROM, |r| {
            Ok(ComputeRow {
                cluster: cluster_row(r)?,
                host_num: r.int("host_num")?,
                total_cpu_cores: r.int("total_cpu")?,
                total_memory_gb: r.int("total_mem")?,
                desk_num: r.int("desk_num")?,
                allocated_cpu_cores: r.int("alloc_cpu")?,
                allocated_memory_gb: r.int("alloc_mem")?,
            })
        })
        .await
    }

    async fn create_cluster(&self, c: &Cluster) -> Result<()> {
        insert(&self.pool, self.backend, "clusters", cluster_values(c))
            .await
            .map_err(taken(Missing::Cluster, &c.name))
    }

    async fn update_cluster(&self, c: &Cluster) -> Result<bool> {
        let n = exec(
            &self.pool,
            self.backend,
            "UPDATE clusters SET name = ?, description = ?, state = ?, updated_at = ? WHERE id = ?",
            args![
                &c.name,
                &c.description,
                c.state.as_str(),
                c.updated_at,
                &c.id
            ],
        )
        .await
        .map_err(taken(Missing::Cluster, &c.name));
        // A desk record shows its cluster's name.
        self.after_desk_write(n.map(|n| n == 1))
    }

    async fn begin_cluster_delete(&self, id: &ClusterId) -> Result<bool> {
        deletion::begin_delete::<ClusterRows>(&self.pool, self.backend, id).await
    }

    async fn remove_cluster(&self, id: &ClusterId) -> Result<bool> {
        deletion::remove::<ClusterRows>(&self.pool, self.backend, id).await
    }
}

/// The two-phase delete of a cluster.
struct ClusterRows;

impl Phased for ClusterRows {
    type State = ClusterState;
    const TABLE: &'static str = "clusters";
    const WHAT: Missing = Missing::Cluster;
    const STAMPED: bool = true;
    const PLACEMENT: bool = true;

    fn parse(state: &str) -> Result<ClusterState> {
        Ok(ClusterState::parse(state, "clusters.state")?)
    }

    /// Desks, images on its networks and OS files in its pools keep a cluster; its empty
    /// hosts, networks and pools go with it.
    async fn blockers(tx: &mut Tx, b: Backend, id: &str, name: &str) -> Result<()> {
        let desks = Referrer {
            table: "desks",
            column: "cluster_id",
            noun: "desks",
        };
        deletion::refuse_if_used(tx, b, (Missing::Cluster, name), &[desks], id).await?;
        let images = count(
            &mut **tx,
            b,
            "SELECT COUNT(*) AS n FROM images WHERE network_id IN (SELECT id FROM networks WHERE cluster_id = ?)",
            args![id],
        )
        .await?;
        let files = count(
            &mut **tx,
            b,
            "SELECT COUNT(*) AS n FROM os_files WHERE storage_pool_id IN (SELECT id FROM storage_pools WHERE cluster_id = ?)",
            args![id],
        )
        .await?;
        if images + files > 0 {
            let reason = format!(
                "is still used by {images} images on its networks and {files} OS files in its pools"
            );
            return Err(Error::conflict(Missing::Cluster, name, reason));
        }
        Ok(())
    }

    async fn remove_rows(tx: &mut Tx, b: Backend, id: &str) -> Result<()> {
        for sql in [
            "DELETE FROM networks WHERE cluster_id = ?",
            "DELETE FROM storage_pools WHERE cluster_id = ?",
            "DELETE FROM hosts WHERE cluster_id = ?",
            "DELETE FROM clusters WHERE id = ?",
        ] {
            exec(&mut **tx, b, sql, args![id]).await?;
        }
        Ok(())
    }
}
