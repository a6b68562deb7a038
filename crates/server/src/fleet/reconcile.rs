//! The reconciler: repairs drift between the database and what the hypervisor driver reports.

use std::sync::Arc;
use std::time::Duration;

use deskd_compute::{plan, DesiredVm, Expect, Hypervisor, PowerState, Repair};
use deskd_domain::enums::DeskState;
use deskd_domain::error::Result;
use deskd_domain::ids::DeskId;
use deskd_domain::model::{now_ms, Desk};
use deskd_domain::store::{DeskStore, EventStore, ImageStore, NetworkStore, TaskStore};

/// What a pass touches: desks and the audit log, the items that keep desks busy, and the
/// images a missing VM is defined again from.
pub trait ReconcileStore: DeskStore + EventStore + TaskStore + ImageStore + NetworkStore {}
impl<T: DeskStore + EventStore + TaskStore + ImageStore + NetworkStore + ?Sized> ReconcileStore
    for T
{
}
use deskd_domain::task::Event;
use tokio::sync::watch;

use super::driver::{driver_err, vm_spec};

/// The power state a stable desk state implies.
fn expectation(state: DeskState) -> Expect {
    match state {
        DeskState::RUNNING => Expect::Running,
        DeskState::CLOSE => Expect::Stopped,
        _ => Expect::Any,
    }
}

/// The desk state that records an observed power state.
fn observed_state(p: PowerState) -> DeskState {
    match p {
        PowerState::Running => DeskState::RUNNING,
        PowerState::Stopped => DeskState::CLOSE,
        PowerState::Paused => DeskState::SLEEP,
        PowerState::Crashed => DeskState::ERROR,
    }
}

/// How long a desk may sit in a transitional state before the reconciler stops assuming a
/// task is moving it.
const TRANSITION_GRACE_MS: i64 = 10 * 60 * 1000;

/// True when a task is acting on the desk: it has a pending or running item, or it is in a
/// transitional state that a task set recently (a create's desk has no item subject yet).
fn is_busy(d: &Desk, busy: &[DeskId], now: i64) -> bool {
    let transitional = matches!(
        d.state,
        DeskState::CREATING
            | DeskState::DELETING
            | DeskState::START_UP
            | DeskState::SHUTTING
            | DeskState::UPDATING
    );
    busy.contains(&d.id) || (transitional && now - d.updated_at < TRANSITION_GRACE_MS)
}

/// One reconciliation pass; returns the repairs it carried out.
///
/// The driver is asked first and the database second: every VM in the driver's answer then
/// already has its desk row (a desk row is always written before its VM is defined, and a VM
/// is destroyed before its row is removed), so a desk created during the pass is never taken
/// for an orphan.
pub async fn reconcile_once<S: ReconcileStore + ?Sized>(
    store: &S,
    driver: &dyn Hypervisor,
) -> Result<Vec<Repair>> {
    let observed = driver.list().await.map_err(driver_err)?;
    let desks = store.list_all_desks().await?;
    let busy = store.busy_subjects().await?;
    let now = now_ms();
    let desired: Vec<DesiredVm> = desks
        .iter()
        .map(|d| DesiredVm {
            vm_id: d.id.clone().into(),
            name: d.name.clone(),
            expect: expectation(d.state),
            busy: is_busy(d, &busy, now),
        })
        .collect();
    let repairs = plan(&desired, &observed);
    let mut done = Vec::new();
    for r in repairs {
        let desk = desks.iter().find(|d| d.id == r.vm_id());
        match apply(store, driver, &r, desk).await {
            Ok(true) => done.push(r),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(vm = %r.vm_id(), error = %e, "repair failed; next pass retries")
            }
        }
    }
    Ok(done)
}

/// Carries out one repair; false when the desk changed meanwhile and the repair was dropped.
async fn apply<S: ReconcileStore + ?Sized>(
    store: &S,
    driver: &dyn Hypervisor,
    r: &Repair,
    desk: Option<&Desk>,
) -> Result<bool> {
    let (detail, applied) = match (r, desk) {
        (Repair::DestroyOrphan { vm_id }, _) => {
            driver.destroy(vm_id).await.map_err(driver_err)?;
            (format!("destroyed orphan VM {vm_id}"), true)
        }
        (Repair::Redefine { .. }, Some(d)) => {
            driver
                .define(&vm_spec(store, d).await?)
                .await
                .map_err(driver_err)?;
            let ok = store
                .set_desk_state(&d.id, &[d.state], DeskState::CLOSE, "")
                .await?;
            (
                format!("VM was missing; defined again, desk {} -> CLOSE", d.state),
                ok,
            )
        }
        (
            Repair::RecordObserved {
                observed, reason, ..
            },
            Some(d),
        ) => {
            // the pass listed the VMs before it read the desks: a task that finished in
            // between (a start whose domain was still starting up) must not be undone by an
            // observation older than its result, so the VM is asked again
            let now = driver.info(r.vm_id()).await.map_err(driver_err)?;
            if now.is_none_or(|i| i.power != *observed) {
                return Ok(false);
            }
            let to = observed_state(*observed);
            let why = reason
                .clone()
                .unwrap_or_else(|| format!("hypervisor reports the VM {observed:?}"));
            let ok = store.set_desk_state(&d.id, &[d.state], to, &why).await?;
            (format!("desk {} -> {to}: {why}", d.state), ok)
        }
        (_, None) => return Ok(false),
    };
    if applied {
        tracing::warn!(vm = %r.vm_id(), %detail, "reconciler repaired drift");
        let ev = Event {
            at: now_ms(),
            kind: "reconcile".into(),
            subject: r.vm_id().to_string(),
            task_id: None,
            detail,
        };
        store.record_event(&ev).await?;
    }
    Ok(applied)
}

