//! HTTP handlers of chapter 6.2 and the desktop-user login. Checks run before anything is
//! written; the asynchronous calls record their task and answer with its id.

use axum::extract::State;
use axum::http::uri::Authority;
use axum::http::{header, HeaderMap};
use axum::{Extension, Json};
use deskd_domain::auth::{hash_password, transport_password, verify_password};
use deskd_domain::enums::{DeskCategory, UserState, UserType};
use deskd_domain::error::{Error, Missing, Result, UserRefusal};
use deskd_domain::ids::UserId;
use deskd_domain::model::{now_ms, GroupTarget, User, UserDeletion, UserView};
use deskd_domain::query::compile;
use deskd_domain::resources::USERS;
use deskd_domain::task::{Event, NewItem, NewTask};
use deskd_domain::users::*;
use deskd_wire::codes;
use deskd_wire::envelope::{Empty, Reply, TaskIdData};
use deskd_wire::paging::{PageData, PageQuery};
use deskd_wire::user::*;

use super::ops::{EditPayload, NewUserPayload, StatePayload};
use super::rules::{self, batch_names};
use super::{global, kinds, save_global};
use crate::http::auth::Caller;
use crate::http::error::ApiResult;
use crate::http::extract::{Content, OptionalContent};
use crate::http::throttle::{logins::LoginAttempt, ClientAddr};
use crate::AppState;

pub(super) type R<T> = ApiResult<Json<Reply<T>>>;

/// Decodes an AES-or-plaintext password field (D6).
async fn transport(app: &AppState, value: &str) -> Result<String> {
    let keys = crate::keys::valid(app.store.as_ref()).await?;
    Ok(transport_password(value, &keys))
}

/// Argon2 work runs in one of the bounded hashing slots ([`crate::http::throttle`]).
async fn hash(app: &AppState, password: String) -> Result<String> {
    app.throttles.hash(move || hash_password(&password)).await?
}

async fn verify(app: &AppState, password: String, stored: String) -> Result<bool> {
    app.throttles
        .hash(move || verify_password(&password, &stored))
        .await
}

async fn user_named(app: &AppState, name: &str) -> Result<User> {
    app.store
        .user_by_name(name)
        .await?
        .ok_or_else(|| Error::not_found(Missing::User, name))
}

async fn view_of(app: &AppState, id: &UserId) -> Result<UserView> {
    app.store
        .user_view(id)
        .await?
        .ok_or_else(|| Error::not_found(Missing::User, id))
}

/// Records a task whose items act on users and answers its id.
async fn submit(app: &AppState, kind: &str, items: Vec<NewItem>) -> R<TaskIdData> {
    let task = NewTask {
        id: uuid::Uuid::new_v4().to_string(),
        kind: kind.into(),
        cluster_id: None,
        items,
    };
    app.tasks.submit(&task).await?;
    Ok(Json(Reply::data(TaskIdData { task_id: task.id })))
}

/// `POST /v1/user/exist` (6.2.1).
pub async fn exist(
    State(app): State<AppState>,
    Content(r): Content<UserNameRequest>,
) -> R<ExistData> {
    let name = r.user_name.trim();
    if name.is_empty() {
        return Err(Error::invalid("content.user_name", "is required").into());
    }
    let user = app.store.user_by_name(name).await?;
    Ok(Json(Reply::data(ExistData {
        exist: user.is_some(),
        user_id: user.map(|u| u.id),
    })))
}

/// `POST /v1/user/passwordKey` (6.2.3, DECISIONS D6).
pub async fn password_key(
    State(app): State<AppState>,
    OptionalContent(_): OptionalContent<Empty>,
) -> R<PasswordKeyData> {
    let key = crate::keys::current(app.store.as_ref()).await?;
    Ok(Json(Reply::data(PasswordKeyData { password_key: key })))
}

/// `POST /v1/user/passwordKey:rotate` (extension, D6): a new key; the previous one keeps
/// decrypting for ten minutes.
pub async fn rotate_password_key(
    State(app): State<AppState>,
    OptionalContent(_): OptionalContent<Empty>,
) -> R<PasswordKeyData> {
    let key = crate::keys::rotate(app.store.as_ref()).await?;
    audit(
        &app,
        "transport_key.rotated",
        "transport_key",
        String::new(),
    )
    .await?;
    Ok(Json(Reply::data(PasswordKeyData { password_key: key })))
}

