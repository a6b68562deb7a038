//! The audit log.

use async_trait::async_trait;

use crate::error::Result;
use crate::task::Event;

#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Audit-log entries about `subject`, oldest first.
    async fn events_for(&self, subject: &str) -> Result<Vec<Event>>;
    /// Appends to the audit log outside any task.
    async fn record_event(&self, event: &Event) -> Result<()>;
}
