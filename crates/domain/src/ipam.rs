//! Addresses for desks. A network hands out IPv4 addresses from its pool; this module decides
//! which address is free and which MAC a desk gets, without touching storage, so the rules are
//! the same for one desk and for a batch.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use crate::error::Error;
use crate::model::Network;

/// An IPv4 pool: the addresses from start to end inside cidr, minus network, broadcast and
/// gateway addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    network: u32,
    prefix: u8,
    gateway: u32,
    start: u32,
    end: u32,
}

impl Pool {
    /// Validates and builds a pool; errors name `ip_cidr`, `gateway`, `pool_start` or `pool_end`.
    pub fn new(cidr: &str, gateway: &str, start: &str, end: &str) -> Result<Pool, Error> {
        let (network, prefix) = parse_cidr(cidr)?;
        let mut pool = Pool {
            network,
            prefix,
            gateway: 0,
            start: 0,
            end: 0,
        };
        pool.gateway = pool.member("gateway", gateway)?;
        if pool.gateway == pool.network || pool.gateway == pool.broadcast() {
            return Err(Error::invalid(
                "gateway",
                format!("{gateway} is the network or broadcast address of {cidr}"),
            ));
        }
        pool.start = pool.member("pool_start", start)?;
        pool.end = pool.member("pool_end", end)?;
        if pool.start > pool.end {
            return Err(Error::invalid(
                "pool_end",
                format!("{end} is below pool_start {start}"),
            ));
        }
        Ok(pool)
    }

    /// The pool of a stored network.
    pub fn from_network(n: &Network) -> Result<Pool, Error> {
        Pool::new(&n.cidr, &n.gateway, &n.pool_start, &n.pool_end)
    }

    /// Parses `value` as an address inside the CIDR; the error names `field`.
    fn member(&self, field: &str, value: &str) -> Result<u32, Error> {
        let ip = parse_ip(field, value)?;
        let inside = ip & mask(self.prefix) == self.network;
        if !inside {
            let (net, p) = (Ipv4Addr::from(self.network), self.prefix);
            return Err(Error::invalid(
                field,
                format!("{value} is outside {net}/{p}"),
            ));
        }
        Ok(ip)
    }

    fn broadcast(&self) -> u32 {
        self.network | !mask(self.prefix)
    }

    /// The prefix length of the CIDR.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The netmask of the CIDR, e.g. 255.255.255.0 for /24.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask(self.prefix))
    }

    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.gateway)
    }

    /// The number of usable addresses.
    pub fn size(&self) -> u64 {
        let span = u64::from(self.end - self.start) + 1;
        let reserved = [self.network, self.broadcast(), self.gateway]
            .into_iter()
            .filter(|&a| (self.start..=self.end).contains(&a))
            .count();
        span - reserved as u64
    }

    /// Whether `ip` is one of the pool's usable addresses.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.usable(u32::from(ip))
    }

    fn usable(&self, a: u32) -> bool {
        (self.start..=self.end).contains(&a)
            && a != self.network
            && a != self.broadcast()
            && a != self.gateway
    }

    /// Up to `n` usable addresses from `from` upwards, in order: the candidates a placement
    /// probes when it looks for free addresses from the network's hint.
    pub fn usable_from(&self, from: u32, n: usize) -> Vec<Ipv4Addr> {
        (from.max(self.start)..=self.end)
            .filter(|a| self.usable(*a))
            .take(n)
            .map(Ipv4Addr::from)
            .collect()
    }

    /// The lowest free address, given the ones in use (any iterator of strings; ignore
    /// unparsable ones).
    pub fn first_free<'a>(&self, used: impl IntoIterator<Item = &'a str>) -> Option<Ipv4Addr> {
        self.free(used, 1).into_iter().next()
    }

    /// The lowest n free addresses, for a batch; fewer when the pool runs out.
    pub fn free<'a>(&self, used: impl IntoIterator<Item = &'a str>, n: usize) -> Vec<Ipv4Addr> {
        let used: HashSet<u32> = used
            .into_iter()
            .filter_map(|s| s.trim().parse::<Ipv4Addr>().ok())
            .map(u32::from)
            .collect();
        (self.start..=self.end)
            .filter(|a| self.usable(*a) && !used.contains(a))
            .take(n)
            .map(Ipv4Addr::from)
            .collect()
    }
}

/// The netmask of a prefix length (0..=32) as a number.
fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn parse_ip(field: &str, value: &str) -> Result<u32, Error> {
    value
        .parse::<Ipv4Addr>()
        .map(u32::from)
        .map_err(|_| Error::invalid(field, format!("`{value}` is not an IPv4 address")))
}

