//! Desktop users and user groups (chapter 6.2): the HTTP handlers ([`api`], [`groups`]), the
//! request rules that turn wire bodies into domain values ([`rules`]), the task items of the
//! asynchronous user calls ([`ops`]) and the global user strategy (an extension, DECISIONS D10).

pub mod api;
pub mod groups;
pub mod ops;
pub mod rules;

use axum::http::Method;

use deskd_domain::error::{Error, Result};
use deskd_domain::store::SettingStore;
use deskd_wire::user::GlobalStrategy;

use crate::http::routes::{Doc, Route};

/// Task kinds of the asynchronous user calls; one handler each in [`ops`].
pub mod kinds {
    pub const CREATE: &str = "user.create";
    pub const EDIT: &str = "user.edit";
    pub const ENABLE: &str = "user.enable";
    pub const DISABLE: &str = "user.disable";
}

const GLOBAL_SETTING: &str = "user_global_strategy";

/// The global user strategy; the defaults until an administrator sets it.
pub async fn global(store: &dyn SettingStore) -> Result<GlobalStrategy> {
    match store.get_setting(GLOBAL_SETTING).await? {
        None => Ok(GlobalStrategy::default()),
        Some(s) => serde_json::from_str(&s)
            .map_err(|e| Error::internal(format!("user global strategy setting: {e}"))),
    }
}

pub async fn save_global(store: &dyn SettingStore, g: &GlobalStrategy) -> Result<()> {
    let s = serde_json::to_string(g).map_err(Error::internal)?;
    store.put_setting(GLOBAL_SETTING, &s).await
}

/// Chapter 6.2 and its extensions (D10: `section: None`).
pub fn routes() -> Vec<Route> {
    vec![
        Route::typed(
            Doc {
                path: "/v1/user/exist",
                methods: &[Method::POST],
                operation_id: "userExists",
                summary: "Check whether a user exists",
                section: Some("6.2.1"),
                auth: true,
            },
            api::exist,
        ),
        Route::typed(
            Doc {
                path: "/v1/user/passwordKey",
                methods: &[Method::POST],
                operation_id: "getPasswordKey",
                summary: "Get the password-encryption key (DECISIONS D6)",
                section: Some("6.2.3"),
                auth: true,
            },
            api::password_key,
        ),
        Route::typed(
            Doc {
                path: "/v1/user/passwordKey:rotate",
                methods: &[Method::POST],
                operation_id: "rotatePasswordKey",
                summary: "Replace the password-encryption key (the previous one decrypts for 10 more minutes)",
                section: None,
                auth: true,
            },
            api::rotate_password_key,
        ),
        Route::typed(
            Doc {
                path: "/v1/user/create",
                methods: &[Method::POST],
                operation_id: "createUser",
                summary: "Create a user (asynchronous; missing groups are created)",
                section: Some("6.2.4"),
                auth: true,
            },
            api::create,
        ),
        Route::typed(
            Doc {
                path: "/v1/user/delete",
                methods: &[Method::POST],
                operation_id: "deleteUser",
                summary: "Delete a user that owns no desktops (DECISIONS D11)",
                section: Some("6.2.5"),
                auth: true,
            },
            api::delete,
        ),
        Route::typed(
            Doc {
                path: "/v1/user/edit",
                methods: &[Method::POST],
                operation_id: "editUser",
                summary: "Edit a user (asynchronous)",
                section: Some("6.2.6"),
                auth: true,
            },
            api::edit,
        ),
        Route::typed(
            Doc {
                path: "/v1/user/batch/enableUser",
                methods: &[Method::POST],
                operation_id: "batchEnableUsers",
                summary: "Batch enable users (at most 1000)",
                section: Some("6.2.7"),
                auth: true,
            },
            api::enable,
        ),
        Route::typed(
            Doc {
                path: "/v1/user/batch/disableUser",
                methods: &[Method::POST],
                operation_id: "batchDisableUsers",
                summary: "Batch disable users (at most 1000)",
                section: Some("6.2.8"),
                auth: true,
            },
            api::disable,
        ),
        Route::typed(
            Doc {
                path: "/v1/user/modify:password",
                methods: &[Method::PUT],
                operation_id: "changeUserPassword",
                summary: "Change a user's password (lockout after repeated wrong passwords; DECISIONS D11)",
                section: Some("6.2.9"),
                auth: true,
            },
            api::change_password,
        ),
        Route::typed(
            Doc {
                path: "/v1/user/modify:resetPassword",
                methods: &[Method::PUT],
                operation_id: "resetUserPassword",
                summary: "Set a user's password without the current one (operators; the password policy applies, AD/LDAP users are refused)",
                section: None,
                auth: true,
            },
            api::reset_password,
        ),
        Route::typed(
            Doc {
                path: "/v1/user/modify:usergroup",
                methods: &[Method::PUT],
                operation_id: "changeUserGroup",
                summary: "Move users to another group (DECISIONS D11)",
                section: Some("6.2.10"),
                auth: true,
            },
            api::change_group,
        ),
        Route::typed(
            Doc {
                path: "/v1/user/desktop/list",
                methods: &[Method::POST],
                operation_id: "listUserDesktops",
                summary: "List a user's cloud desktops (DECISIONS D11)",
                section: Some("6.2.11"),
                auth: true,
            },
            api::desktops,
        ),
        Route::typed(
            Doc {
                path: "/v1/usergroup/create",
                methods: &[Method::POST],
                operation_id: "createUserGroup",
                summary: "Create a user group",
                section: Some("6.2.12"),
                auth: true,
            },
            groups::create_group,
        ),
        Route::typed(
            Doc {
                path: "/v1/usergroup/list",
                methods: &[Method::GET],
                operation_id: "getUserGroupTree",
                summary: "Get the user-group tree",
                section: Some("6.2.13"),
                auth: true,
            },
            groups::group_tree,
        ),
        Route::typed(
            Doc {
                path: "/v1/user/list",
                methods: &[Method::POST],
                operation_id: "listUsers",
                summary: "List users (paged)",
                section: Some("6.2.15"),
                auth: true,
            },
            api::list,
        ),
        Route::typed(
            Doc {
                path: "/v1/user/detail",
                methods: &[Method::POST],
                operation_id: "getUserDetail",
                summary: "Get user detail by userId and/or userName",
                section: Some("6.2.16"),
                auth: true,
            },
            api::detail,
        ),
        Route::typed(
            Doc {
                path: "/v1/user/login",
                methods: &[Method::POST],
                operation_id: "loginDesktopUser",
                summary: "Sign a desktop user in on a terminal and list their desktops",
                section: None,
                auth: true,
            },
            api::login,
        ),
        Route::typed(
            Doc {
                path: "/v1/user/globalStrategy/detail",
                methods: &[Method::POST, Method::GET],
                operation_id: "getUserGlobalStrategy",
                summary: "Read the global user strategy (authentication switches, password policy, lockout, maintenance mode)",
                section: None,
                auth: true,
            },
            api::global_detail,
        ),
        Route::typed(
            Doc {
                path: "/v1/user/globalStrategy/edit",
                methods: &[Method::PUT, Method::POST],
                operation_id: "setUserGlobalStrategy",
                summary: "Replace the global user strategy",
                section: None,
                auth: true,
            },
            api::global_edit,
        ),
    ]
}
