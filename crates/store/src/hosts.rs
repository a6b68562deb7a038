//! Hosts (6.7, D10) and the capacity counters on their rows: the scheduler's view of each host,
//! changed in the same transaction as the desk rows that use the capacity, so they never drift.

use async_trait::async_trait;
use deskd_domain::enums::{HostDriver, HostState};
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::ids::HostId;
use deskd_domain::model::Host;
use deskd_domain::query::{ListQuery, Page};
use deskd_domain::scheduler::{Demand, HostLoad};
use deskd_domain::store::{HostRow, HostStore};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::args;
use crate::db::{begin, db_err, exec, insert, lock, row, rows, taken, Arg, Backend, Col, Lock, Tx};
use crate::deletion::{self, Referrer};
use crate::{clusters, paging, SqlStore};

const COLS: &str = "h.id, h.cluster_id, h.name, h.ip, h.cpu_cores, h.memory_gb, h.storage_gb, \
    h.cpu_overcommit, h.memory_overcommit, h.state, h.driver, h.created_at, h.exporter_url, h.uri, \
    h.alloc_vcpus, h.alloc_memory_gb, h.alloc_storage_gb";
const FROM: &str = "FROM hosts h";

fn host_row(r: &AnyRow) -> Result<Host> {
    Ok(Host {
        id: r.id("id")?,
        cluster_id: r.id("cluster_id")?,
        name: r.text("name")?,
        ip: r.text("ip")?,
        cpu_cores: r.int("cpu_cores")?,
        memory_gb: r.int("memory_gb")?,
        storage_gb: r.int("storage_gb")?,
        cpu_overcommit: r.float("cpu_overcommit")?,
        memory_overcommit: r.float("memory_overcommit")?,
        state: HostState::parse(&r.text("state")?, "hosts.state")?,
        driver: HostDriver::parse(&r.text("driver")?, "hosts.driver")?,
        created_at: r.int("created_at")?,
        exporter_url: r.opt_text("exporter_url")?,
        uri: r.opt_text("uri")?,
    })
}

/// A host row with what its desks were promised.
fn load_row(r: &AnyRow) -> Result<HostLoad> {
    Ok(HostLoad::from_host(
        &host_row(r)?,
        r.int("alloc_vcpus")?,
        r.int("alloc_memory_gb")?,
        r.int("alloc_storage_gb")?,
    ))
}

/// The column values of a host row (create and the inventory load share them).
pub(crate) fn host_values(h: &Host) -> Vec<(&'static str, Arg)> {
    vec![
        ("id", h.id.as_str().into()),
        ("cluster_id", h.cluster_id.as_str().into()),
        ("name", h.name.as_str().into()),
        ("ip", h.ip.as_str().into()),
        ("cpu_cores", h.cpu_cores.into()),
        ("memory_gb", h.memory_gb.into()),
        ("storage_gb", h.storage_gb.into()),
        ("cpu_overcommit", h.cpu_overcommit.into()),
        ("memory_overcommit", h.memory_overcommit.into()),
        ("state", h.state.as_str().into()),
        ("driver", h.driver.as_str().into()),
        ("created_at", h.created_at.into()),
        ("exporter_url", h.exporter_url.clone().into()),
        ("uri", h.uri.clone().into()),
    ]
}

/// The cluster's hosts with their allocation counters, for the scheduler.
pub(crate) async fn loads<'c, E>(e: E, b: Backend, cluster_id: &str) -> Result<Vec<HostLoad>>
where
    E: Executor<'c, Database = Any>,
{
    let sql = format!("SELECT {COLS} {FROM} WHERE h.cluster_id = ? ORDER BY h.name, h.id");
    rows(e, b, &sql, args![cluster_id])
        .await?
        .iter()
        .map(load_row)
        .collect()
}

/// Adds (`sign` 1) or removes (`sign` -1) a demand from a host's counters.
pub(crate) async fn add_load(
    tx: &mut Tx,
    b: Backend,
    host_id: &str,
    d: &Demand,
    sign: i64,
) -> Result<()> {
    exec(
        &mut **tx,
        b,
        "UPDATE hosts SET alloc_vcpus = alloc_vcpus + ?, alloc_memory_gb = alloc_memory_gb + ?, \
         alloc_storage_gb = alloc_storage_gb + ? WHERE id = ?",
        args![
            sign * d.cpu_cores,
            sign * d.memory_gb,
            sign * d.storage_gb,
            host_id
        ],
    )
    .await
    .map(drop)
}

