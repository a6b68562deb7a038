//! Desktop users (chapter 6.2): rows and views, profile and state, passwords and lockout, and
//! their logins from terminals.

use async_trait::async_trait;

use crate::enums::UserState;
use crate::error::Result;
use crate::ids::UserId;
use crate::model::{GroupTarget, User, UserDeletion, UserDesk, UserGroup, UserView};
use crate::query::{ListQuery, Page};

#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    async fn user_by_name(&self, name: &str) -> Result<Option<User>>;
    /// The users with any of `names` (one round trip per few hundred names), in no order.
    async fn users_by_names(&self, names: &[String]) -> Result<Vec<User>>;
    /// Inserts `user` into the group at `group_path`, creating missing groups in the same
    /// transaction. False (and nothing written) when a user with this id exists already, so a
    /// repeated task item is harmless; `AlreadyExists` when the name is taken.
    async fn insert_user(&self, user: &User, group_path: &str) -> Result<bool>;
    async fn user_by_id(&self, id: &UserId) -> Result<Option<User>>;
    /// A user with its group and desk count.
    async fn user_view(&self, id: &UserId) -> Result<Option<UserView>>;
    async fn list_users(&self, query: &ListQuery) -> Result<Page<UserView>>;
    /// Deletes a user that owns no desks, checked in the same transaction.
    async fn delete_user(&self, name: &str) -> Result<UserDeletion>;
    /// Writes the editable profile (names, contacts, switches, expiry, inactivity); false when
    /// the user is gone.
    async fn update_user_profile(&self, user: &User) -> Result<bool>;
    /// False when the user is unknown.
    async fn set_user_state(&self, name: &str, state: UserState) -> Result<bool>;
    /// Moves users to a group (created when a path names a missing one), in one transaction;
    /// returns the group. `NotFound` for an unknown user or group id.
    async fn move_users(&self, user_ids: &[UserId], target: &GroupTarget) -> Result<UserGroup>;
    /// Counts one wrong password; at `limit` the user is locked until `lock_until` and the
    /// count restarts. Returns the user as updated.
    async fn record_password_failure(
        &self,
        id: &UserId,
        limit: i64,
        lock_until: i64,
    ) -> Result<Option<User>>;
    /// Replaces the password hash and clears failures and lock.
    async fn set_user_password(&self, id: &UserId, password_hash: &str) -> Result<bool>;
    /// Records a desktop-user login (clears failures); with a terminal, that terminal's login
    /// lives until `terminal_until`, and a registered terminal counts as alive and logged in
    /// from (6.6).
    async fn record_user_login(
        &self,
        id: &UserId,
        terminal_id: Option<&str>,
        now: i64,
        terminal_until: i64,
    ) -> Result<()>;
    /// The user id a terminal is logged in as, when its login is still live at `now`.
    async fn terminal_user(&self, terminal_id: &str, now: i64) -> Result<Option<UserId>>;
    /// A user's desks with image, OS, proxy flag and cluster name, by creation.
    async fn user_desks(&self, user_id: &UserId) -> Result<Vec<UserDesk>>;
}
