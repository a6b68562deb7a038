//! HTTP handlers of chapter 6.1: each extracts its request, calls the use case in
//! [`super::plan`] and answers with the task id; the work runs in [`super::ops`].

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::Method;
use axum::Json;
use deskd_domain::desk_state::DeskAction;
use deskd_domain::error::{Error, Missing};
use deskd_domain::ids::{DeskId, StrategyId};
use deskd_domain::model::DeskView;
use deskd_domain::query::compile;
use deskd_domain::resources::DESKS;
use deskd_wire::desk::*;
use deskd_wire::envelope::Reply;
use deskd_wire::paging::{PageData, PageQuery};

use super::kinds;
use super::ops::{ActionPlan, RemarkPlan, StrategyPlan};
use super::plan::{self, submit_desk_batch};
use crate::fleet::clusters::check_cluster;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Content, OptionalContent};
use crate::http::reply_cache::Rendered;
use crate::http::routes::Part;
use crate::AppState;

type TaskReply = ApiResult<Json<Reply<DeskTaskData>>>;

/// The `:verb` actions on one desk: the verb in the URL, the action, and the documented method
/// (the router adds POST where the document's method is [inferred], D2).
pub const ACTIONS: &[(&str, DeskAction, &[Method])] = &[
    ("start", DeskAction::Start, &[Method::PUT]),
    ("shutdown", DeskAction::Shutdown, &[Method::PUT]),
    ("powerOff", DeskAction::PowerOff, &[Method::PUT]),
    ("restart", DeskAction::Restart, &[Method::PUT]),
];

/// `PUT /v1/desk:pagequery` (6.1.2). The rendered page is reused until a desk changes (see
/// [`crate::http::reply_cache`]): polling dashboards ask the same page again and again.
pub async fn pagequery(
    State(app): State<AppState>,
    Content(q): Content<PageQuery>,
) -> ApiResult<Rendered<Reply<PageData<DeskItem>>>> {
    let query = compile(&DESKS, &q)?;
    let key = format!("{query:?}");
    let generation = app.store.desk_generation();
    let cached = app
        .cfg
        .page_cache
        .then(|| app.desk_pages.get(&key, generation));
    if let Some(body) = cached.flatten() {
        return Ok(Rendered::reuse(body));
    }
    let page = app.store.list_desks(&query).await?;
    let reply = Rendered::render(&Reply::data(PageData {
        total: page.total,
        item_arr: page.items.into_iter().map(item).collect::<Vec<_>>(),
    }))?;
    if app.cfg.page_cache {
        app.desk_pages.put(key, generation, reply.bytes().clone());
    }
    Ok(reply)
}

fn item(v: DeskView) -> DeskItem {
    let d = v.desk;
    DeskItem {
        id: d.id.clone(),
        desk_id: d.id,
        desk_name: d.name,
        desk_state: d.state,
        desk_type: d.desk_type,
        desk_category: d.category,
        enable_custom: d.enable_custom,
        need_refresh_strategy: d.need_refresh_strategy,
        image_id: d.image_id,
        image_name: v.image_name,
        desk_strategy_id: d.strategy_id.into(),
        network_id: d.network_id.into(),
        cpu_cores: d.cpu_cores,
        memory: d.memory_gb,
        system_disk: d.system_disk_gb,
        data_disk: d.data_disk_gb,
        user_id: d.user_id,
        user_name: v.user_name,
        user_type: v.user_type,
        vgpu_type: d.vgpu_type,
        cluster_id: d.cluster_id.into(),
        cluster_name: v.cluster_name,
        desktop_pool_type: d.desktop_pool_type,
        host_id: d.host_id,
        host_name: v.host_name,
        ip: d.ip,
        mac: d.mac,
        terminal_ip: d.terminal_ip,
        remark: d.remark,
        error_message: d.error_reason,
        create_time: d.created_at,
    }
}

/// `PUT /v1/desk/{desk_id}/detail` (page 37 of the document).
pub async fn detail(
    State(app): State<AppState>,
    Path(desk_id): Path<DeskId>,
    OptionalContent(body): OptionalContent<DeskActionRequest>,
) -> ApiResult<Json<Reply<DeskDetail>>> {
    check_cluster(&app, body.cluster_id.as_deref()).await?;
    let enable_proxy = flag(body.enable_proxy.as_ref(), "content.enable_proxy")?.unwrap_or(false);
    let id = DeskId::from(desk_id.trim());
    let v = app
        .store
        .desk_view(&id)
        .await?
        .ok_or_else(|| Error::not_found(Missing::Desk, id))?;
    let agency = v.enable_agreement_agency;
    let i = item(v);
    Ok(Json(Reply::data(DeskDetail {
        desk_id: i.desk_id,
        desk_name: i.desk_name,
        desk_state: i.desk_state,
        desk_type: i.desk_type,
        remark: i.remark,
        enable_agreement_agency: agency,
        desktop_category: i.desk_category,
        user_id: i.user_id,
        user_name: i.user_name,
        cluster_id: i.cluster_id,
        cluster_name: i.cluster_name,
        host_id: i.host_id,
        host_name: i.host_name,
        image_id: i.image_id,
        image_name: i.image_name,
        desk_strategy_id: i.desk_strategy_id,
        ip: i.ip,
        mac: i.mac,
        cpu_cores: i.cpu_cores,
        memory: i.memory,
        system_disk: i.system_disk,
        data_disk: i.data_disk,
        enable_proxy,
        error_message: i.error_message,
        create_time: i.create_time,
    })))
}

