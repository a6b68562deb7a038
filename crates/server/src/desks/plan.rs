//! The desk use cases behind the chapter 6.1 handlers: each checks its request against the
//! inventory and the desk state machine, then records its task together with the state
//! machine's first step (one transaction). The work itself runs in [`super::ops`].

use deskd_domain::ids::{DeskId, ImageId, NetworkId, StrategyId};
use std::collections::{HashMap, HashSet};

use deskd_domain::desk_state::{begin, rule, DeskAction};
use deskd_domain::enums::{DeskState, DeskType, ImageState, NetworkState};
use deskd_domain::error::{BatchKind, Error, Missing};
use deskd_domain::model::{now_ms, Image, Network, Strategy, User, ITEM_KEY_TTL_MS};
use deskd_domain::task::{DeskMove, MoveRefusal, NewItem, NewTask};
use deskd_wire::desk::*;
use serde::Serialize;

use super::kinds;
use super::ops::{ActionPlan, CreatePlan, ModifyPlan, CREATE_FAILED};
use crate::fleet::clusters::check_cluster;
use crate::AppState;

/// Most items in one batch (Appendix B item 5).
pub const MAX_BATCH: usize = 1000;
/// Longest caller item id.
pub const MAX_ITEM_ID: usize = 64;
/// Longest remark.
pub const MAX_REMARK: usize = 128;

/// Applies the first step of `action` and records its task, in one transaction.
pub async fn run_action(
    app: &AppState,
    desk_id: &DeskId,
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
    submit_one(app, &desk.id, action, to, kind, &ActionPlan {}, cluster_id).await
}

