//! Seeding: the inventories the benchmark loads before a server starts.
//!
//! They start from the demo inventory (cluster, hosts, pool, images, networks, strategies,
//! groups, users) with hosts made big enough for anything the benchmark asks, and replace the
//! demo desks by N generated ones. Because `assemble` only adopts desks into the simulated
//! hypervisor when it loads the demo itself, the benchmark also writes the hypervisor's state
//! file (the one it keeps across restarts) with one VM per desk, powered as the desk's state
//! says; otherwise the start-up reconciler would redefine every desk while the load runs.

use deskd_domain::ids::{DeskId, NetworkId};
use std::collections::HashMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use deskd_compute::{DiskImage, PowerState, VmSpec};
use deskd_domain::enums::{DeskState, DeskType, UserState, UserType};
use deskd_domain::model::{now_ms, Desk, Image, Inventory, Network};
use deskd_domain::store::InventoryStore;
use deskd_store::SqlStore;
use serde::Serialize;

/// Desk states cycle through this pattern: a quarter RUNNING, the rest mostly CLOSE.
const STATES: [DeskState; 8] = [
    DeskState::RUNNING,
    DeskState::CLOSE,
    DeskState::CLOSE,
    DeskState::SLEEP,
    DeskState::RUNNING,
    DeskState::CLOSE,
    DeskState::ERROR,
    DeskState::CLOSE,
];

/// Name of the network added for batch creation (the demo pools hold 99 addresses each).
pub const BENCH_NET: &str = "bench-net";

/// The demo inventory without its desks, on hosts with room for anything.
pub fn base(password_hash: &str) -> Inventory {
    let mut inv = roomy_demo(password_hash);
    inv.desks.clear();
    inv
}

/// The demo inventory, its hosts and pools made big enough for anything the benchmark asks.
fn roomy_demo(password_hash: &str) -> Inventory {
    let mut inv = deskd_domain::demo::inventory(now_ms(), password_hash);
    for h in &mut inv.hosts {
        h.cpu_cores = 100_000;
        h.memory_gb = 10_000_000;
        h.storage_gb = 100_000_000;
    }
    for p in &mut inv.storage_pools {
        p.capacity_gb = 100_000_000;
    }
    inv
}

/// [`base`] plus `n` generated desks. A demo desk is the template, so fields the benchmark
/// does not care about keep the demo's values.
pub fn with_desks(password_hash: &str, n: usize) -> anyhow::Result<Inventory> {
    let mut inv = roomy_demo(password_hash);
    let template = inv.desks.first().cloned().context("the demo has no desk")?;
    let now = now_ms();
    inv.desks = (0..n).map(|i| desk(&inv, &template, i, now)).collect();
    Ok(inv)
}

/// How many desks of `inv` are RUNNING (what the desk query must report as `total`).
pub fn running(inv: &Inventory) -> usize {
    inv.desks
        .iter()
        .filter(|d| d.state == DeskState::RUNNING)
        .count()
}

/// The `i`-th generated desk: references cycle over the demo's hosts, users, images,
/// strategies and networks; names, addresses and MACs come from a counter.
fn desk(inv: &Inventory, template: &Desk, i: usize, now: i64) -> Desk {
    let pick = |len: usize| i % len;
    let strategy = &inv.strategies[pick(inv.strategies.len())];
    let image = &inv.images[pick(inv.images.len())];
    let seq = u32::try_from(i + 1).unwrap_or(u32::MAX);
    let state = STATES[i % STATES.len()];
    Desk {
        id: DeskId::generate(),
        name: format!("bench_{:06}", i + 1),
        user_id: inv.users[pick(inv.users.len())].id.clone(),
        image_id: image.id.clone(),
        strategy_id: strategy.id.clone(),
        network_id: inv.networks[pick(inv.networks.len())].id.clone(),
        cluster_id: inv.clusters[0].id.clone(),
        host_id: inv.hosts[pick(inv.hosts.len())].id.clone(),
        ip: Ipv4Addr::from(0x0A00_0000 + seq).to_string(),
        mac: mac(seq),
        desk_type: strategy.desk_type,
        category: image.category,
        state,
        cpu_cores: strategy.cpu_cores,
        memory_gb: strategy.memory_gb,
        system_disk_gb: strategy.system_disk_gb.max(image.system_disk_gb),
        data_disk_gb: strategy.data_disk_gb,
        remark: String::new(),
        error_reason: match state {
            DeskState::ERROR => "bench: seeded in ERROR".into(),
            _ => String::new(),
        },
        created_at: now + i as i64,
        updated_at: now + i as i64,
        ..template.clone()
    }
}

