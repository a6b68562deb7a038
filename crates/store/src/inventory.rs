//! The whole inventory at once: the first start loads the demo inventory in one transaction,
//! each row through its resource's column values.

use async_trait::async_trait;
use deskd_domain::error::Result;
use deskd_domain::model::Inventory;
use deskd_domain::store::InventoryStore;

use crate::db::{begin, db_err, insert, insert_rows, row};
use crate::SqlStore;
use crate::{clusters, desks, groups, hosts, images, networks, os_files, pools, strategies, users};

#[async_trait]
impl InventoryStore for SqlStore {
    async fn inventory_is_empty(&self) -> Result<bool> {
        let sql = "SELECT id FROM clusters LIMIT 1";
        Ok(row(&self.read, self.backend, sql, vec![]).await?.is_none())
    }

    async fn load_inventory(&self, inv: &Inventory) -> Result<()> {
        let loaded = self.load(inv).await;
        self.after_desk_write(loaded)
    }
}

impl SqlStore {
    async fn load(&self, inv: &Inventory) -> Result<()> {
        let b = self.backend;
        let mut tx = begin(&self.pool).await?;
        for c in &inv.clusters {
            insert(&mut *tx, b, "clusters", clusters::cluster_values(c)).await?;
        }
        for h in &inv.hosts {
            insert(&mut *tx, b, "hosts", hosts::host_values(h)).await?;
        }
        for p in &inv.storage_pools {
            insert(&mut *tx, b, "storage_pools", pools::pool_values(p)).await?;
        }
        for f in &inv.os_files {
            insert(&mut *tx, b, "os_files", os_files::os_file_values(f)).await?;
        }
        for i in &inv.images {
            insert(&mut *tx, b, "images", images::image_values(i)).await?;
        }
        for n in &inv.networks {
            insert(&mut *tx, b, "networks", networks::network_values(n)).await?;
        }
        for s in &inv.strategies {
            insert(
                &mut *tx,
                b,
                "desk_strategies",
                strategies::strategy_values(s),
            )
            .await?;
        }
        for g in &inv.groups {
            insert(&mut *tx, b, "user_groups", groups::group_values(g)).await?;
        }
        for u in &inv.users {
            insert(&mut *tx, b, "users", users::user_values(u)).await?;
        }
        desks::rows::insert_desks(&mut tx, b, &inv.desks).await?;
        let addresses = inv
            .desks
            .iter()
            .map(|d| networks::address_values(d, d.created_at))
            .collect();
        insert_rows(&mut tx, b, networks::ADDRESS_INSERT, "", addresses).await?;
        hosts::recount(&mut tx, b).await?;
        tx.commit().await.map_err(db_err)
    }
}
