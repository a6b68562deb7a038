//! Desktop users and user groups (chapter 6.2), and the deskd extensions beside them:
//! desktop-user login and the global user strategy (DECISIONS D10, D11).

use crate::ids::{DeskId, UserId};
use schemars::JsonSchema;

use crate::enums::{DeskCategory, DeskState, OsName, UserState, UserType};
use serde::{Deserialize, Deserializer, Serialize};

/// A boolean that may also arrive as the string `"TRUE"`/`"FALSE"` (DECISIONS D4); `null` and
/// absence give `None`.
pub fn flex_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    use serde::de::Error;
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Bool(b)) => Ok(Some(b)),
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(D::Error::custom(format!(
            "invalid value {other}: expected true, false, \"TRUE\" or \"FALSE\""
        ))),
    }
}

/// `{"user_name":…}` (6.2.1 exist, 6.2.5 delete).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UserNameRequest {
    pub user_name: String,
}

/// `data` of 6.2.1 (the document lost the table: deskd answers an existence flag and the id).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ExistData {
    pub exist: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
}

/// `data` of 6.2.3.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PasswordKeyData {
    #[serde(rename = "passwordKey")]
    pub password_key: String,
}

/// `primary_certification`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct PrimaryCertification {
    /// `true`/`false` or `"TRUE"`/`"FALSE"`.
    #[serde(default, deserialize_with = "flex_bool")]
    pub open_account_password_certification: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    pub open_cas_certification: Option<bool>,
}

/// `assist_certification`; an absent or `null` switch is left unchanged.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct AssistCertification {
    #[serde(default, deserialize_with = "flex_bool")]
    pub open_hardware_certification: Option<bool>,
    #[serde(default)]
    pub max_hardware_num: Option<i64>,
    #[serde(default, deserialize_with = "flex_bool")]
    pub open_otp_certification: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    pub open_sms_certification: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    pub open_radius_certification: Option<bool>,
}

/// 6.2.4 create user.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CreateUserRequest {
    pub user_name: String,
    /// `/`-separated path; missing groups are created.
    pub user_group_name: String,
    #[serde(default)]
    pub real_name: Option<String>,
    /// Plaintext or AES-encrypted (DECISIONS D6). Required for NORMAL users; ignored for AD and
    /// LDAP users, whose directory checks passwords.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub phone_num: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// NORMAL (default), VISITOR, AD or LDAP.
    #[serde(default)]
    #[schemars(with = "Option<UserType>")]
    pub user_type: Option<String>,
    #[serde(default)]
    pub login_identity_level: Option<String>,
    #[serde(default)]
    pub primary_certification: Option<PrimaryCertification>,
    #[serde(default)]
    pub assist_certification: Option<AssistCertification>,
    #[serde(default)]
    pub description: Option<String>,
    /// Epoch ms, ≥ now; 0 = never; absent = the group's.
    #[serde(default)]
    pub account_expire_date: Option<i64>,
    /// 0..1000 days; absent = the group's.
    #[serde(default)]
    pub invalid_time: Option<i64>,
}

/// 6.2.6 edit user: absent/`null` clears `description`, `phone_num` and `email`, and leaves
/// every other field unchanged (Appendix B item 12).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EditUserRequest {
    pub user_name: String,
    #[serde(default)]
    pub real_name: Option<String>,
    #[serde(default)]
    pub primary_certification: Option<PrimaryCertification>,
    #[serde(default)]
    pub assist_certification: Option<AssistCertification>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub phone_num: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub account_expire_date: Option<i64>,
    #[serde(default)]
    pub invalid_time: Option<i64>,
}

/// One `user_arr` element: a plain name or `{"user_name":…}` (DECISIONS D4).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum UserRef {
    Name(String),
    Object { user_name: String },
}

impl UserRef {
    pub fn name(&self) -> &str {
        match self {
            UserRef::Name(n) | UserRef::Object { user_name: n } => n,
        }
    }
}

/// 6.2.7 / 6.2.8 batch enable or disable.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UserBatchRequest {
    pub user_arr: Vec<UserRef>,
}

/// 6.2.9 change password (DECISIONS D11).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChangePasswordRequest {
    pub user_name: String,
    /// Plaintext or AES-encrypted (D6).
    pub old_password: String,
    pub new_password: String,
}

/// Operator password reset (extension, `PUT /v1/user/modify:resetPassword`): 6.2.9 without the
/// current password, for the holder of an API token.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ResetPasswordRequest {
    pub user_name: String,
    /// Plaintext or AES-encrypted (D6); checked against the global password policy.
    pub new_password: String,
}

/// `data` of 6.2.9: the outcome is `business_code` with envelope code 0.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChangePasswordData {
    /// 0, 23070208 (wrong password) or 23070207 (locked).
    pub business_code: u32,
    /// With 23070208: wrong attempts left before the lock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_times: Option<i64>,
    /// With 23070207: minutes the lock lasts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pwd_lock_time: Option<i64>,
}

/// 6.2.10 change users' group (DECISIONS D11): a path or an id.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChangeGroupRequest {
    pub user_name_arr: Vec<String>,
    #[serde(default)]
    pub user_group_name: Option<String>,
    #[serde(default)]
    pub user_group_id: Option<String>,
}

/// 6.2.11 a user's desktops (DECISIONS D11).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UserDesktopRequest {
    pub user_name: String,
    /// Unified login: the terminal the user is logged in on.
    #[serde(default)]
    pub terminal_id: Option<String>,
    /// IDV, VDI, TCI; empty = all.
    #[serde(default)]
    #[schemars(with = "Vec<DeskCategory>")]
    pub desktop_category_list: Vec<String>,
}

