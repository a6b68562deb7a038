//! Inventory rows: clusters, hosts, pools, OS files, images, networks, strategies, user groups,
//! users and desks.

use deskd_domain::enums::*;
use deskd_domain::error::Result;
use deskd_domain::model::*;
use deskd_domain::query::{ListQuery, Page};
use deskd_domain::store::StrategyRow;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Executor};

use crate::args;
use crate::db::{db_err, exec, row, rows, Arg, Backend, Col};
use crate::paging;

/// `INSERT INTO table (cols…) VALUES (?…)`.
pub(crate) async fn insert<'c, E>(
    e: E,
    backend: Backend,
    table: &str,
    values: Vec<(&str, Arg)>,
) -> Result<()>
where
    E: Executor<'c, Database = Any>,
{
    let cols: Vec<&str> = values.iter().map(|(c, _)| *c).collect();
    let marks = vec!["?"; cols.len()].join(", ");
    let sql = format!("INSERT INTO {table} ({}) VALUES ({marks})", cols.join(", "));
    exec(
        e,
        backend,
        &sql,
        values.into_iter().map(|(_, v)| v).collect(),
    )
    .await
    .map(drop)
}

/// Inserts a whole inventory in one transaction.
pub async fn load(pool: &AnyPool, b: Backend, inv: &Inventory) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    for c in &inv.clusters {
        insert(&mut *tx, b, "clusters", crate::platform::cluster_values(c)).await?;
    }
    for h in &inv.hosts {
        insert(&mut *tx, b, "hosts", crate::platform::host_values(h)).await?;
    }
    for p in &inv.storage_pools {
        insert(
            &mut *tx,
            b,
            "storage_pools",
            crate::platform::pool_values(p),
        )
        .await?;
    }
    for f in &inv.os_files {
        insert(&mut *tx, b, "os_files", crate::platform::os_file_values(f)).await?;
    }
    for i in &inv.images {
        insert(&mut *tx, b, "images", crate::platform::image_values(i)).await?;
    }
    for n in &inv.networks {
        insert(&mut *tx, b, "networks", crate::platform::network_values(n)).await?;
    }
    for s in &inv.strategies {
        insert_strategy(&mut *tx, b, s).await?;
    }
    for g in &inv.groups {
        crate::users::insert_group(&mut *tx, b, g).await?;
    }
    for u in &inv.users {
        crate::users::insert_user_row(&mut *tx, b, u).await?;
    }
    insert_desks(&mut tx, b, &inv.desks).await?;
    let addresses = inv
        .desks
        .iter()
        .map(|d| crate::desks::address_values(d, d.created_at))
        .collect();
    crate::db::insert_rows(&mut tx, b, crate::desks::ADDRESS_INSERT, "", addresses).await?;
    crate::desks::recount_hosts(&mut *tx, b).await?;
    tx.commit().await.map_err(db_err)
}

/// Inserts one strategy.
pub async fn insert_strategy<'c, E>(e: E, b: Backend, s: &Strategy) -> Result<()>
where
    E: Executor<'c, Database = Any>,
{
    insert(
        e,
        b,
        "desk_strategies",
        vec![
            ("id", s.id.as_str().into()),
            ("name", s.name.as_str().into()),
            ("category", s.category.as_str().into()),
            ("desk_type", s.desk_type.as_str().into()),
            ("cpu_cores", s.cpu_cores.into()),
            ("memory_gb", s.memory_gb.into()),
            ("system_disk_gb", s.system_disk_gb.into()),
            ("data_disk_gb", s.data_disk_gb.into()),
            ("enable_agreement_agency", s.enable_agreement_agency.into()),
            ("description", s.description.as_str().into()),
            ("created_at", s.created_at.into()),
        ],
    )
    .await
}

/// Inserts one desk.
pub async fn insert_desk<'c, E>(e: E, b: Backend, d: &Desk) -> Result<()>
where
    E: Executor<'c, Database = Any>,
{
    insert(e, b, "desks", desk_values(d)).await
}

