//! Desktop users (chapter 6.2): rows and views, deletion guarded by desk ownership, lockout
//! counters and terminal logins.

use async_trait::async_trait;
use deskd_domain::enums::{OsName, UserState, UserType};
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::ids::UserId;
use deskd_domain::model::*;
use deskd_domain::query::{ListQuery, Page};
use deskd_domain::store::UserStore;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::args;
use crate::db::{begin, db_err, exec, insert, row, rows, taken, Arg, Backend, Col};
use crate::groups::{self, group_row};
use crate::{desks, paging, terminals, SqlStore};

const COLS: &str = "u.id, u.name, u.real_name, u.user_type, u.state, u.group_id, \
    u.password_hash, u.email, u.phone, u.description, u.created_at, u.account_expire_date, \
    u.invalid_time, u.login_identity_level, u.open_account_password, u.open_cas, \
    u.open_hardware, u.max_hardware_num, u.open_otp, u.open_sms, u.open_radius, \
    u.pwd_failures, u.locked_until, u.last_login_at";
const VIEW_FROM: &str = "FROM users u JOIN user_groups g ON g.id = u.group_id";
const DESK_NUM: &str = "(SELECT COUNT(*) FROM desks d WHERE d.user_id = u.id) AS desktop_num";

fn user_row(r: &AnyRow) -> Result<User> {
    Ok(User {
        id: r.id("id")?,
        name: r.text("name")?,
        real_name: r.text("real_name")?,
        user_type: UserType::parse(&r.text("user_type")?, "users.user_type")?,
        state: UserState::parse(&r.text("state")?, "users.state")?,
        group_id: r.id("group_id")?,
        password_hash: r.text("password_hash")?,
        email: r.text("email")?,
        phone: r.text("phone")?,
        description: r.text("description")?,
        created_at: r.int("created_at")?,
        account_expire_date: r.opt_int("account_expire_date")?,
        invalid_time: r.opt_int("invalid_time")?,
        login_identity_level: r.text("login_identity_level")?,
        auth: AuthSwitches {
            account_password: r.flag("open_account_password")?,
            cas: r.flag("open_cas")?,
            hardware: r.flag("open_hardware")?,
            max_hardware_num: r.int("max_hardware_num")?,
            otp: r.flag("open_otp")?,
            sms: r.flag("open_sms")?,
            radius: r.flag("open_radius")?,
        },
        pwd_failures: r.int("pwd_failures")?,
        locked_until: r.int("locked_until")?,
        last_login_at: r.int("last_login_at")?,
    })
}

/// The column values of a user row (create and the inventory load share them).
pub(crate) fn user_values(u: &User) -> Vec<(&'static str, Arg)> {
    let a = &u.auth;
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
    ]
}

fn view_row(r: &AnyRow) -> Result<UserView> {
    Ok(UserView {
        user: user_row(r)?,
        group: group_row(r, "g_")?,
        desktop_num: r.int("desktop_num")?,
    })
}

async fn user_where<'c, E>(e: E, b: Backend, column: &str, value: &str) -> Result<Option<User>>
where
    E: Executor<'c, Database = Any>,
{
    let sql = format!("SELECT {COLS} FROM users u WHERE u.{column} = ?");
    row(e, b, &sql, args![value])
        .await?
        .map(|r| user_row(&r))
        .transpose()
}

