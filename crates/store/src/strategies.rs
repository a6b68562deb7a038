//! Desk strategies (6.1.1, D10) with the number of desks using each.

use async_trait::async_trait;
use deskd_domain::enums::{DeskCategory, DeskType};
use deskd_domain::error::{Missing, Result};
use deskd_domain::ids::StrategyId;
use deskd_domain::model::Strategy;
use deskd_domain::query::{ListQuery, Page};
use deskd_domain::store::{StrategyRow, StrategyStore};
use sqlx::any::AnyRow;

use crate::args;
use crate::db::{exec, row, taken, Arg, Col};
use crate::deletion::{self, Referrer};
use crate::{paging, SqlStore};

const COLS: &str = "s.id, s.name, s.category, s.desk_type, s.cpu_cores, s.memory_gb, \
    s.system_disk_gb, s.data_disk_gb, s.enable_agreement_agency, s.description, s.created_at";
const FROM: &str = "FROM desk_strategies s";

fn strategy_row(r: &AnyRow) -> Result<Strategy> {
    Ok(Strategy {
        id: r.id("id")?,
        name: r.text("name")?,
        category: DeskCategory::parse(&r.text("category")?, "desk_strategies.category")?,
        desk_type: DeskType::parse(&r.text("desk_type")?, "desk_strategies.desk_type")?,
        cpu_cores: r.int("cpu_cores")?,
        memory_gb: r.int("memory_gb")?,
        system_disk_gb: r.int("system_disk_gb")?,
        data_disk_gb: r.int("data_disk_gb")?,
        enable_agreement_agency: r.flag("enable_agreement_agency")?,
        description: r.text("description")?,
        created_at: r.int("created_at")?,
    })
}

/// The column values of a strategy row (create and the inventory load share them).
pub(crate) fn strategy_values(s: &Strategy) -> Vec<(&'static str, Arg)> {
    vec![
        ("id", s.id.as_str().into()),
        ("name", s.name.as_str().into()),
        ("category", s.category.as_str().into()),
        ("desk_type", s.desk_type.as_str().into()),
        ("cpu_cores", s.cpu_cores.into()),
        ("memory_gb", s.memory_gb.into()),
        ("system_disk_gb", s.system_disk_gb.into()),
        ("data_disk_gb", s.data_disk_gb.into()),
        ("enable_agreement_agency", s.enable_agreement_agency.into()),
        ("description", s.description.as_str().into()),
        ("created_at", s.created_at.into()),
    ]
}

#[async_trait]
impl StrategyStore for SqlStore {
    /// 6.1.1: one page of strategies with their desk counts, filtered and sorted in SQL.
    async fn list_strategies(&self, q: &ListQuery) -> Result<Page<StrategyRow>> {
        let cols = format!(
            "{COLS}, (SELECT COUNT(*) FROM desks d WHERE d.strategy_id = s.id) AS desk_num"
        );
        paging::page(&self.read, self.backend, q, &cols, FROM, FROM, |r| {
            Ok(StrategyRow {
                strategy: strategy_row(r)?,
                desk_num: r.int("desk_num")?,
            })
        })
        .await
    }

    async fn get_strategy(&self, id: &StrategyId) -> Result<Option<Strategy>> {
        let sql = format!("SELECT {COLS} {FROM} WHERE s.id = ?");
        row(&self.read, self.backend, &sql, args![id])
            .await?
            .map(|r| strategy_row(&r))
            .transpose()
    }

    async fn create_strategy(&self, s: &Strategy) -> Result<()> {
        crate::db::insert(
            &self.pool,
            self.backend,
            "desk_strategies",
            strategy_values(s),
        )
        .await
        .map_err(taken(Missing::Strategy, &s.name))
    }

    async fn update_strategy(&self, s: &Strategy) -> Result<bool> {
        let n = exec(
            &self.pool,
            self.backend,
            "UPDATE desk_strategies SET name = ?, category = ?, desk_type = ?, cpu_cores = ?, \
             memory_gb = ?, system_disk_gb = ?, data_disk_gb = ?, enable_agreement_agency = ?, \
             description = ? WHERE id = ?",
            args![
                &s.name,
                s.category.as_str(),
                s.desk_type.as_str(),
                s.cpu_cores,
                s.memory_gb,
                s.system_disk_gb,
                s.data_disk_gb,
                s.enable_agreement_agency,
                &s.description,
                &s.id
            ],
        )
        .await
        .map_err(taken(Missing::Strategy, &s.name));
        // A desk record shows its strategy's proxy flag.
        self.after_desk_write(n.map(|n| n == 1))
    }

    async fn delete_strategy(&self, id: &StrategyId) -> Result<bool> {
        let desks = Referrer {
            table: "desks",
            column: "strategy_id",
            noun: "desks",
        };
        let table = ("desk_strategies", Missing::Strategy);
        deletion::delete_unused(&self.pool, self.backend, table, &[desks], id).await
    }
}
