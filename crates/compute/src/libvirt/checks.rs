//! The libvirt driver's checks of a request and the shapes of its answers and refusals.

use super::{xml, Record};
use crate::driver::{DiskImage, DriverError, PowerState, VmInfo, VmSpec};

/// Smallest memory the test guest (a stock Debian kernel) boots with.
const MIN_MEMORY_MB: u64 = 96;

pub(crate) fn info_of(rec: &Record, power: PowerState, reason: Option<String>) -> VmInfo {
    VmInfo {
        spec: rec.spec.clone(),
        power,
        disk_generation: rec.disk_generation,
        crash_reason: reason.filter(|_| power == PowerState::Crashed),
    }
}

pub(crate) fn capacity(host: &str, resource: &'static str, need: u64, free: u64) -> DriverError {
    DriverError::Capacity {
        host: host.to_string(),
        resource,
        need,
        free,
    }
}

pub(crate) fn invalid(info: &VmInfo, op: &'static str, needs: &'static str) -> DriverError {
    DriverError::InvalidState {
        vm: info.spec.vm_id.clone(),
        op,
        state: info.power,
        needs,
    }
}

pub(crate) fn validate(spec: &VmSpec) -> Result<(), DriverError> {
    if spec.cpu_cores == 0 {
        return Err(DriverError::Invalid("cpu_cores must be at least 1".into()));
    }
    if spec.memory_mb < MIN_MEMORY_MB {
        return Err(DriverError::Invalid(format!(
            "memory_mb must be at least {MIN_MEMORY_MB}"
        )));
    }
    if spec.system_disk_gb < spec.image.size_gb || spec.system_disk_gb == 0 {
        return Err(DriverError::Invalid(format!(
            "system disk {} GB is smaller than image {} GB",
            spec.system_disk_gb, spec.image.size_gb
        )));
    }
    if spec.data_disk_gb == Some(0) {
        return Err(DriverError::Invalid(
            "data disk must be at least 1 GB".into(),
        ));
    }
    if !plain_name(&spec.vm_id) || !plain_name(&spec.image.image_id) {
        return Err(DriverError::Invalid(
            "vm_id and image_id must be plain names".into(),
        ));
    }
    xml::check(spec)
}

/// Letters, digits, '-', '_', '.'; not empty, not starting with '.'.
pub(crate) fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

pub(crate) fn image_key(image: &DiskImage) -> String {
    format!("image/{}/{}", image.image_id, image.version)
}
