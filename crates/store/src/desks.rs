//! Desk rows: the paged list with the names a desk refers to, and the transactions that place a
//! desk on a host with an address, change its shape, and remove it again. Capacity counters on
//! the host row change in the same transaction as the desk row, so they never drift.

use deskd_domain::error::{Error, Result};
use deskd_domain::ipam::{mac_for, Pool};
use deskd_domain::model::*;
use deskd_domain::naming::next_desk_name;
use deskd_domain::query::{ListQuery, Page};
use deskd_domain::scheduler::{place, Demand, HostLoad};
use deskd_domain::task::NewTask;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::collections::{HashMap, HashSet};

use crate::args;
use crate::db::{db_err, exec, insert_rows, row, rows, Arg, Backend, Col};
use crate::inventory::{desk_row, host, insert_desk};
use crate::paging;

/// Serializes placements on PostgreSQL (SQLite has one connection).
const PLACEMENT_LOCK: i64 = 7_390_002;

/// The joins that give a desk its names; `d` is the desk (a table or a page of it).
const VIEW_JOINS: &str = "LEFT JOIN users u ON u.id = d.user_id \
    LEFT JOIN images i ON i.id = d.image_id \
    LEFT JOIN clusters c ON c.id = d.cluster_id \
    LEFT JOIN hosts h ON h.id = d.host_id \
    LEFT JOIN desk_strategies s ON s.id = d.strategy_id";
const VIEW_COLS: &str =
    "d.*, u.name AS v_user_name, u.user_type AS v_user_type, i.name AS v_image_name, \
    c.name AS v_cluster_name, h.name AS v_host_name, s.enable_agreement_agency AS v_agency";

fn view(r: &AnyRow) -> Result<DeskView> {
    Ok(DeskView {
        desk: desk_row(r)?,
        user_name: r.opt_text("v_user_name")?.unwrap_or_default(),
        user_type: r.opt_text("v_user_type")?.unwrap_or_default(),
        image_name: r.opt_text("v_image_name")?.unwrap_or_default(),
        cluster_name: r.opt_text("v_cluster_name")?.unwrap_or_default(),
        host_name: r.opt_text("v_host_name")?.unwrap_or_default(),
        enable_agreement_agency: r.opt_int("v_agency")?.unwrap_or(0) != 0,
    })
}

/// 6.1.2: one page of desks, filtered, sorted and paged in SQL.
pub async fn list(
    pool: &AnyPool,
    b: Backend,
    q: &ListQuery,
    counts: &paging::CountCache,
) -> Result<Page<DeskView>> {
    let own = |c: &str| c.starts_with("d.");
    if q.filters.iter().all(|f| own(f.column)) && q.sorts.iter().all(|s| own(s.column)) {
        // Everything is on the desk row: page the desks alone (an index can serve the filter and
        // the order and stop after one page), then join the names of that page only.
        let inner = format!(
            "FROM (SELECT d.* FROM desks d{}) d {VIEW_JOINS}",
            paged_clauses(b, q)
        );
        let order = paging::order_clause(b, q);
        let from = format!("{inner}{order}");
        return paging::page_with(
            pool,
            b,
            q,
            VIEW_COLS,
            &from,
            "FROM desks d",
            view,
            true,
            Some(counts),
        )
        .await;
    }
    let from = format!("FROM desks d {VIEW_JOINS}");
    paging::page_with(
        pool,
        b,
        q,
        VIEW_COLS,
        &from,
        &from,
        view,
        false,
        Some(counts),
    )
    .await
}

/// The WHERE, ORDER BY and LIMIT of a page, with `?` placeholders bound by `page_with`.
fn paged_clauses(b: Backend, q: &ListQuery) -> String {
    let (wh, _) = paging::where_clause(q);
    let (lim, _) = paging::limit_clause(q);
    format!("{wh}{}{lim}", paging::order_clause(b, q))
}

pub async fn view_one(pool: &AnyPool, b: Backend, id: &str) -> Result<Option<DeskView>> {
    let sql = format!("SELECT {VIEW_COLS} FROM desks d {VIEW_JOINS} WHERE d.id = ?");
    row(pool, b, &sql, args![id])
        .await?
        .map(|r| view(&r))
        .transpose()
}

