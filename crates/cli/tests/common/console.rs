//! A desk console seen the way noVNC sees it: a websocket offering subprotocol `binary`, with
//! RFB inside its binary frames.

use std::collections::VecDeque;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::Server;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Every wait on the console ends by this deadline.
const LIMIT: Duration = Duration::from_secs(30);

/// Opens `websocket_path` of `s` offering subprotocol `binary`, as noVNC does, and checks the
/// server picked it.
pub async fn connect(s: &Server, websocket_path: &str) -> Result<Ws, WsError> {
    let base = s.base.replacen("http://", "ws://", 1);
    let mut req = format!("{base}{websocket_path}").into_client_request()?;
    req.headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static("binary"));
    let (ws, resp) = tokio::time::timeout(LIMIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("the server answers the upgrade")?;
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("binary"),
        "the server picks the offered subprotocol"
    );
    Ok(ws)
}

/// The RFB byte stream inside the websocket's binary frames.
pub struct Rfb {
    pub ws: Ws,
    pub buf: VecDeque<u8>,
}

impl Rfb {
    pub fn new(ws: Ws) -> Rfb {
        Rfb {
            ws,
            buf: VecDeque::new(),
        }
    }

    pub async fn read_n(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            let msg = tokio::time::timeout(LIMIT, self.ws.next())
                .await
                .expect("the console sends")
                .expect("the websocket stays open")
                .expect("a frame");
            match msg {
                Message::Binary(b) => self.buf.extend(b.iter()),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected frame {other:?}"),
            }
        }
        self.buf.drain(..n).collect()
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.ws
            .send(Message::Binary(bytes.to_vec().into()))
            .await
            .expect("send");
    }

    /// Waits for the server's Close frame (or the end of the stream).
    pub async fn closed_by_server(&mut self) {
        loop {
            let msg = tokio::time::timeout(LIMIT, self.ws.next())
                .await
                .expect("the server closes the websocket");
            match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    }
}

pub fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

pub fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// RFB 3.8 through the proxy: version, security None, SecurityResult, ClientInit; returns
/// ServerInit's width, height and name.
pub async fn handshake(rfb: &mut Rfb) -> (u16, u16, String) {
    assert_eq!(rfb.read_n(12).await, b"RFB 003.008\n");
    rfb.send(b"RFB 003.008\n").await;
    let count = rfb.read_n(1).await[0];
    assert_eq!(rfb.read_n(usize::from(count)).await, [1], "security None");
    rfb.send(&[1]).await;
    assert_eq!(u32_at(&rfb.read_n(4).await, 0), 0, "SecurityResult OK");
    rfb.send(&[1]).await;
    let init = rfb.read_n(24).await;
    assert_eq!(&init[4..8], [32, 24, 0, 1], "32 bpp true colour");
    let name_len = u32_at(&init, 20) as usize;
    let name = String::from_utf8(rfb.read_n(name_len).await).expect("utf-8 name");
    (u16_at(&init, 0), u16_at(&init, 2), name)
}
