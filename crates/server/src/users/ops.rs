//! The task items of the asynchronous user calls (6.2.4, 6.2.6, 6.2.7, 6.2.8). The request was
//! checked before the task was recorded; an item writes the change and is idempotent, so a run
//! repeated after a crash finds its work done and reports the same outcome.

use deskd_domain::ids::{GroupId, UserId};
use std::sync::Arc;

use async_trait::async_trait;
use deskd_domain::enums::{UserState, UserType};
use deskd_domain::error::{Error, Result};
use deskd_domain::model::{AuthSwitches, User};
use deskd_domain::store::UserStore;
use deskd_domain::task::{Claim, Effect, ItemOutcome};
use deskd_tasks::{ItemHandler, Registry};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::kinds;

/// A user to insert, as the create item carries it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewUserPayload {
    pub id: String,
    pub name: String,
    pub real_name: String,
    pub user_type: String,
    pub password_hash: String,
    pub email: String,
    pub phone: String,
    pub description: String,
    pub created_at: i64,
    pub account_expire_date: Option<i64>,
    pub invalid_time: Option<i64>,
    pub login_identity_level: String,
    pub auth: AuthSwitches,
    pub group_path: String,
}

impl NewUserPayload {
    pub fn new(u: &User, group_path: &str) -> Self {
        NewUserPayload {
            id: u.id.clone().into(),
            name: u.name.clone(),
            real_name: u.real_name.clone(),
            user_type: u.user_type.as_str().into(),
            password_hash: u.password_hash.clone(),
            email: u.email.clone(),
            phone: u.phone.clone(),
            description: u.description.clone(),
            created_at: u.created_at,
            account_expire_date: u.account_expire_date,
            invalid_time: u.invalid_time,
            login_identity_level: u.login_identity_level.clone(),
            auth: u.auth.clone(),
            group_path: group_path.into(),
        }
    }

    fn user(&self) -> Result<User> {
        Ok(User {
            id: self.id.clone().into(),
            name: self.name.clone(),
            real_name: self.real_name.clone(),
            user_type: UserType::parse(&self.user_type, "payload.user_type")?,
            state: UserState::ENABLE,
            group_id: GroupId::default(),
            password_hash: self.password_hash.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            description: self.description.clone(),
            created_at: self.created_at,
            account_expire_date: self.account_expire_date,
            invalid_time: self.invalid_time,
            login_identity_level: self.login_identity_level.clone(),
            auth: self.auth.clone(),
            pwd_failures: 0,
            locked_until: 0,
            last_login_at: 0,
        })
    }
}

/// The profile an edit item writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EditPayload {
    pub real_name: String,
    pub email: String,
    pub phone: String,
    pub description: String,
    pub account_expire_date: Option<i64>,
    pub invalid_time: Option<i64>,
    pub auth: AuthSwitches,
}

impl EditPayload {
    pub fn new(u: &User) -> Self {
        EditPayload {
            real_name: u.real_name.clone(),
            email: u.email.clone(),
            phone: u.phone.clone(),
            description: u.description.clone(),
            account_expire_date: u.account_expire_date,
            invalid_time: u.invalid_time,
            auth: u.auth.clone(),
        }
    }
}

/// Registers a handler for every user task kind.
pub fn register(registry: &mut Registry, store: Arc<dyn UserStore>) {
    for kind in [kinds::CREATE, kinds::EDIT, kinds::ENABLE, kinds::DISABLE] {
        registry.register(
            kind,
            Arc::new(Kind {
                store: store.clone(),
                kind,
            }),
        );
    }
}

struct Kind {
    store: Arc<dyn UserStore>,
    kind: &'static str,
}

#[async_trait]
impl ItemHandler for Kind {
    async fn run(&self, c: &Claim) -> ItemOutcome {
        let result = match self.kind {
            kinds::CREATE => self.create(c).await,
            kinds::EDIT => self.edit(c).await,
            kinds::ENABLE => self.set_state(c, UserState::ENABLE).await,
            kinds::DISABLE => self.set_state(c, UserState::DISABLE).await,
            other => Ok(ItemOutcome::failure(format!(
                "unknown user task kind {other}"
            ))),
        };
        let mut outcome = result.unwrap_or_else(|e| ItemOutcome::failure(format!("操作失败：{e}")));
        if outcome.biz_data.is_none() {
            outcome.biz_data = Some(json!({ "user_name": c.item_id }));
        }
        outcome
    }
}

fn audit(kind: &str, subject: &str, detail: String) -> Effect {
    Effect::Event {
        kind: kind.into(),
        subject: subject.into(),
        detail,
    }
}

fn payload<T: serde::de::DeserializeOwned>(c: &Claim) -> Result<T> {
    serde_json::from_value(c.payload.clone()).map_err(|e| Error::internal(format!("payload: {e}")))
}

impl Kind {
    async fn create(&self, c: &Claim) -> Result<ItemOutcome> {
        let p: NewUserPayload = payload(c)?;
        let user = p.user()?;
        match self.store.insert_user(&user, &p.group_path).await {
            Ok(_) => {}
            Err(e @ (Error::Refused(_) | Error::AlreadyExists { .. })) => {
                return Ok(ItemOutcome::failure(format!("创建用户失败：{e}")))
            }
            Err(e) => return Err(e),
        }
        let data = json!({ "user_name": user.name, "user_id": user.id });
        let mut o = ItemOutcome::success(format!("创建用户[{}]成功", user.name));
        o.biz_data = Some(data.clone());
        o.resource = Some(data);
        o.effects.push(audit(
            "user.created",
            &user.id,
            format!("group {}", p.group_path),
        ));
        Ok(o)
    }

    async fn edit(&self, c: &Claim) -> Result<ItemOutcome> {
        let p: EditPayload = payload(c)?;
        let Some(subject) = c.subject.as_deref() else {
            return Err(Error::internal("edit item without a user id"));
        };
        let Some(current) = self.store.user_by_id(&UserId::from(subject)).await? else {
            return Ok(ItemOutcome::failure(format!("用户[{}]不存在", c.item_id)));
        };
        let user = User {
            real_name: p.real_name,
            email: p.email,
            phone: p.phone,
            description: p.description,
            account_expire_date: p.account_expire_date,
            invalid_time: p.invalid_time,
            auth: p.auth,
            ..current
        };
        if !self.store.update_user_profile(&user).await? {
            return Ok(ItemOutcome::failure(format!("用户[{}]不存在", c.item_id)));
        }
        let mut o = ItemOutcome::success(format!("编辑用户[{}]成功", user.name));
        o.effects
            .push(audit("user.edited", &user.id, String::new()));
        Ok(o)
    }

    async fn set_state(&self, c: &Claim, state: UserState) -> Result<ItemOutcome> {
        let verb = if state == UserState::ENABLE {
            "启用"
        } else {
            "禁用"
        };
        if !self.store.set_user_state(&c.item_id, state).await? {
            return Ok(ItemOutcome::failure(format!(
                "{verb}用户[{}]失败：用户不存在",
                c.item_id
            )));
        }
        let mut o = ItemOutcome::success(format!("{verb}用户[{}]成功", c.item_id));
        o.effects.push(audit(
            &format!("user.{}", state.as_str().to_ascii_lowercase()),
            &c.item_id,
            String::new(),
        ));
        Ok(o)
    }
}