/// One desktop of 6.2.11 (and of the login reply).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UserDesktop {
    pub desktop_id: DeskId,
    pub desktop_name: String,
    pub desktop_state: DeskState,
    pub image_name: String,
    pub os_name: OsName,
    pub remark: String,
    pub enable_agreement_agency: bool,
    pub desktop_category: DeskCategory,
    /// The desk's address, for the connection.
    pub ip: String,
    /// Unified login only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// Unified login only: the address the terminal reached this controller at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_port: Option<String>,
    /// Unified login only: where the desk's console is served (`PUT /v1/desk/{desk_id}/console`
    /// and its websocket): the `public_address` setting, else as `cluster_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_port: Option<String>,
}

/// 6.2.12 create user group.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CreateGroupRequest {
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub account_expire_date: Option<i64>,
    #[serde(default)]
    pub invalid_time: Option<i64>,
}

/// `data` of 6.2.12.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CreateGroupData {
    pub message: String,
    pub msg_arg_arr: Vec<String>,
    pub msg_key: String,
    pub status: String,
    /// The new group's id (deskd addition).
    pub id: String,
}

/// One node of the 6.2.13 tree.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct GroupNode {
    pub id: String,
    /// The parent's id, or `root` for top-level groups.
    pub parent_id: String,
    pub label: String,
    pub allow_delete: bool,
    pub enable_ad: bool,
    pub enable_ldap: bool,
    pub enable_default: bool,
    pub disabled: bool,
    pub account_expire_date: i64,
    pub invalid_time: i64,
    pub children: Vec<GroupNode>,
}

/// The example's nesting `data.content.itemArr`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct GroupTreeContent {
    #[serde(rename = "itemArr")]
    pub item_arr_camel: Vec<GroupNode>,
}

/// `data` of 6.2.13: the tree under `item_arr`, `itemArr` and `content.itemArr` (D4).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct GroupTreeData {
    pub item_arr: Vec<GroupNode>,
    #[serde(rename = "itemArr")]
    pub item_arr_camel: Vec<GroupNode>,
    pub content: GroupTreeContent,
}

/// One user of 6.2.15.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UserItem {
    pub id: UserId,
    pub user_name: String,
    pub real_name: String,
    pub user_type: UserType,
    pub user_state: UserState,
    pub user_description: String,
    pub group_id: String,
    pub group_name: String,
    /// The group's full `/` path.
    pub group_path: String,
    pub phone_num: String,
    pub email: String,
    pub create_time: i64,
    pub desktop_num: i64,
    pub can_delete: bool,
    pub enable_domain_sync: bool,
    pub has_bind_disk: bool,
    pub has_bind_otp: bool,
    pub has_recycle_bin: bool,
    pub lock: bool,
    pub login_identity_level: String,
    pub open_cas_certification: bool,
    pub open_account_password_certification: bool,
    pub open_hardware_certification: bool,
    pub max_hardware_num: i64,
    pub open_otp_certification: bool,
    pub open_sms_certification: bool,
    pub open_radius_certification: bool,
    /// AD users in UTC, others in Beijing time; `永不过期` when never.
    pub account_expire_date: String,
    /// Always Beijing time.
    pub account_expire_date_str: String,
    /// The expiry in force, epoch ms (0 = never).
    pub account_expire_time: i64,
    pub invalid_time: i64,
    pub invalid: bool,
    /// Last desktop-user login, epoch ms (0 = never).
    pub last_login_time: i64,
}

/// 6.2.16 (camelCase keys as printed); at least one is needed, and both must agree.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UserDetailRequest {
    #[serde(rename = "userId", default)]
    pub user_id: Option<UserId>,
    #[serde(rename = "userName", default)]
    pub user_name: Option<String>,
}

/// `data` of 6.2.16: the documented keys plus every key of a 6.2.15 item.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UserDetail {
    pub display_name: String,
    pub user_group_id: String,
    pub uuid: String,
    #[serde(flatten)]
    pub item: UserItem,
}

/// `POST /v1/user/login` (extension): a desktop user signs in on a terminal.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LoginRequest {
    pub user_name: String,
    /// Plaintext or AES-encrypted (D6).
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub terminal_id: Option<String>,
    #[serde(default)]
    #[schemars(with = "Vec<DeskCategory>")]
    pub desktop_category_list: Vec<String>,
}

/// `data` of the login.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LoginData {
    pub user_id: UserId,
    pub user_name: String,
    pub real_name: String,
    pub user_type: UserType,
    pub login_time: i64,
    pub desktop_arr: Vec<UserDesktop>,
}

/// The password policy of the global strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub max_length: usize,
    /// Of lower-case, upper-case, digits, symbols.
    pub min_classes: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 8,
            max_length: 32,
            min_classes: 2,
        }
    }
}

/// The global user strategy (extension): which authentication methods users may switch on,
/// the password policy, the lockout and maintenance mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct GlobalStrategy {
    pub open_otp_certification: bool,
    pub open_hardware_certification: bool,
    pub open_sms_certification: bool,
    pub open_radius_certification: bool,
    pub open_cas_certification: bool,
    /// Password changes are refused (23070206).
    pub maintenance_mode: bool,
    pub password_policy: PasswordPolicy,
    /// Wrong passwords allowed before the lock.
    pub pwd_error_limit: i64,
    /// Minutes a lock lasts.
    pub pwd_lock_time: i64,
}

impl Default for GlobalStrategy {
    fn default() -> Self {
        GlobalStrategy {
            open_otp_certification: false,
            open_hardware_certification: false,
            open_sms_certification: false,
            open_radius_certification: false,
            open_cas_certification: false,
            maintenance_mode: false,
            password_policy: PasswordPolicy::default(),
            pwd_error_limit: 10,
            pwd_lock_time: 30,
        }
    }
}
