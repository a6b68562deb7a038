//! Task and item rows (DECISIONS D7).
//!
//! Claims are a compare-and-set on the item row (`status`, `lease_until`), which is exclusive on
//! both databases and across replicas. A claim carries a random lease token; recording an
//! outcome requires that token, so a worker that lost its lease cannot write.

use deskd_domain::enums::{DeskState, ItemStatus, TaskStatus};
use deskd_domain::error::{Error, Result};
use deskd_domain::model::now_ms;
use deskd_domain::task::*;
use sqlx::{Any, AnyPool, Executor};

use crate::args;
use crate::db::{db_err, exec, insert_rows, row, rows, Arg, Backend, Col};

pub async fn create(pool: &AnyPool, b: Backend, t: &NewTask) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    insert_task(&mut tx, b, t).await?;
    tx.commit().await.map_err(db_err)
}

/// Applies desk moves and records the task in one transaction (see `Store::submit_with_moves`).
pub async fn create_with_moves(
    pool: &AnyPool,
    b: Backend,
    t: &NewTask,
    moves: &[DeskMove],
    all_or_nothing: bool,
) -> Result<Vec<Option<MoveRefusal>>> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let mut task = t.clone();
    let mut refusals = Vec::with_capacity(moves.len());
    for m in moves {
        let moved =
            crate::inventory::set_desk_state(&mut *tx, b, &m.desk_id, &m.from, m.to, "").await?;
        let refusal = if moved {
            None
        } else {
            match row(
                &mut *tx,
                b,
                "SELECT state FROM desks WHERE id = ?",
                args![&m.desk_id],
            )
            .await?
            {
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

/// The item result of a refused move.
fn refusal_text(desk_id: &str, why: &MoveRefusal) -> String {
    match why {
        MoveRefusal::Missing => format!("云桌面[{desk_id}]不存在"),
        MoveRefusal::State(s) => format!("云桌面[{desk_id}]当前状态({s})不允许该操作"),
    }
}

pub(crate) async fn insert_task(
    tx: &mut sqlx::Transaction<'_, Any>,
    b: Backend,
    t: &NewTask,
) -> Result<()> {
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

pub async fn get(pool: &AnyPool, b: Backend, id: &str) -> Result<Option<TaskRecord>> {
    let Some(t) = row(pool, b, "SELECT * FROM tasks WHERE id = ?", args![id]).await? else {
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

const RUNNABLE: &str = "(i.status = 'PENDING' OR (i.status = 'RUNNING' AND i.lease_until < ?))";

/// Reads candidates on `read` and claims them with compare-and-set writes on `pool`, one per
/// task: each write returns the items it claimed, so a dispatch costs one statement on the
/// writer however many items it starts.
pub async fn claim(
    pool: &AnyPool,
    read: &AnyPool,
    b: Backend,
    node: &str,
    lease_until: i64,
    max: usize,
    now: i64,
) -> Result<Vec<Claim>> {
    if max == 0 {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT i.task_id, i.seq, t.kind FROM task_items i JOIN tasks t ON t.id = i.task_id \
         WHERE {RUNNABLE} ORDER BY t.created_at, i.task_id, i.seq LIMIT ?"
    );
    let candidates = rows(read, b, &sql, args![now, max as i64]).await?;
    let mut groups: Vec<(String, String, Vec<i64>)> = Vec::new();
    for c in candidates {
        let (task_id, seq) = (c.text("task_id")?, c.int("seq")?);
        match groups.last_mut() {
            Some((t, _, seqs)) if *t == task_id => seqs.push(seq),
            _ => groups.push((task_id, c.text("kind")?, vec![seq])),
        }
    }
    let mut claims = Vec::new();
    for (task_id, kind, seqs) in groups {
        claims.extend(claim_group(pool, b, node, lease_until, now, &task_id, &kind, &seqs).await?);
    }
    Ok(claims)
}

/// Claims the given items of one task with a single compare-and-set: the ones another worker
/// took since they were read are simply not returned. Each item's lease token is the group's
/// random token plus its sequence number, so tokens stay unique per claim.
#[allow(clippy::too_many_arguments)]
async fn claim_group(
    pool: &AnyPool,
    b: Backend,
    node: &str,
    lease_until: i64,
    now: i64,
    task_id: &str,
    kind: &str,
    seqs: &[i64],
) -> Result<Vec<Claim>> {
    let token = uuid::Uuid::new_v4().to_string();
    let marks = vec!["?"; seqs.len()].join(", ");
    let sql = format!(
        "UPDATE task_items SET status = 'RUNNING', lease_owner = ?, lease_token = CAST(? AS TEXT) || '-' || CAST(seq AS TEXT), \
         lease_until = ?, attempts = attempts + 1, updated_at = ? \
         WHERE task_id = ? AND seq IN ({marks}) \
         AND (status = 'PENDING' OR (status = 'RUNNING' AND lease_until < ?)) \
         RETURNING seq, item_id, subject, payload, attempts, lease_token"
    );
    let mut a = args![node, &token, lease_until, now, task_id];
    a.extend(seqs.iter().map(|s| Arg::from(*s)));
    a.push(Arg::from(now));
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

pub async fn renew(
    pool: &AnyPool,
    b: Backend,
    node: &str,
    tokens: &[String],
    until: i64,
) -> Result<()> {
    if tokens.is_empty() {
        return Ok(());
    }
    let marks = vec!["?"; tokens.len()].join(", ");
    let sql = format!(
        "UPDATE task_items SET lease_until = ? WHERE status = 'RUNNING' AND lease_owner = ? AND lease_token IN ({marks})"
    );
    let mut a = args![until, node];
    a.extend(tokens.iter().map(Arg::from));
    exec(pool, b, &sql, a).await.map(drop)
}

pub async fn finish(pool: &AnyPool, b: Backend, c: &Claim, o: &ItemOutcome) -> Result<bool> {
    finish_group(pool, b, &[(c, o)])
        .await
        .map(|recorded| recorded.first().copied().unwrap_or(false))
}

/// Records several outcomes in one transaction (group commit). When that transaction fails,
/// each item is recorded on its own, so one bad item cannot keep the others unrecorded.
pub async fn finish_many(
    pool: &AnyPool,
    b: Backend,
    items: &[(Claim, ItemOutcome)],
) -> Vec<Result<bool>> {
    if items.len() > 1 {
        let group: Vec<(&Claim, &ItemOutcome)> = items.iter().map(|(c, o)| (c, o)).collect();
        match finish_group(pool, b, &group).await {
            Ok(recorded) => return recorded.into_iter().map(Ok).collect(),
            Err(e) => {
                tracing::warn!(error = %e, items = items.len(), "group record failed; recording items one by one")
            }
        }
    }
    let mut out = Vec::with_capacity(items.len());
    for (c, o) in items {
        out.push(finish(pool, b, c, o).await);
    }
    out
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
    let mut tx = pool.begin().await.map_err(db_err)?;
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
async fn record(
    tx: &mut sqlx::Transaction<'_, Any>,
    b: Backend,
    c: &Claim,
    o: &ItemOutcome,
    now: i64,
) -> Result<bool> {
    let status = if o.success {
        ItemStatus::SUCCESS
    } else {
        ItemStatus::FAILURE
    };
    let n = exec(
        &mut **tx,
        b,
        "UPDATE task_items SET status = ?, result = ?, biz_data = ?, resource = ?, lease_owner = NULL, \
         lease_token = NULL, lease_until = NULL, updated_at = ? \
         WHERE task_id = ? AND seq = ? AND status = 'RUNNING' AND lease_token = ?",
        args![
            status.as_str(),
            &o.result,
            o.biz_data.as_ref().map(|v| v.to_string()),
            o.resource.as_ref().map(|v| v.to_string()),
            now,
            &c.task_id,
            c.seq,
            &c.lease_token
        ],
    )
    .await?;
    Ok(n == 1)
}

/// Applies one effect; an event is returned to be inserted with the group's others.
async fn apply(
    tx: &mut sqlx::Transaction<'_, Any>,
    b: Backend,
    c: &Claim,
    e: &Effect,
    now: i64,
) -> Result<Option<Event>> {
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
        Effect::RemoveDesk { desk_id } => crate::desks::remove(tx, b, desk_id).await.map(|_| None),
        Effect::DeskState { desk_id, from, to } => {
            crate::inventory::set_desk_state(&mut **tx, b, desk_id, from, *to, "")
                .await
                .map(|_| None)
        }
    }
}

const EVENT_INSERT: &str = "INSERT INTO events (id, at, kind, subject, task_id, detail)";

/// An event row's values, in `EVENT_INSERT`'s column order, with a new id.
fn event_values(ev: &Event) -> Vec<Arg> {
    args![
        uuid::Uuid::new_v4().to_string(),
        ev.at,
        &ev.kind,
        &ev.subject,
        ev.task_id.clone(),
        &ev.detail
    ]
}

pub async fn insert_event<'c, E>(e: E, b: Backend, ev: &Event) -> Result<()>
where
    E: Executor<'c, Database = Any>,
{
    let sql = format!("{EVENT_INSERT} VALUES (?, ?, ?, ?, ?, ?)");
    exec(e, b, &sql, event_values(ev)).await.map(drop)
}

pub async fn events_for(pool: &AnyPool, b: Backend, subject: &str) -> Result<Vec<Event>> {
    let rs = rows(
        pool,
        b,
        "SELECT * FROM events WHERE subject = ? ORDER BY at, id",
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

/// RUNNING tasks with no pending or running item.
pub async fn ready(pool: &AnyPool, b: Backend) -> Result<Vec<(String, String)>> {
    let rs = rows(
        pool,
        b,
        "SELECT t.id, t.kind FROM tasks t WHERE t.status = 'RUNNING' AND NOT EXISTS \
         (SELECT 1 FROM task_items i WHERE i.task_id = t.id AND i.status IN ('PENDING', 'RUNNING'))",
        vec![],
    )
    .await?;
    rs.iter()
        .map(|r| Ok((r.text("id")?, r.text("kind")?)))
        .collect()
}

/// Closes one ready task. The status update is conditional, so two workers closing the same
/// task at once write the result once.
pub async fn close(pool: &AnyPool, b: Backend, id: &str, now: i64) -> Result<bool> {
    let items = rows(
        pool,
        b,
        "SELECT item_id, status, result FROM task_items WHERE task_id = ? ORDER BY seq",
        args![id],
    )
    .await?;
    let mut ok = 0;
    let mut failed = Vec::new();
    for i in &items {
        match i.text("status")?.as_str() {
            "SUCCESS" => ok += 1,
            "FAILURE" => failed.push((i.text("item_id")?, i.text("result")?)),
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
        "UPDATE tasks SET status = ?, task_result = ?, error_message = ?, finished_at = ? WHERE id = ? AND status = 'RUNNING'",
        args![status.as_str(), task_result_text(ok, failed.len()), message, now, id],
    )
    .await?;
    Ok(n == 1)
}

pub async fn amend(
    pool: &AnyPool,
    b: Backend,
    task_id: &str,
    seq: i64,
    success: bool,
    result: &str,
) -> Result<()> {
    let status = if success {
        ItemStatus::SUCCESS
    } else {
        ItemStatus::FAILURE
    };
    exec(
        pool,
        b,
        "UPDATE task_items SET status = ?, result = ?, biz_data = CASE WHEN ? = 1 THEN biz_data ELSE NULL END, \
         resource = CASE WHEN ? = 1 THEN resource ELSE NULL END, updated_at = ? \
         WHERE task_id = ? AND seq = ? AND status IN ('SUCCESS', 'FAILURE')",
        args![status.as_str(), result, success, success, now_ms(), task_id, seq],
    )
    .await
    .map(drop)
}
