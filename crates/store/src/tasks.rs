//! Task and item rows (DECISIONS D7), and the submissions that record a task together with its
//! first effects (desk moves, a batch's placements).
//!
//! Claims are a compare-and-set on the item row (`status`, `lease_until`), which is exclusive on
//! both databases and across replicas. A claim carries a random lease token; recording an
//! outcome requires that token, so a worker that lost its lease cannot write.

use async_trait::async_trait;
use deskd_domain::enums::{DeskState, ItemStatus, TaskStatus};
use deskd_domain::error::{Error, Result};
use deskd_domain::ids::DeskId;
use deskd_domain::model::{now_ms, DeskReservation};
use deskd_domain::store::TaskStore;
use deskd_domain::task::*;
use sqlx::AnyPool;

use crate::args;
use crate::db::{begin, count, db_err, exec, insert_rows, marks, row, rows, Arg, Backend, Col, Tx};
use crate::events::{event_values, EVENT_INSERT};
use crate::{desks, SqlStore};

/// Item statuses still to run.
const OPEN: [ItemStatus; 2] = [ItemStatus::PENDING, ItemStatus::RUNNING];
/// Item statuses of a recorded outcome.
const DONE: [ItemStatus; 2] = [ItemStatus::SUCCESS, ItemStatus::FAILURE];

/// `?, ?` with the statuses as arguments.
fn statuses(s: &[ItemStatus]) -> (String, Vec<Arg>) {
    (
        marks(s.len()),
        s.iter().map(|s| Arg::from(s.as_str())).collect(),
    )
}

fn outcome_status(success: bool) -> ItemStatus {
    if success {
        ItemStatus::SUCCESS
    } else {
        ItemStatus::FAILURE
    }
}

#[async_trait]
impl TaskStore for SqlStore {
    async fn create_task(&self, t: &NewTask) -> Result<()> {
        let mut tx = begin(&self.pool).await?;
        insert_task(&mut tx, self.backend, t).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn submit_with_moves(
        &self,
        t: &NewTask,
        moves: &[DeskMove],
        all_or_nothing: bool,
    ) -> Result<Vec<Option<MoveRefusal>>> {
        let submitted = self.submit_moves(t, moves, all_or_nothing).await;
        self.after_desk_write(submitted)
    }

    async fn submit_create_batch(
        &self,
        task: &NewTask,
        reservations: &[Option<DeskReservation>],
        refusal_prefix: &str,
    ) -> Result<Vec<Option<String>>> {
        let submitted = async {
            let mut task = task.clone();
            let mut tx = begin(&self.pool).await?;
            let refusals = desks::placement::reserve_batch(
                &mut tx,
                &self.read,
                self.backend,
                &mut task,
                reservations,
                refusal_prefix,
            )
            .await?;
            insert_task(&mut tx, self.backend, &task).await?;
            tx.commit().await.map_err(db_err)?;
            Ok(refusals)
        }
        .await;
        self.after_desk_write(submitted)
    }

    async fn get_task(&self, id: &str) -> Result<Option<TaskRecord>> {
        let (pool, b) = (&self.read, self.backend);
        let sql = "SELECT id, kind, status, cluster_id, task_result, error_message, created_at, \
                   finished_at FROM tasks WHERE id = ?";
        let Some(t) = row(pool, b, sql, args![id]).await? else {
            return Ok(None);
        };
        let items = items_of(pool, b, id).await?;
        Ok(Some(TaskRecord {
            id: t.text("id")?,
            kind: t.text("kind")?,
            status: TaskStatus::parse(&t.text("status")?, "tasks.status")?,
            cluster_id: t.opt_text("cluster_id")?,
            task_result: t.text("task_result")?,
            error_message: t.text("error_message")?,
            created_at: t.int("created_at")?,
            finished_at: t.opt_int("finished_at")?,
            items,
        }))
    }

    /// Reads candidates on `read` and claims them with compare-and-set writes on `pool`, one
    /// per task: each write returns the items it claimed, so a dispatch costs one statement on
    /// the writer however many items it starts.
    async fn claim_items(
        &self,
        node: &str,
        lease_until: i64,
        max: usize,
        now: i64,
    ) -> Result<Vec<Claim>> {
        if max == 0 {
            return Ok(vec![]);
        }
        let sql =
            "SELECT i.task_id, i.seq, t.kind FROM task_items i JOIN tasks t ON t.id = i.task_id \
             WHERE (i.status = ? OR (i.status = ? AND i.lease_until < ?)) \
             ORDER BY t.created_at, i.task_id, i.seq LIMIT ?";
        let a = args![OPEN[0].as_str(), OPEN[1].as_str(), now, max as i64];
        let candidates = rows(&self.read, self.backend, sql, a).await?;
        let mut groups: Vec<(String, String, Vec<i64>)> = Vec::new();
        for c in candidates {
            let (task_id, seq) = (c.text("task_id")?, c.int("seq")?);
            match groups.last_mut() {
                Some((t, _, seqs)) if *t == task_id => seqs.push(seq),
                _ => groups.push((task_id, c.text("kind")?, vec![seq])),
            }
        }
        let lease = Lease {
            node,
            until: lease_until,
            now,
        };
        let mut claims = Vec::new();
        for (task_id, kind, seqs) in groups {
            claims.extend(
                claim_group(&self.pool, self.backend, &lease, (&task_id, &kind), &seqs).await?,
            );
        }
        Ok(claims)
    }

    async fn renew_leases(&self, node: &str, tokens: &[String], until: i64) -> Result<()> {
        if tokens.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE task_items SET lease_until = ? WHERE status = ? AND lease_owner = ? AND lease_token IN ({})",
            marks(tokens.len())
        );
        let mut a = args![until, ItemStatus::RUNNING.as_str(), node];
        a.extend(tokens.iter().map(Arg::from));
        exec(&self.pool, self.backend, &sql, a).await.map(drop)
    }

