//! Chapter 6.2 end to end against the real binary: users and groups, the asynchronous user
//! calls and their task details, password change with lockout, the user desk list and the
//! desktop-user login (extension). Every error code of chapter 6.2 is produced here.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const DEMO_PASSWORD: &str = "Demo@2026";

type T = Api;

impl T {
    /// Creates a user and waits for the task; returns the task detail.
    async fn create_user(&self, body: Value) -> Value {
        let c = self.post("/v1/user/create", body).await;
        self.wait(&c).await
    }

    async fn detail(&self, name: &str) -> Value {
        let c = self
            .post("/v1/user/detail", json!({ "userName": name }))
            .await;
        assert_eq!(c["code"], 0, "{c}");
        c["data"].clone()
    }

    async fn set_global(&self, body: Value) {
        let c = self.call("PUT", "/v1/user/globalStrategy/edit", body).await;
        assert_eq!(c["code"], 0, "{c}");
    }

    async fn password(&self, user: &str, old: &str, new: &str) -> Value {
        self.call(
            "PUT",
            "/v1/user/modify:password",
            json!({ "user_name": user, "old_password": old, "new_password": new }),
        )
        .await
    }

    async fn login(&self, body: Value) -> Value {
        self.post("/v1/user/login", body).await
    }
}

/// Asserts an error reply with `code` whose message holds every needle.
fn err(c: &Value, code: i64, needles: &[&str]) {
    assert_eq!(c["code"], code, "{c}");
    let msg = c["message"].as_str().unwrap_or_default();
    for n in needles {
        assert!(msg.contains(n), "`{n}` not in {c}");
    }
    assert!(c["user_tip"].as_str().is_some_and(|t| !t.is_empty()), "{c}");
}

fn normal(name: &str, group: &str) -> Value {
    json!({
        "user_name": name, "user_group_name": group, "real_name": "Real",
        "password": "Passw0rd!", "user_type": "NORMAL",
    })
}