/// Inserts many desks with multi-row statements (see `db::insert_rows`).
pub async fn insert_desks(
    tx: &mut sqlx::Transaction<'_, Any>,
    b: Backend,
    desks: &[Desk],
) -> Result<()> {
    let Some(first) = desks.first() else {
        return Ok(());
    };
    let cols: Vec<&str> = desk_values(first).iter().map(|(c, _)| *c).collect();
    let head = format!("INSERT INTO desks ({})", cols.join(", "));
    let rows = desks
        .iter()
        .map(|d| desk_values(d).into_iter().map(|(_, v)| v).collect())
        .collect();
    crate::db::insert_rows(tx, b, &head, "", rows).await
}

/// A desk row's columns and values.
fn desk_values(d: &Desk) -> Vec<(&'static str, Arg)> {
    vec![
        ("id", d.id.as_str().into()),
        ("name", d.name.as_str().into()),
        ("user_id", d.user_id.as_str().into()),
        ("image_id", d.image_id.as_str().into()),
        ("strategy_id", d.strategy_id.as_str().into()),
        ("network_id", d.network_id.as_str().into()),
        ("cluster_id", d.cluster_id.as_str().into()),
        ("host_id", d.host_id.as_str().into()),
        ("ip", d.ip.as_str().into()),
        ("mac", d.mac.as_str().into()),
        ("desk_type", d.desk_type.as_str().into()),
        ("category", d.category.as_str().into()),
        ("state", d.state.as_str().into()),
        ("cpu_cores", d.cpu_cores.into()),
        ("memory_gb", d.memory_gb.into()),
        ("system_disk_gb", d.system_disk_gb.into()),
        ("data_disk_gb", d.data_disk_gb.into()),
        ("remark", d.remark.as_str().into()),
        ("error_reason", d.error_reason.as_str().into()),
        ("enable_custom", d.enable_custom.into()),
        ("need_refresh_strategy", d.need_refresh_strategy.into()),
        ("vgpu_type", d.vgpu_type.as_str().into()),
        ("desktop_pool_type", d.desktop_pool_type.as_str().into()),
        ("terminal_ip", d.terminal_ip.as_str().into()),
        ("created_at", d.created_at.into()),
        ("updated_at", d.updated_at.into()),
    ]
}

pub async fn hosts(pool: &AnyPool, b: Backend) -> Result<Vec<Host>> {
    let rs = rows(
        pool,
        b,
        "SELECT * FROM hosts ORDER BY created_at, id",
        vec![],
    )
    .await?;
    rs.iter().map(host).collect()
}

pub fn host(r: &AnyRow) -> Result<Host> {
    Ok(Host {
        id: r.text("id")?,
        cluster_id: r.text("cluster_id")?,
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
    })
}

const STRATEGY_FROM: &str = "FROM desk_strategies s";

/// 6.1.1: one page of strategies with their desk counts, filtered and sorted in SQL.
pub async fn strategies(pool: &AnyPool, b: Backend, q: &ListQuery) -> Result<Page<StrategyRow>> {
    let cols = "s.*, (SELECT COUNT(*) FROM desks d WHERE d.strategy_id = s.id) AS desk_num";
    paging::page(pool, b, q, cols, STRATEGY_FROM, STRATEGY_FROM, strategy_row).await
}

fn strategy_row(r: &AnyRow) -> Result<StrategyRow> {
    Ok(StrategyRow {
        strategy: Strategy {
            id: r.text("id")?,
            name: r.text("name")?,
            category: DeskCategory::parse(&r.text("category")?, "desk_strategies.category")?,
            desk_type: DeskType::parse(&r.text("desk_type")?, "desk_strategies.desk_type")?,
            cpu_cores: r.int("cpu_cores")?,
            memory_gb: r.int("memory_gb")?,
            system_disk_gb: r.int("system_disk_gb")?,
            data_disk_gb: r.int("data_disk_gb")?,
            enable_agreement_agency: r.flag("enable_agreement_agency")?,
            description: r.text("description")?,
            created_at: r.int("created_at")?,
        },
        desk_num: r.int("desk_num")?,
    })
}