#[async_trait]
impl UserStore for SqlStore {
    async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        user_where(&self.read, self.backend, "name", name).await
    }

    async fn users_by_names(&self, names: &[String]) -> Result<Vec<User>> {
        let mut users = Vec::with_capacity(names.len());
        for chunk in names.chunks(500) {
            let sql = format!(
                "SELECT {COLS} FROM users u WHERE u.name IN ({})",
                crate::db::marks(chunk.len())
            );
            let a = chunk.iter().map(Arg::from).collect();
            for r in rows(&self.read, self.backend, &sql, a).await? {
                users.push(user_row(&r)?);
            }
        }
        Ok(users)
    }

    async fn insert_user(&self, u: &User, group_path: &str) -> Result<bool> {
        let b = self.backend;
        let mut tx = begin(&self.pool).await?;
        if user_where(&mut *tx, b, "id", &u.id).await?.is_some() {
            return Ok(false);
        }
        let group = groups::ensure_path(&mut tx, b, group_path, now_ms()).await?;
        let user = User {
            group_id: group.id,
            ..u.clone()
        };
        insert(&mut *tx, b, "users", user_values(&user))
            .await
            .map_err(taken(Missing::User, &u.name))?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn user_by_id(&self, id: &UserId) -> Result<Option<User>> {
        user_where(&self.read, self.backend, "id", id).await
    }

    async fn user_view(&self, id: &UserId) -> Result<Option<UserView>> {
        let sql = format!(
            "SELECT {COLS}, {}, {DESK_NUM} {VIEW_FROM} WHERE u.id = ?",
            groups::JOINED_COLS
        );
        row(&self.read, self.backend, &sql, args![id])
            .await?
            .map(|r| view_row(&r))
            .transpose()
    }

    /// The page is cut from `users` alone (an index walk that stops after the page), and only
    /// its rows are joined to their group and have their desks counted. Joined first, a large
    /// directory was sorted whole, a desk count per user, on every request.
    async fn list_users(&self, q: &ListQuery) -> Result<Page<UserView>> {
        let cols = format!("{COLS}, {}, {DESK_NUM}", groups::JOINED_COLS);
        let (wh, _) = paging::where_clause(q);
        let (lim, _) = paging::limit_clause(q);
        let order = paging::order_clause(self.backend, q);
        let from = format!(
            "FROM (SELECT * FROM users u{wh}{order}{lim}) u \
             JOIN user_groups g ON g.id = u.group_id{order}"
        );
        paging::page_with(
            &self.read,
            self.backend,
            q,
            &cols,
            &from,
            "FROM users u",
            view_row,
            true,
            None,
        )
        .await
    }

    async fn delete_user(&self, name: &str) -> Result<UserDeletion> {
        let b = self.backend;
        let mut tx = begin(&self.pool).await?;
        let Some(u) = user_where(&mut *tx, b, "name", name).await? else {
            return Ok(UserDeletion::Missing);
        };
        let sql = format!(
            "SELECT name FROM desks WHERE user_id = ? ORDER BY {}",
            b.text_order("name")
        );
        let desks = rows(&mut *tx, b, &sql, args![&u.id])
            .await?
            .iter()
            .map(|r| r.text("name"))
            .collect::<Result<Vec<_>>>()?;
        if !desks.is_empty() {
            return Ok(UserDeletion::HasDesks(desks));
        }
        for sql in [
            "DELETE FROM user_terminals WHERE user_id = ?",
            "DELETE FROM users WHERE id = ?",
        ] {
            exec(&mut *tx, b, sql, args![&u.id]).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(UserDeletion::Deleted)
    }

    async fn update_user_profile(&self, u: &User) -> Result<bool> {
        let a = &u.auth;
        let n = exec(
            &self.pool,
            self.backend,
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
        .await;
        // A desk record shows its user's name and type.
        self.after_desk_write(n.map(|n| n > 0))
    }

    async fn set_user_state(&self, name: &str, state: UserState) -> Result<bool> {
        let sql = "UPDATE users SET state = ? WHERE name = ?";
        Ok(exec(&self.pool, self.backend, sql, args![state.as_str(), name]).await? > 0)
    }

    async fn move_users(&self, ids: &[UserId], target: &GroupTarget) -> Result<UserGroup> {
        let b = self.backend;
        let mut tx = begin(&self.pool).await?;
        let group = match target {
            GroupTarget::Path(p) => groups::ensure_path(&mut tx, b, p, now_ms()).await?,
            GroupTarget::Id(id) => groups::by_id(&mut *tx, b, id)
                .await?
                .ok_or_else(|| Error::not_found(Missing::UserGroup, id))?,
        };
        for id in ids {
            let sql = "UPDATE users SET group_id = ? WHERE id = ?";
            if exec(&mut *tx, b, sql, args![&group.id, id]).await? == 0 {
                return Err(Error::not_found(Missing::User, id));
            }
        }
        tx.commit().await.map_err(db_err)?;
        Ok(group)
    }

    async fn record_password_failure(
        &self,
        id: &UserId,
        limit: i64,
        lock_until: i64,
    ) -> Result<Option<User>> {
        let b = self.backend;
        let mut tx = begin(&self.pool).await?;
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
        let u = user_where(&mut *tx, b, "id", id).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(u)
    }

    async fn set_user_password(&self, id: &UserId, hash: &str) -> Result<bool> {
        let sql =
            "UPDATE users SET password_hash = ?, pwd_failures = 0, locked_until = 0 WHERE id = ?";
        Ok(exec(&self.pool, self.backend, sql, args![hash, id]).await? > 0)
    }

    async fn record_user_login(
        &self,
        id: &UserId,
        terminal: Option<&str>,
        now: i64,
        until: i64,
    ) -> Result<()> {
        let b = self.backend;
        let mut tx = begin(&self.pool).await?;
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
            terminals::logged_in(&mut tx, b, t, now).await?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn terminal_user(&self, terminal: &str, now: i64) -> Result<Option<UserId>> {
        row(
            &self.read,
            self.backend,
            "SELECT user_id FROM user_terminals WHERE terminal_id = ? AND expires_at > ?",
            args![terminal, now],
        )
        .await?
        .map(|r| r.id("user_id"))
        .transpose()
    }

    async fn user_desks(&self, user_id: &UserId) -> Result<Vec<UserDesk>> {
        let sql = format!(
            "SELECT {}, i.name AS i_name, i.os_name AS i_os_name, \
             s.enable_agreement_agency AS s_agency, c.name AS c_name \
             FROM desks d JOIN images i ON i.id = d.image_id \
             JOIN desk_strategies s ON s.id = d.strategy_id \
             JOIN clusters c ON c.id = d.cluster_id \
             WHERE d.user_id = ? ORDER BY d.created_at, d.id",
            desks::COLS
        );
        rows(&self.read, self.backend, &sql, args![user_id])
            .await?
            .iter()
            .map(|r| {
                Ok(UserDesk {
                    desk: desks::desk_row(r)?,
                    image_name: r.text("i_name")?,
                    os_name: OsName::parse(&r.text("i_os_name")?, "images.os_name")?,
                    enable_agreement_agency: r.flag("s_agency")?,
                    cluster_name: r.text("c_name")?,
                })
            })
            .collect()
    }
}
