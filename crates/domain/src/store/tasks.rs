//! Durable tasks and their items (D7): what the task engine needs, and the submissions that
//! record a task together with its first effects.

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::DeskId;
use crate::model::DeskReservation;
use crate::task::{Claim, DeskMove, ItemOutcome, MoveRefusal, NewTask, TaskRecord};

#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    async fn create_task(&self, task: &NewTask) -> Result<()>;
    /// Records `task` and applies `moves` in one transaction. A refused move makes its item a
    /// FAILURE naming the desk's state; with `all_or_nothing` any refusal writes nothing.
    /// Returns each move's refusal, if any, in order.
    async fn submit_with_moves(
        &self,
        task: &NewTask,
        moves: &[DeskMove],
        all_or_nothing: bool,
    ) -> Result<Vec<Option<MoveRefusal>>>;
    /// Records a batch-create task and reserves its desks in one transaction, each as
    /// `DeskStore::reserve_desk` would: `reservations[i]` belongs to `task.items[i]` (None: nothing to
    /// reserve). A reserved desk becomes its item's subject; a refused reservation (no room, pool
    /// exhausted, name taken) makes its item a FAILURE: `refusal_prefix` then the reason. Returns each item's
    /// refusal. The items then find their desk by item key.
    async fn submit_create_batch(
        &self,
        task: &NewTask,
        reservations: &[Option<DeskReservation>],
        refusal_prefix: &str,
    ) -> Result<Vec<Option<String>>>;
    async fn get_task(&self, id: &str) -> Result<Option<TaskRecord>>;
    /// Claims up to `max` runnable items (pending, or running with an expired lease) for `node`.
    async fn claim_items(
        &self,
        node: &str,
        lease_until: i64,
        max: usize,
        now: i64,
    ) -> Result<Vec<Claim>>;
    /// Extends the leases of the given claims that `node` still holds.
    async fn renew_leases(
        &self,
        node: &str,
        lease_tokens: &[String],
        lease_until: i64,
    ) -> Result<()>;
    /// Records the outcome and applies its effects atomically; false when the lease was lost
    /// (nothing is written then).
    async fn finish_item(&self, claim: &Claim, outcome: &ItemOutcome) -> Result<bool>;
    /// Records several outcomes, in one transaction where it can (group commit); each result
    /// means what `finish_item`'s does.
    async fn finish_items(&self, items: &[(Claim, ItemOutcome)]) -> Vec<Result<bool>>;
    /// Makes the items `node` held before a restart claimable at once.
    async fn release_node_claims(&self, node: &str) -> Result<u64>;
    /// RUNNING tasks whose items are all done, as (id, kind): ready to be closed.
    async fn ready_tasks(&self) -> Result<Vec<(String, String)>>;
    /// Closes a ready task: FINISHED, or ERROR with the summary; false when it was closed already.
    async fn close_task(&self, id: &str, now: i64) -> Result<bool>;
    /// Closes every ready task; returns the ids it closed.
    async fn finalize_tasks(&self, now: i64) -> Result<Vec<String>> {
        let mut closed = Vec::new();
        for (id, _) in self.ready_tasks().await? {
            if self.close_task(&id, now).await? {
                closed.push(id);
            }
        }
        Ok(closed)
    }
    /// Rewrites a finished item's outcome (a batch rolled back after its items ran).
    async fn amend_item(&self, task_id: &str, seq: i64, success: bool, result: &str) -> Result<()>;
    /// Subjects (desk ids) with a pending or running item.
    async fn busy_subjects(&self) -> Result<Vec<DeskId>>;
    /// Task items not finished yet (pending or running).
    async fn open_task_items(&self) -> Result<i64>;
}
