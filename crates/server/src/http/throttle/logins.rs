//! Failed logins, throttled by client address first and then by account.
//!
//! Each address and each account has a budget of failures per window (a `governor` token
//! bucket: the budget comes back one try at a time over the window). The failure that finds
//! its budget spent is answered 429 / 22000429 and begins a lock window, as long as the bucket
//! needs to give one try back (`Retry-After`); tries during the window are refused before any
//! password is checked.
//!
//! A stranger cannot lock an account out for good: the account's budget only counts failures
//! from addresses that never signed in to it, and those addresses (trusted for
//! [`TRUST_FOR`]) are not held by the account's lock — only by their own address budget.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use deskd_domain::error::{Error, Result};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::{retry_after, Reason, ThrottleSettings, Throttles};

/// How long an address that signed in to an account stays exempt from that account's lock.
pub const TRUST_FOR: Duration = Duration::from_secs(24 * 3600);
/// Bound on the trusted and locked tables; past it, expired rows go, then the oldest half.
const MAX_ROWS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    Account(String),
}

/// The failed-login budgets and lock windows of one process.
pub struct LoginGuard {
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_account: DefaultKeyedRateLimiter<String>,
    locked: Mutex<HashMap<Key, Instant>>,
    trusted: Mutex<HashMap<(String, IpAddr), Instant>>,
    address_lockouts: AtomicU64,
    account_lockouts: AtomicU64,
}

/// `n` failures per `window`, at least one.
fn budget<K: std::hash::Hash + Eq + Clone>(n: u32, window: Duration) -> DefaultKeyedRateLimiter<K> {
    let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    let window = window.max(Duration::from_millis(1));
    let quota = Quota::with_period(window / n.get())
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(n);
    RateLimiter::keyed(quota)
}

/// IPv6 clients are counted per /64, the block one subscriber usually holds.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let masked = u128::from(v6) & (u128::MAX << 64);
            IpAddr::V6(masked.into())
        }
        v4 => v4,
    }
}

fn bounded<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, Instant>, now: Instant) {
    if map.len() < MAX_ROWS {
        return;
    }
    map.retain(|_, until| *until > now);
    if map.len() >= MAX_ROWS {
        let mut ends: Vec<Instant> = map.values().copied().collect();
        ends.sort_unstable();
        let cut = ends[ends.len() / 2];
        map.retain(|_, until| *until > cut);
    }
}

impl LoginGuard {
    pub fn new(s: &ThrottleSettings) -> Self {
        LoginGuard {
            by_address: budget(s.login_failures_per_address, s.login_failure_window),
            by_account: budget(s.login_failures_per_account, s.login_failure_window),
            locked: Mutex::default(),
            trusted: Mutex::default(),
            address_lockouts: AtomicU64::new(0),
            account_lockouts: AtomicU64::new(0),
        }
    }

    fn locked_for(&self, key: &Key, now: Instant) -> Option<Duration> {
        let locked = self.locked.lock().unwrap_or_else(|p| p.into_inner());
        locked
            .get(key)
            .and_then(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    fn is_trusted(&self, account: &str, addr: IpAddr, now: Instant) -> bool {
        let trusted = self.trusted.lock().unwrap_or_else(|p| p.into_inner());
        trusted
            .get(&(account.to_string(), addr))
            .is_some_and(|until| *until > now)
    }

    fn lock(&self, key: Key, wait: Duration) {
        let now = Instant::now();
        let mut locked = self.locked.lock().unwrap_or_else(|p| p.into_inner());
        bounded(&mut locked, now);
        locked.insert(key, now + wait);
    }

    /// Lockouts begun so far, by scope.
    pub fn lockouts(&self) -> [(&'static str, u64); 2] {
        [
            ("address", self.address_lockouts.load(Ordering::Relaxed)),
            ("account", self.account_lockouts.load(Ordering::Relaxed)),
        ]
    }

    pub(super) fn upkeep(&self) {
        let now = Instant::now();
        self.locked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, until| *until > now);
        self.trusted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, until| *until > now);
        self.by_address.retain_recent();
        self.by_account.retain_recent();
    }
}

/// One login try, begun by [`Throttles::login`]; the caller reports how it ended.
pub struct LoginAttempt<'a> {
    throttles: &'a Throttles,
    addr: IpAddr,
    account: String,
    trusted: bool,
}