pub async fn desk(pool: &AnyPool, b: Backend, id: &str) -> Result<Option<Desk>> {
    row(pool, b, "SELECT * FROM desks WHERE id = ?", args![id])
        .await?
        .map(|r| desk_row(&r))
        .transpose()
}

pub async fn all_desks(pool: &AnyPool, b: Backend) -> Result<Vec<Desk>> {
    rows(
        pool,
        b,
        "SELECT * FROM desks ORDER BY created_at, id",
        vec![],
    )
    .await?
    .iter()
    .map(desk_row)
    .collect()
}

pub fn desk_row(r: &AnyRow) -> Result<Desk> {
    Ok(Desk {
        id: r.text("id")?,
        name: r.text("name")?,
        user_id: r.text("user_id")?,
        image_id: r.text("image_id")?,
        strategy_id: r.text("strategy_id")?,
        network_id: r.text("network_id")?,
        cluster_id: r.text("cluster_id")?,
        host_id: r.text("host_id")?,
        ip: r.text("ip")?,
        mac: r.text("mac")?,
        desk_type: DeskType::parse(&r.text("desk_type")?, "desks.desk_type")?,
        category: DeskCategory::parse(&r.text("category")?, "desks.category")?,
        state: DeskState::parse(&r.text("state")?, "desks.state")?,
        cpu_cores: r.int("cpu_cores")?,
        memory_gb: r.int("memory_gb")?,
        system_disk_gb: r.int("system_disk_gb")?,
        data_disk_gb: r.int("data_disk_gb")?,
        remark: r.text("remark")?,
        error_reason: r.text("error_reason")?,
        enable_custom: r.flag("enable_custom")?,
        need_refresh_strategy: r.flag("need_refresh_strategy")?,
        vgpu_type: r.text("vgpu_type")?,
        desktop_pool_type: r.text("desktop_pool_type")?,
        terminal_ip: r.text("terminal_ip")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

/// Compare-and-set of a desk's state. The reason is kept only for ERROR.
pub async fn set_desk_state<'c, E>(
    e: E,
    b: Backend,
    id: &str,
    from: &[DeskState],
    to: DeskState,
    reason: &str,
) -> Result<bool>
where
    E: Executor<'c, Database = Any>,
{
    let mut a = args![
        to.as_str(),
        if to == DeskState::ERROR { reason } else { "" },
        now_ms(),
        to.as_str(),
        id
    ];
    let mut sql =
        "UPDATE desks SET state = ?, error_reason = ?, updated_at = ?, \
         need_refresh_strategy = CASE WHEN ? = 'RUNNING' THEN 0 ELSE need_refresh_strategy END WHERE id = ?"
            .to_string();
    if !from.is_empty() {
        sql.push_str(&format!(
            " AND state IN ({})",
            vec!["?"; from.len()].join(", ")
        ));
        a.extend(from.iter().map(|s| Arg::from(s.as_str())));
    }
    Ok(exec(e, b, &sql, a).await? == 1)
}

pub async fn image(pool: &AnyPool, b: Backend, id: &str) -> Result<Option<Image>> {
    let r = row(pool, b, "SELECT * FROM images WHERE id = ?", args![id]).await?;
    r.map(|r| image_row(&r)).transpose()
}

pub fn image_row(r: &AnyRow) -> Result<Image> {
    Ok(Image {
        id: r.text("id")?,
        name: r.text("name")?,
        root_image_id: r.text("root_image_id")?,
        version: r.int("version")?,
        newest: r.flag("newest")?,
        category: DeskCategory::parse(&r.text("category")?, "images.category")?,
        os_name: OsName::parse(&r.text("os_name")?, "images.os_name")?,
        os_file_id: r.text("os_file_id")?,
        state: ImageState::parse(&r.text("state")?, "images.state")?,
        system_disk_gb: r.int("system_disk_gb")?,
        cpu_cores: r.int("cpu_cores")?,
        memory_gb: r.int("memory_gb")?,
        network_id: r.opt_text("network_id")?,
        description: r.text("description")?,
        created_at: r.int("created_at")?,
    })
}

pub fn network_row(r: &AnyRow) -> Result<Network> {
    Ok(Network {
        id: r.text("id")?,
        cluster_id: r.text("cluster_id")?,
        name: r.text("name")?,
        cidr: r.text("cidr")?,
        gateway: r.text("gateway")?,
        dns_primary: r.text("dns_primary")?,
        dns_secondary: r.text("dns_secondary")?,
        vlan: r.opt_int("vlan")?,
        pool_start: r.text("pool_start")?,
        pool_end: r.text("pool_end")?,
        state: r.text("state")?,
        creator: r.text("creator")?,
        created_at: r.int("created_at")?,
    })
}

pub async fn network(pool: &AnyPool, b: Backend, id: &str) -> Result<Option<Network>> {
    row(pool, b, "SELECT * FROM networks WHERE id = ?", args![id])
        .await?
        .map(|r| network_row(&r))
        .transpose()
}

pub async fn strategy(pool: &AnyPool, b: Backend, id: &str) -> Result<Option<Strategy>> {
    let r = row(
        pool,
        b,
        "SELECT s.*, 0 AS desk_num FROM desk_strategies s WHERE s.id = ?",
        args![id],
    )
    .await?;
    r.map(|r| strategy_row(&r).map(|s| s.strategy)).transpose()
}

pub async fn user_by_name(pool: &AnyPool, b: Backend, name: &str) -> Result<Option<User>> {
    let r = row(pool, b, "SELECT * FROM users WHERE name = ?", args![name]).await?;
    r.map(|r| crate::users::user_row(&r, "")).transpose()
}

/// The users with any of `names`, in no particular order.
pub async fn users_by_names(pool: &AnyPool, b: Backend, names: &[String]) -> Result<Vec<User>> {
    let mut users = Vec::with_capacity(names.len());
    for chunk in names.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let sql = format!("SELECT * FROM users WHERE name IN ({marks})");
        let a = chunk.iter().map(Arg::from).collect();
        for r in rows(pool, b, &sql, a).await? {
            users.push(crate::users::user_row(&r, "")?);
        }
    }
    Ok(users)
}

/// 6.1.16: one page of OS files.
pub async fn os_files(pool: &AnyPool, b: Backend, q: &ListQuery) -> Result<Page<OsFile>> {
    const FROM: &str = "FROM os_files f";
    paging::page(pool, b, q, "f.*", FROM, FROM, os_file_row).await
}

pub async fn os_file(pool: &AnyPool, b: Backend, id: &str) -> Result<Option<OsFile>> {
    row(pool, b, "SELECT * FROM os_files WHERE id = ?", args![id])
        .await?
        .map(|r| os_file_row(&r))
        .transpose()
}

fn os_file_row(r: &AnyRow) -> Result<OsFile> {
    Ok(OsFile {
        id: r.text("id")?,
        name: r.text("name")?,
        format: ImageFormat::parse(&r.text("format")?, "os_files.format")?,
        disk_type: ImageDiskType::parse(&r.text("disk_type")?, "os_files.disk_type")?,
        os_name: OsName::parse(&r.text("os_name")?, "os_files.os_name")?,
        size_bytes: r.int("size_bytes")?,
        virtual_size_bytes: r.int("virtual_size_bytes")?,
        sha256: r.text("sha256")?,
        state: ImageFileState::parse(&r.text("state")?, "os_files.state")?,
        storage_pool_id: r.text("storage_pool_id")?,
        created_at: r.int("created_at")?,
    })
}
