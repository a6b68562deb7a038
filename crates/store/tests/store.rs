//! The store test-suite. Every test runs on SQLite and on PostgreSQL.

use deskd_domain::enums::*;
use deskd_domain::model::*;
use deskd_domain::query::compile;
use deskd_domain::resources::STRATEGIES;
use deskd_domain::store::*;
use deskd_domain::task::*;
use deskd_store::testing::backend_urls;
use deskd_store::SqlStore;
use serde_json::json;

async fn stores() -> Vec<SqlStore> {
    let mut out = Vec::new();
    for url in backend_urls().await {
        out.push(
            SqlStore::open(&url)
                .await
                .unwrap_or_else(|e| panic!("open {url}: {e}")),
        );
    }
    out
}

fn account(name: &str) -> Account {
    Account {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.into(),
        password_hash: "h".into(),
        disabled: false,
        created_at: now_ms(),
    }
}

#[tokio::test]
async fn migrations_are_idempotent() {
    for url in backend_urls().await {
        let a = SqlStore::open(&url).await.unwrap();
        let b = SqlStore::open(&url).await.unwrap();
        let latest = deskd_store::migrate::latest_version();
        assert!(latest >= 2);
        assert_eq!(a.schema_version().await.unwrap(), latest);
        assert_eq!(b.schema_version().await.unwrap(), latest);
    }
}

#[tokio::test]
async fn settings_round_trip_and_overwrite() {
    for s in stores().await {
        assert_eq!(s.get_setting("k").await.unwrap(), None);
        s.put_setting("k", "v1").await.unwrap();
        s.put_setting("k", "v2").await.unwrap();
        assert_eq!(
            s.get_setting("k").await.unwrap().as_deref(),
            Some("v2"),
            "{}",
            s.backend()
        );
    }
}