/// A boolean given as `true`/`false` or `"TRUE"`/`"FALSE"` (D4).
fn flag(v: Option<&serde_json::Value>, field: &str) -> Result<Option<bool>, Error> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(Error::invalid(field, "must be true or false")),
    }
}

/// The desk and the action of `/v1/desk/{desk_id}:verb`: the router cannot put a parameter and
/// a suffix in one path segment, so it hands over `desk_id:verb`, split here. A verb that is
/// not an action is an unknown path.
pub struct ActionTarget {
    pub desk_id: DeskId,
    pub action: DeskAction,
}

impl<S: Send + Sync> FromRequestParts<S> for ActionTarget {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let path = parts.uri.path().to_string();
        let no_route = || ApiError::NoRoute(path.clone());
        let Path(target) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| no_route())?;
        let (desk_id, verb) = target.rsplit_once(':').ok_or_else(no_route)?;
        let (_, action, _) = ACTIONS
            .iter()
            .find(|(v, _, _)| *v == verb)
            .ok_or_else(no_route)?;
        Ok(ActionTarget {
            desk_id: DeskId::from(desk_id.trim()),
            action: *action,
        })
    }
}

impl Part for ActionTarget {}

/// `PUT /v1/desk/{desk_id}:start|shutdown|powerOff` (6.1.6–6.1.8): answers with the task.
pub async fn act(
    State(app): State<AppState>,
    target: ActionTarget,
    OptionalContent(body): OptionalContent<DeskActionRequest>,
) -> TaskReply {
    let cluster_id = check_cluster(&app, body.cluster_id.as_deref()).await?;
    let task_id =
        plan::run_action(&app, &target.desk_id, target.action, cluster_id.clone()).await?;
    Ok(Json(Reply::data(DeskTaskData {
        task_id,
        cluster_id,
    })))
}

/// `PUT /v1/desk/{desk_id}:restart` (6.1.9): a synchronous reply without data.
pub async fn restart(
    State(app): State<AppState>,
    target: ActionTarget,
    OptionalContent(body): OptionalContent<DeskActionRequest>,
) -> ApiResult<Json<Reply<()>>> {
    let cluster_id = check_cluster(&app, body.cluster_id.as_deref()).await?;
    plan::run_action(&app, &target.desk_id, DeskAction::Restart, cluster_id).await?;
    Ok(Json(Reply::empty()))
}

/// `PUT /v1/desk/{desk_id}/configuration/modify` (6.1.4).
pub async fn modify(
    State(app): State<AppState>,
    Path(desk_id): Path<DeskId>,
    Content(body): Content<ModifyRequest>,
) -> TaskReply {
    let task_id = plan::modify(&app, &DeskId::from(desk_id.trim()), &body).await?;
    Ok(Json(Reply::data(DeskTaskData {
        task_id,
        cluster_id: None,
    })))
}

/// `POST /v1/desk/batch/create` (6.1.10): every item is checked before any work starts.
pub async fn batch_create(
    State(app): State<AppState>,
    Content(body): Content<BatchCreateRequest>,
) -> TaskReply {
    let cluster_id = check_cluster(&app, body.cluster_id.as_deref()).await?;
    let fail_rollback =
        flag(body.fail_rollback.as_ref(), "content.fail_rollback")?.unwrap_or(false);
    let task_id = plan::create_batch(&app, &body, cluster_id.clone(), fail_rollback).await?;
    Ok(Json(Reply::data(DeskTaskData {
        task_id,
        cluster_id,
    })))
}

/// `POST /v1/desk/batch/delete` (6.1.11): each desk moves to DELETING in the same transaction
/// that records the task; a desk that is missing or busy is that item's FAILURE.
pub async fn batch_delete(
    State(app): State<AppState>,
    Content(body): Content<BatchDeleteRequest>,
) -> TaskReply {
    let entries = body
        .desk_info_arr
        .into_iter()
        .map(|d| (d.id, d.desk_id, ActionPlan {}))
        .collect();
    let d = submit_desk_batch(
        &app,
        body.cluster_id.as_deref(),
        kinds::DELETE,
        entries,
        true,
    )
    .await?;
    Ok(Json(Reply::data(d)))
}

/// `POST /v1/desk/strategy/batch/edit` (6.1.18).
pub async fn batch_strategy(
    State(app): State<AppState>,
    Content(body): Content<BatchStrategyEditRequest>,
) -> TaskReply {
    let entries = body
        .desk_info_arr
        .into_iter()
        .map(|d| {
            let strategy_id = StrategyId::from(d.strategy_id.trim());
            (d.id, d.desk_id, StrategyPlan { strategy_id })
        })
        .collect();
    let d = submit_desk_batch(
        &app,
        body.cluster_id.as_deref(),
        kinds::STRATEGY,
        entries,
        false,
    )
    .await?;
    Ok(Json(Reply::data(d)))
}

/// `POST /v1/desk/remark/batch/edit` (6.1.19).
pub async fn batch_remark(
    State(app): State<AppState>,
    Content(body): Content<BatchRemarkEditRequest>,
) -> TaskReply {
    plan::check_remarks(&body.desk_info_arr)?;
    let entries = body
        .desk_info_arr
        .into_iter()
        .map(|d| (d.id, d.desk_id, RemarkPlan { remark: d.remark }))
        .collect();
    let d = submit_desk_batch(
        &app,
        body.cluster_id.as_deref(),
        kinds::REMARK,
        entries,
        false,
    )
    .await?;
    Ok(Json(Reply::data(d)))
}