    async fn finish_item(&self, c: &Claim, o: &ItemOutcome) -> Result<bool> {
        let recorded = finish_group(&self.pool, self.backend, &[(c, o)])
            .await
            .map(|recorded| recorded.first().copied().unwrap_or(false));
        self.after_desk_write(recorded)
    }

    /// Records several outcomes in one transaction (group commit). When that transaction
    /// fails, each item is recorded on its own, so one bad item cannot keep the others
    /// unrecorded.
    async fn finish_items(&self, items: &[(Claim, ItemOutcome)]) -> Vec<Result<bool>> {
        let (pool, b) = (&self.pool, self.backend);
        let group: Vec<(&Claim, &ItemOutcome)> = items.iter().map(|(c, o)| (c, o)).collect();
        if group.len() > 1 {
            match finish_group(pool, b, &group).await {
                Ok(recorded) => {
                    self.desk_counts.invalidate();
                    return recorded.into_iter().map(Ok).collect();
                }
                Err(e) => {
                    tracing::warn!(error = %e, items = items.len(), "group record failed; recording items one by one")
                }
            }
        }
        let mut out = Vec::with_capacity(group.len());
        for pair in &group {
            let one = finish_group(pool, b, std::slice::from_ref(pair)).await;
            out.push(one.map(|r| r.first().copied().unwrap_or(false)));
        }
        self.desk_counts.invalidate();
        out
    }

    async fn release_node_claims(&self, node: &str) -> Result<u64> {
        let sql = "UPDATE task_items SET lease_until = 0 WHERE status = ? AND lease_owner = ?";
        let a = args![ItemStatus::RUNNING.as_str(), node];
        exec(&self.pool, self.backend, sql, a).await
    }

    /// RUNNING tasks with no pending or running item.
    async fn ready_tasks(&self) -> Result<Vec<(String, String)>> {
        let (open, mut a) = statuses(&OPEN);
        a.insert(0, Arg::from(TaskStatus::RUNNING.as_str()));
        let sql = format!(
            "SELECT t.id, t.kind FROM tasks t WHERE t.status = ? AND NOT EXISTS \
             (SELECT 1 FROM task_items i WHERE i.task_id = t.id AND i.status IN ({open}))"
        );
        rows(&self.read, self.backend, &sql, a)
            .await?
            .iter()
            .map(|r| Ok((r.text("id")?, r.text("kind")?)))
            .collect()
    }

