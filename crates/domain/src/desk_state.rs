//! The desk state machine of DECISIONS D8 as one table.
//!
//! An action is accepted only from the states listed for it; it then moves the desk to its
//! transitional state at once (in the same compare-and-set that checks the state), so two
//! actions racing on one desk cannot both proceed: the loser sees the new state and is refused
//! with 23010901. The task that carries the action out later moves the desk to the action's
//! final state, or to ERROR with the reason.

use crate::enums::DeskState::{self, *};
use crate::error::Error;

/// Something a caller asks a desk to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeskAction {
    Start,
    Shutdown,
    PowerOff,
    Restart,
    Modify,
    Delete,
}

impl DeskAction {
    pub const ALL: &'static [DeskAction] = &[
        DeskAction::Start,
        DeskAction::Shutdown,
        DeskAction::PowerOff,
        DeskAction::Restart,
        DeskAction::Modify,
        DeskAction::Delete,
    ];

    /// The name used in messages (`start`, `powerOff`, …), as in the URL.
    pub fn name(self) -> &'static str {
        match self {
            DeskAction::Start => "start",
            DeskAction::Shutdown => "shutdown",
            DeskAction::PowerOff => "powerOff",
            DeskAction::Restart => "restart",
            DeskAction::Modify => "configuration modify",
            DeskAction::Delete => "delete",
        }
    }
}

/// One row of the table: from which states an action is accepted, the state it moves the desk
/// to at once, and the state its task ends in when the driver succeeds.
pub struct Rule {
    pub action: DeskAction,
    pub from: &'static [DeskState],
    pub during: DeskState,
    pub done: Option<DeskState>,
}

/// The table. `done: None` means the desk is gone (delete).
pub const RULES: &[Rule] = &[
    Rule {
        action: DeskAction::Start,
        from: &[CLOSE, SLEEP],
        during: START_UP,
        done: Some(RUNNING),
    },
    Rule {
        action: DeskAction::Shutdown,
        from: &[RUNNING],
        during: SHUTTING,
        done: Some(CLOSE),
    },
    // A queued start (START_UP) and a slow shutdown (SHUTTING) may be cut short by a power-off;
    // an ERROR desk is powered off to recover it.
    Rule {
        action: DeskAction::PowerOff,
        from: &[RUNNING, SLEEP, START_UP, SHUTTING, ERROR],
        during: SHUTTING,
        done: Some(CLOSE),
    },
    Rule {
        action: DeskAction::Restart,
        from: &[RUNNING],
        during: RUNNING,
        done: Some(RUNNING),
    },
    Rule {
        action: DeskAction::Modify,
        from: &[CLOSE],
        during: UPDATING,
        done: Some(CLOSE),
    },
    // Delete is accepted from every stable state and from a start still queued behind the
    // boot-storm guard; the start then finds the desk deleting and gives up.
    Rule {
        action: DeskAction::Delete,
        from: &[CLOSE, RUNNING, SLEEP, ERROR, OFF_LINE, START_UP],
        during: DELETING,
        done: None,
    },
];

/// The rule of `action`.
pub fn rule(action: DeskAction) -> &'static Rule {
    // Every action has exactly one row; the test below checks it.
    RULES
        .iter()
        .find(|r| r.action == action)
        .unwrap_or(&RULES[0])
}

/// The state `action` moves a desk in `state` to, or the refusal (23010901 naming the state).
pub fn begin(desk_id: &str, state: DeskState, action: DeskAction) -> Result<DeskState, Error> {
    let r = rule(action);
    if r.from.contains(&state) {
        Ok(r.during)
    } else {
        Err(Error::StateForbids {
            desk: desk_id.to_string(),
            state: state.to_string(),
            action: action.name().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_one_rule() {
        for a in DeskAction::ALL {
            assert_eq!(RULES.iter().filter(|r| r.action == *a).count(), 1, "{a:?}");
        }
    }

    /// Pins the outcome of every (action, state) pair: a change to the table shows up here.
    #[test]
    fn the_whole_table() {
        let mut accepted = Vec::new();
        for a in DeskAction::ALL {
            for s in DeskState::ALL {
                if let Ok(to) = begin("d", *s, *a) {
                    accepted.push(format!("{} {s}->{to}", a.name()));
                }
            }
        }
        assert_eq!(
            accepted,
            [
                "start SLEEP->START_UP",
                "start CLOSE->START_UP",
                "shutdown RUNNING->SHUTTING",
                "powerOff SLEEP->SHUTTING",
                "powerOff RUNNING->SHUTTING",
                "powerOff SHUTTING->SHUTTING",
                "powerOff START_UP->SHUTTING",
                "powerOff ERROR->SHUTTING",
                "restart RUNNING->RUNNING",
                "configuration modify CLOSE->UPDATING",
                "delete SLEEP->DELETING",
                "delete RUNNING->DELETING",
                "delete CLOSE->DELETING",
                "delete START_UP->DELETING",
                "delete ERROR->DELETING",
                "delete OFF_LINE->DELETING",
            ]
        );
    }

    #[test]
    fn refusal_names_the_state() {
        let e = begin("d1", CLOSE, DeskAction::Restart).unwrap_err();
        assert_eq!(
            e.to_string(),
            "desk d1 is CLOSE; restart is not allowed in that state"
        );
    }
}
