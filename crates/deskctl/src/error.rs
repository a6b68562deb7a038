//! Why a command failed, and the exit code each reason gets (documented in `deskctl --help`).

use std::fmt;

/// A failed command. Each variant is one documented exit code.
#[derive(Debug)]
pub enum Failure {
    /// Exit 1: the server answered with a non-zero code.
    Refused {
        code: u32,
        message: String,
        /// Seconds the server asked us to wait (HTTP 429, `Retry-After`).
        retry_after: Option<String>,
    },
    /// Exit 2: bad arguments, an unreadable or malformed input file, no login for the profile.
    Usage(String),
    /// Exit 3: the server could not be reached, or did not answer as deskd does.
    Unreachable(String),
    /// Exit 4: a task (or a row of a batch) ended with failures.
    TaskFailed(String),
}

/// A command's result.
pub type Outcome<T = ()> = Result<T, Failure>;

impl Failure {
    pub fn usage(msg: impl Into<String>) -> Failure {
        Failure::Usage(msg.into())
    }

    /// The process exit code of this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Refused { .. } => 1,
            Failure::Usage(_) => 2,
            Failure::Unreachable(_) => 3,
            Failure::TaskFailed(_) => 4,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused {
                code,
                message,
                retry_after,
            } => {
                write!(f, "refused by the server: code {code}: {message}")?;
                if let Some(secs) = retry_after {
                    write!(f, " (too many requests: retry after {secs} s)")?;
                }
                Ok(())
            }
            Failure::Usage(m) => write!(f, "{m}"),
            Failure::Unreachable(m) => write!(f, "cannot reach the server: {m}"),
            Failure::TaskFailed(m) => write!(f, "{m}"),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Usage(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_has_its_documented_exit_code() {
        let refused = Failure::Refused {
            code: 23010901,
            message: "m".into(),
            retry_after: None,
        };
        assert_eq!(refused.exit_code(), 1);
        assert_eq!(Failure::usage("u").exit_code(), 2);
        assert_eq!(Failure::Unreachable("x".into()).exit_code(), 3);
        assert_eq!(Failure::TaskFailed("t".into()).exit_code(), 4);
    }

    #[test]
    fn throttling_says_when_to_retry() {
        let f = Failure::Refused {
            code: 22000429,
            message: "too many requests".into(),
            retry_after: Some("7".into()),
        };
        let text = f.to_string();
        assert!(text.contains("code 22000429"), "{text}");
        assert!(text.contains("retry after 7 s"), "{text}");
    }
}
