//! Placing desks: the transactions that put a new desk on a host with an address (one desk,
//! or a whole batch at a time) and change a desk's shape within its host's limits. They hold
//! the placement lock, and the host's counters change in the same transaction as the desk.

use deskd_domain::ids::{DeskId, HostId};
use std::collections::{HashMap, HashSet};

use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::ipam::{mac_for, Pool};
use deskd_domain::model::*;
use deskd_domain::scheduler::{place, Demand, HostLoad, Policy};
use deskd_domain::task::NewTask;
use sqlx::{Any, AnyPool, Executor};

use super::rows::{demand, desk_row, insert_desks, COLS};
use crate::args;
use crate::db::{
    begin, db_err, exec, insert_rows, joined, lock, marks, row, rows, taken, Arg, Backend, Col,
    Lock, Tx,
};
use crate::{hosts, networks};

/// Records that an item key produced a desk (DECISIONS D7), replacing an expired record: an
/// item key used again after its time to live points at the new desk.
const KEY_INSERT: &str = "INSERT INTO desk_requests (item_key, desk_id, task_id, created_at)";
const KEY_CONFLICT: &str = "ON CONFLICT (item_key) DO UPDATE SET desk_id = excluded.desk_id, \
     task_id = excluded.task_id, created_at = excluded.created_at";

/// The desk an item key produced within the last 24 hours, and the task that produced it.
async fn desk_for_key<'c, E>(e: E, b: Backend, key: &str) -> Result<Option<(Desk, String)>>
where
    E: Executor<'c, Database = Any>,
{
    let since = now_ms() - ITEM_KEY_TTL_MS;
    let sql = format!(
        "SELECT {COLS}, r.task_id AS r_task_id FROM desk_requests r JOIN desks d ON d.id = r.desk_id \
         WHERE r.item_key = ? AND r.created_at > ?"
    );
    let found = row(e, b, &sql, args![key, since]).await?;
    found
        .map(|r| Ok((desk_row(&r)?, r.text("r_task_id")?)))
        .transpose()
}

/// Places, addresses and inserts a new desk (see `DeskStore::reserve_desk`).
pub(super) async fn reserve(
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
    let mut tx = begin(pool).await?;
    lock(&mut tx, b, Lock::Placement).await?;
    if let Some(key) = &r.item_key {
        if let Some((desk, task_id)) = desk_for_key(&mut *tx, b, key).await? {
            return Ok(Reserved::Existing { desk, task_id });
        }
    }
    let mut placer = Placer::default();
    placer.reserve(&mut tx, read, b, r).await?;
    let desk = placer.desks.first().cloned();
    placer.write(&mut tx, b).await?;
    let desk = desk.ok_or_else(|| Error::internal("a placed desk went missing"))?;
    tx.commit().await.map_err(db_err)?;
    Ok(Reserved::New(desk))
}

/// `Refused` naming the network's pool: it has no free address left.
fn exhausted(network: &Network, pool: &Pool) -> Error {
    Error::Refused(format!(
        "the IP pool of network `{}` ({}–{}) is exhausted: all {} addresses are in use",
        network.name,
        network.pool_start,
        network.pool_end,
        pool.size()
    ))
}

/// The desk names of the pattern `<user>_*`, joined with commas.
async fn generated_names(tx: &mut Tx, b: Backend, user: &str) -> Result<String> {
    // `<user>_` ≤ name < `<user>`` (the byte after `_`): the names of this user's pattern, read
    // from the byte-wise index on desk names instead of scanning every desk.
    let col = b.text_order("name");
    let from = format!("FROM desks WHERE {col} >= ? AND {col} < ?");
    let range = args![format!("{user}_"), format!("{user}`")];
    joined(tx, b, "name", &from, range).await
}

/// Changes a desk's shape if its host has room for the difference.
pub(super) async fn modify(
    pool: &AnyPool,
    b: Backend,
    id: &str,
    shape: (i64, i64, i64, i64),
) -> Result<()> {
    let (cpu, mem, sys, data) = shape;
    let mut tx = begin(pool).await?;
    lock(&mut tx, b, Lock::Placement).await?;
    let sql = format!("SELECT {COLS} FROM desks d WHERE d.id = ?");
    let d = row(&mut *tx, b, &sql, args![id])
        .await?
        .map(|r| desk_row(&r))
        .transpose()?
        .ok_or_else(|| Error::not_found(Missing::Desk, id))?;
    let old = demand(&d);
    let delta = Demand {
        cpu_cores: cpu - old.cpu_cores,
        memory_gb: mem - old.memory_gb,
        storage_gb: (sys + data) - old.storage_gb,
    };
    let hosts = hosts::loads(&mut *tx, b, &d.cluster_id).await?;
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
    hosts::add_load(&mut tx, b, &d.host_id, &delta, 1).await?;
    tx.commit().await.map_err(db_err)
}

