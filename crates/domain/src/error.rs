//! The one domain error type. It knows nothing about HTTP: the server translates each variant to
//! the document's code, HTTP status, `message` and `user_tip` in exactly one place.

use std::fmt;

/// What kind of thing was not found; decides the code (a missing user has its own code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Task,
    Desk,
    Strategy,
    User,
    UserGroup,
    Image,
    Network,
    Cluster,
    Host,
    StoragePool,
    OsFile,
    Account,
    Terminal,
}

impl Missing {
    pub fn noun(self) -> &'static str {
        match self {
            Missing::Task => "task",
            Missing::Desk => "desk",
            Missing::Strategy => "desk strategy",
            Missing::User => "user",
            Missing::UserGroup => "user group",
            Missing::Image => "image",
            Missing::Network => "network",
            Missing::Cluster => "cluster",
            Missing::Host => "host",
            Missing::StoragePool => "storage pool",
            Missing::OsFile => "OS file",
            Missing::Account => "API account",
            Missing::Terminal => "terminal",
        }
    }
}

/// Which batch limit was exceeded; desks and users have different codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchKind {
    Desk,
    User,
}

/// Which resource a query was aimed at; desks have their own code for an illegal match rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryTarget {
    Desk,
    Other,
}

/// Why a desktop-user operation (chapter 6.2) was refused; each has its own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserRefusal {
    /// Unknown user or wrong password at login.
    BadCredentials,
    /// AD users change their password in the directory.
    AdPassword,
    LdapPassword,
    /// The new password breaks the password policy.
    PasswordPolicy,
    /// The new password equals the old one (deskd's reading of the lost 23070205).
    SamePassword,
    /// Password changes are blocked while the system is in maintenance mode.
    Maintenance,
    /// Too many wrong passwords; locked for a while.
    Locked,
    /// The global OTP strategy is off.
    OtpNotGlobal,
    HardwareNotGlobal,
    SmsNotGlobal,
    /// `account_expire_date` lies in the past.
    ExpiryPast,
    /// Cross-cluster desk listing supports VDI only.
    CrossClusterVdiOnly,
    /// The terminal has no live login.
    TerminalLoginExpired,
}