/// Appends to the audit log.
async fn audit(app: &AppState, kind: &str, subject: &str, detail: String) -> Result<()> {
    app.store
        .record_event(&Event {
            at: now_ms(),
            kind: kind.into(),
            subject: subject.into(),
            task_id: None,
            detail,
        })
        .await
}

/// `POST /v1/user/create` (6.2.4): checked here, inserted by the task item.
pub async fn create(
    State(app): State<AppState>,
    Content(r): Content<CreateUserRequest>,
) -> R<TaskIdData> {
    let g = global(app.store.as_ref()).await?;
    let (mut user, path) = rules::new_user(&r, &g, now_ms())?;
    if app.store.user_by_name(&user.name).await?.is_some() {
        return Err(Error::invalid(
            "content.user_name",
            format!("user `{}` already exists", user.name),
        )
        .into());
    }
    user.password_hash = initial_password(&app, &r, user.user_type, &g).await?;
    let item_id = user.name.clone();
    let payload = NewUserPayload {
        user,
        group_path: path,
    };
    let item = NewItem::typed(item_id, None, &payload)?;
    submit(&app, kinds::CREATE, vec![item]).await
}

/// NORMAL users need a password; visitors may have one; AD and LDAP users are checked by their
/// directory, so nothing is stored for them.
async fn initial_password(
    app: &AppState,
    r: &CreateUserRequest,
    user_type: UserType,
    g: &GlobalStrategy,
) -> Result<String> {
    let given = r.password.as_deref().filter(|p| !p.is_empty());
    match (user_type, given) {
        (UserType::AD | UserType::LDAP, _) | (UserType::VISITOR, None) => Ok(NO_PASSWORD.into()),
        (UserType::NORMAL, None) => Err(Error::invalid(
            "content.password",
            "is required for NORMAL users",
        )),
        (_, Some(p)) => {
            let plain = transport(app, p).await?;
            check_password_policy(&plain, g, "content.password")?;
            hash(app, plain).await
        }
    }
}

/// `POST /v1/user/delete` (6.2.5, DECISIONS D11): refused while the user owns desks.
pub async fn delete(State(app): State<AppState>, Content(r): Content<UserNameRequest>) -> R<()> {
    let name = r.user_name.trim();
    match app.store.delete_user(name).await? {
        UserDeletion::Deleted => {
            audit(&app, "user.deleted", name, String::new()).await?;
            tracing::info!(user = %name, "deleted user");
            Ok(Json(Reply::empty()))
        }
        UserDeletion::Missing => Err(Error::not_found(Missing::User, name).into()),
        UserDeletion::HasDesks(desks) => Err(Error::UserHasDesks {
            user: name.into(),
            desks,
        }
        .into()),
    }
}

/// `POST /v1/user/edit` (6.2.6).
pub async fn edit(
    State(app): State<AppState>,
    Content(r): Content<EditUserRequest>,
) -> R<TaskIdData> {
    let name = r.user_name.trim();
    let user = user_named(&app, name).await?;
    let g = global(app.store.as_ref()).await?;
    let edited = rules::edited(&user, &r, &g, now_ms())?;
    let payload = EditPayload::new(&edited);
    let item = NewItem::typed(user.name.clone(), Some(user.id.clone().into()), &payload)?;
    submit(&app, kinds::EDIT, vec![item]).await
}

/// `POST /v1/user/batch/enableUser` (6.2.7).
pub async fn enable(
    State(app): State<AppState>,
    Content(r): Content<UserBatchRequest>,
) -> R<TaskIdData> {
    state_batch(&app, &r, kinds::ENABLE).await
}

/// `POST /v1/user/batch/disableUser` (6.2.8).
pub async fn disable(
    State(app): State<AppState>,
    Content(r): Content<UserBatchRequest>,
) -> R<TaskIdData> {
    state_batch(&app, &r, kinds::DISABLE).await
}

/// One item per user, its id the user name; an unknown user is that item's FAILURE.
async fn state_batch(app: &AppState, r: &UserBatchRequest, kind: &str) -> R<TaskIdData> {
    let names = batch_names(r.user_arr.iter().map(UserRef::name), "content.user_arr")?;
    let items = names
        .into_iter()
        .map(|user_name| NewItem::typed(user_name.clone(), None, &StatePayload { user_name }))
        .collect::<Result<_, _>>()?;
    submit(app, kind, items).await
}

