//! The throttles over HTTP: failed logins per address then per account, the request budgets,
//! the bound on requests in flight and on Argon2 hashes, and their counters in `/metrics`.
//! Several client addresses are simulated with loopback addresses (127.0.0.0/8).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::{Db, Server, ADMIN_PASSWORD};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A client whose connections come from `from` (a loopback address).
fn client(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// `POST path` with `{"content": content}` from `c`; (status, Retry-After, body).
async fn post(
    s: &Server,
    c: &reqwest::Client,
    path: &str,
    content: Value,
    token: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut req = c.post(s.url(path)).json(&json!({ "content": content }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry, resp.json().await.unwrap_or(Value::Null))
}

async fn token_from(s: &Server, from: &str, password: &str) -> (u16, Option<String>, Value) {
    let body = json!({"user_name": "admin", "password": password});
    post(s, &client(from), "/v1/auth/token", body, None).await
}

/// Asserts a 429 / 22000429 answer with a positive `Retry-After`.
#[track_caller]
fn assert_throttled(r: &(u16, Option<String>, Value)) {
    assert_eq!(r.0, 429, "{:?}", r);
    assert_eq!(r.2["content"]["code"], 22000429, "{:?}", r);
    let secs: u64 = r.1.as_deref().expect("Retry-After").parse().unwrap();
    assert!(secs >= 1, "{:?}", r);
}

/// The value of one series in `/metrics` (0 when absent).
async fn metric(s: &Server, series: &str) -> f64 {
    let text = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

const OPEN_METRICS: [&str; 2] = ["--metrics-open-to", "127.0.0.1/32"];

#[tokio::test]
async fn failed_logins_lock_the_address_then_the_account_but_not_its_owner() {
    let mut args = vec![
        "--login-failures-per-address",
        "3",
        "--login-failures-per-account",
        "5",
    ];
    args.extend(OPEN_METRICS);
    let s = Server::start(Db::Sqlite, &args);
    // the owner signs in once from 127.0.0.1: that address is trusted for the account
    assert_eq!(token_from(&s, "127.0.0.1", ADMIN_PASSWORD).await.0, 200);

    // a stranger at 127.0.0.2: three wrong tries answered 401, the fourth begins the lock
    for _ in 0..3 {
        assert_eq!(token_from(&s, "127.0.0.2", "guess").await.0, 401);
    }
    assert_throttled(&token_from(&s, "127.0.0.2", "guess").await);
    // even the right password waits now, before any hash is computed
    assert_throttled(&token_from(&s, "127.0.0.2", ADMIN_PASSWORD).await);

    // more strangers spend the account's budget (5 failures from untrusted addresses)
    assert_eq!(token_from(&s, "127.0.0.3", "guess").await.0, 401);
    assert_throttled(&token_from(&s, "127.0.0.4", "guess").await);
    // the account is now locked for addresses it does not trust ...
    assert_throttled(&token_from(&s, "127.0.0.5", ADMIN_PASSWORD).await);
    // ... but not for its owner's
    assert_eq!(token_from(&s, "127.0.0.1", ADMIN_PASSWORD).await.0, 200);

    assert_eq!(
        metric(&s, "deskd_login_lockouts_total{scope=\"address\"}").await,
        1.0
    );
    assert_eq!(
        metric(&s, "deskd_login_lockouts_total{scope=\"account\"}").await,
        1.0
    );
    assert!(metric(&s, "deskd_throttled_total{reason=\"login_address\"}").await >= 2.0);
    assert!(metric(&s, "deskd_throttled_total{reason=\"login_account\"}").await >= 2.0);
    let log = std::fs::read_to_string(s.data_dir.join("deskd.log")).unwrap();
    assert!(log.contains("failed logins: address locked"), "{log}");
    assert!(log.contains("account locked"), "{log}");
}

#[tokio::test]
async fn desktop_user_logins_are_throttled_per_address() {
    let s = Server::start(Db::Sqlite, &["--login-failures-per-address", "2"]);
    let t = s.admin_token().await;
    let login = |from: &'static str, user: &'static str, password: &'static str| {
        let (s, t) = (&s, t.clone());
        async move {
            let body = json!({"user_name": user, "password": password});
            post(s, &client(from), "/v1/user/login", body, Some(&t)).await
        }
    };
    let demo = deskd_server::bootstrap::DEMO_USER_PASSWORD;
    for user in ["nobody1", "nobody2"] {
        let r = login("127.0.0.7", user, "x").await;
        assert_eq!(r.0, 200, "{r:?}");
        assert_ne!(r.2["content"]["code"], 0, "{r:?}");
    }
    assert_throttled(&login("127.0.0.7", "nobody3", "x").await);
    assert_throttled(&login("127.0.0.7", "user01", demo).await);
    let other = login("127.0.0.8", "user01", demo).await;
    assert_eq!(other.2["content"]["code"], 0, "{other:?}");
}

#[tokio::test]
async fn each_token_and_each_address_has_a_request_budget() {
    let s = Server::start(Db::Sqlite, &["--requests-per-sec-per-token", "1"]);
    let a = s.admin_token().await;
    let b = s.admin_token().await;
    let mut throttled = None;
    for _ in 0..20 {
        let r = post(
            &s,
            &client("127.0.0.1"),
            "/v1/user/exist",
            json!({"user_name": "x"}),
            Some(&a),
        )
        .await;
        if r.0 == 429 {
            throttled = Some(r);
            break;
        }
        assert_eq!(r.0, 200, "{r:?}");
    }
    assert_throttled(&throttled.expect("a token's budget runs out"));
    // another token has its own budget
    let r = post(
        &s,
        &client("127.0.0.1"),
        "/v1/user/exist",
        json!({"user_name": "x"}),
        Some(&b),
    )
    .await;
    assert_eq!(r.0, 200, "{r:?}");

    let s = Server::start(Db::Sqlite, &["--requests-per-sec-per-address", "1"]);
    let mut throttled = None;
    for _ in 0..20 {
        let resp = client("127.0.0.9")
            .get(s.url("/openapi.json"))
            .send()
            .await
            .unwrap();
        if resp.status() == 429 {
            throttled = Some(resp);
            break;
        }
    }
    let resp = throttled.expect("an address's budget runs out");
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["content"]["code"], 22000429);
    // another address has its own budget
    let resp = client("127.0.0.10")
        .get(s.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn requests_over_the_in_flight_bound_are_shed_not_queued() {
    let mut args = vec!["--max-in-flight-requests", "1"];
    args.extend(OPEN_METRICS);
    let s = Server::start(Db::Sqlite, &args);
    let t = s.admin_token().await;
    // one request stays in flight while its body trickles in
    let body = br#"{"content":{"user_name":"x"}}"#;
    let host = s.base.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&host).await.unwrap();
    let head = format!(
        "POST /v1/user/exist HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {t}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&body[..10]).await.unwrap();
    // wait until the server counts it
    let end = std::time::Instant::now() + Duration::from_secs(20);
    let shed = loop {
        let r = post(
            &s,
            &client("127.0.0.1"),
            "/v1/user/exist",
            json!({"user_name": "x"}),
            Some(&t),
        )
        .await;
        if r.0 == 503 {
            break r;
        }
        assert!(std::time::Instant::now() < end, "never shed: {r:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(shed.2["content"]["code"], 22000429, "{shed:?}");
    assert_eq!(shed.1.as_deref(), Some("1"));
    assert!(shed.2["content"]["message"]
        .as_str()
        .unwrap()
        .contains("busy"));
    // the held request completes normally once its body arrives
    slow.write_all(&body[10..]).await.unwrap();
    let mut reply = vec![0u8; 12];
    slow.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"HTTP/1.1 200");
    assert!(metric(&s, "deskd_throttled_total{reason=\"in_flight\"}").await >= 1.0);
}

#[tokio::test]
async fn password_hashes_run_within_their_bound() {
    let mut args = vec!["--password-hash-concurrency", "1"];
    args.extend(OPEN_METRICS);
    let s = Server::start(Db::Sqlite, &args);
    let tries = (0..8).map(|_| token_from(&s, "127.0.0.1", ADMIN_PASSWORD));
    for r in futures::future::join_all(tries).await {
        // a check that waited too long for a slot is shed, never queued without bound
        assert!(
            r.0 == 200 || (r.0 == 503 && r.2["content"]["code"] == 22000429),
            "{r:?}"
        );
    }
    assert_eq!(metric(&s, "deskd_password_hashes_peak").await, 1.0);
}
