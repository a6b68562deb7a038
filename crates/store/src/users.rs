//! Desktop users and user groups (chapter 6.2): rows, group paths created on demand, deletion
//! guarded by desk ownership, lockout counters and terminal logins.

use deskd_domain::enums::*;
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::model::*;
use deskd_domain::query::{ListQuery, Page};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Executor, Transaction};

use crate::args;
use crate::db::{db_err, exec, row, rows, Backend, Col};
use crate::inventory::{desk_row, insert};
use crate::paging;

/// Group columns joined onto a user row, prefixed `g_`.
const GROUP_COLS: &str = "g.id AS g_id, g.name AS g_name, g.parent_id AS g_parent_id, \
    g.path AS g_path, g.created_at AS g_created_at, \
    g.account_expire_date AS g_account_expire_date, g.invalid_time AS g_invalid_time";
const VIEW_FROM: &str = "FROM users u JOIN user_groups g ON g.id = u.group_id";
const DESK_NUM: &str = "(SELECT COUNT(*) FROM desks d WHERE d.user_id = u.id) AS desktop_num";

pub async fn insert_group<'c, E>(e: E, b: Backend, g: &UserGroup) -> Result<()>
where
    E: Executor<'c, Database = Any>,
{
    insert(
        e,
        b,
        "user_groups",
        vec![
            ("id", g.id.as_str().into()),
            ("name", g.name.as_str().into()),
            ("parent_id", g.parent_id.clone().into()),
            ("path", g.path.as_str().into()),
            ("created_at", g.created_at.into()),
            ("account_expire_date", g.account_expire_date.into()),
            ("invalid_time", g.invalid_time.into()),
        ],
    )
    .await
}

pub async fn insert_user_row<'c, E>(e: E, b: Backend, u: &User) -> Result<()>
where
    E: Executor<'c, Database = Any>,
{
    let a = &u.auth;
    insert(
        e,
        b,
        "users",
        vec![
            ("id", u.id.as_str().into()),
            ("name", u.name.as_str().into()),
            ("real_name", u.real_name.as_str().into()),
            ("user_type", u.user_type.as_str().into()),
            ("state", u.state.as_str().into()),
            ("group_id", u.group_id.as_str().into()),
            ("password_hash", u.password_hash.as_str().into()),
            ("email", u.email.as_str().into()),
            ("phone", u.phone.as_str().into()),
            ("description", u.description.as_str().into()),
            ("created_at", u.created_at.into()),
            ("account_expire_date", u.account_expire_date.into()),
            ("invalid_time", u.invalid_time.into()),
            (
                "login_identity_level",
                u.login_identity_level.as_str().into(),
            ),
            ("open_account_password", a.account_password.into()),
            ("open_cas", a.cas.into()),
            ("open_hardware", a.hardware.into()),
            ("max_hardware_num", a.max_hardware_num.into()),
            ("open_otp", a.otp.into()),
            ("open_sms", a.sms.into()),
            ("open_radius", a.radius.into()),
            ("pwd_failures", u.pwd_failures.into()),
            ("locked_until", u.locked_until.into()),
            ("last_login_at", u.last_login_at.into()),
        ],
    )
    .await
}

/// A `users` row; `p` prefixes nothing today but keeps the mapping next to its columns.
pub fn user_row(r: &AnyRow, p: &str) -> Result<User> {
    let c = |n: &str| format!("{p}{n}");
    Ok(User {
        id: r.text(&c("id"))?,
        name: r.text(&c("name"))?,
        real_name: r.text(&c("real_name"))?,
        user_type: UserType::parse(&r.text(&c("user_type"))?, "users.user_type")?,
        state: UserState::parse(&r.text(&c("state"))?, "users.state")?,
        group_id: r.text(&c("group_id"))?,
        password_hash: r.text(&c("password_hash"))?,
        email: r.text(&c("email"))?,
        phone: r.text(&c("phone"))?,
        description: r.text(&c("description"))?,
        created_at: r.int(&c("created_at"))?,
        account_expire_date: r.opt_int(&c("account_expire_date"))?,
        invalid_time: r.opt_int(&c("invalid_time"))?,
        login_identity_level: r.text(&c("login_identity_level"))?,
        auth: AuthSwitches {
            account_password: r.flag(&c("open_account_password"))?,
            cas: r.flag(&c("open_cas"))?,
            hardware: r.flag(&c("open_hardware"))?,
            max_hardware_num: r.int(&c("max_hardware_num"))?,
            otp: r.flag(&c("open_otp"))?,
            sms: r.flag(&c("open_sms"))?,
            radius: r.flag(&c("open_radius"))?,
        },
        pwd_failures: r.int(&c("pwd_failures"))?,
        locked_until: r.int(&c("locked_until"))?,
        last_login_at: r.int(&c("last_login_at"))?,
    })
}