/// Recomputes every host's counters from the desks (after a bulk load).
pub(crate) async fn recount(tx: &mut Tx, b: Backend) -> Result<()> {
    exec(
        &mut **tx,
        b,
        "UPDATE hosts SET \
         alloc_vcpus = (SELECT COALESCE(SUM(d.cpu_cores), 0) FROM desks d WHERE d.host_id = hosts.id), \
         alloc_memory_gb = (SELECT COALESCE(SUM(d.memory_gb), 0) FROM desks d WHERE d.host_id = hosts.id), \
         alloc_storage_gb = (SELECT COALESCE(SUM(d.system_disk_gb + d.data_disk_gb), 0) FROM desks d WHERE d.host_id = hosts.id)",
        vec![],
    )
    .await
    .map(drop)
}

#[async_trait]
impl HostStore for SqlStore {
    async fn list_hosts(&self) -> Result<Vec<Host>> {
        let sql = format!("SELECT {COLS} {FROM} ORDER BY h.created_at, h.id");
        rows(&self.read, self.backend, &sql, vec![])
            .await?
            .iter()
            .map(host_row)
            .collect()
    }

    /// Hosts with what their desks were promised.
    async fn list_host_rows(&self, q: &ListQuery) -> Result<Page<HostRow>> {
        let cols =
            format!("{COLS}, (SELECT COUNT(*) FROM desks d WHERE d.host_id = h.id) AS desk_num");
        paging::page(&self.read, self.backend, q, &cols, FROM, FROM, |r| {
            Ok(HostRow {
                host: host_row(r)?,
                allocated_cpu_cores: r.int("alloc_vcpus")?,
                allocated_memory_gb: r.int("alloc_memory_gb")?,
                desk_num: r.int("desk_num")?,
            })
        })
        .await
    }

    async fn get_host(&self, id: &HostId) -> Result<Option<Host>> {
        let sql = format!("SELECT {COLS} {FROM} WHERE h.id = ?");
        row(&self.read, self.backend, &sql, args![id])
            .await?
            .map(|r| host_row(&r))
            .transpose()
    }

    async fn create_host(&self, h: &Host) -> Result<()> {
        let mut tx = begin(&self.pool).await?;
        clusters::must_accept_members(&mut tx, self.backend, &h.cluster_id).await?;
        insert(&mut *tx, self.backend, "hosts", host_values(h))
            .await
            .map_err(taken(Missing::Host, &h.name))?;
        tx.commit().await.map_err(db_err)
    }

    /// Rewrites a host unless its new limits fall below what its desks were promised; the check
    /// and the write hold the placement lock, so a concurrent placement cannot slip between.
    async fn update_host(&self, h: &Host) -> Result<bool> {
        let updated = self.update_host_checked(h).await;
        // A desk record shows its host's name.
        self.after_desk_write(updated)
    }

    async fn delete_host(&self, id: &HostId) -> Result<bool> {
        let desks = Referrer {
            table: "desks",
            column: "host_id",
            noun: "desks",
        };
        let table = ("hosts", Missing::Host);
        deletion::delete_unused(&self.pool, self.backend, table, &[desks], id).await
    }
}

impl SqlStore {
    async fn update_host_checked(&self, h: &Host) -> Result<bool> {
        let b = self.backend;
        let mut tx = begin(&self.pool).await?;
        lock(&mut tx, b, Lock::Placement).await?;
        let sql = format!("SELECT {COLS} {FROM} WHERE h.id = ?");
        let Some(r) = row(&mut *tx, b, &sql, args![&h.id]).await? else {
            return Ok(false);
        };
        let old = load_row(&r)?;
        let load = HostLoad::from_host(
            h,
            old.alloc_vcpus,
            old.alloc_memory_gb,
            old.alloc_storage_gb,
        );
        let short = [
            ("CPU", load.alloc_vcpus, load.cpu_limit()),
            ("memory", load.alloc_memory_gb, load.memory_limit()),
            ("storage", load.alloc_storage_gb, load.storage_limit()),
        ]
        .into_iter()
        .filter(|(_, used, limit)| used > limit)
        .map(|(what, used, limit)| format!("{what} {used} promised > {limit} allowed"))
        .collect::<Vec<_>>();
        if !short.is_empty() {
            return Err(Error::Refused(format!(
                "host `{}` would hold less than its desks were promised: {}",
                h.name,
                short.join(", ")
            )));
        }
        exec(
            &mut *tx,
            b,
            "UPDATE hosts SET name = ?, ip = ?, cpu_cores = ?, memory_gb = ?, storage_gb = ?, \
             cpu_overcommit = ?, memory_overcommit = ?, state = ?, exporter_url = ?, uri = ? WHERE id = ?",
            args![
                &h.name,
                &h.ip,
                h.cpu_cores,
                h.memory_gb,
                h.storage_gb,
                h.cpu_overcommit,
                h.memory_overcommit,
                h.state.as_str(),
                h.exporter_url.clone(),
                h.uri.clone(),
                &h.id
            ],
        )
        .await
        .map_err(taken(Missing::Host, &h.name))?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }
}
