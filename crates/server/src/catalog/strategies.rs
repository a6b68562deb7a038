//! 6.1.1 desk strategies.

use axum::extract::State;
use axum::Json;
use deskd_domain::query::compile;
use deskd_domain::resources::STRATEGIES;
use deskd_domain::store::StrategyRow;
use deskd_wire::envelope::Reply;
use deskd_wire::paging::{PageData, PageQuery};
use deskd_wire::strategy::StrategyItem;

use crate::error::ApiResult;
use crate::extract::Content;
use crate::AppState;

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
        desk_strategy_id: s.id.clone(),
        id: s.id,
        desk_strategy_name: s.name,
        desk_category: s.category.as_str().into(),
        desk_type: s.desk_type.as_str().into(),
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