impl Throttles {
    /// Begins a login try from `addr` for `account` (namespaced by the caller, e.g.
    /// `api:admin`, `user:alice`): refused with 429 while the address, or the account for an
    /// address it does not trust, is in a lock window.
    pub fn login(&self, addr: IpAddr, account: &str) -> Result<LoginAttempt<'_>> {
        let g = &self.logins;
        let addr = bucket(addr);
        let now = Instant::now();
        if let Some(wait) = g.locked_for(&Key::Address(addr), now) {
            let secs = retry_after(wait);
            self.refused(Reason::LoginAddress, &addr.to_string(), secs);
            return Err(Error::RateLimited {
                retry_after_secs: secs,
            });
        }
        let trusted = g.is_trusted(account, addr, now);
        if !trusted {
            if let Some(wait) = g.locked_for(&Key::Account(account.to_string()), now) {
                let secs = retry_after(wait);
                self.refused(Reason::LoginAccount, account, secs);
                return Err(Error::RateLimited {
                    retry_after_secs: secs,
                });
            }
        }
        Ok(LoginAttempt {
            throttles: self,
            addr,
            account: account.to_string(),
            trusted,
        })
    }
}

impl LoginAttempt<'_> {
    /// The password matched: the address is trusted for the account from now on.
    pub fn succeeded(self) {
        let g = &self.throttles.logins;
        let now = Instant::now();
        let mut trusted = g.trusted.lock().unwrap_or_else(|p| p.into_inner());
        bounded(&mut trusted, now);
        trusted.insert((self.account, self.addr), now + TRUST_FOR);
    }

    /// The password did not match: spends the address's budget (and the account's, unless the
    /// address is trusted for it). A spent budget begins a lock window and gives the 429 to
    /// answer instead of the caller's own refusal.
    pub fn failed(self) -> Option<Error> {
        let t = self.throttles;
        let g = &t.logins;
        let clock = DefaultClock::default();
        let mut wait = None;
        if let Err(no) = g.by_address.check_key(&self.addr) {
            let w = no.wait_time_from(clock.now());
            g.lock(Key::Address(self.addr), w);
            g.address_lockouts.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(address = %self.addr, lock_secs = retry_after(w), "failed logins: address locked");
            t.refused(Reason::LoginAddress, &self.addr.to_string(), retry_after(w));
            wait = Some(w);
        }
        if !self.trusted {
            if let Err(no) = g.by_account.check_key(&self.account) {
                let w = no.wait_time_from(clock.now());
                g.lock(Key::Account(self.account.clone()), w);
                g.account_lockouts.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(account = %self.account, lock_secs = retry_after(w), "failed logins: account locked for untrusted addresses");
                t.refused(Reason::LoginAccount, &self.account, retry_after(w));
                wait = Some(wait.map_or(w, |a: Duration| a.max(w)));
            }
        }
        wait.map(|w| Error::RateLimited {
            retry_after_secs: retry_after(w),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(per_address: u32, per_account: u32) -> ThrottleSettings {
        ThrottleSettings {
            login_failures_per_address: per_address,
            login_failures_per_account: per_account,
            login_failure_window: Duration::from_secs(3600),
            ..ThrottleSettings::default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_is_locked_after_its_budget() {
        let t = Throttles::new(&settings(2, 100));
        for _ in 0..2 {
            assert!(t
                .login(ip("10.0.0.1"), "api:admin")
                .unwrap()
                .failed()
                .is_none());
        }
        let e = t.login(ip("10.0.0.1"), "api:admin").unwrap().failed();
        assert!(matches!(e, Some(Error::RateLimited { .. })), "{e:?}");
        assert!(t.login(ip("10.0.0.1"), "api:admin").is_err());
        assert!(t.login(ip("10.0.0.2"), "api:admin").is_ok());
        assert_eq!(t.logins.lockouts()[0].1, 1);
    }

    #[test]
    fn a_trusted_address_passes_the_account_lock() {
        let t = Throttles::new(&settings(100, 2));
        t.login(ip("10.0.0.9"), "api:admin").unwrap().succeeded();
        for i in 1..=3 {
            let _ = t
                .login(ip(&format!("10.0.1.{i}")), "api:admin")
                .unwrap()
                .failed();
        }
        assert!(
            t.login(ip("10.0.2.1"), "api:admin").is_err(),
            "stranger held"
        );
        assert!(t.login(ip("10.0.0.9"), "api:admin").is_ok(), "owner passes");
        assert!(
            t.login(ip("10.0.2.1"), "user:alice").is_ok(),
            "other account"
        );
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        assert_eq!(bucket(ip("2001:db8::1")), bucket(ip("2001:db8::ffff:1")));
        assert_ne!(bucket(ip("2001:db8::1")), bucket(ip("2001:db8:0:1::1")));
        assert_eq!(bucket(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
    }
}
