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

/// What `qemu-img info` says about an uploaded OS file.
#[derive(Debug, PartialEq)]
pub(crate) struct Probe {
    /// "raw" or "qcow2": the only formats imported
    pub format: String,
    pub virtual_size: u64,
}

/// Probes an uploaded OS file and refuses (`Invalid`, with the reason) what
/// cannot become an image base: other formats, qcow2 files that point at
/// other files, and raw files without a boot sector (qemu-img calls any file
/// "raw", so the MBR signature is what tells a disk from a text file).
pub(crate) async fn probe(source: &Path) -> Result<Probe, DriverError> {
    let out = tokio::process::Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(source)
        .output()
        .await
        .map_err(|e| DriverError::Io(format!("qemu-img: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(DriverError::Invalid(format!(
            "{} is not a disk image: {}",
            source.display(),
            err.trim()
        )));
    }
    let info: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| DriverError::Io(format!("qemu-img info: unparsable answer: {e}")))?;
    let probe = Probe {
        format: info["format"].as_str().unwrap_or("").to_string(),
        virtual_size: info["virtual-size"].as_u64().unwrap_or(0),
    };
    let refuse = |why: String| Err(DriverError::Invalid(format!("{}: {why}", source.display())));
    match probe.format.as_str() {
        "qcow2" => {
            if info.get("backing-filename").is_some() {
                return refuse("a qcow2 with a backing file is not a whole disk".into());
            }
            if info["format-specific"]["data"].get("data-file").is_some() {
                return refuse("a qcow2 with an external data file is not a whole disk".into());
            }
        }
        "raw" => {
            if !has_boot_signature(source)? {
                return refuse("not a disk image (raw, but no boot sector signature)".into());
            }
        }
        other => {
            return refuse(format!(
                "format {other:?} is not accepted; upload a raw or qcow2 disk image"
            ))
        }
    }
    if probe.virtual_size == 0 {
        return refuse("the disk image is empty".into());
    }
    Ok(probe)
}

/// True when the first sector ends with the 0x55 0xAA of an MBR (or of the
/// protective MBR of a GPT disk).
fn has_boot_signature(path: &Path) -> Result<bool, DriverError> {
    use std::io::Read;
    let mut sector = [0u8; 512];
    let mut f = std::fs::File::open(path).map_err(|e| super::io(path, e))?;
    match f.read_exact(&mut sector) {
        Ok(()) => Ok(sector[510..] == [0x55, 0xAA]),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(super::io(path, e)),
    }
}

/// Converts `source` (of `format`) into the qcow2 `base`: written to
/// `<base>.part`, flushed, then renamed, so a crash never leaves half a base.
pub(crate) async fn import(source: &Path, format: &str, base: &Path) -> Result<(), DriverError> {
    let dir = base
        .parent()
        .ok_or_else(|| DriverError::Invalid(format!("{}: no parent", base.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| super::io(dir, e))?;
    let mut part = base.as_os_str().to_owned();
    part.push(".part");
    let part = std::path::PathBuf::from(part);
    let _ = std::fs::remove_file(&part);
    let converted = qemu_img(&[
        "convert",
        "-q",
        "-f",
        format,
        "-O",
        "qcow2",
        &s(source),
        &s(&part),
    ])
    .await;
    if let Err(err) = converted {
        let _ = std::fs::remove_file(&part);
        return Err(err);
    }
    let synced = std::fs::File::open(&part).and_then(|f| f.sync_all());
    if let Err(e) = synced {
        let _ = std::fs::remove_file(&part);
        return Err(super::io(&part, e));
    }
    std::fs::rename(&part, base).map_err(|e| super::io(base, e))?;
    // the rename itself must survive a crash too
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| super::io(dir, e))
}