#[tokio::test]
async fn create_exist_detail_list_and_group_tree() {
    for db in Db::all().await {
        let e = T::start(db, &[]).await;
        let task = e
            .create_user(json!({
                "user_type": "NORMAL", "user_name": "pass0", "user_group_name": "锐捷/云桌面/行业",
                "real_name": "pass0", "phone_num": null, "email": null,
                "login_identity_level": "auto_login", "password": "Passw0rd!",
                "primary_certification": {"open_account_password_certification": true, "open_cas_certification": false},
                "description": "first", "invalid_time": 30,
            }))
            .await;
        assert_eq!(task["task_status"], "FINISHED", "{task}");
        let item = &task["task_item_list"][0];
        assert_eq!(
            (item["id"].as_str(), item["item_biz_status"].as_str()),
            (Some("pass0"), Some("SUCCESS"))
        );
        assert_eq!(item["item_biz_data"]["user_name"], "pass0");
        assert_eq!(task["resource_list"][0]["user_name"], "pass0");

        let c = e
            .post("/v1/user/exist", json!({"user_name": "pass0"}))
            .await;
        assert_eq!(c["data"]["exist"], true, "{c}");
        let c = e
            .post("/v1/user/exist", json!({"user_name": "nobody"}))
            .await;
        assert_eq!(c["data"]["exist"], false, "{c}");

        let d = e.detail("pass0").await;
        assert_eq!(d["user_name"], "pass0");
        assert_eq!(d["display_name"], "pass0");
        assert_eq!(d["user_type"], "NORMAL");
        assert_eq!(d["user_state"], "ENABLE");
        assert_eq!(d["group_name"], "行业");
        assert_eq!(d["group_path"], "锐捷/云桌面/行业");
        assert_eq!(d["invalid_time"], 30);
        assert_eq!(d["invalid"], false);
        assert_eq!(d["account_expire_date"], "永不过期");
        assert_eq!(d["uuid"], d["id"]);
        // by id, and by both when they agree; disagreeing keys are 22000400
        let id = d["id"].as_str().unwrap();
        let c = e
            .post(
                "/v1/user/detail",
                json!({"userId": id, "userName": "pass0"}),
            )
            .await;
        assert_eq!(c["data"]["user_group_id"], d["group_id"], "{c}");
        let c = e
            .post(
                "/v1/user/detail",
                json!({"userId": id, "userName": "user01"}),
            )
            .await;
        err(&c, 22000400, &["userName"]);
        let c = e
            .post("/v1/user/detail", json!({"userName": "ghost"}))
            .await;
        err(&c, 23070002, &["ghost"]);
        let c = e.post("/v1/user/detail", json!({})).await;
        err(&c, 22000400, &["userId or userName"]);

        // the tree holds the created path; top-level groups have parent_id root
        let c = e.call("GET", "/v1/usergroup/list", json!({})).await;
        let tree = &c["data"]["item_arr"];
        assert_eq!(tree, &c["data"]["itemArr"]);
        assert_eq!(tree, &c["data"]["content"]["itemArr"]);
        let top = tree
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["label"] == "锐捷")
            .expect("锐捷");
        assert_eq!(top["parent_id"], "root");
        assert_eq!(top["allow_delete"], false);
        let mid = &top["children"][0];
        assert_eq!(
            (mid["label"].as_str(), mid["parent_id"].as_str()),
            (Some("云桌面"), top["id"].as_str())
        );
        let leaf = &mid["children"][0];
        assert_eq!(leaf["label"], "行业");

        // list by groupId, paged and sorted in the database
        let c = e
            .post("/v1/user/list", json!({"page": 0, "limit": 20, "match_arr": [
                {"type": "EXACT", "field_name": "groupId", "value_arr": [leaf["id"]], "match_rule": "EQ"}]}))
            .await;
        assert_eq!(c["data"]["total"], 1, "{c}");
        let u = &c["data"]["item_arr"][0];
        for key in [
            "account_expire_date",
            "account_expire_date_str",
            "can_delete",
            "create_time",
            "desktop_num",
            "enable_domain_sync",
            "group_id",
            "group_name",
            "has_bind_disk",
            "has_bind_otp",
            "has_recycle_bin",
            "id",
            "invalid",
            "invalid_time",
            "lock",
            "open_account_password_certification",
            "open_cas_certification",
            "open_hardware_certification",
            "open_otp_certification",
            "open_sms_certification",
            "real_name",
            "user_description",
            "user_name",
            "user_state",
            "user_type",
        ] {
            assert!(!u[key].is_null(), "{key} missing in {u}");
        }
        assert_eq!(u["user_description"], "first");
        let c = e
            .post("/v1/user/list", json!({"page": 0, "limit": 5, "match_arr": [
                {"type": "EXACT", "field_name": "userType", "value_arr": ["VISITOR"], "match_rule": "EQ"}],
                "sort_arr": [{"field_name": "userName", "direction": "DESC"}]}))
            .await;
        assert_eq!(c["data"]["total"], 1, "the demo has one visitor: {c}");
        let c = e
            .post("/v1/user/list", json!({"page": 0, "limit": 1001}))
            .await;
        err(&c, 22000400, &["content.limit"]);
        let c = e
            .post("/v1/user/list", json!({"page": 0, "limit": 5, "match_arr": [
                {"type": "LIKE", "field_name": "userName", "value_arr": ["a"], "match_rule": "EQ"}]}))
            .await;
        err(&c, 22000400, &[]);
    }
}