/// Reserves the desks of a batch-create task inside `tx` (under the placement lock), each as
/// [`reserve`] would; see `TaskStore::submit_create_batch`. A reserved desk becomes its item's
/// subject, a refusal its item's failure; returns each item's refusal.
pub(crate) async fn reserve_batch(
    tx: &mut Tx,
    read: &AnyPool,
    b: Backend,
    task: &mut NewTask,
    reservations: &[Option<DeskReservation>],
    refusal_prefix: &str,
) -> Result<Vec<Option<String>>> {
    lock(tx, b, Lock::Placement).await?;
    let keys: Vec<&str> = reservations
        .iter()
        .flatten()
        .filter_map(|r| r.item_key.as_deref())
        .collect();
    let mut placer = Placer {
        keyed: desks_for_keys(tx, b, &keys).await?,
        window: reservations.len(),
        ..Placer::default()
    };
    let named: Vec<&str> = reservations
        .iter()
        .flatten()
        .filter(|r| r.desk.name.is_empty())
        .map(|r| r.user_name.as_str())
        .collect();
    placer.read_numbers(tx, b, &named).await?;
    let mut refusals = Vec::with_capacity(task.items.len());
    for (item, r) in task.items.iter_mut().zip(reservations) {
        let Some(r) = r else {
            refusals.push(None);
            continue;
        };
        match placer.reserve(tx, read, b, r).await {
            Ok(desk_id) => {
                item.subject = Some(desk_id.into_string());
                refusals.push(None);
            }
            Err(
                e @ (Error::Refused(_)
                | Error::NotFound { .. }
                | Error::AlreadyExists { .. }
                | Error::Conflict { .. }),
            ) => {
                let why = format!("{refusal_prefix}{e}");
                item.failed = Some(why.clone());
                refusals.push(Some(why));
            }
            Err(e) => return Err(e),
        }
    }
    placer.write(tx, b).await?;
    Ok(refusals)
}

/// The desks of those `keys` that are in use (see `desk_for_key`), by key.
async fn desks_for_keys(tx: &mut Tx, b: Backend, keys: &[&str]) -> Result<HashMap<String, DeskId>> {
    let since = now_ms() - ITEM_KEY_TTL_MS;
    let mut found = HashMap::new();
    for chunk in keys.chunks(500) {
        let sql = format!(
            "SELECT r.item_key, r.desk_id FROM desk_requests r JOIN desks d ON d.id = r.desk_id \
             WHERE r.created_at > ? AND r.item_key IN ({})",
            marks(chunk.len())
        );
        let mut a = args![since];
        a.extend(chunk.iter().map(|k| Arg::from(*k)));
        for r in rows(&mut **tx, b, &sql, a).await? {
            found.insert(r.text("item_key")?, r.id("desk_id")?);
        }
    }
    Ok(found)
}

/// What a batch's placements have taken so far. Hosts are read once per cluster inside the
/// batch's transaction (under the placement lock) and kept current in memory as desks are
/// placed; addresses are probed from each network's free hint and names through the unique
/// index, so a batch of n desks costs a few statements per network and user, never a read of
/// the fleet. The new rows are written together at the end with multi-row statements.
#[derive(Default)]
struct Placer {
    hosts: HashMap<String, Vec<HostLoad>>,
    networks: HashMap<String, Addresses>,
    /// Per user, the numbers `n` of the `<user>_<n>` names that exist.
    numbers: HashMap<String, HashSet<u64>>,
    names: HashSet<String>,
    /// Desks of item keys already used (by an earlier submission of the same caller ids).
    keyed: HashMap<String, DeskId>,
    /// Demand added per host, written once at the end.
    added: HashMap<HostId, Demand>,
    /// Rows to write at the end.
    desks: Vec<Desk>,
    addresses: Vec<Vec<Arg>>,
    keys: Vec<Vec<Arg>>,
    /// How many desks the batch places: the first address probe asks for that many.
    window: usize,
}

/// One network's free addresses as a placement finds them: probed in windows from the hint
/// upwards, lowest first.
struct Addresses {
    network: Network,
    pool: Pool,
    /// The next address not yet probed.
    cursor: u32,
    /// Probed addresses found free, lowest first.
    free: std::collections::VecDeque<std::net::Ipv4Addr>,
    /// The hint to write back: one past the last address given out, when one was.
    hint: Option<u32>,
}

