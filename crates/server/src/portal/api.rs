//! Handlers of the desktop-user portal. Each one checks the desk or task belongs to the
//! session's user, then calls the same code the API routes call (the user login with its
//! lockout, the desk start, the task view, the console ticket), so the rules are written once.

use axum::extract::{Path, State};
use axum::Json;
use deskd_domain::desk_state::DeskAction;
use deskd_domain::error::{Error, Missing};
use deskd_domain::ids::DeskId;
use deskd_wire::desk::{ConsoleTicket, DeskActionRequest, DeskTaskData};
use deskd_wire::envelope::{Empty, Reply};
use deskd_wire::portal::{PortalLoginData, PortalLoginRequest};
use deskd_wire::task::{TaskDetail, TaskDetailRequest};
use deskd_wire::user::{LoginRequest, UserDesktop};

use super::sessions::PortalUser;
use crate::desks::api::ActionTarget;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Content, OptionalContent};
use crate::http::throttle::ClientAddr;
use crate::AppState;

type R<T> = ApiResult<Json<Reply<T>>>;

/// What the web front end names itself as the terminal of a portal login.
pub const WEB_TERMINAL: &str = "web-portal";

/// `POST /v1/portal/login` (extension): the user's own password, checked by the desktop-user
/// login of `POST /v1/user/login` (lockout after wrong tries, disabled/expired users, second
/// factors), then a portal session.
pub async fn login(
    State(app): State<AppState>,
    client: ClientAddr,
    Content(r): Content<PortalLoginRequest>,
) -> R<PortalLoginData> {
    let Json(reply) = crate::users::api::login(
        State(app.clone()),
        client,
        Content(LoginRequest {
            user_name: r.user_name,
            password: r.password,
            terminal_id: Some(WEB_TERMINAL.into()),
            desktop_category_list: Vec::new(),
        }),
    )
    .await?;
    let d = reply
        .content
        .data
        .ok_or_else(|| Error::internal("the user login answered without data"))?;
    let token = app.portal.open(d.user_id.clone(), app.cfg.token_ttl);
    Ok(Json(Reply::data(PortalLoginData {
        token,
        token_type: "Bearer".into(),
        expires_in: app.cfg.token_ttl.as_secs() as i64,
        user_id: d.user_id,
        user_name: d.user_name,
        real_name: d.real_name,
        desktop_arr: d.desktop_arr,
    })))
}

/// `POST /v1/portal/logout` (extension): ends the session.
pub async fn logout(
    State(app): State<AppState>,
    user: PortalUser,
    OptionalContent(_): OptionalContent<Empty>,
) -> R<()> {
    app.portal.close(&user.token_hash);
    Ok(Json(Reply::empty()))
}

/// `POST /v1/portal/desktop/list` (extension): the user's desks with their states.
pub async fn desktops(
    State(app): State<AppState>,
    user: PortalUser,
    OptionalContent(_): OptionalContent<Empty>,
) -> R<Vec<UserDesktop>> {
    let desks = app.store.user_desks(&user.user_id).await?;
    Ok(Json(Reply::data(
        desks
            .into_iter()
            .map(|d| crate::users::rules::desktop(d, None))
            .collect(),
    )))
}

/// The desk `desk_id` if it is the user's; someone else's desk is "not found" to them.
async fn own_desk(app: &AppState, user: &PortalUser, desk_id: &DeskId) -> Result<DeskId, ApiError> {
    match app.store.get_desk(desk_id).await? {
        Some(d) if d.user_id == user.user_id => Ok(d.id),
        _ => Err(Error::not_found(Missing::Desk, desk_id).into()),
    }
}

/// `PUT /v1/portal/desk/{desk_id}:start` (extension): starts one of the user's desks.
pub async fn start(
    State(app): State<AppState>,
    user: PortalUser,
    target: ActionTarget,
    OptionalContent(_): OptionalContent<Empty>,
) -> R<DeskTaskData> {
    if target.action != DeskAction::Start {
        return Err(Error::invalid("path", "the portal starts desks only (:start)").into());
    }
    let id = own_desk(&app, &user, &target.desk_id).await?;
    let task_id = crate::desks::plan::run_action(&app, &id, DeskAction::Start, None).await?;
    app.portal.own_task(&user.token_hash, &task_id);
    Ok(Json(Reply::data(DeskTaskData {
        task_id,
        cluster_id: None,
    })))
}

/// `GET /v1/portal/task/{task_id}/detail` (extension): a task this session started.
pub async fn task(
    State(app): State<AppState>,
    user: PortalUser,
    Path(task_id): Path<String>,
) -> R<TaskDetail> {
    let id = task_id.trim().to_string();
    if !app.portal.owns_task(&user.token_hash, &id) {
        return Err(Error::not_found(Missing::Task, id).into());
    }
    crate::tasks::api::detail(
        State(app),
        Path(id),
        OptionalContent(TaskDetailRequest::default()),
    )
    .await
}

/// `PUT /v1/portal/desk/{desk_id}/console` (extension): a console ticket for the user's
/// running desk (see [`crate::desks::console`]).
pub async fn console(
    State(app): State<AppState>,
    user: PortalUser,
    Path(desk_id): Path<DeskId>,
) -> R<ConsoleTicket> {
    let id = own_desk(&app, &user, &DeskId::from(desk_id.trim())).await?;
    crate::desks::console::ticket(
        State(app),
        Path(id),
        OptionalContent(DeskActionRequest::default()),
    )
    .await
}
