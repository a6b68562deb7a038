//! Throttles, on by default: failed logins per client address and per account ([`logins`]),
//! a request budget per client address and per token (token buckets from `governor`), a bound
//! on Argon2 hashes running at once, and a bound on requests in flight that sheds the rest
//! with 503 / 22000429 instead of queueing them. Every refusal is counted for `/metrics`
//! ([`Throttles::render`]) and logged (at most one line per second per kind, with the count
//! of lines held back).
//!
//! The console's cookie login (or any other sign-in) reuses [`Throttles::logins`] and
//! [`Throttles::hash`] the same way the token endpoint does.

pub mod logins;

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use deskd_domain::error::{Error, Result};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

use super::error::ApiError;
use crate::AppState;

/// The throttles' settings (flags, `DESKD_*` variables and TOML keys of the same names).
#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// Failed logins one client address may make per window before it waits.
    pub login_failures_per_address: u32,
    /// Failed logins against one account (from addresses it never signed in from) per window.
    pub login_failures_per_account: u32,
    /// The window of both login budgets; a spent budget comes back one try at a time over it.
    pub login_failure_window: Duration,
    /// Requests per second one token may make (burst: twice that); 0 = no budget.
    pub requests_per_sec_per_token: u32,
    /// Requests per second one client address may make (burst: twice that); 0 = no budget.
    pub requests_per_sec_per_address: u32,
    /// Argon2 hashes computed at once; the others wait up to [`HASH_WAIT`].
    pub password_hash_concurrency: usize,
    /// Requests handled at once; the ones above are answered 503 / 22000429 at once.
    pub max_in_flight_requests: usize,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            login_failures_per_address: 20,
            login_failures_per_account: 50,
            login_failure_window: Duration::from_secs(600),
            requests_per_sec_per_token: 500,
            requests_per_sec_per_address: 1000,
            password_hash_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            max_in_flight_requests: 1024,
        }
    }
}

/// How long a password check waits for a free hashing slot before it is shed.
pub const HASH_WAIT: Duration = Duration::from_secs(5);

/// Why a request was refused, as the `reason` label of `deskd_throttled_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    LoginAddress,
    LoginAccount,
    AddressBudget,
    TokenBudget,
    InFlight,
    HashBusy,
    Connections,
}

impl Reason {
    const ALL: [Reason; 7] = [
        Reason::LoginAddress,
        Reason::LoginAccount,
        Reason::AddressBudget,
        Reason::TokenBudget,
        Reason::InFlight,
        Reason::HashBusy,
        Reason::Connections,
    ];

    fn label(self) -> &'static str {
        match self {
            Reason::LoginAddress => "login_address",
            Reason::LoginAccount => "login_account",
            Reason::AddressBudget => "address_budget",
            Reason::TokenBudget => "token_budget",
            Reason::InFlight => "in_flight",
            Reason::HashBusy => "hash_busy",
            Reason::Connections => "connections",
        }
    }
}

/// A counter per [`Reason`], and a log gate per reason so a flood writes one line a second.
struct Counted {
    count: AtomicU64,
    gate: DefaultDirectRateLimiter,
    held_back: AtomicU64,
}

/// Every throttle of one process.
pub struct Throttles {
    pub logins: logins::LoginGuard,
    by_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    by_token: Option<DefaultKeyedRateLimiter<String>>,
    hashes: Arc<Semaphore>,
    hashing: AtomicUsize,
    hashing_peak: AtomicUsize,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    counted: Vec<Counted>,
}