/// Addresses probed per round trip at first; doubled while a window is all taken.
const PROBE_WINDOW: usize = 64;
const PROBE_WINDOW_MAX: usize = 4096;

impl Addresses {
    async fn open(tx: &mut Tx, read: &AnyPool, b: Backend, network_id: &str) -> Result<Self> {
        let network = networks::get(read, b, network_id).await?;
        let pool = Pool::from_network(&network)?;
        let cursor = networks::free_hint(tx, b, network_id).await?;
        Ok(Addresses {
            network,
            pool,
            cursor,
            free: Default::default(),
            hint: None,
        })
    }

    /// Returns the address [`Addresses::next`] just gave out, unused.
    fn give_back(&mut self, ip: &str) {
        let Ok(ip) = ip.parse::<std::net::Ipv4Addr>() else {
            return;
        };
        self.free.push_front(ip);
        if self.hint.is_some_and(|h| h > u32::from(ip)) {
            self.hint = Some(u32::from(ip));
        }
    }

    /// The lowest free address; probes further windows of the pool as needed.
    async fn next(&mut self, tx: &mut Tx, b: Backend, wanted: usize) -> Result<String> {
        let mut window = wanted.clamp(PROBE_WINDOW, PROBE_WINDOW_MAX);
        while self.free.is_empty() {
            let candidates = self.pool.usable_from(self.cursor, window);
            let Some(last) = candidates.last() else {
                return Err(exhausted(&self.network, &self.pool));
            };
            self.cursor = u32::from(*last).saturating_add(1);
            let used = networks::allocated_among(tx, b, &self.network.id, &candidates).await?;
            self.free
                .extend(candidates.into_iter().filter(|ip| !used.contains(ip)));
            window = (window * 2).min(PROBE_WINDOW_MAX);
        }
        let ip = self
            .free
            .pop_front()
            .ok_or_else(|| exhausted(&self.network, &self.pool))?;
        self.hint = Some(u32::from(ip).saturating_add(1));
        Ok(ip.to_string())
    }
}

impl Placer {
    /// Reserves one desk as `reserve` would; returns its id (an earlier desk of the item key, or
    /// the new one). Every refusal is decided before anything is written: a failed statement
    /// would abort the whole transaction on PostgreSQL.
    async fn reserve(
        &mut self,
        tx: &mut Tx,
        read: &AnyPool,
        b: Backend,
        r: &DeskReservation,
    ) -> Result<DeskId> {
        if let Some(id) = r.item_key.as_ref().and_then(|k| self.keyed.get(k)) {
            return Ok(id.clone());
        }
        let mut desk = r.desk.clone();
        let demand = demand(&desk);
        desk.name = self.name(tx, b, &desk.name, &r.user_name).await?;
        desk.ip = self
            .address(tx, read, b, &desk.network_id, self.window)
            .await?;
        desk.host_id = match self.host(tx, b, &desk.cluster_id, &demand, r.policy).await {
            Ok(host_id) => host_id,
            Err(e) => {
                // the address stays free: the next desk takes it
                if let Some(a) = self.networks.get_mut(desk.network_id.as_str()) {
                    a.give_back(&desk.ip);
                }
                return Err(e);
            }
        };
        desk.mac = mac_for(&desk.id);
        let now = now_ms();
        self.addresses.push(networks::address_values(&desk, now));
        if let Some(key) = &r.item_key {
            self.keys.push(args![key, &desk.id, &r.task_id, now]);
        }
        let id = desk.id.clone();
        self.desks.push(desk);
        Ok(id)
    }

    /// Writes the placed desks, their addresses and item keys, and the hosts' added demand.
    async fn write(self, tx: &mut Tx, b: Backend) -> Result<()> {
        let first = self
            .desks
            .first()
            .map(|d| d.name.clone())
            .unwrap_or_default();
        insert_desks(tx, b, &self.desks)
            .await
            .map_err(taken(Missing::Desk, &first))?;
        insert_rows(tx, b, networks::ADDRESS_INSERT, "", self.addresses).await?;
        insert_rows(tx, b, KEY_INSERT, KEY_CONFLICT, self.keys).await?;
        for (host_id, demand) in &self.added {
            hosts::add_load(tx, b, host_id, demand, 1).await?;
        }
        for (network_id, a) in &self.networks {
            if let Some(hint) = a.hint {
                networks::set_free_hint(tx, b, network_id, hint).await?;
            }
        }
        Ok(())
    }

