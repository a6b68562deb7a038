//! Desks (chapter 6.1): the list and its views, placement with an address, shape and state
//! changes, removal.

use async_trait::async_trait;

use crate::enums::DeskState;
use crate::error::Result;
use crate::ids::{DeskId, StrategyId};
use crate::model::{Desk, DeskReservation, DeskView, Reserved};
use crate::query::{ListQuery, Page};

#[async_trait]
pub trait DeskStore: Send + Sync + 'static {
    /// A number that changes with every write this process makes to desks or to what a desk
    /// record shows; readers that cache desk pages compare it to know they are still current.
    fn desk_generation(&self) -> u64;
    async fn get_desk(&self, id: &DeskId) -> Result<Option<Desk>>;
    /// Every desk, for the reconciler and the driver's start-up sync.
    async fn list_all_desks(&self) -> Result<Vec<Desk>>;
    /// Moves a desk to `to` only if it is in one of `from` (compare-and-set); false otherwise.
    async fn set_desk_state(
        &self,
        id: &DeskId,
        from: &[DeskState],
        to: DeskState,
        reason: &str,
    ) -> Result<bool>;
    async fn list_desks(&self, query: &ListQuery) -> Result<Page<DeskView>>;
    async fn desk_view(&self, id: &DeskId) -> Result<Option<DeskView>>;
    /// Places a new desk on a host, gives it an address and inserts it (state CREATING), all in
    /// one transaction; or returns the desk its item key already produced. `Refused` when no
    /// host has room or the network's pool is exhausted, `AlreadyExists` when the name is taken.
    async fn reserve_desk(&self, reservation: &DeskReservation) -> Result<Reserved>;
    /// Removes a desk and releases its address, capacity and item keys; false when it is gone.
    async fn remove_desk(&self, id: &DeskId) -> Result<bool>;
    /// Changes a CLOSE desk's shape within its host's over-commit limits (`Refused` otherwise).
    async fn modify_desk(
        &self,
        id: &DeskId,
        cpu_cores: i64,
        memory_gb: i64,
        system_disk_gb: i64,
        data_disk_gb: i64,
    ) -> Result<()>;
    /// Gives a desk another strategy; `need_refresh` marks it for its next start.
    async fn set_desk_strategy(
        &self,
        id: &DeskId,
        strategy_id: &StrategyId,
        need_refresh: bool,
    ) -> Result<bool>;
    async fn set_desk_remark(&self, id: &DeskId, remark: &str) -> Result<bool>;
    /// Forgets batch-create item keys older than `before` (DECISIONS D7 keeps them 24 hours),
    /// and what a store keeps of past desk changes beyond its own bound.
    async fn prune_desk_requests(&self, before: i64) -> Result<u64>;
    /// How many desks are in each state (states without desks are left out).
    async fn desk_state_counts(&self) -> Result<Vec<(DeskState, i64)>>;
}
