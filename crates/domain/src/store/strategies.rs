//! Desk strategies (6.1.1 and D10). Writes that change what a desk record shows invalidate the
//! desk pages.

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::StrategyId;
use crate::model::Strategy;
use crate::query::{ListQuery, Page};

/// A strategy with the number of desks that use it.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyRow {
    pub strategy: Strategy,
    pub desk_num: i64,
}

#[async_trait]
pub trait StrategyStore: Send + Sync + 'static {
    async fn list_strategies(&self, query: &ListQuery) -> Result<Page<StrategyRow>>;
    async fn get_strategy(&self, id: &StrategyId) -> Result<Option<Strategy>>;
    /// `AlreadyExists` when the name is taken.
    async fn create_strategy(&self, s: &Strategy) -> Result<()>;
    /// False when the strategy is gone.
    async fn update_strategy(&self, s: &Strategy) -> Result<bool>;
    /// `Conflict` naming the desks that still use it; false when it is gone.
    async fn delete_strategy(&self, id: &StrategyId) -> Result<bool>;
}