fn group_row(r: &AnyRow, p: &str) -> Result<UserGroup> {
    let c = |n: &str| format!("{p}{n}");
    Ok(UserGroup {
        id: r.text(&c("id"))?,
        name: r.text(&c("name"))?,
        parent_id: r.opt_text(&c("parent_id"))?,
        path: r.text(&c("path"))?,
        created_at: r.int(&c("created_at"))?,
        account_expire_date: r.int(&c("account_expire_date"))?,
        invalid_time: r.int(&c("invalid_time"))?,
    })
}

fn view_row(r: &AnyRow) -> Result<UserView> {
    Ok(UserView {
        user: user_row(r, "")?,
        group: group_row(r, "g_")?,
        desktop_num: r.int("desktop_num")?,
    })
}

pub async fn list_groups(pool: &AnyPool, b: Backend) -> Result<Vec<GroupRow>> {
    let sql = "SELECT g.*, (SELECT COUNT(*) FROM users u WHERE u.group_id = g.id) AS user_num \
               FROM user_groups g ORDER BY g.created_at, g.id";
    rows(pool, b, sql, vec![])
        .await?
        .iter()
        .map(|r| {
            Ok(GroupRow {
                group: group_row(r, "")?,
                user_num: r.int("user_num")?,
            })
        })
        .collect()
}

pub async fn group_by_id<'c, E>(e: E, b: Backend, id: &str) -> Result<Option<UserGroup>>
where
    E: Executor<'c, Database = Any>,
{
    row(e, b, "SELECT * FROM user_groups WHERE id = ?", args![id])
        .await?
        .map(|r| group_row(&r, ""))
        .transpose()
}

async fn group_by_path(
    tx: &mut Transaction<'_, Any>,
    b: Backend,
    path: &str,
) -> Result<Option<UserGroup>> {
    row(
        &mut **tx,
        b,
        "SELECT * FROM user_groups WHERE path = ?",
        args![path],
    )
    .await?
    .map(|r| group_row(&r, ""))
    .transpose()
}

pub async fn create_group(pool: &AnyPool, b: Backend, g: &UserGroup) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    if let Some(parent) = &g.parent_id {
        if group_by_id(&mut *tx, b, parent).await?.is_none() {
            return Err(Error::not_found(Missing::UserGroup, parent));
        }
    }
    insert_group(&mut *tx, b, g).await.map_err(|e| match e {
        Error::Refused(_) => Error::Refused(format!("user group `{}` already exists", g.path)),
        e => e,
    })?;
    tx.commit().await.map_err(db_err)
}

/// The group at a normalised `/` path, creating every missing level; a new group copies its
/// parent's expiry and inactivity settings.
async fn ensure_path(
    tx: &mut Transaction<'_, Any>,
    b: Backend,
    path: &str,
    now: i64,
) -> Result<UserGroup> {
    let mut parent: Option<UserGroup> = None;
    let mut prefix = String::new();
    for seg in path.split('/') {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(seg);
        let g = UserGroup {
            id: uuid::Uuid::new_v4().to_string(),
            name: seg.to_string(),
            parent_id: parent.as_ref().map(|p| p.id.clone()),
            path: prefix.clone(),
            created_at: now,
            account_expire_date: parent.as_ref().map_or(0, |p| p.account_expire_date),
            invalid_time: parent.as_ref().map_or(0, |p| p.invalid_time),
        };
        exec(
            &mut **tx,
            b,
            "INSERT INTO user_groups (id, name, parent_id, path, created_at, account_expire_date, invalid_time) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO NOTHING",
            args![&g.id, &g.name, g.parent_id.clone(), &g.path, g.created_at, g.account_expire_date, g.invalid_time],
        )
        .await?;
        parent = group_by_path(tx, b, &prefix).await?;
    }
    parent.ok_or_else(|| Error::internal(format!("group path `{path}` was not created")))
}

