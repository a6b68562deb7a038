//! Users and groups (chapter 6.2) in the store, on SQLite and on PostgreSQL.
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

use deskd_domain::enums::*;
use deskd_domain::error::{Error, Missing};
use deskd_domain::model::*;
use deskd_domain::query::compile;
use deskd_domain::resources::USERS;
use deskd_domain::store::*;
use deskd_store::testing::backend_urls;
use deskd_store::SqlStore;
use deskd_wire::paging::{MatchCondition, PageQuery};
use serde_json::json;

/// A store per backend, loaded with the demo inventory.
async fn stores() -> Vec<SqlStore> {
    let mut out = Vec::new();
    for url in backend_urls().await {
        let s = SqlStore::open(&url).await.unwrap();
        s.load_inventory(&deskd_domain::demo::inventory(now_ms(), "hash"))
            .await
            .unwrap();
        out.push(s);
    }
    out
}

fn user(name: &str) -> User {
    User {
        id: uuid::Uuid::new_v4().to_string().into(),
        name: name.into(),
        real_name: "Real".into(),
        user_type: UserType::NORMAL,
        state: UserState::ENABLE,
        group_id: String::new().into(),
        password_hash: "h".into(),
        email: String::new(),
        phone: String::new(),
        description: String::new(),
        created_at: now_ms(),
        account_expire_date: None,
        invalid_time: None,
        login_identity_level: "auto_login".into(),
        auth: AuthSwitches::default(),
        pwd_failures: 0,
        locked_until: 0,
        last_login_at: 0,
    }
}