/// Host rows with their allocation counters, for the scheduler.
async fn loads<'c, E>(e: E, b: Backend, cluster_id: Option<&str>) -> Result<Vec<HostLoad>>
where
    E: Executor<'c, Database = Any>,
{
    let rs = match cluster_id {
        Some(c) => {
            rows(
                e,
                b,
                "SELECT * FROM hosts WHERE cluster_id = ? ORDER BY name, id",
                args![c],
            )
            .await?
        }
        None => rows(e, b, "SELECT * FROM hosts ORDER BY name, id", vec![]).await?,
    };
    rs.iter()
        .map(|r| {
            let h = host(r)?;
            Ok(HostLoad::from_host(
                &h,
                r.int("alloc_vcpus")?,
                r.int("alloc_memory_gb")?,
                r.int("alloc_storage_gb")?,
            ))
        })
        .collect()
}

/// Serializes placements (and host edits) on PostgreSQL; SQLite has one writer anyway.
pub(crate) async fn lock_placement(tx: &mut Transaction<'_, Any>, b: Backend) -> Result<()> {
    if b == Backend::Postgres {
        exec(
            &mut **tx,
            b,
            "SELECT pg_advisory_xact_lock(?)",
            args![PLACEMENT_LOCK],
        )
        .await?;
    }
    Ok(())
}

/// The desk an item key produced within the last 24 hours, and the task that produced it.
async fn desk_for_key<'c, E>(e: E, b: Backend, key: &str) -> Result<Option<(Desk, String)>>
where
    E: Executor<'c, Database = Any>,
{
    let since = now_ms() - ITEM_KEY_TTL_MS;
    let sql =
        "SELECT d.*, r.task_id AS r_task_id FROM desk_requests r JOIN desks d ON d.id = r.desk_id \
               WHERE r.item_key = ? AND r.created_at > ?";
    let found = row(e, b, sql, args![key, since]).await?;
    found
        .map(|r| Ok((desk_row(&r)?, r.text("r_task_id")?)))
        .transpose()
}

/// Places, addresses and inserts a new desk (see `Store::reserve_desk`).
pub async fn reserve(
    pool: &AnyPool,
    read: &AnyPool,
    b: Backend,
    r: &DeskReservation,
) -> Result<Reserved> {
    // A desk reserved when its batch was submitted (or by an earlier run) is found without
    // taking the writer; the transaction below checks again under the lock.
    if let Some(key) = &r.item_key {
        if let Some((desk, task_id)) = desk_for_key(read, b, key).await? {
            return Ok(Reserved::Existing { desk, task_id });
        }
    }
    // Rows that do not change under a placement are read before the transaction, so the single
    // writer is held only for what must be serialized.
    let network = crate::inventory::network(read, b, &r.desk.network_id)
        .await?
        .ok_or_else(|| {
            Error::not_found(deskd_domain::error::Missing::Network, &r.desk.network_id)
        })?;
    let user_name = r.desk.name.is_empty().then_some(&r.user_name);
    let mut tx = pool.begin().await.map_err(db_err)?;
    lock_placement(&mut tx, b).await?;
    if let Some(key) = &r.item_key {
        if let Some((desk, task_id)) = desk_for_key(&mut *tx, b, key).await? {
            return Ok(Reserved::Existing { desk, task_id });
        }
    }
    let mut desk = r.desk.clone();
    let demand = Demand {
        cpu_cores: desk.cpu_cores,
        memory_gb: desk.memory_gb,
        storage_gb: desk.system_disk_gb + desk.data_disk_gb,
    };
    let hosts = loads(&mut *tx, b, Some(&desk.cluster_id)).await?;
    let chosen = place(&hosts, Some(&desk.cluster_id), &demand, r.policy)?;
    desk.host_id = hosts[chosen].host_id.clone();
    desk.ip = allocate_ip(&mut tx, b, &network).await?;
    desk.mac = mac_for(&desk.id);
    if let Some(user) = &user_name {
        desk.name = generated_name(&mut tx, b, user).await?;
    }
    insert_desk(&mut *tx, b, &desk).await.map_err(|e| match e {
        Error::Refused(_) => Error::Refused(format!("a desk named `{}` already exists", desk.name)),
        e => e,
    })?;
    insert_rows(
        &mut tx,
        b,
        ADDRESS_INSERT,
        "",
        vec![address_values(&desk, now_ms())],
    )
    .await?;
    add_load(&mut tx, b, &desk.host_id, &demand, 1).await?;
    if let Some(key) = &r.item_key {
        remember_key(&mut tx, b, key, &desk.id, &r.task_id).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(Reserved::New(desk))
}

/// Records desks' addresses in their networks' pools; rows from [`address_values`].
pub(crate) const ADDRESS_INSERT: &str =
    "INSERT INTO ip_allocations (network_id, ip, desk_id, allocated_at)";

/// A desk's address row, allocated at `at`, in `ADDRESS_INSERT`'s column order.
pub(crate) fn address_values(d: &Desk, at: i64) -> Vec<Arg> {
    args![&d.network_id, &d.ip, &d.id, at]
}

/// The lowest free address of the network's pool; `Refused` naming the pool when it is full.
async fn allocate_ip(
    tx: &mut Transaction<'_, Any>,
    b: Backend,
    network: &Network,
) -> Result<String> {
    let used = used_addresses(tx, b, &network.id).await?;
    first_free(network, used.split(',').filter(|s| !s.is_empty()))
}

/// The addresses of the network in use, joined with commas.
async fn used_addresses(
    tx: &mut Transaction<'_, Any>,
    b: Backend,
    network_id: &str,
) -> Result<String> {
    let from = "FROM ip_allocations WHERE network_id = ?";
    joined(tx, b, "ip", from, args![network_id]).await
}

/// The lowest address of the network's pool not in `used`; `Refused` naming the pool when
/// there is none.
fn first_free<'a>(network: &Network, used: impl IntoIterator<Item = &'a str>) -> Result<String> {
    let pool = Pool::from_network(network)?;
    match pool.first_free(used) {
        Some(ip) => Ok(ip.to_string()),
        None => Err(Error::Refused(format!(
            "the IP pool of network `{}` ({}–{}) is exhausted: all {} addresses are in use",
            network.name,
            network.pool_start,
            network.pool_end,
            pool.size()
        ))),
    }
}