/// Parses `a.b.c.d/p` with p in 8..=30 and no host bits set.
fn parse_cidr(cidr: &str) -> Result<(u32, u8), Error> {
    let bad = |why: &str| Error::invalid("ip_cidr", format!("`{cidr}` {why}"));
    let (addr, prefix) = cidr
        .split_once('/')
        .ok_or_else(|| bad("is not in a.b.c.d/prefix form"))?;
    let addr = parse_ip("ip_cidr", addr)?;
    let prefix = Some(prefix)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|p| p.parse::<u8>().ok())
        .filter(|p| (8..=30).contains(p))
        .ok_or_else(|| bad("needs a prefix length from 8 to 30"))?;
    if addr & !mask(prefix) != 0 {
        return Err(bad("has host bits set"));
    }
    Ok((addr, prefix))
}

/// A deterministic MAC for a desk: the QEMU prefix `52:54:00` (locally administered) followed by
/// three bytes of an FNV-1a hash of the desk id.
pub fn mac_for(desk_id: &str) -> String {
    let h = fnv1a64(desk_id.as_bytes());
    let tail = (h ^ (h >> 24) ^ (h >> 48)) & 0xff_ffff;
    format!(
        "52:54:00:{:02x}:{:02x}:{:02x}",
        (tail >> 16) & 0xff,
        (tail >> 8) & 0xff,
        tail & 0xff
    )
}