#[tokio::test]
async fn create_checks_every_rule_before_recording_a_task() {
    let e = T::start(Db::Sqlite, &[]).await;
    let cases: Vec<(Value, i64, &str)> = vec![
        (json!({"user_name": "_x"}), 22000400, "user_name"),
        (json!({"user_name": "a b"}), 22000400, "user_name"),
        (json!({"user_name": "a".repeat(33)}), 22000400, "user_name"),
        (json!({"user_name": "user01"}), 22000400, "already exists"),
        (json!({"real_name": ""}), 22000400, "real_name"),
        (
            json!({"description": "d".repeat(129)}),
            22000400,
            "description",
        ),
        (json!({"phone_num": "1".repeat(33)}), 22000400, "phone_num"),
        (json!({"email": "not-an-address"}), 22000400, "email"),
        (
            json!({"user_group_name": "a//b"}),
            22000400,
            "user_group_name",
        ),
        (json!({"user_type": "ROBOT"}), 22000400, "user_type"),
        (json!({"password": null}), 22000400, "password"),
        (json!({"password": "short"}), 23070204, "password"),
        (
            json!({"account_expire_date": 1000}),
            23070221,
            "account_expire_date",
        ),
        (json!({"invalid_time": 1001}), 22000400, "invalid_time"),
        (
            json!({"assist_certification": {"open_otp_certification": "TRUE"}}),
            23070212,
            "OTP",
        ),
    ];
    for (patch, code, needle) in cases {
        let mut body = normal("fresh", "g");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let c = e.post("/v1/user/create", body.clone()).await;
        err(&c, code, &[needle]);
    }
    // visitors need no real name and no password; an AES-encrypted password is accepted
    let task = e
        .create_user(
            json!({"user_name": "guest.1", "user_group_name": "访客", "user_type": "VISITOR"}),
        )
        .await;
    assert_eq!(task["task_status"], "FINISHED", "{task}");
    let key = e.post("/v1/user/passwordKey", json!({})).await;
    let key = key["data"]["passwordKey"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 16);
    let enc = deskd_domain::auth::encrypt_transport("Secret#123", &key).unwrap();
    let mut body = normal("aes.user", "g");
    body["password"] = json!(enc);
    assert_eq!(e.create_user(body).await["task_status"], "FINISHED");
    let c = e
        .login(json!({"user_name": "aes.user", "password": "Secret#123"}))
        .await;
    assert_eq!(c["code"], 0, "{c}");
    // a group expiry in the future is inherited and rendered in Beijing time (UTC+8)
    let future = 4_102_444_800_000i64; // 2100-01-01 00:00:00 UTC
    let c = e
        .post(
            "/v1/usergroup/create",
            json!({"name": "expiring", "account_expire_date": future}),
        )
        .await;
    assert_eq!(c["code"], 0, "{c}");
    assert_eq!(c["data"]["status"], "SUCCESS");
    assert_eq!(c["data"]["msg_arg_arr"], json!(["expiring"]));
    assert_eq!(
        e.create_user(normal("inherits", "expiring")).await["task_status"],
        "FINISHED"
    );
    let d = e.detail("inherits").await;
    assert_eq!(d["account_expire_date"], "2100-01-01 08:00:00");
    assert_eq!(d["account_expire_date_str"], "2100-01-01 08:00:00");
    // an AD user's expiry is shown in UTC, the _str in Beijing time
    let mut ad = normal("ad.user", "domain");
    ad["user_type"] = json!("AD");
    ad["account_expire_date"] = json!(future);
    assert_eq!(e.create_user(ad).await["task_status"], "FINISHED");
    let d = e.detail("ad.user").await;
    assert_eq!(d["account_expire_date"], "2100-01-01 00:00:00");
    assert_eq!(d["account_expire_date_str"], "2100-01-01 08:00:00");
}

#[tokio::test]
async fn groups_validate_parent_name_and_expiry() {
    let e = T::start(Db::Sqlite, &[]).await;
    let c = e
        .post("/v1/usergroup/create", json!({"name": "parent"}))
        .await;
    let parent = c["data"]["id"].as_str().unwrap().to_string();
    let c = e
        .post(
            "/v1/usergroup/create",
            json!({"name": "child", "parent_id": parent, "invalid_time": 10}),
        )
        .await;
    assert_eq!(c["code"], 0, "{c}");
    let c = e
        .post(
            "/v1/usergroup/create",
            json!({"name": "child", "parent_id": parent}),
        )
        .await;
    err(&c, 22000400, &["exists"]);
    let c = e
        .post(
            "/v1/usergroup/create",
            json!({"name": "x", "parent_id": "nope"}),
        )
        .await;
    err(&c, 22000400, &["parent_id"]);
    let c = e.post("/v1/usergroup/create", json!({"name": "a/b"})).await;
    err(&c, 22000400, &["content.name"]);
    let c = e
        .post(
            "/v1/usergroup/create",
            json!({"name": "old", "account_expire_date": 5}),
        )
        .await;
    err(&c, 23070221, &[]);
    let c = e
        .post(
            "/v1/usergroup/create",
            json!({"name": "old", "invalid_time": -1}),
        )
        .await;
    err(&c, 22000400, &["invalid_time"]);
    // a user created in the child inherits its inactivity days
    assert_eq!(
        e.create_user(normal("kid", "parent/child")).await["task_status"],
        "FINISHED"
    );
    assert_eq!(e.detail("kid").await["invalid_time"], 10);
}

