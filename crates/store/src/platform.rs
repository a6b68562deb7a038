//! The platform inventory of chapters 6.3–6.10: image, network, cluster, host and pool lists
//! with figures summed in SQL from the desks, addresses and files that exist, and the
//! management writes of DECISIONS D10, each checking what still refers to a row in the same
//! transaction as the write.

use deskd_domain::enums::*;
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::model::*;
use deskd_domain::query::{ListQuery, Page};
use deskd_domain::store::{ComputeRow, HostRow, ImageRow, NetworkRow, PoolRow};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Transaction};

use crate::args;
use crate::db::{db_err, exec, row, rows, Arg, Backend, Col};
use crate::inventory::{host, image_row, insert, network_row};
use crate::paging;

const GIB: i64 = 1 << 30;

/// `CAST(COALESCE(expr, 0) AS BIGINT)`: PostgreSQL sums BIGINT as NUMERIC.
fn sum0(expr: &str) -> String {
    format!("CAST(COALESCE({expr}, 0) AS BIGINT)")
}

const IMAGE_FROM: &str = "FROM images i LEFT JOIN images r ON r.id = i.root_image_id \
     JOIN os_files f ON f.id = i.os_file_id JOIN storage_pools p ON p.id = f.storage_pool_id";

/// 6.3.1: image versions with their root's name, cluster, pool and desks per type.
pub async fn images(pool: &AnyPool, b: Backend, q: &ListQuery) -> Result<Page<ImageRow>> {
    let count = |t: &str| {
        format!("(SELECT COUNT(*) FROM desks d WHERE d.image_id = i.id AND d.desk_type = '{t}')")
    };
    let cols = format!(
        "i.*, COALESCE(r.name, i.name) AS root_name, p.cluster_id AS p_cluster_id, \
         f.storage_pool_id AS f_pool_id, {} AS n_personal, {} AS n_recoverable, {} AS n_app_layer",
        count("PERSONAL"),
        count("RECOVERABLE"),
        count("APP_LAYER")
    );
    paging::page(pool, b, q, &cols, IMAGE_FROM, IMAGE_FROM, |r| {
        Ok(ImageRow {
            image: image_row(r)?,
            root_image_name: r.text("root_name")?,
            cluster_id: r.text("p_cluster_id")?,
            storage_pool_id: r.text("f_pool_id")?,
            personal: r.int("n_personal")?,
            recoverable: r.int("n_recoverable")?,
            app_layer: r.int("n_app_layer")?,
        })
    })
    .await
}

/// 6.4: networks with the number of addresses given out.
pub async fn networks(pool: &AnyPool, b: Backend, q: &ListQuery) -> Result<Page<NetworkRow>> {
    const FROM: &str = "FROM networks n";
    let cols =
        "n.*, (SELECT COUNT(*) FROM ip_allocations a WHERE a.network_id = n.id) AS ref_count";
    paging::page(pool, b, q, cols, FROM, FROM, |r| {
        Ok(NetworkRow {
            network: network_row(r)?,
            ref_count: r.int("ref_count")?,
        })
    })
    .await
}

const CLUSTER_FROM: &str = "FROM clusters c";