/// `PUT /v1/user/modify:password` (6.2.9): the outcome is `business_code` in a code-0 reply.
/// Wrong old passwords are throttled like failed logins.
pub async fn change_password(
    State(app): State<AppState>,
    ClientAddr(addr): ClientAddr,
    Content(r): Content<ChangePasswordRequest>,
) -> R<ChangePasswordData> {
    let attempt = app
        .throttles
        .login(addr, &format!("user:{}", r.user_name.trim()))?;
    let user = user_named(&app, r.user_name.trim()).await?;
    stored_password(&user)?;
    let g = global(app.store.as_ref()).await?;
    if g.maintenance_mode {
        return Err(Error::user(
            UserRefusal::Maintenance,
            "the system is in maintenance mode",
        )
        .into());
    }
    let now = now_ms();
    if let Some(minutes) = lock_minutes_left(&user, now) {
        return Ok(Json(Reply::data(locked(minutes))));
    }
    let old = transport(&app, &r.old_password).await?;
    let new = transport(&app, &r.new_password).await?;
    if !verify(&app, old.clone(), user.password_hash.clone()).await? {
        let answer = wrong_password(&app, &user, &g, now).await?;
        if let Some(throttled) = attempt.failed() {
            return Err(throttled.into());
        }
        return Ok(Json(Reply::data(answer)));
    }
    attempt.succeeded();
    check_password_policy(&new, &g, "content.new_password")?;
    if new == old {
        return Err(Error::user(
            UserRefusal::SamePassword,
            "the new password equals the old one",
        )
        .into());
    }
    app.store
        .set_user_password(&user.id, &hash(&app, new).await?)
        .await?;
    tracing::info!(user = %user.name, "changed desktop-user password");
    Ok(Json(Reply::data(ChangePasswordData {
        business_code: 0,
        remaining_times: None,
        pwd_lock_time: None,
    })))
}

/// AD and LDAP users' passwords live in their directory: deskd neither changes nor resets
/// them (23070202 / 23070203).
fn stored_password(user: &User) -> Result<()> {
    match user.user_type {
        UserType::AD => Err(Error::user(
            UserRefusal::AdPassword,
            format!(
                "user {} is an AD user: the password is changed in the domain",
                user.name
            ),
        )),
        UserType::LDAP => Err(Error::user(
            UserRefusal::LdapPassword,
            format!(
                "user {} is an LDAP user: the password is changed in the directory",
                user.name
            ),
        )),
        UserType::NORMAL | UserType::VISITOR => Ok(()),
    }
}

/// `PUT /v1/user/modify:resetPassword` (extension): an operator sets a desktop user's password
/// without knowing the current one, which 6.2.9 needs. The new password passes the same policy
/// as on create (23070204 naming `content.new_password`); AD and LDAP users are refused as in
/// 6.2.9. Like a successful 6.2.9 change it clears the wrong-password count and any lock;
/// nothing else changes: the user's portal sessions and every API token stay valid. Maintenance
/// mode, which stops users changing their own password, does not stop an operator.
pub async fn reset_password(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Content(r): Content<ResetPasswordRequest>,
) -> R<()> {
    let name = r.user_name.trim();
    if name.is_empty() {
        return Err(Error::invalid("content.user_name", "is required").into());
    }
    let user = user_named(&app, name).await?;
    stored_password(&user)?;
    if r.new_password.is_empty() {
        return Err(Error::invalid("content.new_password", "is required").into());
    }
    let g = global(app.store.as_ref()).await?;
    let new = transport(&app, &r.new_password).await?;
    check_password_policy(&new, &g, "content.new_password")?;
    let hashed = hash(&app, new).await?;
    if !app.store.set_user_password(&user.id, &hashed).await? {
        return Err(Error::not_found(Missing::User, name).into());
    }
    audit(
        &app,
        "user.password_reset",
        &user.id,
        format!("by API account {}", caller.account),
    )
    .await?;
    tracing::info!(user = %user.name, account = %caller.account, "reset desktop-user password");
    Ok(Json(Reply::empty()))
}

fn locked(minutes: i64) -> ChangePasswordData {
    ChangePasswordData {
        business_code: codes::USER_LOCKED,
        remaining_times: None,
        pwd_lock_time: Some(minutes),
    }
}