    /// Closes one ready task. The status update is conditional, so two workers closing the
    /// same task at once write the result once.
    async fn close_task(&self, id: &str, now: i64) -> Result<bool> {
        let (pool, b) = (&self.pool, self.backend);
        let sql = "SELECT item_id, status, result FROM task_items WHERE task_id = ? ORDER BY seq";
        let items = rows(pool, b, sql, args![id]).await?;
        let mut ok = 0;
        let mut failed = Vec::new();
        for i in &items {
            match ItemStatus::parse(&i.text("status")?, "task_items.status")? {
                ItemStatus::SUCCESS => ok += 1,
                ItemStatus::FAILURE => failed.push((i.text("item_id")?, i.text("result")?)),
                _ => return Ok(false),
            }
        }
        let (status, message) = if failed.is_empty() {
            (TaskStatus::FINISHED, String::new())
        } else {
            let pairs: Vec<(&str, &str)> = failed
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            (TaskStatus::ERROR, error_message_text(&pairs))
        };
        let n = exec(
            pool,
            b,
            "UPDATE tasks SET status = ?, task_result = ?, error_message = ?, finished_at = ? WHERE id = ? AND status = ?",
            args![
                status.as_str(),
                task_result_text(ok, failed.len()),
                message,
                now,
                id,
                TaskStatus::RUNNING.as_str()
            ],
        )
        .await?;
        Ok(n == 1)
    }

    async fn amend_item(&self, task_id: &str, seq: i64, success: bool, result: &str) -> Result<()> {
        let (done, done_args) = statuses(&DONE);
        let sql = format!(
            "UPDATE task_items SET status = ?, result = ?, biz_data = CASE WHEN ? = 1 THEN biz_data ELSE NULL END, \
             resource = CASE WHEN ? = 1 THEN resource ELSE NULL END, updated_at = ? \
             WHERE task_id = ? AND seq = ? AND status IN ({done})"
        );
        let status = outcome_status(success);
        let mut a = args![
            status.as_str(),
            result,
            success,
            success,
            now_ms(),
            task_id,
            seq
        ];
        a.extend(done_args);
        exec(&self.pool, self.backend, &sql, a).await.map(drop)
    }

    async fn busy_subjects(&self) -> Result<Vec<DeskId>> {
        let (open, a) = statuses(&OPEN);
        let sql = format!(
            "SELECT DISTINCT subject FROM task_items WHERE subject IS NOT NULL AND status IN ({open})"
        );
        let rs = rows(&self.read, self.backend, &sql, a).await?;
        rs.iter().map(|r| r.id("subject")).collect()
    }

    async fn open_task_items(&self) -> Result<i64> {
        let (open, a) = statuses(&OPEN);
        let sql = format!("SELECT COUNT(*) AS n FROM task_items WHERE status IN ({open})");
        count(&self.read, self.backend, &sql, a).await
    }
}

impl SqlStore {
    /// Applies desk moves and records the task in one transaction (see
    /// `TaskStore::submit_with_moves`).
    async fn submit_moves(
        &self,
        t: &NewTask,
        moves: &[DeskMove],
        all_or_nothing: bool,
    ) -> Result<Vec<Option<MoveRefusal>>> {
        let b = self.backend;
        let mut tx = begin(&self.pool).await?;
        let mut task = t.clone();
        let mut refusals = Vec::with_capacity(moves.len());
        for m in moves {
            let moved = desks::rows::set_state(&mut *tx, b, &m.desk_id, &m.from, m.to, "").await?;
            let refusal = if moved {
                None
            } else {
                let sql = "SELECT state FROM desks WHERE id = ?";
                match row(&mut *tx, b, sql, args![&m.desk_id]).await? {
                    None => Some(MoveRefusal::Missing),
                    Some(r) => Some(MoveRefusal::State(DeskState::parse(
                        &r.text("state")?,
                        "desks.state",
                    )?)),
                }
            };
            if let (Some(why), Some(item)) = (&refusal, task.items.get_mut(m.item)) {
                item.failed = Some(refusal_text(&m.desk_id, why));
            }
            refusals.push(refusal);
        }
        if all_or_nothing && refusals.iter().any(Option::is_some) {
            tx.rollback().await.map_err(db_err)?;
            return Ok(refusals);
        }
        insert_task(&mut tx, b, &task).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(refusals)
    }
}

