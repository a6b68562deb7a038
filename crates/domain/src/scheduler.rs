//! Where a new desk runs. The rules are kept apart from storage so that they can be tested on
//! their own: only ENABLED hosts take new desks, over-commit ratios are hard ceilings, and the
//! choice is deterministic (ties go to the host name, then the host id).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::enums::HostState;
use crate::error::Error;
use crate::ids::{ClusterId, HostId};
use crate::model::Host;

/// How to choose among the hosts that fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// The host least loaded after placement: spreads risk and load.
    Spread,
    /// The host most loaded after placement: keeps other hosts empty.
    Pack,
}

impl Policy {
    /// Parses `spread` or `pack`, in any case; the error names the field `policy`.
    pub fn parse(value: &str) -> Result<Policy, Error> {
        match value.to_ascii_lowercase().as_str() {
            "spread" => Ok(Policy::Spread),
            "pack" => Ok(Policy::Pack),
            _ => Err(Error::invalid(
                "policy",
                format!("`{value}` is not one of spread, pack"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Spread => "spread",
            Policy::Pack => "pack",
        }
    }
}

impl FromStr for Policy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Policy::parse(s)
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A host as the scheduler sees it: capacity, ratios and what is already promised to desks on it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostLoad {
    pub host_id: HostId,
    pub name: String,
    pub cluster_id: ClusterId,
    pub state: HostState,
    pub cpu_cores: i64,
    pub memory_gb: i64,
    pub storage_gb: i64,
    pub cpu_overcommit: f64,
    pub memory_overcommit: f64,
    pub alloc_vcpus: i64,
    pub alloc_memory_gb: i64,
    pub alloc_storage_gb: i64,
}

/// What one desk needs: vCPUs, memory GB and disk GB (system plus data). Never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Demand {
    pub cpu_cores: i64,
    pub memory_gb: i64,
    pub storage_gb: i64,
}

impl fmt::Display for Demand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} vCPU / {} GB / {} GB",
            self.cpu_cores, self.memory_gb, self.storage_gb
        )
    }
}

/// No host could take a demand; `reasons` says why each candidate host was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct NoCapacity {
    pub demand: Demand,
    /// One entry per refused host (`demo-host-1: memory 130/128 GB x1.0`), preceded by
    /// `no enabled host in cluster X` when the cluster has no ENABLED host at all.
    pub reasons: Vec<String>,
}

impl fmt::Display for NoCapacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no host has room for {}: {}",
            self.demand,
            self.reasons.join("; ")
        )
    }
}

impl std::error::Error for NoCapacity {}

impl From<NoCapacity> for Error {
    fn from(e: NoCapacity) -> Self {
        Error::Refused(e.to_string())
    }
}

/// `capacity × ratio`, rounded down: the most that may be promised.
fn ceiling(capacity: i64, ratio: f64) -> i64 {
    (capacity as f64 * ratio).floor() as i64
}

/// `used / limit`, where an empty limit counts as full only when something uses it.
fn ratio(used: i64, limit: i64) -> f64 {
    match (used, limit) {
        (u, _) if u <= 0 => 0.0,
        (_, l) if l <= 0 => f64::INFINITY,
        (u, l) => u as f64 / l as f64,
    }
}

impl HostLoad {
    /// A host with what is already allocated on it.
    pub fn from_host(
        h: &Host,
        alloc_vcpus: i64,
        alloc_memory_gb: i64,
        alloc_storage_gb: i64,
    ) -> Self {
        HostLoad {
            host_id: h.id.clone(),
            name: h.name.clone(),
            cluster_id: h.cluster_id.clone(),
            state: h.state,
            cpu_cores: h.cpu_cores,
            memory_gb: h.memory_gb,
            storage_gb: h.storage_gb,
            cpu_overcommit: h.cpu_overcommit,
            memory_overcommit: h.memory_overcommit,
            alloc_vcpus,
            alloc_memory_gb,
            alloc_storage_gb,
        }
    }