/// Counts a wrong password: 23070208 with the tries left, or 23070207 once the limit is hit.
async fn wrong_password(
    app: &AppState,
    u: &User,
    g: &GlobalStrategy,
    now: i64,
) -> Result<ChangePasswordData> {
    let limit = g.pwd_error_limit.max(1);
    let lock_until = now + g.pwd_lock_time.max(1) * 60_000;
    let after = app
        .store
        .record_password_failure(&u.id, limit, lock_until)
        .await?
        .ok_or_else(|| Error::not_found(Missing::User, &u.name))?;
    if let Some(minutes) = lock_minutes_left(&after, now) {
        audit(
            app,
            "user.locked",
            &u.id,
            format!("{limit} wrong passwords"),
        )
        .await?;
        tracing::warn!(user = %u.name, "desktop user locked after wrong passwords");
        return Ok(locked(minutes));
    }
    Ok(ChangePasswordData {
        business_code: codes::USER_WRONG_PASSWORD,
        remaining_times: Some(limit - after.pwd_failures),
        pwd_lock_time: None,
    })
}

/// `PUT /v1/user/modify:usergroup` (6.2.10, DECISIONS D11).
pub async fn change_group(
    State(app): State<AppState>,
    Content(r): Content<ChangeGroupRequest>,
) -> R<()> {
    let names = batch_names(
        r.user_name_arr.iter().map(String::as_str),
        "content.user_name_arr",
    )?;
    let target = match (
        r.user_group_name.as_deref(),
        r.user_group_id.as_deref().map(str::trim),
    ) {
        (Some(path), None) => GroupTarget::Path(group_path(path, "content.user_group_name")?),
        (None, Some(id)) if !id.is_empty() => GroupTarget::Id(id.into()),
        _ => {
            return Err(Error::invalid(
                "content",
                "give exactly one of user_group_name and user_group_id",
            )
            .into())
        }
    };
    let mut ids = Vec::with_capacity(names.len());
    for n in &names {
        ids.push(user_named(&app, n).await?.id);
    }
    let group = app.store.move_users(&ids, &target).await?;
    for id in &ids {
        audit(&app, "user.moved", id, format!("group {}", group.path)).await?;
    }
    tracing::info!(users = names.len(), group = %group.path, "moved users");
    Ok(Json(Reply::empty()))
}

/// `POST /v1/user/desktop/list` (6.2.11): with `terminal_id` (unified login) the terminal must
/// be logged in as this user, only VDI desks are listed and each carries its cluster.
pub async fn desktops(
    State(app): State<AppState>,
    headers: HeaderMap,
    Content(r): Content<UserDesktopRequest>,
) -> R<Vec<UserDesktop>> {
    let user = user_named(&app, r.user_name.trim()).await?;
    let mut cats = rules::categories(&r.desktop_category_list)?;
    let terminal = r
        .terminal_id
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let origin = match terminal {
        None => None,
        Some(t) => {
            if cats.iter().any(|c| *c != DeskCategory::VDI) {
                return Err(Error::user(
                    UserRefusal::CrossClusterVdiOnly,
                    "cross-cluster listing supports VDI desktops only",
                )
                .into());
            }
            cats = vec![DeskCategory::VDI];
            check_terminal(&app, t, &user).await?;
            Some(origin(&headers, &app))
        }
    };
    Ok(Json(Reply::data(
        desks_of(&app, &user, &cats, origin.as_ref()).await?,
    )))
}

/// The terminal must have a live login as `user`.
async fn check_terminal(app: &AppState, terminal: &str, user: &User) -> Result<()> {
    match app.store.terminal_user(terminal, now_ms()).await? {
        None => Err(Error::user(
            UserRefusal::TerminalLoginExpired,
            format!("terminal {terminal} has no live login"),
        )),
        Some(id) if id != user.id => Err(Error::Refused(format!(
            "terminal {terminal} is logged in as another user"
        ))),
        Some(_) => Ok(()),
    }
}

