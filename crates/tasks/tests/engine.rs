//! The engine in one process, on both databases.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deskd_domain::enums::{ItemStatus, TaskStatus};
use deskd_domain::store::*;
use deskd_domain::task::*;
use deskd_store::{testing::backend_urls, SqlStore};
use deskd_tasks::{Engine, EngineConfig, ItemHandler, Registry};
use serde_json::json;

/// Fails items whose payload says so, panics on request, and tracks peak concurrency.
struct Probe {
    now: AtomicUsize,
    peak: AtomicUsize,
}

#[async_trait]
impl ItemHandler for Probe {
    async fn run(&self, c: &Claim) -> ItemOutcome {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(n, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        match c.payload["do"].as_str() {
            Some("fail") => ItemOutcome::failure(format!("{} refused", c.item_id)),
            Some("panic") => panic!("probe asked to panic"),
            _ => ItemOutcome {
                biz_data: Some(json!({"desk_id": c.item_id})),
                resource: Some(json!({"desk_name": c.item_id})),
                effects: vec![Effect::Event {
                    kind: "probe".into(),
                    subject: c.item_id.clone(),
                    detail: String::new(),
                }],
                ..ItemOutcome::success(format!("{} ok", c.item_id))
            },
        }
    }
}

async fn wait_done(store: &dyn Store, id: &str) -> TaskRecord {
    for _ in 0..500 {
        let t = store.get_task(id).await.unwrap().unwrap();
        if t.status != TaskStatus::RUNNING {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("task {id} did not finish");
}

fn task(kind: &str, dos: &[&str]) -> NewTask {
    NewTask {
        id: uuid::Uuid::new_v4().to_string(),
        kind: kind.into(),
        cluster_id: None,
        items: dos
            .iter()
            .enumerate()
            .map(|(i, d)| NewItem {
                item_id: format!("it{i}"),
                subject: None,
                payload: json!({"do": d}),
                failed: None,
            })
            .collect(),
    }
}

#[tokio::test]
async fn runs_every_item_within_the_concurrency_bound() {
    for url in backend_urls().await {
        let store: Arc<dyn Store> = Arc::new(SqlStore::open(&url).await.unwrap());
        let probe = Arc::new(Probe {
            now: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        });
        let mut reg = Registry::default();
        reg.register("probe", probe.clone());
        let cfg = EngineConfig {
            concurrency: 3,
            poll: Duration::from_millis(50),
            ..Default::default()
        };
        let engine = Engine::new(store.clone(), reg, cfg);
        let tasks = engine.tasks();
        let (stop, rx) = tokio::sync::watch::channel(false);
        let run = tokio::spawn(engine.run(rx, Duration::from_secs(5)));

        let ok = task("probe", &["ok"; 12]);
        let mixed = task("probe", &["ok", "fail", "panic"]);
        let orphan = task("nobody", &["ok"]);
        for t in [&ok, &mixed, &orphan] {
            tasks.submit(t).await.unwrap();
        }
        let done = wait_done(store.as_ref(), &ok.id).await;
        assert_eq!(done.status, TaskStatus::FINISHED);
        assert!(done
            .items
            .iter()
            .all(|i| i.status == ItemStatus::SUCCESS && i.attempts == 1));
        assert!(probe.peak.load(Ordering::SeqCst) <= 3, "concurrency bound");

        let done = wait_done(store.as_ref(), &mixed.id).await;
        assert_eq!(done.status, TaskStatus::ERROR);
        assert_eq!(done.task_result, "成功[1]，失败[2]");
        assert!(
            done.error_message.starts_with("it1,it2 "),
            "{}",
            done.error_message
        );
        assert_eq!(
            done.items[2].result,
            "internal error while running the item"
        );

        let done = wait_done(store.as_ref(), &orphan.id).await;
        assert_eq!(done.items[0].result, "no handler for task kind `nobody`");

        assert_eq!(
            store.events_for("it0").await.unwrap().len(),
            2,
            "one per successful it0 (ok and mixed)"
        );
        stop.send(true).unwrap();
        run.await.unwrap().unwrap();
    }
}
