//! The one place where a failure becomes a reply: code, HTTP status, `message` and `user_tip`
//! (DECISIONS D2, D3). The unit tests at the end pin the table.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use deskd_domain::error::{BatchKind, Error, Missing, QueryTarget, UserRefusal};
use deskd_wire::codes;
use deskd_wire::envelope::{ErrorBody, ErrorContent};

/// Everything a handler or the router can answer with besides success.
#[derive(Debug)]
pub enum ApiError {
    Domain(Error),
    /// No route has this path (D2).
    NoRoute(String),
    /// The path exists but not with this method (D2).
    BadMethod(String),
    /// The body is over the route's size limit (`max_body_bytes`).
    BodyTooLarge,
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Domain(e)
    }
}

/// What a failure looks like on the wire.
#[derive(Debug, PartialEq)]
pub struct Translated {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
    pub user_tip: String,
}

fn t(status: StatusCode, code: u32, message: String, user_tip: String) -> Translated {
    Translated {
        status,
        code,
        message,
        user_tip,
    }
}

/// Chinese names of the things that can be missing, for `user_tip`.
fn noun_zh(what: Missing) -> &'static str {
    match what {
        Missing::Task => "任务",
        Missing::Desk => "云桌面",
        Missing::Strategy => "云桌面策略",
        Missing::User => "用户",
        Missing::UserGroup => "用户组",
        Missing::Image => "镜像",
        Missing::Network => "网络策略",
        Missing::Cluster => "集群",
        Missing::Host => "主机",
        Missing::StoragePool => "存储池",
        Missing::OsFile => "镜像文件",
        Missing::Account => "API 账号",
        Missing::Terminal => "终端",
    }
}

/// The translation table.
pub fn translate(e: &ApiError) -> Translated {
    use StatusCode as S;
    let ok = S::OK;
    match e {
        ApiError::NoRoute(path) => t(
            S::NOT_FOUND,
            codes::BAD_REQUEST,
            format!("no such path: {path}"),
            "请求的接口不存在".into(),
        ),
        ApiError::BadMethod(m) => t(
            S::METHOD_NOT_ALLOWED,
            codes::BAD_REQUEST,
            format!("method {m} is not allowed on this path"),
            "请求方法不被支持".into(),
        ),
        ApiError::BodyTooLarge => t(
            S::PAYLOAD_TOO_LARGE,
            codes::BAD_REQUEST,
            "body: is larger than this route accepts (max_body_bytes)".into(),
            "请求体过大".into(),
        ),
        ApiError::Domain(d) => match d {
            Error::Invalid { field, rule } => t(
                ok,
                codes::BAD_REQUEST,
                d.to_string(),
                format!("参数错误：{field}（{rule}）"),
            ),
            Error::CcpParam { field, rule } => t(
                ok,
                codes::CCP_PARAM,
                d.to_string(),
                format!("参数检查不通过：{field}（{rule}）"),
            ),
            Error::DeskParam { field, rule } => t(
                ok,
                codes::DESK_PARAM_INVALID,
                d.to_string(),
                format!("云桌面参数不合法：{field}（{rule}）"),
            ),
            Error::QueryRule { target, .. } => {
                let code = if *target == QueryTarget::Desk {
                    codes::DESK_QUERY_RULE
                } else {
                    codes::BAD_REQUEST
                };
                t(
                    ok,
                    code,
                    d.to_string(),
                    "查询条件的匹配规则或类型不合法".into(),
                )
            }
            Error::Unauthenticated(_) => t(
                S::UNAUTHORIZED,
                codes::UNAUTHENTICATED,
                d.to_string(),
                "用户名或密码错误".into(),
            ),
            Error::NotFound { what, .. } => {
                let code = if *what == Missing::User {
                    codes::USER_NOT_FOUND
                } else {
                    codes::BAD_REQUEST
                };
                t(ok, code, d.to_string(), format!("{}不存在", noun_zh(*what)))
            }
            Error::BatchTooLarge { kind, max, .. } => {
                let code = match kind {
                    BatchKind::Desk => codes::DESK_BATCH_TOO_LARGE,
                    BatchKind::User => codes::USER_BATCH_TOO_LARGE,
                };
                t(
                    ok,
                    code,
                    d.to_string(),
                    format!("批量操作一次最多 {max} 个"),
                )
            }
            Error::StateForbids { state, .. } => t(
                ok,
                codes::DESK_STATE_FORBIDS,
                d.to_string(),
                format!("云桌面当前状态（{state}）不允许该操作"),
            ),
            Error::UnknownCluster(_) => t(
                ok,
                codes::CLUSTER_FORWARD,
                d.to_string(),
                "集群转发异常".into(),
            ),
            Error::RateLimited { .. } => t(
                S::TOO_MANY_REQUESTS,
                codes::TOO_MANY_REQUESTS,
                d.to_string(),
                "请求过于频繁，请稍后再试".into(),
            ),
            Error::Busy(_) => t(
                S::SERVICE_UNAVAILABLE,
                codes::TOO_MANY_REQUESTS,
                d.to_string(),
                "服务器繁忙，请稍后再试".into(),
            ),
            Error::User { refusal, .. } => {
                let (code, tip) = user_refusal(*refusal);
                t(ok, code, d.to_string(), tip.into())
            }
            Error::UserHasDesks { desks, .. } => t(
                ok,
                codes::USER_HAS_DESKS,
                d.to_string(),
                format!(
                    "删除用户校验失败，失败原因为[用户仍有云桌面：{}]",
                    desks.join("，")
                ),
            ),
            // A taken name, a row still in use and a hypervisor failure answer as the catch-all
            // refusal did.
            Error::Refused(_)
            | Error::AlreadyExists { .. }
            | Error::Conflict { .. }
            | Error::Hypervisor(_) => t(
                ok,
                codes::OTHER,
                d.to_string(),
                "操作失败，请联系系统管理员".into(),
            ),
            // 507 (Insufficient Storage) with the server-fault code: the client learns that
            // retrying helps only once the operator has freed space.
            Error::NoSpace(_) => t(
                S::INSUFFICIENT_STORAGE,
                codes::INTERNAL,
                d.to_string(),
                "服务器磁盘空间已满，请联系系统管理员".into(),
            ),
            Error::Internal(_) => t(
                S::INTERNAL_SERVER_ERROR,
                codes::INTERNAL,
                "internal server error".into(),
                "服务内部错误".into(),
            ),
        },
    }
}