/// This controller's address as the caller reached it (`Host`), else the listening address;
/// the console proxy (this server too) at the `public_address` setting, else at the same.
fn origin(headers: &HeaderMap, app: &AppState) -> rules::Origin {
    let listen = app.cfg.listen;
    let authority = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.parse::<Authority>().ok());
    let (ip, port) = match authority {
        Some(a) => (
            a.host().trim_matches(|c| c == '[' || c == ']').to_string(),
            a.port_u16().unwrap_or(listen.port()).to_string(),
        ),
        None => (listen.ip().to_string(), listen.port().to_string()),
    };
    let public = app
        .cfg
        .public_address
        .as_deref()
        .and_then(crate::config::split_host_port);
    let (proxy_ip, proxy_port) = match public {
        Some((host, port)) => (host, port.to_string()),
        None => (ip.clone(), port.clone()),
    };
    rules::Origin {
        ip,
        port,
        proxy_ip,
        proxy_port,
    }
}

async fn desks_of(
    app: &AppState,
    user: &User,
    cats: &[DeskCategory],
    origin: Option<&rules::Origin>,
) -> Result<Vec<UserDesktop>> {
    Ok(app
        .store
        .user_desks(&user.id)
        .await?
        .into_iter()
        .filter(|d| cats.is_empty() || cats.contains(&d.desk.category))
        .map(|d| rules::desktop(d, origin))
        .collect())
}

/// `POST /v1/user/list` (6.2.15).
pub async fn list(
    State(app): State<AppState>,
    Content(q): Content<PageQuery>,
) -> R<PageData<UserItem>> {
    let query = compile(&USERS, &q)?;
    let page = app.store.list_users(&query).await?;
    let now = now_ms();
    Ok(Json(Reply::data(PageData {
        total: page.total,
        item_arr: page.items.iter().map(|v| rules::item(v, now)).collect(),
    })))
}

/// `POST /v1/user/detail` (6.2.16): by `userId`, `userName` or both (which must agree).
pub async fn detail(
    State(app): State<AppState>,
    Content(r): Content<UserDetailRequest>,
) -> R<UserDetail> {
    let id = r
        .user_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let name = r
        .user_name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let view = match (id, name) {
        (None, None) => {
            return Err(Error::invalid("content", "userId or userName is required").into())
        }
        (Some(id), name) => {
            let v = view_of(&app, &UserId::from(id)).await?;
            if name.is_some_and(|n| n != v.user.name) {
                return Err(Error::invalid(
                    "content.userName",
                    format!("does not name the user {id}"),
                )
                .into());
            }
            v
        }
        (None, Some(n)) => view_of(&app, &user_named(&app, n).await?.id).await?,
    };
    let item = rules::item(&view, now_ms());
    Ok(Json(Reply::data(UserDetail {
        display_name: item.real_name.clone(),
        user_group_id: item.group_id.clone(),
        uuid: item.id.clone().into(),
        item,
    })))
}

/// `POST /v1/user/login` (extension): a desktop user signs in on a terminal. The password is
/// checked first, so a wrong one reveals nothing about the account's state.
/// Failed tries are throttled per client address, then per user ([`crate::http::throttle`]).
pub async fn login(
    State(app): State<AppState>,
    ClientAddr(addr): ClientAddr,
    Content(r): Content<LoginRequest>,
) -> R<LoginData> {
    let bad = || Error::user(UserRefusal::BadCredentials, "wrong user name or password");
    let attempt = app
        .throttles
        .login(addr, &format!("user:{}", r.user_name.trim()))?;
    let Some(user) = app.store.user_by_name(r.user_name.trim()).await? else {
        // Same work as a real check, so timing does not reveal which users exist.
        hash(&app, r.password.unwrap_or_default()).await?;
        return Err(attempt.failed().unwrap_or_else(bad).into());
    };
    let g = global(app.store.as_ref()).await?;
    let now = now_ms();
    if let Some(minutes) = lock_minutes_left(&user, now) {
        return Err(Error::user(
            UserRefusal::Locked,
            format!("the user is locked for {minutes} more minutes"),
        )
        .into());
    }
    check_login_password(&app, attempt, &user, r.password.as_deref(), &g, now).await?;
    let view = view_of(&app, &user.id).await?;
    login_allowed(&view, now)?;
    second_factor(&user)?;
    let terminal = r
        .terminal_id
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    app.store
        .record_user_login(&user.id, terminal, now, now + TERMINAL_LOGIN_TTL_MS)
        .await?;
    let cats = rules::categories(&r.desktop_category_list)?;
    let desktop_arr = desks_of(&app, &user, &cats, None).await?;
    tracing::info!(user = %user.name, terminal = terminal.unwrap_or("-"), "desktop user logged in");
    Ok(Json(Reply::data(LoginData {
        user_id: user.id,
        user_name: user.name,
        real_name: user.real_name,
        user_type: user.user_type,
        login_time: now,
        desktop_arr,
    })))
}

