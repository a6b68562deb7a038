//! HTTP handlers of chapter 6.1. They validate, apply the state machine's first step together
//! with the task row (one transaction) and answer with the task id; the work runs in [`super::ops`].

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, Request, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use deskd_domain::desk_state::{begin, rule, DeskAction};
use deskd_domain::enums::{DeskState, DeskType, ImageState};
use deskd_domain::error::{BatchKind, Error, Missing};
use deskd_domain::model::{now_ms, DeskView, Image, Network, Strategy, User, ITEM_KEY_TTL_MS};
use deskd_domain::query::compile;
use deskd_domain::resources::{DESKS, OS_FILES};
use deskd_domain::task::{DeskMove, MoveRefusal, NewItem, NewTask};
use deskd_wire::desk::*;
use deskd_wire::envelope::Reply;
use deskd_wire::os_file::OsFileItem;
use deskd_wire::paging::{PageData, PageQuery};
use serde_json::json;

use super::kinds;
use super::ops::{CreatePlan, ModifyPlan, CREATE_FAILED};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Content, OptionalContent};
use crate::handlers::check_cluster;
use crate::AppState;

/// Most items in one batch (Appendix B item 5).
pub const MAX_BATCH: usize = 1000;
/// Longest caller item id.
pub const MAX_ITEM_ID: usize = 64;
/// Longest remark.
pub const MAX_REMARK: usize = 128;

/// The `:verb` actions on one desk: the verb in the URL, the action, and the methods accepted
/// (the documented one first; PUT and POST both where the document's method is inferred, D2).
pub const ACTIONS: &[(&str, DeskAction, &[Method])] = &[
    ("start", DeskAction::Start, &[Method::PUT, Method::POST]),
    ("shutdown", DeskAction::Shutdown, &[Method::PUT]),
    ("powerOff", DeskAction::PowerOff, &[Method::PUT]),
    ("restart", DeskAction::Restart, &[Method::PUT, Method::POST]),
];

/// `PUT /v1/desk:pagequery` (6.1.2). The rendered page is reused until a desk changes (see
/// [`crate::reply_cache`]): polling dashboards ask the same page again and again.
pub async fn pagequery(
    State(app): State<AppState>,
    Content(q): Content<PageQuery>,
) -> ApiResult<Response> {
    let query = compile(&DESKS, &q)?;
    let key = format!("{query:?}");
    let generation = app.store.desk_generation();
    let cached = app
        .cfg
        .page_cache
        .then(|| app.desk_pages.get(&key, generation));
    if let Some(body) = cached.flatten() {
        return Ok(json_response(body));
    }
    let page = app.store.list_desks(&query).await?;
    let reply = Reply::data(PageData {
        total: page.total,
        item_arr: page.items.into_iter().map(item).collect::<Vec<_>>(),
    });
    let body = Bytes::from(
        serde_json::to_vec(&reply)
            .map_err(|e| Error::internal(format!("rendering a page: {e}")))?,
    );
    if app.cfg.page_cache {
        app.desk_pages.put(key, generation, body.clone());
    }
    Ok(json_response(body))
}