/// Every way a deskd operation can fail.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Bad input: `field` is the JSON path of the offending value, `rule` what it must satisfy.
    #[error("invalid parameter `{field}`: {rule}")]
    Invalid { field: String, rule: String },
    /// A desk configuration value out of range or unfit for the desk (6.1.4, code 23010701).
    #[error("invalid desk parameter `{field}`: {rule}")]
    DeskParam { field: String, rule: String },
    /// Bad input to an RG-CCP (`/v1/rccp`) endpoint (code 12000200).
    #[error("invalid parameter `{field}`: {rule}")]
    CcpParam { field: String, rule: String },
    /// A `match_rule`/`type` other than EQ/EXACT.
    #[error("invalid query condition `{field}`: {rule}")]
    QueryRule {
        target: QueryTarget,
        field: String,
        rule: String,
    },
    /// Missing, expired, revoked or garbled credentials.
    #[error("authentication failed: {0}")]
    Unauthenticated(String),
    #[error("{} {id} does not exist", .what.noun())]
    NotFound { what: Missing, id: String },
    #[error("batch of {got} items exceeds the limit of {max}")]
    BatchTooLarge {
        kind: BatchKind,
        max: usize,
        got: usize,
    },
    /// The desk's state machine forbids the action.
    #[error("desk {desk} is {state}; {action} is not allowed in that state")]
    StateForbids {
        desk: String,
        state: String,
        action: String,
    },
    #[error("cluster {0} is unknown to this controller")]
    UnknownCluster(String),
    #[error("too many requests; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The server sheds this request rather than queue it (too many at once); retry shortly.
    #[error("the server is busy: {0}; retry after 1 s")]
    Busy(String),
    /// A desktop-user rule refused the operation (chapter 6.2 codes).
    #[error("{detail}")]
    User {
        refusal: UserRefusal,
        detail: String,
    },
    /// The user still owns desks and cannot be deleted (23020005).
    #[error("user {user} still owns desks: {}", desks.join(", "))]
    UserHasDesks { user: String, desks: Vec<String> },
    /// A unique key (a name, a path, an id) is taken by another row. `name` is the taken value;
    /// empty when the database only said which table refused it.
    #[error("{}", already_exists(*what, name))]
    AlreadyExists { what: Missing, name: String },
    /// The thing's state or what still refers to it forbids the operation; the message reads
    /// "`what` `name` `reason`" (`reason`: "is still used by 2 desks (a, b)").
    #[error("{} `{name}` {reason}", what.noun())]
    Conflict {
        what: Missing,
        name: String,
        reason: String,
    },
    /// The hypervisor driver refused or failed the operation; the message says which and
    /// carries the driver's own account (see [`Error::hypervisor`]).
    #[error("{0}")]
    Hypervisor(String),
    /// A business rule refused the operation (catch-all code).
    #[error("{0}")]
    Refused(String),
    /// The disk holding deskd's data is full, so `{0}` (what could not be written) was not
    /// written; nothing half-written is kept. A fault of the server, not of the request: the
    /// operator frees space and the same request then succeeds.
    #[error(
        "disk full: no space left on the device holding deskd's data; {0} could not be written"
    )]
    NoSpace(String),
    /// Something inside deskd failed; the detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: impl Into<String>, rule: impl fmt::Display) -> Self {
        Error::Invalid {
            field: field.into(),
            rule: rule.to_string(),
        }
    }

    pub fn not_found(what: Missing, id: impl Into<String>) -> Self {
        Error::NotFound {
            what,
            id: id.into(),
        }
    }

    pub fn user(refusal: UserRefusal, detail: impl Into<String>) -> Self {
        Error::User {
            refusal,
            detail: detail.into(),
        }
    }

    /// The same refusal as an RG-CCP parameter error: the `/v1/rccp` endpoints answer bad input
    /// with 12000200 (section a.5) instead of 22000400.
    pub fn for_ccp(self) -> Self {
        match self {
            Error::Invalid { field, rule } | Error::QueryRule { field, rule, .. } => {
                Error::CcpParam { field, rule }
            }
            e => e,
        }
    }

    pub fn already_exists(what: Missing, name: impl Into<String>) -> Self {
        Error::AlreadyExists {
            what,
            name: name.into(),
        }
    }

    pub fn conflict(what: Missing, name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Conflict {
            what,
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// A driver failure as the operation's answer: "hypervisor: <the driver's text>".
    pub fn hypervisor(e: impl fmt::Display) -> Self {
        Error::Hypervisor(format!("hypervisor: {e}"))
    }

    pub fn internal(detail: impl fmt::Display) -> Self {
        Error::Internal(detail.to_string())
    }
}

/// The wording of [`Error::AlreadyExists`]. Catalog and fleet rows are told apart by their
/// names alone (D10), so for them it is the name that is taken.
fn already_exists(what: Missing, name: &str) -> String {
    let noun = what.noun();
    match what {
        _ if name.is_empty() => format!("{noun} already exists"),
        Missing::Strategy
        | Missing::Network
        | Missing::Cluster
        | Missing::Host
        | Missing::StoragePool => format!("{noun} name `{name}` is already taken"),
        _ => format!("{noun} `{name}` already exists"),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn already_exists_names_the_taken_key() {
        let e = |what, name: &str| Error::already_exists(what, name).to_string();
        assert_eq!(e(Missing::User, "bob"), "user `bob` already exists");
        assert_eq!(
            e(Missing::Strategy, "exam"),
            "desk strategy name `exam` is already taken"
        );
        assert_eq!(e(Missing::Desk, ""), "desk already exists");
    }

    #[test]
    fn conflict_reads_as_one_sentence() {
        let e = Error::conflict(Missing::Cluster, "lab", "is still used by 2 desks (a, b)");
        assert_eq!(
            e.to_string(),
            "cluster `lab` is still used by 2 desks (a, b)"
        );
    }

    #[test]
    fn hypervisor_failures_carry_the_drivers_text() {
        assert_eq!(
            Error::hypervisor("no such VM").to_string(),
            "hypervisor: no such VM"
        );
    }
}
