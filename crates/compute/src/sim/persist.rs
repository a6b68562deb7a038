//! Keeps the simulated VM table in a JSON file.
//!
//! A controller restart must find its "running" simulated VMs still there,
//! as it would with a real hypervisor; writes are atomic (temp file, then
//! rename) and the newest snapshot always wins.

use super::lock;
use super::table::SimVm;
use super::unix_now;
use crate::driver::{DriverError, VmId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const STATE_VERSION: u32 = 1;

/// The persisted VM table.
#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    saved_at_unix: f64,
    vms: Vec<SimVm>,
}

/// The state file's contents for these VMs.
pub(super) fn to_json<'a>(vms: impl Iterator<Item = &'a SimVm>) -> String {
    let state = StateFile {
        version: STATE_VERSION,
        saved_at_unix: unix_now(),
        vms: vms.cloned().collect(),
    };
    serde_json::to_string(&state).unwrap_or_default()
}

/// Reads the VM table; a missing file is an empty table. Running VMs kept
/// running while the controller was down, so their counters catch up.
pub(super) fn load_state(path: &Path) -> Result<BTreeMap<VmId, SimVm>, DriverError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(DriverError::Io(format!("reading {}: {e}", path.display()))),
    };
    let state: StateFile = serde_json::from_str(&text)
        .map_err(|e| DriverError::Io(format!("parsing {}: {e}", path.display())))?;
    if state.version != STATE_VERSION {
        return Err(DriverError::Io(format!(
            "{}: unsupported state version {}",
            path.display(),
            state.version
        )));
    }
    let downtime = (unix_now() - state.saved_at_unix).max(0.0);
    Ok(state
        .vms
        .into_iter()
        .map(|mut vm| {
            vm.advance(downtime);
            (vm.spec.vm_id.clone(), vm)
        })
        .collect())
}

/// Moves an unreadable state file out of the way so it is not overwritten.
pub(super) fn set_aside(path: &Path) {
    let mut name = path.as_os_str().to_os_string();
    name.push(".corrupt");
    if let Err(err) = fs::rename(path, &name) {
        tracing::warn!(%err, path = %path.display(), "could not move state file aside");
    }
}

/// Writes snapshots to the state file, newest wins.
pub(super) struct Saver {
    pub(super) path: PathBuf,
    pub(super) written_seq: Mutex<u64>,
}

impl Saver {
    pub(super) fn new(path: PathBuf) -> Self {
        Saver {
            path,
            written_seq: Mutex::new(0),
        }
    }

    /// Makes sure the change numbered `seq` is on disk: returns at once when a newer table was
    /// written meanwhile, otherwise writes the current table from `snapshot`.
    pub(super) fn persist(&self, seq: u64, snapshot: impl FnOnce() -> (u64, String)) {
        let mut written = lock(&self.written_seq);
        if seq <= *written {
            return;
        }
        let (newest, json) = snapshot();
        match write_atomically(&self.path, &json) {
            Ok(()) => *written = newest,
            Err(err) => {
                tracing::warn!(%err, path = %self.path.display(), "could not save simulated vm table")
            }
        }
    }
}

/// Writes to a temporary sibling then renames, so a crash never leaves a
/// half-written state file. No fsync: the file must survive the controller's
/// process dying (the kernel keeps the written pages), not a power loss of
/// the simulated host, and an fsync per VM operation would make the
/// simulator the bottleneck of every batch.
pub(super) fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = fs::File::create(&tmp)?;
    file.write_all(contents.as_bytes())?;
    fs::rename(&tmp, path)
}