fn by_group(group_id: &str) -> PageQuery {
    PageQuery {
        page: Some(0),
        limit: Some(100),
        match_arr: vec![MatchCondition {
            field_name: "groupId".into(),
            match_rule: Some("EQ".into()),
            match_type: Some("EXACT".into()),
            value_arr: vec![json!(group_id)],
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn insert_creates_the_group_path_once_and_is_idempotent() {
    for s in stores().await {
        let u = user("新用户.a");
        assert!(s.insert_user(&u, "锐捷/云桌面/行业").await.unwrap());
        assert!(!s.insert_user(&u, "锐捷/云桌面/行业").await.unwrap());
        let other = user("新用户.b");
        assert!(s.insert_user(&other, "锐捷/云桌面").await.unwrap());
        let groups = s.list_groups().await.unwrap();
        let paths: Vec<_> = groups.iter().map(|g| g.group.path.as_str()).collect();
        for p in ["锐捷", "锐捷/云桌面", "锐捷/云桌面/行业"] {
            assert_eq!(paths.iter().filter(|x| **x == p).count(), 1, "{p}");
        }
        let view = s.user_view(&u.id).await.unwrap().unwrap();
        assert_eq!(view.group.path, "锐捷/云桌面/行业");
        assert_eq!(view.desktop_num, 0);
        let parent = s
            .group_by_id(view.group.parent_id.as_ref().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(parent.path, "锐捷/云桌面");
        // the name is unique
        let dup = s.insert_user(&user("新用户.a"), "x").await.unwrap_err();
        assert!(matches!(dup, Error::AlreadyExists { .. }), "{dup:?}");
        // listing by group is done in SQL
        let page = s
            .list_users(&compile(&USERS, &by_group(&view.group.id)).unwrap())
            .await
            .unwrap();
        assert_eq!(page.total, 1, "{}", s.backend());
        assert_eq!(page.items[0].user.name, "新用户.a");
    }
}

#[tokio::test]
async fn groups_need_their_parent_and_a_free_path() {
    for s in stores().await {
        let g = UserGroup {
            id: uuid::Uuid::new_v4().to_string().into(),
            name: "g".into(),
            parent_id: Some("nope".into()),
            path: "nope/g".into(),
            created_at: now_ms(),
            account_expire_date: 0,
            invalid_time: 7,
        };
        let e = s.create_group(&g).await.unwrap_err();
        assert_eq!(e, Error::not_found(Missing::UserGroup, "nope"));
        let top = UserGroup {
            parent_id: None,
            path: "g".into(),
            ..g.clone()
        };
        s.create_group(&top).await.unwrap();
        let again = UserGroup {
            id: uuid::Uuid::new_v4().to_string().into(),
            ..top.clone()
        };
        assert!(matches!(
            s.create_group(&again).await,
            Err(Error::AlreadyExists { .. })
        ));
        // a user created under it inherits its inactivity days through the view
        let u = user("child");
        s.insert_user(&u, "g/sub").await.unwrap();
        let v = s.user_view(&u.id).await.unwrap().unwrap();
        assert_eq!(v.group.invalid_time, 7, "subgroups copy their parent");
    }
}

#[tokio::test]
async fn delete_refuses_owners_of_desks() {
    for s in stores().await {
        let owner = s.list_all_desks().await.unwrap()[0].user_id.clone();
        let owner = s.user_by_id(&owner).await.unwrap().unwrap();
        match s.delete_user(&owner.name).await.unwrap() {
            UserDeletion::HasDesks(names) => assert!(!names.is_empty()),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.delete_user("ghost").await.unwrap(), UserDeletion::Missing);
        let u = user("gone");
        s.insert_user(&u, "tmp").await.unwrap();
        assert_eq!(s.delete_user("gone").await.unwrap(), UserDeletion::Deleted);
        assert!(s.user_by_id(&u.id).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn profile_state_group_and_password() {
    for s in stores().await {
        let mut u = user("edit.me");
        s.insert_user(&u, "a").await.unwrap();
        u.description = "d".into();
        u.account_expire_date = Some(0);
        u.invalid_time = Some(5);
        u.auth.radius = true;
        assert!(s.update_user_profile(&u).await.unwrap());
        let back = s.user_by_id(&u.id).await.unwrap().unwrap();
        assert_eq!(back.description, "d");
        assert_eq!(back.invalid_time, Some(5));
        assert!(back.auth.radius);
        assert!(s
            .set_user_state("edit.me", UserState::DISABLE)
            .await
            .unwrap());
        assert!(!s.set_user_state("ghost", UserState::DISABLE).await.unwrap());
        let g = s
            .move_users(
                std::slice::from_ref(&u.id),
                &GroupTarget::Path("b/c".into()),
            )
            .await
            .unwrap();
        assert_eq!(g.path, "b/c");
        let e = s
            .move_users(
                &[u.id.clone(), "ghost".into()],
                &GroupTarget::Id(g.id.clone()),
            )
            .await
            .unwrap_err();
        assert_eq!(e, Error::not_found(Missing::User, "ghost"));
        let back = s.user_by_id(&u.id).await.unwrap().unwrap();
        assert_eq!(back.state, UserState::DISABLE);
        assert_eq!(back.group_id, g.id);
        // three failures with a limit of three lock the user and restart the count
        for n in 1..=2 {
            let v = s
                .record_password_failure(&u.id, 3, 99)
                .await
                .unwrap()
                .unwrap();
            assert_eq!((v.pwd_failures, v.locked_until), (n, 0));
        }
        let v = s
            .record_password_failure(&u.id, 3, 99)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((v.pwd_failures, v.locked_until), (0, 99));
        assert!(s.set_user_password(&u.id, "h2").await.unwrap());
        let v = s.user_by_id(&u.id).await.unwrap().unwrap();
        assert_eq!((v.password_hash.as_str(), v.locked_until), ("h2", 0));
    }
}

#[tokio::test]
async fn logins_and_terminals_and_desks() {
    for s in stores().await {
        let desk = s.list_all_desks().await.unwrap()[0].clone();
        s.record_user_login(&desk.user_id, Some("t1"), 1000, 2000)
            .await
            .unwrap();
        assert_eq!(
            s.terminal_user("t1", 1999).await.unwrap().as_deref(),
            Some(desk.user_id.as_str())
        );
        assert_eq!(s.terminal_user("t1", 2000).await.unwrap(), None);
        assert_eq!(s.terminal_user("t2", 0).await.unwrap(), None);
        // a later login on the same terminal takes it over
        s.record_user_login(&desk.user_id, Some("t1"), 3000, 9000)
            .await
            .unwrap();
        assert!(s.terminal_user("t1", 5000).await.unwrap().is_some());
        let u = s.user_by_id(&desk.user_id).await.unwrap().unwrap();
        assert_eq!(u.last_login_at, 3000);
        let desks = s.user_desks(&desk.user_id).await.unwrap();
        assert!(desks.iter().any(|d| d.desk.id == desk.id));
        assert!(desks.iter().all(|d| !d.image_name.is_empty()));
    }
}

#[tokio::test]
async fn concurrent_creators_share_one_new_path_and_failures_count_exactly() {
    for s in stores().await {
        let s = std::sync::Arc::new(s);
        let mut joins = Vec::new();
        for i in 0..8 {
            let s = s.clone();
            joins.push(tokio::spawn(async move {
                s.insert_user(&user(&format!("racer{i}")), "race/a/b").await
            }));
        }
        for j in joins {
            assert!(j.await.unwrap().unwrap(), "{}", s.backend());
        }
        let groups = s.list_groups().await.unwrap();
        for p in ["race", "race/a", "race/a/b"] {
            let n = groups.iter().filter(|g| g.group.path == p).count();
            assert_eq!(n, 1, "{p} on {}", s.backend());
        }
        let leaf = groups.iter().find(|g| g.group.path == "race/a/b").unwrap();
        assert_eq!(leaf.user_num, 8);
        // concurrent wrong passwords are each counted: 10 with a limit of 4 lock twice
        let u = user("counted");
        s.insert_user(&u, "race").await.unwrap();
        let mut joins = Vec::new();
        for _ in 0..10 {
            let (s, id) = (s.clone(), u.id.clone());
            joins.push(tokio::spawn(async move {
                s.record_password_failure(&id, 4, 77).await
            }));
        }
        let mut locks = 0;
        for j in joins {
            let v = j.await.unwrap().unwrap().unwrap();
            locks += usize::from(v.locked_until == 77 && v.pwd_failures == 0);
        }
        let v = s.user_by_id(&u.id).await.unwrap().unwrap();
        assert_eq!(v.pwd_failures, 2, "10 = 4 + 4 + 2 on {}", s.backend());
        assert!(locks >= 1);
    }
}