#[tokio::test]
async fn edit_follows_the_null_semantics_and_the_global_switches() {
    let e = T::start(Db::Sqlite, &[]).await;
    let mut body = normal("ed", "g");
    body["description"] = json!("keep?");
    body["phone_num"] = json!("15359740221");
    body["email"] = json!("ed@example.com");
    body["invalid_time"] = json!(10);
    e.create_user(body).await;
    // absent description/phone/email are cleared; absent invalid_time is kept
    let c = e.post("/v1/user/edit", json!({"user_name": "ed"})).await;
    assert_eq!(e.wait(&c).await["task_status"], "FINISHED");
    let d = e.detail("ed").await;
    assert_eq!(
        (
            d["user_description"].as_str(),
            d["phone_num"].as_str(),
            d["email"].as_str()
        ),
        (Some(""), Some(""), Some(""))
    );
    assert_eq!(d["invalid_time"], 10);
    // switches need the global strategy: OTP 23070212, hardware 23070213, SMS 23070214
    for (switch, code) in [
        ("open_otp_certification", 23070212),
        ("open_hardware_certification", 23070213),
        ("open_sms_certification", 23070214),
    ] {
        let c = e
            .post(
                "/v1/user/edit",
                json!({"user_name": "ed", "assist_certification": {switch: "TRUE"}}),
            )
            .await;
        err(&c, code, &[]);
    }
    let c = e.post("/v1/user/edit", json!({"user_name": "ghost"})).await;
    err(&c, 23070002, &["ghost"]);
    let c = e
        .post(
            "/v1/user/edit",
            json!({"user_name": "ed", "account_expire_date": 1}),
        )
        .await;
    err(&c, 23070221, &[]);
    let c = e
        .post(
            "/v1/user/edit",
            json!({"user_name": "ed", "assist_certification": {"open_sms_certification": "maybe"}}),
        )
        .await;
    err(&c, 22000400, &["open_sms_certification"]);
    // with the strategy on, the document's example edit goes through; Radius and OTP exclude each other
    e.set_global(
        json!({"open_otp_certification": true, "open_radius_certification": true,
        "open_hardware_certification": true, "open_sms_certification": true}),
    )
    .await;
    let c = e
        .post(
            "/v1/user/edit",
            json!({"user_name": "ed", "assist_certification": {
        "open_otp_certification": "TRUE", "open_radius_certification": "TRUE"}}),
        )
        .await;
    err(&c, 22000400, &["Radius and OTP"]);
    let c = e
        .post("/v1/user/edit", json!({
            "user_name": "ed",
            "assist_certification": {"open_hardware_certification": "FALSE", "max_hardware_num": 20,
                "open_otp_certification": "FALSE", "open_sms_certification": "FALSE", "open_radius_certification": "TRUE"},
            "description": "desc", "phone_num": "15359740221", "email": "123@gmail.com",
            "account_expire_date": 4_102_444_800_000i64, "invalid_time": 0,
        }))
        .await;
    let task = e.wait(&c).await;
    assert_eq!(
        task["task_item_list"][0]["item_biz_data"]["user_name"], "ed",
        "{task}"
    );
    let d = e.detail("ed").await;
    assert_eq!(d["open_radius_certification"], true);
    assert_eq!(d["max_hardware_num"], 20);
    assert_eq!(d["user_description"], "desc");
    assert_eq!(d["invalid_time"], 0);
    // absent/null switches and expiry stay as they are
    let c = e
        .post(
            "/v1/user/edit",
            json!({"user_name": "ed", "assist_certification": {"open_radius_certification": null},
        "account_expire_date": null}),
        )
        .await;
    e.wait(&c).await;
    let d = e.detail("ed").await;
    assert_eq!(d["open_radius_certification"], true);
    assert_eq!(d["account_expire_date_str"], "2100-01-01 08:00:00");
    // a second factor deskd cannot verify keeps the password alone from signing in
    let c = e
        .login(json!({"user_name": "ed", "password": "Passw0rd!"}))
        .await;
    err(&c, 23010000, &["Radius"]);
    let c = e
        .post(
            "/v1/user/edit",
            json!({"user_name": "ed",
            "assist_certification": {"open_radius_certification": false},
            "primary_certification": {"open_account_password_certification": "FALSE"}}),
        )
        .await;
    e.wait(&c).await;
    let c = e
        .login(json!({"user_name": "ed", "password": "Passw0rd!"}))
        .await;
    err(&c, 23010000, &["account/password"]);
}