pub fn cluster_row(r: &AnyRow) -> Result<Cluster> {
    Ok(Cluster {
        id: r.text("id")?,
        name: r.text("name")?,
        state: ClusterState::parse(&r.text("state")?, "clusters.state")?,
        description: r.text("description")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

/// 6.9.
pub async fn clusters(pool: &AnyPool, b: Backend, q: &ListQuery) -> Result<Page<Cluster>> {
    paging::page(pool, b, q, "c.*", CLUSTER_FROM, CLUSTER_FROM, cluster_row).await
}

pub async fn cluster(pool: &AnyPool, b: Backend, id: &str) -> Result<Option<Cluster>> {
    row(pool, b, "SELECT * FROM clusters WHERE id = ?", args![id])
        .await?
        .map(|r| cluster_row(&r))
        .transpose()
}

/// 6.5: per cluster, its hosts' totals and the shape of the desks placed on them.
pub async fn compute(pool: &AnyPool, b: Backend, q: &ListQuery) -> Result<Page<ComputeRow>> {
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
        "c.*, {} AS host_num, {} AS total_cpu, {} AS total_mem, {} AS desk_num, {} AS alloc_cpu, \
         {} AS alloc_mem",
        on_hosts("COUNT(*)"),
        on_hosts("SUM(h.cpu_cores)"),
        on_hosts("SUM(h.memory_gb)"),
        on_desks("COUNT(*)"),
        on_desks("SUM(d.cpu_cores)"),
        on_desks("SUM(d.memory_gb)"),
    );
    paging::page(pool, b, q, &cols, CLUSTER_FROM, CLUSTER_FROM, |r| {
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

/// Bytes the inventory keeps on pool `p`: its OS files, and the disks of the desks whose image
/// is built on one of them.
fn pool_cols() -> String {
    format!(
        "p.*, {} + {} * {GIB} AS inventory_bytes",
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
            id: r.text("id")?,
            cluster_id: r.text("cluster_id")?,
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

/// 6.10.
pub async fn pools(pool: &AnyPool, b: Backend, q: &ListQuery) -> Result<Page<PoolRow>> {
    const FROM: &str = "FROM storage_pools p";
    paging::page(pool, b, q, &pool_cols(), FROM, FROM, pool_row).await
}

/// 6.8: the pools of one page of clusters.
pub async fn pools_of(pool: &AnyPool, b: Backend, cluster_ids: &[String]) -> Result<Vec<PoolRow>> {
    if cluster_ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; cluster_ids.len()].join(", ");
    let sql = format!(
        "SELECT {} FROM storage_pools p WHERE p.cluster_id IN ({marks}) ORDER BY p.created_at, p.id",
        pool_cols()
    );
    let a = cluster_ids.iter().map(Arg::from).collect();
    rows(pool, b, &sql, a).await?.iter().map(pool_row).collect()
}

pub async fn pool_by_id(pool: &AnyPool, b: Backend, id: &str) -> Result<Option<StoragePool>> {
    let sql = format!("SELECT {} FROM storage_pools p WHERE p.id = ?", pool_cols());
    row(pool, b, &sql, args![id])
        .await?
        .map(|r| pool_row(&r).map(|p| p.pool))
        .transpose()
}

/// Hosts with what their desks were promised.
pub async fn host_rows(pool: &AnyPool, b: Backend, q: &ListQuery) -> Result<Page<HostRow>> {
    const FROM: &str = "FROM hosts h";
    let cols = "h.*, (SELECT COUNT(*) FROM desks d WHERE d.host_id = h.id) AS desk_num";
    paging::page(pool, b, q, cols, FROM, FROM, |r| {
        Ok(HostRow {
            host: host(r)?,
            allocated_cpu_cores: r.int("alloc_vcpus")?,
            allocated_memory_gb: r.int("alloc_memory_gb")?,
            desk_num: r.int("desk_num")?,
        })
    })
    .await
}

pub async fn host_by_id(pool: &AnyPool, b: Backend, id: &str) -> Result<Option<Host>> {
    row(pool, b, "SELECT * FROM hosts WHERE id = ?", args![id])
        .await?
        .map(|r| host(&r))
        .transpose()
}

// ------------------------------------------------------------------------------------------
// Writes.
// ------------------------------------------------------------------------------------------

type Tx = Transaction<'static, Any>;

/// A unique-name violation becomes a refusal naming the resource and the name.
fn name_taken(what: &str, name: &str) -> impl Fn(Error) -> Error {
    let (what, name) = (what.to_string(), name.to_string());
    move |e| match e {
        Error::Refused(_) => Error::Refused(format!("{what} name `{name}` is already taken")),
        e => e,
    }
}

/// How many rows of `table` have `column = id`, and up to five of their names.
async fn referrers(
    tx: &mut Tx,
    b: Backend,
    table: &str,
    column: &str,
    id: &str,
) -> Result<(i64, Vec<String>)> {
    let n = row(
        &mut **tx,
        b,
        &format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = ?"),
        args![id],
    )
    .await?
    .map(|r| r.int("n"))
    .transpose()?
    .unwrap_or(0);
    let names = rows(
        &mut **tx,
        b,
        &format!("SELECT name FROM {table} WHERE {column} = ? ORDER BY name LIMIT 5"),
        args![id],
    )
    .await?
    .iter()
    .map(|r| r.text("name"))
    .collect::<Result<_>>()?;
    Ok((n, names))
}

/// Refuses with "`what` is still used by N `noun` (a, b, …)" when anything refers to it.
async fn refuse_if_used(
    tx: &mut Tx,
    b: Backend,
    what: &str,
    checks: &[(&str, &str, &str)],
    id: &str,
) -> Result<()> {
    let mut reasons = Vec::new();
    for (table, column, noun) in checks {
        let (n, names) = referrers(tx, b, table, column, id).await?;
        if n > 0 {
            reasons.push(format!("{n} {noun} ({})", names.join(", ")));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "{what} is still used by {}",
            reasons.join(" and ")
        )))
    }
}

async fn begin(pool: &AnyPool) -> Result<Tx> {
    pool.begin().await.map_err(db_err)
}

/// The cluster must exist and not be DELETING: nothing new goes into a cluster being removed.
async fn cluster_must_exist(tx: &mut Tx, b: Backend, id: &str) -> Result<()> {
    let r = row(
        &mut **tx,
        b,
        "SELECT name, state FROM clusters WHERE id = ?",
        args![id],
    )
    .await?;
    let Some(r) = r else {
        return Err(Error::not_found(Missing::Cluster, id));
    };
    if r.text("state")? == "DELETING" {
        return Err(Error::Refused(format!(
            "cluster `{}` is DELETING",
            r.text("name")?
        )));
    }
    Ok(())
}

/// Deletes row `id` of `table` after `checks` found nothing referring to it.
async fn delete_unused(
    pool: &AnyPool,
    b: Backend,
    table: &str,
    what: &str,
    checks: &[(&str, &str, &str)],
    id: &str,
) -> Result<bool> {
    let mut tx = begin(pool).await?;
    let found = row(
        &mut *tx,
        b,
        &format!("SELECT name FROM {table} WHERE id = ?"),
        args![id],
    )
    .await?;
    let Some(found) = found else {
        return Ok(false);
    };
    let label = format!("{what} `{}`", found.text("name")?);
    refuse_if_used(&mut tx, b, &label, checks, id).await?;
    exec(
        &mut *tx,
        b,
        &format!("DELETE FROM {table} WHERE id = ?"),
        args![id],
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

pub async fn create_strategy(pool: &AnyPool, b: Backend, s: &Strategy) -> Result<()> {
    crate::inventory::insert_strategy(pool, b, s)
        .await
        .map_err(name_taken("desk strategy", &s.name))
}

pub async fn update_strategy(pool: &AnyPool, b: Backend, s: &Strategy) -> Result<bool> {
    let n = exec(
        pool,
        b,
        "UPDATE desk_strategies SET name = ?, category = ?, desk_type = ?, cpu_cores = ?, \
         memory_gb = ?, system_disk_gb = ?, data_disk_gb = ?, enable_agreement_agency = ?, \
         description = ? WHERE id = ?",
        args![
            &s.name,
            s.category.as_str(),
            s.desk_type.as_str(),
            s.cpu_cores,
            s.memory_gb,
            s.system_disk_gb,
            s.data_disk_gb,
            s.enable_agreement_agency,
            &s.description,
            &s.id
        ],
    )
    .await
    .map_err(name_taken("desk strategy", &s.name))?;
    Ok(n == 1)
}

pub async fn delete_strategy(pool: &AnyPool, b: Backend, id: &str) -> Result<bool> {
    let checks = [("desks", "strategy_id", "desks")];
    delete_unused(pool, b, "desk_strategies", "desk strategy", &checks, id).await
}

/// The column values of a network row (create, edit and the inventory load share them).
pub(crate) fn network_values(n: &Network) -> Vec<(&'static str, Arg)> {
    vec![
        ("id", n.id.as_str().into()),
        ("cluster_id", n.cluster_id.as_str().into()),
        ("name", n.name.as_str().into()),
        ("cidr", n.cidr.as_str().into()),
        ("gateway", n.gateway.as_str().into()),
        ("dns_primary", n.dns_primary.as_str().into()),
        ("dns_secondary", n.dns_secondary.as_str().into()),
        ("vlan", n.vlan.into()),
        ("pool_start", n.pool_start.as_str().into()),
        ("pool_end", n.pool_end.as_str().into()),
        ("state", n.state.as_str().into()),
        ("creator", n.creator.as_str().into()),
        ("created_at", n.created_at.into()),
    ]
}

pub async fn create_network(pool: &AnyPool, b: Backend, n: &Network) -> Result<()> {
    let mut tx = begin(pool).await?;
    cluster_must_exist(&mut tx, b, &n.cluster_id).await?;
    insert(&mut *tx, b, "networks", network_values(n))
        .await
        .map_err(name_taken("network", &n.name))?;
    tx.commit().await.map_err(db_err)
}

/// Rewrites a network after checking, under the same transaction, that every address given to
/// a desk stays inside the new pool and is not the new gateway.
pub async fn update_network(pool: &AnyPool, b: Backend, n: &Network) -> Result<bool> {
    let range = deskd_domain::ipam::Pool::from_network(n)?;
    let mut tx = begin(pool).await?;
    let used = rows(
        &mut *tx,
        b,
        "SELECT ip FROM ip_allocations WHERE network_id = ? ORDER BY ip",
        args![&n.id],
    )
    .await?
    .iter()
    .map(|r| r.text("ip"))
    .collect::<Result<Vec<_>>>()?;
    let outside: Vec<&str> = used
        .iter()
        .map(String::as_str)
        .filter(|ip| ip.parse().map(|a| !range.contains(a)).unwrap_or(true) || *ip == n.gateway)
        .collect();
    if !outside.is_empty() {
        return Err(Error::Refused(format!(
            "the new pool {}–{} leaves out {} address(es) given to desks: {}",
            n.pool_start,
            n.pool_end,
            outside.len(),
            outside
                .iter()
                .take(5)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let count = exec(
        &mut *tx,
        b,
        "UPDATE networks SET name = ?, cidr = ?, gateway = ?, dns_primary = ?, dns_secondary = ?, \
         vlan = ?, pool_start = ?, pool_end = ? WHERE id = ?",
        args![
            &n.name,
            &n.cidr,
            &n.gateway,
            &n.dns_primary,
            &n.dns_secondary,
            n.vlan,
            &n.pool_start,
            &n.pool_end,
            &n.id
        ],
    )
    .await
    .map_err(name_taken("network", &n.name))?;
    tx.commit().await.map_err(db_err)?;
    Ok(count == 1)
}

pub async fn delete_network(pool: &AnyPool, b: Backend, id: &str) -> Result<bool> {
    let checks = [
        ("desks", "network_id", "desks"),
        ("images", "network_id", "images"),
    ];
    delete_unused(pool, b, "networks", "network", &checks, id).await
}

pub async fn create_cluster(pool: &AnyPool, b: Backend, c: &Cluster) -> Result<()> {
    insert(pool, b, "clusters", cluster_values(c))
        .await
        .map_err(name_taken("cluster", &c.name))
}

pub async fn update_cluster(pool: &AnyPool, b: Backend, c: &Cluster) -> Result<bool> {
    let n = exec(
        pool,
        b,
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
    .map_err(name_taken("cluster", &c.name))?;
    Ok(n == 1)
}

/// `SELECT COUNT(*) AS n …` with one argument.
async fn count(tx: &mut Tx, b: Backend, sql: &str, id: &str) -> Result<i64> {
    row(&mut **tx, b, sql, args![id])
        .await?
        .map(|r| r.int("n"))
        .transpose()
        .map(|n| n.unwrap_or(0))
}

/// What keeps a cluster from being removed: desks, images on its networks, OS files in its
/// pools. Its empty hosts, networks and pools go with it.
async fn cluster_blockers(tx: &mut Tx, b: Backend, id: &str, label: &str) -> Result<()> {
    refuse_if_used(tx, b, label, &[("desks", "cluster_id", "desks")], id).await?;
    let images = count(
        tx,
        b,
        "SELECT COUNT(*) AS n FROM images WHERE network_id IN (SELECT id FROM networks WHERE cluster_id = ?)",
        id,
    )
    .await?;
    let files = count(
        tx,
        b,
        "SELECT COUNT(*) AS n FROM os_files WHERE storage_pool_id IN (SELECT id FROM storage_pools WHERE cluster_id = ?)",
        id,
    )
    .await?;
    if images + files > 0 {
        return Err(Error::Refused(format!(
            "{label} is still used by {images} images on its networks and {files} OS files in its pools"
        )));
    }
    Ok(())
}

/// ENABLED/DISABLED → DELETING unless something still needs the cluster; true when it is
/// DELETING now (or was); false when it is gone.
pub async fn begin_cluster_delete(pool: &AnyPool, b: Backend, id: &str) -> Result<bool> {
    let mut tx = begin(pool).await?;
    let Some(r) = row(
        &mut *tx,
        b,
        "SELECT name, state FROM clusters WHERE id = ?",
        args![id],
    )
    .await?
    else {
        return Ok(false);
    };
    if r.text("state")? == "DELETING" {
        return Ok(true);
    }
    cluster_blockers(&mut tx, b, id, &format!("cluster `{}`", r.text("name")?)).await?;
    exec(
        &mut *tx,
        b,
        "UPDATE clusters SET state = 'DELETING', updated_at = ? WHERE id = ?",
        args![now_ms(), id],
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

/// Removes a DELETING cluster with its hosts, networks and pools. When something came to need
/// it meanwhile, the cluster is ENABLED again and the refusal names what.
pub async fn remove_cluster(pool: &AnyPool, b: Backend, id: &str) -> Result<bool> {
    let mut tx = begin(pool).await?;
    crate::desks::lock_placement(&mut tx, b).await?;
    let Some(r) = row(
        &mut *tx,
        b,
        "SELECT name FROM clusters WHERE id = ? AND state = 'DELETING'",
        args![id],
    )
    .await?
    else {
        return Ok(false);
    };
    if let Err(e) =
        cluster_blockers(&mut tx, b, id, &format!("cluster `{}`", r.text("name")?)).await
    {
        exec(
            &mut *tx,
            b,
            "UPDATE clusters SET state = 'ENABLED', updated_at = ? WHERE id = ?",
            args![now_ms(), id],
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        return Err(e);
    }
    for sql in [
        "DELETE FROM networks WHERE cluster_id = ?",
        "DELETE FROM storage_pools WHERE cluster_id = ?",
        "DELETE FROM hosts WHERE cluster_id = ?",
        "DELETE FROM clusters WHERE id = ?",
    ] {
        exec(&mut *tx, b, sql, args![id]).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(true)
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
    ]
}

pub async fn create_host(pool: &AnyPool, b: Backend, h: &Host) -> Result<()> {
    let mut tx = begin(pool).await?;
    cluster_must_exist(&mut tx, b, &h.cluster_id).await?;
    insert(&mut *tx, b, "hosts", host_values(h))
        .await
        .map_err(name_taken("host", &h.name))?;
    tx.commit().await.map_err(db_err)
}

/// Rewrites a host unless its new limits fall below what its desks were promised; the check
/// and the write hold the placement lock, so a concurrent placement cannot slip between.
pub async fn update_host(pool: &AnyPool, b: Backend, h: &Host) -> Result<bool> {
    let mut tx = begin(pool).await?;
    crate::desks::lock_placement(&mut tx, b).await?;
    let Some(r) = row(
        &mut *tx,
        b,
        "SELECT alloc_vcpus, alloc_memory_gb, alloc_storage_gb FROM hosts WHERE id = ?",
        args![&h.id],
    )
    .await?
    else {
        return Ok(false);
    };
    let load = deskd_domain::scheduler::HostLoad::from_host(
        h,
        r.int("alloc_vcpus")?,
        r.int("alloc_memory_gb")?,
        r.int("alloc_storage_gb")?,
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
         cpu_overcommit = ?, memory_overcommit = ?, state = ?, exporter_url = ? WHERE id = ?",
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
            &h.id
        ],
    )
    .await
    .map_err(name_taken("host", &h.name))?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

pub async fn delete_host(pool: &AnyPool, b: Backend, id: &str) -> Result<bool> {
    let checks = [("desks", "host_id", "desks")];
    delete_unused(pool, b, "hosts", "host", &checks, id).await
}

pub async fn create_pool(pool: &AnyPool, b: Backend, p: &StoragePool) -> Result<()> {
    let mut tx = begin(pool).await?;
    cluster_must_exist(&mut tx, b, &p.cluster_id).await?;
    insert(&mut *tx, b, "storage_pools", pool_values(p))
        .await
        .map_err(name_taken("storage pool", &p.name))?;
    tx.commit().await.map_err(db_err)
}

pub async fn update_pool(pool: &AnyPool, b: Backend, p: &StoragePool) -> Result<bool> {
    let n = exec(
        pool,
        b,
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
    .map_err(name_taken("storage pool", &p.name))?;
    Ok(n == 1)
}

pub async fn delete_pool(pool: &AnyPool, b: Backend, id: &str) -> Result<bool> {
    let checks = [("os_files", "storage_pool_id", "OS files")];
    delete_unused(pool, b, "storage_pools", "storage pool", &checks, id).await
}

// ------------------------------------------------------------------------------------------
// Image versions (extensions): build, publish, disable, delete.
// ------------------------------------------------------------------------------------------

/// Refuses unless the OS file exists, is AVAILABLE and holds a system disk.
async fn usable_os_file(tx: &mut Tx, b: Backend, id: &str) -> Result<()> {
    let Some(r) = row(
        &mut **tx,
        b,
        "SELECT name, state, disk_type FROM os_files WHERE id = ?",
        args![id],
    )
    .await?
    else {
        return Err(Error::not_found(Missing::OsFile, id));
    };
    let (name, state, disk) = (r.text("name")?, r.text("state")?, r.text("disk_type")?);
    if state != "AVAILABLE" || disk != "SYSTEM" {
        return Err(Error::Refused(format!(
            "OS file `{name}` is a {state} {disk} disk; an image needs an AVAILABLE SYSTEM disk"
        )));
    }
    Ok(())
}

/// Inserts an image version (CREATING or PUBLISHING) after checking its OS file, network and,
/// for a later version, its root; the version number is the family's next. False when the id
/// exists already (a repeated task item).
pub async fn insert_image(pool: &AnyPool, b: Backend, i: &Image) -> Result<bool> {
    let mut tx = begin(pool).await?;
    if row(
        &mut *tx,
        b,
        "SELECT id FROM images WHERE id = ?",
        args![&i.id],
    )
    .await?
    .is_some()
    {
        return Ok(false);
    }
    usable_os_file(&mut tx, b, &i.os_file_id).await?;
    if let Some(n) = &i.network_id {
        if row(
            &mut *tx,
            b,
            "SELECT id FROM networks WHERE id = ?",
            args![n],
        )
        .await?
        .is_none()
        {
            return Err(Error::not_found(Missing::Network, n));
        }
    }
    let mut image = i.clone();
    if i.root_image_id != i.id {
        let family = rows(
            &mut *tx,
            b,
            "SELECT version, state FROM images WHERE root_image_id = ? AND id <> ?",
            args![&i.root_image_id, &i.id],
        )
        .await?;
        // (this version itself is left out: its other writer may have committed meanwhile)
        if family.is_empty() {
            return Err(Error::not_found(Missing::Image, &i.root_image_id));
        }
        for r in &family {
            let state = r.text("state")?;
            if state == "CREATING" || state == "PUBLISHING" || state == "DELETING" {
                return Err(Error::Refused(format!(
                    "a version of this image is {state}; wait until it is done"
                )));
            }
        }
        image.version = family
            .iter()
            .map(|r| r.int("version"))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .max()
            .unwrap_or(0)
            + 1;
    }
    match insert(&mut *tx, b, "images", image_values(&image)).await {
        Ok(()) => {}
        // The other writer of this version (handler or task item) got there first.
        Err(Error::Refused(_)) => return Ok(false),
        Err(e) => return Err(e),
    }
    tx.commit().await.map_err(|e| match db_err(e) {
        Error::Refused(_) => Error::Refused(format!("image `{}` exists already", i.id)),
        e => e,
    })?;
    Ok(true)
}

/// The column values of an image row (create, publish and the inventory load share them).
pub(crate) fn image_values(i: &Image) -> Vec<(&'static str, Arg)> {
    vec![
        ("id", i.id.as_str().into()),
        ("name", i.name.as_str().into()),
        ("root_image_id", i.root_image_id.as_str().into()),
        ("version", i.version.into()),
        ("newest", i.newest.into()),
        ("category", i.category.as_str().into()),
        ("os_name", i.os_name.as_str().into()),
        ("os_file_id", i.os_file_id.as_str().into()),
        ("state", i.state.as_str().into()),
        ("system_disk_gb", i.system_disk_gb.into()),
        ("cpu_cores", i.cpu_cores.into()),
        ("memory_gb", i.memory_gb.into()),
        ("network_id", i.network_id.clone().into()),
        ("description", i.description.as_str().into()),
        ("created_at", i.created_at.into()),
    ]
}

/// A built or published version becomes AVAILABLE and the newest of its family.
pub async fn complete_image(pool: &AnyPool, b: Backend, id: &str) -> Result<bool> {
    let mut tx = begin(pool).await?;
    let n = exec(
        &mut *tx,
        b,
        "UPDATE images SET state = 'AVAILABLE', newest = 1 WHERE id = ? AND state IN ('CREATING', 'PUBLISHING')",
        args![id],
    )
    .await?;
    if n == 1 {
        exec(
            &mut *tx,
            b,
            "UPDATE images SET newest = 0 WHERE id <> ? AND root_image_id = (SELECT root_image_id FROM images WHERE id = ?)",
            args![id, id],
        )
        .await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(n == 1)
}

pub async fn set_image_state(
    pool: &AnyPool,
    b: Backend,
    id: &str,
    from: &[ImageState],
    to: ImageState,
) -> Result<bool> {
    let marks = vec!["?"; from.len()].join(", ");
    let mut a = args![to.as_str(), id];
    a.extend(from.iter().map(|s| Arg::from(s.as_str())));
    let sql = format!("UPDATE images SET state = ? WHERE id = ? AND state IN ({marks})");
    Ok(exec(pool, b, &sql, a).await? == 1)
}

/// Moves an image to DELETING unless desks use it or later versions name it as their root.
/// True when it is DELETING now (or was already); false when it is gone.
pub async fn begin_image_delete(pool: &AnyPool, b: Backend, id: &str) -> Result<bool> {
    let mut tx = begin(pool).await?;
    let Some(r) = row(
        &mut *tx,
        b,
        "SELECT name, state FROM images WHERE id = ?",
        args![id],
    )
    .await?
    else {
        return Ok(false);
    };
    let (name, state) = (r.text("name")?, r.text("state")?);
    if state == "DELETING" {
        return Ok(true);
    }
    if state == "CREATING" || state == "PUBLISHING" {
        return Err(Error::Refused(format!(
            "image `{name}` is {state}; delete it once that is done"
        )));
    }
    refuse_if_used(
        &mut tx,
        b,
        &format!("image `{name}`"),
        &[("desks", "image_id", "desks")],
        id,
    )
    .await?;
    let later = rows(
        &mut *tx,
        b,
        "SELECT name FROM images WHERE root_image_id = ? AND id <> ? ORDER BY version",
        args![id, id],
    )
    .await?;
    if !later.is_empty() {
        let names = later
            .iter()
            .map(|r| r.text("name"))
            .collect::<Result<Vec<_>>>()?;
        return Err(Error::Refused(format!(
            "image `{name}` is the root of {} later version(s) ({}); delete those first",
            names.len(),
            names.join(", ")
        )));
    }
    exec(
        &mut *tx,
        b,
        "UPDATE images SET state = 'DELETING' WHERE id = ?",
        args![id],
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

/// Removes a DELETING image; the family's highest remaining version becomes the newest.
/// `Refused` (and the image AVAILABLE again) when a desk took it meanwhile.
pub async fn remove_image(pool: &AnyPool, b: Backend, id: &str) -> Result<bool> {
    let mut tx = begin(pool).await?;
    let Some(r) = row(
        &mut *tx,
        b,
        "SELECT root_image_id FROM images WHERE id = ? AND state = 'DELETING'",
        args![id],
    )
    .await?
    else {
        return Ok(false);
    };
    let root = r.text("root_image_id")?;
    let used = referrers(&mut tx, b, "desks", "image_id", id).await?;
    if used.0 > 0 {
        exec(
            &mut *tx,
            b,
            "UPDATE images SET state = 'AVAILABLE' WHERE id = ?",
            args![id],
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        return Err(Error::Refused(format!(
            "{} desks took the image meanwhile ({})",
            used.0,
            used.1.join(", ")
        )));
    }
    exec(&mut *tx, b, "DELETE FROM images WHERE id = ?", args![id]).await?;
    exec(
        &mut *tx,
        b,
        "UPDATE images SET newest = 1 WHERE id = (SELECT id FROM images WHERE root_image_id = ? \
         AND NOT EXISTS (SELECT 1 FROM images n WHERE n.root_image_id = ? AND n.newest = 1) \
         ORDER BY version DESC LIMIT 1)",
        args![&root, &root],
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

// ------------------------------------------------------------------------------------------
// OS files (extensions): streamed upload and delete.
// ------------------------------------------------------------------------------------------

/// Inserts an UPLOADING OS file on an existing pool.
pub async fn insert_os_file(pool: &AnyPool, b: Backend, f: &OsFile) -> Result<()> {
    let mut tx = begin(pool).await?;
    if row(
        &mut *tx,
        b,
        "SELECT id FROM storage_pools WHERE id = ?",
        args![&f.storage_pool_id],
    )
    .await?
    .is_none()
    {
        return Err(Error::not_found(Missing::StoragePool, &f.storage_pool_id));
    }
    insert(&mut *tx, b, "os_files", os_file_values(f)).await?;
    tx.commit().await.map_err(db_err)
}

/// UPLOADING → AVAILABLE with the virtual size read from the file.
pub async fn finish_os_file(
    pool: &AnyPool,
    b: Backend,
    id: &str,
    virtual_size: i64,
) -> Result<bool> {
    let n = exec(
        pool,
        b,
        "UPDATE os_files SET state = 'AVAILABLE', virtual_size_bytes = ? WHERE id = ? AND state = 'UPLOADING'",
        args![virtual_size, id],
    )
    .await?;
    Ok(n == 1)
}

/// Forgets an upload that did not complete (only while it is UPLOADING).
pub async fn drop_upload(pool: &AnyPool, b: Backend, id: &str) -> Result<bool> {
    let n = exec(
        pool,
        b,
        "DELETE FROM os_files WHERE id = ? AND state = 'UPLOADING'",
        args![id],
    )
    .await?;
    Ok(n == 1)
}

/// AVAILABLE → DELETING unless images are built on it; false when it is gone.
pub async fn begin_os_file_delete(pool: &AnyPool, b: Backend, id: &str) -> Result<bool> {
    let mut tx = begin(pool).await?;
    let Some(r) = row(
        &mut *tx,
        b,
        "SELECT name, state FROM os_files WHERE id = ?",
        args![id],
    )
    .await?
    else {
        return Ok(false);
    };
    let (name, state) = (r.text("name")?, r.text("state")?);
    if state != "AVAILABLE" && state != "DELETING" {
        return Err(Error::Refused(format!("OS file `{name}` is {state}")));
    }
    refuse_if_used(
        &mut tx,
        b,
        &format!("OS file `{name}`"),
        &[("images", "os_file_id", "images")],
        id,
    )
    .await?;
    exec(
        &mut *tx,
        b,
        "UPDATE os_files SET state = 'DELETING' WHERE id = ?",
        args![id],
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

/// Removes a DELETING OS file's row.
pub async fn remove_os_file(pool: &AnyPool, b: Backend, id: &str) -> Result<bool> {
    let n = exec(
        pool,
        b,
        "DELETE FROM os_files WHERE id = ? AND state = 'DELETING'",
        args![id],
    )
    .await?;
    Ok(n == 1)
}

/// Writes an edit of an AVAILABLE or DISABLED version and marks it EDITING; true when it is
/// EDITING now with these values (also when it already was). `Refused` naming the state
/// otherwise; `NotFound` for an unknown image or network.
pub async fn begin_image_edit(pool: &AnyPool, b: Backend, i: &Image) -> Result<bool> {
    let mut tx = begin(pool).await?;
    if let Some(n) = &i.network_id {
        if row(
            &mut *tx,
            b,
            "SELECT id FROM networks WHERE id = ?",
            args![n],
        )
        .await?
        .is_none()
        {
            return Err(Error::not_found(Missing::Network, n));
        }
    }
    let Some(r) = row(
        &mut *tx,
        b,
        "SELECT state FROM images WHERE id = ?",
        args![&i.id],
    )
    .await?
    else {
        return Err(Error::not_found(Missing::Image, &i.id));
    };
    let state = r.text("state")?;
    if !matches!(state.as_str(), "AVAILABLE" | "DISABLED" | "EDITING") {
        return Err(Error::Refused(format!(
            "image `{}` is {state}; it can be edited when AVAILABLE or DISABLED",
            i.name
        )));
    }
    exec(
        &mut *tx,
        b,
        "UPDATE images SET name = ?, cpu_cores = ?, memory_gb = ?, system_disk_gb = ?, network_id = ?, \
         description = ?, state = 'EDITING' WHERE id = ?",
        args![&i.name, i.cpu_cores, i.memory_gb, i.system_disk_gb, i.network_id.clone(), &i.description, &i.id],
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
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

/// The column values of an OS file row (create and the inventory load share them).
pub(crate) fn os_file_values(f: &OsFile) -> Vec<(&'static str, Arg)> {
    vec![
        ("id", f.id.as_str().into()),
        ("name", f.name.as_str().into()),
        ("format", f.format.as_str().into()),
        ("disk_type", f.disk_type.as_str().into()),
        ("os_name", f.os_name.as_str().into()),
        ("size_bytes", f.size_bytes.into()),
        ("virtual_size_bytes", f.virtual_size_bytes.into()),
        ("sha256", f.sha256.as_str().into()),
        ("state", f.state.as_str().into()),
        ("storage_pool_id", f.storage_pool_id.as_str().into()),
        ("created_at", f.created_at.into()),
    ]
}