/// Visitors without a password sign in with none; AD and LDAP users need their directory,
/// which this controller does not reach.
async fn check_login_password(
    app: &AppState,
    attempt: LoginAttempt<'_>,
    u: &User,
    given: Option<&str>,
    g: &GlobalStrategy,
    now: i64,
) -> Result<()> {
    if matches!(u.user_type, UserType::AD | UserType::LDAP) {
        return Err(Error::Refused(format!(
            "{} users sign in through their directory, which is not configured",
            u.user_type
        )));
    }
    if !u.auth.account_password {
        return Err(Error::Refused(format!(
            "account/password authentication is off for user {}",
            u.name
        )));
    }
    let given = given.unwrap_or_default();
    if u.user_type == UserType::VISITOR && u.password_hash == NO_PASSWORD && given.is_empty() {
        return Ok(());
    }
    let plain = transport(app, given).await?;
    if verify(app, plain, u.password_hash.clone()).await? {
        attempt.succeeded();
        return Ok(());
    }
    let after = wrong_password(app, u, g, now).await?;
    let wrong = match after.remaining_times {
        Some(left) => Error::user(
            UserRefusal::BadCredentials,
            format!("wrong user name or password; {left} tries left"),
        ),
        None => Error::user(
            UserRefusal::Locked,
            format!(
                "the user is locked for {} minutes",
                after.pwd_lock_time.unwrap_or(0)
            ),
        ),
    };
    Err(attempt.failed().unwrap_or(wrong))
}

/// deskd verifies no second factor: a user who must present one is not signed in on the
/// password alone.
fn second_factor(u: &User) -> Result<()> {
    let a = &u.auth;
    let needed: Vec<&str> = [
        (a.otp, "OTP"),
        (a.sms, "SMS"),
        (a.radius, "Radius"),
        (a.hardware, "hardware fingerprint"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| *name)
    .collect();
    if needed.is_empty() {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "user {} also needs {} authentication, which this controller does not verify",
        u.name,
        needed.join(", ")
    )))
}

fn login_allowed(v: &UserView, now: i64) -> Result<()> {
    let (u, g) = (&v.user, &v.group);
    if u.state == UserState::DISABLE {
        return Err(Error::Refused(format!("user {} is disabled", u.name)));
    }
    if is_expired(u, g, now) {
        return Err(Error::Refused(format!(
            "user {} expired at {}",
            u.name,
            render_expire_str(effective_expire(u, g))
        )));
    }
    if is_invalid(u, g, now) {
        return Err(Error::Refused(format!(
            "user {} is invalid: no login for more than {} days",
            u.name,
            effective_invalid_time(u, g)
        )));
    }
    Ok(())
}

/// `POST /v1/user/globalStrategy/detail` (extension).
pub async fn global_detail(
    State(app): State<AppState>,
    OptionalContent(_): OptionalContent<Empty>,
) -> R<GlobalStrategy> {
    Ok(Json(Reply::data(global(app.store.as_ref()).await?)))
}

/// `PUT /v1/user/globalStrategy/edit` (extension): replaces the strategy; absent keys take
/// their defaults.
pub async fn global_edit(
    State(app): State<AppState>,
    Content(g): Content<GlobalStrategy>,
) -> R<GlobalStrategy> {
    let p = &g.password_policy;
    if p.min_length < 1 || p.max_length < p.min_length || p.max_length > 128 {
        return Err(Error::invalid(
            "content.password_policy",
            "needs 1 ≤ min_length ≤ max_length ≤ 128",
        )
        .into());
    }
    if p.min_classes > 4 {
        return Err(Error::invalid(
            "content.password_policy.min_classes",
            "must be between 0 and 4",
        )
        .into());
    }
    if !(1..=100).contains(&g.pwd_error_limit) || !(1..=1440).contains(&g.pwd_lock_time) {
        return Err(Error::invalid(
            "content",
            "pwd_error_limit must be 1..100 and pwd_lock_time 1..1440 minutes",
        )
        .into());
    }
    save_global(app.store.as_ref(), &g).await?;
    tracing::info!("changed the user global strategy");
    Ok(Json(Reply::data(g)))
}