/// The item result of a refused move.
fn refusal_text(desk_id: &str, why: &MoveRefusal) -> String {
    match why {
        MoveRefusal::Missing => format!("云桌面[{desk_id}]不存在"),
        MoveRefusal::State(s) => format!("云桌面[{desk_id}]当前状态({s})不允许该操作"),
    }
}

pub(crate) async fn insert_task(tx: &mut Tx, b: Backend, t: &NewTask) -> Result<()> {
    let now = now_ms();
    exec(
        &mut **tx,
        b,
        "INSERT INTO tasks (id, kind, status, cluster_id, task_result, error_message, created_at) VALUES (?, ?, ?, ?, '', '', ?)",
        args![&t.id, &t.kind, TaskStatus::RUNNING.as_str(), t.cluster_id.clone(), now],
    )
    .await?;
    let rows = t
        .items
        .iter()
        .enumerate()
        .map(|(seq, item)| {
            let (status, result) = match &item.failed {
                Some(reason) => (ItemStatus::FAILURE, reason.as_str()),
                None => (ItemStatus::PENDING, ""),
            };
            args![
                &t.id,
                seq as i64,
                &item.item_id,
                item.subject.clone(),
                status.as_str(),
                item.payload.to_string(),
                result,
                0i64,
                now,
                now
            ]
        })
        .collect();
    insert_rows(
        tx,
        b,
        "INSERT INTO task_items (task_id, seq, item_id, subject, status, payload, result, attempts, \
         created_at, updated_at)",
        "",
        rows,
    )
    .await
}

/// One item as the database renders it inside [`items_of`]'s JSON array.
type ItemTuple = (
    i64,
    String,
    Option<String>,
    String,
    Option<serde_json::Value>,
    String,
    Option<serde_json::Value>,
    Option<serde_json::Value>,
    i64,
);

/// Every item of a task, in order. The database renders them as one JSON array in one row:
/// a batch has up to 1000 items and clients poll its detail, and handing rows over one by one
/// costs far more than the query.
async fn items_of(pool: &AnyPool, b: Backend, task_id: &str) -> Result<Vec<ItemRecord>> {
    let sql = match b {
        Backend::Sqlite => {
            "SELECT json_group_array(json_array(seq, item_id, subject, status, json(payload), \
             result, json(biz_data), json(resource), attempts)) AS items \
             FROM (SELECT * FROM task_items WHERE task_id = ? ORDER BY seq)"
        }
        Backend::Postgres => {
            "SELECT CAST(json_agg(json_build_array(seq, item_id, subject, status, CAST(payload AS json), \
             result, CAST(biz_data AS json), CAST(resource AS json), attempts) ORDER BY seq) AS TEXT) AS items \
             FROM task_items WHERE task_id = ?"
        }
    };
    let text = row(pool, b, sql, args![task_id])
        .await?
        .map(|r| r.opt_text("items"))
        .transpose()?
        .flatten()
        .unwrap_or_else(|| "[]".into());
    let tuples: Vec<ItemTuple> = serde_json::from_str(&text)
        .map_err(|e| Error::internal(format!("task {task_id}: items: {e}")))?;
    let mut items = tuples
        .into_iter()
        .map(
            |(seq, item_id, subject, status, payload, result, biz_data, resource, attempts)| {
                Ok(ItemRecord {
                    seq,
                    item_id,
                    subject,
                    status: ItemStatus::parse(&status, "task_items.status")?,
                    payload: payload.unwrap_or(serde_json::Value::Null),
                    result,
                    biz_data,
                    resource,
                    attempts,
                })
            },
        )
        .collect::<Result<Vec<_>>>()?;
    items.sort_by_key(|i| i.seq);
    Ok(items)
}

/// Who claims, until when, and the time the claim is made.
struct Lease<'a> {
    node: &'a str,
    until: i64,
    now: i64,
}

