//! The whole inventory at once: the first start loads the demo inventory.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::Inventory;

#[async_trait]
pub trait InventoryStore: Send + Sync + 'static {
    /// True when no cluster exists yet: the first start loads the demo inventory then.
    async fn inventory_is_empty(&self) -> Result<bool>;
    /// Inserts everything in one transaction.
    async fn load_inventory(&self, inventory: &Inventory) -> Result<()>;
}