pub async fn insert_user(pool: &AnyPool, b: Backend, u: &User, group_path: &str) -> Result<bool> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    if user_by_id(&mut *tx, b, &u.id).await?.is_some() {
        return Ok(false);
    }
    let group = ensure_path(&mut tx, b, group_path, now_ms()).await?;
    let user = User {
        group_id: group.id,
        ..u.clone()
    };
    insert_user_row(&mut *tx, b, &user)
        .await
        .map_err(|e| match e {
            Error::Refused(_) => Error::Refused(format!("user `{}` already exists", u.name)),
            e => e,
        })?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

pub async fn user_by_id<'c, E>(e: E, b: Backend, id: &str) -> Result<Option<User>>
where
    E: Executor<'c, Database = Any>,
{
    row(e, b, "SELECT * FROM users WHERE id = ?", args![id])
        .await?
        .map(|r| user_row(&r, ""))
        .transpose()
}

pub async fn user_view(pool: &AnyPool, b: Backend, id: &str) -> Result<Option<UserView>> {
    let sql = format!("SELECT u.*, {GROUP_COLS}, {DESK_NUM} {VIEW_FROM} WHERE u.id = ?");
    row(pool, b, &sql, args![id])
        .await?
        .map(|r| view_row(&r))
        .transpose()
}

pub async fn list_users(pool: &AnyPool, b: Backend, q: &ListQuery) -> Result<Page<UserView>> {
    let cols = format!("u.*, {GROUP_COLS}, {DESK_NUM}");
    paging::page(pool, b, q, &cols, VIEW_FROM, "FROM users u", view_row).await
}

pub async fn delete_user(pool: &AnyPool, b: Backend, name: &str) -> Result<UserDeletion> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let Some(r) = row(
        &mut *tx,
        b,
        "SELECT id FROM users WHERE name = ?",
        args![name],
    )
    .await?
    else {
        return Ok(UserDeletion::Missing);
    };
    let id = r.text("id")?;
    let desks = rows(
        &mut *tx,
        b,
        &format!(
            "SELECT name FROM desks WHERE user_id = ? ORDER BY {}",
            b.text_order("name")
        ),
        args![&id],
    )
    .await?
    .iter()
    .map(|r| r.text("name"))
    .collect::<Result<Vec<_>>>()?;
    if !desks.is_empty() {
        return Ok(UserDeletion::HasDesks(desks));
    }
    exec(
        &mut *tx,
        b,
        "DELETE FROM user_terminals WHERE user_id = ?",
        args![&id],
    )
    .await?;
    exec(&mut *tx, b, "DELETE FROM users WHERE id = ?", args![&id]).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(UserDeletion::Deleted)
}

pub async fn update_profile(pool: &AnyPool, b: Backend, u: &User) -> Result<bool> {
    let a = &u.auth;
    let n = exec(
        pool,
        b,
        "UPDATE users SET real_name = ?, email = ?, phone = ?, description = ?, \
         account_expire_date = ?, invalid_time = ?, login_identity_level = ?, \
         open_account_password = ?, open_cas = ?, open_hardware = ?, max_hardware_num = ?, \
         open_otp = ?, open_sms = ?, open_radius = ? WHERE id = ?",
        args![
            &u.real_name,
            &u.email,
            &u.phone,
            &u.description,
            u.account_expire_date,
            u.invalid_time,
            &u.login_identity_level,
            a.account_password,
            a.cas,
            a.hardware,
            a.max_hardware_num,
            a.otp,
            a.sms,
            a.radius,
            &u.id
        ],
    )
    .await?;
    Ok(n > 0)
}

pub async fn set_state(pool: &AnyPool, b: Backend, name: &str, state: UserState) -> Result<bool> {
    let n = exec(
        pool,
        b,
        "UPDATE users SET state = ? WHERE name = ?",
        args![state.as_str(), name],
    )
    .await?;
    Ok(n > 0)
}