#[tokio::test]
async fn delete_enable_disable_and_change_group() {
    for db in Db::all().await {
        let e = T::start(db, &[]).await;
        // user01 owns demo desks: refused, naming them
        let c = e
            .post("/v1/user/delete", json!({"user_name": "user01"}))
            .await;
        err(&c, 23020005, &["user01_"]);
        let c = e
            .post("/v1/user/delete", json!({"user_name": "ghost"}))
            .await;
        err(&c, 23070002, &["ghost"]);
        e.create_user(normal("tmp.user", "g")).await;
        let c = e
            .post("/v1/user/delete", json!({"user_name": "tmp.user"}))
            .await;
        assert_eq!(c["code"], 0, "{c}");
        let c = e
            .post("/v1/user/exist", json!({"user_name": "tmp.user"}))
            .await;
        assert_eq!(c["data"]["exist"], false);

        // the document's example: strings; an unknown user fails alone and the task is ERROR
        let c = e
            .post(
                "/v1/user/batch/disableUser",
                json!({"user_arr": ["uu", "user02"]}),
            )
            .await;
        let task = e.wait(&c).await;
        assert_eq!(task["task_status"], "ERROR", "{task}");
        let items = task["task_item_list"].as_array().unwrap();
        assert_eq!(items[0]["id"], "uu");
        assert_eq!(items[0]["item_biz_status"], "FAILURE");
        assert_eq!(items[0]["item_status"], "FAILURE");
        assert_eq!(items[0]["item_biz_data"]["user_name"], "uu");
        assert_eq!(items[1]["item_biz_status"], "SUCCESS");
        assert!(
            task["error_message"].as_str().unwrap().starts_with("uu"),
            "{task}"
        );
        assert!(task["task_result"].as_str().unwrap().contains("[1]"));
        assert_eq!(e.detail("user02").await["user_state"], "DISABLE");
        // objects, the table's form
        let c = e
            .post(
                "/v1/user/batch/enableUser",
                json!({"user_arr": [{"user_name": "user02"}]}),
            )
            .await;
        assert_eq!(e.wait(&c).await["task_status"], "FINISHED");
        assert_eq!(e.detail("user02").await["user_state"], "ENABLE");
        let many: Vec<String> = (0..1001).map(|i| format!("u{i}")).collect();
        let c = e
            .post("/v1/user/batch/enableUser", json!({"user_arr": many}))
            .await;
        err(&c, 23010019, &["1000"]);
        let c = e
            .post(
                "/v1/user/batch/disableUser",
                json!({"user_arr": ["a", "a"]}),
            )
            .await;
        err(&c, 22000400, &["twice"]);
        let c = e
            .post("/v1/user/batch/disableUser", json!({"user_arr": []}))
            .await;
        err(&c, 22000400, &["user_arr"]);

        // change group: by a new path (created), then by id
        let c = e
            .call(
                "PUT",
                "/v1/user/modify:usergroup",
                json!({"user_name_arr": ["user03", "user04"], "user_group_name": "moved/here"}),
            )
            .await;
        assert_eq!(c["code"], 0, "{c}");
        let d = e.detail("user03").await;
        assert_eq!(d["group_path"], "moved/here");
        let target = e.detail("user05").await["group_id"].clone();
        let c = e
            .call(
                "PUT",
                "/v1/user/modify:usergroup",
                json!({"user_name_arr": ["user03"], "user_group_id": target}),
            )
            .await;
        assert_eq!(c["code"], 0, "{c}");
        assert_eq!(e.detail("user03").await["group_id"], target);
        let c = e
            .call(
                "PUT",
                "/v1/user/modify:usergroup",
                json!({"user_name_arr": ["user03", "ghost"], "user_group_name": "x"}),
            )
            .await;
        err(&c, 23070002, &["ghost"]);
        assert_eq!(
            e.detail("user03").await["group_id"],
            target,
            "nothing moved"
        );
        let c = e
            .call(
                "PUT",
                "/v1/user/modify:usergroup",
                json!({"user_name_arr": ["user03"], "user_group_id": "nope"}),
            )
            .await;
        err(&c, 22000400, &["nope"]);
        let c = e
            .call(
                "PUT",
                "/v1/user/modify:usergroup",
                json!({"user_name_arr": ["user03"]}),
            )
            .await;
        err(&c, 22000400, &["user_group"]);
    }
}

