//! Desk consoles (issue 8) end to end against the real binary on the simulated driver: the
//! ticket endpoint, the websocket proxy speaking RFB through to the simulated display, the
//! ticket's one use and expiry, the refusals, and the 6.2.11 fields that point at the console.

mod common;

use std::time::{Duration, Instant};

use common::console::*;
use common::*;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Error as WsError;

/// Every wait in these tests ends by this deadline.
const LIMIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(25);
const DEMO_PASSWORD: &str = "Demo@2026";

type Env = Api;

impl Env {
    /// The id of the demo desk named `name`.
    async fn desk_id(&self, name: &str) -> String {
        let q = json!({"page": 0, "limit": 10, "match_arr": [{"field_name": "desktopName",
            "match_rule": "EQ", "type": "EXACT", "value_arr": [name]}]});
        let c = self.send("PUT", "/v1/desk:pagequery", Some(q)).await;
        assert_eq!(c["data"]["total"], 1, "{name}: {c}");
        c["data"]["item_arr"][0]["desk_id"]
            .as_str()
            .expect("desk_id")
            .to_string()
    }

    /// `PUT /v1/desk/{id}/console`: the reply's `content`.
    async fn ticket(&self, desk_id: &str) -> Value {
        self.send("PUT", &format!("/v1/desk/{desk_id}/console"), None)
            .await
    }

    /// An accepted ticket's `data`.
    async fn good_ticket(&self, desk_id: &str) -> Value {
        let c = self.ticket(desk_id).await;
        assert_eq!(c["code"], 0, "{c}");
        c["data"].clone()
    }

    /// Powers a desk off and waits for its task.
    async fn power_off(&self, desk_id: &str) {
        let c = self
            .send("PUT", &format!("/v1/desk/{desk_id}:powerOff"), None)
            .await;
        assert_eq!(self.wait(&c).await["task_status"], "FINISHED");
    }

    /// A new ticket for `desk_id` and its console, upgraded.
    async fn open(&self, desk_id: &str) -> Rfb {
        let data = self.good_ticket(desk_id).await;
        let path = data["websocket_path"].as_str().expect("websocket_path");
        Rfb::new(connect(&self.s, path).await.expect("upgrade"))
    }

    /// An upgrade the server must refuse: its HTTP status and JSON body.
    async fn refused(&self, websocket_path: &str) -> (u16, Value) {
        match connect(&self.s, websocket_path).await {
            Ok(_) => panic!("{websocket_path} was accepted"),
            Err(WsError::Http(resp)) => {
                let body = resp.body().clone().unwrap_or_default();
                let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
                (resp.status().as_u16(), v)
            }
            Err(other) => panic!("{websocket_path}: {other}"),
        }
    }
}

