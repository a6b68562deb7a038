//! The terminal registry: register and heartbeat (extensions) and 6.6 terminal statistics.
//! Online = a heartbeat (or a desktop-user login) within `ServerConfig::terminal_online`;
//! never_login = registered, but no desktop user has logged in from it yet.

use axum::extract::State;
use axum::Json;
use deskd_domain::enums::TerminalCategory;
use deskd_domain::error::{Error, Missing, Result};
use deskd_domain::model::{now_ms, Terminal, TerminalTally};
use deskd_domain::platform as rules;
use deskd_wire::envelope::{Empty, Reply};
use deskd_wire::inventory::*;

use crate::http::error::ApiResult;
use crate::http::extract::{Content, OptionalContent};
use crate::AppState;

/// Longest terminal id (the unified-login `terminal_id`).
const MAX_TERMINAL_ID: usize = 64;

fn terminal_id(value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > MAX_TERMINAL_ID || v.chars().any(char::is_control) {
        return Err(Error::invalid(
            "content.terminal_id",
            format!("must be 1 to {MAX_TERMINAL_ID} characters without control characters"),
        ));
    }
    Ok(v.to_string())
}

/// `POST /v1/terminal/register`: registering again updates name, category and addresses.
pub async fn register(
    State(app): State<AppState>,
    Content(r): Content<TerminalRegisterRequest>,
) -> ApiResult<Json<Reply<TerminalRegisterData>>> {
    let id = terminal_id(&r.terminal_id)?;
    let now = now_ms();
    let t = Terminal {
        name: rules::name(
            r.terminal_name.as_deref().unwrap_or(&id),
            "content.terminal_name",
        )?,
        category: TerminalCategory::parse(r.terminal_category.trim(), "content.terminal_category")
            .map_err(Error::from)?,
        ip: match r.ip.as_deref().filter(|s| !s.is_empty()) {
            Some(ip) => rules::ipv4(ip, "content.ip")?,
            None => String::new(),
        },
        mac: mac(r.mac.as_deref().unwrap_or_default())?,
        id,
        registered_at: now,
        last_heartbeat_at: now,
        first_login_at: 0,
    };
    let created = app.store.register_terminal(&t).await?;
    Ok(Json(Reply::data(TerminalRegisterData {
        terminal_id: t.id,
        created,
    })))
}

/// Empty, or six hex pairs separated by `:` or `-` (written lower-case with `:`).
fn mac(value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    let parts: Vec<&str> = v.split([':', '-']).collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    if !ok {
        return Err(Error::invalid(
            "content.mac",
            format!("`{v}` is not a MAC address"),
        ));
    }
    Ok(parts.join(":").to_ascii_lowercase())
}

/// `POST /v1/terminal/heartbeat`.
pub async fn heartbeat(
    State(app): State<AppState>,
    Content(r): Content<TerminalHeartbeatRequest>,
) -> ApiResult<Json<Reply<()>>> {
    let id = terminal_id(&r.terminal_id)?;
    if !app.store.terminal_heartbeat(&id, now_ms()).await? {
        return Err(Error::not_found(Missing::Terminal, id).into());
    }
    Ok(Json(Reply::empty()))
}

/// `PUT /v1/terminal/statistics` (6.6).
pub async fn statistics(
    State(app): State<AppState>,
    OptionalContent(_): OptionalContent<Empty>,
) -> ApiResult<Json<Reply<TerminalStatistics>>> {
    let window = app.cfg.terminal_online.as_millis() as i64;
    let tallies = app.store.terminal_tallies(now_ms() - window).await?;
    Ok(Json(Reply::data(statistics_of(&tallies))))
}

/// Sums the tallies into the document's shape; offline = total − online.
pub fn statistics_of(tallies: &[TerminalTally]) -> TerminalStatistics {
    let mut s = TerminalStatistics::default();
    for t in tallies {
        let slot = match t.category {
            TerminalCategory::app => &mut s.app,
            TerminalCategory::idv => &mut s.idv,
            TerminalCategory::pc => &mut s.pc,
            TerminalCategory::rca => &mut s.rca,
            TerminalCategory::vdi => &mut s.vdi,
            TerminalCategory::voi => &mut s.voi,
        };
        *slot = TerminalCount {
            total: t.total,
            online: t.online,
            offline: t.total - t.online,
            never_login: t.never_login,
        };
        s.total += t.total;
        s.total_online += t.online;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_and_ids() {
        assert_eq!(mac("AA-BB-CC-00-11-22").unwrap(), "aa:bb:cc:00:11:22");
        assert!(mac("aa:bb").is_err());
        assert!(terminal_id(" ").is_err());
        assert!(terminal_id(&"x".repeat(65)).is_err());
    }

    #[test]
    fn offline_is_the_rest() {
        let s = statistics_of(&[TerminalTally {
            category: TerminalCategory::voi,
            total: 4,
            online: 1,
            never_login: 2,
        }]);
        assert_eq!(
            (s.voi.offline, s.total, s.total_online, s.app.total),
            (3, 4, 1, 0)
        );
    }
}
