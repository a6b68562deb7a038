//! The reconcile planner's cases.

mod common;

use deskd_compute::{plan, DesiredVm, Expect, PowerState, Repair, VmInfo};

fn desk(id: &str, expect: Expect) -> DesiredVm {
    DesiredVm {
        vm_id: id.into(),
        name: format!("desk-{id}"),
        expect,
        busy: false,
    }
}

fn busy(id: &str, expect: Expect) -> DesiredVm {
    DesiredVm {
        busy: true,
        ..desk(id, expect)
    }
}

fn seen(id: &str, power: PowerState) -> VmInfo {
    VmInfo {
        spec: common::vm(id, id),
        power,
        disk_generation: 0,
        crash_reason: None,
    }
}

fn crashed(id: &str, reason: &str) -> VmInfo {
    VmInfo {
        crash_reason: Some(reason.into()),
        ..seen(id, PowerState::Crashed)
    }
}

fn record(id: &str, observed: PowerState, reason: Option<&str>) -> Repair {
    Repair::RecordObserved {
        vm_id: id.into(),
        observed,
        reason: reason.map(str::to_string),
    }
}

#[test]
fn nothing_to_do_when_everything_agrees() {
    let desired = [desk("a", Expect::Running), desk("b", Expect::Stopped)];
    let observed = [
        seen("a", PowerState::Running),
        seen("b", PowerState::Stopped),
    ];
    assert_eq!(plan(&desired, &observed), []);
    assert_eq!(plan(&[], &[]), []);
}

#[test]
fn missing_vm_is_redefined() {
    let desired = [desk("a", Expect::Running), desk("b", Expect::Stopped)];
    assert_eq!(
        plan(&desired, &[]),
        [
            Repair::Redefine { vm_id: "a".into() },
            Repair::Redefine { vm_id: "b".into() }
        ]
    );
}

#[test]
fn orphan_is_destroyed() {
    let observed = [seen("o", PowerState::Running)];
    assert_eq!(
        plan(&[], &observed),
        [Repair::DestroyOrphan { vm_id: "o".into() }]
    );
}

#[test]
fn crashed_vm_is_recorded_with_its_reason() {
    let desired = [desk("a", Expect::Running)];
    let observed = [crashed("a", "guest panicked")];
    assert_eq!(
        plan(&desired, &observed),
        [record("a", PowerState::Crashed, Some("guest panicked"))]
    );
}

#[test]
fn stopped_but_expected_running_is_recorded() {
    let desired = [desk("a", Expect::Running)];
    let observed = [seen("a", PowerState::Stopped)];
    assert_eq!(
        plan(&desired, &observed),
        [record("a", PowerState::Stopped, None)]
    );
}

#[test]
fn running_but_expected_stopped_is_recorded() {
    let desired = [desk("a", Expect::Stopped), desk("p", Expect::Running)];
    let observed = [
        seen("a", PowerState::Running),
        seen("p", PowerState::Paused),
    ];
    assert_eq!(
        plan(&desired, &observed),
        [
            record("a", PowerState::Running, None),
            record("p", PowerState::Paused, None)
        ]
    );
}

#[test]
fn busy_desks_are_left_alone() {
    let desired = [
        busy("a", Expect::Running),
        busy("b", Expect::Stopped),
        busy("c", Expect::Running),
    ];
    let observed = [crashed("a", "x"), seen("b", PowerState::Running)];
    assert_eq!(plan(&desired, &observed), []);
}

#[test]
fn any_accepts_whatever_the_driver_says() {
    let desired = [
        desk("a", Expect::Any),
        desk("b", Expect::Any),
        desk("c", Expect::Any),
        desk("d", Expect::Any),
    ];
    let observed = [
        seen("a", PowerState::Running),
        seen("b", PowerState::Stopped),
        seen("c", PowerState::Paused),
        crashed("d", "x"),
    ];
    assert_eq!(plan(&desired, &observed), []);
    // ...but a missing VM is still missing.
    assert_eq!(
        plan(&[desk("z", Expect::Any)], &[]),
        [Repair::Redefine { vm_id: "z".into() }]
    );
}

#[test]
fn output_is_sorted_by_vm_id_whatever_the_input_order() {
    let desired = [
        desk("d", Expect::Running),
        desk("b", Expect::Stopped),
        busy("e", Expect::Running),
    ];
    let observed = [
        seen("c", PowerState::Stopped),
        seen("b", PowerState::Running),
        seen("a", PowerState::Running),
        seen("e", PowerState::Stopped),
    ];
    let repairs = plan(&desired, &observed);
    assert_eq!(
        repairs,
        [
            Repair::DestroyOrphan { vm_id: "a".into() },
            record("b", PowerState::Running, None),
            Repair::DestroyOrphan { vm_id: "c".into() },
            Repair::Redefine { vm_id: "d".into() },
        ]
    );
    let ids: Vec<&str> = repairs.iter().map(Repair::vm_id).collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);
}
