//! The platform inventory (6.3–6.10) and its management writes in the store, on SQLite and on
//! PostgreSQL: every figure is checked against the demo inventory it was computed from.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

use deskd_domain::enums::*;
use deskd_domain::error::Error;
use deskd_domain::model::*;
use deskd_domain::query::compile;
use deskd_domain::resources::{CLUSTERS, HOSTS, IMAGES, NETWORKS, STORAGE_POOLS};
use deskd_domain::store::*;
use deskd_store::testing::backend_urls;
use deskd_store::SqlStore;
use deskd_wire::paging::PageQuery;

async fn stores() -> Vec<(SqlStore, Inventory)> {
    let mut out = Vec::new();
    for url in backend_urls().await {
        let s = SqlStore::open(&url).await.unwrap();
        let inv = deskd_domain::demo::inventory(now_ms(), "hash");
        s.load_inventory(&inv).await.unwrap();
        out.push((s, inv));
    }
    out
}

fn all() -> PageQuery {
    PageQuery {
        page: Some(0),
        limit: Some(100),
        ..Default::default()
    }
}

#[tokio::test]
async fn lists_compute_their_figures_from_the_inventory() {
    for (s, inv) in stores().await {
        let images = s
            .list_images(&compile(&IMAGES, &all()).unwrap())
            .await
            .unwrap();
        assert_eq!(images.total, 3);
        for row in &images.items {
            let of = |t: DeskType| {
                inv.desks
                    .iter()
                    .filter(|d| d.image_id == row.image.id && d.desk_type == t)
                    .count() as i64
            };
            assert_eq!(row.personal, of(DeskType::PERSONAL), "{}", s.backend());
            assert_eq!(row.recoverable, of(DeskType::RECOVERABLE));
            assert_eq!(row.app_layer, of(DeskType::APP_LAYER));
            assert_eq!(row.root_image_name, row.image.name);
            assert_eq!(row.cluster_id, inv.clusters[0].id);
            assert_eq!(row.storage_pool_id, inv.storage_pools[0].id);
        }
        let nets = s
            .list_networks(&compile(&NETWORKS, &all()).unwrap())
            .await
            .unwrap();
        for row in &nets.items {
            let used = inv
                .desks
                .iter()
                .filter(|d| d.network_id == row.network.id)
                .count();
            assert_eq!(row.ref_count, used as i64);
        }
        let compute = s
            .compute_summary(&compile(&CLUSTERS, &all()).unwrap())
            .await
            .unwrap();
        let c = &compute.items[0];
        assert_eq!(c.host_num, 3);
        assert_eq!(
            c.total_cpu_cores,
            inv.hosts.iter().map(|h| h.cpu_cores).sum::<i64>()
        );
        assert_eq!(
            c.allocated_cpu_cores,
            inv.desks.iter().map(|d| d.cpu_cores).sum::<i64>()
        );
        assert_eq!(
            c.allocated_memory_gb,
            inv.desks.iter().map(|d| d.memory_gb).sum::<i64>()
        );
        let pools = s
            .list_pools(&compile(&STORAGE_POOLS, &all()).unwrap())
            .await
            .unwrap();
        let files: i64 = inv.os_files.iter().map(|f| f.size_bytes).sum();
        let disks: i64 = inv
            .desks
            .iter()
            .map(|d| d.system_disk_gb + d.data_disk_gb)
            .sum();
        assert_eq!(pools.items[0].inventory_bytes, files + disks * (1 << 30));
        let hosts = s
            .list_host_rows(&compile(&HOSTS, &all()).unwrap())
            .await
            .unwrap();
        assert_eq!(hosts.items.iter().map(|h| h.desk_num).sum::<i64>(), 10);
    }
}

