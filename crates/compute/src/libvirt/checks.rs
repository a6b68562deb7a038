//! The libvirt driver's view of a VM's record as the [`VmInfo`] callers see, and its checks of
//! a spec (the shared ones plus what the domain XML cannot carry).

use super::{xml, Record};
use crate::driver::{DriverError, PowerState, VmInfo, VmSpec};

pub(crate) fn info_of(rec: &Record, power: PowerState, reason: Option<String>) -> VmInfo {
    VmInfo {
        spec: rec.spec.clone(),
        power,
        disk_generation: rec.disk_generation,
        crash_reason: reason.filter(|_| power == PowerState::Crashed),
    }
}

pub(crate) fn validate(spec: &VmSpec) -> Result<(), DriverError> {
    crate::checks::validate(spec)?;
    xml::check(spec)
}