#[tokio::test]
async fn a_ticket_opens_a_running_desks_display_once() {
    let e = Env::start(Db::Sqlite, &[]).await;
    let id = e.desk_id("user01_1").await;

    let before = now_ms();
    let data = e.good_ticket(&id).await;
    let ticket = data["ticket"].as_str().expect("ticket").to_string();
    assert_eq!(ticket.len(), 64, "32 bytes in hex: {data}");
    assert!(ticket.bytes().all(|b| b.is_ascii_hexdigit()), "{data}");
    assert_eq!(data["desk_id"], json!(id));
    let path = data["websocket_path"].as_str().expect("path").to_string();
    assert_eq!(path, format!("/v1/desk/console/websocket?ticket={ticket}"));
    let expire = data["expire_time"].as_i64().expect("expire_time");
    assert!(
        expire >= before + 59_000 && expire <= now_ms() + 60_000,
        "valid 60 s: {data}"
    );
    assert_ne!(
        e.good_ticket(&id).await["ticket"],
        json!(ticket),
        "every ticket is new"
    );

    // a plain GET (no upgrade) is refused without spending the ticket
    let (status, b) = e.s.call("GET", &path, None, None).await;
    assert_eq!((status, code(&b)), (200, 22000400), "{b}");

    // RFB 3.8 through the websocket, then one framebuffer update
    let ws = connect(&e.s, &path).await.expect("upgrade");
    let mut rfb = Rfb::new(ws);
    let (w, h, name) = handshake(&mut rfb).await;
    assert_eq!((w, h), (800, 600));
    assert_eq!(name, "user01_1");
    let mut enc = vec![2, 0, 0, 1];
    enc.extend_from_slice(&0i32.to_be_bytes());
    rfb.send(&enc).await;
    let mut req = vec![3, 0];
    for v in [0u16, 0, 16, 8] {
        req.extend_from_slice(&v.to_be_bytes());
    }
    rfb.send(&req).await;
    let head = rfb.read_n(16).await;
    assert_eq!((head[0], u16_at(&head, 2)), (0, 1), "one rectangle");
    assert_eq!(
        (
            u16_at(&head, 4),
            u16_at(&head, 6),
            u16_at(&head, 8),
            u16_at(&head, 10)
        ),
        (0, 0, 16, 8)
    );
    assert_eq!(u32_at(&head, 12), 0, "Raw");
    let pixels = rfb.read_n(16 * 8 * 4).await;
    assert!(pixels.iter().any(|b| *b != 0), "a picture, not black");
    // input is accepted; the display keeps answering
    rfb.send(&[5, 0, 0, 1, 0, 1]).await;
    rfb.send(&[3, 0, 0, 0, 0, 0, 0, 1, 0, 1]).await;
    assert_eq!(rfb.read_n(4).await, [0, 0, 0, 1]);
    rfb.read_n(12 + 4).await;

    // the used ticket: 401 before any upgrade, to websocket and plain clients alike
    let (status, b) = e.refused(&path).await;
    assert_eq!((status, code(&b)), (401, 22000401), "{b}");
    let (status, b) = e.s.call("GET", &path, None, None).await;
    assert_eq!((status, code(&b)), (401, 22000401), "{b}");
    for bad in [
        "/v1/desk/console/websocket".to_string(),
        "/v1/desk/console/websocket?ticket=".to_string(),
        format!("/v1/desk/console/websocket?ticket={}", "0".repeat(64)),
    ] {
        let (status, b) = e.refused(&bad).await;
        assert_eq!((status, code(&b)), (401, 22000401), "{bad}: {b}");
    }
    // a Bearer token is no substitute for the ticket
    let (status, b) =
        e.s.call("GET", "/v1/desk/console/websocket", None, Some(&e.t))
            .await;
    assert_eq!((status, code(&b)), (401, 22000401), "{b}");

    // the first connection still works; when the display ends, the websocket is closed
    rfb.send(&[99]).await;
    rfb.closed_by_server().await;

    // two consoles at once are independent
    let mut a = e.open(&id).await;
    let mut b = e.open(&id).await;
    assert_eq!(handshake(&mut a).await.2, "user01_1");
    assert_eq!(handshake(&mut b).await.2, "user01_1");
    a.ws.close(None).await.expect("client close");
    b.send(&[3, 0, 0, 0, 0, 0, 0, 1, 0, 1]).await;
    assert_eq!(b.read_n(4).await, [0, 0, 0, 1]);
    // the proxy noticed both ends: the display that quit and the client that left
    let log = e.s.data_dir.join("deskd.log");
    let end = Instant::now() + LIMIT;
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.matches("console closed").count() >= 2 {
            break;
        }
        assert!(Instant::now() < end, "proxies still open:\n{text}");
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test]
async fn stopped_and_unknown_desks_have_no_console() {
    let e = Env::start(Db::Sqlite, &[]).await;

    // a CLOSE desk: 23010901 naming the state
    let closed = e.desk_id("user05_1").await;
    let c = e.ticket(&closed).await;
    assert_err(&c, 23010901, &["CLOSE", "console"]);

    // an unknown desk: the desk-not-found code of the other desk endpoints
    let ghost = uuid::Uuid::new_v4().to_string();
    let c = e.ticket(&ghost).await;
    assert_err(&c, 22000400, &[&ghost, "does not exist"]);

    // an unknown cluster is refused as in desk detail
    let running = e.desk_id("user01_1").await;
    let c = e
        .send(
            "PUT",
            &format!("/v1/desk/{running}/console"),
            Some(json!({"cluster_id": "no-such-cluster"})),
        )
        .await;
    assert_err(&c, 23170002, &["no-such-cluster"]);

    // without a token: 401
    let (status, b) =
        e.s.call("PUT", &format!("/v1/desk/{running}/console"), None, None)
            .await;
    assert_eq!((status, code(&b)), (401, 22000401), "{b}");

    // a ticket whose desk stopped meanwhile: refused at the websocket, naming the state
    let data = e.good_ticket(&running).await;
    e.power_off(&running).await;
    let path = data["websocket_path"].as_str().expect("path");
    let (status, b) = e.refused(path).await;
    assert_eq!(status, 200, "{b}");
    assert_err(&b["content"], 23010901, &["Stopped", "console"]);
    let c = e.ticket(&running).await;
    assert_err(&c, 23010901, &["CLOSE"]);
}

