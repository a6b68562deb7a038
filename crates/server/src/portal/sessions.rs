//! Portal sessions: a desktop user's Bearer token for the portal routes, kept in this process's
//! memory. Desktop users have no API account, so their sessions are not API tokens; like the
//! console tickets they are per replica, and a restart signs portal users out (they sign in
//! again). The token is random (32 bytes), stored only as its hash, and lives as long as an API
//! token (`token_ttl`).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use deskd_domain::auth::{new_token, token_hash};
use deskd_domain::error::Error;
use deskd_domain::ids::UserId;

use crate::http::error::ApiError;
use crate::http::routes::Part;
use crate::AppState;

/// Most live sessions kept; past it the oldest are dropped.
const MAX_SESSIONS: usize = 100_000;

struct Session {
    user_id: UserId,
    expires: Instant,
    /// Tasks this session started: the only ones it may read.
    tasks: HashSet<String>,
}

/// Token hash → session.
#[derive(Default)]
pub struct Sessions {
    table: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// A new session for `user_id`; returns the token to hand to the browser.
    pub fn open(&self, user_id: UserId, ttl: Duration) -> String {
        let (token, hash) = new_token();
        let now = Instant::now();
        let mut t = self.lock();
        t.retain(|_, s| s.expires > now);
        if t.len() >= MAX_SESSIONS {
            if let Some(oldest) = t
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
            {
                t.remove(&oldest);
            }
        }
        t.insert(
            hash,
            Session {
                user_id,
                expires: now + ttl,
                tasks: HashSet::new(),
            },
        );
        token
    }

    /// Ends the session of `hash`.
    pub fn close(&self, hash: &str) {
        self.lock().remove(hash);
    }

    fn user(&self, hash: &str) -> Option<UserId> {
        self.lock()
            .get(hash)
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.user_id.clone())
    }

    /// Remembers that the session started `task_id`.
    pub fn own_task(&self, hash: &str, task_id: &str) {
        if let Some(s) = self.lock().get_mut(hash) {
            s.tasks.insert(task_id.to_string());
        }
    }

    /// Whether the session started `task_id`.
    pub fn owns_task(&self, hash: &str, task_id: &str) -> bool {
        self.lock()
            .get(hash)
            .is_some_and(|s| s.tasks.contains(task_id))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The signed-in desktop user of a portal request.
pub struct PortalUser {
    pub user_id: UserId,
    pub token_hash: String,
}

impl Part for PortalUser {}

impl FromRequestParts<AppState> for PortalUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::Unauthenticated(
                    "missing portal Bearer token in the Authorization header".into(),
                )
            })?;
        let hash = token_hash(token);
        let user_id = app.portal.user(&hash).ok_or_else(|| {
            Error::Unauthenticated("the portal session is unknown or expired".into())
        })?;
        Ok(PortalUser {
            user_id,
            token_hash: hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_sees_only_its_own_tasks_and_ends() {
        let s = Sessions::default();
        let token = s.open(UserId::from("u1".to_string()), Duration::from_secs(60));
        let hash = token_hash(&token);
        assert_eq!(s.user(&hash), Some(UserId::from("u1".to_string())));
        s.own_task(&hash, "t1");
        assert!(s.owns_task(&hash, "t1"));
        assert!(!s.owns_task(&hash, "t2"));
        s.close(&hash);
        assert_eq!(s.user(&hash), None);
        let expired = s.open(UserId::from("u2".to_string()), Duration::ZERO);
        assert_eq!(s.user(&token_hash(&expired)), None);
    }
}
