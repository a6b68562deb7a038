//! The terminal registry (6.6).

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{Terminal, TerminalTally};

#[async_trait]
pub trait TerminalStore: Send + Sync + 'static {
    /// Registers a terminal, or updates its name, category and addresses when the id is known
    /// (registration time and first login are kept). True when it is new.
    async fn register_terminal(&self, t: &Terminal) -> Result<bool>;
    /// Records a heartbeat; false when the terminal is not registered.
    async fn terminal_heartbeat(&self, id: &str, now: i64) -> Result<bool>;
    /// Counts per category; online = last heartbeat at or after `online_since`.
    async fn terminal_tallies(&self, online_since: i64) -> Result<Vec<TerminalTally>>;
}
