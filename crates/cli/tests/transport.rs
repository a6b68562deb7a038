//! Transport limits over real sockets: slow and idle connections are closed, bodies over the
//! limit are refused with 413, connections over the bound are closed at once, TLS below 1.2 is
//! refused, and every reply carries the security headers.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{fresh_dir, Db, Server};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DEADLINE: Duration = Duration::from_secs(30);

fn host(s: &Server) -> String {
    s.base
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_string()
}

/// Reads until the server closes the connection (or the deadline passes: a failure).
async fn read_to_close(c: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let end = Instant::now() + DEADLINE;
    loop {
        let mut buf = [0u8; 4096];
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open: {got:?}"),
        }
    }
}

#[tokio::test]
async fn slow_and_idle_connections_are_closed() {
    let s = Server::start(Db::Sqlite, &["--header-read-timeout-secs", "1"]);
    // a head that never ends (slow-loris)
    let mut slow = TcpStream::connect(host(&s)).await.unwrap();
    slow.write_all(b"GET /openapi.json HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let got = read_to_close(&mut slow).await;
    assert!(!got.starts_with(b"HTTP/1.1 200"), "{got:?}");
    // a connection that never says anything
    let mut silent = TcpStream::connect(host(&s)).await.unwrap();
    read_to_close(&mut silent).await;
    // a keep-alive connection that goes idle after its reply
    let mut idle = TcpStream::connect(host(&s)).await.unwrap();
    idle.write_all(b"GET /openapi.json HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let got = read_to_close(&mut idle).await;
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        &got[..got.len().min(64)]
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let s = Server::start(Db::Sqlite, &["--max-body-bytes", "2000"]);
    let t = s.admin_token().await;
    let small = json!({"content": {"user_name": "x"}});
    let (status, v) = s
        .call("POST", "/v1/user/exist", Some(small), Some(&t))
        .await;
    assert_eq!(
        (status, v["content"]["code"].clone()),
        (200, json!(0)),
        "{v}"
    );
    let big = json!({"content": {"user_name": "x".repeat(5000)}});
    let (status, v) = s.call("POST", "/v1/user/exist", Some(big), Some(&t)).await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["content"]["code"], 22000400, "{v}");
    assert!(v["content"]["message"]
        .as_str()
        .unwrap()
        .contains("max_body_bytes"));
    // uploads stream and are not bound by it
    let (status, v) = s
        .raw("POST", "/v1/osFile/upload", vec![0u8; 10_000], Some(&t))
        .await;
    assert_ne!(status, 413, "{v}");
}

#[tokio::test]
async fn connections_over_the_bound_are_closed_at_once() {
    let s = Server::start(Db::Sqlite, &["--max-connections", "2"]);
    let get = b"GET /openapi.json HTTP/1.1\r\nhost: x\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(host(&s)).await.unwrap();
        c.write_all(get).await.unwrap();
        let mut head = [0u8; 12];
        c.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
        held.push(c);
    }
    let mut third = TcpStream::connect(host(&s)).await.unwrap();
    let _ = third.write_all(get).await;
    assert!(
        read_to_close(&mut third).await.is_empty(),
        "no reply to a third"
    );
    // once one closes, a new connection is served again
    held.pop();
    let end = Instant::now() + DEADLINE;
    loop {
        let mut c = TcpStream::connect(host(&s)).await.unwrap();
        let _ = c.write_all(get).await;
        let mut head = [0u8; 12];
        if c.read_exact(&mut head).await.is_ok() {
            assert_eq!(&head, b"HTTP/1.1 200");
            break;
        }
        assert!(Instant::now() < end, "the freed slot was never reused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A ClientHello offering TLS 1.1 at most (legacy version 3.2, no supported_versions).
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02];
    body.extend([7u8; 32]); // random
    body.push(0); // no session id
    let suites = [0x00u8, 0x2f, 0x00, 0x35, 0xc0, 0x13, 0xc0, 0x14];
    body.extend((suites.len() as u16).to_be_bytes());
    body.extend(suites);
    body.extend([1, 0]); // null compression
    let mut hs = vec![0x01];
    hs.extend(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend(body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend((hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    rec
}

#[tokio::test]
async fn tls_below_1_2_is_refused_and_replies_carry_security_headers() {
    let s = Server::start_in(fresh_dir(), Db::Sqlite, &[], false);
    assert!(s.base.starts_with("https://"), "{}", s.base);
    let mut c = TcpStream::connect(host(&s)).await.unwrap();
    c.write_all(&tls11_client_hello()).await.unwrap();
    let got = read_to_close(&mut c).await;
    // an alert record (21), fatal, handshake_failure (40) or protocol_version (70)
    assert_eq!(got.first(), Some(&0x15), "{got:?}");
    assert_eq!(got.get(5), Some(&2), "{got:?}");
    assert!(matches!(got.get(6), Some(40 | 70)), "{got:?}");

    for version in [
        reqwest::tls::Version::TLS_1_2,
        reqwest::tls::Version::TLS_1_3,
    ] {
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .min_tls_version(version)
            .max_tls_version(version)
            .build()
            .unwrap();
        let resp = client
            .post(s.url("/v1/auth/token"))
            .json(&json!({"content": {"user_name": "admin", "password": "wrong"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{version:?}");
        let h = resp.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(h.contains_key("strict-transport-security"), "HSTS over TLS");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["content"]["code"], 22000401);
    }
    // plain HTTP (development) has the same headers but no HSTS
    let s = Server::start(Db::Sqlite, &[]);
    let resp = s.http.get(s.url("/openapi.json")).send().await.unwrap();
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert!(!resp.headers().contains_key("strict-transport-security"));
}
