//! The simulated driver's console: a real RFB server, checked from the client's side of the
//! protocol (RFC 6143).
// clippy.toml lets #[test] functions unwrap; this file's helpers do too
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use deskd_compute::sim::rfb::{HEIGHT, WIDTH};
use deskd_compute::{ConsoleStream, DriverError, Hypervisor, PowerState};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Every read in these tests must finish well before this.
const IO_LIMIT: Duration = Duration::from_secs(10);

async fn read_n(s: &mut ConsoleStream, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    tokio::time::timeout(IO_LIMIT, s.read_exact(&mut b))
        .await
        .expect("server answers")
        .expect("read");
    b
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// ServerInit as the client sees it.
struct ServerInit {
    width: u16,
    height: u16,
    format: Vec<u8>,
    name: String,
}

/// ProtocolVersion 3.8, security None, SecurityResult, ClientInit, ServerInit.
async fn handshake(s: &mut ConsoleStream) -> ServerInit {
    assert_eq!(read_n(s, 12).await, b"RFB 003.008\n");
    s.write_all(b"RFB 003.008\n").await.unwrap();
    let count = read_n(s, 1).await[0];
    let types = read_n(s, usize::from(count)).await;
    assert_eq!(types, [1], "only security type None");
    s.write_all(&[1]).await.unwrap();
    assert_eq!(u32_at(&read_n(s, 4).await, 0), 0, "SecurityResult OK");
    s.write_all(&[1]).await.unwrap(); // ClientInit: shared
    let head = read_n(s, 24).await;
    let name_len = u32_at(&head, 20) as usize;
    let name = String::from_utf8(read_n(s, name_len).await).unwrap();
    ServerInit {
        width: u16_at(&head, 0),
        height: u16_at(&head, 2),
        format: head[4..20].to_vec(),
        name,
    }
}

fn update_request(incremental: bool, x: u16, y: u16, w: u16, h: u16) -> Vec<u8> {
    let mut m = vec![3, u8::from(incremental)];
    for v in [x, y, w, h] {
        m.extend_from_slice(&v.to_be_bytes());
    }
    m
}

/// Reads one FramebufferUpdate of one Raw rectangle; returns (x, y, w, h, pixels).
async fn read_update(
    s: &mut ConsoleStream,
    bytes_per_pixel: usize,
) -> (u16, u16, u16, u16, Vec<u8>) {
    let head = read_n(s, 4).await;
    assert_eq!(head[0], 0, "FramebufferUpdate");
    assert_eq!(u16_at(&head, 2), 1, "one rectangle");
    let rect = read_n(s, 12).await;
    assert_eq!(u32_at(&rect, 8), 0, "Raw encoding");
    let (x, y, w, h) = (
        u16_at(&rect, 0),
        u16_at(&rect, 2),
        u16_at(&rect, 4),
        u16_at(&rect, 6),
    );
    let pixels = read_n(s, usize::from(w) * usize::from(h) * bytes_per_pixel).await;
    (x, y, w, h, pixels)
}

async fn running_vm() -> (deskd_compute::SimDriver, &'static str) {
    let d = driver().await;
    d.define(&vm("vm-1", "alice_1")).await.unwrap();
    d.start("vm-1").await.unwrap();
    (d, "vm-1")
}

#[tokio::test]
async fn a_client_completes_the_handshake_and_gets_pixels_in_its_format() {
    let (d, id) = running_vm().await;
    let mut s = d.console(id).await.unwrap();
    let init = handshake(&mut s).await;
    assert_eq!((init.width, init.height), (WIDTH, HEIGHT));
    assert_eq!(init.name, "alice_1");
    // 32 bpp, depth 24, little-endian, true colour, 255/255/255, shifts 16/8/0
    assert_eq!(
        init.format,
        [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]
    );

    // noVNC's opening: encodings, then a full non-incremental request
    let mut enc = vec![2, 0, 0, 3];
    for e in [0i32, 1, -223] {
        enc.extend_from_slice(&e.to_be_bytes());
    }
    s.write_all(&enc).await.unwrap();
    s.write_all(&update_request(false, 0, 0, WIDTH, HEIGHT))
        .await
        .unwrap();
    let (x, y, w, h, px) = read_update(&mut s, 4).await;
    assert_eq!((x, y, w, h), (0, 0, WIDTH, HEIGHT));
    assert!(px.chunks(4).all(|p| p[3] == 0), "unused byte stays zero");
    assert!(
        px.chunks(4).any(|p| p != &px[..4]),
        "the picture is not one flat colour"
    );

    // input is read and ignored; the connection stays usable
    s.write_all(&[4, 1, 0, 0, 0, 0, 0xff, 0x0d]).await.unwrap(); // key down Return
    s.write_all(&[5, 1, 0, 10, 0, 20]).await.unwrap(); // pointer
    let mut cut = vec![6, 0, 0, 0, 0, 0, 0, 5];
    cut.extend_from_slice(b"hello");
    s.write_all(&cut).await.unwrap();

    // RGB565 big-endian: the region comes back in 2 bytes per pixel, clipped to the display
    let mut fmt = vec![0, 0, 0, 0, 16, 16, 1, 1];
    fmt.extend_from_slice(&[0, 31, 0, 63, 0, 31, 11, 5, 0, 0, 0, 0]);
    s.write_all(&fmt).await.unwrap();
    s.write_all(&update_request(true, WIDTH - 4, 0, 100, 2))
        .await
        .unwrap();
    let (x, y, w, h, px) = read_update(&mut s, 2).await;
    assert_eq!((x, y, w, h), (WIDTH - 4, 0, 4, 2));
    assert_eq!(px.len(), 16);

    // an incremental request with nothing changed is held; a full one is answered
    s.write_all(&update_request(true, 0, 0, WIDTH, HEIGHT))
        .await
        .unwrap();
    s.write_all(&update_request(false, 0, 0, 2, 1))
        .await
        .unwrap();
    let (x, y, w, h, px) = read_update(&mut s, 2).await;
    assert_eq!((x, y, w, h, px.len()), (0, 0, 2, 1, 4));
}

#[tokio::test]
async fn old_protocol_versions_and_refused_security_types() {
    let (d, id) = running_vm().await;

    // 3.3: the server names the security type, no SecurityResult follows
    let mut s = d.console(id).await.unwrap();
    assert_eq!(read_n(&mut s, 12).await, b"RFB 003.008\n");
    s.write_all(b"RFB 003.003\n").await.unwrap();
    assert_eq!(u32_at(&read_n(&mut s, 4).await, 0), 1);
    s.write_all(&[0]).await.unwrap();
    let head = read_n(&mut s, 24).await;
    assert_eq!((u16_at(&head, 0), u16_at(&head, 2)), (WIDTH, HEIGHT));

    // 3.8 with an unoffered type: SecurityResult failed with a reason, then the end
    let mut s = d.console(id).await.unwrap();
    read_n(&mut s, 12).await;
    s.write_all(b"RFB 003.008\n").await.unwrap();
    read_n(&mut s, 2).await;
    s.write_all(&[2]).await.unwrap(); // VNC authentication
    assert_eq!(u32_at(&read_n(&mut s, 4).await, 0), 1);
    let len = u32_at(&read_n(&mut s, 4).await, 0) as usize;
    assert!(!read_n(&mut s, len).await.is_empty());
    let mut rest = Vec::new();
    let n = tokio::time::timeout(IO_LIMIT, s.read_to_end(&mut rest))
        .await
        .expect("server closes")
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn every_connection_is_its_own_and_an_unknown_message_ends_one() {
    let (d, id) = running_vm().await;
    let mut a = d.console(id).await.unwrap();
    let mut b = d.console(id).await.unwrap();
    assert_eq!(handshake(&mut a).await.name, "alice_1");
    assert_eq!(handshake(&mut b).await.name, "alice_1");
    a.write_all(&[99]).await.unwrap();
    let mut rest = Vec::new();
    let n = tokio::time::timeout(IO_LIMIT, a.read_to_end(&mut rest))
        .await
        .expect("server closes")
        .unwrap();
    assert_eq!(n, 0);
    b.write_all(&update_request(false, 0, 0, 1, 1))
        .await
        .unwrap();
    let (_, _, w, h, _) = read_update(&mut b, 4).await;
    assert_eq!((w, h), (1, 1));
}

#[tokio::test]
async fn only_running_vms_have_a_console() {
    let d = driver().await;
    d.define(&vm("vm-1", "alice_1")).await.unwrap();
    let err = d.console("vm-1").await.err();
    assert!(
        matches!(
            err,
            Some(DriverError::InvalidState {
                state: PowerState::Stopped,
                op: "console",
                ..
            })
        ),
        "{err:?}"
    );
    d.start("vm-1").await.unwrap();
    d.pause("vm-1").await.unwrap();
    assert!(matches!(
        d.console("vm-1").await.err(),
        Some(DriverError::InvalidState {
            state: PowerState::Paused,
            ..
        })
    ));
    assert!(matches!(
        d.console("nope").await.err(),
        Some(DriverError::NotFound(_))
    ));
}
