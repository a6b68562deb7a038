//! The desk list at fleet scale (migration 8), on SQLite and on PostgreSQL:
//!
//! - random pages (every sort field and direction, filters, pages up to the last, read forwards
//!   or backwards from the end) agree with an in-memory model, also after state changes,
//!   removals and an image rename (the tallies and the names kept on the desk row);
//! - each query shape's plan is served by an index (no sort of the fleet per request);
//! - placement probes addresses from the network's hint and reuses a released one.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use deskd_domain::enums::DeskState;
use deskd_domain::ids::DeskId;
use deskd_domain::model::{now_ms, Desk, DeskReservation, Inventory, Reserved};
use deskd_domain::query::{compile, ListQuery, Value};
use deskd_domain::resources::DESKS;
use deskd_domain::scheduler::Policy;
use deskd_domain::store::*;
use deskd_store::db::Backend;
use deskd_store::testing::backend_urls;
use deskd_store::SqlStore;
use deskd_wire::paging::{MatchCondition, PageQuery, SortCondition};

const STATES: [DeskState; 5] = [
    DeskState::RUNNING,
    DeskState::CLOSE,
    DeskState::CLOSE,
    DeskState::SLEEP,
    DeskState::ERROR,
];

/// The demo inventory with `n` desks spread over its users, images, strategies, networks and
/// hosts; some share a creation time, so the id decides their order.
fn fleet(n: usize) -> Inventory {
    let mut inv = deskd_domain::demo::inventory(now_ms(), "not-a-hash");
    let template = inv.desks[0].clone();
    let t0 = now_ms();
    inv.desks = (0..n)
        .map(|i| {
            let strategy = &inv.strategies[i % inv.strategies.len()];
            let image = &inv.images[(i / 3) % inv.images.len()];
            Desk {
                id: DeskId::generate(),
                name: format!("d{:05}", (i * 7919) % 100_000),
                user_id: inv.users[(i * 13) % inv.users.len()].id.clone(),
                image_id: image.id.clone(),
                strategy_id: strategy.id.clone(),
                network_id: inv.networks[i % inv.networks.len()].id.clone(),
                host_id: inv.hosts[i % inv.hosts.len()].id.clone(),
                ip: format!("10.{}.{}.{}", i % 7, (i >> 8) & 255, i & 255),
                mac: format!("52:54:00:00:{:02x}:{:02x}", i / 256, i % 256),
                desk_type: strategy.desk_type,
                category: image.category,
                state: STATES[i % STATES.len()],
                terminal_ip: if i % 4 == 0 {
                    String::new()
                } else {
                    format!("172.16.0.{}", i % 9)
                },
                created_at: t0 + (i / 4) as i64,
                updated_at: t0,
                ..template.clone()
            }
        })
        .collect();
    inv
}

/// The value of a list column for the model (names looked up as the store keeps them).
fn value(d: &Desk, col: &str, names: &Names) -> Value {
    let t = |s: &str| Value::Text(s.to_string());
    match col {
        "d.name" => t(&d.name),
        "d.state" => t(d.state.as_str()),
        "d.desk_type" => t(d.desk_type.as_str()),
        "d.ip" => t(&d.ip),
        "d.terminal_ip" => t(&d.terminal_ip),
        "d.id" => t(&d.id),
        "d.user_name" => t(&names.users[d.user_id.as_str()]),
        "d.image_name" => t(&names.images[d.image_id.as_str()]),
        "d.category" => t(d.category.as_str()),
        "d.cluster_id" => t(&d.cluster_id),
        "d.strategy_id" => t(&d.strategy_id),
        "d.network_id" => t(&d.network_id),
        "d.host_id" => t(&d.host_id),
        "d.created_at" => Value::Int(d.created_at),
        other => panic!("no model for {other}"),
    }
}

struct Names {
    users: HashMap<String, String>,
    images: HashMap<String, String>,
}

