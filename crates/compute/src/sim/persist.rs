//! Keeps the simulated VM table on disk: a snapshot plus an append-only journal.
//!
//! A controller restart must find its "running" simulated VMs still there, as it would with a
//! real hypervisor. Each change appends one line (the VM's record after the change, or its
//! removal) to `<state file>.journal`, so a change costs the same whatever the table's size;
//! once the journal holds more lines than the table has VMs, the table is written as a new
//! snapshot (temp file, then rename) and the journal starts over. Every line and snapshot
//! carries the change number it covers, so a crash between the two steps replays nothing twice.

use super::lock;
use super::table::SimVm;
use super::unix_now;
use crate::driver::{DriverError, VmId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const STATE_VERSION: u32 = 1;
/// Journal lines tolerated before a snapshot, at least; more when the table is larger.
const MIN_JOURNAL_LINES: usize = 1024;

/// The persisted VM table.
#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    saved_at_unix: f64,
    /// The last change the snapshot includes (absent in files written before the journal).
    #[serde(default)]
    seq: u64,
    vms: Vec<SimVm>,
}

/// One journal line: the record of `id` after change `seq`, or `None` when it was removed.
#[derive(Serialize, Deserialize)]
struct Entry {
    seq: u64,
    at: f64,
    id: VmId,
    vm: Option<SimVm>,
}

/// A loaded table: each VM with the time its record was written, and the newest change number.
pub(super) struct Loaded {
    pub(super) vms: BTreeMap<VmId, SimVm>,
    pub(super) seq: u64,
}

fn journal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".journal");
    PathBuf::from(name)
}

fn io_err(path: &Path, what: &str, e: impl std::fmt::Display) -> DriverError {
    DriverError::Io(format!("{what} {}: {e}", path.display()))
}

/// Reads the snapshot and replays the journal; missing files are an empty table. Running VMs
/// kept running while the controller was down, so their counters catch up from the time their
/// record was written.
pub(super) fn load_state(path: &Path) -> Result<Loaded, DriverError> {
    let now = unix_now();
    let mut vms = BTreeMap::new();
    let mut seq = 0;
    match fs::read_to_string(path) {
        Ok(text) => {
            let state: StateFile =
                serde_json::from_str(&text).map_err(|e| io_err(path, "parsing", e))?;
            if state.version != STATE_VERSION {
                return Err(io_err(path, "unsupported state version in", state.version));
            }
            seq = state.seq;
            for vm in state.vms {
                vms.insert(vm.spec.vm_id.clone(), (state.saved_at_unix, vm));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(path, "reading", e)),
    }
    seq = replay(&journal_path(path), seq, &mut vms)?;
    let vms = vms
        .into_iter()
        .map(|(id, (at, mut vm))| {
            vm.advance((now - at).max(0.0));
            (id, vm)
        })
        .collect();
    Ok(Loaded { vms, seq })
}

/// Applies the journal's lines newer than `seq`; returns the newest change number. A torn last
/// line (the process died inside the write, before the change was acknowledged) is ignored.
fn replay(
    journal: &Path,
    mut seq: u64,
    vms: &mut BTreeMap<VmId, (f64, SimVm)>,
) -> Result<u64, DriverError> {
    let text = match fs::read_to_string(journal) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(seq),
        Err(e) => return Err(io_err(journal, "reading", e)),
    };
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        let entry: Entry = match serde_json::from_str(line) {
            Ok(entry) => entry,
            Err(_) if n + 1 == lines.len() && !complete => break,
            Err(e) => return Err(io_err(journal, &format!("parsing line {} of", n + 1), e)),
        };
        if entry.seq <= seq {
            continue;
        }
        seq = entry.seq;
        match entry.vm {
            Some(vm) => vms.insert(entry.id, (entry.at, vm)),
            None => vms.remove(&entry.id),
        };
    }
    Ok(seq)
}

/// Moves an unreadable state file and its journal out of the way so they are not overwritten.
pub(super) fn set_aside(path: &Path) {
    for file in [path.to_path_buf(), journal_path(path)] {
        if !file.exists() {
            continue;
        }
        let mut name = file.as_os_str().to_os_string();
        name.push(".corrupt");
        if let Err(err) = fs::rename(&file, &name) {
            tracing::warn!(%err, path = %file.display(), "could not move state file aside");
        }
    }
}