#[tokio::test]
async fn accounts_tokens_and_revocation() {
    for s in stores().await {
        let a = account("admin");
        s.create_account(&a).await.unwrap();
        let dup = s.create_account(&account("admin")).await.unwrap_err();
        assert!(
            matches!(dup, deskd_domain::Error::AlreadyExists { .. }),
            "{dup:?}"
        );
        let now = now_ms();
        let t = TokenRecord {
            token_hash: "h1".into(),
            account_id: a.id.clone(),
            created_at: now,
            expires_at: now + 1000,
        };
        s.insert_token(&t).await.unwrap();
        assert_eq!(
            s.token_account("h1", now)
                .await
                .unwrap()
                .map(|(a, _)| a.name),
            Some("admin".into())
        );
        assert!(
            s.token_account("h1", now + 1000).await.unwrap().is_none(),
            "expired"
        );
        assert!(s.token_account("nope", now).await.unwrap().is_none());
        // disabling revokes; re-enabling does not bring the token back
        assert!(s.set_account_disabled("admin", true).await.unwrap());
        assert!(s.token_account("h1", now).await.unwrap().is_none());
        assert!(s.set_account_disabled("admin", false).await.unwrap());
        assert!(s.token_account("h1", now).await.unwrap().is_none());
        // a password change revokes too
        s.insert_token(&TokenRecord {
            token_hash: "h2".into(),
            ..t.clone()
        })
        .await
        .unwrap();
        assert!(s.token_account("h2", now).await.unwrap().is_some());
        assert!(s.set_account_password("admin", "new").await.unwrap());
        assert!(s.token_account("h2", now).await.unwrap().is_none());
        assert_eq!(
            s.account_by_name("admin")
                .await
                .unwrap()
                .unwrap()
                .password_hash,
            "new"
        );
        assert!(!s.set_account_password("ghost", "x").await.unwrap());
        // explicit revoke
        s.insert_token(&TokenRecord {
            token_hash: "h3".into(),
            ..t
        })
        .await
        .unwrap();
        s.revoke_token("h3").await.unwrap();
        assert!(s.token_account("h3", now).await.unwrap().is_none());
        assert_eq!(s.list_accounts().await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn demo_inventory_loads_atomically() {
    for s in stores().await {
        assert!(s.inventory_is_empty().await.unwrap());
        let inv = deskd_domain::demo::inventory(now_ms(), "hash");
        s.load_inventory(&inv).await.unwrap();
        assert!(!s.inventory_is_empty().await.unwrap());
        assert_eq!(s.list_hosts().await.unwrap().len(), 3);
        assert_eq!(s.list_all_desks().await.unwrap().len(), 10);
        assert!(s.cluster_exists(&inv.clusters[0].id).await.unwrap());
        let d = &inv.desks[0];
        assert_eq!(s.get_desk(&d.id).await.unwrap().as_ref(), Some(d));
        assert_eq!(
            s.get_image(&inv.images[0].id).await.unwrap().as_ref(),
            Some(&inv.images[0])
        );
        // loading again fails on the unique names and changes nothing
        assert!(s
            .load_inventory(&deskd_domain::demo::inventory(now_ms(), "hash"))
            .await
            .is_err());
        assert_eq!(
            s.list_all_desks().await.unwrap().len(),
            10,
            "{}",
            s.backend()
        );
        assert_eq!(s.list_hosts().await.unwrap().len(), 3);
    }
}

#[tokio::test]
async fn strategies_page_with_desk_counts() {
    for s in stores().await {
        let inv = deskd_domain::demo::inventory(now_ms(), "hash");
        s.load_inventory(&inv).await.unwrap();
        let q = compile(
            &STRATEGIES,
            &serde_json::from_value(json!({"page": 0, "limit": 10,
            "sort_arr": [{"field_name": "deskStrategyName", "direction": "DESC"}]}))
            .unwrap(),
        )
        .unwrap();
        let page = s.list_strategies(&q).await.unwrap();
        assert_eq!(page.total, 2);
        let names: Vec<_> = page
            .items
            .iter()
            .map(|r| r.strategy.name.as_str())
            .collect();
        assert_eq!(names, ["office-standard", "lab-recoverable"]);
        assert_eq!(page.items.iter().map(|r| r.desk_num).sum::<i64>(), 10);
        let q = compile(&STRATEGIES, &serde_json::from_value(json!({"page": 0, "limit": 10,
            "match_arr": [{"field_name": "deskType", "match_rule": "EQ", "type": "EXACT", "value_arr": ["RECOVERABLE"]}]})).unwrap()).unwrap();
        let page = s.list_strategies(&q).await.unwrap();
        assert_eq!(page.total, 1);
        assert_eq!(page.items[0].strategy.name, "lab-recoverable");
    }
}

#[tokio::test]
async fn desk_state_is_compare_and_set() {
    for s in stores().await {
        let inv = deskd_domain::demo::inventory(now_ms(), "hash");
        s.load_inventory(&inv).await.unwrap();
        let closed = inv
            .desks
            .iter()
            .find(|d| d.state == DeskState::CLOSE)
            .unwrap();
        assert!(s
            .set_desk_state(&closed.id, &[DeskState::CLOSE], DeskState::START_UP, "")
            .await
            .unwrap());
        assert!(
            !s.set_desk_state(&closed.id, &[DeskState::CLOSE], DeskState::START_UP, "")
                .await
                .unwrap(),
            "second racer loses"
        );
        assert!(s
            .set_desk_state(&closed.id, &[DeskState::START_UP], DeskState::ERROR, "boom")
            .await
            .unwrap());
        let d = s.get_desk(&closed.id).await.unwrap().unwrap();
        assert_eq!(
            (d.state, d.error_reason.as_str()),
            (DeskState::ERROR, "boom")
        );
    }
}

fn task(n: usize) -> NewTask {
    NewTask {
        id: uuid::Uuid::new_v4().to_string(),
        kind: "probe".into(),
        cluster_id: Some("c1".into()),
        items: (0..n)
            .map(|i| NewItem {
                item_id: format!("I{i}"),
                subject: Some(format!("desk-{i}")),
                payload: json!({"n": i}),
                failed: None,
            })
            .collect(),
    }
}

#[tokio::test]
async fn claims_are_exclusive_and_outcomes_fenced() {
    for s in stores().await {
        let t = task(3);
        s.create_task(&t).await.unwrap();
        let now = now_ms();
        let a = s.claim_items("node-a", now + 5_000, 2, now).await.unwrap();
        let b = s.claim_items("node-b", now + 60_000, 5, now).await.unwrap();
        assert_eq!((a.len(), b.len()), (2, 1), "{}", s.backend());
        assert_eq!(a[0].payload, json!({"n": 0}));
        assert_eq!(s.busy_subjects().await.unwrap().len(), 3);
        // node-a dies; its lease expires; node-b takes over item 0 and node-a can no longer write
        let later = now + 10_000;
        let taken = s
            .claim_items("node-b", later + 10_000, 5, later)
            .await
            .unwrap();
        assert_eq!(taken.len(), 2);
        assert_eq!(taken[0].attempts, 2);
        let ok = ItemOutcome {
            effects: vec![Effect::Event {
                kind: "probe".into(),
                subject: "desk-0".into(),
                detail: "done".into(),
            }],
            ..ItemOutcome::success("ok")
        };
        assert!(
            !s.finish_item(&a[0], &ok).await.unwrap(),
            "stale lease cannot record"
        );
        assert!(
            s.events_for("desk-0").await.unwrap().is_empty(),
            "nor apply effects"
        );
        for c in taken.iter().chain(b.iter()) {
            let event = Effect::Event {
                kind: "probe".into(),
                subject: c.subject.clone().unwrap(),
                detail: "done".into(),
            };
            let o = if c.item_id == "I1" {
                ItemOutcome::failure("I1 broke")
            } else {
                ItemOutcome {
                    effects: vec![event],
                    ..ok.clone()
                }
            };
            assert!(s.finish_item(c, &o).await.unwrap());
        }
        assert_eq!(s.events_for("desk-0").await.unwrap().len(), 1);
        assert_eq!(
            s.finalize_tasks(now_ms()).await.unwrap(),
            vec![t.id.clone()]
        );
        assert!(
            s.finalize_tasks(now_ms()).await.unwrap().is_empty(),
            "finalizes once"
        );
        let rec = s.get_task(&t.id).await.unwrap().unwrap();
        assert_eq!(rec.status, TaskStatus::ERROR);
        assert_eq!(rec.task_result, "成功[2]，失败[1]");
        assert_eq!(rec.error_message, "I1 I1 broke");
        assert_eq!(rec.cluster_id.as_deref(), Some("c1"));
        assert!(s.busy_subjects().await.unwrap().is_empty());
    }
}

/// A group of outcomes is written in one transaction, but each stays fenced by its own lease:
/// a stale claim in the group writes nothing while the others are recorded with their effects.
#[tokio::test]
async fn group_record_fences_each_item() {
    for s in stores().await {
        let t = task(4);
        s.create_task(&t).await.unwrap();
        let now = now_ms();
        let claims = s.claim_items("n", now + 60_000, 10, now).await.unwrap();
        let seqs: Vec<i64> = claims.iter().map(|c| c.seq).collect();
        assert_eq!(seqs, vec![0, 1, 2, 3], "claimed in order ({})", s.backend());
        let tokens: std::collections::HashSet<_> =
            claims.iter().map(|c| c.lease_token.clone()).collect();
        assert_eq!(tokens.len(), 4, "one lease token per item");
        let event = |c: &Claim| ItemOutcome {
            effects: vec![Effect::Event {
                kind: "probe".into(),
                subject: c.subject.clone().unwrap(),
                detail: "done".into(),
            }],
            ..ItemOutcome::success("ok")
        };
        let mut stale = claims[1].clone();
        stale.lease_token.push_str("-stale");
        let group = vec![
            (claims[0].clone(), event(&claims[0])),
            (stale, event(&claims[1])),
            (claims[2].clone(), event(&claims[2])),
            (claims[3].clone(), ItemOutcome::failure("I3 broke")),
        ];
        let recorded: Vec<bool> = s
            .finish_items(&group)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(recorded, vec![true, false, true, true], "{}", s.backend());
        assert_eq!(s.events_for("desk-0").await.unwrap().len(), 1);
        assert!(s.events_for("desk-1").await.unwrap().is_empty());
        assert_eq!(s.events_for("desk-2").await.unwrap().len(), 1);
        assert!(
            s.finalize_tasks(now_ms()).await.unwrap().is_empty(),
            "item 1 still runs"
        );
        assert!(s.finish_item(&claims[1], &event(&claims[1])).await.unwrap());
        assert_eq!(
            s.finalize_tasks(now_ms()).await.unwrap(),
            vec![t.id.clone()]
        );
        let rec = s.get_task(&t.id).await.unwrap().unwrap();
        assert_eq!(rec.task_result, "成功[3]，失败[1]");
    }
}

#[tokio::test]
async fn released_claims_are_runnable_at_once() {
    for s in stores().await {
        s.create_task(&task(2)).await.unwrap();
        let now = now_ms();
        assert_eq!(
            s.claim_items("n1", now + 60_000, 10, now)
                .await
                .unwrap()
                .len(),
            2
        );
        assert!(s
            .claim_items("n1", now + 60_000, 10, now)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(s.release_node_claims("n1").await.unwrap(), 2);
        assert_eq!(
            s.claim_items("n1", now + 60_000, 10, now)
                .await
                .unwrap()
                .len(),
            2
        );
    }
}

#[tokio::test]
async fn all_success_finishes_the_task() {
    for s in stores().await {
        let t = task(2);
        s.create_task(&t).await.unwrap();
        let now = now_ms();
        for c in s.claim_items("n", now + 1000, 10, now).await.unwrap() {
            let o = ItemOutcome {
                resource: Some(json!({"desk_id": c.item_id})),
                ..ItemOutcome::success("ok")
            };
            s.finish_item(&c, &o).await.unwrap();
        }
        s.finalize_tasks(now_ms()).await.unwrap();
        let rec = s.get_task(&t.id).await.unwrap().unwrap();
        assert_eq!(rec.status, TaskStatus::FINISHED);
        assert_eq!(rec.error_message, "");
        assert_eq!(rec.items[1].resource, Some(json!({"desk_id": "I1"})));
        assert!(s.get_task("missing").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn desk_totals_follow_every_desk_write() {
    use deskd_domain::resources::DESKS;
    for s in stores().await {
        s.load_inventory(&deskd_domain::demo::inventory(now_ms(), "hash"))
            .await
            .unwrap();
        let running = compile(&DESKS, &serde_json::from_value(json!({"page": 0, "limit": 1,
            "match_arr": [{"field_name": "deskState", "match_rule": "EQ", "type": "EXACT", "value_arr": ["RUNNING"]}]})).unwrap()).unwrap();
        assert_eq!(s.list_desks(&running).await.unwrap().total, 4);
        assert_eq!(s.list_desks(&running).await.unwrap().total, 4, "cached");
        let d = s
            .list_all_desks()
            .await
            .unwrap()
            .into_iter()
            .find(|d| d.state == DeskState::CLOSE)
            .unwrap();
        s.set_desk_state(&d.id, &[DeskState::CLOSE], DeskState::RUNNING, "")
            .await
            .unwrap();
        assert_eq!(
            s.list_desks(&running).await.unwrap().total,
            5,
            "a state change shows at once"
        );
        s.remove_desk(&d.id).await.unwrap();
        assert_eq!(
            s.list_desks(&running).await.unwrap().total,
            4,
            "a removal shows at once"
        );
    }
}