#[tokio::test]
async fn change_password_locks_after_the_limit_and_refuses_directories() {
    for db in Db::all().await {
        let e = T::start(db, &[]).await;
        e.set_global(json!({"pwd_error_limit": 3, "pwd_lock_time": 30}))
            .await;
        // wrong old password: code 0, business_code 23070208 with the tries left
        for left in [2, 1] {
            let c = e.password("user01", "wrong", "Another#1").await;
            assert_eq!(c["code"], 0, "{c}");
            assert_eq!(c["data"]["business_code"], 23070208, "{c}");
            assert_eq!(c["data"]["remaining_times"], left, "{c}");
        }
        // the third locks: 23070207 with the lock time in minutes, even for the right password
        let c = e.password("user01", "wrong", "Another#1").await;
        assert_eq!(
            (
                c["data"]["business_code"].as_i64(),
                c["data"]["pwd_lock_time"].as_i64()
            ),
            (Some(23070207), Some(30)),
            "{c}"
        );
        let c = e.password("user01", DEMO_PASSWORD, "Another#1").await;
        assert_eq!(c["data"]["business_code"], 23070207, "{c}");
        assert_eq!(e.detail("user01").await["lock"], true);
        let c = e
            .login(json!({"user_name": "user01", "password": DEMO_PASSWORD}))
            .await;
        err(&c, 23070207, &["locked"]);

        // policy, same password, success with AES on both fields
        let c = e.password("user02", DEMO_PASSWORD, "weak").await;
        err(&c, 23070204, &[]);
        let c = e.password("user02", DEMO_PASSWORD, DEMO_PASSWORD).await;
        err(&c, 23070205, &[]);
        let key = e.post("/v1/user/passwordKey", json!({})).await["data"]["passwordKey"]
            .as_str()
            .unwrap()
            .to_string();
        let enc = |p: &str| deskd_domain::auth::encrypt_transport(p, &key).unwrap();
        let c = e
            .password("user02", &enc(DEMO_PASSWORD), &enc("Changed#2026"))
            .await;
        assert_eq!(c["data"], json!({"business_code": 0}), "{c}");
        let c = e
            .login(json!({"user_name": "user02", "password": "Changed#2026"}))
            .await;
        assert_eq!(c["code"], 0, "{c}");
        let c = e.password("ghost", "a", "b").await;
        err(&c, 23070002, &["ghost"]);
        // after a key rotation the old key still decrypts for a while, the new one too
        let c = e.post("/v1/user/passwordKey:rotate", json!({})).await;
        let fresh = c["data"]["passwordKey"].as_str().unwrap().to_string();
        assert_ne!(fresh, key);
        let c = e
            .password("user02", &enc("Changed#2026"), &enc("Changed#2027"))
            .await;
        assert_eq!(
            c["data"]["business_code"], 0,
            "old key within its grace: {c}"
        );
        let enc2 = deskd_domain::auth::encrypt_transport("Changed#2027", &fresh).unwrap();
        let c = e
            .login(json!({"user_name": "user02", "password": enc2}))
            .await;
        assert_eq!(c["code"], 0, "{c}");

        // AD and LDAP users change passwords in their directory
        for (t, code) in [("AD", 23070202), ("LDAP", 23070203)] {
            let name = format!("dir.{}", t.to_lowercase());
            let mut body = normal(&name, "dir");
            body["user_type"] = json!(t);
            e.create_user(body).await;
            let c = e.password(&name, "x", "Whatever#1").await;
            err(&c, code, &[]);
        }
        // maintenance mode blocks changes
        e.set_global(json!({"maintenance_mode": true})).await;
        let c = e.password("user03", DEMO_PASSWORD, "Another#1").await;
        err(&c, 23070206, &["maintenance"]);
        let c = e
            .call(
                "PUT",
                "/v1/user/globalStrategy/edit",
                json!({"pwd_error_limit": 0}),
            )
            .await;
        err(&c, 22000400, &["pwd_error_limit"]);
        let c = e.post("/v1/user/globalStrategy/detail", json!({})).await;
        assert_eq!(c["data"]["maintenance_mode"], true, "{c}");
    }
}

impl T {
    async fn reset(&self, user: &str, new: &str) -> Value {
        self.call(
            "PUT",
            "/v1/user/modify:resetPassword",
            json!({ "user_name": user, "new_password": new }),
        )
        .await
    }
}