/// The code and end-user tip of each chapter 6.2 refusal.
fn user_refusal(r: UserRefusal) -> (u32, &'static str) {
    use UserRefusal as R;
    match r {
        R::BadCredentials => (codes::USER_BAD_CREDENTIALS, "账号或密码错误"),
        R::AdPassword => (codes::USER_AD_PASSWORD, "AD域用户不允许修改密码"),
        R::LdapPassword => (codes::USER_LDAP_PASSWORD, "LDAP域用户不允许修改密码"),
        R::PasswordPolicy => (codes::USER_PASSWORD_POLICY, "新密码不符合密码策略要求"),
        R::SamePassword => (codes::USER_SAME_PASSWORD, "新密码不能与旧密码相同"),
        R::Maintenance => (codes::USER_MAINTENANCE, "系统处于维护模式，请稍后再试"),
        R::Locked => (codes::USER_LOCKED, "用户已被锁定，请稍后再试"),
        R::OtpNotGlobal => (
            codes::USER_OTP_NOT_GLOBAL,
            "全局未开启动态口令认证策略，请取消后再创建或编辑",
        ),
        R::HardwareNotGlobal => (
            codes::USER_HARDWARE_NOT_GLOBAL,
            "全局未开启硬件特征码认证策略，请取消后再创建或编辑",
        ),
        R::SmsNotGlobal => (
            codes::USER_SMS_NOT_GLOBAL,
            "全局未开启短信认证策略，请取消后再创建或编辑",
        ),
        R::ExpiryPast => (
            codes::USER_EXPIRE_PAST,
            "校验失败：账号过期时间早于当前时间",
        ),
        R::CrossClusterVdiOnly => (
            codes::CROSS_CLUSTER_VDI_ONLY,
            "当前版本跨集群查询云桌面仅支持VDI",
        ),
        R::TerminalLoginExpired => (
            codes::TERMINAL_LOGIN_EXPIRED,
            "终端登录已失效，请注销后重新登录",
        ),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Domain(Error::Internal(detail)) => tracing::error!(%detail, "internal error"),
            ApiError::Domain(e @ Error::NoSpace(_)) => tracing::error!(error = %e, "disk full"),
            _ => {}
        }
        let tr = translate(&self);
        let body = ErrorBody {
            content: ErrorContent {
                code: tr.code,
                message: tr.message,
                user_tip: tr.user_tip,
            },
        };
        let mut resp = (tr.status, Json(body)).into_response();
        let retry_after = match self {
            ApiError::Domain(Error::RateLimited { retry_after_secs }) => Some(retry_after_secs),
            ApiError::Domain(Error::Busy(_)) => Some(1),
            _ => None,
        };
        if let Some(v) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn row(e: ApiError) -> (u16, u32) {
        let t = translate(&e);
        (t.status.as_u16(), t.code)
    }

    #[test]
    fn the_table() {
        let d = |e: Error| ApiError::Domain(e);
        assert_eq!(
            row(d(Error::invalid(
                "content.limit",
                "must be between 1 and 1000"
            ))),
            (200, 22000400)
        );
        assert_eq!(
            row(d(Error::QueryRule {
                target: QueryTarget::Desk,
                field: "f".into(),
                rule: "r".into()
            })),
            (200, 23010801)
        );
        assert_eq!(
            row(d(Error::QueryRule {
                target: QueryTarget::Other,
                field: "f".into(),
                rule: "r".into()
            })),
            (200, 22000400)
        );
        assert_eq!(row(d(Error::Unauthenticated("x".into()))), (401, 22000401));
        assert_eq!(
            row(d(Error::invalid("content.limit", "r").for_ccp())),
            (200, 12000200)
        );
        assert_eq!(
            row(d(Error::DeskParam {
                field: "content.memory".into(),
                rule: "r".into()
            })),
            (200, 23010701)
        );
        assert_eq!(
            row(d(Error::not_found(Missing::Task, "t"))),
            (200, 22000400)
        );
        assert_eq!(
            row(d(Error::not_found(Missing::User, "u"))),
            (200, 23070002)
        );
        assert_eq!(
            row(d(Error::BatchTooLarge {
                kind: BatchKind::Desk,
                max: 1000,
                got: 1001
            })),
            (200, 23010703)
        );
        assert_eq!(
            row(d(Error::BatchTooLarge {
                kind: BatchKind::User,
                max: 1000,
                got: 1001
            })),
            (200, 23010019)
        );
        assert_eq!(
            row(d(Error::StateForbids {
                desk: "d".into(),
                state: "CLOSE".into(),
                action: "restart".into()
            })),
            (200, 23010901)
        );
        assert_eq!(row(d(Error::UnknownCluster("c".into()))), (200, 23170002));
        assert_eq!(
            row(d(Error::RateLimited {
                retry_after_secs: 3
            })),
            (429, 22000429)
        );
        assert_eq!(
            row(d(Error::Busy("too many requests in flight".into()))),
            (503, 22000429)
        );
        assert_eq!(row(d(Error::Refused("no".into()))), (200, 23010000));
        assert_eq!(
            row(d(Error::already_exists(Missing::User, "u"))),
            (200, 23010000)
        );
        assert_eq!(
            row(d(Error::conflict(Missing::Cluster, "c", "is in use"))),
            (200, 23010000)
        );
        assert_eq!(row(d(Error::hypervisor("down"))), (200, 23010000));
        assert_eq!(row(d(Error::internal("db down"))), (500, 22000500));
        assert_eq!(
            row(d(Error::NoSpace("the database".into()))),
            (507, 22000500)
        );
        assert_eq!(row(ApiError::NoRoute("/x".into())), (404, 22000400));
        assert_eq!(row(ApiError::BadMethod("GET".into())), (405, 22000400));
    }

    #[test]
    fn the_user_rows() {
        use UserRefusal as R;
        let d = |r| row(ApiError::Domain(Error::user(r, "x")));
        for (r, code) in [
            (R::BadCredentials, 23070201),
            (R::AdPassword, 23070202),
            (R::LdapPassword, 23070203),
            (R::PasswordPolicy, 23070204),
            (R::SamePassword, 23070205),
            (R::Maintenance, 23070206),
            (R::Locked, 23070207),
            (R::OtpNotGlobal, 23070212),
            (R::HardwareNotGlobal, 23070213),
            (R::SmsNotGlobal, 23070214),
            (R::ExpiryPast, 23070221),
            (R::CrossClusterVdiOnly, 23010802),
            (R::TerminalLoginExpired, 23010803),
        ] {
            assert_eq!(d(r), (200, code), "{r:?}");
        }
        let has = ApiError::Domain(Error::UserHasDesks {
            user: "u".into(),
            desks: vec!["u_1".into()],
        });
        let tr = translate(&has);
        assert_eq!((tr.status.as_u16(), tr.code), (200, 23020005));
        assert!(tr.message.contains("u_1") && tr.user_tip.contains("u_1"));
    }

    #[test]
    fn messages_name_the_field_and_hide_internals() {
        let t = translate(&ApiError::Domain(Error::invalid(
            "content.limit",
            "must be between 1 and 1000",
        )));
        assert_eq!(
            t.message,
            "invalid parameter `content.limit`: must be between 1 and 1000"
        );
        assert_eq!(
            t.user_tip,
            "参数错误：content.limit（must be between 1 and 1000）"
        );
        let t = translate(&ApiError::Domain(Error::internal("password=hunter2 in db")));
        assert!(!t.message.contains("hunter2"));
        let t = translate(&ApiError::Domain(Error::StateForbids {
            desk: "d1".into(),
            state: "CLOSE".into(),
            action: "restart".into(),
        }));
        assert!(
            t.message.contains("CLOSE"),
            "the current state is in the message"
        );
    }

    #[test]
    fn rate_limit_sets_retry_after() {
        let r = ApiError::Domain(Error::RateLimited {
            retry_after_secs: 7,
        })
        .into_response();
        assert_eq!(r.headers().get(header::RETRY_AFTER).unwrap(), "7");
    }
}