    /// The most vCPUs that may be promised: `floor(cpu_cores × cpu_overcommit)`.
    pub fn cpu_limit(&self) -> i64 {
        ceiling(self.cpu_cores, self.cpu_overcommit)
    }

    /// The most memory GB that may be promised: `floor(memory_gb × memory_overcommit)`.
    pub fn memory_limit(&self) -> i64 {
        ceiling(self.memory_gb, self.memory_overcommit)
    }

    /// Storage is never over-committed.
    pub fn storage_limit(&self) -> i64 {
        self.storage_gb
    }

    /// `Ok` when the host takes new desks and has room for `d`; otherwise why not, led by the
    /// host name.
    pub fn fits(&self, d: &Demand) -> Result<(), String> {
        if self.state != HostState::ENABLED {
            return Err(format!(
                "{}: {} hosts take no new placements",
                self.name, self.state
            ));
        }
        let short = self.shortfalls(d);
        if short.is_empty() {
            Ok(())
        } else {
            Err(format!("{}: {}", self.name, short.join(", ")))
        }
    }

    /// Each dimension that `d` would push past its limit, as `cpu 34/32 vCPU x1.0`.
    fn shortfalls(&self, d: &Demand) -> Vec<String> {
        let (cpu, mem, disk) = self.after(d);
        let mut out = Vec::new();
        if cpu > self.cpu_limit() {
            let (limit, x) = (self.cpu_limit(), self.cpu_overcommit);
            out.push(format!("cpu {cpu}/{limit} vCPU x{x:?}"));
        }
        if mem > self.memory_limit() {
            let (limit, x) = (self.memory_limit(), self.memory_overcommit);
            out.push(format!("memory {mem}/{limit} GB x{x:?}"));
        }
        if disk > self.storage_limit() {
            out.push(format!("storage {disk}/{} GB", self.storage_limit()));
        }
        out
    }

    /// The allocation once `d` is placed here.
    fn after(&self, d: &Demand) -> (i64, i64, i64) {
        (
            self.alloc_vcpus.saturating_add(d.cpu_cores),
            self.alloc_memory_gb.saturating_add(d.memory_gb),
            self.alloc_storage_gb.saturating_add(d.storage_gb),
        )
    }

    /// The highest of the cpu, memory and storage utilisation once `d` is placed here.
    fn score(&self, d: &Demand) -> f64 {
        let (cpu, mem, disk) = self.after(d);
        ratio(cpu, self.cpu_limit())
            .max(ratio(mem, self.memory_limit()))
            .max(ratio(disk, self.storage_limit()))
    }

    /// Counts `d` as allocated here (a placement made in memory, before it is written).
    pub fn add(&mut self, d: &Demand) {
        (
            self.alloc_vcpus,
            self.alloc_memory_gb,
            self.alloc_storage_gb,
        ) = self.after(d);
    }
}

/// Whether `a` (with score `sa`) should be chosen over `b` under `policy`.
fn better(policy: Policy, (a, sa): (&HostLoad, f64), (b, sb): (&HostLoad, f64)) -> bool {
    let by_score = match policy {
        Policy::Spread => sa.total_cmp(&sb),
        Policy::Pack => sb.total_cmp(&sa),
    };
    let order = by_score
        .then_with(|| a.name.cmp(&b.name))
        .then_with(|| a.host_id.cmp(&b.host_id));
    order == Ordering::Less
}

fn in_cluster(h: &HostLoad, cluster_id: Option<&str>) -> bool {
    cluster_id.is_none_or(|c| h.cluster_id == c)
}