/// The operator reset (extension): no current password, the create rules for the new one,
/// directories refused with 6.2.9's codes, the lock cleared and nothing else touched.
#[tokio::test]
async fn an_operator_resets_a_password_without_the_current_one() {
    for db in Db::all().await {
        let e = T::start(db, &[]).await;
        e.set_global(json!({"pwd_error_limit": 2, "pwd_lock_time": 30}))
            .await;
        // user01 has a portal session, then locks themself out
        let (status, portal) =
            e.s.call(
                "POST",
                "/v1/portal/login",
                Some(json!({"content": {"user_name": "user01", "password": DEMO_PASSWORD}})),
                None,
            )
            .await;
        assert_eq!(status, 200, "{portal}");
        let portal = portal["content"]["data"]["token"]
            .as_str()
            .unwrap()
            .to_string();
        for _ in 0..2 {
            e.password("user01", "wrong", "Another#1").await;
        }
        let before = e.detail("user01").await;
        assert_eq!(before["lock"], true, "{before}");

        // the new password is checked as on create, naming its field
        let c = e.reset("user01", "weak").await;
        err(&c, 23070204, &["content.new_password"]);
        let c = e.reset("user01", "").await;
        err(&c, 22000400, &["content.new_password", "required"]);
        let c = e.reset(" ", "Reset#2026").await;
        err(&c, 22000400, &["content.user_name", "required"]);
        let c = e.reset("ghost", "Reset#2026").await;
        err(&c, 23070002, &["ghost"]);
        let c = e
            .call(
                "PUT",
                "/v1/user/modify:resetPassword",
                json!({"user_name": "user01"}),
            )
            .await;
        err(&c, 22000400, &["new_password"]);

        // maintenance mode stops users, not the operator; the reset needs no current password
        e.set_global(json!({"pwd_error_limit": 2, "pwd_lock_time": 30, "maintenance_mode": true}))
            .await;
        let c = e.reset("user01", "Reset#2026").await;
        assert_eq!(c, json!({"code": 0}), "{c}");
        e.set_global(json!({"pwd_error_limit": 2, "pwd_lock_time": 30}))
            .await;
        // the lock is gone, the new password signs in and the old one does not
        let after = e.detail("user01").await;
        assert_eq!(after["lock"], false, "{after}");
        let c = e
            .login(json!({"user_name": "user01", "password": DEMO_PASSWORD}))
            .await;
        err(&c, 23070201, &[]);
        let c = e
            .login(json!({"user_name": "user01", "password": "Reset#2026"}))
            .await;
        assert_eq!(c["code"], 0, "{c}");
        // nothing else changed: the record but its lock, the portal session, the operator token
        for k in [
            "id",
            "user_name",
            "real_name",
            "user_state",
            "group_id",
            "user_type",
            "desktop_num",
        ] {
            assert_eq!(after[k], before[k], "{k}: {before} → {after}");
        }
        let (status, desks) =
            e.s.call("GET", "/v1/portal/desktop/list", None, Some(&portal))
                .await;
        assert_eq!(
            (status, desks["content"]["code"].as_i64()),
            (200, Some(0)),
            "{desks}"
        );
        assert_eq!(e.detail("user02").await["user_state"], "ENABLE");

        // an AES-encrypted new password (D6)
        let key = e.post("/v1/user/passwordKey", json!({})).await["data"]["passwordKey"]
            .as_str()
            .unwrap()
            .to_string();
        let enc = deskd_domain::auth::encrypt_transport("Aes#Reset1", &key).unwrap();
        let c = e.reset("user02", &enc).await;
        assert_eq!(c["code"], 0, "{c}");
        let c = e
            .login(json!({"user_name": "user02", "password": "Aes#Reset1"}))
            .await;
        assert_eq!(c["code"], 0, "{c}");

        // AD and LDAP passwords live in their directory
        for (t, code) in [("AD", 23070202), ("LDAP", 23070203)] {
            let name = format!("reset.{}", t.to_lowercase());
            let mut body = normal(&name, "dir");
            body["user_type"] = json!(t);
            e.create_user(body).await;
            let c = e.reset(&name, "Whatever#1").await;
            err(&c, code, &[&name]);
        }
    }
}

