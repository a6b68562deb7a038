//! A small QMP client over a unix socket: JSON lines, one command in flight
//! at a time, asynchronous events handed to a callback. Hand-written because
//! the driver needs only a handful of commands plus the event stream, and one
//! reader task must own the socket to see events while no command runs.

use crate::driver::DriverError;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;
use tokio::sync::oneshot;

type Reply = Result<Value, String>;
type Pending = Arc<Mutex<Option<oneshot::Sender<Reply>>>>;

/// How long a QMP command may take before the driver gives up on it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Receives what the reader task sees: events and the end of the stream.
pub(crate) trait QmpListener: Send + Sync + 'static {
    fn event(&self, name: &str, data: &Value);
    fn closed(&self);
}

/// A connected QMP session with capabilities negotiated.
pub(crate) struct Qmp {
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    pending: Pending,
}

impl Qmp {
    /// Connects, reads the greeting, leaves negotiation mode and starts the
    /// reader task that feeds `listener`.
    pub(crate) async fn connect(
        path: &Path,
        listener: Arc<dyn QmpListener>,
    ) -> Result<Qmp, DriverError> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|e| io_err(format!("qmp connect {}: {e}", path.display())))?;
        let (read, write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let greeting = tokio::time::timeout(COMMAND_TIMEOUT, lines.next_line())
            .await
            .map_err(|_| io_err("qmp greeting timed out".into()))?
            .map_err(|e| io_err(format!("qmp greeting: {e}")))?;
        if !greeting.is_some_and(|g| g.contains("\"QMP\"")) {
            return Err(io_err("qmp: no greeting".into()));
        }
        let pending: Pending = Arc::default();
        tokio::spawn(read_loop(lines, pending.clone(), listener));
        let qmp = Qmp {
            writer: tokio::sync::Mutex::new(write),
            pending,
        };
        qmp.execute("qmp_capabilities", None).await?;
        Ok(qmp)
    }

    /// Runs one command and returns its `return` value.
    pub(crate) async fn execute(
        &self,
        cmd: &str,
        args: Option<Value>,
    ) -> Result<Value, DriverError> {
        let mut writer = self.writer.lock().await;
        let (tx, rx) = oneshot::channel();
        *lock(&self.pending) = Some(tx);
        let mut msg = json!({ "execute": cmd });
        if let Some(args) = args {
            msg["arguments"] = args;
        }
        let mut line = msg.to_string();
        line.push('\n');
        writer
            .write_all(line.as_bytes())
            .await
            .map_err(|e| io_err(format!("qmp {cmd}: {e}")))?;
        let reply = tokio::time::timeout(COMMAND_TIMEOUT, rx)
            .await
            .map_err(|_| io_err(format!("qmp {cmd}: timed out")))?
            .map_err(|_| io_err(format!("qmp {cmd}: connection closed")))?;
        reply.map_err(|e| io_err(format!("qmp {cmd}: {e}")))
    }
}

async fn read_loop(
    mut lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
    pending: Pending,
    listener: Arc<dyn QmpListener>,
) {
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            tracing::warn!(%line, "qmp: unparsable line");
            continue;
        };
        if let Some(name) = msg.get("event").and_then(Value::as_str) {
            listener.event(name, msg.get("data").unwrap_or(&Value::Null));
            continue;
        }
        let reply = match (msg.get("return"), msg.get("error")) {
            (Some(ret), _) => Ok(ret.clone()),
            (None, Some(err)) => Err(err
                .get("desc")
                .and_then(Value::as_str)
                .unwrap_or("unknown error")
                .to_string()),
            (None, None) => continue,
        };
        if let Some(tx) = lock(&pending).take() {
            let _ = tx.send(reply);
        }
    }
    lock(&pending).take();
    listener.closed();
}

fn io_err(msg: String) -> DriverError {
    DriverError::Io(msg)
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
