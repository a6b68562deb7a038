//! Checks and refusals shared by the real drivers (QEMU and libvirt): what a VM spec must
//! satisfy before disks are made, and the errors for capacity and state refusals.

use crate::driver::{DiskImage, DriverError, VmInfo, VmSpec};

/// Smallest memory the test guest (a stock Debian kernel) boots with.
pub(crate) const MIN_MEMORY_MB: u64 = 96;

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

/// A spec a real driver can make disks and a VM for.
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
            "vm_id and image_id must be plain file names".into(),
        ));
    }
    Ok(())
}

/// Letters, digits, '-', '_', '.'; not empty, not starting with '.'.
pub(crate) fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// The per-operation lock key of an image version; VM ids have no '/'.
pub(crate) fn image_key(image: &DiskImage) -> String {
    format!("image/{}/{}", image.image_id, image.version)
}

/// An image id usable in file and volume names.
pub(crate) fn check_image(image: &DiskImage) -> Result<(), DriverError> {
    if !plain_name(&image.image_id) {
        return Err(DriverError::Invalid(
            "image_id must be a plain file name".into(),
        ));
    }
    Ok(())
}
