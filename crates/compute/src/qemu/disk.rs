//! qemu-img operations on a VM's disk files.

use crate::driver::DriverError;
use std::path::Path;

/// Runs qemu-img; a failure carries its stderr.
async fn qemu_img(args: &[&str]) -> Result<(), DriverError> {
    let out = tokio::process::Command::new("qemu-img")
        .args(args)
        .output()
        .await
        .map_err(|e| DriverError::Io(format!("qemu-img: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(DriverError::Io(format!(
        "qemu-img {}: {}",
        args.join(" "),
        err.trim()
    )))
}

/// Creates `overlay` as a qcow2 linked clone of `base`, replacing any old
/// one; written beside and renamed so a crash never leaves half a disk.
pub(crate) async fn create_overlay(
    base: &Path,
    overlay: &Path,
    size_gb: u64,
) -> Result<(), DriverError> {
    if !base.is_file() {
        return Err(DriverError::Invalid(format!(
            "image base {} does not exist",
            base.display()
        )));
    }
    let tmp = overlay.with_extension("qcow2.new");
    let size = format!("{size_gb}G");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-F",
        "qcow2",
        "-b",
        &s(base),
        &s(&tmp),
        &size,
    ])
    .await?;
    std::fs::rename(&tmp, overlay).map_err(|e| DriverError::Io(format!("rename overlay: {e}")))
}

/// Creates an empty (sparse) qcow2 data disk.
pub(crate) async fn create_blank(path: &Path, size_gb: u64) -> Result<(), DriverError> {
    let tmp = path.with_extension("qcow2.new");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        &s(&tmp),
        &format!("{size_gb}G"),
    ])
    .await?;
    std::fs::rename(&tmp, path).map_err(|e| DriverError::Io(format!("rename disk: {e}")))
}

/// Grows a disk that no QEMU holds open.
pub(crate) async fn grow(path: &Path, size_gb: u64) -> Result<(), DriverError> {
    qemu_img(&[
        "resize",
        "-q",
        "-f",
        "qcow2",
        &s(path),
        &format!("{size_gb}G"),
    ])
    .await
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
