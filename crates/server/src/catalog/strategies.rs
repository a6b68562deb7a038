//! Desk strategies: the 6.1.1 list, and create, edit and delete (extensions, [`crate::crud`]).

use async_trait::async_trait;
use axum::extract::State;
use axum::Json;
use deskd_domain::enums::{DeskCategory, DeskType};
use deskd_domain::error::{Missing, Result};
use deskd_domain::ids::StrategyId;
use deskd_domain::model::{now_ms, Strategy};
use deskd_domain::platform::{self as rules, required, within};
use deskd_domain::query::compile;
use deskd_domain::resources::STRATEGIES;
use deskd_domain::store::StrategyRow;
use deskd_wire::envelope::Reply;
use deskd_wire::inventory::StrategyRequest;
use deskd_wire::paging::{PageData, PageQuery};
use deskd_wire::strategy::StrategyItem;

use crate::crud::{or, Managed};
use crate::http::error::ApiResult;
use crate::http::extract::Content;
use crate::{new_id, AppState};

/// `PUT /v1/desk_strategy:pagequery`.
pub async fn pagequery(
    State(app): State<AppState>,
    Content(q): Content<PageQuery>,
) -> ApiResult<Json<Reply<PageData<StrategyItem>>>> {
    let query = compile(&STRATEGIES, &q)?;
    let page = app.store.list_strategies(&query).await?;
    Ok(Json(Reply::data(PageData {
        total: page.total,
        item_arr: page.items.into_iter().map(item).collect(),
    })))
}

fn item(r: StrategyRow) -> StrategyItem {
    let s = r.strategy;
    StrategyItem {
        desk_strategy_id: s.id.clone().into(),
        id: s.id.into(),
        desk_strategy_name: s.name,
        desk_category: s.category,
        desk_type: s.desk_type,
        cpu_cores: s.cpu_cores,
        memory: s.memory_gb,
        system_disk: s.system_disk_gb,
        data_disk: s.data_disk_gb,
        enable_agreement_agency: s.enable_agreement_agency,
        description: s.description,
        desk_num: r.desk_num,
        create_time: s.created_at,
    }
}

#[async_trait]
impl Managed for Strategy {
    type Request = StrategyRequest;
    type Id = StrategyId;
    const WHAT: Missing = Missing::Strategy;
    const NOUN: &'static str = "desk strategy";
    const CCP: bool = false;

    fn id(&self) -> &str {
        &self.id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn request_id(r: &StrategyRequest) -> Option<&str> {
        r.id.as_deref()
    }

    fn blank(r: &StrategyRequest) -> Result<Strategy> {
        Ok(Strategy {
            id: new_id(),
            name: required(r.desk_strategy_name.clone(), "content.desk_strategy_name")?,
            category: DeskCategory::parse(
                &required(r.desk_category.clone(), "content.desk_category")?,
                "content.desk_category",
            )?,
            desk_type: DeskType::parse(
                &required(r.desk_type.clone(), "content.desk_type")?,
                "content.desk_type",
            )?,
            cpu_cores: required(r.cpu_cores, "content.cpu_cores")?,
            memory_gb: required(r.memory, "content.memory")?,
            system_disk_gb: required(r.system_disk, "content.system_disk")?,
            data_disk_gb: 0,
            enable_agreement_agency: false,
            description: String::new(),
            created_at: now_ms(),
        })
    }

    /// Applies a request to a strategy (a blank one on create) and checks the result.
    fn apply(r: &StrategyRequest, mut s: Strategy) -> Result<Strategy> {
        if let Some(n) = &r.desk_strategy_name {
            s.name = rules::name(n, "content.desk_strategy_name")?;
        }
        s.category = or(r.desk_category.as_deref(), s.category, |v| {
            DeskCategory::parse(v, "content.desk_category").map_err(deskd_domain::Error::from)
        })?;
        s.desk_type = or(r.desk_type.as_deref(), s.desk_type, |v| {
            DeskType::parse(v, "content.desk_type").map_err(deskd_domain::Error::from)
        })?;
        s.cpu_cores = within(
            r.cpu_cores.unwrap_or(s.cpu_cores),
            rules::STRATEGY_CPU,
            "content.cpu_cores",
        )?;
        s.memory_gb = within(
            r.memory.unwrap_or(s.memory_gb),
            rules::STRATEGY_MEMORY_GB,
            "content.memory",
        )?;
        s.system_disk_gb = within(
            r.system_disk.unwrap_or(s.system_disk_gb),
            rules::STRATEGY_SYSTEM_DISK_GB,
            "content.system_disk",
        )?;
        s.data_disk_gb = within(
            r.data_disk.unwrap_or(s.data_disk_gb),
            rules::STRATEGY_DATA_DISK_GB,
            "content.data_disk",
        )?;
        s.enable_agreement_agency = r
            .enable_agreement_agency
            .unwrap_or(s.enable_agreement_agency);
        if let Some(d) = &r.description {
            s.description = rules::description(d, "content.description")?;
        }
        Ok(s)
    }

    async fn get(app: &AppState, id: &StrategyId) -> Result<Option<Strategy>> {
        app.store.get_strategy(id).await
    }

    async fn insert(app: &AppState, s: &Strategy) -> Result<()> {
        app.store.create_strategy(s).await
    }

    async fn update(app: &AppState, s: &Strategy) -> Result<bool> {
        app.store.update_strategy(s).await
    }

    async fn delete(app: &AppState, id: &StrategyId) -> Result<bool> {
        app.store.delete_strategy(id).await
    }
}
