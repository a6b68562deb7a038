//! The audit log.

use async_trait::async_trait;
use deskd_domain::error::Result;
use deskd_domain::store::EventStore;
use deskd_domain::task::Event;

use crate::args;
use crate::db::{exec, rows, Arg, Col};
use crate::SqlStore;

/// Inserts events; rows from [`event_values`].
pub(crate) const EVENT_INSERT: &str = "INSERT INTO events (id, at, kind, subject, task_id, detail)";

/// An event row's values, in `EVENT_INSERT`'s column order, with a new id.
pub(crate) fn event_values(ev: &Event) -> Vec<Arg> {
    args![
        uuid::Uuid::new_v4().to_string(),
        ev.at,
        &ev.kind,
        &ev.subject,
        ev.task_id.clone(),
        &ev.detail
    ]
}

#[async_trait]
impl EventStore for SqlStore {
    async fn events_for(&self, subject: &str) -> Result<Vec<Event>> {
        let rs = rows(
            &self.read,
            self.backend,
            "SELECT at, kind, subject, task_id, detail FROM events WHERE subject = ? ORDER BY at, id",
            args![subject],
        )
        .await?;
        rs.iter()
            .map(|r| {
                Ok(Event {
                    at: r.int("at")?,
                    kind: r.text("kind")?,
                    subject: r.text("subject")?,
                    task_id: r.opt_text("task_id")?,
                    detail: r.text("detail")?,
                })
            })
            .collect()
    }

    async fn record_event(&self, event: &Event) -> Result<()> {
        let sql = format!("{EVENT_INSERT} VALUES (?, ?, ?, ?, ?, ?)");
        exec(&self.pool, self.backend, &sql, event_values(event))
            .await
            .map(drop)
    }
}
