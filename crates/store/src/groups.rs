//! User groups (chapter 6.2): rows, and group paths created on demand.

use async_trait::async_trait;
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::ids::GroupId;
use deskd_domain::model::{GroupRow, UserGroup};
use deskd_domain::store::GroupStore;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::args;
use crate::db::{begin, db_err, insert, insert_with, row, rows, taken, Arg, Backend, Col, Tx};
use crate::SqlStore;

const COLS: &str = "g.id, g.name, g.parent_id, g.path, g.created_at, g.account_expire_date, \
    g.invalid_time";
/// The group columns joined onto a user row, prefixed `g_` (read with `group_row(r, "g_")`).
pub(crate) const JOINED_COLS: &str = "g.id AS g_id, g.name AS g_name, \
    g.parent_id AS g_parent_id, g.path AS g_path, g.created_at AS g_created_at, \
    g.account_expire_date AS g_account_expire_date, g.invalid_time AS g_invalid_time";

/// A `user_groups` row whose columns are prefixed `p`.
pub(crate) fn group_row(r: &AnyRow, p: &str) -> Result<UserGroup> {
    let c = |n: &str| format!("{p}{n}");
    Ok(UserGroup {
        id: r.id(&c("id"))?,
        name: r.text(&c("name"))?,
        parent_id: r.opt_id(&c("parent_id"))?,
        path: r.text(&c("path"))?,
        created_at: r.int(&c("created_at"))?,
        account_expire_date: r.int(&c("account_expire_date"))?,
        invalid_time: r.int(&c("invalid_time"))?,
    })
}

/// The column values of a group row (create, paths made on demand and the inventory load).
pub(crate) fn group_values(g: &UserGroup) -> Vec<(&'static str, Arg)> {
    vec![
        ("id", g.id.as_str().into()),
        ("name", g.name.as_str().into()),
        ("parent_id", g.parent_id.clone().into()),
        ("path", g.path.as_str().into()),
        ("created_at", g.created_at.into()),
        ("account_expire_date", g.account_expire_date.into()),
        ("invalid_time", g.invalid_time.into()),
    ]
}

async fn group_where<'c, E>(
    e: E,
    b: Backend,
    column: &str,
    value: &str,
) -> Result<Option<UserGroup>>
where
    E: Executor<'c, Database = Any>,
{
    let sql = format!("SELECT {COLS} FROM user_groups g WHERE g.{column} = ?");
    row(e, b, &sql, args![value])
        .await?
        .map(|r| group_row(&r, ""))
        .transpose()
}

/// Group `id`.
pub(crate) async fn by_id<'c, E>(e: E, b: Backend, id: &str) -> Result<Option<UserGroup>>
where
    E: Executor<'c, Database = Any>,
{
    group_where(e, b, "id", id).await
}

/// The group at a normalised `/` path, creating every missing level; a new group copies its
/// parent's expiry and inactivity settings.
pub(crate) async fn ensure_path(
    tx: &mut Tx,
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
            id: GroupId::generate(),
            name: seg.to_string(),
            parent_id: parent.as_ref().map(|p| p.id.clone()),
            path: prefix.clone(),
            created_at: now,
            account_expire_date: parent.as_ref().map_or(0, |p| p.account_expire_date),
            invalid_time: parent.as_ref().map_or(0, |p| p.invalid_time),
        };
        let conflict = "ON CONFLICT (path) DO NOTHING";
        insert_with(&mut **tx, b, "user_groups", group_values(&g), conflict).await?;
        parent = group_where(&mut **tx, b, "path", &prefix).await?;
    }
    parent.ok_or_else(|| Error::internal(format!("group path `{path}` was not created")))
}

#[async_trait]
impl GroupStore for SqlStore {
    async fn list_groups(&self) -> Result<Vec<GroupRow>> {
        let sql = format!(
            "SELECT {COLS}, (SELECT COUNT(*) FROM users u WHERE u.group_id = g.id) AS user_num \
             FROM user_groups g ORDER BY g.created_at, g.id"
        );
        rows(&self.read, self.backend, &sql, vec![])
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

    async fn group_by_id(&self, id: &GroupId) -> Result<Option<UserGroup>> {
        by_id(&self.read, self.backend, id).await
    }

    async fn create_group(&self, g: &UserGroup) -> Result<()> {
        let mut tx = begin(&self.pool).await?;
        if let Some(parent) = &g.parent_id {
            if by_id(&mut *tx, self.backend, parent).await?.is_none() {
                return Err(Error::not_found(Missing::UserGroup, parent));
            }
        }
        insert(&mut *tx, self.backend, "user_groups", group_values(g))
            .await
            .map_err(taken(Missing::UserGroup, &g.path))?;
        tx.commit().await.map_err(db_err)
    }
}