fn mac(seq: u32) -> String {
    let [_, a, b, c] = seq.to_be_bytes();
    format!("52:54:00:{a:02x}:{b:02x}:{c:02x}")
}

/// Adds [`BENCH_NET`], a /16 with room for every batch, and returns its id.
pub fn add_bench_net(inv: &mut Inventory) -> String {
    let net = Network {
        id: NetworkId::generate(),
        cluster_id: inv.clusters[0].id.clone(),
        name: BENCH_NET.into(),
        cidr: "10.64.0.0/16".into(),
        gateway: "10.64.0.1".into(),
        dns_primary: "10.64.0.53".into(),
        dns_secondary: "10.64.0.54".into(),
        vlan: None,
        pool_start: "10.64.0.10".into(),
        pool_end: "10.64.255.250".into(),
        state: deskd_domain::enums::NetworkState::AVAILABLE,
        creator: "admin".into(),
        created_at: now_ms(),
    };
    let id = net.id.clone();
    inv.networks.push(net);
    id.into()
}

/// Enabled, normal desktop users: the ones a batch may create desks for.
pub fn desk_users(inv: &Inventory) -> Vec<String> {
    inv.users
        .iter()
        .filter(|u| u.state == UserState::ENABLE && u.user_type == UserType::NORMAL)
        .map(|u| u.name.clone())
        .collect()
}

/// Opens `url` (running migrations), loads `inv` in one transaction and closes it again;
/// returns how long the load took.
pub async fn load(url: &str, inv: &Inventory) -> anyhow::Result<Duration> {
    let store = SqlStore::open(url).await.context("open the database")?;
    let t = Instant::now();
    store
        .load_inventory(inv)
        .await
        .context("load the inventory")?;
    let took = t.elapsed();
    // Statistics as a live database has them (autovacuum would refresh them after a bulk load).
    store.analyze().await.context("analyze the database")?;
    store.close().await;
    Ok(took)
}

/// The simulated hypervisor's state file, as it keeps it across restarts (format version 1).
#[derive(Serialize)]
struct SimState {
    version: u32,
    saved_at_unix: f64,
    vms: Vec<SimVm>,
}

#[derive(Serialize)]
struct SimVm {
    spec: VmSpec,
    power: PowerState,
    disk_generation: u64,
}

/// Writes `<data_dir>/sim-state.json` with one VM per desk of `inv`.
pub fn write_sim_state(data_dir: &Path, inv: &Inventory) -> anyhow::Result<()> {
    let images: HashMap<&str, &Image> = inv.images.iter().map(|i| (i.id.as_str(), i)).collect();
    let vms = inv
        .desks
        .iter()
        .map(|d| sim_vm(d, &images))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let state = SimState {
        version: 1,
        saved_at_unix: now_ms() as f64 / 1e3,
        vms,
    };
    let path = data_dir.join("sim-state.json");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    serde_json::to_writer(&mut out, &state)?;
    out.flush()
        .with_context(|| format!("write {}", path.display()))
}

