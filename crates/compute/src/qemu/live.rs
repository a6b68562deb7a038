//! A running QEMU process: its pid, its QMP session and what its events and
//! its exit said, kept so the driver can tell a clean stop from a crash.

use super::proc;
use super::qmp::{lock, Qmp, QmpListener};
use crate::driver::DriverError;
use serde_json::Value;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How often a process whose QMP socket closed is checked for its exit.
const POLL: Duration = Duration::from_millis(25);

/// The `id` of the virtio balloon device every VM is launched with.
pub(crate) const BALLOON_ID: &str = "balloon0";

/// Seconds between two memory reports of the guest's balloon driver.
const BALLOON_STATS_INTERVAL: u64 = 2;

/// Memory figures QEMU knows beyond the process's RSS.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Memory {
    /// the balloon's `actual`: memory the guest may use now
    pub actual: Option<u64>,
    /// free memory as the guest's balloon driver last reported it; None
    /// until a guest with the driver loaded has answered
    pub guest_free: Option<u64>,
}

/// Counters last read from a live process, folded into the VM's totals when
/// it stops so `*_total` figures never go down.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub(crate) struct Counters {
    pub cpu_seconds: f64,
    pub rd_bytes: u64,
    pub wr_bytes: u64,
    pub rd_ops: u64,
    pub wr_ops: u64,
}

impl Counters {
    pub(crate) fn add(&mut self, o: &Counters) {
        self.cpu_seconds += o.cpu_seconds;
        self.rd_bytes += o.rd_bytes;
        self.wr_bytes += o.wr_bytes;
        self.rd_ops += o.rd_ops;
        self.wr_ops += o.wr_ops;
    }
}

#[derive(Default)]
struct State {
    paused: bool,
    /// `reason` of the SHUTDOWN event, when QEMU announced its end
    shutdown_reason: Option<String>,
    /// deskd asked for the stop, so an exit is never a crash
    stopping: bool,
    exited: bool,
    last: Counters,
}

/// What the QMP reader reports into; shared with the reader task.
pub(crate) struct Shared {
    pid: u32,
    state: Mutex<State>,
    done: watch::Sender<bool>,
    /// set when the driver drops this VM's supervision (restart simulation)
    detached: Arc<AtomicBool>,
}

impl QmpListener for Shared {
    fn event(&self, name: &str, data: &Value) {
        tracing::debug!(pid = self.pid, name, %data, "qmp event");
        let mut st = lock(&self.state);
        match name {
            "STOP" => st.paused = true,
            "RESUME" => st.paused = false,
            "SHUTDOWN" => {
                let reason = data
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown");
                st.shutdown_reason = Some(reason.to_string());
            }
            _ => {}
        }
    }

    /// The socket closes when QEMU exits (or when this driver lets go of
    /// it): wait for the process to be gone. Nothing is killed here: a QEMU
    /// that keeps running stays adoptable by the next driver instance.
    fn closed(&self) {
        let pid = self.pid;
        let done = self.done.clone();
        let detached = self.detached.clone();
        tokio::spawn(async move {
            while proc::alive(pid) {
                if detached.load(Ordering::Relaxed) {
                    return;
                }
                tokio::time::sleep(POLL).await;
            }
            let _ = done.send(true);
        });
    }
}

/// How a QEMU process ended, as far as the driver could tell.
pub(crate) enum Exit {
    Stopped,
    Crashed(String),
}

/// A supervised QEMU process.
pub(crate) struct Live {
    pub pid: u32,
    shared: Arc<Shared>,
    done: watch::Receiver<bool>,
    pub qmp: Qmp,
}

