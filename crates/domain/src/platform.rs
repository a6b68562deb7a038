//! Rules of the inventory management extensions (DECISIONS D10): the limits a strategy, network,
//! cluster, host or storage pool must respect. The document names none of these; deskd's choices
//! live here and nowhere else, and every error names the `content.` field and the rule.

use std::net::Ipv4Addr;

use crate::error::{Error, Result};
use crate::ipam::Pool;
use crate::model::Network;

/// Longest name of a strategy, network, cluster, host or pool (characters).
pub const MAX_NAME: usize = 64;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 256;

/// Strategy limits: cores, memory GB, system disk GB, data disk GB.
pub const STRATEGY_CPU: (i64, i64) = (1, 64);
pub const STRATEGY_MEMORY_GB: (i64, i64) = (1, 512);
pub const STRATEGY_SYSTEM_DISK_GB: (i64, i64) = (20, 2048);
pub const STRATEGY_DATA_DISK_GB: (i64, i64) = (0, 4096);
/// Host limits: cores, memory GB, storage GB, over-commit ratios.
pub const HOST_CPU: (i64, i64) = (1, 4096);
pub const HOST_MEMORY_GB: (i64, i64) = (1, 65536);
pub const HOST_STORAGE_GB: (i64, i64) = (1, 1_048_576);
pub const HOST_CPU_OVERCOMMIT: (f64, f64) = (1.0, 16.0);
pub const HOST_MEMORY_OVERCOMMIT: (f64, f64) = (1.0, 4.0);
/// Simulated pool capacity, GB.
pub const POOL_CAPACITY_GB: (i64, i64) = (1, 1_048_576);
/// VLAN ids.
pub const VLAN: (i64, i64) = (1, 4094);

/// A present field, or an error naming it as required.
pub fn required<T>(value: Option<T>, field: &str) -> Result<T> {
    value.ok_or_else(|| Error::invalid(field, "is required"))
}

/// A trimmed, non-empty name of at most [`MAX_NAME`] characters without control characters.
pub fn name(value: &str, field: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if v.chars().count() > MAX_NAME {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_NAME} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(v.to_string())
}

/// A description of at most [`MAX_DESCRIPTION`] characters.
pub fn description(value: &str, field: &str) -> Result<String> {
    if value.chars().count() > MAX_DESCRIPTION {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(value.to_string())
}

/// `value` within `lo..=hi`.
pub fn within<T: PartialOrd + std::fmt::Display + Copy>(
    value: T,
    (lo, hi): (T, T),
    field: &str,
) -> Result<T> {
    if value < lo || value > hi {
        return Err(Error::invalid(
            field,
            format!("must be between {lo} and {hi}"),
        ));
    }
    Ok(value)
}

/// An IPv4 address in dotted form.
pub fn ipv4(value: &str, field: &str) -> Result<String> {
    value
        .trim()
        .parse::<Ipv4Addr>()
        .map(|a| a.to_string())
        .map_err(|_| Error::invalid(field, format!("`{value}` is not an IPv4 address")))
}

/// Checks a network's CIDR, gateway, pool range, DNS and VLAN; the errors name the request's
/// fields (`content.ip_cidr`, `content.ip_pool_start`, …).
pub fn network(n: &Network) -> Result<()> {
    Pool::from_network(n).map_err(|e| match e {
        Error::Invalid { field, rule } => {
            let wire = match field.as_str() {
                "pool_start" => "ip_pool_start",
                "pool_end" => "ip_pool_end",
                other => other,
            };
            Error::invalid(format!("content.{wire}"), rule)
        }
        e => e,
    })?;
    ipv4(&n.dns_primary, "content.dns_primary")?;
    if !n.dns_secondary.is_empty() {
        ipv4(&n.dns_secondary, "content.dns_secondary")?;
    }
    if let Some(v) = n.vlan {
        within(v, VLAN, "content.vlan")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net() -> Network {
        Network {
            id: "n".into(),
            cluster_id: "c".into(),
            name: "n".into(),
            cidr: "10.0.0.0/24".into(),
            gateway: "10.0.0.1".into(),
            dns_primary: "10.0.0.53".into(),
            dns_secondary: String::new(),
            vlan: Some(10),
            pool_start: "10.0.0.100".into(),
            pool_end: "10.0.0.199".into(),
            state: crate::enums::NetworkState::AVAILABLE,
            creator: "admin".into(),
            created_at: 0,
        }
    }

    #[test]
    fn network_errors_name_the_request_field() {
        network(&net()).unwrap();
        let bad = Network {
            pool_end: "10.0.1.5".into(),
            ..net()
        };
        assert!(
            matches!(network(&bad), Err(Error::Invalid { field, .. }) if field == "content.ip_pool_end")
        );
        let bad = Network {
            vlan: Some(4095),
            ..net()
        };
        assert_eq!(
            network(&bad).unwrap_err(),
            Error::invalid("content.vlan", "must be between 1 and 4094")
        );
        let bad = Network {
            dns_primary: "x".into(),
            ..net()
        };
        assert!(
            matches!(network(&bad), Err(Error::Invalid { field, .. }) if field == "content.dns_primary")
        );
    }

    #[test]
    fn names_and_ranges() {
        assert_eq!(name("  a ", "f").unwrap(), "a");
        assert!(name(" ", "f").is_err());
        assert!(name(&"x".repeat(65), "f").is_err());
        assert_eq!(
            within(0, STRATEGY_CPU, "content.cpu_cores").unwrap_err(),
            Error::invalid("content.cpu_cores", "must be between 1 and 64")
        );
    }
}