fn json_response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn item(v: DeskView) -> DeskItem {
    let d = v.desk;
    DeskItem {
        id: d.id.clone(),
        desk_id: d.id,
        desk_name: d.name,
        desk_state: d.state.as_str().into(),
        desk_type: d.desk_type.as_str().into(),
        desk_category: d.category.as_str().into(),
        enable_custom: d.enable_custom,
        need_refresh_strategy: d.need_refresh_strategy,
        image_id: d.image_id,
        image_name: v.image_name,
        desk_strategy_id: d.strategy_id,
        network_id: d.network_id,
        cpu_cores: d.cpu_cores,
        memory: d.memory_gb,
        system_disk: d.system_disk_gb,
        data_disk: d.data_disk_gb,
        user_id: d.user_id,
        user_name: v.user_name,
        user_type: v.user_type,
        vgpu_type: d.vgpu_type,
        cluster_id: d.cluster_id,
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
    Path(desk_id): Path<String>,
    OptionalContent(body): OptionalContent<DeskActionRequest>,
) -> ApiResult<Json<Reply<DeskDetail>>> {
    check_cluster(&app, body.cluster_id.as_deref()).await?;
    let enable_proxy = flag(body.enable_proxy.as_ref(), "content.enable_proxy")?.unwrap_or(false);
    let id = desk_id.trim();
    let v = app
        .store
        .desk_view(id)
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

/// `PUT /v1/desk/{desk_id}:start|shutdown|powerOff|restart`: one route, split here because the
/// router cannot put a parameter and a suffix in one path segment.
pub async fn action(
    State(app): State<AppState>,
    Path(target): Path<String>,
    req: Request,
) -> Result<axum::response::Response, ApiError> {
    use axum::extract::FromRequest;
    use axum::response::IntoResponse;
    let Some((desk_id, verb)) = target.rsplit_once(':') else {
        return Err(ApiError::NoRoute(req.uri().path().to_string()));
    };
    let Some((_, act, methods)) = ACTIONS.iter().find(|(v, _, _)| *v == verb) else {
        return Err(ApiError::NoRoute(req.uri().path().to_string()));
    };
    if !methods.contains(req.method()) {
        return Err(ApiError::BadMethod(req.method().to_string()));
    }
    let OptionalContent(body) =
        OptionalContent::<DeskActionRequest>::from_request(req, &app).await?;
    let cluster_id = check_cluster(&app, body.cluster_id.as_deref()).await?;
    let desk_id = desk_id.trim();
    let task_id = run_action(&app, desk_id, *act, cluster_id.clone()).await?;
    Ok(match act {
        DeskAction::Restart => Json(Reply::empty()).into_response(),
        _ => Json(Reply::data(DeskTaskData {
            task_id,
            cluster_id,
        }))
        .into_response(),
    })
}

/// Applies the first step of `action` and records its task, in one transaction.
async fn run_action(
    app: &AppState,
    desk_id: &str,
    action: DeskAction,
    cluster_id: Option<String>,
) -> Result<String, Error> {
    let desk = app
        .store
        .get_desk(desk_id)
        .await?
        .ok_or_else(|| Error::not_found(Missing::Desk, desk_id))?;
    let to = begin(&desk.id, desk.state, action)?;
    let kind = match action {
        DeskAction::Start => kinds::START,
        DeskAction::Shutdown => kinds::SHUTDOWN,
        DeskAction::PowerOff => kinds::POWER_OFF,
        DeskAction::Restart => kinds::RESTART,
        DeskAction::Modify => kinds::MODIFY,
        DeskAction::Delete => kinds::DELETE,
    };
    submit_one(app, &desk.id, action, to, kind, json!({}), cluster_id).await
}

/// Records a one-item task whose desk moves `from` (the action's states) to `to`.
async fn submit_one(
    app: &AppState,
    desk_id: &str,
    action: DeskAction,
    to: DeskState,
    kind: &str,
    payload: serde_json::Value,
    cluster_id: Option<String>,
) -> Result<String, Error> {
    let task = NewTask {
        id: uuid::Uuid::new_v4().to_string(),
        kind: kind.into(),
        cluster_id,
        items: vec![NewItem::run(desk_id, Some(desk_id.to_string()), payload)],
    };
    let moves = [DeskMove {
        item: 0,
        desk_id: desk_id.to_string(),
        from: rule(action).from.to_vec(),
        to,
    }];
    let refused = app.tasks.submit_with_moves(&task, &moves, true).await?;
    match refused.into_iter().next().flatten() {
        None => Ok(task.id),
        Some(MoveRefusal::Missing) => Err(Error::not_found(Missing::Desk, desk_id)),
        Some(MoveRefusal::State(s)) => Err(Error::StateForbids {
            desk: desk_id.to_string(),
            state: s.to_string(),
            action: action.name().to_string(),
        }),
    }
}

fn desk_param(field: &str, rule: impl std::fmt::Display) -> Error {
    Error::DeskParam {
        field: field.to_string(),
        rule: rule.to_string(),
    }
}

fn in_range(v: i64, lo: i64, hi: i64, field: &str) -> Result<(), Error> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(desk_param(
            field,
            format!("must be between {lo} and {hi}, got {v}"),
        ))
    }
}

