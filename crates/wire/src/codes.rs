//! Numeric result codes of the document (section a.5 and each endpoint's table).
//!
//! Only the numbers live here. Which domain error becomes which code is decided in one place,
//! the server's error translation table.

/// Success.
pub const OK: u32 = 0;
/// 请求参数错误: request parameter error (also unknown path and wrong method, DECISIONS D2).
pub const BAD_REQUEST: u32 = 22000400;
/// 用户名或密码错误: bad API-account credentials or a missing/expired Bearer token (D1).
pub const UNAUTHENTICATED: u32 = 22000401;
/// Too many requests (D3).
pub const TOO_MANY_REQUESTS: u32 = 22000429;
/// 服务内部错误: unexpected server failure.
pub const INTERNAL: u32 = 22000500;
/// 参数检查不通过: RG-CCP (`/v1/rccp`) parameter check failed.
pub const CCP_PARAM: u32 = 12000200;
/// 其他错误: catch-all business failure.
pub const OTHER: u32 = 23010000;
/// Batch of users larger than 1000 items.
pub const USER_BATCH_TOO_LARGE: u32 = 23010019;
/// Desk request parameter invalid (6.1.4).
pub const DESK_PARAM_INVALID: u32 = 23010701;
/// Batch of desks larger than 1000 items.
pub const DESK_BATCH_TOO_LARGE: u32 = 23010703;
/// Illegal `match_rule` or `type` in a desk query.
pub const DESK_QUERY_RULE: u32 = 23010801;
/// The desk's current state forbids the action.
pub const DESK_STATE_FORBIDS: u32 = 23010901;
/// User still owns desks and cannot be deleted.
pub const USER_HAS_DESKS: u32 = 23020005;
/// User does not exist.
pub const USER_NOT_FOUND: u32 = 23070002;
/// Cross-cluster desktop listing supports VDI only (6.2.11).
pub const CROSS_CLUSTER_VDI_ONLY: u32 = 23010802;
/// The terminal's login has expired (6.2.11).
pub const TERMINAL_LOGIN_EXPIRED: u32 = 23010803;
/// Account or password incorrect (6.2.9; desktop-user login).
pub const USER_BAD_CREDENTIALS: u32 = 23070201;
/// AD users may not change their password here.
pub const USER_AD_PASSWORD: u32 = 23070202;
/// LDAP users may not change their password here.
pub const USER_LDAP_PASSWORD: u32 = 23070203;
/// The new password breaks the password policy.
pub const USER_PASSWORD_POLICY: u32 = 23070204;
/// Meaning lost in the document; deskd: the new password equals the old one.
pub const USER_SAME_PASSWORD: u32 = 23070205;
/// The system is in maintenance mode.
pub const USER_MAINTENANCE: u32 = 23070206;
/// The user is locked (too many wrong passwords).
pub const USER_LOCKED: u32 = 23070207;
/// Wrong password; `remaining_times` says how many tries are left.
pub const USER_WRONG_PASSWORD: u32 = 23070208;
/// OTP is not enabled globally.
pub const USER_OTP_NOT_GLOBAL: u32 = 23070212;
/// Hardware-fingerprint authentication is not enabled globally.
pub const USER_HARDWARE_NOT_GLOBAL: u32 = 23070213;
/// SMS authentication is not enabled globally.
pub const USER_SMS_NOT_GLOBAL: u32 = 23070214;
/// The account expiry lies before the current time.
pub const USER_EXPIRE_PAST: u32 = 23070221;
/// Cross-cluster forwarding failed / unknown cluster.
pub const CLUSTER_FORWARD: u32 = 23170002;

/// Every refusal code the document lists (all but success and the internal failure): what a
/// client must be ready to get back from a well-formed call. The Postman collection's checks
/// accept exactly these besides 0.
pub const REFUSALS: &[u32] = &[
    BAD_REQUEST,
    UNAUTHENTICATED,
    TOO_MANY_REQUESTS,
    CCP_PARAM,
    OTHER,
    USER_BATCH_TOO_LARGE,
    DESK_PARAM_INVALID,
    DESK_BATCH_TOO_LARGE,
    DESK_QUERY_RULE,
    DESK_STATE_FORBIDS,
    USER_HAS_DESKS,
    USER_NOT_FOUND,
    CROSS_CLUSTER_VDI_ONLY,
    TERMINAL_LOGIN_EXPIRED,
    USER_BAD_CREDENTIALS,
    USER_AD_PASSWORD,
    USER_LDAP_PASSWORD,
    USER_PASSWORD_POLICY,
    USER_SAME_PASSWORD,
    USER_MAINTENANCE,
    USER_LOCKED,
    USER_WRONG_PASSWORD,
    USER_OTP_NOT_GLOBAL,
    USER_HARDWARE_NOT_GLOBAL,
    USER_SMS_NOT_GLOBAL,
    USER_EXPIRE_PAST,
    CLUSTER_FORWARD,
];