/// The model's page: filter, sort (requested keys, created_at, id; text byte-wise), slice.
fn model(desks: &[Desk], q: &ListQuery, names: &Names) -> (i64, Vec<String>) {
    let mut hit: Vec<&Desk> = desks
        .iter()
        .filter(|d| {
            q.filters
                .iter()
                .all(|f| f.values.contains(&value(d, f.column, names)))
        })
        .collect();
    hit.sort_by(|a, b| {
        for s in &q.sorts {
            let (x, y) = (value(a, s.column, names), value(b, s.column, names));
            let o = x.partial_cmp(&y).unwrap();
            let o = if s.descending { o.reverse() } else { o };
            if o.is_ne() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    let ids = hit
        .iter()
        .skip(q.offset as usize)
        .take(q.limit as usize)
        .map(|d| d.id.to_string())
        .collect();
    (hit.len() as i64, ids)
}

/// A small deterministic generator (no dependency needed for a handful of choices).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

const SORTS: [&str; 10] = [
    "desktopName",
    "deskState",
    "ip",
    "userName",
    "imageName",
    "createTime",
    "deskType",
    "terminalIp",
    "hostId",
    "networkId",
];

/// A random query: maybe a sort, maybe a filter, a page anywhere up to past the last.
fn random_query(rng: &mut Lcg, desks: &[Desk], names: &Names) -> PageQuery {
    let limit = [1, 7, 20][rng.next(3)];
    let mut q = PageQuery {
        page: Some(0),
        limit: Some(limit),
        ..Default::default()
    };
    if rng.next(4) > 0 {
        q.sort_arr.push(SortCondition {
            field_name: SORTS[rng.next(SORTS.len())].into(),
            direction: if rng.next(2) == 0 { "ASC" } else { "DESC" }.into(),
        });
    }
    let d = &desks[rng.next(desks.len())];
    let filter = match rng.next(6) {
        0 => Some(("deskState", vec![d.state.as_str().to_string()])),
        1 => Some((
            "deskState",
            vec!["CLOSE".to_string(), d.state.as_str().to_string()],
        )),
        2 => Some(("userName", vec![names.users[d.user_id.as_str()].clone()])),
        3 => Some(("networkId", vec![d.network_id.to_string()])),
        _ => None,
    };
    if let Some((field, values)) = filter {
        q.match_arr.push(MatchCondition {
            field_name: field.into(),
            value_arr: values.into_iter().map(serde_json::Value::from).collect(),
            match_rule: Some("EQ".into()),
            match_type: Some("EXACT".into()),
        });
    }
    q
}

async fn check_pages(store: &SqlStore, desks: &[Desk], names: &Names, seed: u64, runs: usize) {
    let mut rng = Lcg(seed);
    for _ in 0..runs {
        let mut wire = random_query(&mut rng, desks, names);
        let probe = compile(&DESKS, &wire).unwrap();
        let (total, _) = model(desks, &probe, names);
        let pages = total / wire.limit.unwrap() + 2;
        wire.page = Some(rng.next(pages as usize) as i64);
        let q = compile(&DESKS, &wire).unwrap();
        let want = model(desks, &q, names);
        let got = store.list_desks(&q).await.unwrap();
        let ids: Vec<String> = got.items.iter().map(|v| v.desk.id.to_string()).collect();
        assert_eq!((got.total, ids), want, "{wire:?}");
        for v in &got.items {
            assert_eq!(v.user_name, names.users[v.desk.user_id.as_str()]);
            assert_eq!(v.image_name, names.images[v.desk.image_id.as_str()]);
        }
    }
}

#[tokio::test]
async fn desk_pages_agree_with_the_model_through_writes() {
    for url in backend_urls().await {
        let store = SqlStore::open(&url).await.unwrap();
        let inv = fleet(600);
        store.load_inventory(&inv).await.unwrap();
        let mut names = Names {
            users: inv
                .users
                .iter()
                .map(|u| (u.id.to_string(), u.name.clone()))
                .collect(),
            images: inv
                .images
                .iter()
                .map(|i| (i.id.to_string(), i.name.clone()))
                .collect(),
        };
        let mut desks = store.list_all_desks().await.unwrap();
        check_pages(&store, &desks, &names, 7, 300).await;
        let by_position = store.desk_pages_by_position();
        assert!(
            by_position > 100,
            "{url}: {by_position} of 300 pages by position"
        );

        // state changes, removals and a rename are seen by totals, filters and orders at once
        for (i, d) in desks.iter_mut().enumerate().filter(|(i, _)| i % 5 == 0) {
            let to = if i % 2 == 0 {
                DeskState::SHUTTING
            } else {
                DeskState::RUNNING
            };
            assert!(store.set_desk_state(&d.id, &[], to, "").await.unwrap());
            d.state = to;
        }
        let gone: Vec<Desk> = desks.iter().step_by(9).cloned().collect();
        for d in &gone {
            assert!(store.remove_desk(&d.id).await.unwrap());
        }
        desks.retain(|d| !gone.iter().any(|g| g.id == d.id));
        let mut image = inv.images[0].clone();
        image.name = "renamed image".into();
        store.begin_image_edit(&image).await.unwrap();
        names
            .images
            .insert(image.id.to_string(), image.name.clone());
        check_pages(&store, &desks, &names, 11, 300).await;

        let by_state: HashMap<DeskState, i64> = store
            .desk_state_counts()
            .await
            .unwrap()
            .into_iter()
            .collect();
        for s in [DeskState::SHUTTING, DeskState::CLOSE, DeskState::RUNNING] {
            let q = compile(
                &DESKS,
                &PageQuery {
                    page: Some(0),
                    limit: Some(1),
                    match_arr: vec![MatchCondition {
                        field_name: "deskState".into(),
                        value_arr: vec![s.as_str().into()],
                        match_rule: Some("EQ".into()),
                        match_type: Some("EXACT".into()),
                    }],
                    ..Default::default()
                },
            )
            .unwrap();
            let total = store.list_desks(&q).await.unwrap().total;
            assert_eq!(total, by_state[&s], "{url}: the tally of {s} is exact");
        }
        store.close().await;
    }
}

/// Each query shape of the desk list, with the index its plan must use.
fn shapes() -> Vec<(PageQuery, &'static str)> {
    let sort = |f: &str, dir: &str| SortCondition {
        field_name: f.into(),
        direction: dir.into(),
    };
    let state = |s: &str| MatchCondition {
        field_name: "deskState".into(),
        value_arr: vec![s.into()],
        match_rule: Some("EQ".into()),
        match_type: Some("EXACT".into()),
    };
    let q = |sorts: Vec<SortCondition>, filters: Vec<MatchCondition>| PageQuery {
        page: Some(40),
        limit: Some(20),
        sort_arr: sorts,
        match_arr: filters,
        ..Default::default()
    };
    let mut out = vec![(q(vec![], vec![]), "desks_created")]; // desks_created_c on PostgreSQL
    for (field, index) in [
        ("desktopName", "desks_sort_name"),
        ("deskState", "desks_sort_state"),
        ("ip", "desks_sort_ip"),
        ("userName", "desks_sort_user_name"),
        ("imageName", "desks_sort_image_name"),
        ("terminalIp", "desks_sort_terminal_ip"),
        ("deskType", "desks_sort_desk_type"),
        ("deskCategory", "desks_sort_category"),
        ("clusterId", "desks_sort_cluster_id"),
        ("strategyId", "desks_sort_strategy_id"),
        ("networkId", "desks_sort_network_id"),
        ("hostId", "desks_sort_host_id"),
    ] {
        out.push((q(vec![sort(field, "ASC")], vec![]), index));
        let desc = format!("{index}_desc").leak();
        if index != "desks_sort_name" {
            out.push((q(vec![sort(field, "DESC")], vec![]), desc));
        }
    }
    out.push((q(vec![], vec![state("CLOSE")]), "desks_sort_state"));
    for (field, index) in [
        ("desktopName", "desks_state_name"),
        ("ip", "desks_state_ip"),
        ("userName", "desks_state_user_name"),
        ("imageName", "desks_state_image_name"),
    ] {
        out.push((q(vec![sort(field, "ASC")], vec![state("CLOSE")]), index));
        let desc = format!("{index}_desc").leak();
        out.push((q(vec![sort(field, "DESC")], vec![state("CLOSE")]), desc));
    }
    let by_user = MatchCondition {
        field_name: "userName".into(),
        value_arr: vec!["user01".into()],
        match_rule: Some("EQ".into()),
        match_type: Some("EXACT".into()),
    };
    out.push((q(vec![], vec![by_user]), "desks_sort_user_name"));
    out
}

#[tokio::test]
async fn every_desk_query_shape_is_served_by_an_index() {
    for url in backend_urls().await {
        let store = SqlStore::open(&url).await.unwrap();
        store.load_inventory(&fleet(3000)).await.unwrap();
        store.analyze().await.unwrap();
        for (wire, index) in shapes() {
            let q = compile(&DESKS, &wire).unwrap();
            for total in [3000, 1000] {
                // 3000: page 40 is read forwards; 1000: backwards from the end
                let plan = store.explain_desk_page(&q, total).await.unwrap();
                // SQLite orders by name through the table's own unique index
                let sqlite_own =
                    index == "desks_sort_name" && plan.contains("sqlite_autoindex_desks_2");
                // PostgreSQL may prefer walking an order's index past non-matching rows to the
                // filter's index; either way an index bounds the page, never a sort
                let postgres = store.backend_kind() == Backend::Postgres;
                assert!(
                    plan.contains(index) || sqlite_own || (postgres && plan.contains("Index")),
                    "{url}: {wire:?} should use {index}:\n{plan}"
                );
                match store.backend_kind() {
                    Backend::Sqlite => assert!(
                        !plan.contains("TEMP B-TREE") && !plan.contains("SCAN d\n"),
                        "{url}: {wire:?} sorts or scans the fleet:\n{plan}"
                    ),
                    Backend::Postgres => {
                        assert!(
                            !plan.contains("Seq Scan on desks")
                                && !plan.lines().any(|l| l.trim_start().starts_with("Sort  (")
                                    || l.contains("->  Sort  (")),
                            "{url}: {wire:?} sorts or scans the fleet:\n{plan}"
                        )
                    }
                }
            }
        }
        store.close().await;
    }
}

#[tokio::test]
async fn placement_probes_from_the_hint_and_reuses_a_released_address() {
    for url in backend_urls().await {
        let store = SqlStore::open(&url).await.unwrap();
        let mut inv = deskd_domain::demo::inventory(now_ms(), "not-a-hash");
        let template = inv.desks[0].clone();
        inv.desks.clear();
        store.load_inventory(&inv).await.unwrap();
        let reserve = |name: String| {
            let mut desk = template.clone();
            desk.id = DeskId::generate();
            desk.name = name;
            desk.state = DeskState::CREATING;
            DeskReservation {
                desk,
                item_key: None,
                task_id: "t".into(),
                policy: Policy::Spread,
                user_name: "user01".into(),
            }
        };
        let mut placed = Vec::new();
        for i in 0..5 {
            match store.reserve_desk(&reserve(format!("p{i}"))).await.unwrap() {
                Reserved::New(d) => placed.push(d),
                other => panic!("{other:?}"),
            }
        }
        let ips: Vec<&str> = placed.iter().map(|d| d.ip.as_str()).collect();
        let mut sorted = ips.clone();
        sorted.sort_by_key(|ip| ip.parse::<std::net::Ipv4Addr>().unwrap());
        sorted.dedup();
        assert_eq!(sorted, ips, "{url}: the lowest free addresses, in order");
        assert!(store.remove_desk(&placed[1].id).await.unwrap());
        let Reserved::New(again) = store.reserve_desk(&reserve("p5".into())).await.unwrap() else {
            panic!("a new desk")
        };
        assert_eq!(again.ip, placed[1].ip, "{url}: the released address first");
        let Reserved::New(next) = store.reserve_desk(&reserve("p6".into())).await.unwrap() else {
            panic!("a new desk")
        };
        let after = |ip: &str| ip.parse::<std::net::Ipv4Addr>().unwrap();
        assert!(after(&next.ip) > after(&placed[4].ip), "{url}: {}", next.ip);
        store.close().await;
    }
}

/// The first desk name of the fleet in descending order, as a page says it.
async fn last_name(store: &SqlStore) -> String {
    let q = compile(
        &DESKS,
        &PageQuery {
            page: Some(0),
            limit: Some(1),
            sort_arr: vec![SortCondition {
                field_name: "desktopName".into(),
                direction: "DESC".into(),
            }],
            ..Default::default()
        },
    )
    .unwrap();
    store.list_desks(&q).await.unwrap().items[0]
        .desk
        .name
        .clone()
}

/// Renames a desk through `e`, as another process (or replica) would.
async fn rename<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    e: E,
    b: Backend,
    id: &DeskId,
    to: &str,
) {
    sqlx::query(&b.sql("UPDATE desks SET name = ? WHERE id = ?"))
        .bind(to.to_string())
        .bind(id.to_string())
        .execute(e)
        .await
        .unwrap();
}

#[tokio::test]
async fn pages_by_position_follow_other_writers_in_any_commit_order() {
    let settle = deskd_store::DESK_ORDER_POLL_EVERY * 3;
    for url in backend_urls().await {
        let b = Backend::from_url(&url).unwrap();
        let store = SqlStore::open(&url).await.unwrap();
        store.load_inventory(&fleet(200)).await.unwrap();
        let desks = store.list_all_desks().await.unwrap();
        let other = sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .unwrap();
        let served = store.desk_pages_by_position();
        assert!(last_name(&store).await.starts_with('d'));

        // Another writer's transaction takes its feed number first and commits last; on
        // PostgreSQL this process writes and reads in between (SQLite has one writer).
        let mut late = other.begin().await.unwrap();
        rename(&mut *late, b, &desks[0].id, "zz-late").await;
        if b == Backend::Postgres {
            store
                .set_desk_state(&desks[1].id, &[], DeskState::RUNNING, "")
                .await
                .unwrap();
            assert!(
                last_name(&store).await.starts_with('d'),
                "not committed yet"
            );
        }
        late.commit().await.unwrap();
        tokio::time::sleep(settle).await;
        assert_eq!(last_name(&store).await, "zz-late", "{url}");

        // a transaction that rolls back leaves a hole in the feed that holds nothing back
        let mut undone = other.begin().await.unwrap();
        rename(&mut *undone, b, &desks[2].id, "zzz-undone").await;
        undone.rollback().await.unwrap();
        rename(&other, b, &desks[3].id, "zzzz-after").await;
        tokio::time::sleep(settle).await;
        assert_eq!(last_name(&store).await, "zzzz-after", "{url}");
        rename(&other, b, &desks[4].id, "zzzzz-later").await;
        tokio::time::sleep(settle).await;
        assert_eq!(last_name(&store).await, "zzzzz-later", "{url}");
        // a removal by the other writer
        sqlx::query(&b.sql("DELETE FROM desks WHERE id = ?"))
            .bind(desks[4].id.to_string())
            .execute(&other)
            .await
            .unwrap();
        tokio::time::sleep(settle).await;
        assert_eq!(last_name(&store).await, "zzzz-after", "{url}");
        assert!(
            store.desk_pages_by_position() > served,
            "{url}: served by position"
        );
        other.close().await;
        store.close().await;
    }
}
