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
use crate::db::{begin, db_err, exec, insert, joined, row, rows, taken, Arg, Backend, Col, Tx};
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

/// The addresses of the network in use, joined with commas.
pub(crate) async fn used_addresses(tx: &mut Tx, b: Backend, network_id: &str) -> Result<String> {
    let from = "FROM ip_allocations WHERE network_id = ?";
    joined(tx, b, "ip", from, args![network_id]).await
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
        .map_err(taken(Missing::Network, &n.name))?;
        tx.commit().await.map_err(db_err)?;
        Ok(count == 1)
    }
}