/// The values of `column` over `from`, joined with commas by the database: one row instead of
/// one per value (desk names and IP addresses never contain a comma).
async fn joined(
    tx: &mut Transaction<'_, Any>,
    b: Backend,
    column: &str,
    from: &str,
    a: Vec<crate::db::Arg>,
) -> Result<String> {
    let sql = format!("SELECT {} AS v {from}", b.join_text(column));
    Ok(row(&mut **tx, b, &sql, a)
        .await?
        .map(|r| r.opt_text("v"))
        .transpose()?
        .flatten()
        .unwrap_or_default())
}

/// `<user>_<n>` with the smallest free n.
async fn generated_name(tx: &mut Transaction<'_, Any>, b: Backend, user: &str) -> Result<String> {
    let taken = generated_names(tx, b, user).await?;
    Ok(next_desk_name(
        user,
        taken.split(',').filter(|s| !s.is_empty()),
    ))
}

/// The desk names of the pattern `<user>_*`, joined with commas.
async fn generated_names(tx: &mut Transaction<'_, Any>, b: Backend, user: &str) -> Result<String> {
    // `<user>_` ≤ name < `<user>`` (the byte after `_`): the names of this user's pattern, read
    // from the byte-wise index on desk names instead of scanning every desk.
    let col = b.text_order("name");
    let from = format!("FROM desks WHERE {col} >= ? AND {col} < ?");
    joined(
        tx,
        b,
        "name",
        &from,
        args![format!("{user}_"), format!("{user}`")],
    )
    .await
}

/// Records that item `key` produced `desk_id` (DECISIONS D7), replacing an expired record.
/// An item key used again after its time to live points at the new desk.
const KEY_CONFLICT: &str = "ON CONFLICT (item_key) DO UPDATE SET desk_id = excluded.desk_id, \
     task_id = excluded.task_id, created_at = excluded.created_at";

async fn remember_key(
    tx: &mut Transaction<'_, Any>,
    b: Backend,
    key: &str,
    desk_id: &str,
    task_id: &str,
) -> Result<()> {
    exec(
        &mut **tx,
        b,
        &format!(
            "INSERT INTO desk_requests (item_key, desk_id, task_id, created_at) VALUES (?, ?, ?, ?) \
             {KEY_CONFLICT}"
        ),
        args![key, desk_id, task_id, now_ms()],
    )
    .await
    .map(drop)
}

