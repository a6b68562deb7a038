//! The demo inventory loaded on a first start (unless `--no-demo`): enough of a platform to
//! explore every endpoint — one cluster, three hosts, a storage pool, three images on their OS
//! files, two IP-pool networks, two strategies, twenty desktop users in a group tree and ten desks
//! in mixed states.

use crate::enums::*;
use crate::ids::{ImageId, OsFileId};
use crate::model::*;

fn id<T: From<String>>() -> T {
    T::from(uuid::Uuid::new_v4().to_string())
}

/// Builds the demo inventory. `password_hash` is the hash every demo user gets.
pub fn inventory(now: i64, password_hash: &str) -> Inventory {
    let cluster = Cluster {
        id: id(),
        name: "demo-cluster".into(),
        state: ClusterState::ENABLED,
        description: "deskd demo cluster".into(),
        created_at: now,
        updated_at: now,
    };
    let hosts: Vec<Host> = (1..=3)
        .map(|i| Host {
            id: id(),
            cluster_id: cluster.id.clone(),
            name: format!("demo-host-{i}"),
            ip: format!("10.20.0.{}", 10 + i),
            cpu_cores: 32,
            memory_gb: 128,
            storage_gb: 4096,
            cpu_overcommit: 4.0,
            memory_overcommit: 1.5,
            state: HostState::ENABLED,
            driver: HostDriver::Sim,
            created_at: now + i,
            exporter_url: None,
            uri: None,
        })
        .collect();
    let pool = StoragePool {
        id: id(),
        cluster_id: cluster.id.clone(),
        name: "demo-pool".into(),
        directory: None,
        capacity_gb: 12288,
        redundancy_strategy: RedundancyStrategy::RAID1_1D0B,
        health: PoolHealth::HEALTHY,
        created_at: now,
    };
    let networks = networks(now, &cluster.id);
    let (os_files, images) = images(now, &pool.id, &networks[0].id);
    let strategies = strategies(now);
    let (groups, users) = users(now, password_hash);
    let desks = desks(
        now,
        &cluster,
        &hosts,
        &images,
        &networks,
        &strategies,
        &users,
    );
    Inventory {
        clusters: vec![cluster],
        hosts,
        storage_pools: vec![pool],
        os_files,
        images,
        networks,
        strategies,
        groups,
        users,
        desks,
    }
}

fn images(now: i64, pool_id: &str, network_id: &str) -> (Vec<OsFile>, Vec<Image>) {
    let specs = [
        (
            "VDI Windows 10",
            "win10-x64.qcow2",
            OsName::WIN_10_64,
            DeskCategory::VDI,
            40,
        ),
        (
            "VDI Ubuntu",
            "ubuntu-22.04.qcow2",
            OsName::UBUNTU_64,
            DeskCategory::VDI,
            40,
        ),
        (
            "IDV Windows 7",
            "win7-x64.qcow2",
            OsName::WIN_7_64,
            DeskCategory::IDV,
            60,
        ),
    ];
    let mut files = Vec::new();
    let mut images = Vec::new();
    for (i, (name, file, os, category, disk)) in specs.into_iter().enumerate() {
        let at = now + i as i64;
        let file_id: OsFileId = id();
        files.push(OsFile {
            id: file_id.clone(),
            name: file.into(),
            format: ImageFormat::QCOW2,
            disk_type: ImageDiskType::SYSTEM,
            os_name: os,
            size_bytes: 9_663_676_416 + i as i64 * 1_073_741_824,
            virtual_size_bytes: disk * 1_073_741_824,
            sha256: format!("{:064x}", i + 1),
            state: ImageFileState::AVAILABLE,
            storage_pool_id: pool_id.into(),
            created_at: at,
        });
        let image_id: ImageId = id();
        images.push(Image {
            id: image_id.clone(),
            name: name.into(),
            root_image_id: image_id,
            version: 1,
            newest: true,
            category,
            os_name: os,
            os_file_id: file_id,
            state: ImageState::AVAILABLE,
            system_disk_gb: disk,
            cpu_cores: 2,
            memory_gb: 4,
            network_id: Some(network_id.into()),
            description: format!("demo image built from {file}"),
            created_at: at,
        });
    }
    (files, images)
}

fn networks(now: i64, cluster_id: &str) -> Vec<Network> {
    [
        ("office-net", "192.168.10", Some(10)),
        ("lab-net", "192.168.20", None),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (name, prefix, vlan))| Network {
        id: id(),
        cluster_id: cluster_id.into(),
        name: name.into(),
        cidr: format!("{prefix}.0/24"),
        gateway: format!("{prefix}.1"),
        dns_primary: "192.168.1.53".into(),
        dns_secondary: "192.168.1.54".into(),
        vlan,
        pool_start: format!("{prefix}.100"),
        pool_end: format!("{prefix}.198"),
        state: NetworkState::AVAILABLE,
        creator: "admin".into(),
        created_at: now + i as i64,
    })
    .collect()
}