    /// The caller's name if no desk has it (a probe of the unique index), or the next free
    /// `<user>_<n>` (the user's generated names are read once, through the name index).
    async fn name(&mut self, tx: &mut Tx, b: Backend, wanted: &str, user: &str) -> Result<String> {
        if !wanted.is_empty() {
            let sql = "SELECT 1 AS x FROM desks WHERE name = ?";
            let taken = self.names.contains(wanted)
                || row(&mut **tx, b, sql, args![wanted]).await?.is_some();
            return match taken {
                true => Err(Error::already_exists(Missing::Desk, wanted)),
                false => {
                    self.note_name(wanted);
                    Ok(wanted.to_string())
                }
            };
        }
        if !self.numbers.contains_key(user) {
            let taken = generated_names(tx, b, user).await?;
            let numbers = desk_numbers(user, taken.split(','));
            let batch = desk_numbers(user, self.names.iter().map(String::as_str));
            self.numbers
                .insert(user.to_string(), numbers.union(&batch).copied().collect());
        }
        let numbers = self.numbers.entry(user.to_string()).or_default();
        let n = (1u64..).find(|n| !numbers.contains(n)).unwrap_or(u64::MAX);
        let name = format!("{user}_{n}");
        self.note_name(&name);
        Ok(name)
    }

    /// Reads the `<user>_<n>` numbers of many users at once, one range of the name index per
    /// user and a few hundred users per statement, instead of a statement per user.
    async fn read_numbers(&mut self, tx: &mut Tx, b: Backend, users: &[&str]) -> Result<()> {
        let col = b.text_order("d.name");
        let wanted: HashSet<&str> = users
            .iter()
            .copied()
            .filter(|u| !self.numbers.contains_key(*u))
            .collect();
        let wanted: Vec<&str> = wanted.into_iter().collect();
        for part in wanted.chunks(400) {
            // a range of the name index per user, driven from a small table of the ranges
            let values = vec!["(?, ?)"; part.len()].join(", ");
            let sql = format!(
                "WITH r (lo, hi) AS (VALUES {values}) \
                 SELECT d.name FROM r JOIN desks d ON {col} >= r.lo AND {col} < r.hi"
            );
            let args = part
                .iter()
                .flat_map(|u| [Arg::Text(format!("{u}_")), Arg::Text(format!("{u}`"))])
                .collect();
            let names = rows(&mut **tx, b, &sql, args).await?;
            for u in part {
                self.numbers.entry(u.to_string()).or_default();
            }
            for r in names {
                let name = r.text("name")?;
                // every user whose pattern the name has: `a_b_1` is `a`'s and `a_b`'s
                for (i, _) in name.match_indices('_') {
                    if let Some(numbers) = self.numbers.get_mut(&name[..i]) {
                        numbers.extend(desk_numbers(&name[..i], [name.as_str()]));
                    }
                }
            }
        }
        Ok(())
    }

    /// Remembers a name this batch takes (and its number, if it has a user's pattern).
    fn note_name(&mut self, name: &str) {
        self.names.insert(name.to_string());
        if let Some((user, _)) = name.rsplit_once('_') {
            if let Some(numbers) = self.numbers.get_mut(user) {
                numbers.extend(desk_numbers(user, [name]));
            }
        }
    }

    /// The lowest free address of the network's pool.
    async fn address(
        &mut self,
        tx: &mut Tx,
        read: &AnyPool,
        b: Backend,
        network_id: &str,
        wanted: usize,
    ) -> Result<String> {
        if !self.networks.contains_key(network_id) {
            let a = Addresses::open(tx, read, b, network_id).await?;
            self.networks.insert(network_id.to_string(), a);
        }
        let Some(a) = self.networks.get_mut(network_id) else {
            return Err(Error::internal("network cache lost an entry"));
        };
        a.next(tx, b, wanted).await
    }

    /// The host the scheduler picks in the cluster, with the demand added to it.
    async fn host(
        &mut self,
        tx: &mut Tx,
        b: Backend,
        cluster_id: &str,
        demand: &Demand,
        policy: Policy,
    ) -> Result<HostId> {
        if !self.hosts.contains_key(cluster_id) {
            let loads = hosts::loads(&mut **tx, b, cluster_id).await?;
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

/// The numbers `n` of the names `<user>_<n>` among `names`.
fn desk_numbers<'a>(user: &str, names: impl IntoIterator<Item = &'a str>) -> HashSet<u64> {
    let prefix = format!("{user}_");
    names
        .into_iter()
        .filter_map(|name| name.strip_prefix(prefix.as_str()))
        .filter_map(|n| n.parse().ok().filter(|v: &u64| v.to_string() == n))
        .collect()
}