/// Adds (`sign` 1) or removes (`sign` -1) a demand from a host's counters.
async fn add_load(
    tx: &mut Transaction<'_, Any>,
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

/// Removes a desk in `tx`: its row, address, item keys and its share of the host.
pub async fn remove(tx: &mut Transaction<'_, Any>, b: Backend, id: &str) -> Result<bool> {
    let Some(r) = row(&mut **tx, b, "SELECT * FROM desks WHERE id = ?", args![id]).await? else {
        return Ok(false);
    };
    let d = desk_row(&r)?;
    let demand = Demand {
        cpu_cores: d.cpu_cores,
        memory_gb: d.memory_gb,
        storage_gb: d.system_disk_gb + d.data_disk_gb,
    };
    exec(
        &mut **tx,
        b,
        "DELETE FROM ip_allocations WHERE desk_id = ?",
        args![id],
    )
    .await?;
    exec(
        &mut **tx,
        b,
        "DELETE FROM desk_requests WHERE desk_id = ?",
        args![id],
    )
    .await?;
    exec(&mut **tx, b, "DELETE FROM desks WHERE id = ?", args![id]).await?;
    add_load(tx, b, &d.host_id, &demand, -1).await?;
    Ok(true)
}

pub async fn remove_desk(pool: &AnyPool, b: Backend, id: &str) -> Result<bool> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let removed = remove(&mut tx, b, id).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(removed)
}

/// Changes a desk's shape if its host has room for the difference.
pub async fn modify(
    pool: &AnyPool,
    b: Backend,
    id: &str,
    cpu: i64,
    mem: i64,
    sys: i64,
    data: i64,
) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    lock_placement(&mut tx, b).await?;
    let d = row(&mut *tx, b, "SELECT * FROM desks WHERE id = ?", args![id])
        .await?
        .map(|r| desk_row(&r))
        .transpose()?
        .ok_or_else(|| Error::not_found(deskd_domain::error::Missing::Desk, id))?;
    let delta = Demand {
        cpu_cores: cpu - d.cpu_cores,
        memory_gb: mem - d.memory_gb,
        storage_gb: (sys + data) - (d.system_disk_gb + d.data_disk_gb),
    };
    let hosts = loads(&mut *tx, b, Some(&d.cluster_id)).await?;
    if let Some(h) = hosts.iter().find(|h| h.host_id == d.host_id) {
        let grow = Demand {
            cpu_cores: delta.cpu_cores.max(0),
            memory_gb: delta.memory_gb.max(0),
            storage_gb: delta.storage_gb.max(0),
        };
        h.fits(&grow).map_err(|why| {
            Error::Refused(format!(
                "host {} has no room for the new configuration: {why}",
                h.name
            ))
        })?;
    }
    exec(
        &mut *tx,
        b,
        "UPDATE desks SET cpu_cores = ?, memory_gb = ?, system_disk_gb = ?, data_disk_gb = ?, enable_custom = 1, \
         updated_at = ? WHERE id = ?",
        args![cpu, mem, sys, data, now_ms(), id],
    )
    .await?;
    add_load(&mut tx, b, &d.host_id, &delta, 1).await?;
    tx.commit().await.map_err(db_err)
}

