//! The `accel = auto` fallback from KVM to TCG.
//!
//! A /dev/kvm that opens is not proof that KVM runs stock guests: on a PVM
//! host (a KVM module without vmx/svm) QEMU starts, but the kernel hangs in its
//! decompressor or dies on an emulation failure. Auto picks KVM only when the
//! CPU shows vmx/svm; should a guest under KVM still write nothing to its
//! serial console within a bound, the driver relaunches it under TCG and
//! keeps TCG for the rest of its lifetime.
//!
//! Any byte counts as progress, so a bootloader that writes to the serial
//! console (a GRUB with `terminal serial`) hides a kernel that then hangs, and
//! a guest that never uses the serial console trips the bound on a good KVM:
//! set `kvm_progress_timeout` to None for such images. Checked by hand on a
//! PVM host with auto forced to KVM: the test guest (PVH direct boot, and the
//! disk boot through syslinux) stayed silent, was relaunched under TCG after
//! the bound and booted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What to do about a VM just launched, judged from its serial console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing to watch, or the guest has shown life: keep the process.
    Keep,
    /// No output yet, still within the bound: look again later.
    Wait,
    /// KVM chosen by auto and no output within the bound: relaunch under TCG.
    FallBack,
}

/// The accelerator in force: the one chosen at open, until auto falls back.
pub(crate) struct AccelChoice {
    chosen: &'static str,
    /// auto chose it, so a stalled KVM guest may send the driver to TCG
    auto: bool,
    /// None: never fall back
    bound: Option<Duration>,
    fell_back: AtomicBool,
}

impl AccelChoice {
    pub(crate) fn new(chosen: &'static str, auto: bool, bound: Option<Duration>) -> Self {
        AccelChoice {
            chosen,
            auto,
            bound,
            fell_back: AtomicBool::new(false),
        }
    }

    /// "kvm" or "tcg", as QEMU is launched now.
    pub(crate) fn current(&self) -> &'static str {
        if self.fell_back.load(Ordering::Relaxed) {
            "tcg"
        } else {
            self.chosen
        }
    }

    /// True while launches are worth watching for the fallback.
    pub(crate) fn watching(&self) -> bool {
        self.auto && self.bound.is_some() && self.current() == "kvm"
    }

    /// The decision for a VM launched under `launched_with`, whose serial
    /// log holds `serial_bytes` bytes `elapsed` after the launch.
    pub(crate) fn verdict_for(
        &self,
        launched_with: &str,
        serial_bytes: u64,
        elapsed: Duration,
    ) -> Verdict {
        let Some(bound) = self.bound.filter(|_| self.auto && launched_with == "kvm") else {
            return Verdict::Keep;
        };
        if serial_bytes > 0 {
            Verdict::Keep
        } else if elapsed < bound {
            Verdict::Wait
        } else {
            Verdict::FallBack
        }
    }

    /// Remembers TCG for the driver's lifetime.
    pub(crate) fn fall_back(&self) {
        self.fell_back.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Duration = Duration::from_secs(20);

    #[test]
    fn auto_kvm_falls_back_only_when_silent_past_the_bound() {
        let c = AccelChoice::new("kvm", true, Some(BOUND));
        assert!(c.watching());
        assert_eq!(
            c.verdict_for("kvm", 0, Duration::from_secs(3)),
            Verdict::Wait
        );
        assert_eq!(
            c.verdict_for("kvm", 17, Duration::from_secs(3)),
            Verdict::Keep
        );
        assert_eq!(c.verdict_for("kvm", 17, BOUND * 2), Verdict::Keep);
        assert_eq!(c.verdict_for("kvm", 0, BOUND), Verdict::FallBack);
        assert_eq!(c.current(), "kvm");
        c.fall_back();
        assert_eq!(c.current(), "tcg", "remembered");
        assert!(!c.watching(), "nothing left to fall back from");
        assert_eq!(c.verdict_for("tcg", 0, BOUND * 2), Verdict::Keep);
    }

    #[test]
    fn explicit_choices_and_tcg_never_fall_back() {
        let explicit_kvm = AccelChoice::new("kvm", false, Some(BOUND));
        assert!(!explicit_kvm.watching());
        assert_eq!(explicit_kvm.verdict_for("kvm", 0, BOUND * 9), Verdict::Keep);
        let auto_tcg = AccelChoice::new("tcg", true, Some(BOUND));
        assert!(!auto_tcg.watching());
        assert_eq!(auto_tcg.verdict_for("tcg", 0, BOUND * 9), Verdict::Keep);
        let disabled = AccelChoice::new("kvm", true, None);
        assert!(!disabled.watching());
        assert_eq!(disabled.verdict_for("kvm", 0, BOUND * 9), Verdict::Keep);
    }
}