/// A full pass at least every this many intervals, even when nothing seems to have changed:
/// another replica's desk writes do not move this process's desk generation.
const FULL_PASS_EVERY: u32 = 10;

/// When a pass may be skipped: the database's desk generation and the driver's state
/// generation are both where the last pass saw them (a driver that cannot tell never skips).
#[derive(Default)]
struct Quiet {
    last: Option<(u64, u64)>,
    skipped: u32,
}

impl Quiet {
    fn may_skip(&mut self, (desks, driver): (u64, Option<u64>)) -> bool {
        let same = driver.is_some_and(|g| self.last == Some((desks, g)));
        if same && self.skipped + 1 < FULL_PASS_EVERY {
            self.skipped += 1;
            return true;
        }
        false
    }

    fn passed(&mut self, (desks, driver): (u64, Option<u64>)) {
        self.last = driver.map(|g| (desks, g));
        self.skipped = 0;
    }
}
/// How long a pass woken by the driver waits for the rest of a burst of events (a start
/// reports STARTED then RESUMED), so one pass records them all.
const EVENT_SETTLE: Duration = Duration::from_millis(250);

/// Runs [`reconcile_once`] every `interval` until shutdown, and as soon as the driver reports
/// a state change of its own ([`Hypervisor::state_watch`]): a guest that powered itself off
/// reads CLOSE at once, however long the interval.
pub async fn run<S: ReconcileStore + ?Sized>(
    store: Arc<S>,
    driver: Arc<dyn Hypervisor>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut quiet = Quiet::default();
    let mut moved = driver.state_watch();
    while !*shutdown.borrow() {
        // marked seen before the pass, so a change made during it brings the next pass
        if let Some(rx) = moved.as_mut() {
            rx.borrow_and_update();
        }
        // read before the pass, for the same reason
        let seen = (store.desk_generation(), driver.state_generation());
        if quiet.may_skip(seen) {
            tracing::debug!("reconciliation skipped: nothing changed");
        } else {
            match reconcile_once(store.as_ref(), driver.as_ref()).await {
                Ok(r) if !r.is_empty() => {
                    tracing::info!(repairs = r.len(), "reconciliation pass")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "reconciliation pass failed"),
            }
            quiet.passed(seen);
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = changed(&mut moved) => {
                tracing::debug!("the driver reported a state change");
                tokio::time::sleep(EVENT_SETTLE).await;
            }
            _ = shutdown.changed() => {}
        }
    }
}

/// Resolves when the driver's channel moves; never without one (or once its sender is gone).
async fn changed(rx: &mut Option<watch::Receiver<u64>>) {
    if let Some(r) = rx {
        if r.changed().await.is_ok() {
            return;
        }
    }
    std::future::pending().await
}

#[cfg(test)]
mod quiet_tests {
    use super::{Quiet, FULL_PASS_EVERY};

    #[test]
    fn skips_only_while_nothing_moved_and_never_for_long() {
        let mut q = Quiet::default();
        assert!(!q.may_skip((1, Some(7))), "the first pass always runs");
        q.passed((1, Some(7)));
        for _ in 1..FULL_PASS_EVERY {
            assert!(q.may_skip((1, Some(7))));
        }
        assert!(
            !q.may_skip((1, Some(7))),
            "a full pass every FULL_PASS_EVERY"
        );
        q.passed((1, Some(7)));
        assert!(!q.may_skip((2, Some(7))), "a desk write");
        assert!(!q.may_skip((1, Some(8))), "a driver change");
        q.passed((1, None));
        assert!(!q.may_skip((1, None)), "a driver that cannot tell");
    }
}

#[cfg(test)]
mod watch_tests {
    use super::changed;
    use futures::FutureExt;
    use tokio::sync::watch;

    #[tokio::test]
    async fn wakes_on_a_change_and_never_without_a_channel() {
        let (tx, rx) = watch::channel(0u64);
        let mut moved = Some(rx);
        tx.send_modify(|g| *g += 1);
        assert!(
            changed(&mut moved).now_or_never().is_some(),
            "a change wakes"
        );
        assert!(
            changed(&mut moved).now_or_never().is_none(),
            "seen: no wake until the next change"
        );
        drop(tx);
        assert!(
            changed(&mut moved).now_or_never().is_none(),
            "a dropped sender does not spin the loop"
        );
        assert!(
            changed(&mut None).now_or_never().is_none(),
            "no channel: only the interval wakes"
        );
    }
}