/// Records a one-item task whose desk moves `from` (the action's states) to `to`.
async fn submit_one<P: Serialize>(
    app: &AppState,
    desk_id: &DeskId,
    action: DeskAction,
    to: DeskState,
    kind: &str,
    payload: &P,
    cluster_id: Option<String>,
) -> Result<String, Error> {
    let task = NewTask {
        id: uuid::Uuid::new_v4().to_string(),
        kind: kind.into(),
        cluster_id,
        items: vec![NewItem::typed(
            desk_id.clone(),
            Some(desk_id.to_string()),
            payload,
        )?],
    };
    let moves = [DeskMove {
        item: 0,
        desk_id: desk_id.clone(),
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

/// Checks a configuration change against the desk (disks only grow) and records its task.
pub async fn modify(
    app: &AppState,
    desk_id: &DeskId,
    body: &ModifyRequest,
) -> Result<String, Error> {
    in_range(body.cpu_cores, 1, 32, "content.cpu_cores")?;
    in_range(body.memory, 1, 64, "content.memory")?;
    in_range(body.system_disk, 20, 2048, "content.system_disk")?;
    if let Some(d) = body.data_disk {
        in_range(d, 20, 2048, "content.data_disk")?;
    }
    let desk = app
        .store
        .get_desk(desk_id)
        .await?
        .ok_or_else(|| Error::not_found(Missing::Desk, desk_id))?;
    let to = begin(&desk.id, desk.state, DeskAction::Modify)?;
    if body.system_disk < desk.system_disk_gb {
        return Err(desk_param(
            "content.system_disk",
            format!(
                "disks cannot shrink: {} GB now, {} GB asked",
                desk.system_disk_gb, body.system_disk
            ),
        ));
    }
    let data_disk = match (body.data_disk, desk.data_disk_gb) {
        (Some(_), 0) => {
            return Err(desk_param(
                "content.data_disk",
                "the desk has no data disk; do not send it",
            ))
        }
        (Some(d), now) if d < now => {
            return Err(desk_param(
                "content.data_disk",
                format!("disks cannot shrink: {now} GB now, {d} GB asked"),
            ))
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
    submit_one(
        app,
        &desk.id,
        DeskAction::Modify,
        to,
        kinds::MODIFY,
        &plan,
        None,
    )
    .await
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

/// Checks every item of a batch create, then places the desks with the task (one
/// transaction): they show as CREATING at once, and each item only has to define its VM.
pub async fn create_batch(
    app: &AppState,
    body: &BatchCreateRequest,
    cluster_id: Option<String>,
    fail_rollback: bool,
) -> Result<String, Error> {
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
    seen.load_users(app, &body.desk_info_arr).await?;
    for (i, (d, id)) in body.desk_info_arr.iter().zip(&ids).enumerate() {
        let mut plan = match plan_create(app, &mut seen, i, d).await? {
            Ok(plan) => plan,
            Err(why) => {
                // An item naming something that does not exist fails alone (a.8, B.6).
                reservations.push(None);
                items.push(NewItem::refused(
                    id.clone(),
                    None,
                    format!("{CREATE_FAILED}{why}"),
                ));
                continue;
            }
        };
        if !plan.desk_name.is_empty() && !names.insert(plan.desk_name.clone()) {
            return Err(Error::invalid(
                format!("content.desk_info_arr[{i}].desk_name"),
                "is not unique in the batch",
            ));
        }
        let explicit = d.id.as_deref().map(str::trim).filter(|s| !s.is_empty());
        plan.item_key = Some(
            explicit
                .map(String::from)
                .unwrap_or_else(|| format!("{task_id}#{i}")),
        );
        plan.fail_rollback = fail_rollback;
        reservations.push(Some(plan.reservation(&task_id, app.cfg.placement_policy)));
        items.push(NewItem::typed(id.clone(), None, &plan)?);
    }
    let task = NewTask {
        id: task_id.clone(),
        kind: kinds::CREATE.into(),
        cluster_id,
        items,
    };
    app.store
        .submit_create_batch(&task, &reservations, CREATE_FAILED)
        .await?;
    app.tasks.wake();
    Ok(task_id)
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

/// Checks one create item against the inventory and fixes its shape from the strategy. An
/// item naming a user, image, strategy or network that does not exist is that item's failure
/// (the inner `Err`, its reason); any other bad value refuses the request.
async fn plan_create(
    app: &AppState,
    seen: &mut Seen,
    i: usize,
    d: &CreateItem,
) -> Result<Result<CreatePlan, String>, Error> {
    let f = |name: &str| format!("content.desk_info_arr[{i}].{name}");
    match refs(app, seen, d, &f).await? {
        Ok(refs) => shape(refs, d, &f).map(Ok),
        Err(missing) => Ok(Err(missing.to_string())),
    }
}

/// What a create item names, read from the inventory.
struct Refs {
    user: User,
    image: Image,
    strategy: Strategy,
    network: Network,
}

/// The user, image, strategy and network an item names; the inner `Err` names the first one
/// that does not exist, with its field.
async fn refs(
    app: &AppState,
    seen: &mut Seen,
    d: &CreateItem,
    f: &impl Fn(&str) -> String,
) -> Result<Result<Refs, Error>, Error> {
    let user_name = d.user_name.trim();
    let Some(user) = seen.users.get(user_name).cloned() else {
        let why = format!("user `{user_name}` does not exist");
        return Ok(Err(Error::invalid(f("user_name"), why)));
    };
    let image_id = ImageId::from(d.image_id.trim());
    let image = memo(&mut seen.images, &image_id, || {
        app.store.get_image(&image_id)
    })
    .await?;
    let Some(image) = image else {
        let why = format!("image `{}` does not exist", d.image_id.trim());
        return Ok(Err(Error::invalid(f("image_id"), why)));
    };
    if image.state != ImageState::AVAILABLE {
        return Err(Error::invalid(
            f("image_id"),
            format!("image `{}` is {}, not AVAILABLE", image.name, image.state),
        ));
    }
    let strategy_id = StrategyId::from(d.desk_strategy_id.trim());
    let strategy = memo(&mut seen.strategies, &strategy_id, || {
        app.store.get_strategy(&strategy_id)
    })
    .await?;
    let Some(strategy) = strategy else {
        let why = format!(
            "desk strategy `{}` does not exist",
            d.desk_strategy_id.trim()
        );
        return Ok(Err(Error::invalid(f("desk_strategy_id"), why)));
    };
    let network_id = NetworkId::from(d.network_id.trim());
    let network = memo(&mut seen.networks, &network_id, || {
        app.store.get_network(&network_id)
    })
    .await?;
    let Some(network) = network else {
        let why = format!("network `{}` does not exist", d.network_id.trim());
        return Ok(Err(Error::invalid(f("network_id"), why)));
    };
    if network.state != NetworkState::AVAILABLE {
        return Err(Error::invalid(
            f("network_id"),
            format!(
                "network `{}` is {}, not AVAILABLE",
                network.name, network.state
            ),
        ));
    }
    Ok(Ok(Refs {
        user,
        image,
        strategy,
        network,
    }))
}

/// The item's shape: its type, name and remark checked, its size from the strategy and image.
fn shape(r: Refs, d: &CreateItem, f: &impl Fn(&str) -> String) -> Result<CreatePlan, Error> {
    let Refs {
        user,
        image,
        strategy,
        network,
    } = r;
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
        desk_type,
        category: image.category,
        cpu_cores: strategy.cpu_cores,
        memory_gb: strategy.memory_gb,
        system_disk_gb: strategy.system_disk_gb.max(image.system_disk_gb),
        data_disk_gb: strategy.data_disk_gb,
        remark,
    })
}

/// Every remark of a batch fits [`MAX_REMARK`].
pub fn check_remarks(items: &[RemarkEditItem]) -> Result<(), Error> {
    for (i, d) in items.iter().enumerate() {
        if d.remark.chars().count() > MAX_REMARK {
            let field = format!("content.desk_info_arr[{i}].remark");
            return Err(Error::invalid(
                field,
                format!("must have at most {MAX_REMARK} characters"),
            ));
        }
    }
    Ok(())
}

/// Records a batch over existing desks, one item per `(caller id, desk id, payload)`. With
/// `delete`, each desk also moves to DELETING in the task's transaction; a refused move is that
/// item's FAILURE.
pub async fn submit_desk_batch<P: Serialize>(
    app: &AppState,
    cluster_id: Option<&str>,
    kind: &str,
    entries: Vec<(Option<String>, DeskId, P)>,
    delete: bool,
) -> Result<DeskTaskData, Error> {
    let cluster_id = check_cluster(app, cluster_id).await?;
    let ids: Vec<_> = entries
        .iter()
        .map(|(id, desk, _)| (id.clone(), desk.trim().to_string()))
        .collect();
    let ids = batch_ids(&ids)?;
    let mut items = Vec::with_capacity(entries.len());
    let mut moves = Vec::new();
    for (i, ((_, desk_id, payload), id)) in entries.into_iter().zip(ids).enumerate() {
        let desk_id = DeskId::from(desk_id.trim());
        if delete {
            let from = rule(DeskAction::Delete).from.to_vec();
            moves.push(DeskMove {
                item: i,
                desk_id: desk_id.clone(),
                from,
                to: DeskState::DELETING,
            });
        }
        items.push(NewItem::typed(id, Some(desk_id.into_string()), &payload)?);
    }
    let task = NewTask {
        id: uuid::Uuid::new_v4().to_string(),
        kind: kind.into(),
        cluster_id: cluster_id.clone(),
        items,
    };
    app.tasks.submit_with_moves(&task, &moves, false).await?;
    Ok(DeskTaskData {
        task_id: task.id,
        cluster_id,
    })
}