#[tokio::test]
async fn expired_tickets_are_refused_and_the_listing_names_the_console_address() {
    // tickets that expire as they are issued
    let e = Env::start(
        Db::Sqlite,
        &[
            "--console-ticket-ttl-ms",
            "0",
            "--public-address",
            "console.example:7443",
        ],
    )
    .await;
    let id = e.desk_id("user01_1").await;
    let data = e.good_ticket(&id).await;
    assert!(data["expire_time"].as_i64().unwrap_or(i64::MAX) <= now_ms());
    let (status, b) = e
        .refused(data["websocket_path"].as_str().expect("path"))
        .await;
    assert_eq!((status, code(&b)), (401, 22000401), "{b}");

    // 6.2.11 with unified login: the API where the terminal reached it, the console proxy at
    // the public address
    let c = e
        .send(
            "POST",
            "/v1/user/login",
            Some(
                json!({"user_name": "user01", "password": DEMO_PASSWORD, "terminal_id": "term-c"}),
            ),
        )
        .await;
    assert_eq!(c["code"], 0, "{c}");
    let c = e
        .send(
            "POST",
            "/v1/user/desktop/list",
            Some(json!({"user_name": "user01", "terminal_id": "term-c"})),
        )
        .await;
    assert_eq!(c["code"], 0, "{c}");
    let desks = c["data"].as_array().expect("desks");
    assert!(!desks.is_empty(), "{c}");
    let port = e.s.base.rsplit(':').next().unwrap_or_default();
    for d in desks {
        assert_eq!(
            (d["cluster_ip"].as_str(), d["cluster_port"].as_str()),
            (Some("127.0.0.1"), Some(port)),
            "{d}"
        );
        assert_eq!(
            (d["proxy_ip"].as_str(), d["proxy_port"].as_str()),
            (Some("console.example"), Some("7443")),
            "{d}"
        );
    }
    // without unified login the fields are absent, as the document says
    let c = e
        .send(
            "POST",
            "/v1/user/desktop/list",
            Some(json!({"user_name": "user01"})),
        )
        .await;
    assert!(c["data"][0].get("proxy_ip").is_none(), "{c}");
}

#[test]
fn a_malformed_public_address_stops_the_server() {
    let out = deskd()
        .args([
            "serve",
            "--http",
            "--listen",
            "127.0.0.1:0",
            "--public-address",
            "no-port",
        ])
        .arg("--data-dir")
        .arg(fresh_dir())
        .output()
        .expect("run deskd");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("public_address"), "{err}");
}