/// Journal lines produced under the table's lock, in change order, waiting to be written.
#[derive(Default)]
pub(super) struct Pending {
    lines: Vec<(u64, String)>,
    /// VMs in the table, which sets how long the journal may grow.
    table_len: usize,
}

impl Pending {
    /// Queues the line for change `seq` of `id`: its record now, or its removal.
    pub(super) fn record(&mut self, seq: u64, id: &str, vm: Option<&SimVm>, table_len: usize) {
        let entry = Entry {
            seq,
            at: unix_now(),
            id: id.to_string(),
            vm: vm.cloned(),
        };
        let mut line = serde_json::to_string(&entry).unwrap_or_default();
        line.push('\n');
        self.lines.push((seq, line));
        self.table_len = table_len;
    }

    /// Drops the queued lines: a snapshot taken under the same lock covers them.
    pub(super) fn clear(&mut self) {
        self.lines.clear();
    }
}

/// What the saver has on disk.
struct Written {
    journal: Option<File>,
    seq: u64,
    journal_lines: usize,
}

/// Writes changes to the journal and snapshots, newest wins.
pub(super) struct Saver {
    path: PathBuf,
    pub(super) pending: Mutex<Pending>,
    written: Mutex<Written>,
}

impl Saver {
    pub(super) fn new(path: PathBuf) -> Self {
        Saver {
            path,
            pending: Mutex::new(Pending::default()),
            written: Mutex::new(Written {
                journal: None,
                seq: 0,
                journal_lines: 0,
            }),
        }
    }

    /// Makes sure change `seq` is on disk. Group commit: whoever holds the writer appends every
    /// queued line in one write, so the others usually find their change already written.
    /// `snapshot` gives the whole table (with the change number it includes) when the journal
    /// is due for compaction; it is called with the queue emptied under the table's lock.
    pub(super) fn persist(&self, seq: u64, snapshot: impl FnOnce() -> (u64, Vec<SimVm>)) {
        let mut w = lock(&self.written);
        if seq <= w.seq {
            return;
        }
        let due = {
            let p = lock(&self.pending);
            w.journal.is_none()
                || w.journal_lines + p.lines.len() > p.table_len.max(MIN_JOURNAL_LINES)
        };
        let result = if due {
            self.compact(&mut w, snapshot)
        } else {
            self.append(&mut w)
        };
        if let Err(err) = result {
            // The journal may now end in a torn line (a full disk): write the next change as a
            // whole snapshot, which starts a fresh journal, instead of appending after it.
            w.journal = None;
            tracing::warn!(%err, path = %self.path.display(), "could not save simulated vm table");
        }
    }

    fn append(&self, w: &mut Written) -> std::io::Result<()> {
        let lines = std::mem::take(&mut lock(&self.pending).lines);
        let Some((last, _)) = lines.last() else {
            return Ok(());
        };
        let last = *last;
        let buf: String = lines.iter().map(|(_, l)| l.as_str()).collect();
        if let Some(file) = w.journal.as_mut() {
            file.write_all(buf.as_bytes())?;
        }
        w.seq = last;
        w.journal_lines += lines.len();
        Ok(())
    }

    /// Writes the whole table as the new snapshot, then starts an empty journal.
    fn compact(
        &self,
        w: &mut Written,
        snapshot: impl FnOnce() -> (u64, Vec<SimVm>),
    ) -> std::io::Result<()> {
        let (seq, vms) = snapshot();
        let state = StateFile {
            version: STATE_VERSION,
            saved_at_unix: unix_now(),
            seq,
            vms,
        };
        let json = serde_json::to_string(&state).map_err(std::io::Error::other)?;
        write_atomically(&self.path, &json)?;
        let journal = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(journal_path(&self.path))?;
        w.journal = Some(journal);
        w.seq = seq;
        w.journal_lines = 0;
        Ok(())
    }
}

/// Writes to a temporary sibling then renames, so a crash never leaves a half-written state
/// file. No fsync: the file must survive the controller's process dying (the kernel keeps the
/// written pages), not a power loss of the simulated host, and an fsync per VM operation would
/// make the simulator the bottleneck of every batch.
pub(super) fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = File::create(&tmp).and_then(|mut f| f.write_all(contents.as_bytes()));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, path)
}