/// Claims the given items of one task with a single compare-and-set: the ones another worker
/// took since they were read are simply not returned. Each item's lease token is the group's
/// random token plus its sequence number, so tokens stay unique per claim.
async fn claim_group(
    pool: &AnyPool,
    b: Backend,
    lease: &Lease<'_>,
    (task_id, kind): (&str, &str),
    seqs: &[i64],
) -> Result<Vec<Claim>> {
    let token = uuid::Uuid::new_v4().to_string();
    let (pending, running) = (ItemStatus::PENDING.as_str(), ItemStatus::RUNNING.as_str());
    let sql = format!(
        "UPDATE task_items SET status = ?, lease_owner = ?, lease_token = CAST(? AS TEXT) || '-' || CAST(seq AS TEXT), \
         lease_until = ?, attempts = attempts + 1, updated_at = ? \
         WHERE task_id = ? AND seq IN ({}) \
         AND (status = ? OR (status = ? AND lease_until < ?)) \
         RETURNING seq, item_id, subject, payload, attempts, lease_token",
        marks(seqs.len())
    );
    let mut a = args![running, lease.node, &token, lease.until, lease.now, task_id];
    a.extend(seqs.iter().map(|s| Arg::from(*s)));
    a.extend(args![pending, running, lease.now]);
    let mut claims = rows(pool, b, &sql, a)
        .await?
        .into_iter()
        .map(|r| {
            Ok(Claim {
                kind: kind.to_string(),
                item_id: r.text("item_id")?,
                subject: r.opt_text("subject")?,
                payload: r.json("payload")?.unwrap_or(serde_json::Value::Null),
                lease_token: r.text("lease_token")?,
                attempts: r.int("attempts")?,
                task_id: task_id.to_string(),
                seq: r.int("seq")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // RETURNING gives no order guarantee; items run in sequence order.
    claims.sort_by_key(|c| c.seq);
    Ok(claims)
}

/// Writes each outcome, fenced by its claim's lease token, and applies its effects; an item
/// whose lease was lost is reported false and nothing of it is written. The events of the
/// whole group are inserted together at the end.
async fn finish_group(
    pool: &AnyPool,
    b: Backend,
    items: &[(&Claim, &ItemOutcome)],
) -> Result<Vec<bool>> {
    let now = now_ms();
    let mut tx = begin(pool).await?;
    let mut recorded = Vec::with_capacity(items.len());
    let mut events = Vec::new();
    for &(c, o) in items {
        let won = record(&mut tx, b, c, o, now).await?;
        if won {
            for effect in &o.effects {
                if let Some(ev) = apply(&mut tx, b, c, effect, now).await? {
                    events.push(event_values(&ev));
                }
            }
        }
        recorded.push(won);
    }
    insert_rows(&mut tx, b, EVENT_INSERT, "", events).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(recorded)
}

/// Writes one outcome, fenced by the claim's lease token; false (and nothing written) when the
/// lease was lost.
async fn record(tx: &mut Tx, b: Backend, c: &Claim, o: &ItemOutcome, now: i64) -> Result<bool> {
    let status = outcome_status(o.success);
    let n = exec(
        &mut **tx,
        b,
        "UPDATE task_items SET status = ?, result = ?, biz_data = ?, resource = ?, lease_owner = NULL, \
         lease_token = NULL, lease_until = NULL, updated_at = ? \
         WHERE task_id = ? AND seq = ? AND status = ? AND lease_token = ?",
        args![
            status.as_str(),
            &o.result,
            o.biz_data.as_ref().map(|v| v.to_string()),
            o.resource.as_ref().map(|v| v.to_string()),
            now,
            &c.task_id,
            c.seq,
            ItemStatus::RUNNING.as_str(),
            &c.lease_token
        ],
    )
    .await?;
    Ok(n == 1)
}

/// Applies one effect; an event is returned to be inserted with the group's others.
async fn apply(tx: &mut Tx, b: Backend, c: &Claim, e: &Effect, now: i64) -> Result<Option<Event>> {
    match e {
        Effect::Event {
            kind,
            subject,
            detail,
        } => Ok(Some(Event {
            at: now,
            kind: kind.clone(),
            subject: subject.clone(),
            task_id: Some(c.task_id.clone()),
            detail: detail.clone(),
        })),
        Effect::RemoveDesk { desk_id } => desks::rows::remove(tx, b, desk_id).await.map(|_| None),
        Effect::DeskState { desk_id, from, to } => {
            desks::rows::set_state(&mut **tx, b, desk_id, from, *to, "")
                .await
                .map(|_| None)
        }
    }
}