fn sim_vm(d: &Desk, images: &HashMap<&str, &Image>) -> anyhow::Result<SimVm> {
    let image = images
        .get(d.image_id.as_str())
        .with_context(|| format!("desk {} has an unknown image", d.name))?;
    let spec = VmSpec {
        vm_id: d.id.clone().into(),
        name: d.name.clone(),
        host_id: d.host_id.clone().into(),
        cpu_cores: u32::try_from(d.cpu_cores)?,
        memory_mb: u64::try_from(d.memory_gb)? * 1024,
        system_disk_gb: u64::try_from(d.system_disk_gb)?,
        data_disk_gb: (d.data_disk_gb > 0)
            .then(|| u64::try_from(d.data_disk_gb))
            .transpose()?,
        image: DiskImage {
            image_id: image.id.clone().into(),
            version: u32::try_from(image.version)?,
            size_gb: u64::try_from(image.system_disk_gb)?,
        },
        recoverable: d.desk_type == DeskType::RECOVERABLE,
        video: Default::default(),
        nic: None,
    };
    let power = match d.state {
        DeskState::RUNNING => PowerState::Running,
        DeskState::SLEEP => PowerState::Paused,
        _ => PowerState::Stopped,
    };
    Ok(SimVm {
        spec,
        power,
        disk_generation: 0,
    })
}

/// Users per desk in [`fleet`]: one desktop user per desk, as a school or office fleet has.
pub const FLEET_USER_PREFIX: &str = "fu";

/// A fleet as a real site has it: `n` desks and `n` desktop users (one desk each), spread over
/// the demo's images, strategies, hosts and states; every second desk is on [`BENCH_NET`], whose
/// pool is thus half used when a batch creates more desks there. Returns the inventory and the
/// bench network's id.
pub fn fleet(password_hash: &str, n: usize) -> anyhow::Result<(Inventory, String)> {
    let mut inv = roomy_demo(password_hash);
    let template = inv.desks.first().cloned().context("the demo has no desk")?;
    let user = inv
        .users
        .iter()
        .find(|u| u.state == UserState::ENABLE && u.user_type == UserType::NORMAL)
        .cloned()
        .context("the demo has no desktop user")?;
    let net = add_bench_net(&mut inv);
    let bench_net = inv
        .networks
        .iter()
        .find(|x| x.id.as_str() == net)
        .cloned()
        .context("the bench network")?;
    let pool = deskd_domain::ipam::Pool::from_network(&bench_net)?;
    let on_net = pool.usable_from(0, n.div_ceil(2));
    let now = now_ms();
    let users: Vec<_> = (0..n)
        .map(|i| deskd_domain::model::User {
            id: deskd_domain::ids::UserId::generate(),
            name: format!("{FLEET_USER_PREFIX}{:06}", i + 1),
            created_at: now + i as i64,
            ..user.clone()
        })
        .collect();
    let mut desks = Vec::with_capacity(n);
    for (i, u) in users.iter().enumerate() {
        let mut d = desk(&inv, &template, i, now);
        d.name = format!("{}_1", u.name);
        d.user_id = u.id.clone();
        if i % 2 == 0 {
            if let Some(ip) = on_net.get(i / 2) {
                d.network_id = bench_net.id.clone();
                d.ip = ip.to_string();
            }
        }
        desks.push(d);
    }
    inv.users.extend(users);
    inv.desks = desks;
    Ok((inv, net))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn desks_are_unique_and_a_quarter_run() {
        let inv = with_desks("h", 1000).expect("desks");
        let names: HashSet<_> = inv.desks.iter().map(|d| &d.name).collect();
        let ips: HashSet<_> = inv.desks.iter().map(|d| &d.ip).collect();
        let macs: HashSet<_> = inv.desks.iter().map(|d| &d.mac).collect();
        assert_eq!((names.len(), ips.len(), macs.len()), (1000, 1000, 1000));
        assert_eq!(running(&inv), 250);
        assert_eq!(inv.desks[0].ip, "10.0.0.1");
        assert_eq!(inv.desks[0].name, "bench_000001");
    }
}