#[tokio::test]
async fn deletes_refuse_while_something_refers_to_the_row() {
    for (s, inv) in stores().await {
        let refused = |e: Error, needle: &str| match e {
            Error::Conflict { .. } => assert!(e.to_string().contains(needle), "{e}"),
            other => panic!("{other:?}"),
        };
        refused(
            s.delete_strategy(&inv.strategies[0].id).await.unwrap_err(),
            "desks",
        );
        refused(
            s.delete_network(&inv.networks[0].id).await.unwrap_err(),
            "images",
        );
        refused(s.delete_host(&inv.hosts[0].id).await.unwrap_err(), "desks");
        refused(
            s.delete_pool(&inv.storage_pools[0].id).await.unwrap_err(),
            "OS files",
        );
        let e = s
            .begin_cluster_delete(&inv.clusters[0].id)
            .await
            .unwrap_err();
        refused(e, "desks");
        assert_eq!(
            s.get_cluster(&inv.clusters[0].id)
                .await
                .unwrap()
                .unwrap()
                .state,
            ClusterState::ENABLED
        );
        assert!(!s.delete_host(&"nope".into()).await.unwrap());
        // A strategy nothing uses goes.
        let free = Strategy {
            id: uuid::Uuid::new_v4().to_string().into(),
            name: "free".into(),
            ..inv.strategies[0].clone()
        };
        s.create_strategy(&free).await.unwrap();
        let dup = s
            .create_strategy(&Strategy {
                id: "x".into(),
                ..free.clone()
            })
            .await;
        assert!(
            matches!(&dup, Err(e @ Error::AlreadyExists { .. }) if e.to_string().contains("`free` is already taken"))
        );
        assert!(s.delete_strategy(&free.id).await.unwrap());
        assert!(s.get_strategy(&free.id).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn a_network_pool_cannot_shrink_below_its_allocations() {
    for (s, inv) in stores().await {
        let n = inv.networks[0].clone();
        let used: Vec<_> = inv
            .desks
            .iter()
            .filter(|d| d.network_id == n.id)
            .map(|d| d.ip.clone())
            .collect();
        let shrunk = Network {
            pool_start: "192.168.10.150".into(),
            ..n.clone()
        };
        let e = s.update_network(&shrunk).await.unwrap_err();
        assert!(
            matches!(&e, Error::Refused(m) if m.contains(&used[0])),
            "{e:?}"
        );
        assert_eq!(
            s.get_network(&n.id).await.unwrap().unwrap().pool_start,
            n.pool_start
        );
        let grown = Network {
            pool_end: "192.168.10.250".into(),
            ..n.clone()
        };
        assert!(s.update_network(&grown).await.unwrap());
    }
}

#[tokio::test]
async fn host_capacity_cannot_drop_below_what_its_desks_were_promised() {
    for (s, inv) in stores().await {
        let h = inv.hosts[0].clone();
        let small = Host {
            memory_gb: 1,
            memory_overcommit: 1.0,
            ..h.clone()
        };
        let e = s.update_host(&small).await.unwrap_err();
        assert!(
            matches!(&e, Error::Refused(m) if m.contains("memory")),
            "{e:?}"
        );
        let draining = Host {
            state: HostState::DRAINING,
            driver: HostDriver::Sim,
            ..h.clone()
        };
        assert!(s.update_host(&draining).await.unwrap());
        assert_eq!(
            s.get_host(&h.id).await.unwrap().unwrap().state,
            HostState::DRAINING
        );
        // A new host in an unknown cluster is refused; in a real one it is listed.
        let new = Host {
            id: uuid::Uuid::new_v4().to_string().into(),
            name: "extra".into(),
            cluster_id: "nope".into(),
            ..h.clone()
        };
        assert!(matches!(
            s.create_host(&new).await,
            Err(Error::NotFound { .. })
        ));
        let new = Host {
            cluster_id: h.cluster_id.clone(),
            ..new
        };
        s.create_host(&new).await.unwrap();
        assert!(s.delete_host(&new.id).await.unwrap());
    }
}

#[tokio::test]
async fn an_empty_cluster_is_deleted_and_its_edit_is_timestamped() {
    for (s, _) in stores().await {
        let c = Cluster {
            id: uuid::Uuid::new_v4().to_string().into(),
            name: "second".into(),
            state: ClusterState::ENABLED,
            description: String::new(),
            created_at: 1,
            updated_at: 1,
        };
        s.create_cluster(&c).await.unwrap();
        let edited = Cluster {
            state: ClusterState::DISABLED,
            updated_at: 2,
            ..c.clone()
        };
        assert!(s.update_cluster(&edited).await.unwrap());
        assert_eq!(s.get_cluster(&c.id).await.unwrap().unwrap(), edited);
        let host = Host {
            id: uuid::Uuid::new_v4().to_string().into(),
            cluster_id: c.id.clone(),
            name: "second-1".into(),
            ip: "10.0.0.1".into(),
            cpu_cores: 8,
            memory_gb: 8,
            storage_gb: 100,
            cpu_overcommit: 1.0,
            memory_overcommit: 1.0,
            state: HostState::ENABLED,
            driver: HostDriver::Sim,
            created_at: 1,
            exporter_url: Some("http://10.0.0.1:9100/metrics".into()),
            uri: None,
        };
        s.create_host(&host).await.unwrap();
        assert_eq!(s.get_host(&host.id).await.unwrap().as_ref(), Some(&host));
        let no_exporter = Host {
            exporter_url: None,
            ..host.clone()
        };
        assert!(s.update_host(&no_exporter).await.unwrap());
        assert_eq!(s.get_host(&host.id).await.unwrap(), Some(no_exporter));
        assert!(s.begin_cluster_delete(&c.id).await.unwrap());
        assert_eq!(
            s.get_cluster(&c.id).await.unwrap().unwrap().state,
            ClusterState::DELETING
        );
        let late = Host {
            id: uuid::Uuid::new_v4().to_string().into(),
            name: "second-2".into(),
            ..host.clone()
        };
        assert!(
            matches!(s.create_host(&late).await, Err(e @ Error::Conflict { .. }) if e.to_string().contains("DELETING"))
        );
        assert!(s.remove_cluster(&c.id).await.unwrap());
        assert!(s.get_cluster(&c.id).await.unwrap().is_none());
        assert!(
            s.get_host(&host.id).await.unwrap().is_none(),
            "its empty host went with it"
        );
        assert!(!s.remove_cluster(&c.id).await.unwrap());
    }
}

#[tokio::test]
async fn terminals_register_heartbeat_and_count_their_first_login() {
    for (s, inv) in stores().await {
        let t = |id: &str, category: TerminalCategory, at: i64| Terminal {
            id: id.into(),
            name: id.into(),
            category,
            ip: String::new(),
            mac: String::new(),
            registered_at: at,
            last_heartbeat_at: at,
            first_login_at: 0,
        };
        assert!(s
            .register_terminal(&t("t1", TerminalCategory::vdi, 100))
            .await
            .unwrap());
        assert!(s
            .register_terminal(&t("t2", TerminalCategory::vdi, 100))
            .await
            .unwrap());
        assert!(s
            .register_terminal(&t("t3", TerminalCategory::app, 100))
            .await
            .unwrap());
        // registering again updates, it does not add
        assert!(!s
            .register_terminal(&t("t3", TerminalCategory::pc, 100))
            .await
            .unwrap());
        assert!(s.terminal_heartbeat("t1", 500).await.unwrap());
        assert!(!s.terminal_heartbeat("nope", 500).await.unwrap());
        s.record_user_login(&inv.users[0].id, Some("t2"), 50, 60)
            .await
            .unwrap();
        let mut tallies = s.terminal_tallies(400).await.unwrap();
        tallies.sort_by_key(|t| t.category);
        let got: Vec<_> = tallies
            .iter()
            .map(|t| (t.category, t.total, t.online, t.never_login))
            .collect();
        assert_eq!(
            got,
            [
                (TerminalCategory::pc, 1, 0, 1),
                (TerminalCategory::vdi, 2, 1, 1),
            ],
            "{}",
            s.backend()
        );
    }
}