/// 64-bit FNV-1a: tiny and stable across Rust versions, unlike `DefaultHasher`.
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn field_of(e: Error) -> String {
        match e {
            Error::Invalid { field, .. } => field,
            other => panic!("not an Invalid error: {other:?}"),
        }
    }

    fn pool24() -> Pool {
        Pool::new(
            "192.168.1.0/24",
            "192.168.1.1",
            "192.168.1.0",
            "192.168.1.255",
        )
        .unwrap()
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.9", "ip_cidr"),
            ("10.0.0.0/7", "10.0.0.1", "10.0.0.2", "10.0.0.9", "ip_cidr"),
            ("10.0.0.0/31", "10.0.0.1", "10.0.0.2", "10.0.0.9", "ip_cidr"),
            (
                "10.0.0.0/+24",
                "10.0.0.1",
                "10.0.0.2",
                "10.0.0.9",
                "ip_cidr",
            ),
            ("10.0.0.7/24", "10.0.0.1", "10.0.0.2", "10.0.0.9", "ip_cidr"),
            ("10.0.0.0/24", "10.0.0", "10.0.0.2", "10.0.0.9", "gateway"),
            ("10.0.0.0/24", "10.0.1.1", "10.0.0.2", "10.0.0.9", "gateway"),
            (
                "10.0.0.0/24",
                "10.0.0.255",
                "10.0.0.2",
                "10.0.0.9",
                "gateway",
            ),
            ("10.0.0.0/24", "10.0.0.1", "x", "10.0.0.9", "pool_start"),
            (
                "10.0.0.0/24",
                "10.0.0.1",
                "10.0.1.2",
                "10.0.0.9",
                "pool_start",
            ),
            (
                "10.0.0.0/24",
                "10.0.0.1",
                "10.0.0.2",
                "10.0.0.256",
                "pool_end",
            ),
            (
                "10.0.0.0/24",
                "10.0.0.1",
                "10.0.0.2",
                "10.1.0.9",
                "pool_end",
            ),
            (
                "10.0.0.0/24",
                "10.0.0.1",
                "10.0.0.9",
                "10.0.0.2",
                "pool_end",
            ),
        ];
        for (cidr, gw, start, end, field) in cases {
            let err = Pool::new(cidr, gw, start, end).unwrap_err();
            assert_eq!(field_of(err), field, "{cidr} {gw} {start} {end}");
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let err = Pool::new(
            "192.168.1.0/24",
            "192.168.1.1",
            "192.168.2.5",
            "192.168.1.9",
        );
        assert_eq!(
            err,
            Err(Error::invalid(
                "pool_start",
                "192.168.2.5 is outside 192.168.1.0/24"
            ))
        );
    }

    #[test]
    fn a_24_excludes_network_broadcast_and_gateway() {
        let p = pool24();
        assert_eq!(p.size(), 253);
        assert!(!p.contains(ip("192.168.1.0")));
        assert!(!p.contains(ip("192.168.1.1")));
        assert!(!p.contains(ip("192.168.1.255")));
        assert!(p.contains(ip("192.168.1.2")));
        assert!(p.contains(ip("192.168.1.254")));
        assert!(!p.contains(ip("192.168.2.2")));
        assert_eq!(p.first_free([]), Some(ip("192.168.1.2")));
        assert_eq!(p.free([], 1000).len(), 253);
        assert_eq!((p.prefix(), p.netmask()), (24, ip("255.255.255.0")));
        assert_eq!(p.gateway(), ip("192.168.1.1"));
    }

    #[test]
    fn the_pool_is_bounded_by_start_and_end() {
        let p = Pool::new("10.0.0.0/16", "10.0.0.1", "10.0.0.100", "10.0.1.10").unwrap();
        assert_eq!(p.size(), 167);
        assert!(!p.contains(ip("10.0.0.99")));
        assert!(p.contains(ip("10.0.0.255")));
        assert!(p.contains(ip("10.0.1.0")));
        assert!(!p.contains(ip("10.0.1.11")));
        let gw_inside = Pool::new("10.0.0.0/24", "10.0.0.50", "10.0.0.50", "10.0.0.50").unwrap();
        assert_eq!(gw_inside.size(), 0);
        assert_eq!(gw_inside.first_free([]), None);
    }

    #[test]
    fn first_free_skips_used_and_ignores_junk() {
        let p = Pool::new("10.1.2.0/24", "10.1.2.1", "10.1.2.100", "10.1.2.198").unwrap();
        let used = [
            "10.1.2.100",
            "junk",
            "",
            " 10.1.2.101 ",
            "10.1.2.103",
            "10.9.9.9",
        ];
        assert_eq!(p.first_free(used), Some(ip("10.1.2.102")));
        let owned: Vec<String> = vec!["10.1.2.100".into()];
        assert_eq!(
            p.first_free(owned.iter().map(String::as_str)),
            Some(ip("10.1.2.101"))
        );
    }

    #[test]
    fn an_exhausted_pool_has_nothing_free() {
        let p = Pool::new("10.0.0.0/30", "10.0.0.1", "10.0.0.0", "10.0.0.3").unwrap();
        assert_eq!(p.size(), 1);
        assert_eq!(p.first_free(["10.0.0.2"]), None);
        assert!(p.free(["10.0.0.2"], 5).is_empty());
    }

    #[test]
    fn free_returns_distinct_addresses_in_order() {
        let p = Pool::new("10.0.0.0/24", "10.0.0.5", "10.0.0.2", "10.0.0.10").unwrap();
        let got = p.free(["10.0.0.3", "10.0.0.7"], 4);
        let want: Vec<_> = ["10.0.0.2", "10.0.0.4", "10.0.0.6", "10.0.0.8"]
            .map(ip)
            .into();
        assert_eq!(got, want);
        assert_eq!(p.free([], 100).len(), 8);
        assert!(p.free([], 0).is_empty());
    }

    #[test]
    fn the_demo_networks_are_valid() {
        let p = Pool::new("10.20.1.0/24", "10.20.1.1", "10.20.1.100", "10.20.1.198").unwrap();
        assert_eq!(p.size(), 99);
    }

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn macs_are_stable_and_well_formed() {
        let m = mac_for("desk-1");
        assert_eq!(m, mac_for("desk-1"));
        assert_ne!(m, mac_for("desk-2"));
        assert!(m.starts_with("52:54:00:"));
        assert_eq!(m.len(), 17);
        assert!(m.bytes().all(|b| b == b':' || b.is_ascii_hexdigit()));
        assert_eq!(m, m.to_lowercase());
        // Pinned so that a change of hash never silently changes existing desks' MACs.
        assert_eq!(mac_for(""), "52:54:00:be:0c:53");
    }

    proptest! {
        #[test]
        fn first_free_is_the_least_unused_address(
            mask_bits in prop::collection::vec(prop::bool::ANY, 32),
            start in 0u32..16,
            len in 0u32..16,
        ) {
            let p = Pool::new(
                "172.16.5.0/27",
                "172.16.5.1",
                &format!("172.16.5.{start}"),
                &format!("172.16.5.{}", (start + len).min(31)),
            ).unwrap();
            let all: Vec<String> = (0..32).map(|i| format!("172.16.5.{i}")).collect();
            let used: Vec<&str> = all
                .iter()
                .zip(&mask_bits)
                .filter(|(_, &u)| u)
                .map(|(s, _)| s.as_str())
                .collect();
            let want = all
                .iter()
                .map(|s| ip(s))
                .filter(|a| p.contains(*a) && !used.contains(&a.to_string().as_str()))
                .min();
            prop_assert_eq!(p.first_free(used.iter().copied()), want);
        }
    }
}
