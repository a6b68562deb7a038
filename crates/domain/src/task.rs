//! The durable task model of DECISIONS D7: a task and its items are rows; an item's outcome and
//! its effects on the inventory are committed together, so a crash either keeps both or neither.

use crate::enums::{ItemStatus, TaskStatus};
use crate::ids::DeskId;

/// A task to record: one item per unit of work (a desk of a batch, the one desk of an action).
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub id: String,
    /// Names the handler that runs the items.
    pub kind: String,
    pub cluster_id: Option<String>,
    pub items: Vec<NewItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    /// The caller's business id (`task_item_list[].id`).
    pub item_id: String,
    /// The resource the item acts on (a desk id), so the reconciler leaves it alone meanwhile.
    pub subject: Option<String>,
    pub payload: serde_json::Value,
    /// Set when the request itself already decided the item failed (an unknown desk, a state
    /// that forbids the action): the item is recorded as FAILURE with this result and never runs.
    pub failed: Option<String>,
}

impl NewItem {
    /// An item to run.
    pub fn run(
        item_id: impl Into<String>,
        subject: Option<String>,
        payload: serde_json::Value,
    ) -> Self {
        NewItem {
            item_id: item_id.into(),
            subject,
            payload,
            failed: None,
        }
    }

    /// An item to run whose payload is the kind's typed payload, stored as JSON.
    pub fn typed<P: serde::Serialize>(
        item_id: impl Into<String>,
        subject: Option<String>,
        payload: &P,
    ) -> crate::error::Result<Self> {
        let payload = serde_json::to_value(payload).map_err(crate::error::Error::internal)?;
        Ok(Self::run(item_id, subject, payload))
    }

    /// An item already decided as failed.
    pub fn refused(
        item_id: impl Into<String>,
        subject: Option<String>,
        reason: impl Into<String>,
    ) -> Self {
        NewItem {
            item_id: item_id.into(),
            subject,
            payload: serde_json::Value::Null,
            failed: Some(reason.into()),
        }
    }
}

/// A task as stored, with its items in request order.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    pub id: String,
    pub kind: String,
    pub status: TaskStatus,
    pub cluster_id: Option<String>,
    pub task_result: String,
    pub error_message: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub items: Vec<ItemRecord>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ItemRecord {
    pub seq: i64,
    pub item_id: String,
    pub subject: Option<String>,
    pub status: ItemStatus,
    pub payload: serde_json::Value,
    pub result: String,
    pub biz_data: Option<serde_json::Value>,
    /// What the item contributes to the task's `resource_list`.
    pub resource: Option<serde_json::Value>,
    pub attempts: i64,
}

/// An item claimed by a worker. `lease_token` fences the outcome: a worker whose lease was taken
/// over cannot record a result.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub task_id: String,
    pub seq: i64,
    pub kind: String,
    pub item_id: String,
    pub subject: Option<String>,
    pub payload: serde_json::Value,
    pub lease_token: String,
    pub attempts: i64,
}

impl Claim {
    /// The item's typed payload; a row whose JSON does not decode (written by another version,
    /// or damaged) fails its item with the reason instead of running on defaults.
    pub fn payload<P: serde::de::DeserializeOwned>(&self) -> crate::error::Result<P> {
        P::deserialize(&self.payload)
            .map_err(|e| crate::error::Error::internal(format!("task item payload: {e}")))
    }
}

/// What running an item produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemOutcome {
    pub success: bool,
    pub result: String,
    pub biz_data: Option<serde_json::Value>,
    pub resource: Option<serde_json::Value>,
    /// Inventory changes committed in the same transaction as the outcome.
    pub effects: Vec<Effect>,
}

impl ItemOutcome {
    pub fn success(result: impl Into<String>) -> Self {
        ItemOutcome {
            success: true,
            result: result.into(),
            biz_data: None,
            resource: None,
            effects: vec![],
        }
    }

    pub fn failure(result: impl Into<String>) -> Self {
        ItemOutcome {
            success: false,
            result: result.into(),
            biz_data: None,
            resource: None,
            effects: vec![],
        }
    }
}

/// An inventory change that belongs to an item's outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Appends to the audit log.
    Event {
        kind: String,
        subject: String,
        detail: String,
    },
    /// Removes a desk row and releases its address, capacity and idempotency keys.
    RemoveDesk { desk_id: DeskId },
    /// Moves a desk to `to` if it is in one of `from`, with the item's outcome: a finished
    /// create saves a write transaction per desk this way.
    DeskState {
        desk_id: DeskId,
        from: Vec<crate::enums::DeskState>,
        to: crate::enums::DeskState,
    },
}

/// One audit-log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at: i64,
    pub kind: String,
    pub subject: String,
    pub task_id: Option<String>,
    pub detail: String,
}

/// The wire summary of a finished batch: success and failure counts ("成功[n]，失败[m]").
pub fn task_result_text(ok: usize, failed: usize) -> String {
    format!("成功[{ok}]，失败[{failed}]")
}

/// The wire `error_message` of a failed task: the failed item ids, then the first reason.
pub fn error_message_text(failed: &[(&str, &str)]) -> String {
    let ids: Vec<&str> = failed.iter().map(|(id, _)| *id).collect();
    let reason = failed.first().map(|(_, r)| *r).unwrap_or("");
    format!("{} {}", ids.join(","), reason)
}

/// A desk state change that belongs to a task's submission: applied in the same transaction that
/// records the task, as a compare-and-set.
#[derive(Debug, Clone, PartialEq)]
pub struct DeskMove {
    /// Index of the task item it belongs to.
    pub item: usize,
    pub desk_id: DeskId,
    pub from: Vec<crate::enums::DeskState>,
    pub to: crate::enums::DeskState,
}

/// Why a desk move was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum MoveRefusal {
    Missing,
    State(crate::enums::DeskState),
}
