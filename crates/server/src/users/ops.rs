//! The task items of the asynchronous user calls (6.2.4, 6.2.6, 6.2.7, 6.2.8). The request was
//! checked before the task was recorded; an item writes the change and is idempotent, so a run
//! repeated after a crash finds its work done and reports the same outcome.

use deskd_domain::ids::UserId;
use std::sync::Arc;

use async_trait::async_trait;
use deskd_domain::enums::UserState;
use deskd_domain::error::{Error, Result};
use deskd_domain::model::{AuthSwitches, User};
use deskd_domain::store::UserStore;
use deskd_domain::task::{Claim, Effect, ItemOutcome};
use deskd_tasks::{ItemHandler, Registry};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::kinds;

/// A user to insert, as the create item carries it, and the group path it joins (created with
/// its missing levels in the insert's transaction).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewUserPayload {
    pub user: User,
    pub group_path: String,
}

/// The payload of an enable or disable item: the user it names (also the item's id).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatePayload {
    pub user_name: String,
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

impl Kind {
    async fn create(&self, c: &Claim) -> Result<ItemOutcome> {
        let NewUserPayload { user, group_path } = c.payload()?;
        match self.store.insert_user(&user, &group_path).await {
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
            format!("group {group_path}"),
        ));
        Ok(o)
    }

    async fn edit(&self, c: &Claim) -> Result<ItemOutcome> {
        let p: EditPayload = c.payload()?;
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
        let StatePayload { user_name } = c.payload()?;
        if !self.store.set_user_state(&user_name, state).await? {
            return Ok(ItemOutcome::failure(format!(
                "{verb}用户[{user_name}]失败：用户不存在"
            )));
        }
        let mut o = ItemOutcome::success(format!("{verb}用户[{user_name}]成功"));
        o.effects.push(audit(
            &format!("user.{}", state.as_str().to_ascii_lowercase()),
            &user_name,
            String::new(),
        ));
        Ok(o)
    }
}