/// `PUT /v1/desk/{desk_id}/configuration/modify` (6.1.4).
pub async fn modify(
    State(app): State<AppState>,
    Path(desk_id): Path<String>,
    Content(body): Content<ModifyRequest>,
) -> ApiResult<Json<Reply<DeskTaskData>>> {
    in_range(body.cpu_cores, 1, 32, "content.cpu_cores")?;
    in_range(body.memory, 1, 64, "content.memory")?;
    in_range(body.system_disk, 20, 2048, "content.system_disk")?;
    if let Some(d) = body.data_disk {
        in_range(d, 20, 2048, "content.data_disk")?;
    }
    let id = desk_id.trim();
    let desk = app
        .store
        .get_desk(id)
        .await?
        .ok_or_else(|| Error::not_found(Missing::Desk, id))?;
    let to = begin(&desk.id, desk.state, DeskAction::Modify)?;
    if body.system_disk < desk.system_disk_gb {
        return Err(desk_param(
            "content.system_disk",
            format!(
                "disks cannot shrink: {} GB now, {} GB asked",
                desk.system_disk_gb, body.system_disk
            ),
        )
        .into());
    }
    let data_disk = match (body.data_disk, desk.data_disk_gb) {
        (Some(_), 0) => {
            return Err(desk_param(
                "content.data_disk",
                "the desk has no data disk; do not send it",
            )
            .into())
        }
        (Some(d), now) if d < now => {
            return Err(desk_param(
                "content.data_disk",
                format!("disks cannot shrink: {now} GB now, {d} GB asked"),
            )
            .into())
        }
        (Some(d), _) => d,
        (None, now) => now,
    };
    let plan = ModifyPlan {
        cpu_cores: body.cpu_cores,
        memory_gb: body.memory,
        system_disk_gb: body.system_disk,
        data_disk_gb: data_disk,
    };
    let payload = serde_json::to_value(plan).map_err(Error::internal)?;
    let task_id = submit_one(
        &app,
        &desk.id,
        DeskAction::Modify,
        to,
        kinds::MODIFY,
        payload,
        None,
    )
    .await?;
    Ok(Json(Reply::data(DeskTaskData {
        task_id,
        cluster_id: None,
    })))
}

