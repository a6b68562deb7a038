//! The per-user configuration: named profiles, each with a server, a login and its token.
//!
//! `$XDG_CONFIG_HOME/deskctl/config.toml` (or `~/.config/deskctl/config.toml`), written with
//! mode 0600 because it holds bearer tokens. The tasks a profile started are kept beside it
//! (`tasks-<profile>.jsonl`), since the API has no task listing.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Failure, Outcome};

/// One named server login.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    /// Base URL, e.g. `https://deskd.example:9390`.
    pub server: String,
    /// The API account this profile logs in as.
    #[serde(default)]
    pub user: String,
    /// The bearer token of the last login, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// When the token expires (epoch ms, from the token reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<i64>,
    /// Accept any server certificate.
    #[serde(default)]
    pub insecure: bool,
    /// PEM file of a CA (or the self-signed certificate) to trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// The whole file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// The configuration directory.
pub fn dir() -> Outcome<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("deskctl"));
    }
    match std::env::var_os("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".config").join("deskctl")),
        None => Err(Failure::usage(
            "neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep the login",
        )),
    }
}

fn file() -> Outcome<PathBuf> {
    Ok(dir()?.join("config.toml"))
}

impl Config {
    /// Reads the file; a missing file is an empty configuration.
    pub fn load() -> Outcome<Config> {
        let path = file()?;
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|e| Failure::usage(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(Failure::usage(format!("{}: {e}", path.display()))),
        }
    }

    /// Writes the file with mode 0600 (replacing it atomically).
    pub fn save(&self) -> Outcome {
        let path = file()?;
        let text = toml::to_string_pretty(self)
            .map_err(|e| Failure::usage(format!("cannot write the configuration: {e}")))?;
        write_private(&path, text.as_bytes())
    }
}

/// Writes `bytes` to `path` readable by its owner only, through a temporary file and a rename.
pub fn write_private(path: &Path, bytes: &[u8]) -> Outcome {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
        std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o700))?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// One task this profile started, as `task list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartedTask {
    pub task_id: String,
    /// What started it, e.g. `desk start lab-01`.
    pub what: String,
    /// epoch ms
    pub started: i64,
}

fn task_log(profile: &str) -> Outcome<PathBuf> {
    Ok(dir()?.join(format!("tasks-{profile}.jsonl")))
}

/// Appends a started task to the profile's log (best effort: a full disk must not fail the
/// command that already started the task).
pub fn remember_task(profile: &str, task: &StartedTask) {
    let Ok(path) = task_log(profile) else { return };
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let Ok(line) = serde_json::to_string(task) else {
        return;
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// The tasks this profile started, oldest first.
pub fn started_tasks(profile: &str) -> Outcome<Vec<StartedTask>> {
    let path = task_log(profile)?;
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}
