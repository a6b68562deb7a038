//! The reconcile planner.
//!
//! The controller's database and the hypervisor drift apart: guests crash,
//! VMs vanish, a controller crash leaves half-done work behind. [`plan`]
//! compares what the database expects with what the driver reports and
//! says what to repair. It is pure (no I/O) so every case is unit-tested and
//! the controller decides how and when to carry the repairs out.

use crate::driver::{PowerState, VmId, VmInfo};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A desk as the database sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DesiredVm {
    pub vm_id: VmId,
    /// Desk name, for log messages.
    pub name: String,
    pub expect: Expect,
    /// true when a task is currently acting on this desk: leave it alone
    pub busy: bool,
}

/// The power state the database records for a desk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expect {
    Running,
    Stopped,
    /// desk exists, power state unknown/transitional: accept whatever the driver says
    Any,
}

/// One correction to carry out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Repair {
    /// desk exists in the DB but the driver has no VM: define it again (stopped) and tell the DB it is stopped
    Redefine { vm_id: VmId },
    /// driver VM belongs to no desk: destroy it
    DestroyOrphan { vm_id: VmId },
    /// DB state disagrees with the driver's power state: the DB should record the observed state
    RecordObserved {
        vm_id: VmId,
        observed: PowerState,
        reason: Option<String>,
    },
}

impl Repair {
    /// The VM this repair is about.
    pub fn vm_id(&self) -> &str {
        match self {
            Repair::Redefine { vm_id }
            | Repair::DestroyOrphan { vm_id }
            | Repair::RecordObserved { vm_id, .. } => vm_id,
        }
    }
}

/// Repairs that bring the database and the driver back in line, sorted by
/// vm_id. Busy desks are never touched; at most one repair per VM.
pub fn plan(desired: &[DesiredVm], observed: &[VmInfo]) -> Vec<Repair> {
    let observed: BTreeMap<&str, &VmInfo> = observed
        .iter()
        .map(|vm| (vm.spec.vm_id.as_str(), vm))
        .collect();
    let known: BTreeSet<&str> = desired.iter().map(|d| d.vm_id.as_str()).collect();

    let mut repairs: Vec<Repair> =
        desired
            .iter()
            .filter(|d| !d.busy)
            .filter_map(|d| repair_desk(d, observed.get(d.vm_id.as_str()).copied()))
            .chain(observed.keys().filter(|id| !known.contains(*id)).map(|id| {
                Repair::DestroyOrphan {
                    vm_id: id.to_string(),
                }
            }))
            .collect();
    repairs.sort_by(|a, b| a.vm_id().cmp(b.vm_id()));
    repairs.dedup_by(|a, b| a.vm_id() == b.vm_id());
    repairs
}

/// The repair one idle desk needs, if any.
fn repair_desk(desk: &DesiredVm, vm: Option<&VmInfo>) -> Option<Repair> {
    let Some(vm) = vm else {
        return Some(Repair::Redefine {
            vm_id: desk.vm_id.clone(),
        });
    };
    let agrees = match desk.expect {
        Expect::Any => true,
        Expect::Running => vm.power == PowerState::Running,
        Expect::Stopped => vm.power == PowerState::Stopped,
    };
    (!agrees).then(|| Repair::RecordObserved {
        vm_id: desk.vm_id.clone(),
        observed: vm.power,
        reason: vm
            .crash_reason
            .clone()
            .filter(|_| vm.power == PowerState::Crashed),
    })
}
