//! Networks (6.4, D10) with the number of their pool's addresses given to desks, and the
//! address rows themselves.

use async_trait::async_trait;
use deskd_domain::enums::NetworkState;
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::ids::NetworkId;
use deskd_domain::model::{Desk, Network};
use deskd_domain::query::{ListQuery, Page};
use deskd_domain::store::{NetworkRow, NetworkStore};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::args;
use crate::db::{begin, db_err, exec, insert, marks, row, rows, taken, Arg, Backend, Col, Tx};
use crate::deletion::{self, Referrer};
use crate::{clusters, paging, SqlStore};

const COLS: &str = "n.id, n.cluster_id, n.name, n.cidr, n.gateway, n.dns_primary, \
    n.dns_secondary, n.vlan, n.pool_start, n.pool_end, n.state, n.creator, n.created_at";
const FROM: &str = "FROM networks n";

fn network_row(r: &AnyRow) -> Result<Network> {
    Ok(Network {
        id: r.id("id")?,
        cluster_id: r.id("cluster_id")?,
        name: r.text("name")?,
        cidr: r.text("cidr")?,
        gateway: r.text("gateway")?,
        dns_primary: r.text("dns_primary")?,
        dns_secondary: r.text("dns_secondary")?,
        vlan: r.opt_int("vlan")?,
        pool_start: r.text("pool_start")?,
        pool_end: r.text("pool_end")?,
        state: NetworkState::parse(&r.text("state")?, "networks.state")?,
        creator: r.text("creator")?,
        created_at: r.int("created_at")?,
    })
}

/// The column values of a network row (create and the inventory load share them).
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

/// Records desks' addresses in their networks' pools; rows from [`address_values`].
pub(crate) const ADDRESS_INSERT: &str =
    "INSERT INTO ip_allocations (network_id, ip, desk_id, allocated_at)";

/// A desk's address row, allocated at `at`, in `ADDRESS_INSERT`'s column order.
pub(crate) fn address_values(d: &Desk, at: i64) -> Vec<Arg> {
    args![&d.network_id, &d.ip, &d.id, at]
}

/// Which of `candidates` are allocated in the network: a probe through the primary key
/// `(network_id, ip)`, so placement never reads the network's other addresses.
pub(crate) async fn allocated_among(
    tx: &mut Tx,
    b: Backend,
    network_id: &str,
    candidates: &[std::net::Ipv4Addr],
) -> Result<std::collections::HashSet<std::net::Ipv4Addr>> {
    let mut used = std::collections::HashSet::new();
    for chunk in candidates.chunks(500) {
        let sql = format!(
            "SELECT ip FROM ip_allocations WHERE network_id = ? AND ip IN ({})",
            marks(chunk.len())
        );
        let mut a = args![network_id];
        a.extend(chunk.iter().map(|ip| Arg::from(ip.to_string())));
        for r in rows(&mut **tx, b, &sql, a).await? {
            if let Ok(ip) = r.text("ip")?.parse() {
                used.insert(ip);
            }
        }
    }
    Ok(used)
}

/// The network's free-address hint (see migration 8): every usable address below it is taken.
pub(crate) async fn free_hint(tx: &mut Tx, b: Backend, network_id: &str) -> Result<u32> {
    let sql = "SELECT free_hint FROM networks WHERE id = ?";
    let hint = row(&mut **tx, b, sql, args![network_id])
        .await?
        .map(|r| r.int("free_hint"))
        .transpose()?
        .unwrap_or(0);
    Ok(u32::try_from(hint).unwrap_or(0))
}

/// Moves the hint to `hint` (after a placement took every free address below it).
pub(crate) async fn set_free_hint(
    tx: &mut Tx,
    b: Backend,
    network_id: &str,
    hint: u32,
) -> Result<()> {
    let sql = "UPDATE networks SET free_hint = ? WHERE id = ?";
    exec(&mut **tx, b, sql, args![i64::from(hint), network_id])
        .await
        .map(drop)
}

/// Lowers the hint to a released address.
pub(crate) async fn release_address(
    tx: &mut Tx,
    b: Backend,
    network_id: &str,
    ip: &str,
) -> Result<()> {
    let Ok(ip) = ip.parse::<std::net::Ipv4Addr>() else {
        return Ok(());
    };
    let ip = i64::from(u32::from(ip));
    let sql = "UPDATE networks SET free_hint = ? WHERE id = ? AND free_hint > ?";
    exec(&mut **tx, b, sql, args![ip, network_id, ip])
        .await
        .map(drop)
}

/// Network `id`; `NotFound` when it is unknown.
pub(crate) async fn get<'c, E>(e: E, b: Backend, id: &str) -> Result<Network>
where
    E: Executor<'c, Database = Any>,
{
    let sql = format!("SELECT {COLS} {FROM} WHERE n.id = ?");
    match row(e, b, &sql, args![id]).await? {
        Some(r) => network_row(&r),
        None => Err(Error::not_found(Missing::Network, id)),
    }
}

#[async_trait]
impl NetworkStore for SqlStore {
    /// 6.4: networks with the number of addresses given out.
    async fn list_networks(&self, q: &ListQuery) -> Result<Page<NetworkRow>> {
        let cols = format!(
            "{COLS}, (SELECT COUNT(*) FROM ip_allocations a WHERE a.network_id = n.id) AS ref_count"
        );
        paging::page(&self.read, self.backend, q, &cols, FROM, FROM, |r| {
            Ok(NetworkRow {
                network: network_row(r)?,
                ref_count: r.int("ref_count")?,
            })
        })
        .await
    }

    async fn get_network(&self, id: &NetworkId) -> Result<Option<Network>> {
        match get(&self.read, self.backend, id).await {
            Ok(n) => Ok(Some(n)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create_network(&self, n: &Network) -> Result<()> {
        let mut tx = begin(&self.pool).await?;
        clusters::must_accept_members(&mut tx, self.backend, &n.cluster_id).await?;
        insert(&mut *tx, self.backend, "networks", network_values(n))
            .await
            .map_err(taken(Missing::Network, &n.name))?;
        tx.commit().await.map_err(db_err)
    }

    async fn update_network(&self, n: &Network) -> Result<bool> {
        let updated = self.update_network_checked(n).await;
        self.after_desk_write(updated)
    }

    async fn delete_network(&self, id: &NetworkId) -> Result<bool> {
        let users = [
            Referrer {
                table: "desks",
                column: "network_id",
                noun: "desks",
            },
            Referrer {
                table: "images",
                column: "network_id",
                noun: "images",
            },
        ];
        let table = ("networks", Missing::Network);
        deletion::delete_unused(&self.pool, self.backend, table, &users, id).await
    }
}

impl SqlStore {
    /// Rewrites a network after checking, under the same transaction, that every address given
    /// to a desk stays inside the new pool and is not the new gateway.
    async fn update_network_checked(&self, n: &Network) -> Result<bool> {
        let b = self.backend;
        let range = deskd_domain::ipam::Pool::from_network(n)?;
        let mut tx = begin(&self.pool).await?;
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
             vlan = ?, pool_start = ?, pool_end = ?, free_hint = 0 WHERE id = ?",
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
        .map_err(taken(Missing::Network, &n.name))?;
        tx.commit().await.map_err(db_err)?;
        Ok(count == 1)
    }
}