#[tokio::test]
async fn login_and_the_user_desktop_list() {
    for db in Db::all().await {
        let e = T::start(db, &[]).await;
        let c = e
            .login(json!({"user_name": "user01", "password": "nope"}))
            .await;
        err(&c, 23070201, &["9 tries left"]);
        let c = e
            .login(json!({"user_name": "ghost", "password": "nope"}))
            .await;
        err(&c, 23070201, &[]);
        let c = e
            .login(json!({"user_name": "user19", "password": DEMO_PASSWORD}))
            .await;
        err(&c, 23010000, &["disabled"]);
        let c = e
            .login(
                json!({"user_name": "user01", "password": DEMO_PASSWORD, "terminal_id": "term-1"}),
            )
            .await;
        assert_eq!(c["code"], 0, "{c}");
        let desks = c["data"]["desktop_arr"].as_array().unwrap().clone();
        assert!(!desks.is_empty(), "user01 owns demo desks: {c}");
        for k in [
            "desktop_id",
            "desktop_name",
            "desktop_state",
            "image_name",
            "os_name",
            "remark",
            "enable_agreement_agency",
            "desktop_category",
            "ip",
        ] {
            assert!(!desks[0][k].is_null(), "{k} in {}", desks[0]);
        }
        assert!(
            e.detail("user01").await["last_login_time"]
                .as_i64()
                .unwrap()
                > 0
        );

        // 6.2.11 without terminal: the local cluster, every category
        let c = e
            .post("/v1/user/desktop/list", json!({"user_name": "user01"}))
            .await;
        assert_eq!(c["data"].as_array().unwrap().len(), desks.len(), "{c}");
        assert!(c["data"][0].get("cluster_id").is_none());
        let c = e
            .post(
                "/v1/user/desktop/list",
                json!({"user_name": "user01", "desktop_category_list": ["TCI"]}),
            )
            .await;
        assert!(
            c["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["desktop_category"] == "TCI"),
            "{c}"
        );
        let c = e
            .post(
                "/v1/user/desktop/list",
                json!({"user_name": "user01", "desktop_category_list": ["XYZ"]}),
            )
            .await;
        err(&c, 22000400, &["desktop_category_list[0]"]);
        let c = e
            .post("/v1/user/desktop/list", json!({"user_name": "ghost"}))
            .await;
        err(&c, 23070002, &[]);
        // unified login: the terminal's login decides, VDI only, with the cluster
        let c = e
            .post(
                "/v1/user/desktop/list",
                json!({"user_name": "user01", "terminal_id": "term-1"}),
            )
            .await;
        assert_eq!(c["code"], 0, "{c}");
        assert!(
            !c["data"].as_array().unwrap().is_empty(),
            "user01 has VDI desks: {c}"
        );
        for d in c["data"].as_array().unwrap() {
            assert_eq!(d["desktop_category"], "VDI");
            assert!(
                d["cluster_id"].is_string() && d["cluster_name"].is_string(),
                "{d}"
            );
            let port = e.s.base.rsplit(':').next().unwrap();
            assert_eq!(
                (d["cluster_ip"].as_str(), d["cluster_port"].as_str()),
                (Some("127.0.0.1"), Some(port)),
                "{d}"
            );
            // the console proxy is this server too (no public_address set)
            assert_eq!(
                (d["proxy_ip"].as_str(), d["proxy_port"].as_str()),
                (Some("127.0.0.1"), Some(port)),
                "{d}"
            );
        }
        let c = e.post("/v1/user/desktop/list", json!({"user_name": "user01", "terminal_id": "term-1", "desktop_category_list": ["IDV"]})).await;
        err(&c, 23010802, &["VDI"]);
        let c = e
            .post(
                "/v1/user/desktop/list",
                json!({"user_name": "user01", "terminal_id": "never"}),
            )
            .await;
        err(&c, 23010803, &["never"]);
        let c = e
            .post(
                "/v1/user/desktop/list",
                json!({"user_name": "user02", "terminal_id": "term-1"}),
            )
            .await;
        err(&c, 23010000, &["another user"]);

        // expiry and inactivity stop logins
        e.create_user(
            json!({"user_name": "old.timer", "user_group_name": "g", "real_name": "o",
            "password": "Passw0rd!", "invalid_time": 1}),
        )
        .await;
        let c = e
            .login(json!({"user_name": "old.timer", "password": "Passw0rd!"}))
            .await;
        assert_eq!(c["code"], 0, "a new user is valid: {c}");
        // visitors without a password sign in with none
        e.create_user(
            json!({"user_name": "guest", "user_group_name": "g", "user_type": "VISITOR"}),
        )
        .await;
        let c = e.login(json!({"user_name": "guest"})).await;
        assert_eq!(c["code"], 0, "{c}");
    }
}

#[tokio::test]
async fn inactivity_and_expiry_are_computed_from_the_stored_times() {
    let e = T::start(Db::Sqlite, &[]).await;
    e.create_user(
        json!({"user_name": "idle", "user_group_name": "g", "real_name": "i",
        "password": "Passw0rd!", "invalid_time": 1}),
    )
    .await;
    e.create_user(
        json!({"user_name": "expires", "user_group_name": "g", "real_name": "i",
        "password": "Passw0rd!", "account_expire_date": deskd_domain::model::now_ms() + 1500}),
    )
    .await;
    // age the idle user's creation by two days, straight in the database
    let url = sqlite_url(&e.s.data_dir);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let two_days = 2 * 24 * 3600 * 1000i64;
    sqlx::query(&format!(
        "UPDATE users SET created_at = created_at - {two_days} WHERE name = 'idle'"
    ))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(e.detail("idle").await["invalid"], true);
    let c = e
        .login(json!({"user_name": "idle", "password": "Passw0rd!"}))
        .await;
    err(&c, 23010000, &["invalid"]);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let c = e
        .login(json!({"user_name": "expires", "password": "Passw0rd!"}))
        .await;
    err(&c, 23010000, &["expired"]);
}
