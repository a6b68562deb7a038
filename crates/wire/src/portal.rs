//! The desktop-user portal (issue 20, extension): a desktop user signs in with their own
//! password and, with the session token that answers, lists, starts and opens only their desks.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::user::UserDesktop;

/// Body of `POST /v1/portal/login`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PortalLoginRequest {
    pub user_name: String,
    /// Plaintext or AES-encrypted (D6), as for `POST /v1/user/login`.
    #[serde(default)]
    pub password: Option<String>,
}

/// `data` of `POST /v1/portal/login`: a Bearer token good for the portal routes only.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PortalLoginData {
    pub token: String,
    pub token_type: String,
    /// Seconds the token lives.
    pub expires_in: i64,
    pub user_id: UserId,
    pub user_name: String,
    pub real_name: String,
    pub desktop_arr: Vec<UserDesktop>,
}
