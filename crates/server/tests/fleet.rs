//! The reconciler repairs drift between the database and the hypervisor driver, on both
//! databases: crashed VMs, VMs that vanished, orphan VMs, and power states that changed behind
//! deskd's back; desks a task is working on are left alone.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use deskd_compute::{Hypervisor, PowerState, SimConfig, SimDriver};
use deskd_domain::enums::DeskState;
use deskd_domain::model::now_ms;
use deskd_domain::store::Store;
use deskd_domain::task::{NewItem, NewTask};
use deskd_server::fleet;
use deskd_store::{testing::backend_urls, SqlStore};

async fn setup(url: &str) -> (Arc<dyn Store>, Arc<SimDriver>) {
    let store: Arc<dyn Store> = Arc::new(SqlStore::open(url).await.unwrap());
    store
        .load_inventory(&deskd_domain::demo::inventory(now_ms(), "h"))
        .await
        .unwrap();
    let driver = Arc::new(SimDriver::new(SimConfig::instant()));
    fleet::register_hosts(store.as_ref(), driver.as_ref())
        .await
        .unwrap();
    fleet::adopt_inventory(store.as_ref(), driver.as_ref())
        .await
        .unwrap();
    (store, driver)
}

async fn desk_in(store: &dyn Store, state: DeskState) -> deskd_domain::model::Desk {
    store
        .list_all_desks()
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.state == state)
        .unwrap()
}

#[tokio::test]
async fn adopted_inventory_has_no_drift() {
    for url in backend_urls().await {
        let (store, driver) = setup(&url).await;
        let vms = driver.list().await.unwrap();
        assert_eq!(vms.len(), 10);
        assert_eq!(
            vms.iter()
                .filter(|v| v.power == PowerState::Running)
                .count(),
            4
        );
        assert_eq!(
            vms.iter().filter(|v| v.power == PowerState::Paused).count(),
            1
        );
        assert!(fleet::reconcile_once(store.as_ref(), driver.as_ref())
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn repairs_crash_loss_orphans_and_power_changes() {
    for url in backend_urls().await {
        let (store, driver) = setup(&url).await;
        let crashed = desk_in(store.as_ref(), DeskState::RUNNING).await;
        driver.crash(&crashed.id, "guest kernel panic").unwrap();
        let lost = desk_in(store.as_ref(), DeskState::CLOSE).await;
        assert!(driver.forget(&lost.id));
        let running = store
            .list_all_desks()
            .await
            .unwrap()
            .into_iter()
            .filter(|d| d.state == DeskState::RUNNING)
            .nth(1)
            .unwrap();
        driver.power_off(&running.id).await.unwrap();
        let mut orphan = deskd_server::fleet::vm_spec(store.as_ref(), &lost)
            .await
            .unwrap();
        orphan.vm_id = uuid::Uuid::new_v4().to_string();
        orphan.name = "nobody's".into();
        driver.inject_orphan(orphan.clone()).unwrap();

        let repairs = fleet::reconcile_once(store.as_ref(), driver.as_ref())
            .await
            .unwrap();
        assert_eq!(repairs.len(), 4, "{repairs:?}");

        let d = store.get_desk(&crashed.id).await.unwrap().unwrap();
        assert_eq!(
            (d.state, d.error_reason.as_str()),
            (DeskState::ERROR, "guest kernel panic")
        );
        let d = store.get_desk(&running.id).await.unwrap().unwrap();
        assert_eq!(d.state, DeskState::CLOSE);
        assert!(
            driver.info(&lost.id).await.unwrap().is_some(),
            "lost VM defined again"
        );
        assert_eq!(
            store.get_desk(&lost.id).await.unwrap().unwrap().state,
            DeskState::CLOSE
        );
        assert!(
            driver.info(&orphan.vm_id).await.unwrap().is_none(),
            "orphan destroyed"
        );
        assert_eq!(
            store.events_for(&crashed.id).await.unwrap().len(),
            1,
            "repairs are audited"
        );

        assert!(
            fleet::reconcile_once(store.as_ref(), driver.as_ref())
                .await
                .unwrap()
                .is_empty(),
            "idempotent"
        );
    }
}

#[tokio::test]
async fn busy_desks_are_left_alone() {
    for url in backend_urls().await {
        let (store, driver) = setup(&url).await;
        let d = desk_in(store.as_ref(), DeskState::RUNNING).await;
        driver.power_off(&d.id).await.unwrap();
        let task = NewTask {
            id: uuid::Uuid::new_v4().to_string(),
            kind: "shutdown".into(),
            cluster_id: None,
            items: vec![NewItem {
                item_id: d.id.to_string(),
                subject: Some(d.id.to_string()),
                payload: serde_json::json!({}),
                failed: None,
            }],
        };
        store.create_task(&task).await.unwrap();
        assert!(fleet::reconcile_once(store.as_ref(), driver.as_ref())
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store.get_desk(&d.id).await.unwrap().unwrap().state,
            DeskState::RUNNING
        );
    }
}
