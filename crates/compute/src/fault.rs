//! Fault injection rules.
//!
//! Failure handling in the task engine and reconciler is only trustworthy if
//! it is exercised, so drivers can be told to fail chosen operations on
//! chosen VMs with a given probability. The RNG is seeded, which keeps tests
//! and demos reproducible.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The mutating operations of a [`crate::Hypervisor`] that can be made to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Define,
    Start,
    Shutdown,
    PowerOff,
    Reset,
    Pause,
    Resume,
    Resize,
    Revert,
    Destroy,
}

impl Op {
    /// Every operation, for configuration help and exhaustive tests.
    pub const ALL: [Op; 10] = [
        Op::Define,
        Op::Start,
        Op::Shutdown,
        Op::PowerOff,
        Op::Reset,
        Op::Pause,
        Op::Resume,
        Op::Resize,
        Op::Revert,
        Op::Destroy,
    ];

    /// Stable snake_case name, as used in errors and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Define => "define",
            Op::Start => "start",
            Op::Shutdown => "shutdown",
            Op::PowerOff => "power_off",
            Op::Reset => "reset",
            Op::Pause => "pause",
            Op::Resume => "resume",
            Op::Resize => "resize",
            Op::Revert => "revert",
            Op::Destroy => "destroy",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Op {
    type Err = String;

    /// Parses the snake_case name, so faults can be given on a command line.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Op::ALL
            .into_iter()
            .find(|op| op.as_str() == s)
            .ok_or_else(|| format!("unknown operation {s:?}"))
    }
}

/// Fail `op` (any operation when None) on VMs whose name matches
/// `name_pattern` (any VM when None) with probability `rate` (0..=1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    #[serde(default)]
    pub op: Option<Op>,
    /// Wildcard on `VmSpec.name`: `*` any run of characters, `?` one character.
    #[serde(default)]
    pub name_pattern: Option<String>,
    pub rate: f64,
}

impl FaultRule {
    /// A rule that always fails `op` on every VM.
    pub fn always(op: Op) -> Self {
        FaultRule {
            op: Some(op),
            name_pattern: None,
            rate: 1.0,
        }
    }

    /// Whether this rule applies to `op` on a VM called `name`.
    pub fn matches(&self, op: Op, name: &str) -> bool {
        self.op.is_none_or(|o| o == op)
            && self
                .name_pattern
                .as_deref()
                .is_none_or(|p| wildcard_match(p, name))
    }

    /// The rate as a probability: clamped to 0..=1, NaN counts as 0.
    fn probability(&self) -> f64 {
        if self.rate.is_nan() {
            0.0
        } else {
            self.rate.clamp(0.0, 1.0)
        }
    }
}

/// Rules plus the seeded RNG that decides whether a matching op fails.
#[derive(Debug)]
pub struct FaultInjector {
    rules: Vec<FaultRule>,
    rng: StdRng,
}

impl FaultInjector {
    pub fn new(rules: Vec<FaultRule>, seed: u64) -> Self {
        FaultInjector {
            rules,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Replaces the rules; the RNG carries on so runs stay reproducible.
    pub fn set_rules(&mut self, rules: Vec<FaultRule>) {
        self.rules = rules;
    }

    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// Rolls every matching rule once; true means the operation must fail.
    pub fn should_fail(&mut self, op: Op, name: &str) -> bool {
        let mut fail = false;
        for rule in self.rules.iter().filter(|r| r.matches(op, name)) {
            // Draw for every matching rule so the sequence does not depend on
            // earlier outcomes; `gen` is in [0, 1), so rate 1.0 always fails.
            let draw: f64 = self.rng.gen();
            fail |= draw < rule.probability();
        }
        fail
    }
}

/// Shell-style wildcard match of the whole `text`: `*` matches any run of
/// characters (also empty), `?` exactly one; everything else literally.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Position of the last `*` seen and the text index it currently absorbs up to.
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((star, absorbed)) = backtrack {
            backtrack = Some((star, absorbed + 1));
            pi = star + 1;
            ti = absorbed + 1;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_cases() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("lab-*", "lab-01"));
        assert!(wildcard_match("lab-??", "lab-01"));
        assert!(!wildcard_match("lab-?", "lab-01"));
        assert!(wildcard_match("*-01", "lab-01"));
        assert!(wildcard_match("l*b*1", "lab-01"));
        assert!(wildcard_match("a*b*c", "aXbYbZc"));
        assert!(!wildcard_match("a*b*c", "aXbYbZ"));
        assert!(!wildcard_match("lab", "lab-01"));
        assert!(wildcard_match("", ""));
        assert!(!wildcard_match("", "x"));
        assert!(wildcard_match("dé?k*", "désk-1"));
    }

    #[test]
    fn op_names_round_trip() {
        for op in Op::ALL {
            assert_eq!(op.as_str().parse::<Op>(), Ok(op));
            let json = serde_json::to_string(&op).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", op.as_str()));
        }
        assert!("nope".parse::<Op>().is_err());
    }

    #[test]
    fn rule_matching() {
        let rule = FaultRule {
            op: Some(Op::Start),
            name_pattern: Some("lab-*".into()),
            rate: 1.0,
        };
        assert!(rule.matches(Op::Start, "lab-3"));
        assert!(!rule.matches(Op::Shutdown, "lab-3"));
        assert!(!rule.matches(Op::Start, "office-3"));
        let any = FaultRule {
            op: None,
            name_pattern: None,
            rate: 0.0,
        };
        assert!(any.matches(Op::Destroy, "x"));
    }
}
