//! What the driver learns about a QEMU process from /proc and signals. A
//! daemonized QEMU is not deskd's child, so a process is tracked by pid and
//! identified by its command line before anything is done to it.

use std::path::Path;

/// The pid in a QEMU `-pidfile`, if the file holds one.
pub(crate) fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// True while the process exists and is not a zombie.
pub(crate) fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(stat_field(&stat, 0), Some("Z" | "X")),
        Err(_) => false,
    }
}

/// True when `pid` is a live qemu-system process serving `qmp_socket`, so a
/// recycled pid is never mistaken for one of ours.
pub(crate) fn is_our_qemu(pid: u32, qmp_socket: &Path) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let is_qemu = args.first().is_some_and(|a| {
        a.rsplit('/')
            .next()
            .unwrap_or("")
            .starts_with("qemu-system")
    });
    let sock = qmp_socket.to_string_lossy();
    is_qemu && alive(pid) && args.iter().any(|a| a.contains(sock.as_ref()))
}

/// Sends a signal; a process that is already gone is not an error.
pub(crate) fn signal(pid: u32, sig: i32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// CPU seconds (user + system) the process has used.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let utime: f64 = stat_field(&stat, 11)?.parse().ok()?;
    let stime: f64 = stat_field(&stat, 12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// Seconds since the process started.
pub(crate) fn uptime_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let start: f64 = stat_field(&stat, 19)?.parse().ok()?;
    let up: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((up - start / clock_ticks()).max(0.0))
}

/// Resident set size in bytes.
pub(crate) fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Field `n` of /proc/pid/stat counted from the state field (0), after the
/// parenthesised command name, which may itself contain spaces.
fn stat_field(stat: &str, n: usize) -> Option<&str> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(n)
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}