pub async fn move_users(
    pool: &AnyPool,
    b: Backend,
    ids: &[String],
    target: &GroupTarget,
) -> Result<UserGroup> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let group = match target {
        GroupTarget::Path(p) => ensure_path(&mut tx, b, p, now_ms()).await?,
        GroupTarget::Id(id) => group_by_id(&mut *tx, b, id)
            .await?
            .ok_or_else(|| Error::not_found(Missing::UserGroup, id))?,
    };
    for id in ids {
        let n = exec(
            &mut *tx,
            b,
            "UPDATE users SET group_id = ? WHERE id = ?",
            args![&group.id, id],
        )
        .await?;
        if n == 0 {
            return Err(Error::not_found(Missing::User, id));
        }
    }
    tx.commit().await.map_err(db_err)?;
    Ok(group)
}

pub async fn record_failure(
    pool: &AnyPool,
    b: Backend,
    id: &str,
    limit: i64,
    lock_until: i64,
) -> Result<Option<User>> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    exec(
        &mut *tx,
        b,
        "UPDATE users SET pwd_failures = pwd_failures + 1 WHERE id = ?",
        args![id],
    )
    .await?;
    exec(
        &mut *tx,
        b,
        "UPDATE users SET locked_until = ?, pwd_failures = 0 WHERE id = ? AND pwd_failures >= ?",
        args![lock_until, id, limit],
    )
    .await?;
    let u = user_by_id(&mut *tx, b, id).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(u)
}

pub async fn set_password(pool: &AnyPool, b: Backend, id: &str, hash: &str) -> Result<bool> {
    let n = exec(
        pool,
        b,
        "UPDATE users SET password_hash = ?, pwd_failures = 0, locked_until = 0 WHERE id = ?",
        args![hash, id],
    )
    .await?;
    Ok(n > 0)
}

pub async fn record_login(
    pool: &AnyPool,
    b: Backend,
    id: &str,
    terminal: Option<&str>,
    now: i64,
    until: i64,
) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    exec(
        &mut *tx,
        b,
        "UPDATE users SET last_login_at = ?, pwd_failures = 0 WHERE id = ?",
        args![now, id],
    )
    .await?;
    if let Some(t) = terminal {
        exec(
            &mut *tx,
            b,
            "INSERT INTO user_terminals (terminal_id, user_id, login_at, expires_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (terminal_id) DO UPDATE SET user_id = excluded.user_id, \
             login_at = excluded.login_at, expires_at = excluded.expires_at",
            args![t, id, now, until],
        )
        .await?;
        crate::terminals::logged_in(&mut *tx, b, t, now).await?;
    }
    tx.commit().await.map_err(db_err)
}

pub async fn terminal_user(
    pool: &AnyPool,
    b: Backend,
    terminal: &str,
    now: i64,
) -> Result<Option<String>> {
    row(
        pool,
        b,
        "SELECT user_id FROM user_terminals WHERE terminal_id = ? AND expires_at > ?",
        args![terminal, now],
    )
    .await?
    .map(|r| r.text("user_id"))
    .transpose()
}

pub async fn user_desks(pool: &AnyPool, b: Backend, user_id: &str) -> Result<Vec<UserDesk>> {
    let sql = "SELECT d.*, i.name AS i_name, i.os_name AS i_os_name, \
               s.enable_agreement_agency AS s_agency, c.name AS c_name \
               FROM desks d JOIN images i ON i.id = d.image_id \
               JOIN desk_strategies s ON s.id = d.strategy_id \
               JOIN clusters c ON c.id = d.cluster_id \
               WHERE d.user_id = ? ORDER BY d.created_at, d.id";
    rows(pool, b, sql, args![user_id])
        .await?
        .iter()
        .map(|r| {
            Ok(UserDesk {
                desk: desk_row(r)?,
                image_name: r.text("i_name")?,
                os_name: OsName::parse(&r.text("i_os_name")?, "images.os_name")?,
                enable_agreement_agency: r.flag("s_agency")?,
                cluster_name: r.text("c_name")?,
            })
        })
        .collect()
}