/// Recomputes every host's counters from the desks (after a bulk load).
pub async fn recount_hosts<'c, E>(e: E, b: Backend) -> Result<()>
where
    E: Executor<'c, Database = Any>,
{
    exec(
        e,
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

pub async fn set_strategy(
    pool: &AnyPool,
    b: Backend,
    id: &str,
    strategy: &str,
    refresh: bool,
) -> Result<bool> {
    let n = exec(
        pool,
        b,
        "UPDATE desks SET strategy_id = ?, need_refresh_strategy = ?, updated_at = ? WHERE id = ?",
        args![strategy, refresh, now_ms(), id],
    )
    .await?;
    Ok(n == 1)
}

pub async fn set_remark(pool: &AnyPool, b: Backend, id: &str, remark: &str) -> Result<bool> {
    let n = exec(
        pool,
        b,
        "UPDATE desks SET remark = ?, updated_at = ? WHERE id = ?",
        args![remark, now_ms(), id],
    )
    .await?;
    Ok(n == 1)
}

pub async fn prune_requests(pool: &AnyPool, b: Backend, before: i64) -> Result<u64> {
    exec(
        pool,
        b,
        "DELETE FROM desk_requests WHERE created_at < ?",
        args![before],
    )
    .await
}

/// What a batch's placements have taken so far. Hosts, used addresses and desk names are read
/// once per cluster, network and user inside the batch's transaction (under the placement lock)
/// and kept current in memory as desks are placed; the new rows are written together at the
/// end with multi-row statements. A batch of n desks thus costs a few statements in all, not a
/// few per desk.
#[derive(Default)]
struct Placer {
    hosts: HashMap<String, Vec<HostLoad>>,
    networks: HashMap<String, (Network, HashSet<String>)>,
    /// Users whose `<user>_*` desk names are in `names`.
    name_prefixes: HashSet<String>,
    names: HashSet<String>,
    /// Desks of item keys already used (by an earlier submission of the same caller ids).
    keyed: HashMap<String, String>,
    /// Demand added per host, written once at the end.
    added: HashMap<String, Demand>,
    /// Rows to write at the end.
    desks: Vec<Desk>,
    addresses: Vec<Vec<Arg>>,
    keys: Vec<Vec<Arg>>,
}

/// Records a batch-create task and reserves its desks in one transaction; see
/// `Store::submit_create_batch`.
pub async fn submit_create_batch(
    pool: &AnyPool,
    read: &AnyPool,
    b: Backend,
    task: &NewTask,
    reservations: &[Option<DeskReservation>],
    refusal_prefix: &str,
) -> Result<Vec<Option<String>>> {
    let mut task = task.clone();
    let mut tx = pool.begin().await.map_err(db_err)?;
    lock_placement(&mut tx, b).await?;
    let keys: Vec<&str> = reservations
        .iter()
        .flatten()
        .filter_map(|r| r.item_key.as_deref())
        .collect();
    let mut placer = Placer {
        keyed: desks_for_keys(&mut tx, b, &keys).await?,
        ..Placer::default()
    };
    let mut refusals = Vec::with_capacity(task.items.len());
    for (item, r) in task.items.iter_mut().zip(reservations) {
        let Some(r) = r else {
            refusals.push(None);
            continue;
        };
        match placer.reserve(&mut tx, read, b, r).await {
            Ok(desk_id) => {
                item.subject = Some(desk_id);
                refusals.push(None);
            }
            Err(e @ (Error::Refused(_) | Error::NotFound { .. })) => {
                let why = format!("{refusal_prefix}{e}");
                item.failed = Some(why.clone());
                refusals.push(Some(why));
            }
            Err(e) => return Err(e),
        }
    }
    placer.write(&mut tx, b).await?;
    crate::tasks::insert_task(&mut tx, b, &task).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(refusals)
}

/// The desks of those `keys` that are in use (see `desk_for_key`), by key.
async fn desks_for_keys(
    tx: &mut Transaction<'_, Any>,
    b: Backend,
    keys: &[&str],
) -> Result<HashMap<String, String>> {
    let since = now_ms() - ITEM_KEY_TTL_MS;
    let mut found = HashMap::new();
    for chunk in keys.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT r.item_key, r.desk_id FROM desk_requests r JOIN desks d ON d.id = r.desk_id \
             WHERE r.created_at > ? AND r.item_key IN ({marks})"
        );
        let mut a = args![since];
        a.extend(chunk.iter().map(|k| Arg::from(*k)));
        for r in rows(&mut **tx, b, &sql, a).await? {
            found.insert(r.text("item_key")?, r.text("desk_id")?);
        }
    }
    Ok(found)
}

impl Placer {
    /// Reserves one desk as `reserve` would; returns its id (an earlier desk of the item key, or
    /// the new one). Every refusal is decided before anything is written: a failed statement
    /// would abort the whole transaction on PostgreSQL.
    async fn reserve(
        &mut self,
        tx: &mut Transaction<'_, Any>,
        read: &AnyPool,
        b: Backend,
        r: &DeskReservation,
    ) -> Result<String> {
        if let Some(id) = r.item_key.as_ref().and_then(|k| self.keyed.get(k)) {
            return Ok(id.clone());
        }
        let mut desk = r.desk.clone();
        let demand = Demand {
            cpu_cores: desk.cpu_cores,
            memory_gb: desk.memory_gb,
            storage_gb: desk.system_disk_gb + desk.data_disk_gb,
        };
        desk.name = self.name(tx, b, &desk.name, &r.user_name).await?;
        desk.ip = self.address(tx, read, b, &desk.network_id).await?;
        desk.host_id = self
            .host(tx, b, &desk.cluster_id, &demand, r.policy)
            .await?;
        desk.mac = mac_for(&desk.id);
        let now = now_ms();
        self.addresses.push(address_values(&desk, now));
        if let Some(key) = &r.item_key {
            self.keys.push(args![key, &desk.id, &r.task_id, now]);
        }
        self.names.insert(desk.name.clone());
        let id = desk.id.clone();
        self.desks.push(desk);
        Ok(id)
    }