/// A per-second budget per key with a burst of twice the rate; `None` when the rate is 0 (off).
fn per_second<K>(rate: u32) -> Option<DefaultKeyedRateLimiter<K>>
where
    K: std::hash::Hash + Eq + Clone,
{
    let rate = NonZeroU32::new(rate)?;
    let burst = NonZeroU32::new(rate.get().saturating_mul(2)).unwrap_or(rate);
    Some(RateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

/// A wait in whole seconds, rounded up and at least 1, for `Retry-After`.
pub(crate) fn retry_after(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

impl Throttles {
    pub fn new(s: &ThrottleSettings) -> Self {
        let one = NonZeroU32::MIN;
        Throttles {
            logins: logins::LoginGuard::new(s),
            by_address: per_second(s.requests_per_sec_per_address),
            by_token: per_second(s.requests_per_sec_per_token),
            hashes: Arc::new(Semaphore::new(s.password_hash_concurrency.max(1))),
            hashing: AtomicUsize::new(0),
            hashing_peak: AtomicUsize::new(0),
            in_flight: Arc::new(Semaphore::new(s.max_in_flight_requests.max(1))),
            max_in_flight: s.max_in_flight_requests.max(1),
            counted: Reason::ALL
                .iter()
                .map(|_| Counted {
                    count: AtomicU64::new(0),
                    gate: RateLimiter::direct(Quota::per_second(one)),
                    held_back: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    /// Counts a refusal and logs it, unless a line for this reason went out this second.
    pub(crate) fn refused(&self, reason: Reason, who: &str, retry_after_secs: u64) {
        let Some(c) = Reason::ALL
            .iter()
            .position(|r| *r == reason)
            .and_then(|i| self.counted.get(i))
        else {
            return;
        };
        c.count.fetch_add(1, Ordering::Relaxed);
        if c.gate.check().is_ok() {
            let held_back = c.held_back.swap(0, Ordering::Relaxed);
            tracing::warn!(
                reason = reason.label(),
                who,
                retry_after_secs,
                held_back,
                "throttled a request"
            );
        } else {
            c.held_back.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Spends one request of `addr`'s budget.
    pub fn check_address(&self, addr: IpAddr) -> Result<()> {
        let Some(l) = &self.by_address else {
            return Ok(());
        };
        l.check_key(&addr).map_err(|no| {
            let secs = retry_after(no.wait_time_from(DefaultClock::default().now()));
            self.refused(Reason::AddressBudget, &addr.to_string(), secs);
            Error::RateLimited {
                retry_after_secs: secs,
            }
        })
    }

    /// Spends one request of the token's budget (keyed by the token's hash).
    pub fn check_token(&self, token_hash: &str, account: &str) -> Result<()> {
        let Some(l) = &self.by_token else {
            return Ok(());
        };
        l.check_key(&token_hash.to_string()).map_err(|no| {
            let secs = retry_after(no.wait_time_from(DefaultClock::default().now()));
            self.refused(Reason::TokenBudget, account, secs);
            Error::RateLimited {
                retry_after_secs: secs,
            }
        })
    }

    /// Runs an Argon2 hash or verification on the blocking pool once one of the bounded
    /// hashing slots is free; waiting longer than [`HASH_WAIT`] sheds the request.
    pub async fn hash<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit =
            match tokio::time::timeout(HASH_WAIT, self.hashes.clone().acquire_owned()).await {
                Ok(Ok(p)) => p,
                _ => {
                    self.refused(Reason::HashBusy, "-", 1);
                    return Err(Error::Busy("too many password checks at once".into()));
                }
            };
        let now = self.hashing.fetch_add(1, Ordering::Relaxed) + 1;
        self.hashing_peak.fetch_max(now, Ordering::Relaxed);
        let out = tokio::task::spawn_blocking(f).await;
        self.hashing.fetch_sub(1, Ordering::Relaxed);
        drop(permit);
        out.map_err(Error::internal)
    }

    /// Drops the state of keys that have their whole budget back (run now and then).
    pub fn upkeep(&self) {
        if let Some(l) = &self.by_address {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.by_token {
            l.retain_recent();
            l.shrink_to_fit();
        }
        self.logins.upkeep();
    }

    /// The throttles' series in the Prometheus text format, appended to `/metrics`.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        out.push_str("# HELP deskd_throttled_total Requests refused by a throttle, by reason.\n");
        out.push_str("# TYPE deskd_throttled_total counter\n");
        for (r, c) in Reason::ALL.iter().zip(&self.counted) {
            let n = c.count.load(Ordering::Relaxed);
            let _ = writeln!(out, "deskd_throttled_total{{reason=\"{}\"}} {n}", r.label());
        }
        out.push_str(
            "# HELP deskd_login_lockouts_total Lock windows begun after failed logins, by scope.\n",
        );
        out.push_str("# TYPE deskd_login_lockouts_total counter\n");
        for (scope, n) in self.logins.lockouts() {
            let _ = writeln!(out, "deskd_login_lockouts_total{{scope=\"{scope}\"}} {n}");
        }
        let gauges = [
            (
                "deskd_password_hashes_running",
                "Argon2 hashes running now.",
                self.hashing.load(Ordering::Relaxed),
            ),
            (
                "deskd_password_hashes_peak",
                "Most Argon2 hashes that ran at once since the start.",
                self.hashing_peak.load(Ordering::Relaxed),
            ),
            (
                "deskd_requests_in_flight",
                "Requests being handled now.",
                self.max_in_flight - self.in_flight.available_permits(),
            ),
        ];
        for (name, help, v) in gauges {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
            );
        }
        out
    }
}

/// The client's address (the TCP peer); unspecified when the server runs without one (tests
/// that call the router directly).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        Ok(ClientAddr(peer(
            parts.extensions.get::<ConnectInfo<SocketAddr>>(),
        )))
    }
}

fn peer(info: Option<&ConnectInfo<SocketAddr>>) -> IpAddr {
    info.map(|c| c.0.ip().to_canonical())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// Outermost middleware: bounds the requests in flight (shedding the rest at once) and spends
/// the client address's budget.
pub async fn guard(
    State(app): State<AppState>,
    req: Request,
    next: Next,
) -> std::result::Result<Response, ApiError> {
    let t = &app.throttles;
    let Ok(_slot) = t.in_flight.clone().try_acquire_owned() else {
        t.refused(Reason::InFlight, "-", 1);
        return Err(Error::Busy(format!(
            "{} requests are already being handled",
            t.max_in_flight
        ))
        .into());
    };
    t.check_address(peer(req.extensions().get()))?;
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after(Duration::ZERO), 1);
        assert_eq!(retry_after(Duration::from_millis(10)), 1);
        assert_eq!(retry_after(Duration::from_secs(2)), 2);
        assert_eq!(retry_after(Duration::from_millis(2001)), 3);
    }
}