/// Batch size and unique caller ids; returns each item's id: the caller's, or for an item
/// without one `fallback` (made unique against the caller's ids).
fn batch_ids(ids: &[(Option<String>, String)]) -> Result<Vec<String>, Error> {
    if ids.is_empty() {
        return Err(Error::invalid(
            "content.desk_info_arr",
            "must hold at least one item",
        ));
    }
    if ids.len() > MAX_BATCH {
        return Err(Error::BatchTooLarge {
            kind: BatchKind::Desk,
            max: MAX_BATCH,
            got: ids.len(),
        });
    }
    let given = |id: &Option<String>| {
        id.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let mut seen = HashSet::new();
    for (i, (id, _)) in ids.iter().enumerate() {
        let Some(id) = given(id) else { continue };
        let field = format!("content.desk_info_arr[{i}].id");
        if id.chars().count() > MAX_ITEM_ID {
            return Err(Error::invalid(
                field,
                format!("must have at most {MAX_ITEM_ID} characters"),
            ));
        }
        if !seen.insert(id.clone()) {
            return Err(Error::invalid(
                field,
                format!("`{id}` is not unique in the batch"),
            ));
        }
    }
    let mut out = Vec::with_capacity(ids.len());
    for (id, fallback) in ids {
        let id = match given(id) {
            Some(id) => id,
            None => {
                let mut candidate = fallback.clone();
                while !seen.insert(candidate.clone()) {
                    candidate.push('\'');
                }
                candidate
            }
        };
        out.push(id);
    }
    Ok(out)
}

/// `POST /v1/desk/batch/create` (6.1.10): every item is checked before any work starts.
pub async fn batch_create(
    State(app): State<AppState>,
    Content(body): Content<BatchCreateRequest>,
) -> ApiResult<Json<Reply<DeskTaskData>>> {
    let cluster_id = check_cluster(&app, body.cluster_id.as_deref()).await?;
    let fail_rollback =
        flag(body.fail_rollback.as_ref(), "content.fail_rollback")?.unwrap_or(false);
    let ids: Vec<_> = body
        .desk_info_arr
        .iter()
        .enumerate()
        .map(|(i, d)| (d.id.clone(), format!("item-{}", i + 1)))
        .collect();
    let ids = batch_ids(&ids)?;
    let task_id = uuid::Uuid::new_v4().to_string();
    app.store
        .prune_desk_requests(now_ms() - ITEM_KEY_TTL_MS)
        .await?;
    let mut names = HashSet::new();
    let mut items = Vec::with_capacity(ids.len());
    let mut reservations = Vec::with_capacity(ids.len());
    let mut seen = Seen::default();
    seen.load_users(&app, &body.desk_info_arr).await?;
    for (i, (d, id)) in body.desk_info_arr.iter().zip(&ids).enumerate() {
        let mut plan = plan_create(&app, &mut seen, i, d).await?;
        if !plan.desk_name.is_empty() && !names.insert(plan.desk_name.clone()) {
            return Err(Error::invalid(
                format!("content.desk_info_arr[{i}].desk_name"),
                "is not unique in the batch",
            )
            .into());
        }
        let explicit = d.id.as_deref().map(str::trim).filter(|s| !s.is_empty());
        plan.item_key = Some(
            explicit
                .map(String::from)
                .unwrap_or_else(|| format!("{task_id}#{i}")),
        );
        plan.fail_rollback = fail_rollback;
        reservations.push(Some(plan.reservation(&task_id, app.cfg.placement_policy)));
        items.push(NewItem::run(
            id.clone(),
            None,
            serde_json::to_value(&plan).map_err(Error::internal)?,
        ));
    }
    let task = NewTask {
        id: task_id.clone(),
        kind: kinds::CREATE.into(),
        cluster_id: cluster_id.clone(),
        items,
    };
    // The desks are placed now, with the task, in one transaction: they show as CREATING at
    // once, and each item only has to define its VM.
    app.store
        .submit_create_batch(&task, &reservations, CREATE_FAILED)
        .await?;
    app.tasks.wake();
    Ok(Json(Reply::data(DeskTaskData {
        task_id,
        cluster_id,
    })))
}

/// The users, images, strategies and networks a batch names, each read once: a batch of 1000
/// desks usually names a handful of images, strategies and networks, and its users are read
/// together up front.
#[derive(Default)]
struct Seen {
    users: HashMap<String, User>,
    images: HashMap<String, Option<Image>>,
    strategies: HashMap<String, Option<Strategy>>,
    networks: HashMap<String, Option<Network>>,
}

impl Seen {
    /// Reads every user the batch names in a few round trips.
    async fn load_users(&mut self, app: &AppState, items: &[CreateItem]) -> Result<(), Error> {
        let names: HashSet<String> = items
            .iter()
            .map(|d| d.user_name.trim().to_string())
            .collect();
        let names: Vec<String> = names.into_iter().collect();
        for u in app.store.users_by_names(&names).await? {
            self.users.insert(u.name.clone(), u);
        }
        Ok(())
    }
}

/// The cached row for `key`, loaded on first use.
async fn memo<T: Clone, F>(
    cache: &mut HashMap<String, Option<T>>,
    key: &str,
    load: impl FnOnce() -> F,
) -> Result<Option<T>, Error>
where
    F: std::future::Future<Output = Result<Option<T>, Error>>,
{
    if let Some(v) = cache.get(key) {
        return Ok(v.clone());
    }
    let v = load().await?;
    cache.insert(key.to_string(), v.clone());
    Ok(v)
}

/// Checks one create item against the inventory and fixes its shape from the strategy.
async fn plan_create(
    app: &AppState,
    seen: &mut Seen,
    i: usize,
    d: &CreateItem,
) -> Result<CreatePlan, Error> {
    let f = |name: &str| format!("content.desk_info_arr[{i}].{name}");
    let user_name = d.user_name.trim();
    let user = seen.users.get(user_name).cloned().ok_or_else(|| {
        Error::invalid(f("user_name"), format!("user `{user_name}` does not exist"))
    })?;
    let image_id = d.image_id.trim();
    let image = memo(&mut seen.images, image_id, || app.store.get_image(image_id))
        .await?
        .ok_or_else(|| {
            Error::invalid(
                f("image_id"),
                format!("image `{}` does not exist", d.image_id.trim()),
            )
        })?;
    if image.state != ImageState::AVAILABLE {
        return Err(Error::invalid(
            f("image_id"),
            format!("image `{}` is {}, not AVAILABLE", image.name, image.state),
        ));
    }
    let strategy_id = d.desk_strategy_id.trim();
    let strategy = memo(&mut seen.strategies, strategy_id, || {
        app.store.get_strategy(strategy_id)
    })
    .await?
    .ok_or_else(|| {
        Error::invalid(
            f("desk_strategy_id"),
            format!(
                "desk strategy `{}` does not exist",
                d.desk_strategy_id.trim()
            ),
        )
    })?;
    let network_id = d.network_id.trim();
    let network = memo(&mut seen.networks, network_id, || {
        app.store.get_network(network_id)
    })
    .await?
    .ok_or_else(|| {
        Error::invalid(
            f("network_id"),
            format!("network `{}` does not exist", d.network_id.trim()),
        )
    })?;
    if network.state != "AVAILABLE" {
        return Err(Error::invalid(
            f("network_id"),
            format!(
                "network `{}` is {}, not AVAILABLE",
                network.name, network.state
            ),
        ));
    }
    let desk_type = match d.desk_type.as_deref() {
        Some(t) => DeskType::parse(t, &f("desk_type"))?,
        None => strategy.desk_type,
    };
    let desk_name = d
        .desk_name
        .as_deref()
        .map(str::trim)
        .unwrap_or("")
        .to_string();
    if !desk_name.is_empty() {
        deskd_domain::naming::validate_desk_name(&desk_name).map_err(|_| {
            Error::invalid(
                f("desk_name"),
                "must be 1 to 64 letters, digits, `_`, `-` or `.`, not starting with `_` or `-`",
            )
        })?;
    }
    let remark = d.remark.clone().unwrap_or_default();
    if remark.chars().count() > MAX_REMARK {
        return Err(Error::invalid(
            f("remark"),
            format!("must have at most {MAX_REMARK} characters"),
        ));
    }
    Ok(CreatePlan {
        item_key: None,
        fail_rollback: false,
        desk_name,
        user_id: user.id,
        user_name: user.name,
        image_id: image.id,
        strategy_id: strategy.id,
        network_id: network.id,
        cluster_id: network.cluster_id,
        desk_type: desk_type.as_str().into(),
        category: image.category.as_str().into(),
        cpu_cores: strategy.cpu_cores,
        memory_gb: strategy.memory_gb,
        system_disk_gb: strategy.system_disk_gb.max(image.system_disk_gb),
        data_disk_gb: strategy.data_disk_gb,
        remark,
    })
}

/// `POST /v1/desk/batch/delete` (6.1.11): each desk moves to DELETING in the same transaction
/// that records the task; a desk that is missing or busy is that item's FAILURE.
pub async fn batch_delete(
    State(app): State<AppState>,
    Content(body): Content<BatchDeleteRequest>,
) -> ApiResult<Json<Reply<DeskTaskData>>> {
    let entries = body
        .desk_info_arr
        .into_iter()
        .map(|d| (d.id, d.desk_id, json!({})))
        .collect();
    submit_desk_batch(
        &app,
        body.cluster_id.as_deref(),
        kinds::DELETE,
        entries,
        true,
    )
    .await
}

/// `POST /v1/desk/strategy/batch/edit` (6.1.18).
pub async fn batch_strategy(
    State(app): State<AppState>,
    Content(body): Content<BatchStrategyEditRequest>,
) -> ApiResult<Json<Reply<DeskTaskData>>> {
    let entries = body
        .desk_info_arr
        .into_iter()
        .map(|d| {
            (
                d.id,
                d.desk_id,
                json!({"strategy_id": d.strategy_id.trim()}),
            )
        })
        .collect();
    submit_desk_batch(
        &app,
        body.cluster_id.as_deref(),
        kinds::STRATEGY,
        entries,
        false,
    )
    .await
}

/// `POST /v1/desk/remark/batch/edit` (6.1.19).
pub async fn batch_remark(
    State(app): State<AppState>,
    Content(body): Content<BatchRemarkEditRequest>,
) -> ApiResult<Json<Reply<DeskTaskData>>> {
    for (i, d) in body.desk_info_arr.iter().enumerate() {
        if d.remark.chars().count() > MAX_REMARK {
            let field = format!("content.desk_info_arr[{i}].remark");
            return Err(Error::invalid(
                field,
                format!("must have at most {MAX_REMARK} characters"),
            )
            .into());
        }
    }
    let entries = body
        .desk_info_arr
        .into_iter()
        .map(|d| (d.id, d.desk_id, json!({"remark": d.remark})))
        .collect();
    submit_desk_batch(
        &app,
        body.cluster_id.as_deref(),
        kinds::REMARK,
        entries,
        false,
    )
    .await
}

/// Records a batch over existing desks, one item per `(caller id, desk id, payload)`. With
/// `delete`, each desk also moves to DELETING in the task's transaction; a refused move is that
/// item's FAILURE.
async fn submit_desk_batch(
    app: &AppState,
    cluster_id: Option<&str>,
    kind: &str,
    entries: Vec<(Option<String>, String, serde_json::Value)>,
    delete: bool,
) -> ApiResult<Json<Reply<DeskTaskData>>> {
    let cluster_id = check_cluster(app, cluster_id).await?;
    let ids: Vec<_> = entries
        .iter()
        .map(|(id, desk, _)| (id.clone(), desk.trim().to_string()))
        .collect();
    let ids = batch_ids(&ids)?;
    let mut items = Vec::with_capacity(entries.len());
    let mut moves = Vec::new();
    for (i, ((_, desk_id, payload), id)) in entries.into_iter().zip(ids).enumerate() {
        let desk_id = desk_id.trim().to_string();
        if delete {
            let from = rule(DeskAction::Delete).from.to_vec();
            moves.push(DeskMove {
                item: i,
                desk_id: desk_id.clone(),
                from,
                to: DeskState::DELETING,
            });
        }
        items.push(NewItem::run(id, Some(desk_id), payload));
    }
    let task = NewTask {
        id: uuid::Uuid::new_v4().to_string(),
        kind: kind.into(),
        cluster_id: cluster_id.clone(),
        items,
    };
    app.tasks.submit_with_moves(&task, &moves, false).await?;
    Ok(Json(Reply::data(DeskTaskData {
        task_id: task.id,
        cluster_id,
    })))
}

/// `PUT /v1/osFile:pagequery` (6.1.16).
pub async fn os_files(
    State(app): State<AppState>,
    Content(q): Content<PageQuery>,
) -> ApiResult<Json<Reply<PageData<OsFileItem>>>> {
    let query = compile(&OS_FILES, &q)?;
    let page = app.store.list_os_files(&query).await?;
    let item_arr = page
        .items
        .into_iter()
        .map(|f| OsFileItem {
            id: f.id,
            cbb_image_format: f.format.as_str().into(),
            image_disk_type: f.disk_type.as_str().into(),
            image_file_name: f.name,
            image_file_size: f.size_bytes,
            image_file_state: f.state.as_str().into(),
            upload_time: f.created_at,
            virtual_size: f.virtual_size_bytes,
            os_name: f.os_name.as_str().into(),
            sha256: f.sha256,
            storage_pool_id: f.storage_pool_id,
        })
        .collect();
    Ok(Json(Reply::data(PageData {
        total: page.total,
        item_arr,
    })))
}