impl Live {
    /// Takes over the QEMU `pid` that serves QMP at `qmp_socket`.
    pub(crate) async fn attach(pid: u32, qmp_socket: &Path) -> Result<Live, DriverError> {
        let (tx, rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            pid,
            state: Mutex::default(),
            done: tx,
            detached: Arc::default(),
        });
        let qmp = Qmp::connect(qmp_socket, shared.clone()).await?;
        let status = qmp.execute("query-status", None).await?;
        lock(&shared.state).paused = status.get("running").and_then(Value::as_bool) == Some(false);
        // guest memory reports; a QEMU launched without the balloon just says no
        let polling = serde_json::json!({
            "path": balloon_path(),
            "property": "guest-stats-polling-interval",
            "value": BALLOON_STATS_INTERVAL,
        });
        if let Err(err) = qmp.execute("qom-set", Some(polling)).await {
            tracing::debug!(pid, %err, "no balloon statistics");
        }
        Ok(Live {
            pid,
            shared,
            done: rx,
            qmp,
        })
    }

    pub(crate) fn paused(&self) -> bool {
        lock(&self.shared.state).paused
    }

    /// Also set here, not only from STOP/RESUME, so a read right after the
    /// command sees it whatever order QEMU sent event and reply in.
    pub(crate) fn set_paused(&self, paused: bool) {
        lock(&self.shared.state).paused = paused;
    }

    pub(crate) fn mark_stopping(&self) {
        lock(&self.shared.state).stopping = true;
    }

    /// Some(how it ended) once the process is gone.
    pub(crate) fn exit(&self) -> Option<Exit> {
        let st = lock(&self.shared.state);
        if !st.exited && !*self.done.borrow() {
            return None;
        }
        Some(match st.shutdown_reason.as_deref() {
            _ if st.stopping => Exit::Stopped,
            Some(r) if r == "guest-shutdown" || r.starts_with("host-") => Exit::Stopped,
            Some(r) => Exit::Crashed(format!("qemu exited after SHUTDOWN reason {r}")),
            None => Exit::Crashed("qemu exited unexpectedly (no SHUTDOWN event)".into()),
        })
    }

    /// Waits until the process is gone; false on timeout.
    pub(crate) async fn wait_exit(&self, timeout: Duration) -> bool {
        let mut rx = self.done.clone();
        let ok = tokio::time::timeout(timeout, rx.wait_for(|d| *d)).await;
        let gone = matches!(ok, Ok(Ok(_)));
        if gone {
            lock(&self.shared.state).exited = true;
        }
        gone
    }

    /// The balloon's size and the guest's own free-memory report.
    pub(crate) async fn memory(&self) -> Memory {
        let actual = self
            .qmp
            .execute("query-balloon", None)
            .await
            .ok()
            .and_then(|b| b.get("actual").and_then(Value::as_u64));
        let args = serde_json::json!({ "path": balloon_path(), "property": "guest-stats" });
        let guest_free = self
            .qmp
            .execute("qom-get", Some(args))
            .await
            .ok()
            .and_then(|g| guest_free(&g));
        Memory { actual, guest_free }
    }

    pub(crate) fn record_counters(&self, c: Counters) {
        lock(&self.shared.state).last = c;
    }

    pub(crate) fn last_counters(&self) -> Counters {
        lock(&self.shared.state).last
    }
}

impl Drop for Live {
    /// The process keeps running; only the watch on it ends.
    fn drop(&mut self) {
        self.shared.detached.store(true, Ordering::Relaxed);
    }
}

fn balloon_path() -> String {
    format!("/machine/peripheral/{BALLOON_ID}")
}

/// `stat-free-memory` of a `guest-stats` answer, once the guest has sent a
/// report (`last-update` > 0); statistics the guest does not report are -1.
pub(crate) fn guest_free(stats: &Value) -> Option<u64> {
    if stats
        .get("last-update")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        == 0
    {
        return None;
    }
    stats.get("stats")?.get("stat-free-memory")?.as_u64()
}

#[cfg(test)]
mod tests {
    use super::guest_free;
    use serde_json::json;

    #[test]
    fn guest_free_memory_needs_a_report() {
        let report = json!({"last-update": 1700000000u64,
            "stats": {"stat-free-memory": 52_000_000u64, "stat-total-memory": 90_000_000u64}});
        assert_eq!(guest_free(&report), Some(52_000_000));
        let none_yet = json!({"last-update": 0, "stats": {"stat-free-memory": -1}});
        assert_eq!(guest_free(&none_yet), None);
        let unsupported = json!({"last-update": 1700000000u64, "stats": {"stat-free-memory": -1}});
        assert_eq!(guest_free(&unsupported), None);
        assert_eq!(guest_free(&json!({})), None);
    }
}