fn strategies(now: i64) -> Vec<Strategy> {
    vec![
        Strategy {
            id: id(),
            name: "office-standard".into(),
            category: DeskCategory::VDI,
            desk_type: DeskType::PERSONAL,
            cpu_cores: 2,
            memory_gb: 4,
            system_disk_gb: 40,
            data_disk_gb: 20,
            enable_agreement_agency: false,
            description: "personal office desktop with a data disk".into(),
            created_at: now,
        },
        Strategy {
            id: id(),
            name: "lab-recoverable".into(),
            category: DeskCategory::VDI,
            desk_type: DeskType::RECOVERABLE,
            cpu_cores: 4,
            memory_gb: 8,
            system_disk_gb: 60,
            data_disk_gb: 0,
            enable_agreement_agency: true,
            description: "classroom desktop restored at every shutdown, proxy access only".into(),
            created_at: now + 1,
        },
    ]
}

fn users(now: i64, password_hash: &str) -> (Vec<UserGroup>, Vec<User>) {
    let root = UserGroup {
        id: id(),
        name: "demo".into(),
        parent_id: None,
        path: "demo".into(),
        created_at: now,
        account_expire_date: 0,
        invalid_time: 0,
    };
    let mut groups = vec![root.clone()];
    for (i, name) in ["teachers", "students", "staff"].into_iter().enumerate() {
        groups.push(UserGroup {
            id: id(),
            name: name.into(),
            parent_id: Some(root.id.clone()),
            path: format!("demo/{name}"),
            created_at: now + 1 + i as i64,
            account_expire_date: 0,
            invalid_time: 0,
        });
    }
    let users = (1..=20)
        .map(|i| {
            let group = &groups[1 + (i % 3)];
            User {
                id: id(),
                name: format!("user{i:02}"),
                real_name: format!("Demo User {i:02}"),
                user_type: if i == 20 {
                    UserType::VISITOR
                } else {
                    UserType::NORMAL
                },
                state: if i == 19 {
                    UserState::DISABLE
                } else {
                    UserState::ENABLE
                },
                group_id: group.id.clone(),
                password_hash: password_hash.into(),
                email: format!("user{i:02}@demo.example"),
                phone: String::new(),
                description: String::new(),
                created_at: now + i as i64,
                account_expire_date: None,
                invalid_time: None,
                login_identity_level: "auto_login".into(),
                auth: AuthSwitches::default(),
                pwd_failures: 0,
                locked_until: 0,
                last_login_at: 0,
            }
        })
        .collect();
    (groups, users)
}

fn desks(
    now: i64,
    cluster: &Cluster,
    hosts: &[Host],
    images: &[Image],
    networks: &[Network],
    strategies: &[Strategy],
    users: &[User],
) -> Vec<Desk> {
    use DeskState::*;
    let states = [
        RUNNING, RUNNING, RUNNING, RUNNING, CLOSE, CLOSE, CLOSE, CLOSE, SLEEP, ERROR,
    ];
    states
        .into_iter()
        .enumerate()
        .map(|(i, state)| {
            let strategy = &strategies[i % 2];
            let network = &networks[i % 2];
            let image = &images[if i % 5 == 4 { 1 } else { 0 }];
            let user = &users[i];
            let prefix = network.gateway.trim_end_matches(".1");
            Desk {
                id: id(),
                name: format!("{}_1", user.name),
                user_id: user.id.clone(),
                image_id: image.id.clone(),
                strategy_id: strategy.id.clone(),
                network_id: network.id.clone(),
                cluster_id: cluster.id.clone(),
                host_id: hosts[i % hosts.len()].id.clone(),
                ip: format!("{prefix}.{}", 100 + i / 2),
                mac: format!("52:54:00:de:5c:{:02x}", i + 1),
                desk_type: strategy.desk_type,
                category: image.category,
                state,
                cpu_cores: strategy.cpu_cores,
                memory_gb: strategy.memory_gb,
                system_disk_gb: strategy.system_disk_gb.max(image.system_disk_gb),
                data_disk_gb: strategy.data_disk_gb,
                remark: String::new(),
                error_reason: if state == ERROR {
                    "demo: the VM failed to boot (disk read error)".into()
                } else {
                    String::new()
                },
                enable_custom: false,
                need_refresh_strategy: false,
                vgpu_type: "QXL".into(),
                desktop_pool_type: "COMMON".into(),
                terminal_ip: if state == RUNNING {
                    format!("172.16.8.{}", 20 + i)
                } else {
                    String::new()
                },
                created_at: now + i as i64,
                updated_at: now + i as i64,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn demo_has_the_promised_shape() {
        let inv = inventory(1_700_000_000_000, "h");
        assert_eq!(inv.clusters.len(), 1);
        assert_eq!(inv.hosts.len(), 3);
        assert_eq!(inv.storage_pools.len(), 1);
        assert_eq!(inv.images.len(), 3);
        assert_eq!(inv.os_files.len(), 3);
        assert_eq!(inv.networks.len(), 2);
        assert_eq!(inv.strategies.len(), 2);
        assert_eq!(inv.users.len(), 20);
        assert_eq!(inv.desks.len(), 10);
        let ips: HashSet<_> = inv.desks.iter().map(|d| d.ip.clone()).collect();
        assert_eq!(ips.len(), 10, "desk IPs are unique");
        let states: HashSet<_> = inv.desks.iter().map(|d| d.state).collect();
        assert!(states.len() >= 4, "mixed states");
    }
}
