//! The desks' graphical consoles (issue 8, extension): `PUT /v1/desk/{desk_id}/console` hands a
//! Bearer-authenticated caller a one-time ticket, and `GET /v1/desk/console/websocket?ticket=…`
//! trades it for a websocket that carries the desk's RFB (VNC) stream, as noVNC expects it.
//!
//! Browsers cannot put a Bearer header on a websocket, so the ticket is the websocket's only
//! credential: 32 random bytes, valid [`TICKET_TTL`], consumed by the upgrade. Tickets live in
//! this process's memory ([`Tickets`]): a ticket works only on the replica that issued it, so
//! a load balancer in front of several replicas must send both calls to the same one (or the
//! client uses the address the listing names, 6.2.11 `proxy_ip`/`proxy_port`).
//!
//! The proxy copies bytes both ways until either side ends, then closes the other; it sets no
//! time limit of its own.

use deskd_domain::ids::DeskId;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use deskd_compute::{ConsoleStream, DriverError};
use deskd_domain::enums::DeskState;
use deskd_domain::error::{Error, Missing};
use deskd_domain::model::now_ms;
use deskd_wire::desk::{ConsoleTicket, DeskActionRequest, SpiceEndpoint};
use deskd_wire::envelope::Reply;
use futures::{SinkExt, StreamExt};
use rand::RngCore;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use crate::fleet::clusters::check_cluster;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::OptionalContent;
use crate::AppState;

/// How long a console ticket may wait for its websocket.
pub const TICKET_TTL: Duration = Duration::from_secs(60);
/// Where the console websocket is served.
pub const WEBSOCKET_PATH: &str = "/v1/desk/console/websocket";
/// The websocket subprotocol noVNC offers for raw binary frames.
const SUBPROTOCOL: &str = "binary";
/// Most bytes read from the console per websocket frame.
const FRAME_BYTES: usize = 64 * 1024;

/// One issued ticket.
struct Ticket {
    desk_id: String,
    expires: Instant,
}

/// The console tickets of this process (per replica: never shared through the database).
pub struct Tickets {
    ttl: Duration,
    table: Mutex<HashMap<String, Ticket>>,
}

impl Default for Tickets {
    fn default() -> Self {
        Tickets::new(TICKET_TTL)
    }
}

impl Tickets {
    /// A table whose tickets live `ttl`; anything but [`TICKET_TTL`] is for tests.
    pub fn new(ttl: Duration) -> Self {
        Tickets {
            ttl,
            table: Mutex::default(),
        }
    }

    /// A new ticket for `desk_id` and how long it is valid. Expired tickets are dropped here,
    /// so the table holds at most the tickets of the last `ttl`.
    pub fn issue(&self, desk_id: &str) -> (String, Duration) {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let ticket = hex::encode(bytes);
        let now = Instant::now();
        let mut table = self.lock();
        table.retain(|_, t| t.expires > now);
        table.insert(
            ticket.clone(),
            Ticket {
                desk_id: desk_id.to_string(),
                expires: now + self.ttl,
            },
        );
        (ticket, self.ttl)
    }

    /// Whether `ticket` would be accepted now, without using it.
    pub fn is_valid(&self, ticket: &str) -> bool {
        self.lock()
            .get(ticket)
            .is_some_and(|t| t.expires > Instant::now())
    }

