//! Fault injection in the simulated driver.

mod common;

use common::*;
use deskd_compute::{DriverError, FaultRule, Hypervisor, Op, PowerState, SimConfig, SimDriver};
use std::time::Duration;

fn rule(op: Option<Op>, pattern: Option<&str>, rate: f64) -> FaultRule {
    FaultRule {
        op,
        name_pattern: pattern.map(str::to_string),
        rate,
    }
}

async fn faulty(rules: Vec<FaultRule>) -> SimDriver {
    driver_with(SimConfig {
        faults: rules,
        seed: 42,
        ..SimConfig::instant()
    })
    .await
}

/// Counts injected failures of `power_off` (a no-op on a stopped VM) over `n` calls.
async fn failures(d: &SimDriver, id: &str, n: usize) -> usize {
    let mut failed = 0;
    for _ in 0..n {
        match d.power_off(id).await {
            Ok(()) => {}
            Err(DriverError::Injected { op, vm }) => {
                assert_eq!((op, vm.as_str()), ("power_off", id));
                failed += 1;
            }
            Err(other) => panic!("unexpected {other}"),
        }
    }
    failed
}

#[tokio::test]
async fn rate_one_always_fails_and_zero_never() {
    let d = faulty(vec![rule(Some(Op::PowerOff), None, 1.0)]).await;
    d.define(&vm("a", "a")).await.unwrap();
    assert_eq!(failures(&d, "a", 200).await, 200);
    d.set_faults(vec![rule(Some(Op::PowerOff), None, 0.0)]);
    assert_eq!(failures(&d, "a", 200).await, 0);
}

#[tokio::test]
async fn rate_half_fails_about_half_the_time_reproducibly() {
    let d = faulty(vec![rule(None, None, 0.5)]).await;
    d.inject_orphan(vm("a", "a")).unwrap();
    let first = failures(&d, "a", 1000).await;
    assert!((400..=600).contains(&first), "{first} failures of 1000");

    let again = faulty(vec![rule(None, None, 0.5)]).await;
    again.inject_orphan(vm("a", "a")).unwrap();
    assert_eq!(
        failures(&again, "a", 1000).await,
        first,
        "same seed, same run"
    );
}

#[tokio::test]
async fn rules_match_by_name_pattern_and_op() {
    let d = faulty(vec![rule(Some(Op::Start), Some("lab-??"), 1.0)]).await;
    for (id, name) in [("a", "lab-01"), ("b", "lab-001"), ("c", "office-01")] {
        d.define(&vm(id, name)).await.unwrap();
    }
    assert_eq!(
        d.start("a").await,
        Err(DriverError::Injected {
            op: "start",
            vm: "a".into()
        })
    );
    d.start("b").await.unwrap();
    d.start("c").await.unwrap();
    d.revert_system_disk("a").await.unwrap();

    let injected = DriverError::Injected {
        op: "define",
        vm: "z".into(),
    };
    d.set_faults(vec![rule(Some(Op::Define), Some("*-z"), 1.0)]);
    assert_eq!(d.define(&vm("z", "desk-z")).await, Err(injected));
    d.start("a").await.unwrap();
    assert_eq!(d.faults().len(), 1);
}

#[tokio::test]
async fn every_mutating_op_can_fail() {
    let d = faulty(Vec::new()).await;
    d.define(&vm("a", "a")).await.unwrap();
    d.start("a").await.unwrap();
    let calls: Vec<(Op, Result<(), DriverError>)> = {
        d.set_faults(vec![rule(None, None, 1.0)]);
        vec![
            (Op::Define, d.define(&vm("a", "a")).await.map(drop)),
            (Op::Start, d.start("a").await),
            (
                Op::Shutdown,
                d.shutdown("a", Duration::ZERO).await.map(drop),
            ),
            (Op::PowerOff, d.power_off("a").await),
            (Op::Reset, d.reset("a").await),
            (Op::Pause, d.pause("a").await),
            (Op::Resume, d.resume("a").await),
            (
                Op::Resize,
                d.resize("a", shape(2, 2048, 40, Some(10))).await,
            ),
            (Op::Revert, d.revert_system_disk("a").await),
            (Op::Destroy, d.destroy("a").await),
        ]
    };
    for (op, result) in calls {
        assert_eq!(
            result,
            Err(DriverError::Injected {
                op: op.as_str(),
                vm: "a".into()
            })
        );
    }
    assert_eq!(
        d.info("a").await.unwrap().unwrap().power,
        PowerState::Running
    );
}

#[tokio::test]
async fn a_failed_operation_changes_nothing() {
    let d = faulty(Vec::new()).await;
    d.define(&recoverable(vm("r", "r"))).await.unwrap();
    d.start("r").await.unwrap();
    d.define(&vm("s", "s")).await.unwrap();
    let vms = d.list().await.unwrap();
    let usage = d.host_usage().await.unwrap();

    d.set_faults(vec![rule(None, None, 1.0)]);
    assert!(d.define(&vm("n", "n")).await.is_err());
    assert!(d.start("s").await.is_err());
    assert!(d.shutdown("r", Duration::ZERO).await.is_err());
    assert!(d.power_off("r").await.is_err());
    assert!(d.reset("r").await.is_err());
    assert!(d.pause("r").await.is_err());
    assert!(d.resize("s", shape(8, 8192, 100, Some(100))).await.is_err());
    assert!(d.revert_system_disk("s").await.is_err());
    assert!(d.destroy("s").await.is_err());
    assert!(d.destroy("r").await.is_err());

    assert_eq!(d.list().await.unwrap(), vms);
    assert_eq!(d.host_usage().await.unwrap(), usage);

    d.set_faults(Vec::new());
    d.reset("r").await.unwrap();
    assert_eq!(d.info("r").await.unwrap().unwrap().disk_generation, 1);
}

#[test]
fn fault_rules_deserialize_from_config() {
    let rules: Vec<FaultRule> = serde_json::from_str(
        r#"[{"op":"power_off","name_pattern":"lab-*","rate":0.25},{"rate":0.01}]"#,
    )
    .unwrap();
    assert_eq!(rules[0], rule(Some(Op::PowerOff), Some("lab-*"), 0.25));
    assert_eq!(rules[1], rule(None, None, 0.01));
}