/// Picks a host in `cluster_id` (all clusters when None) for `demand`; returns its index.
pub fn place(
    hosts: &[HostLoad],
    cluster_id: Option<&str>,
    demand: &Demand,
    policy: Policy,
) -> Result<usize, NoCapacity> {
    let mut best: Option<(usize, f64)> = None;
    let mut reasons = Vec::new();
    let mut any_enabled = false;
    for (i, h) in hosts.iter().enumerate() {
        if !in_cluster(h, cluster_id) {
            continue;
        }
        any_enabled |= h.state == HostState::ENABLED;
        if let Err(why) = h.fits(demand) {
            reasons.push(why);
            continue;
        }
        let score = h.score(demand);
        if best.is_none_or(|(j, s)| better(policy, (h, score), (&hosts[j], s))) {
            best = Some((i, score));
        }
    }
    match best {
        Some((i, _)) => Ok(i),
        None => Err(no_capacity(*demand, cluster_id, any_enabled, reasons)),
    }
}

fn no_capacity(
    demand: Demand,
    cluster_id: Option<&str>,
    any_enabled: bool,
    mut reasons: Vec<String>,
) -> NoCapacity {
    if !any_enabled {
        let summary = match cluster_id {
            Some(c) => format!("no enabled host in cluster {c}"),
            None => "no enabled host in any cluster".to_string(),
        };
        reasons.insert(0, summary);
    }
    NoCapacity { demand, reasons }
}

