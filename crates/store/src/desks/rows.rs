//! The desk row: its columns, its one mapper, and the writes other resources make to it (the
//! task engine's effects, the inventory load).

use deskd_domain::enums::{DeskCategory, DeskState, DeskType};
use deskd_domain::error::Result;
use deskd_domain::model::{now_ms, Desk};
use deskd_domain::scheduler::Demand;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Transaction};

use crate::args;
use crate::db::{exec, insert_rows, marks, row, Arg, Backend, Col, Tx};
use crate::{hosts, networks};

pub(crate) const COLS: &str = "d.id, d.name, d.user_id, d.image_id, d.strategy_id, \
    d.network_id, d.cluster_id, d.host_id, d.ip, d.mac, d.desk_type, d.category, d.state, \
    d.cpu_cores, d.memory_gb, d.system_disk_gb, d.data_disk_gb, d.remark, d.error_reason, \
    d.enable_custom, d.need_refresh_strategy, d.vgpu_type, d.desktop_pool_type, d.terminal_ip, \
    d.created_at, d.updated_at";

pub(crate) fn desk_row(r: &AnyRow) -> Result<Desk> {
    Ok(Desk {
        id: r.id("id")?,
        name: r.text("name")?,
        user_id: r.id("user_id")?,
        image_id: r.id("image_id")?,
        strategy_id: r.id("strategy_id")?,
        network_id: r.id("network_id")?,
        cluster_id: r.id("cluster_id")?,
        host_id: r.id("host_id")?,
        ip: r.text("ip")?,
        mac: r.text("mac")?,
        desk_type: DeskType::parse(&r.text("desk_type")?, "desks.desk_type")?,
        category: DeskCategory::parse(&r.text("category")?, "desks.category")?,
        state: DeskState::parse(&r.text("state")?, "desks.state")?,
        cpu_cores: r.int("cpu_cores")?,
        memory_gb: r.int("memory_gb")?,
        system_disk_gb: r.int("system_disk_gb")?,
        data_disk_gb: r.int("data_disk_gb")?,
        remark: r.text("remark")?,
        error_reason: r.text("error_reason")?,
        enable_custom: r.flag("enable_custom")?,
        need_refresh_strategy: r.flag("need_refresh_strategy")?,
        vgpu_type: r.text("vgpu_type")?,
        desktop_pool_type: r.text("desktop_pool_type")?,
        terminal_ip: r.text("terminal_ip")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

/// A desk row's columns and values.
fn desk_values(d: &Desk) -> Vec<(&'static str, Arg)> {
    vec![
        ("id", d.id.as_str().into()),
        ("name", d.name.as_str().into()),
        ("user_id", d.user_id.as_str().into()),
        ("image_id", d.image_id.as_str().into()),
        ("strategy_id", d.strategy_id.as_str().into()),
        ("network_id", d.network_id.as_str().into()),
        ("cluster_id", d.cluster_id.as_str().into()),
        ("host_id", d.host_id.as_str().into()),
        ("ip", d.ip.as_str().into()),
        ("mac", d.mac.as_str().into()),
        ("desk_type", d.desk_type.as_str().into()),
        ("category", d.category.as_str().into()),
        ("state", d.state.as_str().into()),
        ("cpu_cores", d.cpu_cores.into()),
        ("memory_gb", d.memory_gb.into()),
        ("system_disk_gb", d.system_disk_gb.into()),
        ("data_disk_gb", d.data_disk_gb.into()),
        ("remark", d.remark.as_str().into()),
        ("error_reason", d.error_reason.as_str().into()),
        ("enable_custom", d.enable_custom.into()),
        ("need_refresh_strategy", d.need_refresh_strategy.into()),
        ("vgpu_type", d.vgpu_type.as_str().into()),
        ("desktop_pool_type", d.desktop_pool_type.as_str().into()),
        ("terminal_ip", d.terminal_ip.as_str().into()),
        ("created_at", d.created_at.into()),
        ("updated_at", d.updated_at.into()),
    ]
}

/// What a desk takes from its host.
pub(crate) fn demand(d: &Desk) -> Demand {
    Demand {
        cpu_cores: d.cpu_cores,
        memory_gb: d.memory_gb,
        storage_gb: d.system_disk_gb + d.data_disk_gb,
    }
}

/// Inserts desks with multi-row statements (see `db::insert_rows`).
pub(crate) async fn insert_desks(
    tx: &mut Transaction<'_, Any>,
    b: Backend,
    desks: &[Desk],
) -> Result<()> {
    let Some(first) = desks.first() else {
        return Ok(());
    };
    let cols: Vec<&str> = desk_values(first).iter().map(|(c, _)| *c).collect();
    let head = format!("INSERT INTO desks ({})", cols.join(", "));
    let rows = desks
        .iter()
        .map(|d| desk_values(d).into_iter().map(|(_, v)| v).collect())
        .collect();
    insert_rows(tx, b, &head, "", rows).await
}

/// Compare-and-set of a desk's state. The reason is kept only for ERROR; reaching RUNNING
/// applies a pending strategy refresh.
pub(crate) async fn set_state<'c, E>(
    e: E,
    b: Backend,
    id: &str,
    from: &[DeskState],
    to: DeskState,
    reason: &str,
) -> Result<bool>
where
    E: Executor<'c, Database = Any>,
{
    let reason = if to == DeskState::ERROR { reason } else { "" };
    let refreshed = to == DeskState::RUNNING;
    let mut a = args![to.as_str(), reason, now_ms(), refreshed, id];
    let mut sql = "UPDATE desks SET state = ?, error_reason = ?, updated_at = ?, \
         need_refresh_strategy = CASE WHEN ? = 1 THEN 0 ELSE need_refresh_strategy END WHERE id = ?"
        .to_string();
    if !from.is_empty() {
        sql.push_str(&format!(" AND state IN ({})", marks(from.len())));
        a.extend(from.iter().map(|s| Arg::from(s.as_str())));
    }
    Ok(exec(e, b, &sql, a).await? == 1)
}

/// Removes a desk in `tx`: its row, address, item keys and its share of the host.
pub(crate) async fn remove(tx: &mut Tx, b: Backend, id: &str) -> Result<bool> {
    let sql = format!("SELECT {COLS} FROM desks d WHERE d.id = ?");
    let Some(r) = row(&mut **tx, b, &sql, args![id]).await? else {
        return Ok(false);
    };
    let d = desk_row(&r)?;
    for sql in [
        "DELETE FROM ip_allocations WHERE desk_id = ?",
        "DELETE FROM desk_requests WHERE desk_id = ?",
        "DELETE FROM desks WHERE id = ?",
    ] {
        exec(&mut **tx, b, sql, args![id]).await?;
    }
    hosts::add_load(tx, b, &d.host_id, &demand(&d), -1).await?;
    networks::release_address(tx, b, &d.network_id, &d.ip).await?;
    Ok(true)
}