    /// Uses `ticket`: the desk it was issued for, or None when it is unknown, used or expired.
    pub fn take(&self, ticket: &str) -> Option<String> {
        let t = self.lock().remove(ticket)?;
        (t.expires > Instant::now()).then_some(t.desk_id)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Ticket>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `PUT /v1/desk/{desk_id}/console` (extension): a ticket for a RUNNING desk's console.
pub async fn ticket(
    State(app): State<AppState>,
    Path(desk_id): Path<DeskId>,
    OptionalContent(body): OptionalContent<DeskActionRequest>,
) -> ApiResult<Json<Reply<ConsoleTicket>>> {
    check_cluster(&app, body.cluster_id.as_deref()).await?;
    let id = DeskId::from(desk_id.trim());
    let desk = app
        .store
        .get_desk(&id)
        .await?
        .ok_or_else(|| Error::not_found(Missing::Desk, id))?;
    if desk.state != DeskState::RUNNING {
        return Err(Error::StateForbids {
            desk: desk.id.into(),
            state: desk.state.to_string(),
            action: "console".into(),
        }
        .into());
    }
    let (ticket, ttl) = app.consoles.issue(&desk.id);
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let expire_time = now_ms().saturating_add(ttl_ms);
    let spice = spice(&app, &desk.id, expire_time).await?;
    tracing::info!(desk = %desk.id, spice = spice.is_some(), "console ticket issued");
    Ok(Json(Reply::data(ConsoleTicket {
        websocket_path: format!("{WEBSOCKET_PATH}?ticket={ticket}"),
        ticket,
        expire_time,
        protocol: "vnc".into(),
        spice,
        desk_id: desk.id,
    })))
}

/// The desk's SPICE display, opened to a fresh password until the ticket expires (the driver
/// sets it on the live domain); None when the desk has none.
async fn spice(
    app: &AppState,
    desk_id: &str,
    expire_time: i64,
) -> Result<Option<SpiceEndpoint>, Error> {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let password = hex::encode(bytes);
    // libvirt's passwdValidTo: UTC to the second, without the zone
    let valid_to: String = deskd_metrics::rules::rfc3339(expire_time)
        .chars()
        .take(19)
        .collect();
    let display = app
        .driver
        .spice_ticket(desk_id, &password, &valid_to)
        .await
        .map_err(|e| driver_refusal(desk_id, e))?;
    Ok(display.map(|d| SpiceEndpoint {
        protocol: "spice".into(),
        host: d.host,
        port: d.port,
        password,
    }))
}

/// The query string of the websocket.
#[derive(Debug, Deserialize)]
pub struct TicketQuery {
    #[serde(default)]
    ticket: Option<String>,
}

/// `GET /v1/desk/console/websocket?ticket=…` (extension): checks and uses the ticket, connects
/// to the desk's console, then upgrades and proxies. Every refusal happens before the upgrade,
/// as an ordinary reply: a missing, unknown, used or expired ticket is 401 / 22000401.
pub async fn websocket(
    State(app): State<AppState>,
    query: Result<Query<TicketQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ticket = query.ok().and_then(|Query(q)| q.ticket).unwrap_or_default();
    let refused =
        || Error::Unauthenticated("missing, unknown, used or expired console ticket".into());
    if !app.consoles.is_valid(&ticket) {
        return Err(refused().into());
    }
    // a plain GET does not spend the ticket
    let upgrade = upgrade.map_err(|e| Error::invalid("Upgrade", e.body_text()))?;
    let desk_id = app.consoles.take(&ticket).ok_or_else(refused)?;
    let stream = app
        .driver
        .console(&desk_id)
        .await
        .map_err(|e| driver_refusal(&desk_id, e))?;
    let upgrade = upgrade.protocols([SUBPROTOCOL]);
    Ok(upgrade
        .on_upgrade(move |socket| async move {
            tracing::info!(desk = %desk_id, "console connected");
            let (up, down) = proxy(socket, stream).await;
            tracing::info!(desk = %desk_id, bytes_in = up, bytes_out = down, "console closed");
        })
        .into_response())
}

/// What a driver's refusal to open a console becomes.
fn driver_refusal(desk_id: &str, e: DriverError) -> Error {
    match e {
        DriverError::NotFound(_) => Error::not_found(Missing::Desk, desk_id),
        DriverError::InvalidState { state, .. } => Error::StateForbids {
            desk: desk_id.to_string(),
            state: format!("{state:?} on the hypervisor"),
            action: "console".into(),
        },
        other => Error::Hypervisor(format!(
            "cannot open the console of desk {desk_id}: {other}"
        )),
    }
}

/// Copies websocket binary frames to the console and console bytes to binary frames until
/// either side ends, then closes the other. Returns the bytes carried (to the console, from it).
async fn proxy(socket: WebSocket, stream: ConsoleStream) -> (u64, u64) {
    let (mut ws_tx, mut ws_rx) = socket.split();
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (stop_up, stop_down) = (Notify::new(), Notify::new());
    let up = async {
        let mut carried = 0u64;
        loop {
            let msg = tokio::select! {
                m = ws_rx.next() => m,
                _ = stop_up.notified() => break,
            };
            let bytes = match msg {
                Some(Ok(Message::Binary(b))) => b,
                // noVNC's `binary` protocol sends nothing else that carries data
                Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            };
            let written = tokio::select! {
                r = wr.write_all(&bytes) => r,
                _ = stop_up.notified() => break,
            };
            if written.is_err() {
                break;
            }
            carried += bytes.len() as u64;
        }
        stop_down.notify_one();
        let _ = wr.shutdown().await;
        carried
    };
    let down = async {
        let mut carried = 0u64;
        let mut buf = vec![0u8; FRAME_BYTES];
        loop {
            let read = tokio::select! {
                r = rd.read(&mut buf) => r,
                _ = stop_down.notified() => break,
            };
            let n = match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let frame = Message::Binary(Bytes::copy_from_slice(&buf[..n]));
            let sent = tokio::select! {
                r = ws_tx.send(frame) => r,
                _ = stop_down.notified() => break,
            };
            if sent.is_err() {
                break;
            }
            carried += n as u64;
        }
        stop_up.notify_one();
        let _ = ws_tx.send(Message::Close(None)).await;
        let _ = ws_tx.close().await;
        carried
    };
    tokio::join!(up, down)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_is_random_valid_once_and_for_its_desk() {
        let t = Tickets::default();
        let (a, ttl) = t.issue("desk-1");
        let (b, _) = t.issue("desk-1");
        assert_eq!(ttl, TICKET_TTL);
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(
            t.is_valid(&a) && t.is_valid(&a),
            "checking does not spend it"
        );
        assert_eq!(t.take(&a).as_deref(), Some("desk-1"));
        assert_eq!(t.take(&a), None, "used");
        assert!(!t.is_valid(&a));
        assert!(!t.is_valid("") && t.take("nope").is_none());
    }

    #[test]
    fn expired_tickets_are_refused_and_dropped() {
        let t = Tickets::new(Duration::ZERO);
        let (a, _) = t.issue("desk-1");
        assert!(!t.is_valid(&a));
        t.issue("desk-2");
        assert_eq!(t.lock().len(), 1, "issuing drops the expired ones");
        assert_eq!(t.take(&a), None);
    }
}