/// Places several demands in order, adding each placement to the host's allocation so later
/// ones see it. Returns the chosen host id, or why none fits, per demand.
pub fn place_all(
    hosts: &mut [HostLoad],
    cluster_id: Option<&str>,
    demands: &[Demand],
    policy: Policy,
) -> Vec<Result<HostId, NoCapacity>> {
    demands
        .iter()
        .map(|d| {
            let i = place(hosts, cluster_id, d, policy)?;
            hosts[i].add(d);
            Ok(hosts[i].host_id.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn host(name: &str, cpu: i64, mem: i64, disk: i64) -> HostLoad {
        HostLoad {
            host_id: format!("id-{name}").into(),
            name: name.into(),
            cluster_id: "c1".into(),
            state: HostState::ENABLED,
            cpu_cores: cpu,
            memory_gb: mem,
            storage_gb: disk,
            cpu_overcommit: 1.0,
            memory_overcommit: 1.0,
            alloc_vcpus: 0,
            alloc_memory_gb: 0,
            alloc_storage_gb: 0,
        }
    }

    fn demand(cpu: i64, mem: i64, disk: i64) -> Demand {
        Demand {
            cpu_cores: cpu,
            memory_gb: mem,
            storage_gb: disk,
        }
    }

    #[test]
    fn policy_parses_in_any_case() {
        assert_eq!(Policy::parse("spread"), Ok(Policy::Spread));
        assert_eq!(Policy::parse("PACK"), Ok(Policy::Pack));
        assert_eq!("Spread".parse::<Policy>(), Ok(Policy::Spread));
        assert_eq!(
            Policy::parse("random"),
            Err(Error::invalid(
                "policy",
                "`random` is not one of spread, pack"
            ))
        );
        assert_eq!(Policy::Pack.to_string(), "pack");
    }

    #[test]
    fn from_host_copies_capacity_and_takes_allocation() {
        let h = Host {
            id: "h1".into(),
            cluster_id: "c1".into(),
            name: "demo-host-1".into(),
            ip: "10.0.0.1".into(),
            cpu_cores: 32,
            memory_gb: 128,
            storage_gb: 4096,
            cpu_overcommit: 4.0,
            memory_overcommit: 1.5,
            state: HostState::DRAINING,
            driver: crate::enums::HostDriver::Sim,
            created_at: 0,
            exporter_url: None,
            uri: None,
        };
        let l = HostLoad::from_host(&h, 8, 16, 100);
        assert_eq!((l.host_id.as_str(), l.name.as_str()), ("h1", "demo-host-1"));
        assert_eq!(l.state, HostState::DRAINING);
        assert_eq!(
            (l.cpu_limit(), l.memory_limit(), l.storage_limit()),
            (128, 192, 4096)
        );
        assert_eq!(
            (l.alloc_vcpus, l.alloc_memory_gb, l.alloc_storage_gb),
            (8, 16, 100)
        );
    }

    #[test]
    fn limits_round_down_the_overcommitted_capacity() {
        let mut h = host("a", 3, 5, 10);
        h.cpu_overcommit = 1.5;
        h.memory_overcommit = 1.3;
        assert_eq!((h.cpu_limit(), h.memory_limit()), (4, 6));
    }

    #[test]
    fn fits_exactly_at_the_limit_but_not_beyond() {
        let mut h = host("a", 4, 8, 100);
        h.cpu_overcommit = 2.0;
        h.alloc_vcpus = 4;
        assert_eq!(h.fits(&demand(4, 8, 100)), Ok(()));
        assert_eq!(
            h.fits(&demand(5, 8, 100)),
            Err("a: cpu 9/8 vCPU x2.0".to_string())
        );
    }

    #[test]
    fn memory_and_storage_refusals_name_the_figures() {
        let mut h = host("demo-host-1", 32, 128, 60);
        h.alloc_memory_gb = 122;
        assert_eq!(
            h.fits(&demand(4, 8, 61)),
            Err("demo-host-1: memory 130/128 GB x1.0, storage 61/60 GB".to_string())
        );
    }

    #[test]
    fn storage_is_never_overcommitted() {
        let mut h = host("a", 4, 8, 100);
        h.cpu_overcommit = 10.0;
        h.memory_overcommit = 10.0;
        assert!(h.fits(&demand(1, 1, 101)).is_err());
        assert!(h.fits(&demand(40, 80, 100)).is_ok());
    }

    #[test]
    fn draining_and_disabled_hosts_take_nothing() {
        let mut a = host("a", 64, 256, 1000);
        a.state = HostState::DRAINING;
        let mut b = host("b", 64, 256, 1000);
        b.state = HostState::DISABLED;
        assert_eq!(
            a.fits(&demand(1, 1, 1)),
            Err("a: DRAINING hosts take no new placements".to_string())
        );
        let err = place(&[a, b], Some("c1"), &demand(1, 1, 1), Policy::Spread).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no host has room for 1 vCPU / 1 GB / 1 GB: no enabled host in cluster c1; \
             a: DRAINING hosts take no new placements; b: DISABLED hosts take no new placements"
        );
    }

    #[test]
    fn an_empty_cluster_says_so() {
        let err = place(
            &[host("a", 4, 4, 4)],
            Some("c9"),
            &demand(1, 1, 1),
            Policy::Pack,
        )
        .unwrap_err();
        assert_eq!(
            err.reasons,
            vec!["no enabled host in cluster c9".to_string()]
        );
        let err = place(&[], None, &demand(4, 8, 60), Policy::Pack).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no host has room for 4 vCPU / 8 GB / 60 GB: no enabled host in any cluster"
        );
    }

    #[test]
    fn full_hosts_are_listed_with_their_reasons() {
        let hosts = [host("a", 2, 4, 10), host("b", 8, 4, 10)];
        let err = place(&hosts, None, &demand(4, 8, 60), Policy::Spread).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no host has room for 4 vCPU / 8 GB / 60 GB: \
             a: cpu 4/2 vCPU x1.0, memory 8/4 GB x1.0, storage 60/10 GB; \
             b: memory 8/4 GB x1.0, storage 60/10 GB"
        );
        assert_eq!(Error::from(err.clone()), Error::Refused(err.to_string()));
    }

    #[test]
    fn only_the_requested_cluster_is_considered() {
        let mut other = host("a", 64, 256, 1000);
        other.cluster_id = "c2".into();
        let hosts = [other, host("b", 4, 8, 100)];
        assert_eq!(
            place(&hosts, Some("c1"), &demand(1, 1, 1), Policy::Spread),
            Ok(1)
        );
        assert_eq!(
            place(&hosts, Some("c2"), &demand(1, 1, 1), Policy::Spread),
            Ok(0)
        );
        assert_eq!(place(&hosts, None, &demand(1, 1, 1), Policy::Spread), Ok(0));
    }

    #[test]
    fn spread_takes_the_least_loaded_and_pack_the_most() {
        let mut busy = host("busy", 10, 100, 1000);
        busy.alloc_memory_gb = 50;
        let idle = host("idle", 10, 100, 1000);
        let hosts = [busy, idle];
        let d = demand(1, 10, 10);
        assert_eq!(place(&hosts, None, &d, Policy::Spread), Ok(1));
        assert_eq!(place(&hosts, None, &d, Policy::Pack), Ok(0));
    }

    #[test]
    fn the_highest_ratio_decides_the_load() {
        // a: cpu 90% after placement; b: every dimension at 50%.
        let mut a = host("a", 10, 100, 1000);
        a.alloc_vcpus = 8;
        let mut b = host("b", 10, 100, 1000);
        (b.alloc_vcpus, b.alloc_memory_gb, b.alloc_storage_gb) = (4, 49, 499);
        let d = demand(1, 1, 1);
        assert_eq!(
            place(&[a.clone(), b.clone()], None, &d, Policy::Spread),
            Ok(1)
        );
        assert_eq!(place(&[a, b], None, &d, Policy::Pack), Ok(0));
    }

    #[test]
    fn ties_go_to_the_name_then_the_id() {
        let mut z = host("z", 4, 8, 100);
        z.host_id = "1".into();
        let mut a2 = host("a", 4, 8, 100);
        a2.host_id = "2".into();
        let mut a1 = host("a", 4, 8, 100);
        a1.host_id = "1".into();
        let hosts = [z, a2, a1];
        for policy in [Policy::Spread, Policy::Pack] {
            assert_eq!(place(&hosts, None, &demand(1, 1, 1), policy), Ok(2));
        }
    }

    #[test]
    fn place_all_sees_earlier_placements() {
        let mut hosts = vec![host("a", 4, 8, 100), host("b", 4, 8, 100)];
        let d = demand(2, 4, 50);
        let got = place_all(&mut hosts, Some("c1"), &[d, d, d, d, d], Policy::Spread);
        let ids: Vec<_> = got.iter().map(|r| r.as_ref().ok().cloned()).collect();
        let want = ["id-a", "id-b", "id-a", "id-b"].map(|s| Some(HostId::from(s)));
        assert_eq!(ids[..4], want);
        assert!(got[4].is_err());
        assert_eq!((hosts[0].alloc_vcpus, hosts[0].alloc_memory_gb), (4, 8));
        assert_eq!(hosts[1].alloc_storage_gb, 100);
    }

    fn arb_host(i: usize) -> impl Strategy<Value = HostLoad> {
        let states = prop::sample::select(HostState::ALL.to_vec());
        let ratios = prop::sample::select(vec![1.0, 1.25, 1.5, 2.0, 4.0]);
        (
            (1i64..64, 1i64..512, 1i64..2000),
            (ratios.clone(), ratios),
            (0i64..256, 0i64..1024, 0i64..2000),
            (states, prop::bool::ANY),
        )
            .prop_map(move |(cap, (xc, xm), alloc, (state, c2))| {
                let mut h = host(&format!("h{}", i % 3), cap.0, cap.1, cap.2);
                h.host_id = format!("id{i}").into();
                h.cluster_id = if c2 { "c2" } else { "c1" }.into();
                (h.state, h.cpu_overcommit, h.memory_overcommit) = (state, xc, xm);
                h.alloc_vcpus = alloc.0.min(h.cpu_limit());
                h.alloc_memory_gb = alloc.1.min(h.memory_limit());
                h.alloc_storage_gb = alloc.2.min(h.storage_limit());
                h
            })
    }

    fn arb_hosts() -> impl Strategy<Value = Vec<HostLoad>> {
        (0usize..6).prop_flat_map(|n| (0..n).map(arb_host).collect::<Vec<_>>())
    }

    fn arb_demand() -> impl Strategy<Value = Demand> {
        (0i64..48, 0i64..160, 0i64..600).prop_map(|(c, m, s)| demand(c, m, s))
    }

    fn arb_policy() -> impl Strategy<Value = Policy> {
        prop::sample::select(vec![Policy::Spread, Policy::Pack])
    }

    fn arb_cluster() -> impl Strategy<Value = Option<&'static str>> {
        prop::sample::select(vec![None, Some("c1"), Some("c2")])
    }

    fn within_limits(h: &HostLoad) -> bool {
        h.alloc_vcpus <= h.cpu_limit()
            && h.alloc_memory_gb <= h.memory_limit()
            && h.alloc_storage_gb <= h.storage_limit()
    }

    proptest! {
        #[test]
        fn place_all_never_exceeds_a_limit(
            mut hosts in arb_hosts(),
            demands in prop::collection::vec(arb_demand(), 0..12),
            cluster in arb_cluster(),
            policy in arb_policy(),
        ) {
            let before = hosts.clone();
            place_all(&mut hosts, cluster, &demands, policy);
            for (h, b) in hosts.iter().zip(&before) {
                prop_assert!(within_limits(h), "{h:?}");
                if h != b {
                    prop_assert_eq!(h.state, HostState::ENABLED);
                    prop_assert!(in_cluster(h, cluster));
                }
            }
        }

        #[test]
        fn a_refused_demand_fits_no_enabled_host(
            hosts in arb_hosts(),
            demands in prop::collection::vec(arb_demand(), 0..12),
            cluster in arb_cluster(),
            policy in arb_policy(),
        ) {
            let mut placed = hosts.clone();
            let results = place_all(&mut placed, cluster, &demands, policy);
            let mut replay = hosts;
            for (d, r) in demands.iter().zip(results) {
                match r {
                    Ok(id) => {
                        let h = replay.iter_mut().find(|h| h.host_id == id);
                        let h = h.expect("placed on a known host");
                        prop_assert!(h.fits(d).is_ok());
                        h.add(d);
                    }
                    Err(_) => {
                        for h in replay.iter().filter(|h| in_cluster(h, cluster)) {
                            prop_assert!(h.fits(d).is_err(), "{h:?} fits {d:?}");
                        }
                    }
                }
            }
            prop_assert_eq!(replay, placed);
        }

        #[test]
        fn identical_hosts_spread_one_each_and_pack_fill_in_turn(
            n in 1usize..8,
            d in (1i64..8, 1i64..32, 1i64..200).prop_map(|(c, m, s)| demand(c, m, s)),
            per_host in (1i64..5, 1i64..5, 1i64..5),
            spare in (0i64..8, 0i64..32, 0i64..200),
        ) {
            let empty = host(
                "h",
                d.cpu_cores * per_host.0 + spare.0 % d.cpu_cores,
                d.memory_gb * per_host.1 + spare.1 % d.memory_gb,
                d.storage_gb * per_host.2 + spare.2 % d.storage_gb,
            );
            let fit = per_host.0.min(per_host.1).min(per_host.2) as usize;
            let hosts: Vec<_> = (0..n)
                .map(|i| HostLoad { name: format!("h{i}"), host_id: format!("id{i}").into(), ..empty.clone() })
                .collect();
            let demands = vec![d; n];

            let spread = place_all(&mut hosts.clone(), None, &demands, Policy::Spread);
            let want: Vec<_> = (0..n).map(|i| Ok(HostId::from(format!("id{i}")))).collect();
            prop_assert_eq!(spread, want);

            let pack = place_all(&mut hosts.clone(), None, &demands, Policy::Pack);
            let want: Vec<_> = (0..n).map(|j| Ok(HostId::from(format!("id{}", j / fit)))).collect();
            prop_assert_eq!(pack, want);
        }
    }
}
