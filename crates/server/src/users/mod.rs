//! Desktop users and user groups (chapter 6.2): the HTTP handlers ([`api`]), the request rules
//! that turn wire bodies into domain values ([`rules`]), the task items of the asynchronous user
//! calls ([`ops`]) and the global user strategy (an extension, DECISIONS D10).

pub mod api;
pub mod ops;
pub mod rules;

use deskd_domain::error::{Error, Result};
use deskd_domain::store::Store;
use deskd_wire::user::GlobalStrategy;

/// Task kinds of the asynchronous user calls; one handler each in [`ops`].
pub mod kinds {
    pub const CREATE: &str = "user.create";
    pub const EDIT: &str = "user.edit";
    pub const ENABLE: &str = "user.enable";
    pub const DISABLE: &str = "user.disable";
}

const GLOBAL_SETTING: &str = "user_global_strategy";

/// The global user strategy; the defaults until an administrator sets it.
pub async fn global(store: &dyn Store) -> Result<GlobalStrategy> {
    match store.get_setting(GLOBAL_SETTING).await? {
        None => Ok(GlobalStrategy::default()),
        Some(s) => serde_json::from_str(&s)
            .map_err(|e| Error::internal(format!("user global strategy setting: {e}"))),
    }
}

pub async fn save_global(store: &dyn Store, g: &GlobalStrategy) -> Result<()> {
    let s = serde_json::to_string(g).map_err(Error::internal)?;
    store.put_setting(GLOBAL_SETTING, &s).await
}