    /// Writes the placed desks, their addresses and item keys, and the hosts' added demand.
    async fn write(self, tx: &mut Transaction<'_, Any>, b: Backend) -> Result<()> {
        crate::inventory::insert_desks(tx, b, &self.desks).await?;
        insert_rows(tx, b, ADDRESS_INSERT, "", self.addresses).await?;
        insert_rows(
            tx,
            b,
            "INSERT INTO desk_requests (item_key, desk_id, task_id, created_at)",
            KEY_CONFLICT,
            self.keys,
        )
        .await?;
        for (host_id, demand) in &self.added {
            add_load(tx, b, host_id, demand, 1).await?;
        }
        Ok(())
    }

    /// The caller's name if no desk has it, or the next free `<user>_<n>`.
    async fn name(
        &mut self,
        tx: &mut Transaction<'_, Any>,
        b: Backend,
        wanted: &str,
        user: &str,
    ) -> Result<String> {
        if !wanted.is_empty() {
            let taken = self.names.contains(wanted)
                || row(
                    &mut **tx,
                    b,
                    "SELECT 1 AS x FROM desks WHERE name = ?",
                    args![wanted],
                )
                .await?
                .is_some();
            return match taken {
                true => Err(Error::Refused(format!(
                    "a desk named `{wanted}` already exists"
                ))),
                false => Ok(wanted.to_string()),
            };
        }
        if self.name_prefixes.insert(user.to_string()) {
            let taken = generated_names(tx, b, user).await?;
            self.names
                .extend(taken.split(',').filter(|s| !s.is_empty()).map(String::from));
        }
        Ok(next_desk_name(user, self.names.iter().map(String::as_str)))
    }

    /// The lowest free address of the network's pool.
    async fn address(
        &mut self,
        tx: &mut Transaction<'_, Any>,
        read: &AnyPool,
        b: Backend,
        network_id: &str,
    ) -> Result<String> {
        if !self.networks.contains_key(network_id) {
            let network = crate::inventory::network(read, b, network_id)
                .await?
                .ok_or_else(|| {
                    Error::not_found(deskd_domain::error::Missing::Network, network_id)
                })?;
            let used = used_addresses(tx, b, network_id).await?;
            let used = used
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            self.networks
                .insert(network_id.to_string(), (network, used));
        }
        let Some((network, used)) = self.networks.get_mut(network_id) else {
            return Err(Error::internal("network cache lost an entry"));
        };
        let ip = first_free(network, used.iter().map(String::as_str))?;
        used.insert(ip.clone());
        Ok(ip)
    }

    /// The host the scheduler picks in the cluster, with the demand added to it.
    async fn host(
        &mut self,
        tx: &mut Transaction<'_, Any>,
        b: Backend,
        cluster_id: &str,
        demand: &Demand,
        policy: deskd_domain::scheduler::Policy,
    ) -> Result<String> {
        if !self.hosts.contains_key(cluster_id) {
            let loads = loads(&mut **tx, b, Some(cluster_id)).await?;
            self.hosts.insert(cluster_id.to_string(), loads);
        }
        let hosts = self
            .hosts
            .get_mut(cluster_id)
            .map(Vec::as_mut_slice)
            .unwrap_or_default();
        let chosen = place(hosts, Some(cluster_id), demand, policy)?;
        hosts[chosen].add(demand);
        let host_id = hosts[chosen].host_id.clone();
        let sum = self.added.entry(host_id.clone()).or_insert(Demand {
            cpu_cores: 0,
            memory_gb: 0,
            storage_gb: 0,
        });
        sum.cpu_cores += demand.cpu_cores;
        sum.memory_gb += demand.memory_gb;
        sum.storage_gb += demand.storage_gb;
        Ok(host_id)
    }
}
